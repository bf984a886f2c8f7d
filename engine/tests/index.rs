//! The rule index selects exactly the rules whose scope covers a request, in bundle order:
//! random scopes (named or any actions, resource types and principal types, `Anonymous`)
//! on unconditional rules, checked against a direct reading of the scopes for every door
//! (`decide`, `decide_into`, `decide_effect`, `explain`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use proptest::prelude::*;
use rampart_engine::bundle::RuleKind;
use rampart_engine::{Effect, Engine};

const TYPES: [&str; 4] = ["T1", "T2", "T3", "T4"];
const ACTIONS: [&str; 4] = ["a0", "a1", "a2", "a3"];

/// A rule: deny?, actions, resource types, principal types (0 = `Anonymous`).
type Scope = (
    bool,
    Option<Vec<usize>>,
    Option<Vec<usize>>,
    Option<Vec<usize>>,
);

fn subset(max: usize, from: usize) -> impl Strategy<Value = Option<Vec<usize>>> {
    prop::option::of(prop::collection::vec(from..max, 1..3))
}

fn scope() -> impl Strategy<Value = Scope> {
    (any::<bool>(), subset(4, 0), subset(5, 1), subset(5, 0))
}

fn engine(rules: &[Scope]) -> Engine {
    let mut b = Builder::new();
    for ty in TYPES {
        b.entity_type(ty, &[]);
    }
    for action in ACTIONS {
        b.action(action);
    }
    let type_name = |t: &usize| if *t == 0 { "Anonymous" } else { TYPES[*t - 1] };
    for (i, (deny, actions, resources, principals)) in rules.iter().enumerate() {
        let id = format!("r{i}");
        let mut rule = if *deny { R::deny(&id) } else { R::allow(&id) };
        if let Some(list) = actions {
            rule = rule.actions(&list.iter().map(|a| ACTIONS[*a]).collect::<Vec<_>>());
        }
        if let Some(list) = resources {
            rule = rule.on(&list.iter().map(type_name).collect::<Vec<_>>());
        }
        if let Some(list) = principals {
            rule = rule.for_(&list.iter().map(type_name).collect::<Vec<_>>());
        }
        b.rule(rule);
    }
    b.engine()
}

/// Whether a rule's scope covers the action and resource type, and the principal type.
fn covers(rule: &Scope, action: usize, resource: usize, principal: usize) -> (bool, bool) {
    let (deny, actions, resources, principals) = rule;
    let named = |list: &Option<Vec<usize>>, x: usize| list.as_ref().is_none_or(|l| l.contains(&x));
    let target = named(actions, action) && named(resources, resource);
    let who = match principals {
        Some(list) => list.contains(&principal),
        None => *deny || principal != 0,
    };
    (target, target && who)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_index_selects_exactly_the_covering_rules(
        rules in prop::collection::vec(scope(), 0..24),
        requests in prop::collection::vec((0..4usize, 1..5usize, 0..5usize), 1..12),
    ) {
        let engine = engine(&rules);
        let entities = engine.empty_entities();
        let mut buffer = engine.decision_buffer();
        for (action, resource, principal) in requests {
            let mut json = serde_json::json!({
                "action": ACTIONS[action],
                "resource": format!("{}::\"r\"", TYPES[resource - 1]),
            });
            if principal > 0 {
                json["principal"] = format!("{}::\"p\"", TYPES[principal - 1]).into();
            }
            let request = engine.request_from_value(&json).unwrap();

            let coverage: Vec<(bool, bool)> =
                rules.iter().map(|r| covers(r, action, resource, principal)).collect();
            let ids = |deny: bool| -> Vec<String> {
                rules.iter().zip(&coverage).enumerate()
                    .filter(|(_, (r, (_, applies)))| *applies && r.0 == deny)
                    .map(|(i, _)| format!("r{i}"))
                    .collect()
            };
            let (denies, allows) = (ids(true), ids(false));
            let (effect, deciding) = if !denies.is_empty() {
                (Effect::Deny, denies)
            } else if !allows.is_empty() {
                (Effect::Allow, allows)
            } else {
                (Effect::Deny, Vec::new())
            };

            let decision = engine.decide(&request, &entities);
            prop_assert_eq!(decision.decision, effect);
            prop_assert_eq!(&decision.rules, &deciding);
            prop_assert_eq!(engine.decide_effect(&request, &entities), effect);
            let view = engine.decide_into(&request, &entities, &mut buffer);
            prop_assert_eq!(view.rule_ids().collect::<Vec<_>>(), deciding.clone());
            prop_assert!(view.rules().all(|r| (r.kind == RuleKind::Deny) == (effect == Effect::Deny)));

            // Explanations list every rule of the action and resource type, in bundle order.
            let (explained, explanation) = engine.explain(&request, &entities);
            prop_assert_eq!(explained, decision);
            let listed: Vec<String> = explanation.rules.iter().map(|t| t.id.clone()).collect();
            let targeted: Vec<String> = coverage.iter().enumerate()
                .filter(|(_, (target, _))| *target)
                .map(|(i, _)| format!("r{i}"))
                .collect();
            prop_assert_eq!(listed, targeted);
        }
    }
}
