//! Query plans against the decision procedure: for generated policy sets, entity data and
//! documents (`rampart_tests::plan_gen`), every principal, action and context, the documents
//! a plan's condition selects are exactly those `decide` allows; and the condition's JSON
//! form reads back to the same condition.
//!
//! `RAMPART_PLAN_CASES` sets the number of generated policy sets (default 400, each planned
//! and decided for 4 users × 3 actions × 2 contexts over 12 documents); `RAMPART_PLAN_SEED`
//! the first seed.

use std::path::PathBuf;

use rampart_engine::plan::{Plan, PlanError, PlanOutcome};
use rampart_engine::Engine;
use rampart_lang::diagnostics::SourceFile;
use rampart_lang::{compile, PolicySet};
use rampart_tests::plan_gen::{generate, Case, ACTIONS};
use serde_json::json;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn engine_of(case: &Case) -> Engine {
    let file = SourceFile::new(
        PathBuf::from("gen.rampart"),
        "gen.rampart",
        case.policy.clone(),
    );
    let compiled = compile(&PolicySet::from_files(PathBuf::from("."), vec![file]));
    let Some(bundle) = compiled.bundle else {
        let text: String = compiled
            .diagnostics
            .iter()
            .map(|d| d.render_plain())
            .collect();
        panic!(
            "seed {}: the generated policy does not compile:\n{text}\n{}",
            case.seed, case.policy
        );
    };
    Engine::new(bundle).unwrap_or_else(|e| panic!("seed {}: {e}", case.seed))
}

#[test]
fn plans_select_exactly_the_allowed_documents() {
    let cases = env_number("RAMPART_PLAN_CASES", 400);
    let first = env_number("RAMPART_PLAN_SEED", 1);
    let (mut checked, mut conditional, mut decisions) = (0u64, 0u64, 0u64);
    for seed in first..first + cases {
        let case = generate(seed);
        let engine = engine_of(&case);
        let entities = engine
            .load_entities(&case.entities.to_string())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for user in &case.users {
            for action in ACTIONS {
                for context in &case.contexts {
                    let request = json!({
                        "principal": {"type": "User", "id": user},
                        "action": action,
                        "resource": {"type": "Doc"},
                        "context": context,
                    });
                    let plan_request = engine
                        .parse_plan_request(&request.to_string())
                        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                    let plan: Plan = match engine.plan(&plan_request, &entities) {
                        Ok(plan) => plan,
                        Err(e @ PlanError::Unsupported { .. }) => {
                            panic!("seed {seed}: the generator stays in the supported fragment: {e}\n{}", case.policy)
                        }
                        Err(e) => panic!("seed {seed}: {e}"),
                    };
                    checked += 1;
                    if let PlanOutcome::Conditional(cond) = &plan.outcome {
                        conditional += 1;
                        let json = cond.to_json(&engine.bundle().schema);
                        let back = engine
                            .condition_from_json(plan.resource_type, &json)
                            .unwrap_or_else(|e| panic!("seed {seed}: {e}: {json}"));
                        assert_eq!(&back, cond, "seed {seed}: the JSON form reads back");
                    }
                    for doc in &case.docs {
                        let mut full = request.clone();
                        full["resource"] = json!({"type": "Doc", "id": doc.id});
                        let decision = engine.decide_json(&full.to_string(), &entities);
                        let planned = plan.allows_stored(&engine, &entities, &doc.id);
                        decisions += 1;
                        assert_eq!(
                            planned,
                            decision.is_allow(),
                            "seed {seed}: user {user}, action {action}, context {context}, doc {}\n\
                             plan: {}\ndecision: {decision:?}\n{}",
                            rampart_tests::plan_gen::describe(doc),
                            plan.to_json(&engine),
                            case.policy,
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "{checked} plans ({conditional} conditional), {decisions} documents decided both ways"
    );
    assert!(
        conditional > checked / 10,
        "the generator must reach conditional plans"
    );
}
