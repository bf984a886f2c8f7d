use rampart_engine::bundle::RuleKind;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, Span};
use crate::check::expr::path_text;
use crate::check::visit::for_each_expr;
use crate::check::FileId;
use crate::compile::conjuncts_of;
use crate::diagnostics::{Diagnostic, SourceFile};

declare_lint! {
    /// ### What it does
    /// Flags a policy set that trusts bearer tokens but never looks at when they expire.
    ///
    /// The set trusts tokens when a `principal` mapping reads `context.auth` (in its id or
    /// its `when`), or an `allow` rule reads `context.auth.scopes` or
    /// `context.auth.method`, unless that mapping or allow pins the method to one without
    /// tokens: a `when` conjunct `context.auth.method == api_key` (or `none`, `mtls`, or
    /// `in` a list of those). The lint is satisfied when any rule of the policy set,
    /// imported packages included, reads `context.auth.expires_at`: an expiry check
    /// (`context.auth.expires_at <= now`) or a lifetime bound
    /// (`context.auth.expires_at - context.auth.issued_at <= 1h`). A presence test alone
    /// (`context.auth has expires_at`) is not enough. It reports once, at the first such
    /// mapping or allow of the set's files; `@allow_lint("L008")` there silences it.
    ///
    /// ### Why is this bad?
    /// A token without an enforced expiry or lifetime bound stays valid as long as it
    /// leaks: a token copied from a log, a browser or a partner's system keeps working
    /// for months. Gateways are often configured to accept long-lived tokens for third
    /// parties; the policy is the place to bound what is accepted.
    ///
    /// ### Example
    /// ```rampart
    /// principal User::{context.auth.subject} when context.auth.method == oidc   // warns
    ///
    /// deny * when context.auth has expires_at and context.auth.expires_at <= now
    /// require context.auth.expires_at - context.auth.issued_at <= 1h
    ///   for Partner                                                     // either fixes it,
    /// import std.zerotrust                                              // as does this
    /// ```
    pub struct TokenLifetimeUnbounded {
        code: "L008",
        name: "token-lifetime-unbounded",
        severity: Warning,
        since: "0.1.0",
        summary: "tokens trusted without an expiry check or lifetime bound",
    }
}

const EXPIRES_AT: &str = "context.auth.expires_at";

impl Lint for TokenLifetimeUnbounded {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        if cx.set_rules.iter().any(|r| r.reads(EXPIRES_AT)) {
            return;
        }
        let mut uses: Vec<TokenUse<'_>> = Vec::new();
        for m in cx
            .mappings
            .iter()
            .filter(|m| !pins_tokenless_method(m.ast.when.as_ref()))
        {
            let parts = std::iter::once(&m.ast.entity).chain(&m.ast.when);
            if let Some(read) = parts
                .filter_map(|e| first_read(e, &["context.auth"]))
                .next()
            {
                uses.push(TokenUse {
                    source: m.source,
                    file: m.file,
                    span: read,
                    label: "the principal is taken from the token here",
                });
            }
        }
        let allows = cx
            .rules
            .iter()
            .filter(|r| r.compiled.kind == RuleKind::Allow);
        for rule in allows.filter(|r| !pins_tokenless_method(r.ast.when.as_ref())) {
            let paths = ["context.auth.scopes", "context.auth.method"];
            if let Some(read) = rule.conditions().find_map(|c| first_read(c, &paths)) {
                uses.push(TokenUse {
                    source: rule.source,
                    file: rule.file,
                    span: read,
                    label: "access is granted on the token here",
                });
            }
        }
        let first = uses.into_iter().min_by_key(|u| (u.file, u.span.start));
        if let Some(u) = first {
            let diag = Self::META
                .diagnostic("tokens are trusted, but no rule checks when they expire")
                .with_label(u.span, u.label)
                .with_help("deny expired tokens (`deny * when context.auth has expires_at and context.auth.expires_at <= now`), bound their lifetime (`require context.auth.expires_at - context.auth.issued_at <= 1h for …`), or import `std.zerotrust`")
                .in_file(u.source);
            out.push(diag);
        }
    }
}

/// A place where the set relies on a token.
struct TokenUse<'a> {
    source: &'a SourceFile,
    file: FileId,
    span: Span,
    label: &'static str,
}

/// Authentication methods without an expiring token.
const TOKENLESS_METHODS: [&str; 3] = ["none", "api_key", "mtls"];

/// Whether a top-level conjunct of `when` is `context.auth.method == M` or
/// `context.auth.method in [M, …]` with only tokenless methods `M`.
fn pins_tokenless_method(when: Option<&ast::Expr>) -> bool {
    let is_method = |e: &ast::Expr| path_text(e).is_some_and(|p| p == "context.auth.method");
    let tokenless = |e: &ast::Expr| {
        let name = match &e.kind {
            ast::ExprKind::Var(v) => &v.name,
            ast::ExprKind::Attr(_, v) => &v.name,
            _ => return false,
        };
        TOKENLESS_METHODS.contains(&name.as_str())
    };
    when.map_or_else(Vec::new, conjuncts_of)
        .into_iter()
        .any(|c| match &c.kind {
            ast::ExprKind::Binary(ast::BinOp::Eq, l, r) => {
                (is_method(l) && tokenless(r)) || (is_method(r) && tokenless(l))
            }
            ast::ExprKind::Binary(ast::BinOp::In, l, r) => match &r.kind {
                ast::ExprKind::Set(items) => is_method(l) && items.iter().all(tokenless),
                _ => false,
            },
            _ => false,
        })
}

/// The span of the first read of one of `paths` in `root` (`context.auth` also matches
/// `context.auth.subject`), if any.
fn first_read(root: &ast::Expr, paths: &[&str]) -> Option<Span> {
    let mut found = None;
    for_each_expr(root, |e| {
        if found.is_none()
            && matches!(e.kind, ast::ExprKind::Attr(..))
            && path_text(e).is_some_and(|p| paths.contains(&p.as_str()))
        {
            found = Some(e.span);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, count_in, SCHEMA};

    const MAPPING: &str = "principal User::{context.auth.subject} when context.auth.method == oidc";
    const SCOPED: &str =
        "allow \"docs:read\" on Doc for User when context.auth.scopes has_scope \"docs:read\"";

    #[test]
    fn flags_token_trust_without_expiry_once() {
        for rest in [
            MAPPING.to_owned(),
            SCOPED.to_owned(),
            format!("{MAPPING}\n{SCOPED}"),
            "allow \"docs:read\" on Doc for User when context.auth.method == jwt".to_owned(),
            format!("{SCOPED}\ndeny * when context.auth has expires_at and context.auth.issued_at > now"),
        ] {
            assert_eq!(count(&format!("{SCHEMA}{rest}"), "L008"), 1, "{rest}");
        }
    }

    #[test]
    fn accepts_expiry_checks_lifetime_bounds_and_no_tokens() {
        for guard in [
            "deny * when context.auth has expires_at and context.auth.expires_at <= now",
            "require context.auth.expires_at - context.auth.issued_at <= 1h for User",
            "allow \"health:read\" for Anonymous when context.auth.expires_at > now",
        ] {
            let src = format!("{SCHEMA}{MAPPING}\n{SCOPED}\n{guard}");
            assert_eq!(count(&src, "L008"), 0, "{guard}");
        }
        for tokenless in [
            "principal User::{context.auth.subject} when context.auth.method == api_key",
            "allow \"docs:read\" on Doc for User when context.auth.method in [api_key, mtls] and context.auth.scopes has_scope \"docs:read\"",
            "allow \"health:read\" for Anonymous when context.auth.method == none",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{tokenless}"), "L008"), 0, "{tokenless}");
        }
        let mtls_only = "principal User::{context.tls.peer} when context.tls.mtls\nallow \"docs:read\" on Doc for User when resource.owner == principal";
        assert_eq!(count(&format!("{SCHEMA}{mtls_only}"), "L008"), 0);
        let imported = format!(
            "{}{SCOPED}",
            SCHEMA.replace("package lints\n", "package lints\nimport std.zerotrust\n")
        );
        assert_eq!(count_in(&[("a.rampart", &imported)], "L008"), 0);
    }

    #[test]
    fn allow_lint_where_it_is_reported_silences_it() {
        let silenced = format!("{SCHEMA}@allow_lint(\"L008\")\n{MAPPING}\n{SCOPED}");
        assert_eq!(count(&silenced, "L008"), 0);
        let elsewhere = format!("{SCHEMA}{MAPPING}\n@allow_lint(\"L008\")\n{SCOPED}");
        assert_eq!(count(&elsewhere, "L008"), 1);
    }
}
