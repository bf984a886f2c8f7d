use rampart_engine::bundle::{Condition, Expr};
use rampart_engine::Value;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, Span};
use crate::compile::conjuncts_of;
use crate::diagnostics::{Diagnostic, SourceFile};

declare_lint! {
    /// ### What it does
    /// Flags a rule or obligation that can never apply because a condition is constant
    /// after const folding: a `when` part that is always false, an `unless` that always
    /// holds, or a `require` whose condition always holds.
    ///
    /// ### Why is this bad?
    /// The rule is dead: it reads like protection (or like a grant) but never takes effect.
    /// It is usually a leftover from debugging or a const whose value changed.
    ///
    /// ### Example
    /// ```rampart
    /// const maintenance = false
    /// deny * when maintenance             // warns: never applies
    ///
    /// require 1 < 2 for *                 // warns: never denies
    /// ```
    pub struct NeverApplies {
        code: "L004",
        name: "never-applies",
        severity: Warning,
        since: "0.1.0",
        summary: "rule that can never apply (constant condition)",
    }
}

impl Lint for NeverApplies {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for rule in &cx.rules {
            let c = rule.compiled;
            let found = always_false(rule.ast.when.as_ref(), &c.when)
                .map(|span| (span, "always false"))
                .or_else(|| {
                    always_true(rule.ast.unless.as_ref(), c.unless.as_ref())
                        .map(|s| (s, "`unless` always holds"))
                })
                .or_else(|| {
                    always_true(rule.ast.require.as_ref(), c.require.as_ref())
                        .map(|s| (s, "the requirement always holds"))
                });
            if let Some((span, why)) = found {
                out.push(finding(rule.source, "rule", &c.id, span, why));
            }
        }
        for o in &cx.obligations {
            let c = o.compiled;
            let found = always_false(o.ast.when.as_ref(), &c.when)
                .map(|span| (span, "always false"))
                .or_else(|| {
                    always_true(o.ast.unless.as_ref(), c.unless.as_ref())
                        .map(|s| (s, "`unless` always holds"))
                });
            if let Some((span, why)) = found {
                out.push(finding(o.source, "obligation", &c.id, span, why));
            }
        }
    }
}

fn finding(source: &SourceFile, what: &str, id: &str, span: Span, why: &str) -> Diagnostic {
    NeverApplies::META
        .diagnostic(format!("{what} `{id}` can never apply"))
        .with_label(span, why)
        .with_help("remove it, or fix the condition (consts are folded at build time)")
        .in_file(source)
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
    use crate::lints::test_support::{count, SCHEMA};

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
}
