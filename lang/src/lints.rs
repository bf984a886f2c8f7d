//! Security lints: warnings about policies that compile but are probably wrong or risky.
//!
//! One lint per file under `lints/` (like ruff's rules and oxc's `declare_oxc_lint!`): the
//! doc comment (*What it does / Why is this bad? / Example*) is the documentation
//! `rampart explain L00x` prints, the metadata sits next to it, then the check and its
//! pass/fail cases. [`LINTS`] is the registry. Lints run only on a policy set without
//! errors, and only on its own files (not on imported stdlib packages).

mod l001_allow_without_authentication;
mod l002_wildcard_action_in_allow;
mod l003_secret_literal;
mod l004_never_applies;
mod l005_wildcard_scope;

use rampart_engine::bundle as ir;

use crate::ast;
use crate::check::visit::for_each_expr;
use crate::check::Program;
use crate::compile::obligations::ObligationItem;
use crate::compile::rules::RuleItem;
use crate::diagnostics::{Diagnostic, Severity, SourceFile, DOCS_URL};

pub use l001_allow_without_authentication::AllowWithoutAuthentication;
pub use l002_wildcard_action_in_allow::WildcardActionInAllow;
pub use l003_secret_literal::SecretLiteral;
pub use l004_never_applies::NeverApplies;
pub use l005_wildcard_scope::WildcardScope;

/// What a lint is: its stable code, name, severity and documentation.
#[derive(Debug)]
pub struct LintMeta {
    /// `L001`: stable, never reused.
    pub code: &'static str,
    /// `allow-without-authentication`
    pub name: &'static str,
    pub severity: Severity,
    /// The version that introduced it.
    pub since: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The lint's doc comment.
    pub docs: &'static str,
}

impl LintMeta {
    /// A diagnostic of this lint with the given message.
    pub fn diagnostic(&self, message: impl Into<String>) -> Diagnostic {
        match self.severity {
            Severity::Warning => Diagnostic::warning(self.code, message),
            Severity::Error => Diagnostic::error(self.code, message),
        }
    }
}

/// One lint rule.
pub trait Lint: Sync {
    fn meta(&self) -> &'static LintMeta;
    /// Appends this lint's findings.
    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>);
}

/// Declares a lint struct whose doc comment becomes its [`LintMeta::docs`].
macro_rules! declare_lint {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $name:ident {
            code: $code:literal,
            name: $lint_name:literal,
            severity: $severity:ident,
            since: $since:literal,
            summary: $summary:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $name {
            pub const META: $crate::lints::LintMeta = $crate::lints::LintMeta {
                code: $code,
                name: $lint_name,
                severity: $crate::diagnostics::Severity::$severity,
                since: $since,
                summary: $summary,
                docs: concat!($($doc, "\n"),*),
            };
        }
    };
}
pub(crate) use declare_lint;

/// Every lint, in code order.
pub static LINTS: &[&dyn Lint] = &[
    &AllowWithoutAuthentication,
    &WildcardActionInAllow,
    &SecretLiteral,
    &NeverApplies,
    &WildcardScope,
];

/// A rule as lints see it: its source and its compiled form.
pub struct LintRule<'a> {
    pub source: &'a SourceFile,
    pub ast: &'a ast::Rule,
    pub compiled: &'a ir::Rule,
}

/// An obligation as lints see it.
pub struct LintObligation<'a> {
    pub source: &'a SourceFile,
    pub ast: &'a ast::Obligation,
    pub compiled: &'a ir::Obligation,
}

/// What lints look at: the policy set's own rules, obligations and expressions.
pub struct LintContext<'a> {
    pub rules: Vec<LintRule<'a>>,
    pub obligations: Vec<LintObligation<'a>>,
    /// Every top-level expression of the set's files outside `test` blocks (consts,
    /// routes, mappings, rules, obligations), with its file.
    pub exprs: Vec<(&'a SourceFile, &'a ast::Expr)>,
}

impl<'a> LintContext<'a> {
    pub(crate) fn new(
        program: &'a Program,
        rules: &'a [RuleItem<'a>],
        obligations: &'a [ObligationItem<'a>],
    ) -> Self {
        let own = |file: usize| {
            program
                .file(file)
                .filter(|f| !f.from_stdlib)
                .map(|f| &f.source)
        };
        let rules = rules
            .iter()
            .filter_map(|r| {
                Some(LintRule {
                    source: own(r.file)?,
                    ast: r.ast,
                    compiled: &r.rule,
                })
            })
            .collect();
        let obligations = obligations
            .iter()
            .filter_map(|o| {
                Some(LintObligation {
                    source: own(o.file)?,
                    ast: o.ast,
                    compiled: &o.obligation,
                })
            })
            .collect();
        let mut exprs = Vec::new();
        for file in program.files.iter().filter(|f| !f.from_stdlib) {
            for item in &file.ast.items {
                for e in item_exprs(item) {
                    exprs.push((&file.source, e));
                }
            }
        }
        Self {
            rules,
            obligations,
            exprs,
        }
    }

    /// Every string literal outside tests, with its file.
    pub fn string_literals(&self) -> Vec<(&'a SourceFile, &'a ast::Expr, &'a str)> {
        let mut out = Vec::new();
        for (source, root) in &self.exprs {
            for_each_expr(root, |e| {
                if let ast::ExprKind::Lit(ast::Literal::String(s)) = &e.kind {
                    out.push((*source, e, s.as_str()));
                }
            });
        }
        out
    }
}

/// The top-level expressions of an item (tests excluded).
fn item_exprs(item: &ast::Item) -> Vec<&ast::Expr> {
    match item {
        ast::Item::Schema(_) | ast::Item::Test(_) => Vec::new(),
        ast::Item::Const(c) => vec![&c.value],
        ast::Item::Route(r) => vec![&r.resource],
        ast::Item::Principal(p) => std::iter::once(&p.entity).chain(&p.when).collect(),
        ast::Item::Rule(r) => r.require.iter().chain(&r.when).chain(&r.unless).collect(),
        ast::Item::Obligation(o) => {
            let mut out: Vec<&ast::Expr> = o.when.iter().chain(&o.unless).collect();
            match &o.kind {
                ast::ObligationKind::RateLimit { per, by, .. } => {
                    out.push(per);
                    out.extend(by);
                }
                ast::ObligationKind::RequestHeader { value, .. }
                | ast::ObligationKind::ResponseHeader { value, .. } => {
                    out.push(value);
                }
                ast::ObligationKind::Mask { .. } | ast::ObligationKind::RemoveHeader { .. } => {}
            }
            out
        }
    }
}

/// Runs every lint.
pub(crate) fn run(cx: &LintContext<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for lint in LINTS {
        lint.check(cx, &mut out);
    }
    out
}

/// The metadata of a lint by code.
pub fn lint(code: &str) -> Option<&'static LintMeta> {
    LINTS.iter().map(|l| l.meta()).find(|m| m.code == code)
}

/// The raw documentation of a code: a lint's doc comment (`L001`) or an error's text
/// (`E005`).
pub fn lint_docs(code: &str) -> Option<&'static str> {
    lint(code)
        .map(|m| m.docs)
        .or_else(|| crate::check::docs::error_docs(code))
}

/// The documentation `rampart explain CODE` prints, for lints and error codes.
pub fn code_docs(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    if let Some(meta) = lint(&code) {
        let body: Vec<&str> = meta
            .docs
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect();
        return Some(format!(
            "{} ({}): {}\n\n{}\n\nseverity: {} · since {}\n{DOCS_URL}/{}",
            meta.code,
            meta.name,
            meta.summary,
            body.join("\n").trim_end(),
            meta.severity.as_str(),
            meta.since,
            meta.code
        ));
    }
    let text = crate::check::docs::error_docs(&code)?;
    Some(format!("{code}: {text}\n\n{DOCS_URL}/{code}"))
}

/// Compiling sources in lint tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::diagnostics::SourceFile;
    use crate::sources::PolicySet;

    /// How often `code` is reported for a one-file policy set, which must have no errors
    /// (lints only run on sets without errors, so an error would hide every finding).
    pub fn count(source: &str, code: &str) -> usize {
        let set = PolicySet::from_files(
            "".into(),
            vec![SourceFile::in_memory("test.rampart", source)],
        );
        let diagnostics = crate::compile(&set).diagnostics;
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.render_plain())
            .collect();
        assert!(
            errors.is_empty(),
            "the source has errors:\n{}",
            errors.join("\n")
        );
        diagnostics.iter().filter(|d| d.code() == code).count()
    }

    /// A schema most lint tests share.
    pub const SCHEMA: &str = r#"
package lints
schema {
  entity User { roles: Set<String> }
  entity Doc { owner: User }
  action "docs:read", "docs:write" on Doc for User
  entity Health
  action "health:read" on Health
}
"#;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_each_code_once_with_docs() {
        let codes: Vec<&str> = LINTS.iter().map(|l| l.meta().code).collect();
        assert_eq!(codes, vec!["L001", "L002", "L003", "L004", "L005"]);
        for lint in LINTS {
            let docs = lint.meta().docs;
            assert!(docs.contains("What it does"), "{}", lint.meta().code);
            assert!(docs.contains("Why is this bad?"), "{}", lint.meta().code);
            assert!(docs.contains("Example"), "{}", lint.meta().code);
        }
    }

    #[test]
    fn explains_lints_and_errors() {
        assert!(code_docs("l002").is_some_and(|d| d.starts_with("L002 (wildcard-action-in-allow)")));
        assert!(code_docs("E005").is_some_and(|d| d.contains("unknown attribute")));
        assert!(lint_docs("E999").is_none());
        assert!(lint_docs("L001").is_some());
    }
}
