//! `allow`, `deny` and `require` rules.

use rampart_engine::bundle::{self as ir, SourceLoc};

use super::ids::meta;
use super::session::Session;
use crate::ast::{self, Item, RuleKind, ScopeList, Span};
use crate::check::builtins::ANONYMOUS_NAME;
use crate::check::expr::{Env, Place};
use crate::check::scope::{self, ScopeRole};
use crate::check::FileId;

/// A compiled rule with what ids and lints need of its source.
pub(crate) struct RuleItem<'p> {
    pub file: FileId,
    pub ast: &'p ast::Rule,
    /// Empty until ids are assigned (when not given by `@id`).
    pub rule: ir::Rule,
    /// Where the id is written (`@id` argument), else the rule.
    pub id_span: Span,
}

/// Whether some allow rule names `Anonymous` (obligations can then see it).
pub(crate) fn anonymous_allowed(session: &Session<'_>) -> bool {
    session.program.files.iter().flat_map(|f| &f.ast.items).any(|item| match item {
        Item::Rule(r) if r.kind == RuleKind::Allow => {
            matches!(&r.scope.principals, Some(ScopeList::List(names)) if names.iter().any(|n| n.name == ANONYMOUS_NAME))
        }
        _ => false,
    })
}

/// Compiles every rule of the program, in file and source order.
pub(crate) fn compile_all<'p>(session: &mut Session<'p>) -> Vec<RuleItem<'p>> {
    let program = session.program;
    let mut out = Vec::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for item in &file.ast.items {
            if let Item::Rule(rule) = item {
                out.push(compile_rule(session, file_id, file.package, rule));
            }
        }
    }
    out
}

fn compile_rule<'p>(
    session: &mut Session<'p>,
    file: FileId,
    package: u32,
    rule: &'p ast::Rule,
) -> RuleItem<'p> {
    let meta = meta(session, file, &rule.annotations);
    let role = match rule.kind {
        RuleKind::Allow => ScopeRole::Allow,
        RuleKind::Deny | RuleKind::Require => ScopeRole::DenyOrRequire,
    };
    let mut local = Vec::new();
    let scope = scope::resolve(session.schema, &rule.scope, role, &mut local);
    session.report_all(file, local);
    let env = Env::request(Place::Rule, scope.principal, scope.resource, scope.context);
    let when = rule
        .when
        .as_ref()
        .map(|e| session.condition(file, &env, e))
        .unwrap_or_default();
    let unless = rule
        .unless
        .as_ref()
        .map(|e| session.condition(file, &env, e));
    let require = rule
        .require
        .as_ref()
        .map(|e| session.condition(file, &env, e));
    let (name, line) = session.program.line_of(crate::check::Loc {
        file,
        span: rule.span,
    });
    let id_span = meta.id.as_ref().map_or(rule.span, |(_, s)| *s);
    let kind = match rule.kind {
        RuleKind::Allow => ir::RuleKind::Allow,
        RuleKind::Deny => ir::RuleKind::Deny,
        RuleKind::Require => ir::RuleKind::Require,
    };
    RuleItem {
        file,
        ast: rule,
        rule: ir::Rule {
            id: meta.id.map(|(id, _)| id).unwrap_or_default(),
            kind,
            package,
            scope: scope.ir,
            when,
            unless,
            require,
            reason: rule.reason.as_ref().map(|r| r.value.clone()),
            controls: meta.controls,
            annotations: meta.annotations,
            source: Some(SourceLoc { file: name, line }),
        },
        id_span,
    }
}
