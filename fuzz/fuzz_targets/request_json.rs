//! Bytes as request JSON → `Engine::parse_request` and decide, on the payments example.
//! Invariants: no panic; a request that cannot be read is a deny listing the error (the
//! one-call `decide_json`); one that can is decided the same owned, into a buffer, as an
//! effect and explained, and fails closed.
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
    }
);
