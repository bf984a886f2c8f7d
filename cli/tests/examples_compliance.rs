//! The compliance reports of the examples, as golden files: `rampart compliance
//! examples/NAME --format json` must equal `tests/golden/compliance/NAME.json`, and
//! `--format markdown` must equal `examples/NAME/compliance.md` (the report committed
//! beside the policy so readers see its coverage; the file is the report under a short
//! generated preamble). Run with `RAMPART_BLESS=1` to rewrite the golden files from the
//! current output.
//!
//! The reports have no run-dependent field (no timestamp, no absolute path: rule files are
//! relative to the policy folder, stdlib packs are `<stdlib>/…`), so nothing is stripped
//! before comparing. A golden file alone would accept any mapping, so each example also has
//! assertions on what its rules must enforce, independent of the golden files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The examples whose reports are kept as golden files.
const EXAMPLES: [&str; 3] = ["payments", "healthcare", "saas"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

fn example(name: &str) -> PathBuf {
    workspace().join("examples").join(name)
}

fn json_golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/compliance")
        .join(format!("{name}.json"))
}

fn markdown_golden(name: &str) -> PathBuf {
    example(name).join("compliance.md")
}

fn blessing() -> bool {
    std::env::var_os("RAMPART_BLESS").is_some()
}

/// `rampart compliance examples/NAME --format FORMAT`: expects exit 0, returns stdout.
fn report(name: &str, format: &str) -> String {
    let mut cmd = Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"));
    let out = cmd
        .env("NO_COLOR", "1")
        .arg("compliance")
        .arg(example(name))
        .args(["--format", format])
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

fn json_report(name: &str) -> Value {
    let text = report(name, "json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {text}"))
}

/// The committed markdown: a preamble saying how it is made, then the report.
fn markdown_document(name: &str, report: &str) -> String {
    format!(
        "# Compliance coverage of `examples/{name}`\n\n\
         <!-- Generated: `rampart compliance examples/{name} --format markdown`. Do not edit; \
         `RAMPART_BLESS=1 cargo test -p rampart-cli --test examples_compliance` rewrites it. -->\n\n\
         {report}"
    )
}

/// Compares `got` with the golden file at `path`, or writes it when blessing.
fn check_golden(path: &Path, got: &str, same: impl Fn(&str, &str) -> bool) {
    if blessing() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with RAMPART_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        same(&expected, got),
        "{} differs from the report (rerun with RAMPART_BLESS=1 to accept)\n--- expected\n{expected}\n--- got\n{got}",
        path.display()
    );
}

#[test]
fn json_reports_match_their_golden_files() {
    for name in EXAMPLES {
        let got = report(name, "json");
        check_golden(&json_golden(name), &got, |expected, got| {
            let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
            parse(expected).is_some() && parse(expected) == parse(got)
        });
    }
}

#[test]
fn markdown_reports_match_the_committed_compliance_md() {
    for name in EXAMPLES {
        let got = markdown_document(name, &report(name, "markdown"));
        check_golden(&markdown_golden(name), &got, |expected, got| {
            expected == got
        });
    }
}

// ---------------------------------------------------------------------------------------
// What the examples' rules must enforce, whatever the golden files say
// ---------------------------------------------------------------------------------------

fn framework<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["frameworks"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["framework"] == slug))
        .unwrap_or_else(|| panic!("no framework `{slug}` in the report"))
}

fn control<'a>(framework: &'a Value, id: &str) -> &'a Value {
    framework["controls"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no control `{id}` in {}", framework["framework"]))
}

fn state(control: &Value) -> &str {
    control["state"].as_str().unwrap_or_default()
}

fn rule_ids(control: &Value) -> Vec<&str> {
    control["rules"]
        .as_array()
        .map(|rs| rs.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default()
}

fn frameworks_of(report: &Value) -> Vec<&str> {
    report["frameworks"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["framework"].as_str()).collect())
        .unwrap_or_default()
}

/// Every control id a framework report lists for `rule`.
fn controls_of<'a>(framework: &'a Value, rule: &str) -> Vec<&'a str> {
    framework["controls"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| rule_ids(c).contains(&rule))
                .filter_map(|c| c["id"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn payments_reports_pci_dss_and_owasp_from_its_rules_and_packs() {
    let report = json_report("payments");
    assert_eq!(frameworks_of(&report), ["pci-dss-4.0", "owasp-api-2023"]);
    let pci = framework(&report, "pci-dss-4.0");

    // Transmission: the example's own TLS floor and both packs' (4.2.1 is `partial` in the
    // catalog: TLS is only the technical slice of it).
    let tls = control(pci, "4.2.1");
    assert!(matches!(state(tls), "enforced" | "partial"), "{tls}");
    for rule in ["tls-min", "std.zerotrust.tls-min", "std.pci_dss.tls-min"] {
        assert!(
            rule_ids(tls).contains(&rule),
            "4.2.1 without `{rule}`: {tls}"
        );
    }
    // Authentication and default deny are fully enforceable and enforced.
    let authn = control(pci, "8.3.1");
    assert_eq!(state(authn), "enforced", "{authn}");
    assert!(rule_ids(authn).contains(&"std.pci_dss.authn-required"));
    assert!(rule_ids(authn).contains(&"std.zerotrust.authn-required"));
    let deny_all = control(pci, "7.3.3");
    assert_eq!(state(deny_all), "enforced", "{deny_all}");
    assert_eq!(rule_ids(deny_all), ["std.pci_dss.default-deny"]);

    // Every allow of the example maps to the access-control model, and the data rules
    // to the requirements on stored and displayed PAN.
    for allow in ["pay-write", "pay-read", "partner-read"] {
        assert!(
            !controls_of(pci, allow).is_empty(),
            "`{allow}` maps to no PCI control"
        );
    }
    assert_eq!(
        rule_ids(control(pci, "7.2.1"))[..2],
        ["pay-write", "pay-read"]
    );
    assert!(rule_ids(control(pci, "3.5.1")).contains(&"pci-at-rest"));
    assert!(rule_ids(control(pci, "3.4.1")).contains(&"mask-pan"));

    // Waived with a reason in rampart.toml; the stored-PAN control is not waived (the
    // accounts hold cardholder data).
    let lockout = control(pci, "8.3.4");
    assert_eq!(state(lockout), "not-applicable");
    assert!(lockout["waiver_reason"]
        .as_str()
        .is_some_and(|r| r.contains("identity provider")));
    assert_eq!(state(control(pci, "3.5.1")), "partial");
    assert!(control(pci, "3.5.1").get("waiver_reason").is_none());

    let owasp = framework(&report, "owasp-api-2023");
    assert_eq!(state(control(owasp, "API5")), "enforced");
    assert!(rule_ids(control(owasp, "API1")).contains(&"pay-read"));
    assert!(rule_ids(control(owasp, "API4")).contains(&"write-rate"));
    assert_eq!(state(control(owasp, "API7")), "not-applicable");
    // partner-read reads any account (no owner check): it is no BOLA control.
    assert!(!controls_of(owasp, "partner-read").contains(&"API1"));
}

#[test]
fn healthcare_reports_hipaa_from_its_rules_and_std_hipaa() {
    let report = json_report("healthcare");
    assert_eq!(frameworks_of(&report), ["hipaa"]);
    let hipaa = framework(&report, "hipaa");

    let transmission = control(hipaa, "164.312(e)(1)");
    assert_eq!(state(transmission), "enforced", "{transmission}");
    assert!(rule_ids(transmission).contains(&"std.hipaa.transmission-security"));
    let authn = control(hipaa, "164.312(d)");
    assert_eq!(state(authn), "enforced", "{authn}");
    assert!(rule_ids(authn).contains(&"std.hipaa.entity-authentication"));
    let access = control(hipaa, "164.312(a)(1)");
    assert!(rule_ids(access).contains(&"std.hipaa.default-deny"));
    assert!(rule_ids(access).contains(&"treating-team-read"));
    let emergency = control(hipaa, "164.312(a)(2)(ii)");
    assert_eq!(state(emergency), "partial");
    assert!(rule_ids(emergency).contains(&"break-glass"));
    assert!(rule_ids(control(hipaa, "164.312(b)")).contains(&"break-glass-reason-header"));
    assert!(rule_ids(control(hipaa, "164.502(b)")).contains(&"billing-minimum-necessary"));

    // Nothing is waived: what the policy cannot do stays manual or uncovered.
    assert_eq!(hipaa["summary"]["not_applicable"], 0);
    assert_eq!(state(control(hipaa, "164.312(a)(2)(iv)")), "manual");
}

#[test]
fn saas_reports_owasp_and_soc2() {
    let report = json_report("saas");
    assert_eq!(frameworks_of(&report), ["owasp-api-2023", "soc2"]);
    let owasp = framework(&report, "owasp-api-2023");
    assert!(rule_ids(control(owasp, "API1")).contains(&"tenant-isolation"));
    let soc2 = framework(&report, "soc2");
    let least_privilege = control(soc2, "CC6.3");
    assert_eq!(state(least_privilege), "partial");
    assert!(rule_ids(least_privilege).contains(&"project-delete"));
}
