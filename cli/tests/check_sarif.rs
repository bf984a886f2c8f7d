//! `rampart check --format sarif`, parsed back through the `serde-sarif` crate's SARIF
//! 2.1.0 types: rules, levels, locations (relative, forward slashes, character columns),
//! fingerprints and exit codes, on one folder with an error and one with a warning.

use std::path::Path;

use assert_cmd::Command;
use serde_sarif::sarif::{ResultLevel, Sarif};

const ERROR_DIR: &str = "tests/fixtures/sarif/error";
const WARNING_DIR: &str = "tests/fixtures/sarif/warning";

/// Runs `rampart ARGS` in the crate folder; returns (exit code, stdout).
fn run(args: &[&str]) -> (i32, String) {
    let output = Command::cargo_bin("rampart")
        .unwrap_or_else(|e| panic!("rampart binary: {e}"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running rampart: {e}"));
    let stdout = String::from_utf8(output.stdout).unwrap_or_else(|e| panic!("stdout: {e}"));
    (output.status.code().unwrap_or(-1), stdout)
}

fn sarif(args: &[&str]) -> (i32, Sarif, serde_json::Value) {
    let (code, stdout) = run(args);
    let typed: Sarif =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not SARIF 2.1.0: {e}\n{stdout}"));
    let raw: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    (code, typed, raw)
}

#[test]
fn one_error_and_one_warning_become_two_results() {
    let (code, log, raw) = sarif(&["check", "--format", "sarif", ERROR_DIR, WARNING_DIR]);
    assert_eq!(code, 1, "an error fails the check");
    assert_eq!(
        raw["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(log.version, serde_json::json!("2.1.0"));
    assert_eq!(log.runs.len(), 1);
    let run = &log.runs[0];
    assert_eq!(
        run.column_kind,
        Some(serde_json::json!("unicodeCodePoints"))
    );

    let driver = &run.tool.driver;
    assert_eq!(driver.name, "rampart");
    assert_eq!(
        driver.semantic_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(driver.information_uri.is_some());
    let rules = driver.rules.as_deref().unwrap_or_default();
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    for id in ["E001", "E005", "E021", "L001", "L002", "L009", "L010"] {
        assert_eq!(ids.iter().filter(|i| **i == id).count(), 1, "rule {id}");
    }
    for rule in rules {
        assert!(rule.short_description.is_some(), "{}", rule.id);
        assert!(rule.help.is_some(), "{}", rule.id);
        let uri = rule.help_uri.as_deref().unwrap_or_default();
        assert!(uri.ends_with(&format!("/{}", rule.id)), "{uri}");
        let level = rule
            .default_configuration
            .as_ref()
            .and_then(|c| c.level.clone());
        let want = if rule.id.starts_with('E') {
            "error"
        } else {
            "warning"
        };
        assert_eq!(level, Some(serde_json::json!(want)), "{}", rule.id);
    }

    let results = run.results.as_deref().unwrap_or_default();
    assert_eq!(results.len(), 2);
    let summary: Vec<(Option<&str>, Option<ResultLevel>)> = results
        .iter()
        .map(|r| (r.rule_id.as_deref(), r.level))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("E005"), Some(ResultLevel::Error)),
            (Some("L002"), Some(ResultLevel::Warning)),
        ]
    );
    for result in results {
        let index = result.rule_index.and_then(|i| usize::try_from(i).ok());
        let rule = index.and_then(|i| rules.get(i));
        assert_eq!(rule.map(|r| r.id.as_str()), result.rule_id.as_deref());
        assert!(result
            .message
            .text
            .as_deref()
            .is_some_and(|t| !t.is_empty()));
        let fingerprints = result.partial_fingerprints.as_ref();
        assert!(fingerprints.is_some_and(|f| f.values().all(|v| v.len() == 16)));
    }

    let place = |i: usize| {
        let location = results[i]
            .locations
            .as_deref()
            .unwrap_or_default()
            .first()?;
        let physical = location.physical_location.as_ref()?;
        let artifact = physical.artifact_location.as_ref()?;
        let region = physical.region.as_ref()?;
        Some((
            artifact.uri.clone()?,
            artifact.uri_base_id.clone()?,
            (region.start_line?, region.start_column?),
            (region.end_line?, region.end_column?),
        ))
    };
    // `nmae` after `"Zoë"`: column 78 in characters (79 in bytes), 4 long.
    assert_eq!(
        place(0),
        Some((
            format!("{ERROR_DIR}/policy.rampart"),
            "%SRCROOT%".to_owned(),
            (10, 78),
            (10, 82)
        ))
    );
    assert_eq!(
        place(1),
        Some((
            format!("{WARNING_DIR}/policy.rampart"),
            "%SRCROOT%".to_owned(),
            (11, 7),
            (11, 24)
        ))
    );
}

#[test]
fn fingerprints_are_stable_across_runs_and_warnings_alone_pass() {
    let (_, first, _) = sarif(&["check", "--format", "sarif", WARNING_DIR]);
    let (code, second, _) = sarif(&["check", "--format", "sarif", WARNING_DIR]);
    assert_eq!(code, 0, "warnings alone pass without --deny-warnings");
    let prints = |log: &Sarif| -> Vec<String> {
        log.runs[0]
            .results
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.partial_fingerprints.as_ref())
            .flat_map(|f| f.values().cloned())
            .collect()
    };
    assert_eq!(prints(&first).len(), 1);
    assert_eq!(prints(&first), prints(&second));
    let (code, _, _) = sarif(&["check", "--format", "sarif", "--deny-warnings", WARNING_DIR]);
    assert_eq!(code, 1, "--deny-warnings fails on a warning");
}

#[test]
fn a_clean_folder_gives_a_run_without_results() {
    let clean = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ui/ok/lint-L009-route-with-rule.rampart");
    let clean = clean.to_string_lossy().into_owned();
    let (code, log, _) = sarif(&["check", "--format", "sarif", &clean]);
    assert_eq!(code, 0);
    assert!(log.runs[0]
        .results
        .as_deref()
        .unwrap_or_default()
        .is_empty());
}

#[test]
fn lint_reports_in_sarif_too() {
    let (code, log, _) = sarif(&["lint", "--format", "sarif", WARNING_DIR]);
    assert_eq!(code, 0);
    let results = log.runs[0].results.as_deref().unwrap_or_default();
    let ids: Vec<Option<&str>> = results.iter().map(|r| r.rule_id.as_deref()).collect();
    assert_eq!(ids, vec![Some("L002")]);
}

#[test]
fn security_lints_carry_a_security_severity() {
    let (_, _, raw) = sarif(&["check", "--format", "sarif", "tests/fixtures/sarif/warning"]);
    let rules = raw["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules: {raw}"));
    let rule = |id: &str| {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no rule {id}"))
    };
    assert_eq!(rule("L001")["properties"]["security-severity"], "8.0");
    assert_eq!(rule("L001")["properties"]["tags"][0], "security");
    assert_eq!(rule("L003")["properties"]["security-severity"], "7.5");
    assert!(rule("L004")["properties"]
        .get("security-severity")
        .is_none());
    assert_eq!(rule("L004")["properties"]["tags"][0], "maintainability");
    assert!(rule("E005")["properties"]
        .get("security-severity")
        .is_none());
}
