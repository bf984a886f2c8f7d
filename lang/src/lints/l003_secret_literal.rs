use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::{self, BinOp, ExprKind, Literal};
use crate::check::visit::for_each_expr;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags string literals in policy text that look like secrets: API keys and tokens
    /// with well-known prefixes (`sk_live_`, `ghp_`, `AKIA…`, `xoxb-`, …), JSON Web
    /// Tokens, private keys, `Bearer …` values, long high-entropy strings, and any string
    /// compared with a credential header (`authorization`, `x-api-key`, …). Test blocks
    /// are not checked.
    ///
    /// ### Why is this bad?
    /// Policies live in version control, are copied into bundles and shown in decision
    /// explanations. A secret written there is leaked to everyone who can read any of
    /// them, and it cannot be rotated without a policy change. Let the gateway verify
    /// credentials and write policies against what it verified (scopes, claims, the
    /// mTLS peer).
    ///
    /// ### Example
    /// ```rampart
    /// allow "admin:*" when context.request.headers["x-api-key"] == "k3y-8f2a91c0"   // warns
    ///
    /// allow "admin:write" when context.auth.method == api_key
    ///   and context.auth.scopes has_scope "admin:write"                            // ok
    /// ```
    pub struct SecretLiteral {
        code: "L003",
        name: "secret-literal",
        severity: Warning,
        since: "0.1.0",
        summary: "secret-like literal in policy text",
    }
}

impl Lint for SecretLiteral {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let mut flagged: Vec<(&str, u32)> = Vec::new();
        for (source, root) in &cx.exprs {
            for_each_expr(root, |e| {
                let Some((lit, why)) = compared_with_credential(e) else {
                    return;
                };
                flagged.push((source.name(), lit.span.start));
                out.push(finding(source, lit, &why));
            });
        }
        for (source, e, text) in cx.string_literals() {
            if flagged.contains(&(source.name(), e.span.start)) {
                continue;
            }
            if let Some(why) = secret_shape(text) {
                out.push(finding(source, e, why));
            }
        }
    }
}

fn finding(source: &crate::diagnostics::SourceFile, lit: &ast::Expr, why: &str) -> Diagnostic {
    SecretLiteral::META
        .diagnostic("secret-like literal in policy text")
        .with_label(lit.span, why.to_owned())
        .with_help("keep secrets out of policies: let the gateway verify credentials and check scopes or claims instead")
        .in_file(source)
}

/// `headers["authorization"] == "…"` (either side, also `in [...]`): the literal compared
/// with a credential header.
fn compared_with_credential(e: &ast::Expr) -> Option<(&ast::Expr, String)> {
    let ExprKind::Binary(BinOp::Eq | BinOp::Ne | BinOp::In, l, r) = &e.kind else {
        return None;
    };
    let (header, other) = match (credential_header(l), credential_header(r)) {
        (Some(h), _) => (h, r),
        (_, Some(h)) => (h, l),
        _ => return None,
    };
    let literal = match &other.kind {
        ExprKind::Lit(Literal::String(_)) => Some(&**other),
        ExprKind::Set(items) => items
            .iter()
            .find(|i| matches!(i.kind, ExprKind::Lit(Literal::String(_)))),
        _ => None,
    }?;
    Some((literal, format!("a value of the `{header}` header")))
}

/// The header name of `….headers["name"]` when it carries credentials.
fn credential_header(e: &ast::Expr) -> Option<&str> {
    let ExprKind::Index(base, key) = &e.kind else {
        return None;
    };
    let ExprKind::Attr(_, field) = &base.kind else {
        return None;
    };
    let name = key.value.to_ascii_lowercase();
    let credential = [
        "authorization",
        "api-key",
        "apikey",
        "api_key",
        "token",
        "secret",
        "password",
        "cookie",
    ]
    .iter()
    .any(|w| name.contains(w));
    (field.name == "headers" && credential).then_some(key.value.as_str())
}

/// Why a string looks like a secret, if it does.
fn secret_shape(s: &str) -> Option<&'static str> {
    const PREFIXES: [&str; 14] = [
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "pk_live_",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "AIza",
    ];
    if PREFIXES
        .iter()
        .any(|p| s.starts_with(p) && s.len() >= p.len() + 12)
    {
        return Some("looks like an API key");
    }
    if is_aws_key_id(s) {
        return Some("looks like an AWS access key id");
    }
    if s.contains("-----BEGIN") && s.contains("PRIVATE KEY") {
        return Some("looks like a private key");
    }
    if is_jwt(s) {
        return Some("looks like a JSON Web Token");
    }
    if let Some(token) = s
        .strip_prefix("Bearer ")
        .or_else(|| s.strip_prefix("bearer "))
    {
        if token.len() >= 16 {
            return Some("looks like a bearer token");
        }
    }
    if looks_random(s) {
        return Some("looks like a random secret");
    }
    None
}

fn is_aws_key_id(s: &str) -> bool {
    (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.len() == 20
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 4
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A long token of key-like characters with high character entropy and mixed classes.
fn looks_random(s: &str) -> bool {
    // Paths (`/v1/accounts/…`) use the same characters but are not secrets.
    if s.len() < 24
        || s.starts_with('/')
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c))
    {
        return false;
    }
    let digits = s.chars().any(|c| c.is_ascii_digit());
    let letters = s.chars().any(|c| c.is_ascii_alphabetic());
    digits && letters && entropy(s) >= 4.0
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lints::test_support::{count, SCHEMA};

    #[test]
    fn recognises_secret_shapes() {
        assert!(secret_shape("sk_live_4eC39HqLyjWDarjtT1zdp7dc").is_some());
        assert!(secret_shape("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(secret_shape("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl").is_some());
        assert!(secret_shape("Bearer abcdefghijklmnopqrstu").is_some());
        assert!(secret_shape("q8Zt2LmX9vR4kP7wN3bJ6yH1cF5dG0sA").is_some());
        for ordinary in [
            "/v1/accounts/a1b2c3d4e5f6g7h8i9j0",
            "550e8400-e29b-41d4-a716-446655440000",
            "payments:write",
            "spiffe://partners/*",
            "pci-dss-4.0/7.2.1",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
            "x-user-id",
        ] {
            assert!(secret_shape(ordinary).is_none(), "{ordinary}");
        }
    }

    #[test]
    fn flags_secrets_in_rules_and_consts() {
        let header = format!("{SCHEMA}allow \"docs:read\" on Doc when context.request.headers[\"x-api-key\"] == \"k3y\"");
        assert_eq!(count(&header, "L003"), 1);
        let konst = format!("{SCHEMA}const key = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"");
        assert_eq!(count(&konst, "L003"), 1);
    }

    #[test]
    fn ignores_ordinary_strings_and_tests() {
        let src = format!(
            "{SCHEMA}allow \"docs:read\" on Doc when context.auth.scopes has_scope \"docs:read\"\n\
             test \"t\" {{ request GET \"/x\" headers {{ \"x-api-key\": \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\" }} expect deny }}"
        );
        assert_eq!(count(&src, "L003"), 0);
    }
}
