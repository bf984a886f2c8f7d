//! The command-line interface, end to end: outputs and exit codes (0 ok, 1 policy, test or
//! decision failures, 2 usage or I/O errors).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn rampart() -> Command {
    Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn payments() -> PathBuf {
    workspace().join("examples/payments")
}

/// A scratch folder for one test, removed and recreated.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

const BROKEN: &str = r#"package broken
schema {
  entity User { mfa: Bool }
  entity Doc
  action "doc:read" on Doc for User
}
allow "doc:read" on Doc for User when principal.mfaa
allow "doc:wrte" on Doc for User
"#;

#[test]
fn check_accepts_the_payments_example() {
    rampart().arg("check").arg(payments()).assert().success();
}

#[test]
fn check_reports_every_error_with_exit_1() {
    let dir = scratch("broken");
    std::fs::write(dir.join("p.rampart"), BROKEN).unwrap_or_default();
    rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("E005").and(predicate::str::contains("E007")))
        .stderr(predicate::str::contains("did you mean"));
}

/// `check` reads `entities.json` as `eval` and `serve` would: data they would refuse is
/// E025, pointing at the entity (or the syntax error), and a good file passes.
#[test]
fn check_loads_the_folders_entity_data_against_the_schema() {
    let dir = scratch("entity-data");
    let policy = "package p\nschema {\n  entity User { mfa: Bool }\n  entity Doc\n  action \"read\" on Doc for User\n}\n@allow_lint(\"L001\")\nallow \"read\" on Doc for User when principal.mfa\n";
    std::fs::write(dir.join("p.rampart"), policy).unwrap_or_default();
    let good = r#"[{"uid": {"type": "User", "id": "ana"}, "attrs": {"mfa": true}, "parents": []}]"#;
    std::fs::write(dir.join("entities.json"), good).unwrap_or_default();
    rampart().arg("check").arg(&dir).assert().success();

    let bad = "[\n  {\"uid\": {\"type\": \"User\", \"id\": \"ana\"}, \"attrs\": {\"mfa\": true}, \"parents\": []},\n  {\"uid\": {\"type\": \"User\", \"id\": \"ben\"}, \"attrs\": {\"mfa\": \"yes\"}, \"parents\": []}\n]\n";
    std::fs::write(dir.join("entities.json"), bad).unwrap_or_default();
    let out = rampart()
        .args(["check", "--format", "json"])
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["code"], "E025", "{report}");
    let message = diagnostic["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("User::\"ben\"") && message.contains("attrs.mfa"),
        "{message}"
    );
    assert_eq!(
        diagnostic["line"], 3,
        "the label is on ben's line: {report}"
    );
    rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("E025").and(predicate::str::contains("entities.json")));

    std::fs::write(dir.join("entities.json"), "[{\"uid\": ").unwrap_or_default();
    rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("E025").and(predicate::str::contains("not valid JSON")));
}

#[test]
fn check_json_lists_codes_and_positions() {
    let dir = scratch("broken-json");
    std::fs::write(dir.join("p.rampart"), BROKEN).unwrap_or_default();
    let out = rampart()
        .args(["check", "--format", "json"])
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        codes.contains(&"E005") && codes.contains(&"E007"),
        "{report}"
    );
    assert_eq!(report["diagnostics"][0]["line"], 7, "{report}");
}

#[test]
fn missing_folder_is_a_usage_error() {
    rampart()
        .args(["check", "/nonexistent/rampart/policies"])
        .assert()
        .code(2);
    rampart().args(["frobnicate"]).assert().code(2);
}

#[test]
fn test_runs_the_example_tests() {
    rampart()
        .arg("test")
        .arg(payments())
        .assert()
        .success()
        .stdout(predicate::str::contains("PASS").and(
            predicate::str::is_match(r"\d+ passed, 0 failed").unwrap_or_else(|e| panic!("{e}")),
        ));
}

#[test]
fn failing_test_exits_1_and_junit_reports_it() {
    let dir = scratch("failing-test");
    let policy = r#"package t
schema {
  entity User
  entity Doc
  action "doc:read" on Doc for User
}
@id("read")
allow "doc:read" on Doc for User
test "reads" {
  request principal User::"a" action "doc:read" resource Doc::"d"
  expect allow by ["read"]
}
test "wrongly expects deny" {
  request principal User::"a" action "doc:read" resource Doc::"d"
  expect deny
}
"#;
    std::fs::write(dir.join("t.rampart"), policy).unwrap_or_default();
    rampart()
        .arg("test")
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 passed, 1 failed"));
    rampart()
        .args(["test", "--format", "junit"])
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("<testsuites").and(predicate::str::contains("<failure")));
}

#[test]
fn eval_prints_the_decision_and_exits_by_effect() {
    let dir = payments();
    let out = rampart()
        .arg("eval")
        .arg(&dir)
        .arg("--request")
        .arg(dir.join("requests/pay-owner.json"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let decision: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(decision["decision"], "allow", "{decision}");
    assert_eq!(
        decision["rules"],
        serde_json::json!(["pay-write"]),
        "{decision}"
    );

    let denied = r#"{"principal": "User::\"alice\"", "action": "payments:write", "resource": "Account::\"a1\"",
        "context": {"tls": {"version": "1.1", "mtls": true}, "auth": {"scopes": ["payments:write"]}}}"#;
    rampart()
        .arg("eval")
        .arg(&dir)
        .args(["--request", "-"])
        .write_stdin(denied)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"deny\"").and(predicate::str::contains("tls-min")));
}

#[test]
fn eval_explain_shows_every_selected_rule() {
    let dir = payments();
    rampart()
        .arg("eval")
        .arg(&dir)
        .arg("--request")
        .arg(dir.join("requests/pay-owner.json"))
        .arg("--explain")
        .assert()
        .success()
        .stdout(predicate::str::contains("\"explain\""))
        .stderr(predicate::str::contains("pay-write").and(predicate::str::contains("tls-min")));
}

#[test]
fn eval_bad_request_is_denied_not_crashed() {
    rampart()
        .arg("eval")
        .arg(payments())
        .args(["--request", "-"])
        .write_stdin(r#"{"principal": 42, "action": "payments:write"}"#)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"deny\"").and(predicate::str::contains("principal")));
    rampart()
        .arg("eval")
        .arg(payments())
        .args(["--request", "-"])
        .write_stdin("{not json")
        .assert()
        .code(2);
}

#[test]
fn build_writes_a_bundle() {
    let dir = scratch("build");
    let out = dir.join("bundle.json");
    rampart()
        .arg("build")
        .arg(payments())
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let bundle: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(bundle["format"], "rampart-bundle");
    assert_eq!(bundle["version"], 1);
}

#[test]
fn fmt_check_and_rewrite() {
    let dir = scratch("fmt");
    let file = dir.join("p.rampart");
    std::fs::write(&file, "package p\n// keep me\nschema { entity User entity Doc action \"r\" on Doc for User }\nallow \"r\"   on Doc for User\n").unwrap_or_default();
    rampart()
        .args(["fmt", "--check"])
        .arg(&file)
        .assert()
        .code(1);
    rampart().arg("fmt").arg(&file).assert().success();
    let formatted = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(formatted.contains("// keep me"), "{formatted}");
    rampart()
        .args(["fmt", "--check"])
        .arg(&file)
        .assert()
        .success();
}

#[test]
fn explain_prints_docs_for_codes() {
    rampart()
        .args(["explain", "E005"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty().not());
    rampart().args(["explain", "L001"]).assert().success();
    rampart().args(["explain", "X999"]).assert().code(2);
}

#[test]
fn bench_times_the_users_requests() {
    let dir = payments();
    let out = rampart()
        .arg("bench")
        .arg(&dir)
        .arg("--requests")
        .arg(dir.join("requests/pay-owner.json"))
        .args(["--millis", "50", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(report["requests"], 1, "{report}");
    assert_eq!(report["allowed_requests"], 1, "{report}");
    assert!(
        report["median_ns"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    assert!(
        report["decisions"].as_u64().is_some_and(|n| n >= 1),
        "{report}"
    );
    assert!(report["allocs_per_decision"].is_number(), "{report}");
}

#[test]
fn plan_prints_the_residual_and_its_sql() {
    let dir = payments();
    let out = rampart()
        .arg("plan")
        .arg(&dir)
        .arg("--request")
        .arg(dir.join("plans/alice-read.json"))
        .args(["--sql"])
        .arg(dir.join("plans/mapping.toml"))
        .args(["--dialect", "sqlite"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(plan["decision"], "conditional", "{plan}");
    assert_eq!(plan["resource_type"], "Account", "{plan}");
    let text = plan["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("resource.owner == User::\"alice\""),
        "{text}"
    );
    let sql = &plan["sql"];
    assert_eq!(sql["dialect"], "sqlite");
    let query = sql["query"].as_str().unwrap_or_default();
    assert!(
        query.starts_with("SELECT r.\"id\" FROM \"accounts\" AS r WHERE"),
        "{query}"
    );
    // Values are bound, never written into the SQL.
    assert!(!query.contains("alice"), "{query}");
    assert_eq!(sql["params"][0], "alice", "{sql}");

    // Old TLS: every account is refused, whatever its data.
    rampart()
        .arg("plan")
        .arg(&dir)
        .arg("--request")
        .arg(dir.join("plans/alice-read-old-tls.json"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"decision\": \"never\""));
}

#[test]
fn plan_refuses_bad_requests_mappings_and_unplannable_rules() {
    let dir = payments();
    // A plan names a type, not a resource.
    let with_id = r#"{"principal": {"type": "User", "id": "alice"}, "action": "payments:read",
        "resource": {"type": "Account", "id": "a1"}}"#;
    rampart()
        .arg("plan")
        .arg(&dir)
        .args(["--request", "-"])
        .write_stdin(with_id)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected field `id`"));

    // A mapping naming an attribute the schema does not have: the key is named.
    let scratch = scratch("plan-mapping");
    let mapping = scratch.join("mapping.toml");
    std::fs::write(
        &mapping,
        "[types.Account]\ntable = \"accounts\"\nid = \"id\"\n[types.Account.attributes]\nbalance = \"balance\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    rampart()
        .arg("plan")
        .arg(&dir)
        .arg("--request")
        .arg(dir.join("plans/alice-read.json"))
        .arg("--sql")
        .arg(&mapping)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("types.Account.attributes.balance"));

    // A rule reading an attribute of the account's owner cannot be planned: refused, with
    // the rule and the construct named.
    let policies = scratch.join("policies");
    std::fs::create_dir_all(&policies).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        policies.join("p.rampart"),
        "package p\nschema {\n  entity User { department: String }\n  entity Account { owner: User }\n  action \"read\" on Account for User\n}\n\n@id(\"same-department\")\nallow \"read\" on Account for User when resource.owner.department == principal.department\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    rampart()
        .arg("plan")
        .arg(&policies)
        .args(["--request", "-"])
        .write_stdin(r#"{"principal": {"type": "User", "id": "u"}, "action": "read", "resource": {"type": "Account"}}"#)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("rule `same-department`")
                .and(predicate::str::contains("an attribute of an entity the resource refers to")),
        );
}
