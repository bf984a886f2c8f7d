//! `rampart compliance`: coverage states, the rules behind each control, every output
//! format, `--fail-under` and `--list`, end to end on the fixtures of
//! `tests/fixtures/compliance/`.
//!
//! `basic/` declares `owasp-api-2023` and `gdpr` in its rampart.toml and waives
//! `owasp-api-2023/API7` (no rule) and `gdpr/Art. 44` (a rule maps to it); `stdlib/`
//! imports `std.zerotrust`, has no `@control` of its own and no rampart.toml.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn rampart() -> Command {
    let mut cmd = Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compliance")
        .join(name)
}

/// A scratch folder for one test, removed and recreated.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compliance-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Runs `rampart compliance ARGS`, expects exit 0 and returns standard output.
fn stdout_of(args: &[&str]) -> String {
    let out = rampart().arg("compliance").args(args).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

fn json_of(args: &[&str]) -> Value {
    let text = stdout_of(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn basic() -> String {
    fixture("basic").display().to_string()
}

fn framework<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["frameworks"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["framework"] == slug))
        .unwrap_or_else(|| panic!("no framework `{slug}` in {report}"))
}

fn control<'a>(framework: &'a Value, id: &str) -> &'a Value {
    framework["controls"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no control `{id}` in {framework}"))
}

/// `(id, file, line)` of a control's rules.
fn rules_of(control: &Value) -> Vec<(String, String, u64)> {
    control["rules"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap_or_default().to_owned(),
                        r["file"].as_str().unwrap_or_default().to_owned(),
                        r["line"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn rule(id: &str, line: u64) -> (String, String, u64) {
    (id.to_owned(), "docs.rampart".to_owned(), line)
}

#[test]
fn json_reports_the_declared_frameworks_with_states_and_rules() {
    let report = json_of(&[&basic(), "--format", "json"]);
    let slugs: Vec<&str> = report["frameworks"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["framework"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(slugs, ["owasp-api-2023", "gdpr"], "rampart.toml order");

    let owasp = framework(&report, "owasp-api-2023");
    let states: Vec<(&str, &str)> = owasp["controls"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| Some((c["id"].as_str()?, c["state"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        states,
        [
            ("API1", "partial"),
            ("API2", "uncovered"),
            ("API3", "uncovered"),
            ("API4", "partial"),
            ("API5", "enforced"),
            ("API6", "uncovered"),
            ("API7", "not-applicable"),
            ("API8", "partial"),
            ("API9", "uncovered"),
            ("API10", "uncovered"),
        ],
        "catalog order and states"
    );
    assert_eq!(
        rules_of(control(owasp, "API5")),
        [rule("doc-write-admin", 15)]
    );
    assert_eq!(
        rules_of(control(owasp, "API1")),
        [rule("doc-read-owner", 11)]
    );
    // An obligation counts; `owasp-api/API8` and `API4:2023` resolve to canonical ids.
    assert_eq!(rules_of(control(owasp, "API4")), [rule("write-quota", 29)]);
    assert_eq!(control(owasp, "API4")["rules"][0]["kind"], "obligation");
    assert_eq!(rules_of(control(owasp, "API8")), [rule("tls-floor", 24)]);
    assert_eq!(control(owasp, "API8")["canonical"], "owasp-api-2023/API8");
    assert_eq!(control(owasp, "API5")["automatable"], "full");
    let api7 = control(owasp, "API7");
    assert_eq!(api7["waiver_reason"], "the API makes no outbound requests");
    assert!(control(owasp, "API1").get("waiver_reason").is_none());
    assert_eq!(
        owasp["summary"],
        serde_json::json!({"controls": 10, "enforced": 1, "partial": 3, "manual": 0,
                           "not_applicable": 1, "uncovered": 5})
    );
    assert_eq!(owasp["coverage"].as_f64(), Some(50.0));
    assert_eq!(owasp["title"], "OWASP API Security Top 10 – 2023");
    assert_eq!(owasp["version"], "2023");

    let gdpr = framework(&report, "gdpr");
    // A waiver wins over rules, and the rules are still listed.
    let art44 = control(gdpr, "Art. 44");
    assert_eq!(art44["state"], "not-applicable");
    assert_eq!(
        art44["waiver_reason"],
        "all processing stays in the EU region"
    );
    assert_eq!(rules_of(art44), [rule("no-guest-writes", 19)]);
    assert_eq!(control(gdpr, "Art. 25(2)")["state"], "partial");
    assert_eq!(control(gdpr, "Art. 30")["state"], "manual");
    assert_eq!(control(gdpr, "Art. 5")["state"], "uncovered");
    for f in report["frameworks"].as_array().into_iter().flatten() {
        assert_summary_matches_controls(f);
    }
}

/// The summary counts the controls' states, and coverage follows the documented formula.
fn assert_summary_matches_controls(f: &Value) {
    let controls = f["controls"].as_array().cloned().unwrap_or_default();
    let count = |state: &str| controls.iter().filter(|c| c["state"] == state).count();
    let s = &f["summary"];
    assert_eq!(s["controls"].as_u64(), Some(controls.len() as u64), "{f}");
    for (key, state) in [
        ("enforced", "enforced"),
        ("partial", "partial"),
        ("manual", "manual"),
        ("not_applicable", "not-applicable"),
        ("uncovered", "uncovered"),
    ] {
        assert_eq!(s[key].as_u64(), Some(count(state) as u64), "{key} in {f}");
    }
    let covered = count("enforced") + count("partial") + count("not-applicable");
    let applicable = controls.len() - count("manual");
    // Every control manual: nothing to cover, 100 %.
    let tenths = (covered * 1000).checked_div(applicable).unwrap_or(1000);
    assert_eq!(f["coverage"].as_f64(), Some(tenths as f64 / 10.0), "{f}");
    for c in &controls {
        for key in ["id", "canonical", "title", "automatable", "state"] {
            assert!(c[key].is_string(), "`{key}` in {c}");
        }
        assert!(c["rules"].is_array(), "{c}");
    }
}

#[test]
fn framework_flags_override_the_project_and_accept_aliases() {
    let report = json_of(&[
        &basic(),
        "--format",
        "json",
        "--framework",
        "HIPAA-Security",
        "--framework",
        "hipaa",
    ]);
    let frameworks = report["frameworks"].as_array().cloned().unwrap_or_default();
    assert_eq!(frameworks.len(), 1, "{report}");
    let hipaa = framework(&report, "hipaa");
    assert_eq!(control(hipaa, "164.312(e)(1)")["state"], "enforced");
    // A rule on a process-only control makes it partial.
    let encryption = control(hipaa, "164.312(a)(2)(iv)");
    assert_eq!(encryption["automatable"], "none");
    assert_eq!(encryption["state"], "partial");
    assert_eq!(rules_of(encryption), [rule("tls-floor", 24)]);
    assert_eq!(control(hipaa, "164.308(a)(5)(ii)(D)")["state"], "manual");
    assert_eq!(control(hipaa, "164.312(d)")["state"], "uncovered");
    assert_summary_matches_controls(hipaa);
}

#[test]
fn rules_of_imported_stdlib_packs_count() {
    let dir = fixture("stdlib").display().to_string();
    let report = json_of(&[&dir, "--format", "json"]);
    // No rampart.toml and no `@control` of its own: the frameworks are those the pack's
    // rules reference.
    let frameworks = report["frameworks"].as_array().cloned().unwrap_or_default();
    assert!(!frameworks.is_empty(), "{report}");
    for f in &frameworks {
        let rules: Vec<(String, String, u64)> = f["controls"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(rules_of)
            .collect();
        assert!(
            !rules.is_empty(),
            "every framework reported has a rule: {f}"
        );
        for (id, file, line) in &rules {
            assert!(id.starts_with("std.zerotrust."), "{id}");
            assert_eq!(file, "<stdlib>/std.zerotrust.rampart");
            assert!(*line > 0);
        }
        assert_summary_matches_controls(f);
    }
}

#[test]
fn without_a_project_every_referenced_framework_is_reported() {
    let dir = scratch("referenced");
    let policy = r#"package p
schema {
  entity User
  entity Doc
  action "doc:read" on Doc for User
}
@id("r")
@control("eu-gdpr/art32")
allow "doc:read" on Doc for User
"#;
    std::fs::write(dir.join("p.rampart"), policy).unwrap_or_default();
    let report = json_of(&[&dir.display().to_string(), "--format", "json"]);
    let slugs: Vec<&str> = report["frameworks"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["framework"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(slugs, ["gdpr"]);
    let art32 = control(framework(&report, "gdpr"), "Art. 32");
    assert_eq!(
        rules_of(art32),
        [("r".to_owned(), "p.rampart".to_owned(), 9)]
    );
}

#[test]
fn policy_errors_are_printed_and_exit_1() {
    let dir = scratch("broken");
    let policy = "package p\nschema {\n  entity User\n  entity Doc\n  action \"doc:read\" on Doc for User\n}\n\
                  @control(\"gdpr/Art. 99\")\nallow \"doc:read\" on Doc for User\n";
    std::fs::write(dir.join("p.rampart"), policy).unwrap_or_default();
    rampart()
        .arg("compliance")
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("E022"));
}

#[test]
fn human_report_is_plain_without_a_terminal() {
    let text = stdout_of(&[&basic()]);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(
        text.contains("owasp-api-2023 — OWASP API Security Top 10 – 2023"),
        "{text}"
    );
    assert!(text.contains("coverage 50.0%: 1 enforced, 3 partial, 1 not-applicable, 5 uncovered, 0 manual (10 controls)"), "{text}");
    assert!(
        text.contains("waived: the API makes no outbound requests"),
        "{text}"
    );
    assert!(
        text.contains("allow doc-write-admin  docs.rampart:15"),
        "{text}"
    );
    let api5 = text
        .lines()
        .find(|l| l.contains("API5"))
        .unwrap_or_default();
    assert!(api5.trim_start().starts_with("enforced"), "{api5}");
}

#[test]
fn markdown_has_a_table_per_framework() {
    let text = stdout_of(&[&basic(), "--format", "markdown"]);
    assert_eq!(
        text.matches("| Control | Title | Automatable | State | Rules |")
            .count(),
        2
    );
    assert!(
        text.contains("## OWASP API Security Top 10 – 2023 (`owasp-api-2023`, version 2023)"),
        "{text}"
    );
    assert!(text.contains("**Coverage 50.0%**"), "{text}");
    assert!(text.contains(
        "| API5 | Broken Function Level Authorization | full | enforced | `doc-write-admin` (docs.rampart:15) |"
    ), "{text}");
    assert!(text.contains(
        "| not-applicable | waived: all processing stays in the EU region<br>`no-guest-writes` (docs.rampart:19) |"
    ), "{text}");
}

fn is_uuid_v5_style(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && parts[2].starts_with('5')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

#[test]
fn oscal_is_a_reproducible_component_definition() {
    let run = || {
        let out = rampart()
            .args(["compliance", &basic(), "--format", "oscal"])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stdout).into_owned()
    };
    let first = run();
    assert_eq!(first, run(), "two runs give the same document");
    let doc: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let cd = &doc["component-definition"];
    let meta = &cd["metadata"];
    assert_eq!(meta["oscal-version"], "1.1.2");
    assert_eq!(meta["last-modified"], "2023-11-14T22:13:20Z");
    assert!(
        meta["title"].is_string() && meta["version"].is_string(),
        "{meta}"
    );
    let components = cd["components"].as_array().cloned().unwrap_or_default();
    assert_eq!(components.len(), 1);
    let component = &components[0];
    assert_eq!(component["type"], "software");
    assert_eq!(component["title"], "Rampart policy set basic");
    assert!(component["description"].is_string());

    let mut uuids = vec![cd["uuid"].clone(), component["uuid"].clone()];
    let implementations = component["control-implementations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sources: Vec<&str> = implementations
        .iter()
        .filter_map(|ci| ci["source"].as_str())
        .collect();
    assert_eq!(
        sources,
        [
            "https://owasp.org/API-Security/editions/2023/en/0x11-t10/",
            "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
        ]
    );
    let mut requirements = Vec::new();
    for ci in &implementations {
        assert!(ci["description"].is_string());
        uuids.push(ci["uuid"].clone());
        for req in ci["implemented-requirements"]
            .as_array()
            .into_iter()
            .flatten()
        {
            uuids.push(req["uuid"].clone());
            assert!(req["description"].is_string(), "{req}");
            let props = req["props"].as_array().cloned().unwrap_or_default();
            let value_of = |name: &str| -> Vec<String> {
                props
                    .iter()
                    .filter(|p| p["name"] == name)
                    .inspect(|p| assert_eq!(p["ns"], "https://rampart.dev/ns/oscal"))
                    .filter_map(|p| p["value"].as_str().map(str::to_owned))
                    .collect()
            };
            let id = req["control-id"].as_str().unwrap_or_default().to_owned();
            requirements.push((id, value_of("coverage-state"), value_of("rule-id")));
        }
    }
    let text = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        requirements,
        [
            ("API1".into(), text(&["partial"]), text(&["doc-read-owner"])),
            ("API4".into(), text(&["partial"]), text(&["write-quota"])),
            (
                "API5".into(),
                text(&["enforced"]),
                text(&["doc-write-admin"])
            ),
            ("API7".into(), text(&["not-applicable"]), text(&[])),
            ("API8".into(), text(&["partial"]), text(&["tls-floor"])),
            (
                "Art. 25(2)".into(),
                text(&["partial"]),
                text(&["doc-read-owner"])
            ),
            (
                "Art. 44".into(),
                text(&["not-applicable"]),
                text(&["no-guest-writes"])
            ),
        ] as [(String, Vec<String>, Vec<String>); 7]
    );
    let uuids: Vec<&str> = uuids.iter().filter_map(Value::as_str).collect();
    assert_eq!(uuids.len(), 2 + 2 + 7);
    for u in &uuids {
        assert!(is_uuid_v5_style(u), "{u}");
    }
    let mut unique = uuids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), uuids.len(), "uuids are distinct");
}

#[test]
fn fail_under_gates_on_the_lowest_framework() {
    let report = json_of(&[&basic(), "--format", "json"]);
    let gdpr = framework(&report, "gdpr")["coverage"]
        .as_f64()
        .unwrap_or(100.0);
    assert!(gdpr < 50.0, "{gdpr}");
    let at = format!("{gdpr:.1}");
    rampart()
        .args([
            "compliance",
            &basic(),
            "--format",
            "json",
            "--fail-under",
            &at,
        ])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    let above = format!("{:.1}", gdpr + 0.1);
    rampart()
        .args(["compliance", &basic(), "--fail-under", &above])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`gdpr` coverage"))
        .stderr(predicate::str::contains("owasp").not());
    rampart()
        .args(["compliance", &basic(), "--fail-under", "50.1"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("`gdpr`").and(predicate::str::contains("`owasp-api-2023`")),
        );
    rampart()
        .args(["compliance", &basic(), "--fail-under", "101"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("0 to 100"));
}

#[test]
fn unknown_framework_is_a_usage_error_with_a_suggestion() {
    rampart()
        .args(["compliance", &basic(), "--framework", "owasp-apii"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "unknown compliance framework `owasp-apii`",
        ))
        .stderr(predicate::str::contains("did you mean `owasp-api`?"));
    rampart()
        .args(["compliance", "--list", "--framework", "sox"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown compliance framework `sox`",
        ));
}

#[test]
fn a_folder_is_required_unless_listing() {
    rampart().arg("compliance").assert().code(2);
}

#[test]
fn list_prints_frameworks_and_controls() {
    let text = stdout_of(&["--list"]);
    for slug in ["gdpr", "hipaa", "owasp-api-2023"] {
        assert!(
            text.lines().any(|l| l.starts_with(slug)),
            "{slug} in {text}"
        );
    }
    assert!(text.contains("aliases: owasp-api, owasp"), "{text}");

    let all = json_of(&["--list", "--format", "json"]);
    let owasp = framework(&all, "owasp-api-2023");
    assert_eq!(owasp["control_count"], 10);
    assert!(owasp["aliases"]
        .as_array()
        .is_some_and(|a| a.contains(&"owasp".into())));
    assert!(
        owasp.get("controls").is_none(),
        "controls only with --framework"
    );

    let one = json_of(&["--list", "--framework", "owasp", "--format", "json"]);
    assert_eq!(one["frameworks"].as_array().map(Vec::len), Some(1));
    let api5 = control(framework(&one, "owasp-api-2023"), "API5");
    assert_eq!(api5["title"], "Broken Function Level Authorization");
    assert_eq!(api5["automatable"], "full");

    let text = stdout_of(&["--list", "--framework", "gdpr"]);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Art. 30") && l.contains("none")),
        "{text}"
    );
}
