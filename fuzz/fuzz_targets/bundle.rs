//! Bytes as bundle JSON → `Engine::from_bundle_json`. Invariants: no panic; a bundle that
//! loads decides the probe requests (with no entities and with the payments entities read
//! against it) without panicking, fails closed, and gives the same decision owned and into
//! a buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_engine::Engine;
use rampart_fuzz::{assert_well_formed, seeds, text, PAYMENTS_ENTITIES, PROBE_REQUESTS};

fuzz_target!(
    init: seeds::write_if_asked("bundle"),
    |data: &[u8]| {
        let Some(json) = text(data) else { return };
        let Ok(engine) = Engine::from_bundle_json(json) else { return };
        let empty = engine.empty_entities();
        let loaded = engine.load_entities(PAYMENTS_ENTITIES).ok();
        let mut buffer = engine.decision_buffer();
        for entities in std::iter::once(&empty).chain(loaded.as_ref()) {
            for request in PROBE_REQUESTS {
                let Ok(request) = engine.parse_request(request) else { continue };
                let decision = engine.decide(&request, entities);
                assert_well_formed(&decision, engine.bundle(), "probe request");
                let view = engine.decide_into(&request, entities, &mut buffer);
                assert_eq!(view.to_decision(), decision, "decide_into differs from decide");
                assert_eq!(engine.decide_effect(&request, entities), decision.decision);
            }
        }
    }
);
