//! The agreement check on `small` and on a reduced `gateway`: Rampart, Cedar (sliced and
//! whole) and regorus (routed and single-package) must decide every request of the stream
//! alike, with no evaluation error, and name the same deciding rules where they say. Runs in debug
//! builds in a few seconds, so CI catches generator or engine disagreements.

use rampart_bench::agree::{check, Agreement};
use rampart_bench::engines::cedar_sliced::CedarSlicedDecider;
use rampart_bench::engines::regorus_routed::RegorusRoutedDecider;
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

fn reduced_gateway() -> Workload {
    let shape = GatewayShape {
        rules: 300,
        actions: 60,
        resource_types: 6,
        entities: 1_500,
        requests: 300,
    };
    Workload::gateway_shaped("gateway", &shape)
}

#[test]
fn engines_agree_on_a_reduced_gateway() {
    let workload = reduced_gateway();
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

#[test]
fn the_expert_forms_evaluate_a_fraction_of_the_rules() {
    let workload = reduced_gateway();
    let sliced = CedarSlicedDecider::load(&workload).expect("cedar-sliced loads");
    // 5 rules per action, split further by principal type.
    assert!(
        sliced.slices().largest() <= 5,
        "{}",
        sliced.slices().largest()
    );
    let routed = RegorusRoutedDecider::load(&workload).expect("regorus-routed loads");
    assert_eq!(routed.routes(), 60);
}

#[test]
fn deciding_rules_are_compared_not_only_decisions() {
    let mut workload = generate("small", 200).expect("small is a workload");
    // Swap two permits' ids in the Cedar text: the decisions stay, the deciding rules
    // named for them do not.
    let ids: Vec<String> = workload
        .cedar_policies
        .split(";\n")
        .filter(|p| p.contains("permit"))
        .filter_map(|p| p.split('"').nth(1).map(str::to_string))
        .take(2)
        .collect();
    let [a, b] = ids.as_slice() else {
        panic!("small has two permits");
    };
    workload.cedar_policies = workload
        .cedar_policies
        .replace(&format!("@id(\"{a}\")"), "@id(\"SWAP\")")
        .replace(&format!("@id(\"{b}\")"), &format!("@id(\"{a}\")"))
        .replace("@id(\"SWAP\")", &format!("@id(\"{b}\")"));
    let error = match check(&workload, &mut load_all(&workload)) {
        Ok(_) => panic!("swapped rule ids must disagree"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains(&format!("by [{a}")) || error.contains(&format!("by [{b}")),
        "{error}"
    );
}

#[test]
fn end_to_end_paths_decide_as_the_prepared_ones() {
    let workload = reduced_gateway();
    let mut sliced = CedarSlicedDecider::load(&workload).expect("cedar-sliced loads");
    let mut routed = RegorusRoutedDecider::load(&workload).expect("regorus-routed loads");
    for index in 0..workload.requests.len() {
        assert_eq!(
            sliced.decide_e2e(index),
            sliced.decide(index),
            "request {index}"
        );
        assert_eq!(
            routed.decide_e2e(index),
            routed.decide(index),
            "request {index}"
        );
    }
}
