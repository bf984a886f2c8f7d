//! Bytes as entity JSON → `Engine::load_entities` on the payments engine. Invariants: no
//! panic; entity data that loads decides the probe requests without panicking, fails
//! closed, and gives the same decision owned, into a buffer and as an effect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_fuzz::{assert_well_formed, payments, text, PROBE_REQUESTS};

fuzz_target!(|data: &[u8]| {
    let Some(json) = text(data) else { return };
    let (engine, _) = payments();
    let Ok(entities) = engine.load_entities(json) else {
        return;
    };
    let mut buffer = engine.decision_buffer();
    for request in PROBE_REQUESTS {
        let Ok(request) = engine.parse_request(request) else {
            continue;
        };
        let decision = engine.decide(&request, &entities);
        assert_well_formed(&decision, engine.bundle(), "probe request");
        let view = engine.decide_into(&request, &entities, &mut buffer);
        assert_eq!(
            view.to_decision(),
            decision,
            "decide_into differs from decide"
        );
        assert_eq!(engine.decide_effect(&request, &entities), decision.decision);
    }
});
