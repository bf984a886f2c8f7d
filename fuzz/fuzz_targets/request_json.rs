//! Bytes as request JSON → `Engine::parse_request` and decide, on the payments example.
//! Invariants: no panic; a request that cannot be read is a deny listing the error (the
//! one-call `decide_json`); one that can is decided the same owned, into a buffer, as an
//! effect and explained, and fails closed. The same request with its resource reduced to
//! its type is planned (`Engine::plan`): where a plan is made, it allows exactly the
//! accounts `decide` allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_fuzz::{assert_input_error, assert_well_formed, payments, seeds, text};

fuzz_target!(
    init: seeds::write_if_asked("request_json"),
    |data: &[u8]| {
        let Some(json) = text(data) else { return };
        let (engine, entities) = payments();
        let one_call = engine.decide_json(json, entities);
        let request = match engine.parse_request(json) {
            Ok(request) => request,
            Err(_) => return assert_input_error(&one_call, "unreadable request"),
        };
        let decision = engine.decide(&request, entities);
        assert_well_formed(&decision, engine.bundle(), "request");
        assert_eq!(one_call, decision, "decide_json differs from parse_request + decide");
        let mut buffer = engine.decision_buffer();
        let view = engine.decide_into(&request, entities, &mut buffer);
        assert_eq!(view.to_decision(), decision, "decide_into differs from decide");
        assert_eq!(engine.decide_effect(&request, entities), decision.decision);
        let (explained, _) = engine.explain(&request, entities);
        assert_eq!(explained, decision, "explain differs from decide");
        plan_agrees(json);
    }
);

/// Plans the request for every resource of its type, and decides each of the example's
/// accounts: a plan must allow exactly those `decide` allows.
fn plan_agrees(json: &str) {
    let (engine, entities) = payments();
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    let Some(ty) = value.get("resource").and_then(|r| r.get("type")).cloned() else {
        return;
    };
    value["resource"] = serde_json::json!({"type": ty});
    let Ok(request) = engine.plan_request_from_value(&value) else {
        return;
    };
    let Ok(plan) = engine.plan(&request, entities) else {
        return;
    };
    for id in ["a1", "a2", "a3", "a4"] {
        // Plans are about the resources that exist (rows of a table).
        if engine.stored_resource(entities, plan.resource_type, id).is_none() {
            continue;
        }
        value["resource"] = serde_json::json!({"type": ty, "id": id});
        let decided = engine.decide_json(&value.to_string(), entities).is_allow();
        assert_eq!(
            plan.allows_stored(engine, entities, id),
            decided,
            "the plan and decide differ on {id}: {value}"
        );
    }
}
