use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, ExprKind, RuleKind, ScopeList};
use crate::check::builtins::ANONYMOUS_NAME;
use crate::check::expr::path_text;
use crate::check::visit::any_expr;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule whose conditions never look at who is calling: nothing about
    /// `principal`, `context.auth`, or the mutual-TLS identity (`context.tls.mtls`,
    /// `context.tls.peer`), and whose scope names no principal entity (`for User::"ana"`,
    /// `for User in Group::"staff"` look at the caller).
    ///
    /// ### Why is this bad?
    /// Such a rule lets through anyone a `principal` mapping or the gateway names, whatever
    /// their credentials say. That is rarely the intent of an `allow` and a common way to
    /// open an API by accident. Public endpoints should say so with `for Anonymous`, which
    /// this lint accepts.
    ///
    /// ### Example
    /// ```rampart
    /// allow "docs:read" on Doc                 // warns: any caller at all
    ///
    /// allow "docs:read" on Doc
    ///   when context.auth.scopes has_scope "docs:read"   // ok
    ///
    /// allow "health:read" for Anonymous        // ok: deliberately public
    /// ```
    pub struct AllowWithoutAuthentication {
        code: "L001",
        name: "allow-without-authentication",
        severity: Warning,
        since: "0.1.0",
        summary: "allow rule without an authentication condition",
    }
}

impl Lint for AllowWithoutAuthentication {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for rule in &cx.rules {
            let ast = rule.ast;
            if ast.kind != RuleKind::Allow
                || names_anonymous(&ast.scope)
                || ast.scope.principal_head.is_some()
            {
                continue;
            }
            let looks_at_caller = ast
                .when
                .iter()
                .chain(&ast.unless)
                .any(|c| any_expr(c, is_authentication));
            if looks_at_caller {
                continue;
            }
            let diag = Self::META
                .diagnostic(format!("rule `{}` allows without checking authentication", rule.compiled.id))
                .with_label(ast.scope.span, "any caller matching this scope is allowed")
                .with_help("add a condition on the caller, e.g. `when context.auth.scopes has_scope \"…\"`, or write `for Anonymous` for a public endpoint")
                .in_file(rule.source);
            out.push(diag);
        }
    }
}

fn names_anonymous(scope: &ast::Scope) -> bool {
    matches!(&scope.principals, Some(ScopeList::List(names)) if names.iter().any(|n| n.name == ANONYMOUS_NAME))
}

/// `principal`, `context.auth…`, `context.tls.mtls`, `context.tls.peer`.
fn is_authentication(e: &ast::Expr) -> bool {
    if let ExprKind::Var(id) = &e.kind {
        return id.name == "principal";
    }
    let Some(path) = path_text(e) else {
        return false;
    };
    path == "context.auth" || path == "context.tls.mtls" || path == "context.tls.peer"
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, SCHEMA};

    #[test]
    fn flags_allow_without_condition_on_the_caller() {
        assert_eq!(
            count(&format!("{SCHEMA}allow \"docs:read\" on Doc"), "L001"),
            1
        );
        assert_eq!(
            count(
                &format!("{SCHEMA}allow \"docs:read\" on Doc when 1 < 2"),
                "L001"
            ),
            1
        );
    }

    #[test]
    fn accepts_authentication_identity_and_public_rules() {
        for ok in [
            "allow \"docs:read\" on Doc when context.auth.scopes has_scope \"docs:read\"",
            "allow \"docs:read\" on Doc when resource.owner == principal",
            "allow \"docs:read\" on Doc when context.tls.mtls",
            "allow \"docs:read\" on Doc unless context.auth.method == none",
            "allow \"health:read\" for Anonymous",
            "allow \"docs:read\" on Doc for User in User::\"lead\"",
            "allow \"docs:read\" on Doc for User::\"ana\"",
            "deny \"docs:read\" on Doc",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{ok}"), "L001"), 0, "{ok}");
        }
    }
}
