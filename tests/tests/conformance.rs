//! The conformance corpus: `tests/conformance/<case>/` holds a policy folder, optional
//! `entities.json`, and `cases.json` with requests and their expected decisions.
//!
//! Every request is decided twice: by the engine built from the compiled bundle, and by one
//! loaded from the bundle's serialized form (`build` → serialize → load gives the same
//! decisions).

use std::path::Path;

use rampart_engine::{Decision, Engine, EntityStore};
use rampart_tests::{engine_for, entities_for, subdirs, tests_dir};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    request: serde_json::Value,
    decision: String,
    #[serde(default)]
    rules: Option<Vec<String>>,
    #[serde(default)]
    errors: Option<bool>,
    #[serde(default)]
    obligations: Option<serde_json::Value>,
}

/// The minimum number of requests the corpus must hold.
const MIN_REQUESTS: usize = 150;

#[test]
fn conformance_corpus() {
    let root = tests_dir().join("conformance");
    let mut failures = Vec::new();
    let mut requests = 0usize;
    for dir in subdirs(&root) {
        match run_dir(&dir) {
            Ok((n, mut f)) => {
                requests += n;
                failures.append(&mut f);
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        requests >= MIN_REQUESTS,
        "the corpus holds {requests} requests, fewer than {MIN_REQUESTS}"
    );
}

fn run_dir(dir: &Path) -> Result<(usize, Vec<String>), String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let engine = engine_for(dir)?;
    let reloaded = Engine::from_bundle_json(&engine.bundle().to_json())
        .map_err(|e| format!("{name}: the serialized bundle does not load: {e}"))?;
    let entities = entities_for(&engine, dir)?;
    let entities_again = entities_for(&reloaded, dir)?;
    let text = std::fs::read_to_string(dir.join("cases.json"))
        .map_err(|e| format!("{name}/cases.json: {e}"))?;
    let cases: Vec<Case> =
        serde_json::from_str(&text).map_err(|e| format!("{name}/cases.json: {e}"))?;
    let mut failures = Vec::new();
    for case in &cases {
        let got = decide(&engine, &entities, &case.request);
        let again = decide(&reloaded, &entities_again, &case.request);
        if got != again {
            failures.push(format!(
                "{name} / {}: the reloaded bundle decides differently:\n  {got:?}\n  {again:?}",
                case.name
            ));
        }
        if let Some(why) = mismatch(case, &got) {
            failures.push(format!(
                "{name} / {}: {why}\n  got: {}",
                case.name,
                got.to_json()
            ));
        }
    }
    Ok((cases.len(), failures))
}

fn decide(engine: &Engine, entities: &EntityStore, request: &serde_json::Value) -> Decision {
    match engine.request_from_value(request) {
        Ok(req) => engine.decide(&req, entities),
        Err(e) => Decision::error(e.to_string()),
    }
}

fn mismatch(case: &Case, got: &Decision) -> Option<String> {
    let effect = if got.is_allow() { "allow" } else { "deny" };
    if case.decision != effect {
        return Some(format!("expected {}, got {effect}", case.decision));
    }
    if let Some(rules) = &case.rules {
        let (mut want, mut have) = (rules.clone(), got.rules.clone());
        want.sort();
        have.sort();
        if want != have {
            return Some(format!("expected rules {want:?}, got {have:?}"));
        }
    }
    if let Some(errors) = case.errors {
        if errors == got.errors.is_empty() {
            return Some(format!("expected errors: {errors}, got {:?}", got.errors));
        }
    }
    if let Some(obligations) = &case.obligations {
        let have = serde_json::to_value(&got.obligations).unwrap_or_default();
        if &have != obligations {
            return Some(format!("expected obligations {obligations}, got {have}"));
        }
    }
    None
}
