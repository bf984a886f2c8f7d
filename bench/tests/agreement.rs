//! The agreement check on `small` and on reduced `gateway`, `gateway-global`,
//! `multi-tenant` and `scale-*` shapes: Rampart, Cedar (sliced and whole), regorus
//! (routed and single-package) and the floor must decide every request of the stream
//! alike, through `answer`, `decide` and `decide_e2e`, with no evaluation error, and name
//! the same deciding rules where they say. Runs in debug builds in a few tens of seconds,
//! so CI catches generator or engine disagreements.

use rampart_bench::agree::{check, Agreement};
use rampart_bench::engines::cedar_sliced::CedarSlicedDecider;
use rampart_bench::engines::rampart::RampartDecider;
use rampart_bench::engines::regorus_routed::RegorusRoutedDecider;
use rampart_bench::engines::{load, Answer, Decider, EngineKind, LoadTimes};
use rampart_bench::gen::{generate, GatewayShape, TenantShape, Workload};
use rampart_engine::Effect;

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

/// The new workloads promise an allow share between 20% and 80%.
fn assert_balanced(agreement: &Agreement) {
    let percent = agreement.allow_percent();
    assert!((20.0..=80.0).contains(&percent), "allowed {percent:.1}%");
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
        global_rules: 0,
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

/// A reduced `gateway-global`: 100 global rules (40 on `*`, 60 on ten actions), then 300
/// per-action rules (five on each of 60 actions).
fn reduced_gateway_global() -> Workload {
    let shape = GatewayShape {
        rules: 400,
        global_rules: 100,
        actions: 60,
        resource_types: 6,
        entities: 1_500,
        requests: 400,
    };
    Workload::gateway_shaped("gateway-global", &shape)
}

#[test]
fn engines_agree_on_a_reduced_gateway_global() {
    let workload = reduced_gateway_global();
    assert_eq!((workload.rules, workload.entities), (400, 1_500));
    assert!(workload
        .cedar_policies
        .contains("forbid (principal is User, action, resource)"));
    assert_balanced(&agree(&workload));
}

#[test]
fn global_rules_decide_a_fair_share_of_gateway_global() {
    let workload = reduced_gateway_global();
    let rampart = match RampartDecider::load(&workload) {
        Ok(decider) => decider,
        Err(e) => panic!("{e}"),
    };
    // Global rules come last: ids `r300` to `r399`.
    let global = |id: &String| id[1..].parse::<usize>().is_ok_and(|n| n >= 300);
    let (mut denied, mut allowed) = (0, 0);
    for request in rampart.requests().iter() {
        let decision = rampart.engine().decide(request, rampart.entities());
        if decision.decision == Effect::Deny && decision.rules.iter().any(global) {
            denied += 1;
        }
        if decision.decision == Effect::Allow && decision.rules.iter().all(global) {
            allowed += 1;
        }
    }
    let requests = workload.requests.len();
    assert!(
        denied * 10 >= requests,
        "{denied} of {requests} denied by a global rule"
    );
    assert!(
        allowed * 20 >= requests,
        "{allowed} of {requests} allowed by global rules only"
    );
}

#[test]
fn engines_agree_on_a_reduced_multi_tenant() {
    // 30 tenants: 300 rules, 30 per action, all on (action, Doc, User).
    let shape = TenantShape {
        tenants: 30,
        users_per_tenant: 10,
        docs_per_tenant: 20,
        requests: 400,
    };
    let workload = Workload::tenant_shaped("multi-tenant", &shape);
    assert_eq!((workload.rules, workload.entities), (300, 30 * 33));
    assert_balanced(&agree(&workload));
}

#[test]
fn engines_agree_on_a_reduced_scale_with_many_rules_per_action() {
    // 30 rules on each of 20 actions: 6 of them deny templates, the rest allows.
    let shape = GatewayShape::scale(600, 20, 300);
    let workload = Workload::gateway_shaped("scale-1k", &shape);
    assert_eq!(workload.rules, 600);
    assert_balanced(&agree(&workload));
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

/// Rampart, except that its end-to-end answer to request `wrong` is flipped.
struct WrongEndToEnd {
    inner: Box<dyn Decider>,
    wrong: usize,
}

impl Decider for WrongEndToEnd {
    fn kind(&self) -> EngineKind {
        self.inner.kind()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn decide(&mut self, index: usize) -> bool {
        self.inner.decide(index)
    }
    fn decide_e2e(&mut self, index: usize) -> bool {
        self.inner.decide_e2e(index) != (index == self.wrong)
    }
    fn answer(&mut self, index: usize) -> Answer {
        self.inner.answer(index)
    }
    fn load_times(&self) -> LoadTimes {
        self.inner.load_times()
    }
}

#[test]
fn an_end_to_end_answer_that_differs_from_decide_fails_the_check() {
    let workload = generate("small", 100).expect("small is a workload");
    let mut deciders = load_all(&workload);
    let rampart = deciders.remove(0);
    deciders.insert(
        0,
        Box::new(WrongEndToEnd {
            inner: rampart,
            wrong: 17,
        }),
    );
    let error = match check(&workload, &mut deciders) {
        Ok(_) => panic!("a wrong end-to-end answer must fail the check"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("disagree on 1 of 100"), "{error}");
    assert!(error.contains("request 17:"), "{error}");
    assert!(error.contains("end to end:"), "{error}");
}
