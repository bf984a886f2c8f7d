//! `@allow_lint("L001", …)`: silencing lints for one item.
//!
//! The annotation goes on a rule, obligation, `principal` mapping, route or const, and
//! names lint codes, optionally followed by the reason the finding is accepted
//! (`@allow_lint("L001", "the load balancer probes it")`): a last argument of two or more
//! that is not shaped like a code (a letter and digits, or a lint's name) is the reason. A finding of one of those codes whose primary label lies inside that
//! item is dropped. Codes are checked before lints run: a code that is not a lint is error
//! E021 (with "did you mean" help), so a typo cannot silently fail to silence, and an
//! error (`E006`) cannot be silenced at all. The annotation stays in the bundle's rule
//! annotations like any other metadata, which keeps the reason a lint was allowed visible
//! to reviewers of the bundle.

use super::{lint, LINTS};
use crate::ast::{self, Annotation, Span};
use crate::check::Program;
use crate::diagnostics::{closest, Diagnostic, SourceFile};

/// The annotation name: `@allow_lint("L001")`.
pub const ALLOW_LINT: &str = "allow_lint";

/// The items of the set's own files that silence lints, and which codes.
#[derive(Debug, Default)]
pub(crate) struct Suppressions {
    items: Vec<Silenced>,
}

#[derive(Debug)]
struct Silenced {
    /// The display name of the item's file.
    file: String,
    span: Span,
    codes: Vec<String>,
}

impl Suppressions {
    /// Every `@allow_lint` of the program's own (not stdlib) files.
    pub(crate) fn collect(program: &Program) -> Self {
        let mut items = Vec::new();
        for file in program.files.iter().filter(|f| !f.from_stdlib) {
            for item in &file.ast.items {
                let codes: Vec<String> = annotations(item)
                    .iter()
                    .filter(|a| a.name.name == ALLOW_LINT)
                    .flat_map(|a| codes_of(a).iter().map(|arg| arg.value.clone()))
                    .collect();
                if !codes.is_empty() {
                    items.push(Silenced {
                        file: file.source.name().to_owned(),
                        span: item.span(),
                        codes,
                    });
                }
            }
        }
        Self { items }
    }

    /// Whether an item of `source` containing `span` allows lint `code`.
    pub(crate) fn covers(&self, code: &str, source: &SourceFile, span: Span) -> bool {
        self.items.iter().any(|s| {
            s.file == source.name()
                && s.span.start <= span.start
                && span.end <= s.span.end
                && s.codes.iter().any(|c| c == code)
        })
    }

    /// Whether the finding `diag` is silenced (by its code, file and primary label).
    pub(crate) fn hides(&self, diag: &Diagnostic) -> bool {
        match (diag.file(), diag.primary_span()) {
            (Some(file), Some(span)) => self.covers(diag.code(), file, span),
            _ => false,
        }
    }
}

/// E021 for every `@allow_lint` argument that is not a lint code, and for an
/// `@allow_lint` without arguments. Checks every file, stdlib included.
pub(crate) fn check_allow_lint_annotations(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in &program.files {
        let mut found = Vec::new();
        for item in &file.ast.items {
            for a in annotations(item)
                .iter()
                .filter(|a| a.name.name == ALLOW_LINT)
            {
                check_annotation(a, &mut found);
            }
        }
        out.extend(found.into_iter().map(|d| d.in_file(&file.source)));
    }
    out
}

fn check_annotation(a: &Annotation, out: &mut Vec<Diagnostic>) {
    if a.args.is_empty() {
        let diag = Diagnostic::error("E021", "`@allow_lint` names no lint code")
            .with_label(a.span, "no code given")
            .with_help("name the lints to allow, e.g. `@allow_lint(\"L001\")`");
        out.push(diag);
    }
    for arg in codes_of(a).iter().filter(|arg| lint(&arg.value).is_none()) {
        let diag = Diagnostic::error("E021", format!("unknown lint code `{}`", arg.value))
            .with_label(arg.span, "not a lint code")
            .with_help(unknown_code_help(&arg.value));
        out.push(diag);
    }
}

/// The code arguments of an `@allow_lint`: every argument but a trailing reason.
fn codes_of(a: &Annotation) -> &[ast::StrLit] {
    match a.args.split_last() {
        Some((last, codes)) if !codes.is_empty() && !code_shaped(&last.value) => codes,
        _ => &a.args,
    }
}

/// Whether an argument is meant as a code: a letter followed by digits (`L001`, `L0012`,
/// `E006`) or the name of a lint (`never-applies`).
fn code_shaped(text: &str) -> bool {
    let text = text.trim();
    let mut chars = text.chars();
    let letter_digits = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && text.len() > 1
        && chars.all(|c| c.is_ascii_digit());
    letter_digits || LINTS.iter().any(|l| l.meta().name == text)
}

/// Help for a code that is not a lint: the code of a lint written by name, the upper-case
/// form, a close code, or what can be allowed at all.
fn unknown_code_help(text: &str) -> String {
    if let Some(meta) = LINTS.iter().map(|l| l.meta()).find(|m| m.name == text) {
        return format!(
            "`{text}` is the name of a lint; write its code `{}`",
            meta.code
        );
    }
    let upper = text.trim().to_ascii_uppercase();
    if let Some(meta) = lint(&upper) {
        return format!("did you mean `{}`?", meta.code);
    }
    let error_number = upper.strip_prefix('E').filter(|n| !n.is_empty());
    if error_number.is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())) {
        return "errors cannot be allowed, only lints (`L0xx`); fix the error instead".to_owned();
    }
    let codes = LINTS.iter().map(|l| l.meta().code);
    match closest(&upper, codes) {
        Some(code) => format!("did you mean `{code}`?"),
        None => "lint codes look like `L001`; `rampart explain CODE` describes each one".to_owned(),
    }
}

/// The annotations of an item (schemas and tests have none).
fn annotations(item: &ast::Item) -> &[Annotation] {
    match item {
        ast::Item::Const(c) => &c.annotations,
        ast::Item::Route(r) => &r.annotations,
        ast::Item::Principal(p) => &p.annotations,
        ast::Item::Rule(r) => &r.annotations,
        ast::Item::Obligation(o) => &o.annotations,
        ast::Item::Schema(_) | ast::Item::Test(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lints::test_support::{count, diagnostics, SCHEMA};

    /// The codes of the diagnostics of a one-file set.
    fn codes(rest: &str) -> Vec<&'static str> {
        let src = format!("{SCHEMA}{rest}");
        diagnostics(&[("test.rampart", &src)])
            .iter()
            .map(Diagnostic::code)
            .collect()
    }

    #[test]
    fn silences_the_named_codes_on_that_item_only() {
        let open = "allow \"docs:read\" on Doc";
        assert_eq!(count(&format!("{SCHEMA}{open}"), "L001"), 1);
        let silenced = format!("{SCHEMA}@allow_lint(\"L001\")\n{open}");
        assert_eq!(count(&silenced, "L001"), 0);
        let other_code = format!("{SCHEMA}@allow_lint(\"L002\")\n{open}");
        assert_eq!(count(&other_code, "L001"), 1);
        let two_rules =
            format!("{SCHEMA}@allow_lint(\"L001\")\n{open}\nallow \"docs:write\" on Doc");
        assert_eq!(count(&two_rules, "L001"), 1);
    }

    #[test]
    fn works_on_obligations_consts_and_several_codes() {
        let obligation =
            "@allow_lint(\"L004\")\nobligation remove_header \"authorization\" when 1 > 2";
        assert_eq!(count(&format!("{SCHEMA}{obligation}"), "L004"), 0);
        let konst = "@allow_lint(\"L003\")\nconst key = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"";
        assert_eq!(count(&format!("{SCHEMA}{konst}"), "L003"), 0);
        let both = "@allow_lint(\"L001\", \"L002\")\nallow * on Doc";
        assert!(codes(both).is_empty());
    }

    #[test]
    fn a_trailing_reason_is_not_a_code() {
        let open = "allow \"docs:read\" on Doc";
        let reasoned =
            format!("{SCHEMA}@allow_lint(\"L001\", \"probed by the load balancer\")\n{open}");
        assert_eq!(count(&reasoned, "L001"), 0);
        let one_word = format!("{SCHEMA}@allow_lint(\"L001\", \"legacy\")\n{open}");
        assert_eq!(count(&one_word, "L001"), 0);
        assert_eq!(
            codes("@allow_lint(\"L001\", \"L0012\")\nallow \"docs:read\" on Doc"),
            vec!["E021"]
        );
        assert_eq!(
            codes("@allow_lint(\"L001\", \"never-applies\")\nallow \"docs:read\" on Doc"),
            vec!["E021"]
        );
        assert_eq!(
            codes("@allow_lint(\"a reason only\")\nallow \"docs:read\" on Doc"),
            vec!["E021"]
        );
    }

    #[test]
    fn unknown_codes_are_errors_with_suggestions() {
        assert_eq!(
            codes("@allow_lint(\"L0012\")\nallow \"docs:read\" on Doc"),
            vec!["E021"]
        );
        let help = |text: &str| unknown_code_help(text);
        assert_eq!(help("L0012"), "did you mean `L001`?");
        assert_eq!(help("l004"), "did you mean `L004`?");
        assert_eq!(
            help("never-applies"),
            "`never-applies` is the name of a lint; write its code `L004`"
        );
        assert!(help("E006").starts_with("errors cannot be allowed"));
        assert!(help("whatever").contains("rampart explain"));
    }

    #[test]
    fn an_empty_allow_lint_is_an_error_and_blocks_the_bundle() {
        let src = format!("{SCHEMA}@allow_lint\nallow \"docs:read\" on Doc");
        let set = crate::sources::PolicySet::from_files(
            "".into(),
            vec![SourceFile::in_memory("test.rampart", &src)],
        );
        let compiled = crate::compile(&set);
        let codes: Vec<&str> = compiled.diagnostics.iter().map(Diagnostic::code).collect();
        assert_eq!(codes, vec!["E021"]);
        assert!(compiled.bundle.is_none());
        assert!(compiled
            .diagnostics
            .iter()
            .all(|d| d.file().is_some_and(|f| f.name() == "test.rampart")));
    }
}
