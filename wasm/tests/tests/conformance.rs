//! Every request of the conformance corpus, decided through the engine module joined with
//! its case's policy and entities and run in wasmtime, gives exactly the native decision
//! (the same decision JSON, byte for byte).

mod common;

use std::time::Instant;

use common::host::{test_engine, Host};
use rampart_wasm_tests::{as_plan_request, conformance_dirs, conformance_requests, Policy};
use wasmtime::Module;

/// The corpus must not shrink unnoticed (the native conformance test asks for 150).
const MIN_REQUESTS: usize = 150;

#[test]
fn every_conformance_request_decides_as_natively_through_the_joined_module() {
    let engine = test_engine();
    let mut failures = Vec::new();
    let mut requests = 0;
    for dir in conformance_dirs() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let policy = Policy::load(&dir).unwrap();
        let started = Instant::now();
        let module = Module::new(&engine, policy.joined_module().unwrap()).unwrap();
        let mut host = Host::new(&engine, &module).unwrap();
        eprintln!(
            "{name}: compiled and instantiated in {:?}",
            started.elapsed()
        );
        for (case, request) in conformance_requests(&dir).unwrap() {
            requests += 1;
            let want = policy.native_decision(&request);
            match host.decide(&request) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name} / {case}:\n  wasm:   {got}\n  native: {want}"
                )),
                Err(trap) => {
                    failures.push(format!("{name} / {case}: the host call failed: {trap}"))
                }
            }
        }
        let info = host.info().unwrap();
        assert_eq!(
            info["memory"]["live_blocks"], 0,
            "{name}: blocks leaked: {info}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        requests >= MIN_REQUESTS,
        "only {requests} requests in the corpus"
    );
}

#[test]
fn every_conformance_request_explains_and_plans_as_natively_through_the_joined_module() {
    let engine = test_engine();
    let mut failures = Vec::new();
    let (mut requests, mut plans) = (0, 0);
    for dir in conformance_dirs() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let policy = Policy::load(&dir).unwrap();
        let module = Module::new(&engine, policy.joined_module().unwrap()).unwrap();
        let mut host = Host::new(&engine, &module).unwrap();
        for (case, request) in conformance_requests(&dir).unwrap() {
            requests += 1;
            let want = policy.native_explanation(&request);
            match host.call_with("rampart_explain", request.as_bytes()) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name} / {case} (explain):\n  wasm:   {got}\n  native: {want}"
                )),
                Err(trap) => failures.push(format!("{name} / {case}: explain failed: {trap}")),
            }
            let plan_request = as_plan_request(&request);
            let want = policy.native_plan(&plan_request);
            plans += usize::from(!want.starts_with("{\"error\""));
            match host.call_with("rampart_plan", plan_request.as_bytes()) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name} / {case} (plan):\n  wasm:   {got}\n  native: {want}"
                )),
                Err(trap) => failures.push(format!("{name} / {case}: plan failed: {trap}")),
            }
        }
        let info = host.info().unwrap();
        assert_eq!(
            info["memory"]["live_blocks"], 0,
            "{name}: blocks leaked: {info}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(requests >= MIN_REQUESTS, "only {requests} requests");
    // Most corpus requests name a typed resource; their plans must be plans, not errors.
    assert!(
        plans >= requests / 2,
        "only {plans} of {requests} requests planned"
    );
}
