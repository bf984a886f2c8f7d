//! L004: a rule or obligation whose condition can never hold, by const folding or by
//! contradictory conjuncts (see [`contradiction`]).

mod contradiction;

use rampart_engine::bundle::{Condition, Expr};
use rampart_engine::Value;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, Span};
use crate::compile::conjuncts_of;
use crate::diagnostics::{Diagnostic, SourceFile};
use contradiction::{Assumptions, Clause, Conflict, Part};

declare_lint! {
    /// ### What it does
    /// Flags a rule or obligation that can never apply:
    /// - a condition is constant after const folding: a `when` part that is always false,
    ///   an `unless` that always holds, or a `require` whose condition always holds;
    /// - its conditions contradict each other: `X and not X`, the same attribute compared
    ///   with constants in incompatible ways (`t == a and t == b`, `t == a and t != a`,
    ///   `t in [a, b] and t in [c]`, `t > 5 and t < 3`, `t == 7 and t < 3`), a boolean
    ///   required both true and false, a `when` that implies the `unless`, or a `require`
    ///   that always holds where the rule applies (`require x or not x`,
    ///   `require t > 3 for * when t > 5`).
    ///
    /// The contradiction check is conservative: it compares conjuncts two by two, reads
    /// an `or` that must hold as opaque, and says nothing about values of different types
    /// or comparisons between two attributes.
    ///
    /// ### Why is this bad?
    /// The rule is dead: it reads like protection (or like a grant) but never takes effect.
    /// It is usually a leftover from debugging, a const whose value changed, or a typo
    /// (`and` written for `or`, `>` for `<`).
    ///
    /// ### Example
    /// ```rampart
    /// const maintenance = false
    /// deny * when maintenance             // warns: never applies
    ///
    /// require 1 < 2 for *                 // warns: never denies
    ///
    /// // warns: `principal.level > 5` contradicts `principal.level < 3`
    /// allow "docs:read" on Doc when principal.level > 5 and principal.level < 3
    ///
    /// // warns: the method cannot be both
    /// allow "docs:read" on Doc when context.auth.method == jwt and context.auth.method == mtls
    /// ```
    pub struct NeverApplies {
        code: "L004",
        name: "never-applies",
        severity: Warning,
        since: "0.1.0",
        summary: "rule that can never apply (constant or contradictory condition)",
    }
}

/// The `when`, `unless` and `require` clauses of a rule or obligation, written and compiled.
struct Clauses<'a> {
    when: (Option<&'a ast::Expr>, &'a Condition),
    unless: (Option<&'a ast::Expr>, Option<&'a Condition>),
    require: (Option<&'a ast::Expr>, Option<&'a Condition>),
}

impl Lint for NeverApplies {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for rule in &cx.rules {
            let (ast, c) = (rule.ast, rule.compiled);
            let clauses = Clauses {
                when: (ast.when.as_ref(), &c.when),
                unless: (ast.unless.as_ref(), c.unless.as_ref()),
                require: (ast.require.as_ref(), c.require.as_ref()),
            };
            if let Some(d) = finding(&clauses, rule.source, "rule", &c.id) {
                out.push(d);
            }
        }
        for o in &cx.obligations {
            let (ast, c) = (o.ast, o.compiled);
            let clauses = Clauses {
                when: (ast.when.as_ref(), &c.when),
                unless: (ast.unless.as_ref(), c.unless.as_ref()),
                require: (None, None),
            };
            if let Some(d) = finding(&clauses, o.source, "obligation", &c.id) {
                out.push(d);
            }
        }
    }
}

/// The finding about one rule or obligation: a constant condition, else a contradiction.
fn finding(clauses: &Clauses<'_>, source: &SourceFile, what: &str, id: &str) -> Option<Diagnostic> {
    let constant = always_false(clauses.when.0, clauses.when.1)
        .map(|span| (span, "always false"))
        .or_else(|| {
            always_true(clauses.unless.0, clauses.unless.1).map(|s| (s, "`unless` always holds"))
        })
        .or_else(|| {
            always_true(clauses.require.0, clauses.require.1)
                .map(|s| (s, "the requirement always holds"))
        });
    if let Some((span, why)) = constant {
        return Some(
            NeverApplies::META
                .diagnostic(format!("{what} `{id}` can never apply"))
                .with_label(span, why)
                .with_help("remove it, or fix the condition (consts are folded at build time)")
                .in_file(source),
        );
    }
    let diag = match contradiction(clauses)? {
        Found::Conflict(conflict) => conflict_diagnostic(what, id, &conflict),
        Found::RequirementHolds(span, text) => NeverApplies::META
            .diagnostic(format!(
                "{what} `{id}` can never apply: the requirement `{text}` always holds where it applies"
            ))
            .with_label(span, "always holds"),
    };
    Some(
        diag.with_help(
            "remove it, or fix the conditions so that some request can satisfy them all",
        )
        .in_file(source),
    )
}

/// What makes a condition contradictory.
enum Found<'a> {
    /// Two conjuncts (or one) that cannot be as the rule needs them.
    Conflict(Conflict<'a>),
    /// Every conjunct of a requirement of several always holds: its span and text.
    RequirementHolds(Span, String),
}

/// The contradiction in a rule's applicability: its `when` conjuncts hold, its `unless`
/// fails (read only when it has a single conjunct: the negation of several is an `or`),
/// and for a `require`, some conjunct of the requirement fails.
fn contradiction<'a>(clauses: &Clauses<'a>) -> Option<Found<'a>> {
    let mut base = Assumptions::default();
    for part in parts(Clause::When, clauses.when.0, Some(clauses.when.1)) {
        base.assume(part, true);
    }
    if let [part] = parts(Clause::Unless, clauses.unless.0, clauses.unless.1)[..] {
        base.assume(part, false);
    }
    if let Some(conflict) = base.conflict() {
        return Some(Found::Conflict(conflict));
    }
    let require = parts(Clause::Require, clauses.require.0, clauses.require.1);
    let mut conflicts = Vec::new();
    for part in &require {
        let mut failing = base.clone();
        failing.assume(*part, false);
        conflicts.push(failing.conflict()?);
    }
    match conflicts[..] {
        [] => None,
        [conflict] => Some(Found::Conflict(conflict)),
        _ => {
            let ast = clauses.require.0?;
            Some(Found::RequirementHolds(ast.span, ast_text(&require)))
        }
    }
}

/// The requirement's text: its conjuncts joined by `and`.
fn ast_text(parts: &[Part<'_>]) -> String {
    let texts: Vec<&str> = parts.iter().map(|p| p.text).collect();
    texts.join(" and ")
}

/// The conjuncts of a clause with their spans; none when the written and compiled forms
/// do not line up.
fn parts<'a>(
    clause: Clause,
    ast: Option<&'a ast::Expr>,
    compiled: Option<&'a Condition>,
) -> Vec<Part<'a>> {
    let (Some(ast), Some(compiled)) = (ast, compiled) else {
        return Vec::new();
    };
    let written = conjuncts_of(ast);
    if written.len() != compiled.conjuncts.len() {
        return Vec::new();
    }
    written
        .iter()
        .zip(&compiled.conjuncts)
        .map(|(w, c)| Part {
            clause,
            span: w.span,
            text: &c.text,
            expr: &c.expr,
        })
        .collect()
}

/// The diagnostic of a conflict: the message says why, the primary label is on the later
/// part, the secondary on the earlier.
fn conflict_diagnostic(what: &str, id: &str, conflict: &Conflict<'_>) -> Diagnostic {
    const IMPLIED: &str = "when this holds";
    let (first, second) = (conflict.first, conflict.second);
    let (a, b) = (first.text, second.text);
    if conflict.single {
        let (why, label) = match first.clause {
            Clause::When => (format!("`{a}` can never hold"), "can never hold"),
            Clause::Unless => (format!("`unless {a}` always holds"), "always holds"),
            Clause::Require => (
                format!("the requirement `{a}` always holds"),
                "always holds",
            ),
        };
        return NeverApplies::META
            .diagnostic(format!("{what} `{id}` can never apply: {why}"))
            .with_label(second.span, label);
    }
    let (why, label, secondary) = match (first.clause, second.clause) {
        (Clause::Unless, Clause::Require) => (
            format!("the requirement `{b}` always holds when `unless {a}` does not"),
            "always holds when the other condition does not",
            "when this does not hold",
        ),
        (_, Clause::Require) => (
            format!("`{a}` implies the requirement `{b}`"),
            "always holds when the other condition does",
            IMPLIED,
        ),
        (_, Clause::Unless) => (
            format!("`{a}` implies `unless {b}`"),
            "always holds when the other condition does",
            IMPLIED,
        ),
        _ => (
            format!("`{a}` contradicts `{b}`"),
            "never holds with the other condition",
            "contradicts this",
        ),
    };
    NeverApplies::META
        .diagnostic(format!("{what} `{id}` can never apply: {why}"))
        .with_label(second.span, label)
        .with_secondary(first.span, secondary)
}

/// The span of a conjunct that is the constant `false`.
fn always_false(ast: Option<&ast::Expr>, compiled: &Condition) -> Option<Span> {
    let parts = conjuncts_of(ast?);
    compiled
        .conjuncts
        .iter()
        .zip(parts)
        .find(|(c, _)| c.expr == Expr::Const(Value::Bool(false)))
        .map(|(_, e)| e.span)
}

/// The span of a condition whose every conjunct is the constant `true`.
fn always_true(ast: Option<&ast::Expr>, compiled: Option<&Condition>) -> Option<Span> {
    let (ast, compiled) = (ast?, compiled?);
    let all_true = !compiled.conjuncts.is_empty()
        && compiled
            .conjuncts
            .iter()
            .all(|c| c.expr == Expr::Const(Value::Bool(true)));
    all_true.then_some(ast.span)
}

#[cfg(test)]
mod tests {
    use crate::diagnostics::Diagnostic;
    use crate::lints::test_support::{count, diagnostics, SCHEMA};

    #[test]
    fn flags_constant_conditions() {
        for dead in [
            "const maintenance = false\ndeny * when maintenance",
            "deny * on Doc when principal.roles contains \"x\" and 1 > 2",
            "allow \"docs:read\" on Doc when principal.roles contains \"x\" unless true",
            "require 1 < 2 for *",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{dead}"), "L004"), 1, "{dead}");
        }
    }

    #[test]
    fn accepts_conditions_known_only_at_request_time() {
        for live in [
            "deny * on Doc when principal.roles contains \"x\"",
            "require context.tls.mtls for *",
            "const live = true\ndeny * on Doc when live and principal.roles contains \"x\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{live}"), "L004"), 0, "{live}");
        }
    }

    /// A schema with attributes of every comparable kind.
    const TYPED: &str = r#"
package lints
schema {
  enum Class { public, internal, pci }
  entity User { level: Int, admin: Bool, team: String, session: Duration, joined: Timestamp,
                clearance: Class, home?: Ip, manager?: User }
  entity Doc { owner: User, class: Class }
  action "docs:read" on Doc for User
}
"#;

    /// The L004 findings of one rule or obligation written after [`TYPED`].
    fn findings(rule: &str) -> Vec<Diagnostic> {
        let all = diagnostics(&[("test.rampart", &format!("{TYPED}{rule}"))]);
        let errors: Vec<String> = all
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.render_plain())
            .collect();
        assert!(errors.is_empty(), "{rule}:\n{}", errors.join("\n"));
        all.into_iter().filter(|d| d.code() == "L004").collect()
    }

    fn allow_when(condition: &str) -> String {
        format!("@id(\"r\")\nallow \"docs:read\" on Doc for User when {condition}")
    }

    #[test]
    fn flags_contradictory_when_conjuncts() {
        for dead in [
            // X and not X
            "context.tls.mtls and not context.tls.mtls",
            "principal.team like \"a*\" and not principal.team like \"a*\"",
            "not (principal.admin or context.tls.mtls) and context.tls.mtls",
            // equalities
            "context.auth.method == jwt and context.auth.method == mtls",
            "principal.team == \"a\" and principal.team != \"a\"",
            "principal.team == \"a\" and not (principal.team == \"a\")",
            "\"a\" == principal.team and principal.team == \"b\"",
            "principal.clearance == pci and principal.clearance in [public, internal]",
            "principal.team in [\"a\", \"b\"] and principal.team in [\"c\"]",
            "principal.team in [\"a\"] and principal.team != \"a\"",
            "principal.team in [\"a\"] and not (principal.team in [\"a\", \"b\"])",
            "principal.team == \"a\" and not (principal.team in [\"a\"])",
            "resource.owner == User::\"x\" and resource.owner == User::\"y\"",
            // ordered bounds
            "principal.level > 5 and principal.level < 3 and context.tls.mtls",
            "principal.level >= 5 and principal.level < 5",
            "principal.level > 5 and principal.level < 6",
            "5 < principal.level and principal.level <= 5",
            "principal.level == 7 and principal.level < 3",
            "principal.level in [1, 2] and principal.level > 4",
            "not (principal.level <= 5) and principal.level <= 5",
            "principal.session > 1h and principal.session <= 30m",
            "principal.joined < 2024-01-01T00:00:00Z and principal.joined > 2025-01-01T00:00:00Z",
            "context.tls.version >= tls1.3 and context.tls.version < tls1.2",
            "context.tls.version == tls1.0 and context.tls.version >= tls1.2",
            "now > 2025-01-01T00:00:00Z and now < 2024-01-01T00:00:00Z",
            // booleans
            "principal.admin and principal.admin == false",
            "principal.admin == true and not principal.admin",
            "principal.admin and principal.admin != true",
            "context.auth.claims[\"x\"] == 1 and context.auth.claims[\"x\"] == 2",
            "context.request.headers[\"x\"] == \"a\" and context.request.headers[\"x\"] == \"b\"",
        ] {
            assert_eq!(findings(&allow_when(dead)).len(), 1, "{dead}");
        }
    }

    #[test]
    fn accepts_look_alikes() {
        for live in [
            "principal.level > 3 and principal.level < 5",
            "principal.level >= 5 and principal.level <= 5",
            "principal.level > 4 and principal.level < 6",
            "principal.level == 1 and principal.team == \"b\"",
            "principal.team == \"a\" or principal.team == \"b\"",
            "(principal.team == \"a\" or context.tls.mtls) and principal.team == \"b\"",
            "principal.team != \"a\" and principal.team != \"b\"",
            "principal.team == \"a\" and resource.owner.team == \"b\"",
            "principal.team in [\"a\", \"b\"] and principal.team in [\"b\", \"c\"]",
            "principal.team in [\"a\", \"b\"] and principal.team != \"a\"",
            "principal has home and principal.home in 10.0.0.0/8 and principal.home in 10.1.0.0/16",
            "principal has manager and principal in [User::\"x\"] and principal in [User::\"y\"]",
            "context has time and now > 2024-01-01T00:00:00Z",
            "principal.admin and context.tls.mtls",
            "principal.admin and not context.tls.mtls",
            "principal.level > resource.owner.level and principal.level < 3",
            "principal.level + 1 > 5 and principal.level < 3",
            "principal.session > 1h and principal.session < 2h",
            "context.tls.version >= tls1.2 and context.tls.version <= tls1.2",
            "context.auth.method == jwt and context.auth.method != mtls",
            "context.auth.claims[\"x\"] == 1 and context.auth.claims[\"y\"] == 2",
        ] {
            let found = findings(&allow_when(live));
            assert!(
                found.is_empty(),
                "{live}: {:?}",
                found.first().map(|d| d.render_plain())
            );
        }
    }

    #[test]
    fn message_names_both_conjuncts_and_labels_them() {
        let found = findings(&allow_when("principal.level > 5 and principal.level < 3"));
        let [d] = &found[..] else {
            panic!("expected one finding, got {}", found.len());
        };
        assert_eq!(
            d.message(),
            "rule `r` can never apply: `principal.level > 5` contradicts `principal.level < 3`"
        );
        let labels = d.labels();
        assert_eq!(labels.len(), 2);
        let primary = labels.iter().find(|l| l.primary).map(|l| l.span.start);
        let secondary = labels.iter().find(|l| !l.primary).map(|l| l.span.start);
        assert!(primary > secondary, "primary on the second conjunct");
    }

    #[test]
    fn reads_unless_and_requirements() {
        for (dead, message) in [
            (
                "allow \"docs:read\" on Doc for User when principal.level > 5 unless principal.level > 3",
                "`principal.level > 5` implies `unless principal.level > 3`",
            ),
            (
                "require context.tls.mtls or not context.tls.mtls for *",
                "the requirement `context.tls.mtls or not context.tls.mtls` always holds",
            ),
            (
                "require principal.level > 3 for \"docs:read\" when principal.level > 5",
                "`principal.level > 5` implies the requirement `principal.level > 3`",
            ),
            (
                "require principal.level > 3 for \"docs:read\" unless principal.level <= 3",
                "the requirement `principal.level > 3` always holds when `unless principal.level <= 3` does not",
            ),
            (
                "require principal.admin and (principal.team == \"a\" or principal.team != \"a\") for \"docs:read\" when principal.admin",
                "always holds where it applies",
            ),
            (
                "deny \"docs:read\" when principal.team == \"a\" and principal.team == \"b\"",
                "contradicts",
            ),
            (
                "obligation response_header \"x\" = \"y\" on Doc when context.tls.mtls unless context.tls.mtls",
                "`context.tls.mtls` implies `unless context.tls.mtls`",
            ),
        ] {
            let found = findings(&format!("@id(\"r\")\n{dead}"));
            assert_eq!(found.len(), 1, "{dead}");
            assert!(found[0].message().contains(message), "{}", found[0].message());
        }
        for live in [
            "require principal.level > 3 for \"docs:read\" when principal.level > 2",
            "require principal.admin and principal.level > 3 for \"docs:read\" when principal.admin",
            "allow \"docs:read\" on Doc for User when principal.admin unless principal.admin and context.tls.mtls",
            "allow \"docs:read\" on Doc for User when principal.admin unless context.tls.mtls",
            "require context.tls.mtls or principal.admin for *",
        ] {
            let found = findings(&format!("@id(\"r\")\n{live}"));
            assert!(found.is_empty(), "{live}: {:?}", found.first().map(|d| d.render_plain()));
        }
    }
}
