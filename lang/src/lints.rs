//! Security lints: warnings about policies that compile but are probably wrong or risky.
//!
//! One lint per file under `lints/` (like ruff's rules and oxc's `declare_oxc_lint!`): the
//! doc comment (*What it does / Why is this bad? / Example*) is the documentation
//! `rampart explain L00x` prints, the metadata sits next to it, then the check and its
//! pass/fail cases. [`LINTS`] is the registry. Lints run only on a policy set without
//! errors, and report only on its own files (not on imported stdlib packages), though
//! lints about the whole set (is there a TLS requirement anywhere?) see the rules of the
//! imported packages too. `@allow_lint("L001", …)` on an item silences those codes for
//! it (see [`suppression`]).

mod l001_allow_without_authentication;
mod l002_wildcard_action_in_allow;
mod l003_secret_literal;
mod l004_never_applies;
mod l005_wildcard_scope;
mod l006_allow_shadowed_by_deny;
mod l007_classified_without_transport_security;
mod l008_token_lifetime_unbounded;
mod l009_route_without_rule;
mod l010_allow_without_control;
mod l011_invisible_character;
pub mod suppression;

use rampart_engine::bundle::{self as ir, PackageId};

use crate::ast;
use crate::check::expr::path_text;
use crate::check::visit::{any_expr, for_each_expr};
use crate::check::{FileId, Program};
use crate::compile::obligations::ObligationItem;
use crate::compile::rules::RuleItem;
use crate::diagnostics::{Diagnostic, Severity, SourceFile, DOCS_URL};
use crate::project::Project;

pub use l001_allow_without_authentication::AllowWithoutAuthentication;
pub use l002_wildcard_action_in_allow::WildcardActionInAllow;
pub use l003_secret_literal::SecretLiteral;
pub use l004_never_applies::NeverApplies;
pub use l005_wildcard_scope::WildcardScope;
pub use l006_allow_shadowed_by_deny::AllowShadowedByDeny;
pub use l007_classified_without_transport_security::ClassifiedWithoutTransportSecurity;
pub use l008_token_lifetime_unbounded::TokenLifetimeUnbounded;
pub use l009_route_without_rule::RouteWithoutRule;
pub use l010_allow_without_control::AllowWithoutControl;
pub use l011_invisible_character::InvisibleCharacter;
pub(crate) use suppression::check_allow_lint_annotations;
use suppression::Suppressions;

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
    &AllowShadowedByDeny,
    &ClassifiedWithoutTransportSecurity,
    &TokenLifetimeUnbounded,
    &RouteWithoutRule,
    &AllowWithoutControl,
    &InvisibleCharacter,
];

/// A rule as lints see it: its source and its compiled form.
pub struct LintRule<'a> {
    pub source: &'a SourceFile,
    /// The file's index in the program (files in load order).
    pub file: FileId,
    pub ast: &'a ast::Rule,
    pub compiled: &'a ir::Rule,
}

impl<'a> LintRule<'a> {
    /// Its conditions as written: the required condition of a `require`, `when`, `unless`.
    pub fn conditions(&self) -> impl Iterator<Item = &'a ast::Expr> {
        let ast = self.ast;
        ast.require.iter().chain(&ast.when).chain(&ast.unless)
    }

    /// Whether any of its conditions reads the attribute path `path` (`context.tls.mtls`).
    pub fn reads(&self, path: &str) -> bool {
        self.conditions().any(|c| reads_path(c, path))
    }
}

/// A `principal` mapping of the set's own files.
pub struct LintMapping<'a> {
    pub source: &'a SourceFile,
    pub file: FileId,
    pub ast: &'a ast::PrincipalMap,
}

/// A route of the set's own files: as written and compiled.
pub struct LintRoute<'a> {
    pub source: &'a SourceFile,
    pub file: FileId,
    pub ast: &'a ast::Route,
    pub compiled: &'a ir::Route,
}

/// An obligation as lints see it.
pub struct LintObligation<'a> {
    pub source: &'a SourceFile,
    pub ast: &'a ast::Obligation,
    pub compiled: &'a ir::Obligation,
}

/// What lints look at: the policy set's own rules, obligations and expressions, and what
/// whole-set lints need of the imported packages.
pub struct LintContext<'a> {
    /// The set's own files (not the imported stdlib packages), in load order.
    pub files: Vec<&'a SourceFile>,
    /// The rules of the set's own files, in file and source order.
    pub rules: Vec<LintRule<'a>>,
    /// Every rule of the policy set, imported stdlib packages included.
    pub set_rules: Vec<LintRule<'a>>,
    pub obligations: Vec<LintObligation<'a>>,
    /// The `principal` mappings of the set's own files, in file and source order.
    pub mappings: Vec<LintMapping<'a>>,
    /// Every schema declaration of the program, imported packages included.
    pub schema: Vec<&'a ast::SchemaDecl>,
    /// Every top-level expression of the set's files outside `test` blocks (consts,
    /// routes, mappings, rules, obligations), with its file.
    pub exprs: Vec<(&'a SourceFile, &'a ast::Expr)>,
    /// The routes of the set's own files, in file and source order.
    pub routes: Vec<LintRoute<'a>>,
    /// The policy folder's `rampart.toml`, when it has one.
    pub project: Option<&'a Project>,
    /// Direct imports of every package, by package id.
    package_imports: Vec<Vec<PackageId>>,
    suppressions: Suppressions,
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
        let lint_rule = |r: &'a RuleItem<'a>, source: &'a SourceFile| LintRule {
            source,
            file: r.file,
            ast: r.ast,
            compiled: &r.rule,
        };
        let set_rules = rules
            .iter()
            .filter_map(|r| Some(lint_rule(r, &program.file(r.file)?.source)))
            .collect();
        let rules = rules
            .iter()
            .filter_map(|r| Some(lint_rule(r, own(r.file)?)))
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
        let files = program
            .files
            .iter()
            .filter(|f| !f.from_stdlib)
            .map(|f| &f.source)
            .collect();
        let mut exprs = Vec::new();
        let mut mappings = Vec::new();
        let mut schema = Vec::new();
        for (file_id, file) in program.files.iter().enumerate() {
            for item in &file.ast.items {
                if let ast::Item::Schema(block) = item {
                    schema.extend(&block.decls);
                }
                if file.from_stdlib {
                    continue;
                }
                if let ast::Item::Principal(mapping) = item {
                    mappings.push(LintMapping {
                        source: &file.source,
                        file: file_id,
                        ast: mapping,
                    });
                }
                for e in item_exprs(item) {
                    exprs.push((&file.source, e));
                }
            }
        }
        let package_imports = program
            .packages
            .list
            .iter()
            .map(|p| p.imports.clone())
            .collect();
        Self {
            files,
            rules,
            set_rules,
            obligations,
            mappings,
            schema,
            exprs,
            routes: Vec::new(),
            project: None,
            package_imports,
            suppressions: Suppressions::collect(program),
        }
    }

    /// Adds the routes of the set's own files. `routes` are the compiled routes of the
    /// whole program in file and source order, as the compiler lowers them (lints run only
    /// without errors, so every route compiled); if their count does not match the
    /// program's, no route is linted.
    pub(crate) fn with_routes(mut self, program: &'a Program, routes: &'a [ir::Route]) -> Self {
        let written: Vec<(FileId, &'a ast::Route)> = program
            .files
            .iter()
            .enumerate()
            .flat_map(|(id, file)| {
                file.ast.items.iter().filter_map(move |item| match item {
                    ast::Item::Route(route) => Some((id, route)),
                    _ => None,
                })
            })
            .collect();
        if written.len() != routes.len() {
            return self;
        }
        self.routes = written
            .into_iter()
            .zip(routes)
            .filter_map(|((file, ast), compiled)| {
                let f = program.file(file).filter(|f| !f.from_stdlib)?;
                Some(LintRoute {
                    source: &f.source,
                    file,
                    ast,
                    compiled,
                })
            })
            .collect();
        self
    }

    /// Adds the policy folder's project file (`rampart.toml`).
    pub(crate) fn with_project(mut self, project: Option<&'a Project>) -> Self {
        self.project = project;
        self
    }

    /// Whether a request evaluated for package `from` (`"package": …` in the request) sees
    /// the rules of package `to`: `to` is `from` or one of its transitive imports.
    pub fn package_sees(&self, from: PackageId, to: PackageId) -> bool {
        let mut seen = vec![from];
        let mut next = vec![from];
        while let Some(p) = next.pop() {
            if p == to {
                return true;
            }
            let imports = self
                .package_imports
                .get(p as usize)
                .map_or(&[][..], Vec::as_slice);
            for i in imports {
                if !seen.contains(i) {
                    seen.push(*i);
                    next.push(*i);
                }
            }
        }
        false
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

/// Whether `root` reads the attribute path `path` (`context.auth.expires_at`) anywhere.
/// A presence test (`context.auth has expires_at`) is not a read.
pub fn reads_path(root: &ast::Expr, path: &str) -> bool {
    any_expr(root, |e| {
        matches!(e.kind, ast::ExprKind::Attr(..)) && path_text(e).is_some_and(|p| p == path)
    })
}

/// Runs every lint, then drops the findings an `@allow_lint` annotation silences.
pub(crate) fn run(cx: &LintContext<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for lint in LINTS {
        lint.check(cx, &mut out);
    }
    out.retain(|d| !cx.suppressions.hides(d));
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
    use crate::diagnostics::{Diagnostic, SourceFile};
    use crate::sources::PolicySet;

    /// Every diagnostic of compiling in-memory files `(name, text)` as one policy set.
    pub fn diagnostics(files: &[(&str, &str)]) -> Vec<Diagnostic> {
        let files = files
            .iter()
            .map(|(name, text)| SourceFile::in_memory(name, text))
            .collect();
        crate::compile(&PolicySet::from_files("".into(), files)).diagnostics
    }

    /// How often `code` is reported for a one-file policy set whose folder has the
    /// `rampart.toml` text `project`; the set must have no errors.
    pub fn count_with_project(source: &str, project: &str, code: &str) -> usize {
        let file = SourceFile::in_memory("test.rampart", source);
        let mut set = PolicySet::from_files("".into(), vec![file]);
        let project = crate::project::Project::parse(SourceFile::in_memory(
            crate::project::PROJECT_FILE,
            project,
        ));
        assert!(project.is_ok(), "the project file does not parse");
        set.project = project.ok();
        count_without_errors(&crate::compile(&set).diagnostics, code)
    }

    /// How often `code` is reported for a one-file policy set, which must have no errors
    /// (lints only run on sets without errors, so an error would hide every finding).
    pub fn count(source: &str, code: &str) -> usize {
        count_in(&[("test.rampart", source)], code)
    }

    /// [`count`] for a policy set of several files.
    pub fn count_in(files: &[(&str, &str)], code: &str) -> usize {
        count_without_errors(&diagnostics(files), code)
    }

    /// How often `code` appears in `diagnostics`, which must hold no error.
    fn count_without_errors(diagnostics: &[Diagnostic], code: &str) -> usize {
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
        assert_eq!(
            codes,
            vec![
                "L001", "L002", "L003", "L004", "L005", "L006", "L007", "L008", "L009", "L010",
                "L011"
            ]
        );
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
