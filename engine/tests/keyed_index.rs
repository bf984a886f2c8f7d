//! The second level of the rule index (rules filed under `principal in G`,
//! `principal == U`, `PATH == constant`) skips only rules that could not apply, fail or
//! change anything: on generated rule sets mixing those conjuncts with `or`, `not`,
//! conjuncts that fail on missing attributes or mismatched types, `unless` and `require`,
//! `decide`, `decide_into` and `decide_effect` agree exactly (effect, deciding rules,
//! obligations, errors) with the decision `explain` builds from the unindexed walk of every
//! rule of the action and resource type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use proptest::prelude::*;
use rampart_engine::bundle::{HeadOp, Ty};
use rampart_engine::{Effect, Engine, EntityStore, Request};

/// One conjunct shape, with a small parameter.
#[derive(Clone, Debug)]
enum C {
    InGroup(usize),
    IsUser(usize),
    KindIs(usize),
    KindIsInt(i64),
    PlanIs(usize),
    TierIs(usize),
    /// `principal.active`, a bare path: a boolean, an int, or missing.
    Active,
    /// `resource.kind`, a bare path: `true`, an int, a string, or missing.
    KindFlag,
    SameTenant,
    ResourceHasKind,
    ContextHasTier,
    True,
    Or(Box<C>, Box<C>),
    Not(Box<C>),
    And(Box<C>, Box<C>),
}

fn conjunct() -> impl Strategy<Value = C> {
    let leaf = prop_oneof![
        4 => (0..4usize).prop_map(C::InGroup),
        2 => (0..6usize).prop_map(C::IsUser),
        3 => (0..3usize).prop_map(C::KindIs),
        1 => (0..2i64).prop_map(C::KindIsInt),
        2 => (0..2usize).prop_map(C::PlanIs),
        1 => (0..2usize).prop_map(C::TierIs),
        2 => Just(C::Active),
        1 => Just(C::KindFlag),
        2 => Just(C::SameTenant),
        1 => Just(C::ResourceHasKind),
        1 => Just(C::ContextHasTier),
        1 => Just(C::True),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| C::Not(Box::new(a))),
            (inner.clone(), inner).prop_map(|(a, b)| C::And(Box::new(a), Box::new(b))),
        ]
    })
}

fn expr(c: &C) -> E {
    match c {
        C::InGroup(g) => principal().is_in(uid("Group", &format!("g{g}"))),
        C::IsUser(u) => principal().eq(uid("User", &format!("u{u}"))),
        C::KindIs(k) => resource().dot("kind").eq(s(&format!("k{k}"))),
        C::KindIsInt(n) => resource().dot("kind").eq(int(*n)),
        C::PlanIs(p) => principal().dot("plan").eq(s(&format!("p{p}"))),
        C::TierIs(t) => context().dot("tier").eq(s(&format!("t{t}"))),
        C::Active => principal().dot("active"),
        C::KindFlag => resource().dot("kind"),
        C::SameTenant => resource().dot("tenant").eq(principal().dot("tenant")),
        C::ResourceHasKind => resource().has("kind"),
        C::ContextHasTier => context().has("tier"),
        C::True => b(true),
        C::Or(a, b) => expr(a).or(expr(b)),
        C::Not(a) => expr(a).not(),
        C::And(a, b) => expr(a).and(expr(b)),
    }
}

/// A rule: kind (0 allow, 1 deny, 2 require), any action?, `when`, `unless`, for `User`?,
/// a scope head (0 `for … in Group::"gN"`, 1 `for User::"uN"`, 2 `for User::"uN",
/// User::"uN+1"`, 3 `on Doc::"dN"`, 4 `on Doc in Doc::"dN"`; both for a principal head
/// and a resource head).
type Rule = (u8, bool, Vec<C>, Option<C>, bool, Option<(u8, usize)>);

fn rule() -> impl Strategy<Value = Rule> {
    (
        0..3u8,
        prop::bool::weighted(0.2),
        prop::collection::vec(conjunct(), 0..4),
        prop::option::weighted(0.15, conjunct()),
        any::<bool>(),
        prop::option::weighted(0.4, (0..6u8, 0..5usize)),
    )
}

/// Adds a generated scope head to a rule.
fn with_head(r: R, (kind, n): (u8, usize)) -> R {
    let (g, u, u2, d) = (
        format!("g{n}"),
        format!("u{n}"),
        format!("u{}", n + 1),
        format!("d{n}"),
    );
    match kind {
        0 => r.principal_head(HeadOp::In, &[("Group", &g)]),
        1 => r.principal_head(HeadOp::Eq, &[("User", &u)]),
        2 => r.principal_head(HeadOp::Eq, &[("User", &u), ("User", &u2)]),
        3 => r.resource_head(HeadOp::Eq, &[("Doc", &d)]),
        4 => r.resource_head(HeadOp::In, &[("Doc", &d)]),
        _ => r
            .principal_head(HeadOp::In, &[("Group", &g)])
            .resource_head(HeadOp::Eq, &[("Doc", &d)]),
    }
}

fn engine(rules: &[Rule]) -> Engine {
    let mut b = Builder::new();
    b.entity_type("Group", &[]);
    b.entity_type(
        "User",
        &[
            ("tenant", Ty::String, true),
            ("plan", Ty::Any, true),
            ("active", Ty::Any, true),
        ],
    );
    b.entity_type(
        "Doc",
        &[("tenant", Ty::String, true), ("kind", Ty::Any, true)],
    );
    b.parents("User", &["Group"]);
    b.parents("Group", &["Group"]);
    b.context_field("tier", Ty::String, true);
    b.action("read");
    b.action("write");
    for (i, (kind, any_action, when, unless, for_user, head)) in rules.iter().enumerate() {
        let id = format!("r{i}");
        let mut r = match kind {
            0 => R::allow(&id),
            1 => R::deny(&id),
            _ => R::require(&id, principal().dot("plan").eq(s("p0"))),
        };
        if !any_action {
            r = r.actions(&["read"]);
        }
        r = r.on(&["Doc"]);
        if *for_user {
            r = r.for_(&["User"]);
        }
        for c in when {
            r = r.when(expr(c));
        }
        if let Some(c) = unless {
            r = r.unless(expr(c));
        }
        if let Some(head) = head {
            r = with_head(r, *head);
        }
        b.rule(r);
    }
    b.obligation(
        O::new("o0", OK::RemoveHeader("x-debug".into()))
            .with(|r| r.when(principal().dot("plan").eq(s("p1")))),
    );
    b.engine()
}

/// Groups g0 > g1 > g2, g3 alone; users with random groups, tenants and plans (sometimes
/// missing, sometimes an int); docs with random kinds (string, int, missing) and tenants.
fn entities(engine: &Engine, seed: &[u8]) -> EntityStore {
    let pick = |i: usize| seed.get(i).copied().unwrap_or(0) as usize;
    let mut items = vec![
        serde_json::json!({"uid": "Group::\"g1\"", "parents": ["Group::\"g0\""]}),
        serde_json::json!({"uid": "Group::\"g2\"", "parents": ["Group::\"g1\""]}),
        serde_json::json!({"uid": "Group::\"g3\""}),
    ];
    for u in 0..6 {
        let mut attrs = serde_json::Map::new();
        match pick(u) % 3 {
            0 => {}
            t => {
                attrs.insert("tenant".into(), format!("t{t}").into());
            }
        }
        match pick(u + 6) % 4 {
            0 => {}
            1 => {
                attrs.insert("plan".into(), 7.into());
            }
            p => {
                attrs.insert("plan".into(), format!("p{}", p - 2).into());
            }
        }
        match pick(u + 24) % 4 {
            0 => {}
            1 => {
                attrs.insert("active".into(), 1.into());
            }
            a => {
                attrs.insert("active".into(), (a == 2).into());
            }
        }
        let parents: Vec<String> = (0..4)
            .filter(|g| (pick(u + 12) >> g) & 1 == 1)
            .map(|g| format!("Group::\"g{g}\""))
            .collect();
        items.push(serde_json::json!({
            "uid": format!("User::\"u{u}\""), "attrs": attrs, "parents": parents,
        }));
    }
    for d in 0..5 {
        let mut attrs = serde_json::Map::new();
        match pick(d + 18) % 3 {
            0 => {}
            t => {
                attrs.insert("tenant".into(), format!("t{t}").into());
            }
        }
        match pick(d + 23) % 6 {
            0 => {}
            1 => {
                attrs.insert("kind".into(), 0.into());
            }
            2 => {
                attrs.insert("kind".into(), true.into());
            }
            k => {
                attrs.insert("kind".into(), format!("k{}", k - 3).into());
            }
        }
        items.push(serde_json::json!({"uid": format!("Doc::\"d{d}\""), "attrs": attrs}));
    }
    engine.entities_from_values(&items).unwrap()
}

fn request(engine: &Engine, (action, user, doc, tier): (usize, usize, usize, usize)) -> Request {
    let action = ["read", "write"][action];
    let mut json = serde_json::json!({
        "action": action,
        // u6 and d5 are not in the data.
        "principal": format!("User::\"u{user}\""),
        "resource": format!("Doc::\"d{doc}\""),
    });
    if tier < 2 {
        json["context"] = serde_json::json!({"tier": format!("t{tier}")});
    }
    engine.request_from_value(&json).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_keyed_index_decides_like_the_full_walk(
        rules in prop::collection::vec(rule(), 0..40),
        seed in prop::collection::vec(any::<u8>(), 30),
        requests in prop::collection::vec((0..2usize, 0..7usize, 0..6usize, 0..3usize), 1..10),
    ) {
        let engine = engine(&rules);
        let entities = entities(&engine, &seed);
        let mut buffer = engine.decision_buffer();
        for r in requests {
            let request = request(&engine, r);
            let (unindexed, _) = engine.explain(&request, &entities);
            let decision = engine.decide(&request, &entities);
            prop_assert_eq!(&decision, &unindexed);
            let view = engine.decide_into(&request, &entities, &mut buffer);
            prop_assert_eq!(&view.to_decision(), &unindexed);
            prop_assert_eq!(engine.decide_effect(&request, &entities), unindexed.decision);
        }
    }
}

/// The multi-tenant shape: 100 tenants' rules on one action; a request evaluates its
/// tenant's rules and the unkeyed ones, not all of them, and decides as the full walk.
#[test]
fn a_tenant_request_evaluates_its_tenant_rules_only() {
    let mut b = Builder::new();
    b.entity_type("Group", &[]);
    b.entity_type("User", &[("tenant", Ty::String, false)]);
    b.entity_type(
        "Doc",
        &[("tenant", Ty::String, false), ("kind", Ty::String, false)],
    );
    b.parents("User", &["Group"]);
    b.action("read");
    for t in 0..100 {
        for (k, kind) in ["invoice", "report"].iter().enumerate() {
            b.rule(
                R::allow(&format!("t{t}-r{k}"))
                    .actions(&["read"])
                    .on(&["Doc"])
                    .for_(&["User"])
                    .when(principal().is_in(uid("Group", &format!("tenant-{t}"))))
                    .when(resource().dot("tenant").eq(principal().dot("tenant")))
                    .when(resource().dot("kind").eq(s(kind))),
            );
        }
    }
    // Unkeyed: always a candidate.
    b.rule(
        R::deny("blocked")
            .actions(&["read"])
            .when(principal().dot("tenant").eq(resource().dot("tenant")).not()),
    );
    let engine = b.engine();
    let entities = engine
        .entities_from_values(&[
            serde_json::json!({"uid": "User::\"alice\"", "attrs": {"tenant": "17"},
                "parents": ["Group::\"tenant-17\""]}),
            serde_json::json!({"uid": "Doc::\"inv\"", "attrs": {"tenant": "17", "kind": "invoice"}}),
            serde_json::json!({"uid": "Doc::\"other\"", "attrs": {"tenant": "18", "kind": "invoice"}}),
        ])
        .unwrap();
    let request = |doc: &str| {
        engine
            .request_from_value(&serde_json::json!({
                "action": "read", "principal": "User::\"alice\"",
                "resource": format!("Doc::\"{doc}\""),
            }))
            .unwrap()
    };
    let (inv, other) = (request("inv"), request("other"));
    assert_eq!(engine.candidate_count(&inv, &entities), 3);
    let decision = engine.decide(&inv, &entities);
    assert_eq!(decision.decision, Effect::Allow);
    assert_eq!(decision.rules, ["t17-r0"]);
    assert_eq!(decision, engine.explain(&inv, &entities).0);
    let decision = engine.decide(&other, &entities);
    assert_eq!(decision.rules, ["blocked"]);
    assert_eq!(decision, engine.explain(&other, &entities).0);
    // The explanation still lists every rule of the action and resource type.
    assert_eq!(engine.explain(&inv, &entities).1.rules.len(), 201);
}

/// A boolean path read as a condition (`principal.blocked`, `not context.mtls`) files its
/// rule like `PATH == true` (or `false`): a request with the other boolean skips it, a
/// request where the path is missing or not a boolean keeps it (and its error).
#[test]
fn boolean_paths_are_keys() {
    let mut b = Builder::new();
    b.entity_type("User", &[("blocked", Ty::Any, true)]);
    b.entity_type("Doc", &[]);
    b.context_field("mtls", Ty::Bool, true);
    b.action("read");
    b.rule(R::allow("open").actions(&["read"]).on(&["Doc"]));
    for i in 0..20 {
        b.rule(
            R::deny(&format!("blocked{i}"))
                .actions(&["read"])
                .when(principal().dot("blocked")),
        );
        b.rule(
            R::deny(&format!("plain{i}"))
                .actions(&["read"])
                .when(context().dot("mtls").not()),
        );
    }
    let engine = b.engine();
    let entities = engine
        .entities_from_values(&[
            serde_json::json!({"uid": "User::\"ok\"", "attrs": {"blocked": false}}),
            serde_json::json!({"uid": "User::\"bad\"", "attrs": {"blocked": true}}),
            serde_json::json!({"uid": "User::\"odd\"", "attrs": {"blocked": 1}}),
            serde_json::json!({"uid": "User::\"new\""}),
            serde_json::json!({"uid": "Doc::\"d\""}),
        ])
        .unwrap();
    let request = |user: &str, mtls: Option<bool>| {
        let mut json = serde_json::json!({
            "action": "read", "principal": format!("User::\"{user}\""),
            "resource": "Doc::\"d\"",
        });
        if let Some(mtls) = mtls {
            json["context"] = serde_json::json!({ "mtls": mtls });
        }
        engine.request_from_value(&json).unwrap()
    };
    let cases = [
        ("ok", Some(true), 1, Effect::Allow),
        ("bad", Some(true), 21, Effect::Deny),
        ("ok", Some(false), 21, Effect::Deny),
        ("odd", Some(true), 21, Effect::Deny),
        ("new", Some(true), 21, Effect::Deny),
        ("ok", None, 21, Effect::Deny),
    ];
    for (user, mtls, candidates, effect) in cases {
        let request = request(user, mtls);
        assert_eq!(
            engine.candidate_count(&request, &entities),
            candidates,
            "{user} {mtls:?}"
        );
        let decision = engine.decide(&request, &entities);
        assert_eq!(decision.decision, effect, "{user} {mtls:?}");
        assert_eq!(decision, engine.explain(&request, &entities).0);
    }
}

/// Scope heads are index keys: 10,000 rules for 10,000 groups, a user in 3 of them (one
/// through another), gets the 3 rules of its groups as candidates, found by lookup, plus
/// the rules without a head; a user in none gets only those.
#[test]
fn group_heads_select_only_the_groups_of_the_principal() {
    let mut b = Builder::new();
    b.entity_type("Group", &[]);
    b.entity_type("User", &[]);
    b.entity_type("Doc", &[]);
    b.parents("User", &["Group"]);
    b.parents("Group", &["Group"]);
    b.action("read");
    for g in 0..10_000 {
        b.rule(
            R::allow(&format!("g{g}"))
                .actions(&["read"])
                .for_(&["User"])
                .principal_head(HeadOp::In, &[("Group", &format!("g{g}"))]),
        );
    }
    b.rule(R::deny("unkeyed").actions(&["read"]).when(common::b(false)));
    let engine = b.engine();
    let entities = engine
        .entities_from_values(&[
            serde_json::json!({"uid": "Group::\"g7\"", "parents": ["Group::\"g9000\""]}),
            serde_json::json!({"uid": "User::\"alice\"",
                "parents": ["Group::\"g7\"", "Group::\"g42\""]}),
            serde_json::json!({"uid": "User::\"bob\""}),
        ])
        .unwrap();
    let request = |user: &str| {
        engine
            .request_from_value(&serde_json::json!({
                "action": "read", "principal": format!("User::\"{user}\""),
                "resource": "Doc::\"d\"",
            }))
            .unwrap()
    };
    let alice = request("alice");
    assert_eq!(engine.candidate_count(&alice, &entities), 4);
    let decision = engine.decide(&alice, &entities);
    assert_eq!(decision.decision, Effect::Allow);
    assert_eq!(decision.rules, ["g7", "g42", "g9000"]);
    assert_eq!(decision, engine.explain(&alice, &entities).0);
    // Not in the data, or in no group: only `==` could match, and nothing does.
    for user in ["bob", "carol"] {
        let request = request(user);
        assert_eq!(engine.candidate_count(&request, &entities), 1, "{user}");
        assert_eq!(engine.decide(&request, &entities).decision, Effect::Deny);
    }
    // The explanation says why a rule of another group did not apply.
    let (_, explanation) = engine.explain(&alice, &entities);
    let g8 = explanation.rules.iter().find(|r| r.id == "g8").unwrap();
    assert_eq!(
        g8.detail,
        "principal `User::\"alice\"` is not in `Group::\"g8\"`: outside the rule's scope"
    );
}

/// Resource heads are keys too: `on Doc::"dN"` and `on Doc in Folder::"fN"`, the resource's
/// folders looked up; `==` never matches a descendant.
#[test]
fn resource_heads_select_by_the_resource_and_its_ancestors() {
    let mut b = Builder::new();
    b.entity_type("Folder", &[]);
    b.entity_type("Doc", &[]);
    b.entity_type("User", &[]);
    b.parents("Doc", &["Folder"]);
    b.parents("Folder", &["Folder"]);
    b.action("read");
    for n in 0..500 {
        b.rule(
            R::allow(&format!("in-f{n}"))
                .actions(&["read"])
                .on(&["Doc", "Folder"])
                .resource_head(HeadOp::In, &[("Folder", &format!("f{n}"))]),
        );
        b.rule(
            R::deny(&format!("is-f{n}"))
                .actions(&["read"])
                .resource_head(HeadOp::Eq, &[("Folder", &format!("f{n}"))]),
        );
        b.rule(
            R::allow(&format!("is-d{n}"))
                .actions(&["read"])
                .resource_head(HeadOp::Eq, &[("Doc", &format!("d{n}"))]),
        );
    }
    let engine = b.engine();
    let entities = engine
        .entities_from_values(&[
            serde_json::json!({"uid": "Folder::\"f1\"", "parents": ["Folder::\"f0\""]}),
            serde_json::json!({"uid": "Doc::\"d3\"", "parents": ["Folder::\"f1\""]}),
        ])
        .unwrap();
    let request = |resource: &str| {
        engine
            .request_from_value(&serde_json::json!({
                "action": "read", "principal": "User::\"u\"", "resource": resource,
            }))
            .unwrap()
    };
    let doc = request("Doc::\"d3\"");
    assert_eq!(engine.candidate_count(&doc, &entities), 3);
    let decision = engine.decide(&doc, &entities);
    assert_eq!(decision.decision, Effect::Allow);
    assert_eq!(decision.rules, ["in-f0", "in-f1", "is-d3"]);
    assert_eq!(decision, engine.explain(&doc, &entities).0);
    let folder = request("Folder::\"f1\"");
    let decision = engine.decide(&folder, &entities);
    assert_eq!(decision.decision, Effect::Deny);
    assert_eq!(decision.rules, ["is-f1"]);
    assert_eq!(decision, engine.explain(&folder, &entities).0);
    // A resource missing from the data has no ancestors: only `==` can match.
    let missing = request("Doc::\"d9\"");
    assert_eq!(engine.candidate_count(&missing, &entities), 1);
    assert_eq!(engine.decide(&missing, &entities).rules, ["is-d9"]);
}
