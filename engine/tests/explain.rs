//! Explanations: one entry per selected rule and obligation, saying which conjunct decided.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::{RuleTrace, TlsVersion, TraceKind, TraceOutcome};
use serde_json::json;

fn trace(id: &str, kind: TraceKind, outcome: TraceOutcome, detail: &str) -> RuleTrace {
    RuleTrace {
        id: id.into(),
        kind,
        outcome,
        detail: detail.into(),
    }
}

#[test]
fn every_selected_rule_is_explained() {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    );
    p.principal_mapping("User", ctx("auth.subject"), &[]);
    p.rule(R::require(
        "tls-min",
        ctx("tls.version").ge(tls(TlsVersion::Tls12)),
    ))
    .rule(
        R::allow("pay")
            .when(ctx("auth.scopes").has_scope(s("read")))
            .when(ctx("tls.mtls")),
    )
    .rule(R::allow("mfa").unless(principal().dot("mfa").eq(b(true))))
    .rule(R::deny("ghost").when(uid("User", "ghost").dot("mfa")))
    .rule(R::allow("open").when(b(true)).unless(b(false)))
    .rule(R::allow("svc").for_(&["Service"]))
    .rule(R::allow("writes").actions(&["write"]));
    p.obligation(O::new("mask", OK::Mask(vec!["x".into()])));
    let engine = p.engine();
    let entities = entities(&engine);
    let request = engine
        .request_from_value(&json!({"http": {"method": "GET", "path": "/v1/accounts/a1"},
            "context": {"auth": {"subject": "alice", "scopes": ["read"]}, "tls": {"version": "1.3"}}}))
        .unwrap();
    let (decision, explanation) = engine.explain(&request, &entities);
    assert_eq!(
        decision,
        engine.decide(&request, &entities),
        "explain decides like decide"
    );
    assert_eq!(decision.rules, ["ghost"]);
    assert_eq!(explanation.principal, "User::\"alice\"");
    assert_eq!(explanation.action, "read");
    assert_eq!(explanation.resource, "Account::\"a1\"");
    assert_eq!(explanation.route.as_deref(), Some("GET /v1/accounts/{id}"));
    assert_eq!(
        explanation.rules,
        [
            trace("tls-min", TraceKind::Require, TraceOutcome::NotApplied, "require: `context.tls.version >= tls1.2` held"),
            trace("pay", TraceKind::Allow, TraceOutcome::NotApplied, "when: `context.tls.mtls` was false"),
            trace("mfa", TraceKind::Allow, TraceOutcome::NotApplied, "unless: `principal.mfa == true` held"),
            trace(
                "ghost",
                TraceKind::Deny,
                TraceOutcome::Error,
                "when: `User::\"ghost\".mfa`: entity `User::\"ghost\"` does not exist; the rule applies (fail closed)"
            ),
            trace("open", TraceKind::Allow, TraceOutcome::Applied, "when: all conditions held; unless: `false` was false"),
            trace("svc", TraceKind::Allow, TraceOutcome::NotApplied, "principal type `User` is not in scope"),
            trace("mask", TraceKind::Obligation, TraceOutcome::NotApplied, "not evaluated: obligations attach to allow decisions only"),
        ]
    );
    let json: serde_json::Value = serde_json::to_value(&explanation).unwrap();
    assert_eq!(
        json["rules"][0],
        json!({"id": "tls-min", "kind": "require", "outcome": "not_applied", "detail": "require: `context.tls.version >= tls1.2` held"})
    );
    assert_eq!(json["route"], "GET /v1/accounts/{id}");
}

#[test]
fn explains_requires_that_apply_and_anonymous_scopes() {
    let mut p = standard();
    p.rule(R::require(
        "tls-min",
        ctx("tls.version").ge(tls(TlsVersion::Tls12)),
    ))
    .rule(R::allow("any"));
    p.obligation(O::new(
        "hdr",
        OK::RequestHeader("x".into(), principal().dot("nick")),
    ));
    let engine = p.engine();
    let e = entities(&engine);
    let request = engine.request_from_value(&json!({"action": "read", "resource": "Account::\"a1\"", "context": {"tls": {"version": "1.0"}}})).unwrap();
    let (_, explanation) = engine.explain(&request, &e);
    assert_eq!(explanation.principal, "Anonymous::\"\"");
    assert_eq!(explanation.route, None);
    assert_eq!(
        explanation.rules[0].detail,
        "require: `context.tls.version >= tls1.2` was false"
    );
    assert_eq!(explanation.rules[0].outcome, TraceOutcome::Applied);
    assert_eq!(
        explanation.rules[1].detail,
        "principal type `Anonymous` is not in scope: an allow covers it only with `for Anonymous`"
    );

    // An obligation whose value fails turns the allow into a deny, and says so.
    let request = engine
        .request_from_value(&req("read", json!({"tls": {"version": "1.3"}})))
        .unwrap();
    let (decision, explanation) = engine.explain(&request, &e);
    assert!(!decision.is_allow());
    assert_eq!(
        explanation.rules.last().unwrap(),
        &trace("hdr", TraceKind::Obligation, TraceOutcome::Error, "value: entity `User::\"alice\"` has no attribute `nick`; the decision is deny (fail closed)")
    );
}
