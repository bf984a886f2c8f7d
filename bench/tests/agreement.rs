//! The agreement check on `small` and on a reduced `gateway`: Rampart, Cedar and regorus
//! (and the floor) must decide every request of the stream alike, through `answer`,
//! `decide` and `decide_e2e`, with no evaluation error. Runs in debug builds in a few
//! seconds, so CI catches generator or engine disagreements.

use rampart_bench::agree::{check, Agreement};
use rampart_bench::engines::{load, Answer, Decider, EngineKind, LoadTimes};
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
