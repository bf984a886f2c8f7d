//! Every operator and value type, evaluated through a one-rule policy: the rule
//! `allow * for User when EXPR` allows exactly when EXPR is true, denies with an error
//! when it fails, and denies without one when it is false.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::{Effect, TlsVersion};
use serde_json::json;

#[derive(Debug, PartialEq)]
enum Out {
    True,
    False,
    Error(String),
}
use Out::{False, True};

fn run(expr: E, context: serde_json::Value) -> Out {
    let mut p = standard();
    p.rule(R::allow("t").for_(&["User"]).when(expr));
    let engine = p.engine();
    let entities = entities(&engine);
    let decision = decide(&engine, &entities, req("read", context));
    match (decision.decision, decision.errors.first()) {
        (Effect::Allow, None) => True,
        (Effect::Deny, None) => False,
        (Effect::Deny, Some(e)) => {
            assert_eq!(e.rule.as_deref(), Some("t"));
            Out::Error(e.message.clone())
        }
        (Effect::Allow, Some(e)) => panic!("allow with an error: {e:?}"),
    }
}

fn check(expr: E) -> Out {
    run(expr, json!({}))
}

fn is_error(out: Out) -> bool {
    matches!(out, Out::Error(_))
}

#[test]
fn equality_on_every_value_type() {
    assert_eq!(check(b(true).eq(b(true))), True);
    assert_eq!(check(int(1).eq(int(2))), False);
    assert_eq!(check(int(1).ne(int(2))), True);
    assert_eq!(check(s("a").eq(s("a"))), True);
    assert_eq!(check(ip("10.0.0.1").eq(ip("10.0.0.1"))), True);
    assert_eq!(check(ip("10.0.0.0/8").eq(ip("10.0.0.0/16"))), False);
    assert_eq!(check(dur("90m").eq(dur("1h30m"))), True);
    assert_eq!(
        check(ts("2026-01-01T02:00:00+02:00").eq(ts("2026-01-01T00:00:00Z"))),
        True
    );
    assert_eq!(
        check(tls(TlsVersion::Tls12).eq(tls(TlsVersion::Tls13))),
        False
    );
    assert_eq!(
        check(variant("Class", "pci").eq(resource().dot("classification"))),
        True
    );
    assert_eq!(check(principal().eq(uid("User", "alice"))), True);
    assert_eq!(
        check(principal().eq(uid("Group", "alice"))),
        False,
        "entity equality is type and id"
    );
    assert_eq!(
        check(set(vec![s("b"), s("a")]).eq(set(vec![s("a"), s("b"), s("a")]))),
        True
    );
    assert_eq!(
        check(record(vec![("x", int(1))]).eq(record(vec![(
            "x",
            principal().dot("roles").contains(s("dev")).not().not()
        )]))),
        False
    );
    assert_eq!(
        check(
            record(vec![("x", int(1)), ("y", s("a"))])
                .eq(record(vec![("y", s("a")), ("x", int(1))]))
        ),
        True
    );
}

#[test]
fn equality_across_types_is_an_error() {
    let Out::Error(message) = check(int(1).eq(s("1"))) else {
        panic!()
    };
    assert_eq!(message, "`==` cannot compare int with string");
    assert!(is_error(check(int(1).ne(b(true)))));
    assert!(
        is_error(check(variant("Class", "pci").eq(ctx("auth.method")))),
        "different enums"
    );
}

#[test]
fn ordering_comparisons() {
    assert_eq!(check(int(1).lt(int(2))), True);
    assert_eq!(check(int(2).le(int(2))), True);
    assert_eq!(check(int(2).gt(int(2))), False);
    assert_eq!(check(int(2).ge(int(3))), False);
    assert_eq!(check(dur("1h").gt(dur("59m"))), True);
    assert_eq!(
        check(ts("2026-01-01T00:00:00Z").lt(ts("2026-01-01T00:00:01Z"))),
        True
    );
    assert_eq!(
        check(tls(TlsVersion::Tls13).ge(tls(TlsVersion::Tls12))),
        True
    );
    assert_eq!(
        check(tls(TlsVersion::Tls10).ge(tls(TlsVersion::Tls12))),
        False
    );
    assert!(is_error(check(s("a").lt(s("b")))));
    assert!(is_error(check(int(1).lt(dur("1s")))));
}

#[test]
fn checked_arithmetic() {
    assert_eq!(check(int(2).add(int(3)).eq(int(5))), True);
    assert_eq!(check(int(2).sub(int(3)).eq(int(-1))), True);
    assert_eq!(check(int(4).mul(int(3)).eq(int(12))), True);
    assert_eq!(check(int(4).neg().eq(int(-4))), True);
    let Out::Error(message) = check(int(i64::MAX).add(int(1)).eq(int(0))) else {
        panic!()
    };
    assert_eq!(message, "arithmetic overflow");
    assert!(is_error(check(int(i64::MIN).sub(int(1)).eq(int(0)))));
    assert!(is_error(check(int(i64::MAX).mul(int(2)).eq(int(0)))));
    assert!(is_error(check(int(i64::MIN).neg().eq(int(0)))));
    assert_eq!(check(dur("1h").add(dur("30m")).eq(dur("90m"))), True);
    assert_eq!(check(dur("1h").sub(dur("30m")).eq(dur("30m"))), True);
    assert_eq!(check(dur("15m").mul(int(4)).eq(dur("1h"))), True);
    assert_eq!(check(dur("1s").neg().lt(dur("0s"))), True);
    assert_eq!(
        check(
            ts("2026-01-01T00:00:00Z")
                .add(dur("1d"))
                .eq(ts("2026-01-02T00:00:00Z"))
        ),
        True
    );
    assert_eq!(
        check(
            ts("2026-01-01T00:00:00Z")
                .sub(dur("1h"))
                .eq(ts("2025-12-31T23:00:00Z"))
        ),
        True
    );
    assert_eq!(
        check(
            ts("2026-01-01T01:00:00Z")
                .sub(ts("2026-01-01T00:00:00Z"))
                .eq(dur("1h"))
        ),
        True
    );
    assert!(is_error(check(s("a").add(s("b")).eq(s("ab")))));
    assert!(is_error(check(
        ts("2026-01-01T00:00:00Z")
            .add(ts("2026-01-01T00:00:00Z"))
            .eq(int(0))
    )));
    assert!(is_error(check(s("a").neg().eq(int(0)))));
}

#[test]
fn set_membership_and_contains() {
    assert_eq!(check(s("dev").is_in(principal().dot("roles"))), True);
    assert_eq!(check(s("ops").is_in(principal().dot("roles"))), False);
    assert_eq!(
        check(
            resource()
                .dot("classification")
                .is_in(set(vec![variant("Class", "pci"), variant("Class", "phi")]))
        ),
        True
    );
    assert_eq!(check(principal().dot("roles").contains(s("admin"))), True);
    assert_eq!(
        check(
            principal()
                .dot("roles")
                .contains_any(set(vec![s("x"), s("dev")]))
        ),
        True
    );
    assert_eq!(
        check(principal().dot("roles").contains_any(set(vec![]))),
        False
    );
    assert_eq!(
        check(
            principal()
                .dot("roles")
                .contains_all(set(vec![s("dev"), s("admin")]))
        ),
        True
    );
    assert_eq!(
        check(
            principal()
                .dot("roles")
                .contains_all(set(vec![s("dev"), s("x")]))
        ),
        False
    );
    assert_eq!(
        check(principal().dot("roles").contains_all(set(vec![]))),
        True
    );
    assert_eq!(check(s("spiffe://x").contains(s("//"))), True, "substring");
    assert_eq!(check(s("abc").contains(s("d"))), False);
    assert!(is_error(check(int(1).contains(int(1)))));
    assert!(is_error(check(
        principal().dot("roles").contains_any(s("dev"))
    )));
    assert!(is_error(check(s("a").is_in(s("abc")))));
}

#[test]
fn ip_containment() {
    assert_eq!(check(ip("10.1.2.3").is_in(ip("10.0.0.0/8"))), True);
    assert_eq!(check(ip("11.1.2.3").is_in(ip("10.0.0.0/8"))), False);
    assert_eq!(check(ip("10.1.0.0/16").is_in(ip("10.0.0.0/8"))), True);
    assert_eq!(check(ip("10.0.0.0/8").is_in(ip("10.1.0.0/16"))), False);
    assert_eq!(check(ip("2001:db8::1").is_in(ip("2001:db8::/32"))), True);
    assert_eq!(check(ip("10.0.0.1").is_in(ip("2001:db8::/32"))), False);
    assert_eq!(
        check(ip("192.168.1.1").is_in(set(vec![ip("10.0.0.0/8"), ip("192.168.0.0/16")]))),
        True
    );
    assert_eq!(
        check(ip("172.16.0.1").is_in(set(vec![ip("10.0.0.0/8"), ip("192.168.0.0/16")]))),
        False
    );
    // Request data, including an IPv4-mapped IPv6 address.
    let inside = |addr: &str| {
        run(
            ctx("source.ip").is_in(ip("10.0.0.0/8")),
            json!({"source": {"ip": addr}}),
        )
    };
    assert_eq!(inside("10.9.9.9"), True);
    assert_eq!(inside("::ffff:10.9.9.9"), True);
    assert_eq!(inside("8.8.8.8"), False);
    let cedar = json!({"source": {"ip": {"__extn": {"fn": "ip", "arg": "10.0.0.7"}}}});
    assert_eq!(run(ctx("source.ip").is_in(ip("10.0.0.0/8")), cedar), True);
}

#[test]
fn entity_hierarchy() {
    assert_eq!(check(principal().is_in(uid("Group", "finance"))), True);
    assert_eq!(
        check(principal().is_in(uid("Group", "staff"))),
        True,
        "transitive"
    );
    assert_eq!(
        check(principal().is_in(uid("User", "alice"))),
        True,
        "itself"
    );
    assert_eq!(check(principal().is_in(uid("Group", "other"))), False);
    assert_eq!(
        check(uid("User", "ghost").is_in(uid("Group", "staff"))),
        False,
        "missing entities have no parents"
    );
    assert_eq!(
        check(principal().is_in(set(vec![uid("Group", "x"), uid("Group", "staff")]))),
        True
    );
    assert_eq!(check(principal().is_in(set(vec![]))), False);
    assert_eq!(check(resource().dot("owner").eq(principal())), True);
    assert!(is_error(check(principal().is_in(set(vec![s("staff")])))));
    assert!(is_error(check(principal().is_in(s("staff")))));
}

#[test]
fn has_on_records_entities_and_maps() {
    assert_eq!(check(context().dot("auth").has("subject")), False);
    assert_eq!(
        run(
            context().dot("auth").has("subject"),
            json!({"auth": {"subject": "alice"}})
        ),
        True
    );
    assert_eq!(check(context().has("time")), False);
    assert_eq!(
        check(context().dot("tls").has("mtls")),
        True,
        "defaults are present"
    );
    assert_eq!(check(principal().has("nick")), False);
    assert_eq!(check(principal().has("mfa")), True);
    assert_eq!(check(uid("User", "bob").has("nick")), True);
    assert_eq!(
        check(uid("User", "ghost").has("mfa")),
        False,
        "a missing entity has no attributes"
    );
    assert_eq!(check(principal().has("not_a_symbol_anywhere")), False);
    let claims = json!({"auth": {"claims": {"tier": "gold"}}});
    assert_eq!(run(ctx("auth.claims").has("tier"), claims.clone()), True);
    assert_eq!(run(ctx("auth.claims").has("zone"), claims), False);
    assert!(is_error(check(int(1).has("x"))));
}

#[test]
fn attribute_reads_fail_closed_with_clear_messages() {
    let Out::Error(message) = check(principal().dot("nick").eq(s("a"))) else {
        panic!()
    };
    assert_eq!(message, "entity `User::\"alice\"` has no attribute `nick`");
    let Out::Error(message) = check(uid("User", "ghost").dot("mfa")) else {
        panic!()
    };
    assert_eq!(message, "entity `User::\"ghost\"` does not exist");
    let Out::Error(message) = check(ctx("auth.subject").eq(s("x"))) else {
        panic!()
    };
    assert_eq!(message, "`context.auth` has no `subject`");
    let Out::Error(message) = check(int(3).dot("x")) else {
        panic!()
    };
    assert_eq!(message, "cannot read `x` of a int");
    let Out::Error(message) = check(int(3)) else {
        panic!()
    };
    assert_eq!(message, "expected a boolean condition, found int");
}

#[test]
fn maps_and_untyped_claims() {
    let claims = json!({"auth": {"claims": {"level": 3, "groups": ["a", "b"], "org": {"id": "o1"}, "admin": true}}});
    assert_eq!(
        run(ctx("auth.claims").index("level").ge(int(2)), claims.clone()),
        True
    );
    assert_eq!(
        run(ctx("auth.claims").dot("admin"), claims.clone()),
        True,
        "attribute syntax on a map"
    );
    assert_eq!(
        run(
            ctx("auth.claims").index("groups").contains(s("b")),
            claims.clone()
        ),
        True
    );
    assert_eq!(
        run(
            ctx("auth.claims").index("org").index("id").eq(s("o1")),
            claims.clone()
        ),
        True
    );
    let Out::Error(message) = run(ctx("auth.claims").index("level").eq(s("3")), claims.clone())
    else {
        panic!()
    };
    assert_eq!(message, "`==` cannot compare int with string");
    let Out::Error(message) = run(ctx("auth.claims").index("missing").eq(s("3")), claims) else {
        panic!()
    };
    assert_eq!(message, "`context.auth.claims` has no `missing`");
    let headers = json!({"request": {"headers": {"X-Api-Key": "k1"}}});
    assert_eq!(
        run(
            ctx("request.headers").index("x-api-key").eq(s("k1")),
            headers
        ),
        True,
        "header names lower-cased"
    );
    assert_eq!(
        check(context().index("auth").index("mfa").eq(b(false))),
        True,
        "index on records"
    );
}

#[test]
fn like_and_matches() {
    assert_eq!(
        check(s("spiffe://partners/acme").like("spiffe://partners/*")),
        True
    );
    assert_eq!(
        check(s("spiffe://other/acme").like("spiffe://partners/*")),
        False
    );
    assert_eq!(
        check(s("a*b").like("a\\*b")),
        True,
        "escaped star is literal"
    );
    assert_eq!(check(s("axb").like("a\\*b")), False);
    assert_eq!(check(s("report-2026.pdf").like("*-*.pdf")), True);
    assert_eq!(check(s("abc").matches("b")), True, "not anchored");
    assert_eq!(check(s("abc").matches("^b$")), False);
    assert_eq!(
        check(principal().dot("department").matches("^(eng|ops)$")),
        True
    );
    assert!(is_error(check(int(1).like("*"))));
    assert!(is_error(check(int(1).matches("."))));
}

#[test]
fn has_scope_edge_cases() {
    let with_scopes = |granted: serde_json::Value, wanted: &str| {
        run(
            ctx("auth.scopes").has_scope(s(wanted)),
            json!({"auth": {"scopes": granted}}),
        )
    };
    assert_eq!(with_scopes(json!(["docs:read"]), "docs:read"), True);
    assert_eq!(with_scopes(json!(["docs:read"]), "docs:readonly"), False);
    assert_eq!(with_scopes(json!(["docs:readonly"]), "docs:read"), False);
    assert_eq!(with_scopes(json!(["a:*"]), "a:b"), True);
    assert_eq!(with_scopes(json!(["a:*"]), "a:b:c"), True);
    assert_eq!(with_scopes(json!(["a:*"]), "ab:c"), False);
    assert_eq!(with_scopes(json!(["a:*"]), "a"), False);
    assert_eq!(
        with_scopes(json!(["*"]), "a:b"),
        False,
        "bare * is not a wildcard"
    );
    assert_eq!(with_scopes(json!(["*"]), "*"), True);
    assert_eq!(
        with_scopes(json!([":*"]), ":x"),
        False,
        "empty prefix is not a wildcard"
    );
    assert_eq!(with_scopes(json!([]), "a:b"), False);
    assert_eq!(
        with_scopes(json!("openid docs:read  payments:*"), "payments:write"),
        True,
        "space-separated"
    );
    assert!(is_error(check(int(1).has_scope(s("a")))));
}

#[test]
fn boolean_operators_short_circuit() {
    let failing = uid("User", "ghost").dot("mfa");
    assert_eq!(check(b(false).and(failing.clone())), False);
    assert_eq!(check(b(true).or(failing.clone())), True);
    assert!(is_error(check(b(true).and(failing.clone()))));
    assert!(is_error(check(b(false).or(failing.clone()))));
    assert!(
        is_error(check(failing.clone().or(b(true)))),
        "left to right"
    );
    assert_eq!(check(b(false).not()), True);
    assert!(is_error(check(int(1).not())));
    assert!(is_error(check(int(1).and(b(true)))));
}

#[test]
fn variables_and_constructors() {
    assert_eq!(check(action().eq(s("read"))), True);
    assert_eq!(check(ctor("User", s("alice")).eq(principal())), True);
    assert_eq!(
        check(ctor("Account", principal().dot("department")).eq(uid("Account", "eng"))),
        True
    );
    assert!(is_error(check(ctor("User", int(1)).eq(principal()))));
    assert_eq!(
        check(set(vec![principal().dot("department"), s("x")]).contains(s("eng"))),
        True
    );
    assert_eq!(
        check(resource().dot("owner").dot("mfa")),
        True,
        "entity-typed attributes chain"
    );
}

#[test]
fn now_needs_the_request_time() {
    let Out::Error(message) = check(now().gt(ts("2020-01-01T00:00:00Z"))) else {
        panic!()
    };
    assert_eq!(
        message,
        "`now` is not known: the request has no `context.time`"
    );
    assert_eq!(
        run(
            now().gt(ts("2020-01-01T00:00:00Z")),
            json!({"time": "2026-01-01T00:00:00Z"})
        ),
        True
    );
    assert_eq!(
        run(
            now().eq(ts("2026-01-01T00:00:00Z")),
            json!({"time": 1_767_225_600})
        ),
        True,
        "epoch seconds"
    );
    let token = json!({"auth": {"issued_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:30:00Z"}});
    assert_eq!(
        run(
            ctx("auth.expires_at")
                .sub(ctx("auth.issued_at"))
                .le(dur("1h")),
            token
        ),
        True
    );
}

#[test]
fn fill_time_sets_now_only_when_absent() {
    let mut p = standard();
    p.rule(
        R::allow("t")
            .for_(&["User"])
            .when(now().gt(ts("2020-01-01T00:00:00Z"))),
    );
    let engine = p.engine();
    let entities = entities(&engine);
    let mut request = engine
        .parse_request(&req("read", json!({})).to_string())
        .unwrap();
    assert!(!engine.decide(&request, &entities).is_allow());
    engine.fill_time(&mut request, 1_767_225_600_000);
    assert!(engine.decide(&request, &entities).is_allow());
    let mut old = engine
        .parse_request(&req("read", json!({"time": "2019-01-01T00:00:00Z"})).to_string())
        .unwrap();
    engine.fill_time(&mut old, 1_767_225_600_000);
    assert!(
        !engine.decide(&old, &entities).is_allow(),
        "a given time is kept"
    );
}
