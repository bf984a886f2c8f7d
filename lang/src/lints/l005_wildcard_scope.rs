use rampart_engine::bundle::RuleKind;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, BinOp, ExprKind, Literal};
use crate::check::visit::for_each_expr;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule that accepts a wildcard OAuth scope: `has_scope "*"`,
    /// `has_scope "payments:*"`, or `scopes contains "*"`.
    ///
    /// ### Why is this bad?
    /// `has_scope "payments:*"` is true only for tokens that were *granted* the wildcard,
    /// so the rule invites issuing over-broad tokens, and `"*"` is not a wildcard in
    /// Rampart at all (`*` alone never matches other scopes). Require the specific scope
    /// the action needs: a granted `payments:*` still satisfies `has_scope "payments:write"`.
    ///
    /// ### Example
    /// ```rampart
    /// allow "payments:write" on Account
    ///   when context.auth.scopes has_scope "payments:*"       // warns
    ///
    /// allow "payments:write" on Account
    ///   when context.auth.scopes has_scope "payments:write"   // ok
    /// ```
    pub struct WildcardScope {
        code: "L005",
        name: "wildcard-scope",
        severity: Warning,
        since: "0.1.0",
        summary: "allow rule accepting a wildcard scope grant",
    }
}

impl Lint for WildcardScope {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for rule in &cx.rules {
            if rule.compiled.kind != RuleKind::Allow {
                continue;
            }
            for cond in rule.ast.when.iter().chain(&rule.ast.unless) {
                for_each_expr(cond, |e| {
                    if let Some((lit, scope)) = wildcard_scope(e) {
                        let diag = Self::META
                            .diagnostic(format!("rule `{}` accepts the wildcard scope `{scope}`", rule.compiled.id))
                            .with_label(lit.span, "a wildcard scope")
                            .with_help("require the specific scope the action needs, e.g. `has_scope \"payments:write\"`")
                            .in_file(rule.source);
                        out.push(diag);
                    }
                });
            }
        }
    }
}

/// `_ has_scope "…*"` or `_ contains "*"` (and `contains_any`/`contains_all` sets with it).
fn wildcard_scope(e: &ast::Expr) -> Option<(&ast::Expr, &str)> {
    let ExprKind::Binary(op, _, right) = &e.kind else {
        return None;
    };
    let candidates: Vec<&ast::Expr> = match (op, &right.kind) {
        (BinOp::HasScope | BinOp::Contains, _) => vec![right],
        (BinOp::ContainsAny | BinOp::ContainsAll, ExprKind::Set(items)) => items.iter().collect(),
        _ => return None,
    };
    candidates.into_iter().find_map(|c| match &c.kind {
        ExprKind::Lit(Literal::String(s)) if is_wildcard(*op, s) => Some((c, s.as_str())),
        _ => None,
    })
}

fn is_wildcard(op: BinOp, scope: &str) -> bool {
    match op {
        BinOp::HasScope => scope.ends_with('*'),
        _ => scope == "*" || scope.ends_with(":*"),
    }
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, SCHEMA};

    #[test]
    fn flags_wildcard_scopes_in_allow() {
        for bad in [
            "allow \"docs:read\" on Doc when context.auth.scopes has_scope \"*\"",
            "allow \"docs:read\" on Doc when context.auth.scopes has_scope \"docs:*\"",
            "allow \"docs:read\" on Doc when context.auth.scopes contains \"*\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{bad}"), "L005"), 1, "{bad}");
        }
    }

    #[test]
    fn accepts_specific_scopes_and_deny_rules() {
        for ok in [
            "allow \"docs:read\" on Doc when context.auth.scopes has_scope \"docs:read\"",
            "deny \"docs:read\" on Doc when context.auth.scopes contains \"*\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{ok}"), "L005"), 0, "{ok}");
        }
    }
}
