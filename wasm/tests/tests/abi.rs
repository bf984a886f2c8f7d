//! The ABI contract in wasmtime: the exports, no imports, and that bad input or wrong use
//! of the ABI answers an error decision (or status) and never traps the host.

mod common;

use common::host::{test_engine, Host};
use rampart_wasm_embed::join::{inspect, join};
use rampart_wasm_embed::{Payload, BUNDLE};
use rampart_wasm_tests::{engine_module, tests_dir, Policy};
use serde_json::Value;
use wasmtime::{Module, TypedFunc};

const EXPORTS: [&str; 14] = [
    "memory",
    "rampart_abi_version",
    "rampart_alloc",
    "rampart_free",
    "rampart_reset",
    "rampart_decide",
    "rampart_decide_at",
    "rampart_explain",
    "rampart_explain_at",
    "rampart_plan",
    "rampart_plan_at",
    "rampart_load_entities",
    "rampart_load_bundle",
    "rampart_info",
];

fn combining() -> Policy {
    Policy::load(&tests_dir().join("conformance/01-combining")).unwrap()
}

/// A request of `01-combining` that the policy allows.
fn good_request(policy: &Policy) -> String {
    let cases =
        rampart_wasm_tests::conformance_requests(&tests_dir().join("conformance/01-combining"))
            .unwrap();
    let (_, request) = cases
        .into_iter()
        .find(|(_, r)| {
            policy
                .native_decision(r)
                .starts_with("{\"decision\":\"allow\"")
        })
        .unwrap();
    request
}

fn instance(module: &[u8]) -> Host {
    let engine = test_engine();
    let module = Module::new(&engine, module).unwrap();
    Host::new(&engine, &module).unwrap()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The error messages of a decision, asserting it is a deny with at least one error.
fn error_of(decision: &str) -> String {
    let decision = parse(decision);
    assert_eq!(decision["decision"], "deny", "{decision}");
    assert_eq!(decision["rules"], Value::Array(Vec::new()));
    decision["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_engine_module_imports_only_the_payload_and_the_joined_module_nothing() {
    let engine = inspect(&engine_module().unwrap()).unwrap();
    assert_eq!(
        engine.imports,
        [
            ("rampart_embed".to_owned(), "rampart_payload_len".to_owned()),
            (
                "rampart_embed".to_owned(),
                "rampart_payload_copy".to_owned()
            )
        ]
    );
    let joined = inspect(&combining().joined_module().unwrap()).unwrap();
    assert!(joined.imports.is_empty(), "imports: {:?}", joined.imports);
    assert!(
        joined.custom_sections.is_empty(),
        "{:?}",
        joined.custom_sections
    );
    let mut exports = joined.exports.clone();
    exports.sort();
    let mut expected = EXPORTS.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(exports, expected);
}

#[test]
fn the_abi_version_is_1_and_info_describes_the_joined_policy() {
    let policy = combining();
    let mut host = instance(&policy.joined_module().unwrap());
    let version: TypedFunc<(), i32> = host.func("rampart_abi_version").unwrap();
    assert_eq!(version.call(&mut host.store, ()).unwrap(), 1);
    let info = host.info().unwrap();
    assert_eq!(info["abi_version"], 1);
    assert_eq!(
        info["bundle"]["revision"],
        policy.engine.bundle().revision.as_str()
    );
    assert_eq!(info["bundle"]["rules"], policy.engine.bundle().rules.len());
    assert_eq!(info["entities"], policy.entities.len());
    assert_eq!(info["memory"]["live_blocks"], 0);
}

#[test]
fn bad_requests_answer_an_error_decision() {
    let policy = combining();
    let mut host = instance(&policy.joined_module().unwrap());
    assert!(error_of(&host.decide("{not json").unwrap()).contains("JSON"));
    assert!(error_of(&host.decide("[1, 2]").unwrap()).contains("expected an object"));
    assert!(error_of(&host.decide(r#"{"action": "nope"}"#).unwrap()).contains("nope"));
    // Zero length: an empty request.
    let (ptr, _) = host.put(b"x").unwrap();
    assert!(error_of(&host.decide_raw(ptr, 0).unwrap()).contains("JSON"));
    // Not UTF-8.
    let call: TypedFunc<(i32, i32), i64> = host.func("rampart_decide").unwrap();
    let (ptr, len) = host.put(&[0xff, 0xfe, b'{', b'}']).unwrap();
    let packed = call.call(&mut host.store, (ptr, len)).unwrap();
    assert!(error_of(&host.take(packed).unwrap()).contains("not UTF-8"));
    // More than 10 MB: allocated and written, refused by size.
    let huge = format!("{{\"principal\": \"{}\"}}", "a".repeat(10 << 20));
    assert!(error_of(&host.decide(&huge).unwrap()).contains("too large"));
    // The module still decides as before.
    let request = good_request(&policy);
    assert_eq!(
        host.decide(&request).unwrap(),
        policy.native_decision(&request)
    );
}

#[test]
fn wrong_pointers_and_lengths_answer_an_error_decision_never_a_trap() {
    let policy = combining();
    let mut host = instance(&policy.joined_module().unwrap());
    let pages = host.memory.size(&host.store);
    let beyond = i32::try_from(pages * 65536 + 16).unwrap_or(i32::MAX);
    for (ptr, len) in [
        (0, 10),              // null
        (8, 100),             // inside memory, but not a block
        (beyond, 10),         // outside memory
        (-16, 32),            // the top of the address space, wrapping
        (i32::MAX, i32::MAX), // overflowing ranges
    ] {
        let message = error_of(&host.decide_raw(ptr, len).unwrap());
        assert!(
            message.contains("not inside a block from `rampart_alloc`"),
            "{message}"
        );
    }
    // A range running past the end of its block, and a negative length.
    let (ptr, len) = host.put(b"{}").unwrap();
    assert!(error_of(&host.decide_raw(ptr, len + 1).unwrap()).contains("not inside a block"));
    assert!(error_of(&host.decide_raw(ptr, -1).unwrap()).contains("not inside a block"));
    assert!(error_of(&host.decide_raw(ptr + 1, len).unwrap()).contains("not inside a block"));
    // A range inside a larger block is fine.
    assert!(error_of(&host.decide_raw(ptr, 1).unwrap()).contains("JSON"));
}

#[test]
fn freeing_twice_freeing_wrongly_and_using_freed_blocks_do_not_trap() {
    let policy = combining();
    let mut host = instance(&policy.joined_module().unwrap());
    let free: TypedFunc<(i32, i32), ()> = host.func("rampart_free").unwrap();
    let alloc: TypedFunc<i32, i32> = host.func("rampart_alloc").unwrap();
    let reset: TypedFunc<(), ()> = host.func("rampart_reset").unwrap();
    let request = good_request(&policy);
    let (ptr, len) = host.put(request.as_bytes()).unwrap();
    // A wrong length or an address inside the block frees nothing.
    free.call(&mut host.store, (ptr, len - 1)).unwrap();
    free.call(&mut host.store, (ptr + 1, len)).unwrap();
    free.call(&mut host.store, (12345, 7)).unwrap();
    assert_eq!(host.info().unwrap()["memory"]["live_blocks"], 1);
    assert_eq!(
        host.decide_raw(ptr, len).unwrap(),
        policy.native_decision(&request)
    );
    // Free it, twice; then use it.
    free.call(&mut host.store, (ptr, len)).unwrap();
    free.call(&mut host.store, (ptr, len)).unwrap();
    assert!(error_of(&host.decide_raw(ptr, len).unwrap()).contains("not inside a block"));
    // Results left unfreed and inputs are all freed by a reset.
    let (ptr, len) = host.put(request.as_bytes()).unwrap();
    let decide: TypedFunc<(i32, i32), i64> = host.func("rampart_decide").unwrap();
    for _ in 0..3 {
        decide.call(&mut host.store, (ptr, len)).unwrap();
    }
    assert_eq!(host.info().unwrap()["memory"]["live_blocks"], 4);
    reset.call(&mut host.store, ()).unwrap();
    assert_eq!(host.info().unwrap()["memory"]["live_blocks"], 0);
    assert!(error_of(&host.decide_raw(ptr, len).unwrap()).contains("not inside a block"));
    // Allocations the module refuses answer 0.
    for len in [-1, i32::MAX, 600 << 20] {
        assert_eq!(
            alloc.call(&mut host.store, len).unwrap(),
            0,
            "rampart_alloc({len})"
        );
    }
    assert_ne!(alloc.call(&mut host.store, 0).unwrap(), 0);
    // And it still decides.
    assert_eq!(
        host.decide(&request).unwrap(),
        policy.native_decision(&request)
    );
}

#[test]
fn a_module_without_a_bundle_denies_until_one_is_loaded() {
    let policy = combining();
    let empty = join(&engine_module().unwrap(), &Payload::new().to_bytes()).unwrap();
    let mut host = instance(&empty);
    let request = good_request(&policy);
    assert!(error_of(&host.decide(&request).unwrap()).contains("no policy bundle is loaded"));
    assert_eq!(host.info().unwrap()["bundle"], Value::Null);
    let status = parse(&host.call_with("rampart_load_entities", b"[]").unwrap());
    assert_eq!(status["ok"], false);
    // A bad bundle is refused; a good one loads; then the entities.
    let status = parse(
        &host
            .call_with("rampart_load_bundle", b"{\"format\": 1}")
            .unwrap(),
    );
    assert_eq!(status["ok"], false, "{status}");
    let bundle = policy.engine.bundle().to_json();
    let status = parse(
        &host
            .call_with("rampart_load_bundle", bundle.as_bytes())
            .unwrap(),
    );
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["rules"], policy.engine.bundle().rules.len());
    let entities = policy
        .entity_json
        .clone()
        .unwrap_or_else(|| "[]".to_owned());
    let status = parse(
        &host
            .call_with("rampart_load_entities", entities.as_bytes())
            .unwrap(),
    );
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(
        host.decide(&request).unwrap(),
        policy.native_decision(&request)
    );
    // Bad entity data and a bad bundle change nothing.
    let status = parse(
        &host
            .call_with("rampart_load_entities", b"{\"not\": \"an array\"}")
            .unwrap(),
    );
    assert_eq!(status["ok"], false);
    let status = parse(&host.call_with("rampart_load_bundle", b"\xff").unwrap());
    assert_eq!(status["ok"], false);
    assert_eq!(
        host.decide(&request).unwrap(),
        policy.native_decision(&request)
    );
    assert_eq!(host.info().unwrap()["entities"], policy.entities.len());
}

#[test]
fn a_payload_that_does_not_load_leaves_no_bundle() {
    let mut payload = Payload::new();
    payload
        .insert(BUNDLE, "{\"format\": \"something else\"}")
        .unwrap();
    let module = join(&engine_module().unwrap(), &payload.to_bytes()).unwrap();
    let mut host = instance(&module);
    let message = error_of(&host.decide("{}").unwrap());
    assert!(
        message.contains("the embedded policy did not load"),
        "{message}"
    );
}

#[test]
fn decide_at_fills_now_from_the_host_clock() {
    let dir = tests_dir().join("conformance/07-time");
    let policy = Policy::load(&dir).unwrap();
    let mut host = instance(&policy.joined_module().unwrap());
    let decide_at: TypedFunc<(i32, i32, i64), i64> = host.func("rampart_decide_at").unwrap();
    // `embargo` denies while now < 2026-06-01.
    let request =
        r#"{"principal": "User::\"alice\"", "action": "embargo", "resource": "User::\"alice\""}"#;
    for (now_ms, effect) in [
        (1_767_225_600_000_i64, "deny"),
        (1_782_864_000_000, "allow"),
    ] {
        let (ptr, len) = host.put(request.as_bytes()).unwrap();
        let packed = decide_at.call(&mut host.store, (ptr, len, now_ms)).unwrap();
        let got = host.take(packed).unwrap();
        let mut native = policy.engine.parse_request(request).unwrap();
        policy.engine.fill_time(&mut native, now_ms);
        let want = policy.engine.decide(&native, &policy.entities).to_json();
        assert_eq!(got, want);
        assert_eq!(parse(&got)["decision"], effect, "{got}");
    }
    // Without a clock, `now` is an evaluation error: the deny rule applies.
    assert_eq!(
        host.decide(request).unwrap(),
        policy.native_decision(request)
    );
}

#[test]
fn explain_and_plan_at_fill_now_from_the_host_clock() {
    let dir = tests_dir().join("conformance/07-time");
    let policy = Policy::load(&dir).unwrap();
    let mut host = instance(&policy.joined_module().unwrap());
    let explain_at: TypedFunc<(i32, i32, i64), i64> = host.func("rampart_explain_at").unwrap();
    let plan_at: TypedFunc<(i32, i32, i64), i64> = host.func("rampart_plan_at").unwrap();
    let free: TypedFunc<(i32, i32), ()> = host.func("rampart_free").unwrap();
    let request =
        r#"{"principal": "User::\"alice\"", "action": "embargo", "resource": "User::\"alice\""}"#;
    let plan_request =
        r#"{"principal": "User::\"alice\"", "action": "embargo", "resource": {"type": "User"}}"#;
    for now_ms in [1_767_225_600_000_i64, 1_782_864_000_000] {
        let (ptr, len) = host.put(request.as_bytes()).unwrap();
        let packed = explain_at
            .call(&mut host.store, (ptr, len, now_ms))
            .unwrap();
        let got = host.take(packed).unwrap();
        free.call(&mut host.store, (ptr, len)).unwrap();
        let mut native = policy.engine.parse_request(request).unwrap();
        policy.engine.fill_time(&mut native, now_ms);
        let (decision, explanation) = policy.engine.explain(&native, &policy.entities);
        assert_eq!(
            got,
            rampart_engine::explained_json(&decision, &explanation).to_string()
        );

        let (ptr, len) = host.put(plan_request.as_bytes()).unwrap();
        let packed = plan_at.call(&mut host.store, (ptr, len, now_ms)).unwrap();
        let got = host.take(packed).unwrap();
        free.call(&mut host.store, (ptr, len)).unwrap();
        let mut native = policy.engine.parse_plan_request(plan_request).unwrap();
        policy.engine.fill_plan_time(&mut native, now_ms);
        let want = match policy.engine.plan(&native, &policy.entities) {
            Ok(plan) => plan.to_json(&policy.engine).to_string(),
            Err(error) => error.to_json().to_string(),
        };
        assert_eq!(got, want);
    }
    assert_eq!(host.info().unwrap()["memory"]["live_blocks"], 0);
}

#[test]
fn explain_and_plan_answer_bad_input_as_json_and_never_trap() {
    let policy = combining();
    let mut host = instance(&policy.joined_module().unwrap());
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(2 << 20));
    for input in [
        "",
        "not json",
        "[1, 2]",
        "{\"principal\": 5}",
        huge.as_str(),
    ] {
        let explained = parse(&host.call_with("rampart_explain", input.as_bytes()).unwrap());
        assert_eq!(explained["decision"], "deny", "{input:.40}: {explained}");
        assert!(explained.get("explain").is_none(), "{explained}");
        assert!(!error_of(&explained.to_string()).is_empty());
        let planned = parse(&host.call_with("rampart_plan", input.as_bytes()).unwrap());
        assert_eq!(planned["kind"], "request", "{input:.40}: {planned}");
        assert!(planned["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let explain: TypedFunc<(i32, i32), i64> = host.func("rampart_explain").unwrap();
    let plan: TypedFunc<(i32, i32), i64> = host.func("rampart_plan").unwrap();
    for (ptr, len) in [(0, 10), (-8, 16), (1 << 30, 4), (16, -1)] {
        let packed = explain.call(&mut host.store, (ptr, len)).unwrap();
        let message = error_of(&host.take(packed).unwrap());
        assert!(message.contains("not inside a block"), "{message}");
        let packed = plan.call(&mut host.store, (ptr, len)).unwrap();
        let planned = parse(&host.take(packed).unwrap());
        assert_eq!(planned["kind"], "request", "{planned}");
    }
    // Not UTF-8.
    let planned = parse(&host.call_with("rampart_plan", &[0xff, 0xfe]).unwrap());
    assert_eq!(planned["error"], "the request is not UTF-8 text");
    assert_eq!(host.info().unwrap()["memory"]["live_blocks"], 0);
}

#[test]
fn plan_without_a_bundle_answers_a_policy_error() {
    let module = join(&engine_module().unwrap(), &Payload::new().to_bytes()).unwrap();
    let mut host = instance(&module);
    let planned = parse(&host.call_with("rampart_plan", b"{}").unwrap());
    assert_eq!(planned["kind"], "policy", "{planned}");
    let explained = host.call_with("rampart_explain", b"{}").unwrap();
    assert!(
        error_of(&explained).contains("no policy bundle"),
        "{explained}"
    );
}
