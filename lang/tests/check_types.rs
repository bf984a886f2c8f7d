//! Typing: mismatches (E006) named in the language's words, regexes (E012), constant
//! overflow (E013), nesting (E018).

mod common;

use common::{error_codes, ok, single_error, with_schema};

fn rule(condition: &str) -> String {
    with_schema(&format!(
        "allow \"payments:read\" on Account for User when {condition}"
    ))
}

#[test]
fn e006_names_types_in_the_languages_words() {
    let cases = [
        (
            "context.tls.version >= \"1.2\"",
            "type mismatch: expected TlsVersion, found String",
        ),
        (
            "principal.roles == \"admin\"",
            "type mismatch: expected Set<String>, found String",
        ),
        (
            "resource.owner == resource",
            "type mismatch: expected User, found Account",
        ),
        (
            "principal.mfa == 1",
            "type mismatch: expected Bool, found Int",
        ),
        (
            "principal.department",
            "type mismatch: expected Bool, found String",
        ),
        (
            "principal.roles contains 3",
            "type mismatch: expected String, found Int",
        ),
        (
            "context.auth.scopes has_scope 3",
            "type mismatch: expected String, found Int",
        ),
        (
            "principal.mfa + 1 > 0",
            "type mismatch: expected Int, Decimal, Duration or Timestamp, found Bool",
        ),
        (
            "now - 1 > now",
            "type mismatch: expected Duration or Timestamp, found Int",
        ),
        (
            "principal.department < \"b\"",
            "type mismatch: expected Int, Decimal, Duration, Timestamp or TlsVersion, found String",
        ),
        (
            "not principal.department",
            "type mismatch: expected Bool, found String",
        ),
        ("3 like \"x\"", "type mismatch: expected String, found Int"),
        (
            "context.source.ip in 3",
            "type mismatch: expected Ip or Set<Ip>, found Int",
        ),
        (
            "[1, \"a\"] contains 1",
            "type mismatch: expected Int, found String",
        ),
        (
            "principal.department.x == 1",
            "type mismatch: expected an entity or a record, found String",
        ),
        (
            "resource.classification == context.auth.method",
            "type mismatch: expected Class, found AuthMethod",
        ),
    ];
    for (condition, message) in cases {
        let d = single_error(&rule(condition), "E006");
        assert_eq!(d.message(), message, "{condition}");
    }
}

#[test]
fn e006_entity_hierarchy_must_be_possible() {
    let d = single_error(&rule("principal in Account::\"a\""), "E006");
    assert_eq!(
        d.message(),
        "type mismatch: `User` can never be in `Account`"
    );
    assert_eq!(d.help_text(), Some("`User` may only be in `Group`"));
    ok(&rule("principal in Group::\"finance\""));
    ok(&rule("principal in [Group::\"a\", Group::\"b\"]"));
    ok(&rule("resource.owner in principal"));
}

#[test]
fn well_typed_expressions_compile() {
    for condition in [
        "context.tls.version >= tls1.2",
        "context.auth.expires_at - context.auth.issued_at <= 1h",
        "context.auth.issued_at + 5m < now",
        "2 * 1h > 90m and 1h * 2 == 120m",
        "context.source.ip in 10.0.0.0/8 or context.source.ip in [192.168.0.0/16, ::1]",
        "context.request.headers[\"x-tenant\"] == \"acme\"",
        "context.request.headers has \"x-tenant\"",
        "context.auth.claims[\"org\"] == \"acme\"",
        "context.auth.claims.org == \"acme\"",
        "principal.roles contains_any [\"admin\", \"ops\"] and principal.roles contains_all []",
        "principal.department contains \"fin\" and principal.department matches \"^fin-[a-z]+$\"",
        "principal has nick and principal.nick like \"*bot\"",
        "action == \"payments:read\" or action in [\"payments:write\"]",
        "resource.tags contains \"x\" and principal == resource.owner",
        "-3 < 0 and -(1h) < 0s",
        "{a: 1, b: \"x\"} == {a: 1, b: \"x\"}",
        "context.time > 2026-01-01T00:00:00Z",
        "User::{principal.department} == principal",
    ] {
        ok(&rule(condition));
    }
}

#[test]
fn e012_invalid_regex_is_reported_at_the_pattern() {
    let d = single_error(&rule("principal.department matches \"^fin(\""), "E012");
    assert_eq!(d.message(), "invalid regex `^fin(`");
    assert!(
        d.labels()
            .first()
            .is_some_and(|l| l.text.contains("unclosed")),
        "{:?}",
        d.labels()
    );
}

#[test]
fn e013_constant_overflow() {
    let d = single_error("package p\nconst big = 9223372036854775807 + 1\n", "E013");
    assert_eq!(d.message(), "integer overflow in a constant expression");
    single_error("package p\nconst big = 9223372036854775807 * 2\n", "E013");
}

#[test]
fn e018_expressions_nested_too_deeply() {
    // Real nesting is limited: 70 levels of parentheses around `not`.
    let nested = format!("{}principal.mfa{}", "not (".repeat(70), ")".repeat(70));
    let d = single_error(&rule(&nested), "E018");
    assert!(d.message().contains("too deep"), "{}", d.message());
    // A long `or` chain is one level, lowered to a balanced tree.
    let chain = vec!["principal.mfa"; 1000].join(" or ");
    let compiled = ok(&rule(&chain));
    let depth = compiled.bundle.and_then(|b| {
        b.rules
            .first()
            .map(|r| expr_depth(&r.when.conjuncts[0].expr))
    });
    assert!(depth.is_some_and(|d| d <= 11), "{depth:?}");
    // A top-level `and` chain is split into conjuncts.
    let and_chain = vec!["principal.mfa"; 50].join(" and ");
    let compiled = ok(&rule(&and_chain));
    let conjuncts = compiled
        .bundle
        .and_then(|b| b.rules.first().map(|r| r.when.conjuncts.len()));
    assert_eq!(conjuncts, Some(50));
}

#[test]
fn many_errors_are_reported_in_one_run() {
    let src = with_schema(
        "allow \"payments:read\" on Account for User when principal.mfaa\n\
         allow \"payments:raed\" on Account for User when principal.mfa\n\
         deny * on Account when resource.classification == secret\n\
         require context.tls.version >= \"1.2\" for *",
    );
    assert_eq!(error_codes(&src), vec!["E005", "E007", "E011", "E006"]);
}

fn expr_depth(e: &rampart_engine::bundle::Expr) -> usize {
    use rampart_engine::bundle::Expr;
    match e {
        Expr::Or(l, r) | Expr::And(l, r) => 1 + expr_depth(l).max(expr_depth(r)),
        _ => 1,
    }
}
