//! Arbitrary text as a policy file → parse, check, compile (rampart-lang) → `Engine::new`.
//! Invariants: no panic; a bundle exactly when there is no error diagnostic; a bundle the
//! compiler produced always loads, and loads again from its JSON; its engine decides the
//! probe requests without panicking and fails closed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_engine::Engine;
use rampart_fuzz::{assert_well_formed, compile_files, text, PROBE_REQUESTS};

fuzz_target!(|data: &[u8]| {
    let Some(source) = text(data) else { return };
    let compiled = compile_files(&[("fuzz.rampart", source)]);
    let has_errors = compiled.has_errors();
    let Some(bundle) = compiled.bundle else {
        assert!(
            has_errors,
            "no bundle, yet no error diagnostic: {:?}",
            compiled.diagnostics
        );
        return;
    };
    assert!(
        !has_errors,
        "a bundle despite errors: {:?}",
        compiled.diagnostics
    );
    let json = match serde_json::to_string(&bundle) {
        Ok(json) => json,
        Err(error) => panic!("a compiled bundle does not serialize: {error}"),
    };
    let engine = match Engine::new(bundle) {
        Ok(engine) => engine,
        Err(error) => panic!("a compiled bundle does not load: {error}\n{source}"),
    };
    if let Err(error) = Engine::from_bundle_json(&json) {
        panic!("a compiled bundle's JSON does not load: {error}\n{source}");
    }
    let entities = engine.empty_entities();
    for request in PROBE_REQUESTS {
        assert_well_formed(
            &engine.decide_json(request, &entities),
            engine.bundle(),
            "probe request",
        );
    }
    for test in &compiled.tests {
        let decision = engine.decide_json(&test.request.to_string(), &entities);
        assert_well_formed(&decision, engine.bundle(), "a test block's request");
    }
});
