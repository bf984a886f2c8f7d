//! How rules combine into a decision: default deny, deny over allow, `require`, fail
//! closed, deciding rules with reasons and controls, obligations, principal scopes and
//! package selection.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::bundle::Ty;
use rampart_engine::{Decision, DecisionError, Effect, ObligationOut, TlsVersion};
use serde_json::json;

fn err(rule: &str, message: &str) -> DecisionError {
    DecisionError {
        rule: Some(rule.into()),
        message: message.into(),
    }
}

fn mtls() -> serde_json::Value {
    json!({"tls": {"mtls": true, "version": "1.3"}})
}

#[test]
fn default_deny_without_rules() {
    let engine = standard().engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert_eq!(
        d,
        Decision {
            decision: Effect::Deny,
            rules: vec![],
            reasons: vec![],
            errors: vec![],
            obligations: vec![],
            controls: vec![]
        }
    );
}

#[test]
fn allow_applies_when_and_not_unless() {
    let mut p = standard();
    p.rule(
        R::allow("a")
            .actions(&["read"])
            .on(&["Account"])
            .when(ctx("tls.mtls"))
            .unless(principal().dot("mfa").eq(b(false))),
    );
    let engine = p.engine();
    let e = entities(&engine);
    let d = decide(&engine, &e, req("read", mtls()));
    assert!(d.is_allow());
    assert_eq!(d.rules, ["a"]);
    assert!(
        !decide(&engine, &e, req("read", json!({}))).is_allow(),
        "when false"
    );
    assert!(
        !decide(&engine, &e, req("write", mtls())).is_allow(),
        "other action"
    );
    let bob = json!({"principal": "User::\"bob\"", "action": "read", "resource": "Account::\"a1\"", "context": mtls()});
    assert!(!decide(&engine, &e, bob).is_allow(), "unless held");
}

#[test]
fn deny_beats_allow_and_lists_only_denies() {
    let mut p = standard();
    p.rule(R::allow("a1").reason("ok").control("c-allow"))
        .rule(
            R::deny("d1")
                .on(&["Account"])
                .when(resource().dot("classification").eq(variant("Class", "pci")))
                .reason("pci")
                .control("c1")
                .control("c2"),
        )
        .rule(R::allow("a2"))
        .rule(R::deny("d2").reason("pci").control("c2").control("c3"))
        .rule(R::deny("d3").when(b(false)).reason("never"));
    let engine = p.engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.rules, ["d1", "d2"]);
    assert_eq!(d.reasons, ["pci"], "deduplicated");
    assert_eq!(
        d.controls,
        ["c1", "c2", "c3"],
        "union in order of first appearance"
    );
    assert!(d.obligations.is_empty());
}

#[test]
fn allow_lists_every_applying_allow() {
    let mut p = standard();
    p.rule(R::allow("a1").reason("r1").control("x"))
        .rule(R::allow("a2").when(b(false)))
        .rule(R::allow("a3").reason("r3").control("y").control("x"));
    let engine = p.engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert!(d.is_allow());
    assert_eq!(d.rules, ["a1", "a3"]);
    assert_eq!(d.reasons, ["r1", "r3"]);
    assert_eq!(d.controls, ["x", "y"]);
}

#[test]
fn require_denies_when_its_condition_fails() {
    let mut p = standard();
    p.rule(
        R::require("tls-min", ctx("tls.version").ge(tls(TlsVersion::Tls12)))
            .reason("TLS 1.2 or newer is required"),
    )
    .rule(R::allow("a"));
    let engine = p.engine();
    let e = entities(&engine);
    assert!(decide(
        &engine,
        &e,
        req("read", json!({"tls": {"version": "TLSv1.3"}}))
    )
    .is_allow());
    let old = decide(&engine, &e, req("read", json!({"tls": {"version": "1.1"}})));
    assert_eq!(
        (old.decision, old.rules.clone(), old.reasons.clone()),
        (
            Effect::Deny,
            vec!["tls-min".to_string()],
            vec!["TLS 1.2 or newer is required".to_string()]
        )
    );
    // No version at all: the require fails closed.
    let none = decide(&engine, &e, req("read", json!({})));
    assert_eq!(none.rules, ["tls-min"]);
    assert_eq!(
        none.errors,
        [err("tls-min", "`context.tls` has no `version`")]
    );
}

#[test]
fn require_respects_when_and_unless() {
    let mut p = standard();
    p.rule(
        R::require("r", ctx("tls.mtls"))
            .on(&["Account"])
            .when(resource().dot("encrypted"))
            .unless(principal().dot("department").eq(s("ops"))),
    )
    .rule(R::allow("a"));
    let engine = p.engine();
    let e = entities(&engine);
    assert!(
        !decide(&engine, &e, req("read", json!({}))).is_allow(),
        "a1 is encrypted: mtls required"
    );
    assert!(decide(&engine, &e, req("read", mtls())).is_allow());
    let a2 =
        json!({"principal": "User::\"alice\"", "action": "read", "resource": "Account::\"a2\""});
    assert!(decide(&engine, &e, a2).is_allow(), "when false");
    let bob =
        json!({"principal": "User::\"bob\"", "action": "read", "resource": "Account::\"a1\""});
    assert!(decide(&engine, &e, bob).is_allow(), "unless held");
}

#[test]
fn errors_fail_closed() {
    let mut p = standard();
    p.rule(R::allow("needs-nick").when(principal().dot("nick").eq(s("x"))))
        .rule(R::allow("fine"));
    let engine = p.engine();
    let e = entities(&engine);
    // An error in an allow: it does not apply, other allows still can; the error is listed.
    let d = decide(&engine, &e, req("read", json!({})));
    assert!(d.is_allow());
    assert_eq!(d.rules, ["fine"]);
    assert_eq!(
        d.errors,
        [err(
            "needs-nick",
            "entity `User::\"alice\"` has no attribute `nick`"
        )]
    );

    let mut p = standard();
    p.rule(R::deny("d").when(principal().dot("nick").eq(s("x"))))
        .rule(R::allow("fine"));
    let engine = p.engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert_eq!(
        (d.decision, d.rules.clone()),
        (Effect::Deny, vec!["d".to_string()]),
        "an error in a deny makes it apply"
    );
    assert_eq!(d.errors.len(), 1);

    let mut p = standard();
    p.rule(R::deny("d").unless(principal().dot("nick").eq(s("x"))))
        .rule(R::allow("fine"));
    let engine = p.engine();
    assert!(
        !decide(&engine, &entities(&engine), req("read", json!({}))).is_allow(),
        "also in unless"
    );
}

#[test]
fn anonymous_is_allowed_only_by_rules_naming_it() {
    let mut p = standard();
    p.rule(R::allow("any"));
    let engine = p.engine();
    let e = entities(&engine);
    let anonymous = json!({"action": "read", "resource": "Account::\"a1\""});
    assert!(!decide(&engine, &e, anonymous.clone()).is_allow());
    p.rule(R::allow("anon").for_(&["Anonymous"]));
    let engine = p.engine();
    let d = decide(&engine, &e, anonymous.clone());
    assert_eq!(d.rules, ["anon"]);
    // Deny rules without `for` cover anonymous requests.
    p.rule(R::deny("no-anon").when(principal().eq(uid("Anonymous", ""))));
    let engine = p.engine();
    assert_eq!(decide(&engine, &e, anonymous).rules, ["no-anon"]);
}

#[test]
fn principal_scopes_filter_rules() {
    let mut p = standard();
    p.rule(R::allow("svc").for_(&["Service"]))
        .rule(R::deny("users").for_(&["User"]).when(b(false)));
    let engine = p.engine();
    let e = entities(&engine);
    assert!(!decide(&engine, &e, req("read", json!({}))).is_allow());
    let svc =
        json!({"principal": "Service::\"s\"", "action": "read", "resource": "Account::\"a1\""});
    assert!(decide(&engine, &e, svc).is_allow());
}

#[test]
fn principal_mapping_first_match_wins() {
    let mut p = standard();
    let am = p.auth_method;
    let _ = am;
    p.principal_mapping("Service", ctx("tls.peer"), &[ctx("tls.mtls")])
        .principal_mapping(
            "User",
            ctx("auth.subject"),
            &[ctx("auth.method").is_in(set(vec![
                variant("AuthMethod", "jwt"),
                variant("AuthMethod", "oidc"),
            ]))],
        )
        .principal_mapping("User", s("fallback"), &[]);
    p.rule(R::allow("alice").when(principal().eq(uid("User", "alice"))))
        .rule(R::allow("svc").when(principal().eq(uid("Service", "spiffe://a"))))
        .rule(R::allow("fallback").when(principal().eq(uid("User", "fallback"))));
    let engine = p.engine();
    let e = entities(&engine);
    let with = |context: serde_json::Value| {
        decide(
            &engine,
            &e,
            json!({"action": "read", "resource": "Account::\"a1\"", "context": context}),
        )
        .rules
    };
    assert_eq!(
        with(
            json!({"tls": {"mtls": true, "peer": "spiffe://a"}, "auth": {"method": "jwt", "subject": "alice"}})
        ),
        ["svc"]
    );
    assert_eq!(
        with(json!({"auth": {"method": "jwt", "subject": "alice"}})),
        ["alice"]
    );
    // mtls without a peer: the id fails, the next mapping is tried.
    assert_eq!(
        with(json!({"tls": {"mtls": true}, "auth": {"method": "oidc", "subject": "alice"}})),
        ["alice"]
    );
    // jwt without subject: the id fails; the unconditional fallback wins.
    assert_eq!(with(json!({"auth": {"method": "jwt"}})), ["fallback"]);
    // An explicit principal is never mapped.
    let explicit = json!({"principal": "User::\"fallback\"", "action": "read", "resource": "Account::\"a1\"", "context": {"auth": {"method": "jwt", "subject": "alice"}}});
    assert_eq!(decide(&engine, &e, explicit).rules, ["fallback"]);
}

#[test]
fn no_mapping_means_anonymous() {
    let mut p = standard();
    p.principal_mapping("User", ctx("auth.subject"), &[]);
    p.rule(
        R::allow("anon")
            .for_(&["Anonymous"])
            .when(principal().eq(uid("Anonymous", ""))),
    );
    let engine = p.engine();
    let d = decide(
        &engine,
        &entities(&engine),
        json!({"action": "read", "resource": "Account::\"a1\""}),
    );
    assert_eq!(d.rules, ["anon"]);
    assert!(
        d.errors.is_empty(),
        "mapping failures are not decision errors"
    );
}

#[test]
fn package_selects_itself_and_transitive_imports() {
    let mut p = standard();
    p.import("payments", &["std.base"]);
    p.import("std.base", &["std.core"]);
    p.package_id("other");
    p.rule(R::allow("main-allow"))
        .rule(R::allow("pay").package("payments"))
        .rule(R::allow("base").package("std.base"))
        .rule(R::allow("core").package("std.core"))
        .rule(R::allow("other").package("other"));
    let engine = p.engine();
    let e = entities(&engine);
    let with_package = |package: Option<&str>| {
        let mut r = req("read", json!({}));
        if let Some(p) = package {
            r["package"] = json!(p);
        }
        decide(&engine, &e, r).rules
    };
    assert_eq!(
        with_package(None),
        ["main-allow", "pay", "base", "core", "other"]
    );
    assert_eq!(with_package(Some("payments")), ["pay", "base", "core"]);
    assert_eq!(with_package(Some("std.core")), ["core"]);
    let d = decide(
        &engine,
        &e,
        json!({"package": "nope", "principal": "User::\"alice\"", "action": "read", "resource": "Account::\"a1\""}),
    );
    assert_eq!(d.errors[0].message, "package: unknown package `nope`");
}

#[test]
fn obligations_attach_to_allows_only() {
    let mut p = standard();
    p.rule(R::allow("a").when(ctx("tls.mtls")));
    p.obligation(
        O::new("mask", OK::Mask(vec!["card.pan".into(), "card.cvv".into()])).with(|r| {
            r.on(&["Account"])
                .unless(ctx("auth.scopes").has_scope(s("pci:read")))
        }),
    )
    .obligation(
        O::new("rate", OK::RateLimit(100, 60_000, principal())).with(|r| r.actions(&["read"])),
    )
    .obligation(O::new(
        "rate-dept",
        OK::RateLimit(5, 1_000, principal().dot("department")),
    ))
    .obligation(O::new(
        "req-h",
        OK::RequestHeader("x-user".into(), principal()),
    ))
    .obligation(O::new(
        "resp-h",
        OK::ResponseHeader("x-tls".into(), ctx("tls.version")),
    ))
    .obligation(O::new("rm", OK::RemoveHeader("authorization".into())))
    .obligation(
        O::new("write-only", OK::RemoveHeader("cookie".into())).with(|r| r.actions(&["write"])),
    )
    .obligation(O::new("svc-only", OK::RemoveHeader("x".into())).with(|r| r.for_(&["Service"])));
    let engine = p.engine();
    let e = entities(&engine);
    let d = decide(&engine, &e, req("read", mtls()));
    assert!(d.is_allow());
    assert_eq!(
        d.obligations,
        [
            ObligationOut::Mask {
                fields: vec!["card.pan".into(), "card.cvv".into()],
                rule: "mask".into()
            },
            ObligationOut::RateLimit {
                limit: 100,
                per_s: 60,
                key: "User::\"alice\"".into(),
                rule: "rate".into()
            },
            ObligationOut::RateLimit {
                limit: 5,
                per_s: 1,
                key: "eng".into(),
                rule: "rate-dept".into()
            },
            ObligationOut::RequestHeader {
                name: "x-user".into(),
                value: "alice".into(),
                rule: "req-h".into()
            },
            ObligationOut::ResponseHeader {
                name: "x-tls".into(),
                value: "tls1.3".into(),
                rule: "resp-h".into()
            },
            ObligationOut::RemoveHeader {
                name: "authorization".into(),
                rule: "rm".into()
            },
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
    assert_eq!(
        json["obligations"][1],
        json!({"kind": "rate_limit", "limit": 100, "per_s": 60, "key": "User::\"alice\"", "rule": "rate"})
    );
    // With the pci scope the mask's unless holds.
    let scoped = decide(
        &engine,
        &e,
        req(
            "read",
            json!({"tls": {"mtls": true, "version": "1.3"}, "auth": {"scopes": ["pci:read"]}}),
        ),
    );
    assert!(!scoped
        .obligations
        .iter()
        .any(|o| matches!(o, ObligationOut::Mask { .. })));
    // A deny carries no obligations.
    assert!(decide(&engine, &e, req("read", json!({})))
        .obligations
        .is_empty());
}

#[test]
fn an_obligation_error_turns_allow_into_deny() {
    let mut p = standard();
    p.rule(R::allow("a").reason("ok").control("c"));
    p.obligation(O::new(
        "hdr",
        OK::RequestHeader("x-nick".into(), principal().dot("nick")),
    ));
    let engine = p.engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert_eq!(
        d,
        Decision {
            decision: Effect::Deny,
            rules: vec![],
            reasons: vec![],
            errors: vec![err(
                "hdr",
                "entity `User::\"alice\"` has no attribute `nick`"
            )],
            obligations: vec![],
            controls: vec![],
        }
    );
    // Errors in conditions, and values that are not single values, too.
    let mut p = standard();
    p.rule(R::allow("a"));
    p.obligation(
        O::new("cond", OK::RemoveHeader("x".into()))
            .with(|r| r.when(ctx("auth.subject").eq(s("x")))),
    );
    let engine = p.engine();
    assert!(!decide(&engine, &entities(&engine), req("read", json!({}))).is_allow());
    let mut p = standard();
    p.rule(R::allow("a"));
    p.obligation(O::new(
        "set",
        OK::ResponseHeader("x-roles".into(), principal().dot("roles")),
    ));
    let engine = p.engine();
    let d = decide(&engine, &entities(&engine), req("read", json!({})));
    assert_eq!(
        d.errors,
        [err(
            "set",
            "a header value must be a single value, found set"
        )]
    );
}

#[test]
fn the_index_selects_by_action_and_resource_type() {
    let mut p = standard();
    p.rule(
        R::allow("acct")
            .actions(&["read", "write"])
            .on(&["Account"]),
    )
    .rule(R::allow("group").on(&["Group"]))
    .rule(R::deny("admin").actions(&["admin"]));
    let engine = p.engine();
    let e = entities(&engine);
    assert_eq!(decide(&engine, &e, req("write", json!({}))).rules, ["acct"]);
    assert_eq!(
        decide(&engine, &e, req("admin", json!({}))).rules,
        ["admin"]
    );
    let group =
        json!({"principal": "User::\"alice\"", "action": "admin", "resource": "Group::\"staff\""});
    assert_eq!(decide(&engine, &e, group).rules, ["admin"]);
    let group =
        json!({"principal": "User::\"alice\"", "action": "read", "resource": "Group::\"staff\""});
    assert_eq!(decide(&engine, &e, group).rules, ["group"]);
}

#[test]
fn the_engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<rampart_engine::Engine>();
    assert_send_sync::<rampart_engine::EntityStore>();
    assert_send_sync::<rampart_engine::Request>();
    let mut p = standard();
    p.rule(R::allow("a"));
    let engine = std::sync::Arc::new(p.engine());
    let store = std::sync::Arc::new(entities(&engine));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (engine, store) = (engine.clone(), store.clone());
            std::thread::spawn(move || decide(&engine, &store, req("read", json!({}))).is_allow())
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

/// Rules that repeat a condition evaluate it once per decision (equal expressions compile
/// to one node and its truth is kept); with more repeated conditions than the decision
/// keeps at once, every rule still gets its own condition's truth.
#[test]
fn repeated_conditions_keep_their_own_truth() {
    let mut p = standard();
    p.context_field("n", Ty::Int, true);
    for i in 0..40 {
        for copy in ["a", "b"] {
            p.rule(R::allow(&format!("{copy}{i}")).when(ctx("n").ge(int(i))));
        }
        p.rule(R::deny(&format!("d{i}")).when(ctx("n").eq(int(100 + i))));
    }
    let engine = p.engine();
    let e = entities(&engine);
    for n in [0, 7, 16, 17, 39, 50] {
        let d = decide(&engine, &e, req("read", json!({ "n": n })));
        let expected: Vec<String> = (0..40)
            .filter(|i| *i <= n)
            .flat_map(|i| [format!("a{i}"), format!("b{i}")])
            .collect();
        assert_eq!(d.rules, expected, "n = {n}");
    }
    let d = decide(&engine, &e, req("read", json!({ "n": 117 })));
    assert_eq!(
        (d.decision, d.rules),
        (Effect::Deny, vec!["d17".to_string()])
    );
    // Failing is not kept: each copy reports its own error.
    let d = decide(&engine, &e, req("read", json!({})));
    assert_eq!(d.decision, Effect::Deny);
    let failed: Vec<_> = d.errors.iter().filter_map(|e| e.rule.as_deref()).collect();
    assert!(failed.starts_with(&["a0", "b0"]), "{:?}", d.errors);
}
