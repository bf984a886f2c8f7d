use rampart_engine::bundle::{self as ir, BinaryOp, Condition, RuleKind};
use rampart_engine::Value;

use super::{declare_lint, Lint, LintContext, LintMeta, LintRule};
use crate::ast::{self, BinOp, ExprKind, Literal};
use crate::check::visit::for_each_expr;
use crate::compile::conjuncts_of;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule that accepts a wildcard OAuth scope: `has_scope "*"`,
    /// `has_scope "payments:*"`, or `scopes contains "*"` (or `"payments:*"`), also when
    /// the scope comes from a const (`has_scope admin_scope`).
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
            let conditions = [
                (rule.ast.when.as_ref(), Some(&rule.compiled.when)),
                (rule.ast.unless.as_ref(), rule.compiled.unless.as_ref()),
            ];
            for (cond, compiled) in conditions {
                if let Some(cond) = cond {
                    check_condition(rule, cond, compiled, out);
                }
            }
        }
    }
}

/// Reports the wildcard scopes of one condition: literals where they are written, and
/// (conjunct by conjunct) wildcards that const folding brought in.
fn check_condition(
    rule: &LintRule<'_>,
    cond: &ast::Expr,
    compiled: Option<&Condition>,
    out: &mut Vec<Diagnostic>,
) {
    let compiled = compiled.map_or(&[][..], |c| c.conjuncts.as_slice());
    let parts = conjuncts_of(cond);
    for (i, part) in parts.iter().enumerate() {
        let mut literal = false;
        for_each_expr(part, |e| {
            if let Some((lit, scope)) = wildcard_scope(e) {
                literal = true;
                out.push(finding(rule, lit.span, scope, "a wildcard scope"));
            }
        });
        let folded = compiled
            .get(i)
            .filter(|_| compiled.len() == parts.len())
            .and_then(|c| folded_wildcard(&c.expr));
        if let (false, Some(scope)) = (literal, folded) {
            out.push(finding(
                rule,
                part.span,
                &scope,
                "a wildcard scope, from a const",
            ));
        }
    }
}

fn finding(rule: &LintRule<'_>, span: ast::Span, scope: &str, label: &str) -> Diagnostic {
    WildcardScope::META
        .diagnostic(format!(
            "rule `{}` accepts the wildcard scope `{scope}`",
            rule.compiled.id
        ))
        .with_label(span, label)
        .with_help(
            "require the specific scope the action needs, e.g. `has_scope \"payments:write\"`",
        )
        .in_file(rule.source)
}

/// A wildcard scope constant compared with `has_scope`/`contains…` in a compiled
/// expression (after const folding).
fn folded_wildcard(e: &ir::Expr) -> Option<String> {
    use ir::Expr as E;
    match e {
        E::Binary(op, left, right) => {
            let here = match (op, &**right) {
                (
                    BinaryOp::HasScope
                    | BinaryOp::Contains
                    | BinaryOp::ContainsAny
                    | BinaryOp::ContainsAll,
                    E::Const(value),
                ) => wildcard_in_value(*op, value),
                _ => None,
            };
            here.or_else(|| folded_wildcard(left))
                .or_else(|| folded_wildcard(right))
        }
        E::And(a, b) | E::Or(a, b) => folded_wildcard(a).or_else(|| folded_wildcard(b)),
        E::Not(x) => folded_wildcard(x),
        _ => None,
    }
}

fn wildcard_in_value(op: BinaryOp, value: &Value) -> Option<String> {
    let op = match op {
        BinaryOp::HasScope => BinOp::HasScope,
        _ => BinOp::Contains,
    };
    match value {
        Value::String(s) if is_wildcard(op, s) => Some(s.to_string()),
        Value::Set(items) => items.iter().find_map(|v| match v {
            Value::String(s) if is_wildcard(BinOp::Contains, s) => Some(s.to_string()),
            _ => None,
        }),
        _ => None,
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
            "allow \"docs:read\" on Doc when context.auth.scopes contains \"docs:*\"",
            "allow \"docs:read\" on Doc when context.auth.scopes contains_any [\"docs:read\", \"docs:*\"]",
            "const admin = \"docs:*\"\nallow \"docs:read\" on Doc when context.auth.scopes has_scope admin",
            "const admin = [\"*\"]\nallow \"docs:read\" on Doc when principal.roles contains \"x\" and context.auth.scopes contains_all admin",
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
