//! Query plans against the decision procedure: for generated policy sets, entity data and
//! documents (`rampart_tests::plan_gen`), every principal, action and context, the documents
//! a plan's condition selects are exactly those `decide` allows; and the condition's JSON
//! form reads back to the same condition.
//!
//! `RAMPART_PLAN_CASES` sets the number of generated policy sets (default 400, each planned
//! and decided for 4 users × 3 actions × 2 contexts over 12 documents); `RAMPART_PLAN_SEED`
//! the first seed.

use rampart_engine::plan::{Plan, PlanError, PlanOutcome};
use rampart_engine::Engine;
use rampart_tests::plan_gen::{generate, Case, ACTIONS};
use serde_json::json;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn engine_of(case: &Case) -> Engine {
    rampart_tests::plan_gen::engine_of(&case.policy, case.seed)
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

/// Policy text for one rule over the generator's schema.
fn engine_with_rules(rules: &str) -> Engine {
    let case = Case {
        policy: format!("{}\n{rules}", rampart_tests::plan_gen::SCHEMA),
        ..generate(1)
    };
    engine_of(&case)
}

fn plan_for(engine: &Engine, user: &str, action: &str) -> Result<Plan, PlanError> {
    let case = generate(1);
    let entities = engine
        .load_entities(&case.entities.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let request = json!({
        "principal": {"type": "User", "id": user},
        "action": action,
        "resource": {"type": "Doc"},
    });
    let request = engine
        .parse_plan_request(&request.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    engine.plan(&request, &entities)
}

#[test]
fn a_condition_whose_plan_would_explode_is_refused_not_built() {
    // ((((a and b) or c) and b) or c) …: each level repeats the residuals of the one below
    // (`x and y` is false where x is, or where x holds and y is false), so 25 levels would
    // be about 2^25 nodes (the checker allows 64 levels of nesting).
    let mut condition = String::from("resource.level > 1");
    for i in 0..25 {
        condition = format!(
            "(({condition} and resource.public) or resource.status == {})",
            ["draft", "open", "closed"][i % 3]
        );
    }
    let engine = engine_with_rules(&format!(
        "@id(\"deep\")\nallow \"read\" on Doc for User when {condition}\n"
    ));
    let started = std::time::Instant::now();
    match plan_for(&engine, "u0", "read") {
        Err(PlanError::Unsupported { id, construct, .. }) => {
            assert_eq!(id, "deep");
            assert!(construct.contains("20,000 nodes"), "{construct}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Bounded work, whatever the machine: well under the time 2^25 nodes would take.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn unsupported_constructs_name_the_rule_and_the_construct() {
    let cases = [
        (
            "resource.owner.dept == \"eng\"",
            "an attribute of an entity the resource refers to",
        ),
        ("resource.level + 1 > 2", "arithmetic on resource data"),
        (
            "resource.region matches \"^eu\"",
            "`matches` on resource data",
        ),
        (
            "resource.level > resource.level",
            "a comparison of two resource attributes",
        ),
        (
            "resource.owner in Group::\"g0\"",
            "`in` on an entity the resource refers to",
        ),
        ("resource.has_tag(\"x\")", "a tag read"),
        ("resource.get_tag(\"x\") == \"y\"", "a tag read"),
        ("principal.has_tag(resource.region)", "a tag read"),
    ];
    for (condition, construct) in cases {
        let engine = engine_with_rules(&format!(
            "@id(\"odd\")\nallow \"read\" on Doc for User when {condition}\n"
        ));
        match plan_for(&engine, "u0", "read") {
            Err(PlanError::Unsupported {
                item,
                id,
                conjunct,
                construct: found,
            }) => {
                assert_eq!((item, id.as_str()), ("rule", "odd"), "{condition}");
                assert!(found.starts_with(construct), "{condition}: {found}");
                assert!(
                    !conjunct.is_empty(),
                    "{condition}: the conjunct's text is named"
                );
            }
            other => panic!("{condition}: expected a refusal, got {other:?}"),
        }
    }
    // A tag of the principal is known: planned, as any other principal data.
    let engine = engine_with_rules(
        "@id(\"tagged\")\nallow \"read\" on Doc for User when principal.has_tag(\"x\")\n",
    );
    assert!(plan_for(&engine, "u0", "read").is_ok());
    // A deny whose conditions cannot be planned is refused too: never dropped (that would
    // widen the plan).
    let engine = engine_with_rules(
        "@id(\"all\")\nallow \"read\" on Doc for User\n@id(\"odd-deny\")\ndeny \"read\" on Doc when resource.level * 2 > 3\n",
    );
    assert!(matches!(
        plan_for(&engine, "u0", "read"),
        Err(PlanError::Unsupported { id, .. }) if id == "odd-deny"
    ));
}

#[test]
fn plans_fold_what_is_known() {
    let engine = engine_with_rules(
        "@id(\"own\")\nallow \"read\" on Doc for User when resource.owner == principal\n\
         @id(\"g0\")\nallow \"write\" on Doc for User when principal in Group::\"g0\" and resource.public\n\
         @id(\"frozen\")\ndeny \"write\" on Doc when resource.status == closed\n",
    );
    let plan = plan_for(&engine, "u1", "read").unwrap_or_else(|e| panic!("{e}"));
    let schema = &engine.bundle().schema;
    let symbols = &engine.bundle().symbols;
    match &plan.outcome {
        PlanOutcome::Conditional(cond) => {
            assert_eq!(
                cond.to_text(schema, symbols),
                "resource.owner == User::\"u1\""
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(plan.rules, ["own"]);
    // Nothing allows `share`: never, without looking at a document.
    assert_eq!(
        plan_for(&engine, "u1", "share").map(|p| p.outcome),
        Ok(PlanOutcome::Never)
    );
}

/// A scope head plans as the condition it stands for: `on Doc in Folder::"f"` as
/// `when resource in Folder::"f"`, `on Doc::"d"` as `when resource == Doc::"d"`, and a
/// principal head (known while planning) as `when principal in Group::"g"`; the plans of
/// both forms are equal for every user and action.
#[test]
fn a_scope_head_plans_like_the_equivalent_condition() {
    let pairs = [
        (
            "allow \"read\" on Doc in Folder::\"f1\" for User",
            "allow \"read\" on Doc for User when resource in Folder::\"f1\"",
        ),
        (
            "allow \"read\" on Doc::\"d3\" for User when resource.public",
            "allow \"read\" on Doc for User when resource == Doc::\"d3\" and resource.public",
        ),
        (
            "allow \"write\" on Doc for User\n@id(\"h2\")\ndeny \"write\" on Doc in Folder::\"f0\" unless resource.public",
            "allow \"write\" on Doc for User\n@id(\"h2\")\ndeny \"write\" on Doc when resource in Folder::\"f0\" unless resource.public",
        ),
        (
            "allow \"share\" on Doc for User in Group::\"g0\" when resource.public",
            "allow \"share\" on Doc for User when principal in Group::\"g0\" and resource.public",
        ),
        (
            "allow \"share\" on Doc::\"d1\" for User::\"u2\"",
            "allow \"share\" on Doc for User when principal == User::\"u2\" and resource == Doc::\"d1\"",
        ),
    ];
    for (head, condition) in pairs {
        let head_engine = engine_with_rules(&format!("@id(\"h\")\n{head}\n"));
        let condition_engine = engine_with_rules(&format!("@id(\"h\")\n{condition}\n"));
        for user in ["u0", "u1", "u2", "u3"] {
            for action in ACTIONS {
                let planned = plan_for(&head_engine, user, action);
                let expected = plan_for(&condition_engine, user, action);
                assert_eq!(planned, expected, "{head} / {user} {action}");
            }
        }
    }
}
