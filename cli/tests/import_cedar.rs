//! `rampart import cedar`: the example apps of `examples/cedar-import/` convert to Rampart
//! that checks without warnings and matches the committed translation (`rampart/` in each
//! example; `RAMPART_BLESS=1` rewrites it), and the translation decides every generated
//! request like cedar-policy itself; constructs without a Rampart form are errors naming the
//! policy and the construct (exit 1), unreadable input exits 2.
#![cfg(feature = "cedar")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};

fn rampart() -> Command {
    Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cedar-import")
}

const EXAMPLES: &[&str] = &["photos", "documents", "network", "tasks", "labels"];

/// The schema file of an example: Cedar schema text, or its JSON form.
fn schema_file(src: &Path) -> PathBuf {
    let json = src.join("schema.json");
    if json.exists() {
        json
    } else {
        src.join("schema.cedarschema")
    }
}

/// `v` with every entity type written without the namespace prefix `ns` (as the import
/// writes it).
fn strip_namespace(v: &Value, ns: &str) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| strip_namespace(i, ns)).collect()),
        Value::Object(obj) => Value::Object(
            obj.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("type", Value::String(t)) if !ns.is_empty() => {
                            Value::String(t.strip_prefix(ns).unwrap_or(t).to_owned())
                        }
                        _ => strip_namespace(v, ns),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A fresh scratch folder (tests run in parallel: each call gets its own); the import
/// writes `out` inside it.
fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("rampart-import-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports one example into a fresh folder and returns it.
fn import_example(name: &str) -> PathBuf {
    let src = examples().join(name);
    let out = scratch(name).join("out");
    rampart()
        .args(["import", "cedar"])
        .arg(src.join("policies.cedar"))
        .arg("--schema")
        .arg(schema_file(&src))
        .arg("--entities")
        .arg(src.join("entities.json"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("imported"));
    out
}

#[test]
fn examples_import_check_clean_and_match_the_committed_translation() {
    let bless = std::env::var_os("RAMPART_BLESS").is_some();
    for name in EXAMPLES {
        let out = import_example(name);
        rampart()
            .arg("check")
            .arg(&out)
            .arg("--deny-warnings")
            .assert()
            .success();
        rampart()
            .args(["fmt", "--check"])
            .arg(&out)
            .assert()
            .success();
        let golden = examples().join(name).join("rampart");
        for file in ["schema.rampart", "policies.rampart", "entities.json"] {
            let got = read(&out.join(file));
            let want_path = golden.join(file);
            if bless {
                std::fs::create_dir_all(&golden).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(&want_path, &got).unwrap_or_else(|e| panic!("{e}"));
                continue;
            }
            assert_eq!(
                got,
                read(&want_path),
                "{name}/{file} differs from the committed translation; \
                 `RAMPART_BLESS=1 cargo test -p rampart-cli --test import_cedar` rewrites it"
            );
        }
    }
}

/// The counts of one example's differential run.
#[derive(Debug, Default)]
struct Counts {
    requests: usize,
    compared: usize,
    allows: usize,
    /// Requests where Cedar met an evaluation error (not compared: Rampart fails closed).
    cedar_errors: usize,
    /// Of those, the ones Cedar allows and Rampart denies: a `forbid` that errored.
    fail_closed: usize,
}

#[test]
fn imported_examples_decide_like_cedar() {
    let mut total = Counts::default();
    for name in EXAMPLES {
        let counts = differential(name);
        eprintln!("{name}: {counts:?}");
        assert!(
            counts.compared > 50,
            "{name}: too few requests compared: {counts:?}"
        );
        assert!(counts.allows > 0, "{name}: no request allowed: {counts:?}");
        total.requests += counts.requests;
        total.compared += counts.compared;
        total.allows += counts.allows;
        total.cedar_errors += counts.cedar_errors;
        total.fail_closed += counts.fail_closed;
    }
    eprintln!("all examples: {total:?}");
}

/// Decides every principal × action × resource of the example's entities, with each context
/// of `contexts.json`, by cedar-policy on the Cedar files and by the Rampart engine on the
/// imported folder; panics on the first disagreement.
fn differential(name: &str) -> Counts {
    let src = examples().join(name);
    let out = import_example(name);

    // Cedar.
    let schema_path = schema_file(&src);
    let schema = if schema_path.extension().is_some_and(|e| e == "json") {
        cedar_policy::Schema::from_json_str(&read(&schema_path))
            .unwrap_or_else(|e| panic!("{name}: schema: {e}"))
    } else {
        cedar_policy::Schema::from_cedarschema_str(&read(&schema_path))
            .unwrap_or_else(|e| panic!("{name}: schema: {e}"))
            .0
    };
    let policies = cedar_policy::PolicySet::from_str(&read(&src.join("policies.cedar")))
        .unwrap_or_else(|e| panic!("{name}: policies: {e}"));
    let entities =
        cedar_policy::Entities::from_json_str(&read(&src.join("entities.json")), Some(&schema))
            .unwrap_or_else(|e| panic!("{name}: entities: {e}"));
    let contexts: Value = serde_json::from_str(&read(&src.join("contexts.json")))
        .unwrap_or_else(|e| panic!("{name}: contexts.json: {e}"));
    let authorizer = cedar_policy::Authorizer::new();
    let rule_id = |id: &cedar_policy::PolicyId| -> String {
        policies
            .policy(id)
            .and_then(|p| p.annotation("id"))
            .map_or_else(|| id.to_string(), str::to_owned)
    };

    // Rampart, on the imported folder.
    let set = rampart_lang::PolicySet::load(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
    let bundle = rampart_lang::compile(&set)
        .bundle
        .unwrap_or_else(|| panic!("{name}: the import does not compile"));
    let engine = rampart_engine::Engine::new(bundle).unwrap_or_else(|e| panic!("{name}: {e}"));
    let items: Vec<Value> = serde_json::from_str(&read(&out.join("entities.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let store = engine
        .entities_from_values(&items)
        .unwrap_or_else(|e| panic!("{name}: imported entities: {e}"));

    // Every entity of the data, and one entity of each type that the data lacks (no
    // attributes, no parents: `has` is false, reading an attribute an error).
    let mut uids: Vec<cedar_policy::EntityUid> = entities.iter().map(|e| e.uid()).collect();
    let types: BTreeSet<String> = uids.iter().map(|u| u.type_name().to_string()).collect();
    for ty in types {
        let ghost = format!("{ty}::\"ghost\"");
        uids.push(
            cedar_policy::EntityUid::from_str(&ghost).unwrap_or_else(|e| panic!("{ghost}: {e}")),
        );
    }
    // `PhotoApp::` when the example has a namespace.
    let namespace = uids
        .first()
        .map(|u| u.type_name().namespace())
        .filter(|ns| !ns.is_empty())
        .map(|ns| format!("{ns}::"))
        .unwrap_or_default();
    let mut counts = Counts::default();
    for action in schema.actions() {
        let principal_types: BTreeSet<String> = schema
            .principals_for_action(action)
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let resource_types: BTreeSet<String> = schema
            .resources_for_action(action)
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let action_name = action.id().unescaped().to_owned();
        let ctxs = contexts
            .get(&action_name)
            .or_else(|| contexts.get("*"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![json!({})]);
        for p in uids
            .iter()
            .filter(|u| principal_types.contains(&u.type_name().to_string()))
        {
            for r in uids
                .iter()
                .filter(|u| resource_types.contains(&u.type_name().to_string()))
            {
                for ctx in &ctxs {
                    counts.requests += 1;
                    let context = cedar_policy::Context::from_json_value(
                        ctx.clone(),
                        Some((&schema, action)),
                    )
                    .unwrap_or_else(|e| panic!("{name}: context {ctx}: {e}"));
                    let request = cedar_policy::Request::new(
                        p.clone(),
                        action.clone(),
                        r.clone(),
                        context,
                        Some(&schema),
                    )
                    .unwrap_or_else(|e| panic!("{name}: request: {e}"));
                    let response = authorizer.is_authorized(&request, &policies, &entities);
                    let cedar_allow = response.decision() == cedar_policy::Decision::Allow;
                    let cedar_rules: BTreeSet<String> =
                        response.diagnostics().reason().map(&rule_id).collect();
                    let cedar_errors = response.diagnostics().errors().count();

                    let rampart_request = json!({
                        "principal": {"type": p.type_name().basename(), "id": p.id().unescaped()},
                        "action": action_name,
                        "resource": {"type": r.type_name().basename(), "id": r.id().unescaped()},
                        "context": strip_namespace(ctx, &namespace),
                    });
                    let decision = engine.decide_json(&rampart_request.to_string(), &store);
                    let rampart_allow = decision.is_allow();
                    let rampart_rules: BTreeSet<String> = decision.rules.iter().cloned().collect();
                    let what = format!(
                        "{name}: {p} {action} {r} {ctx}: cedar {:?} by {cedar_rules:?}, rampart {:?} by {rampart_rules:?} (errors {:?})",
                        response.decision(),
                        decision.decision,
                        decision.errors
                    );
                    if cedar_errors > 0 {
                        // Fail closed: Rampart never allows what Cedar, skipping the
                        // policies that errored, denies.
                        counts.cedar_errors += 1;
                        assert!(!rampart_allow || cedar_allow, "{what}");
                        assert!(!decision.errors.is_empty(), "{what}");
                        if cedar_allow && !rampart_allow {
                            counts.fail_closed += 1;
                        }
                        continue;
                    }
                    counts.compared += 1;
                    assert_eq!(cedar_allow, rampart_allow, "{what}");
                    assert_eq!(cedar_rules, rampart_rules, "{what}");
                    assert!(decision.errors.is_empty(), "{what}");
                    if cedar_allow {
                        counts.allows += 1;
                    }
                }
            }
        }
    }
    counts
}

/// Runs the importer on the given Cedar texts; returns the assertion and the output folder.
fn import_text(test: &str, policies: &str, schema: &str) -> (assert_cmd::assert::Assert, PathBuf) {
    let dir = scratch(test);
    std::fs::write(dir.join("p.cedar"), policies).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("s.cedarschema"), schema).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    let assert = rampart()
        .args(["import", "cedar"])
        .arg(dir.join("p.cedar"))
        .arg("--schema")
        .arg(dir.join("s.cedarschema"))
        .arg("-o")
        .arg(&out)
        .assert();
    (assert, out)
}

const SCHEMA: &str = r#"
entity User { level: Long, nick?: String };
entity Doc { owner: User, price: decimal };
action read appliesTo { principal: [User], resource: [Doc] };
"#;

const PLAIN_SCHEMA: &str = r#"
entity User { level: Long };
entity Doc { owner: User };
action read appliesTo { principal: [User], resource: [Doc] };
"#;

#[test]
fn a_template_is_refused_naming_the_policy() {
    let (assert, out) = import_text(
        "template",
        r#"@id("ok") permit (principal, action == Action::"read", resource) when { resource.owner == principal };
           @id("linked") permit (principal == ?principal, action, resource);"#,
        PLAIN_SCHEMA,
    );
    assert
        .code(1)
        .stderr(predicate::str::contains(
            "policy `policy1`: templates are not supported yet",
        ))
        .stderr(predicate::str::contains("nothing was written"));
    assert!(!out.exists(), "nothing is written on an error");
}

#[test]
fn decimals_translate_in_the_schema_and_in_policies() {
    let (assert, out) = import_text(
        "decimal",
        r#"@id("cheap") permit (principal, action, resource) when { resource.price.lessThan(decimal("12.50")) && decimal("-0.5").lessThanOrEqual(resource.price) };"#,
        SCHEMA,
    );
    assert.success();
    let text = |name: &str| {
        std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let all = std::fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rampart"))
        .map(|e| text(&e.file_name().to_string_lossy()))
        .collect::<String>();
    assert!(all.contains("price: Decimal"), "{all}");
    assert!(
        all.contains("resource.price < 12.5 and -0.5 <= resource.price"),
        "{all}"
    );
    // A text Cedar's `decimal` refuses (five digits after the point) is refused by name.
    let (assert, _) = import_text(
        "decimal-policy",
        r#"@id("precise") permit (principal, action, resource) when { resource.price.lessThan(decimal("1.23456")) };"#,
        SCHEMA,
    );
    assert
        .code(1)
        .stderr(predicate::str::contains("policy `precise`:"))
        .stderr(predicate::str::contains("at most four digits"));
}

#[test]
fn several_namespaces_are_refused() {
    let (assert, _) = import_text(
        "namespaces",
        r#"permit (principal, action, resource);"#,
        "namespace A { entity User; action read appliesTo { principal: User, resource: User }; }\n\
         namespace B { entity Doc; }",
    );
    assert
        .code(1)
        .stderr(predicate::str::contains(
            "the schema declares several namespaces",
        ))
        .stderr(predicate::str::contains("`A`").and(predicate::str::contains("`B`")));
}

#[test]
fn unsupported_constructs_are_all_listed() {
    let (assert, out) = import_text(
        "constructs",
        r#"@id("dec") permit (principal, action, resource) when { decimal("1.00001").lessThan(decimal("2.0")) };
           @id("ip-computed") permit (principal, action, resource) when { ip(principal.nick).isIpv4() };
           @id("is-test") permit (principal, action, resource) when { principal is User };
           @id("to-time") permit (principal, action, resource) when { datetime("2024-01-01").toTime() > duration("1h") };
           @id("fine") permit (principal, action, resource) when { principal.level > 2 };"#,
        PLAIN_SCHEMA,
    );
    // `is`, `if` and the datetime conversions have Rampart forms; decimals with five digits
    // after the point and addresses computed from strings do not.
    assert
        .code(1)
        .stderr(predicate::str::contains("policy `dec`: "))
        .stderr(predicate::str::contains("policy `ip-computed`: "))
        .stderr(predicate::str::contains("is-test").not())
        .stderr(predicate::str::contains("to-time").not())
        .stderr(predicate::str::contains("fine").not())
        .stderr(predicate::str::contains(
            "2 constructs cannot be translated",
        ));
    assert!(!out.exists());
}

const ENUM_SCHEMA: &str = r#"
entity User { level: Long };
entity Color enum ["red", "blue"];
entity Doc { color: Color };
action read appliesTo { principal: [User], resource: [Doc] };
"#;

#[test]
fn enumerated_entity_types_import_and_their_ids_are_checked() {
    let (assert, out) = import_text(
        "enum",
        r#"@id("red-docs") permit (principal, action, resource) when { resource.color == Color::"red" };"#,
        ENUM_SCHEMA,
    );
    assert.success();
    let schema = read(&out.join("schema.rampart"));
    assert!(schema.contains("entity Color\n"), "{schema}");
    assert!(
        schema.contains(r#"an enumerated entity type, whose only entities are "red", "blue""#),
        "{schema}"
    );
    assert!(read(&out.join("policies.rampart")).contains(r#"resource.color == Color::"red""#));

    // An id outside the enumeration: Cedar's validator refuses the policy, and so does the
    // import.
    let (assert, out) = import_text(
        "enum-bad-id",
        r#"@id("green-docs") permit (principal, action, resource) when { resource.color == Color::"green" };"#,
        ENUM_SCHEMA,
    );
    assert.code(1).stderr(predicate::str::contains(
        r#"policy `green-docs`: `Color::"green"`: not one of the entities of the enumerated entity type `Color`"#,
    ));
    assert!(!out.exists());
}

#[test]
fn action_names_are_kept_as_they_are() {
    // Rampart's action names are strings, as Cedar's ids are: an empty name and a control
    // character (escaped) are names like any other; a group no request names is not declared.
    let (assert, out) = import_text(
        "action-names",
        r#"@id("empty") permit (principal, action == Action::"", resource);
           @id("group") permit (principal, action in Action::"\u{1c}", resource);"#,
        r#"entity User;
           action "\u{1c}";
           action "" in [Action::"\u{1c}"] appliesTo { principal: [User], resource: [User] };
           action "\u{7}" appliesTo { principal: [User], resource: [User] };"#,
    );
    assert.success();
    let schema = read(&out.join("schema.rampart"));
    assert!(schema.contains(r#"action "" on User for User"#), "{schema}");
    assert!(
        schema.contains(r#"action "\u{7}" on User for User"#),
        "{schema}"
    );
    assert!(
        schema.contains(r#"(no `appliesTo` types): `\u{1c}`"#),
        "{schema}"
    );
    let policies = read(&out.join("policies.rampart"));
    assert!(policies.contains(r#"allow """#), "{policies}");
}

#[test]
fn unreadable_or_invalid_input_exits_2() {
    let (assert, _) = import_text(
        "syntax",
        "permit (principal, action, resource) when {",
        PLAIN_SCHEMA,
    );
    assert
        .code(2)
        .stderr(predicate::str::contains("is not valid Cedar"));
    let (assert, _) = import_text(
        "bad-schema",
        "permit (principal, action, resource);",
        "entity {",
    );
    assert
        .code(2)
        .stderr(predicate::str::contains("is not a valid Cedar schema"));
    rampart()
        .args([
            "import",
            "cedar",
            "/nonexistent/p.cedar",
            "--schema",
            "/nonexistent/s.json",
            "-o",
        ])
        .arg(scratch("missing").join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn an_existing_folder_is_not_overwritten() {
    let dir = scratch("existing");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("keep.txt"), "mine").unwrap_or_else(|e| panic!("{e}"));
    let src = examples().join("network");
    rampart()
        .args(["import", "cedar"])
        .arg(src.join("policies.cedar"))
        .arg("--schema")
        .arg(src.join("schema.cedarschema"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not empty"));
    assert_eq!(read(&out.join("keep.txt")), "mine");
}

#[test]
fn a_json_schema_gives_the_same_translation() {
    for name in ["documents", "labels"] {
        same_translation_from_json_schema(name);
    }
}

fn same_translation_from_json_schema(name: &str) {
    let src = examples().join(name);
    let (fragment, _) =
        cedar_policy::SchemaFragment::from_cedarschema_str(&read(&src.join("schema.cedarschema")))
            .unwrap_or_else(|e| panic!("{e}"));
    let json = fragment.to_json_string().unwrap_or_else(|e| panic!("{e}"));
    let dir = scratch(&format!("json-schema-{name}"));
    std::fs::write(dir.join("schema.json"), json).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    rampart()
        .args(["import", "cedar"])
        .arg(src.join("policies.cedar"))
        .arg("--schema")
        .arg(dir.join("schema.json"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let from_text = import_example(name);
    for file in ["policies.rampart", "schema.rampart"] {
        let strip = |text: String| text.replace("schema.json", "schema.cedarschema");
        assert_eq!(
            strip(read(&out.join(file))),
            strip(read(&from_text.join(file))),
            "{name}/{file}"
        );
    }
}

#[test]
fn hostile_input_is_refused_without_a_crash() {
    // Brackets nested past any translatable depth: refused before parsing (exit 2).
    let deep = format!(
        "permit (principal, action, resource) when {{ {}true{} }};",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let (assert, _) = import_text("deep", &deep, PLAIN_SCHEMA);
    assert.code(2).stderr(predicate::str::contains(
        "nests brackets more than 256 deep",
    ));
    // Thousands of conjuncts parse (on the importer's own stack) and meet Rampart's limit
    // of 1024 operands in one `and` chain.
    let conjuncts: Vec<String> = (0..3000)
        .map(|i| format!("principal.level > {i}"))
        .collect();
    let wide = format!(
        "permit (principal, action, resource) when {{ {} }};",
        conjuncts.join(" && ")
    );
    let (assert, out) = import_text("wide", &wide, PLAIN_SCHEMA);
    assert
        .code(1)
        .stderr(predicate::str::contains("E018"))
        .stderr(predicate::str::contains("nothing was written"));
    assert!(!out.exists());
}

#[test]
fn a_context_field_of_the_builtin_context_is_refused() {
    let (assert, _) = import_text(
        "builtin-context",
        r#"permit (principal, action, resource) when { context.time > 0 && principal.level > 0 };"#,
        "entity User { level: Long }; entity Doc;\n\
         action read appliesTo { principal: [User], resource: [Doc], context: { time: Long } };",
    );
    assert.code(1).stderr(predicate::str::contains(
        "schema: action `read`: context field `time` is a builtin field of Rampart's request context",
    ));
}

/// Imports the network example with the given entity data.
fn import_network_with(test: &str, entities: &Value) -> (assert_cmd::assert::Assert, PathBuf) {
    let src = examples().join("network");
    let dir = scratch(test);
    std::fs::write(dir.join("e.json"), entities.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    let assert = rampart()
        .args(["import", "cedar"])
        .arg(src.join("policies.cedar"))
        .arg("--schema")
        .arg(src.join("schema.cedarschema"))
        .arg("--entities")
        .arg(dir.join("e.json"))
        .arg("-o")
        .arg(&out)
        .assert();
    (assert, out)
}

#[test]
fn action_entities_are_dropped_and_bad_entity_data_is_refused() {
    let (assert, out) = import_network_with(
        "actions",
        &json!([
            {"uid": {"type": "Action", "id": "connect"}, "attrs": {}, "parents": []},
            {"uid": {"type": "Operator", "id": "olga"}, "attrs": {"team": "ops"}, "parents": []}
        ]),
    );
    assert
        .success()
        .stderr(predicate::str::contains("1 `Action` entities dropped"));
    let written: Value =
        serde_json::from_str(&read(&out.join("entities.json"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        written,
        json!([{"uid": {"type": "Operator", "id": "olga"}, "attrs": {"team": "ops"}, "parents": []}])
    );

    let (assert, out) = import_network_with(
        "bad-entities",
        &json!([{"uid": {"type": "Operator", "id": "olga"}, "attrs": {"team": 7}, "parents": []}]),
    );
    assert
        .code(1)
        .stderr(predicate::str::contains(
            "does not load against the imported schema",
        ))
        .stderr(predicate::str::contains("olga"));
    assert!(!out.exists());
}
