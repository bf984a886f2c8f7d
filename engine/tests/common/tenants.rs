//! A synthetic multi-tenant policy set, built directly as a bundle, in the shape of the
//! benchmark's `multi-tenant` workload: ten actions on one resource type `Doc`, per action
//! one rule per tenant (`principal in Group::"tenant-k"`, the resource's tenant is the
//! principal's, the document of a kind) and one unkeyed deny (locked documents); ten users
//! and twenty documents per tenant; requests with 80% of traffic on three actions and 30%
//! of them on another tenant's document. It fights an index by action × resource type ×
//! principal type: every request of an action has the same ~100 candidates there.

use rampart_engine::bundle::{Bundle, Ty};
use rampart_engine::{Engine, Request};

use super::gateway::{Rng, Workload};
use super::{principal, resource, s, uid, Builder, R};

const ACTIONS: usize = 10;
const KINDS: [&str; 3] = ["invoice", "report", "contract"];

/// About `rules` rules: `rules / 10` per action, as many tenants.
pub fn bundle(rules: usize) -> Bundle {
    let tenants = tenants(rules);
    let mut b = Builder::new();
    b.entity_type("Group", &[]);
    b.entity_type("User", &[("tenant", Ty::String, false)]);
    b.entity_type(
        "Doc",
        &[
            ("tenant", Ty::String, false),
            ("kind", Ty::String, false),
            ("locked", Ty::Bool, false),
        ],
    );
    b.parents("User", &["Group"]);
    for a in 0..ACTIONS {
        b.action(&format!("doc:a{a}"));
    }
    for a in 0..ACTIONS {
        let action = format!("doc:a{a}");
        b.rule(
            R::deny(&format!("a{a}-locked"))
                .actions(&[&action])
                .on(&["Doc"])
                .when(resource().dot("locked")),
        );
        for t in 0..tenants {
            b.rule(
                R::allow(&format!("t{t}-a{a}"))
                    .actions(&[&action])
                    .on(&["Doc"])
                    .for_(&["User"])
                    .when(principal().is_in(uid("Group", &format!("tenant-{t}"))))
                    .when(resource().dot("tenant").eq(principal().dot("tenant")))
                    .when(resource().dot("kind").eq(s(KINDS[(t + a) % KINDS.len()]))),
            );
        }
    }
    b.build()
}

/// The same rules with the tenant equality first: `resource.tenant == principal.tenant`
/// may fail, so the index keys none of them (the unkeyed baseline: ~100 candidates).
pub fn bundle_unkeyed(rules: usize) -> Bundle {
    let mut bundle = bundle(rules);
    for rule in &mut bundle.rules {
        if rule.when.conjuncts.len() == 3 {
            rule.when.conjuncts.swap(0, 1);
        }
    }
    bundle
}

fn tenants(rules: usize) -> usize {
    (rules / ACTIONS).saturating_sub(1).max(1)
}

pub fn entities_json(rules: usize) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for t in 0..tenants(rules) {
        for u in 0..10 {
            out.push(serde_json::json!({
                "uid": format!("User::\"t{t}-u{u}\""),
                "attrs": {"tenant": format!("{t}")},
                "parents": [format!("Group::\"tenant-{t}\"")],
            }));
        }
        for d in 0..20 {
            out.push(serde_json::json!({
                "uid": format!("Doc::\"t{t}-d{d}\""),
                "attrs": {"tenant": format!("{t}"), "kind": KINDS[d % KINDS.len()],
                    "locked": d % 17 == 16},
            }));
        }
    }
    out
}

pub fn requests_json(rules: usize, count: usize, seed: u64) -> Vec<serde_json::Value> {
    let tenants = tenants(rules);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let action = if rng.chance(80) {
                rng.below(3)
            } else {
                rng.below(ACTIONS)
            };
            let t = rng.below(tenants);
            let owner = if rng.chance(70) {
                t
            } else {
                rng.below(tenants)
            };
            serde_json::json!({
                "action": format!("doc:a{action}"),
                "principal": format!("User::\"t{t}-u{}\"", rng.below(10)),
                "resource": format!("Doc::\"t{owner}-d{}\"", rng.below(20)),
            })
        })
        .collect()
}

pub fn workload(rules: usize, requests: usize, seed: u64) -> Workload {
    let engine = Engine::new(bundle(rules)).expect("the multi-tenant bundle loads");
    let entities = engine
        .entities_from_values(&entities_json(rules))
        .expect("the multi-tenant entities load");
    let requests: Vec<Request> = requests_json(rules, requests, seed)
        .iter()
        .map(|json| engine.request_from_value(json).expect("a valid request"))
        .collect();
    Workload {
        engine,
        entities,
        requests,
    }
}
