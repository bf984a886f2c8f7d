//! The agreement check on `small` and on a reduced `gateway`: Rampart, Cedar and regorus
//! must decide every request of the stream alike, with no evaluation error. Runs in debug
//! builds in a few seconds, so CI catches generator or engine disagreements.

use rampart_bench::agree::{check, Agreement};
use rampart_bench::engines::{load, Decider, EngineKind};
use rampart_bench::gen::{generate, GatewayShape, Workload};

fn load_all(workload: &Workload) -> Vec<Box<dyn Decider>> {
    EngineKind::ALL
        .into_iter()
        .map(|kind| match load(kind, workload) {
            Ok(decider) => decider,
            Err(e) => panic!("{e}"),
        })
        .collect()
}

fn agree(workload: &Workload) -> Agreement {
    match check(workload, &mut load_all(workload)) {
        Ok(agreement) => agreement,
        Err(e) => panic!("{e}"),
    }
}

/// Both decisions occur often enough for the check to mean something.
fn assert_mixed(agreement: &Agreement) {
    let percent = agreement.allow_percent();
    assert!((15.0..=85.0).contains(&percent), "allowed {percent:.1}%");
}

#[test]
fn engines_agree_on_small() {
    let workload = generate("small", 400).expect("small is a workload");
    let agreement = agree(&workload);
    assert_eq!(agreement.requests, 400);
    assert_mixed(&agreement);
}

#[test]
fn engines_agree_on_a_reduced_gateway() {
    let shape = GatewayShape {
        rules: 300,
        actions: 60,
        resource_types: 6,
        entities: 1_500,
        requests: 300,
    };
    let workload = Workload::gateway_shaped("gateway", &shape);
    assert_eq!((workload.rules, workload.entities), (300, 1_500));
    let agreement = agree(&workload);
    assert_mixed(&agreement);
}

#[test]
fn a_disagreement_fails_loudly_with_the_request_and_every_answer() {
    let mut workload = generate("small", 200).expect("small is a workload");
    // Drop Cedar's `forbid` policies: locked documents and blocked users become writable.
    workload.cedar_policies = workload
        .cedar_policies
        .split(";\n")
        .filter(|policy| !policy.contains("forbid"))
        .collect::<Vec<_>>()
        .join(";\n");
    let error = match check(&workload, &mut load_all(&workload)) {
        Ok(_) => panic!("a policy set without forbids must disagree"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("the engines disagree on"), "{error}");
    assert!(error.contains("\"principal\""), "{error}");
    for engine in ["rampart", "cedar", "regorus"] {
        assert!(error.contains(engine), "{error}");
    }
}
