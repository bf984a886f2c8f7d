//! Bytes → the plain wasm ABI's input handling (`rampart_wasm::Runtime::decide`, natively),
//! with the payments bundle and entities loaded as a module would load them. Invariants: no
//! panic; always decision JSON; byte for byte the native engine's decision (the request
//! read as text, a non-UTF-8 request a deny).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_engine::{Decision, Effect};
use rampart_fuzz::{payments, payments_bundle, seeds, MAX_INPUT_BYTES, PAYMENTS_ENTITIES};
use rampart_wasm::Runtime;
use std::cell::RefCell;

/// The instant both sides fill `context.time` with, when the request has none.
const NOW_MS: i64 = 1_767_225_600_000;

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new({
        let mut runtime = Runtime::empty("not loaded");
        let bundle = serde_json::to_vec(payments_bundle()).unwrap_or_default();
        let status = runtime.load_bundle(&bundle, Some(PAYMENTS_ENTITIES.as_bytes()));
        assert!(status.starts_with("{\"ok\":true"), "the runtime did not load: {status}");
        runtime
    });
}

fuzz_target!(
    init: seeds::write_if_asked("wasm_abi_input"),
    |data: &[u8]| {
        if data.len() > MAX_INPUT_BYTES {
            return;
        }
        let answer = RUNTIME.with(|r| r.borrow_mut().decide(data, Some(NOW_MS)));
        let decided: Decision = match serde_json::from_str(&answer) {
            Ok(decision) => decision,
            Err(error) => panic!("the runtime answered no decision JSON ({error}): {answer}"),
        };
        let (engine, entities) = payments();
        let native = match std::str::from_utf8(data) {
            Err(_) => {
                assert_eq!(decided.decision, Effect::Deny, "non-UTF-8 input allowed");
                assert!(!decided.errors.is_empty(), "non-UTF-8 input: no error listed");
                return;
            }
            Ok(text) => match engine.parse_request(text) {
                Ok(mut request) => {
                    engine.fill_time(&mut request, NOW_MS);
                    engine.decide(&request, entities)
                }
                Err(error) => Decision::error(error.to_string()),
            },
        };
        assert_eq!(answer, native.to_json(), "the wasm runtime differs from the engine");
    }
);
