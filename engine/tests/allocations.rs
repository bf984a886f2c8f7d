//! Deciding allocates nothing: `Engine::decide_into` (with a reused buffer) and
//! `Engine::decide_effect` make no heap allocation on the allow and deny paths, counted
//! exactly by a counting allocator (per thread, so tests running in parallel do not
//! interfere). Each workload is decided once first: the regex engine builds its per-thread
//! cache on first use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
// The counting allocator is the one `unsafe impl` of this test binary.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::gateway::{workload, Shape};
use common::*;
use rampart_engine::{Effect, Engine, EntityStore, Request, TlsVersion, Value};
use serde_json::json;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

/// Decides every request with both allocation-free APIs and checks, request by request,
/// that neither allocates and that both agree with `Engine::decide`. Returns the effects.
fn assert_no_allocations(
    engine: &Engine,
    entities: &EntityStore,
    requests: &[Request],
) -> Vec<Effect> {
    let mut buffer = engine.decision_buffer();
    for request in requests {
        engine.decide_into(request, entities, &mut buffer);
        engine.decide_effect(request, entities);
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let expected = engine.decide(request, entities);
            assert!(
                expected.errors.is_empty(),
                "request {i}: {:?}",
                expected.errors
            );
            let (effect, count) = allocations(|| engine.decide_effect(request, entities));
            assert_eq!(
                count, 0,
                "request {i}: decide_effect allocated ({expected:?})"
            );
            assert_eq!(effect, expected.decision, "request {i}");
            let ((effect, rules, obligations), count) = allocations(|| {
                let view = engine.decide_into(request, entities, &mut buffer);
                (
                    view.effect(),
                    view.rule_ids().count(),
                    view.obligation_count(),
                )
            });
            assert_eq!(
                count, 0,
                "request {i}: decide_into allocated ({expected:?})"
            );
            assert_eq!(
                (effect, rules, obligations),
                (
                    expected.decision,
                    expected.rules.len(),
                    expected.obligations.len()
                ),
                "request {i}"
            );
            let view = engine.decide_into(request, entities, &mut buffer);
            assert_eq!(view.to_decision(), expected, "request {i}");
            expected.decision
        })
        .collect()
}

#[test]
fn the_gateway_workload_decides_without_allocating() {
    let w = workload(&Shape::gateway(1_000), 7);
    let effects = assert_no_allocations(&w.engine, &w.entities, &w.requests);
    let allows = effects.iter().filter(|e| **e == Effect::Allow).count();
    // Both paths are exercised, in proportions like the benchmark's.
    assert!(allows > effects.len() / 4, "{allows} allows");
    assert!(allows < effects.len() * 3 / 4, "{allows} allows");
}

/// The second level of the index (a k-way merge of the always-list, the principal's
/// groups' lists and each path's list, on the stack) allocates nothing either.
#[test]
fn the_multi_tenant_workload_decides_without_allocating() {
    let w = common::tenants::workload(1_000, 500, 11);
    let effects = assert_no_allocations(&w.engine, &w.entities, &w.requests);
    let allows = effects.iter().filter(|e| **e == Effect::Allow).count();
    assert!(allows > 0 && allows < effects.len(), "{allows} allows");
    // The index hands each request its tenant's rule and the unkeyed deny, not ~100.
    let most = w
        .requests
        .iter()
        .map(|r| w.engine.candidate_count(r, &w.entities))
        .max();
    assert_eq!(most, Some(2));
}

/// A payments gateway in the shape of `examples/payments`: routes, principal mappings
/// (the first fails on requests without a peer), scopes, hierarchy, `like`, `matches`,
/// `has`, `now`, arithmetic on timestamps, map lookups and obligations with values.
fn payments() -> Engine {
    let mut p = standard();
    let class = p.enum_id("Class");
    p.route(
        Some("POST"),
        "/v1/accounts/{id}/payments",
        "write",
        ctor("Account", param(0)),
    );
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    );
    p.principal_mapping("Service", ctx("tls.peer"), &[ctx("tls.mtls")]);
    let jwt = Value::Enum(p.auth_method, 2);
    let oidc = Value::Enum(p.auth_method, 4);
    p.principal_mapping(
        "User",
        ctx("auth.subject"),
        &[ctx("auth.method").is_in(E::Lit(Value::set(vec![jwt, oidc])))],
    );
    let classified = E::Lit(Value::set(vec![
        Value::Enum(class, 3),
        Value::Enum(class, 4),
    ]));
    p.rule(R::require("tls-min", ctx("tls.version").ge(tls(TlsVersion::Tls12))).reason("tls"))
        .rule(
            R::allow("pay-write")
                .actions(&["write"])
                .on(&["Account"])
                .for_(&["User"])
                .when(ctx("auth.scopes").has_scope(s("payments:write")))
                .when(
                    resource()
                        .dot("owner")
                        .eq(principal())
                        .or(principal().is_in(uid("Group", "finance"))),
                )
                .when(ctx("tls.mtls"))
                .unless(principal().dot("mfa").eq(b(false)))
                .control("pci-dss-4.0/7.2.1"),
        )
        .rule(
            R::deny("pci-at-rest")
                .on(&["Account"])
                .when(resource().dot("classification").is_in(classified))
                .when(resource().dot("encrypted").not())
                .reason("classified data must be encrypted at rest"),
        )
        .rule(
            R::require(
                "short-tokens",
                ctx("auth.expires_at")
                    .sub(ctx("auth.issued_at"))
                    .le(dur("1h")),
            )
            .for_(&["Service"])
            .when(principal().dot("spiffe_id").like("spiffe://partners/*")),
        )
        .rule(
            R::allow("partner-read")
                .actions(&["read"])
                .on(&["Account"])
                .for_(&["Service"])
                .when(ctx("tls.mtls"))
                .when(principal().dot("spiffe_id").like("spiffe://partners/*"))
                .when(ctx("auth.scopes").has_scope(s("payments:read"))),
        )
        .rule(
            R::deny("token-expired")
                .when(ctx("auth").has("expires_at"))
                .when(context().has("time"))
                .when(ctx("auth.expires_at").le(now())),
        )
        .rule(
            R::deny("no-credentials-in-url").when(
                ctx("request")
                    .has("query")
                    .and(ctx("request.query").matches("(?i)(^|&)(access_token|password)=")),
            ),
        )
        .rule(
            R::deny("weak-cipher")
                .when(ctx("tls").has("cipher"))
                .when(ctx("tls.cipher").matches("(?i)(NULL|RC4|DES)")),
        )
        .rule(
            R::deny("foreign-tenant")
                .when(ctx("request.headers").has("x-tenant"))
                .when(ctx("request.headers").index("x-tenant").ne(s("acme"))),
        )
        .rule(
            R::deny("blocked-network")
                .when(ctx("source").has("ip"))
                .when(ctx("source.ip").is_in(ip("192.0.2.0/24"))),
        );
    p.obligation(
        O::new("mask-pan", OK::Mask(vec!["card.pan".into()])).with(|o| {
            o.on(&["Account"])
                .unless(ctx("auth.scopes").has_scope(s("pci:read")))
        }),
    )
    .obligation(
        O::new("write-rate", OK::RateLimit(100, 60_000, principal()))
            .with(|o| o.actions(&["write"])),
    )
    .obligation(
        O::new("caller", OK::RequestHeader("x-caller".into(), principal()))
            .with(|o| o.for_(&["User"])),
    );
    p.engine()
}

const SERVICES: &str = r#"[
  {"uid": {"type": "Service", "id": "spiffe://partners/ledger"}, "attrs": {"spiffe_id": "spiffe://partners/ledger"}}
]"#;

#[test]
fn the_payments_gateway_decides_without_allocating() {
    let engine = payments();
    let mut data: Vec<serde_json::Value> = serde_json::from_str(ENTITIES).unwrap();
    data.extend(serde_json::from_str::<Vec<serde_json::Value>>(SERVICES).unwrap());
    let entities = engine.entities_from_values(&data).unwrap();
    let write = |who: &str, account: &str, tls: &str, extra: serde_json::Value| {
        let mut context = json!({
            "auth": {"scopes": ["payments:write"]},
            "tls": {"version": tls, "mtls": true},
            "time": "2026-03-01T12:10:00Z",
        });
        if let (Some(context), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
            context.extend(extra.clone());
        }
        json!({"principal": who, "action": "write", "resource": account, "context": context})
    };
    let partner = |minutes: u32| {
        json!({
            "principal": "Service::\"spiffe://partners/ledger\"", "action": "read",
            "resource": "Account::\"a1\"",
            "context": {
                "auth": {"method": "oauth2", "scopes": ["payments:read"],
                    "issued_at": "2026-03-01T12:00:00Z",
                    "expires_at": format!("2026-03-01T{:02}:{:02}:00Z", 12 + minutes / 60, minutes % 60)},
                "tls": {"version": "1.3", "mtls": true},
                "time": "2026-03-01T12:10:00Z"
            }
        })
    };
    let http = |method: &str, path: &str, tenant: &str| {
        json!({
            "http": {"method": method, "path": path, "headers": {"X-Tenant": tenant}},
            "context": {
                "auth": {"method": "jwt", "subject": "alice", "scopes": ["payments:write", "payments:read"]},
                "tls": {"version": "TLSv1.3", "mtls": true},
                "source": {"ip": "203.0.113.7"}
            }
        })
    };
    let cases: Vec<(serde_json::Value, Effect)> = vec![
        (
            write("User::\"alice\"", "Account::\"a1\"", "1.3", json!({})),
            Effect::Allow,
        ),
        (
            write("User::\"alice\"", "Account::\"a1\"", "1.1", json!({})),
            Effect::Deny,
        ),
        (
            write("User::\"bob\"", "Account::\"a2\"", "1.3", json!({})),
            Effect::Deny,
        ),
        (
            write(
                "User::\"alice\"",
                "Account::\"a1\"",
                "1.3",
                json!({"source": {"ip": "192.0.2.9"}}),
            ),
            Effect::Deny,
        ),
        (
            http("POST", "/v1/accounts/a1/payments", "acme"),
            Effect::Allow,
        ),
        (
            http("POST", "/v1/accounts/a1/payments?access_token=x", "acme"),
            Effect::Deny,
        ),
        (
            http("POST", "/v1/accounts/a1/payments", "globex"),
            Effect::Deny,
        ),
        (partner(30), Effect::Allow),
        (partner(90), Effect::Deny),
    ];
    let requests: Vec<Request> = cases
        .iter()
        .map(|(json, _)| engine.request_from_value(json).unwrap())
        .collect();
    let effects = assert_no_allocations(&engine, &entities, &requests);
    let expected: Vec<Effect> = cases.iter().map(|(_, effect)| *effect).collect();
    assert_eq!(effects, expected);
    // The allow of the first request carries all three obligations, by index.
    let decision = engine.decide(&requests[0], &entities);
    assert_eq!(decision.obligations.len(), 3, "{decision:?}");
}

#[test]
fn decide_allocates_only_for_what_it_returns() {
    let engine = payments();
    let entities = entities(&engine);
    let request = |action: &str, account: &str| {
        let json = json!({"principal": "User::\"alice\"", "action": action,
            "resource": account, "context": {"auth": {"scopes": ["payments:write"]},
            "tls": {"version": "1.3", "mtls": true}}});
        engine.request_from_value(&json).unwrap()
    };
    // The owned `Decision` of a default deny (no rule, no error) is empty: no allocation.
    let nothing = request("admin", "Account::\"a1\"");
    engine.decide(&nothing, &entities);
    let (decision, count) = allocations(|| engine.decide(&nothing, &entities));
    assert_eq!(decision.decision, Effect::Deny);
    assert!(decision.rules.is_empty() && decision.errors.is_empty());
    assert_eq!(count, 0);
    // An allow owns its rule ids, controls and obligations: the counter sees them.
    let allowed = request("write", "Account::\"a1\"");
    let (decision, count) = allocations(|| engine.decide(&allowed, &entities));
    assert_eq!(decision.rules, ["pay-write"]);
    assert!(count > 0);
}

#[test]
fn an_engine_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    send_sync::<EntityStore>();
}
