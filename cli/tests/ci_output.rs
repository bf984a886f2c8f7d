//! CI-facing output: `rampart test --format json`, `rampart lint`, shell completions, and
//! colour (`NO_COLOR`, `CLICOLOR_FORCE`) across the commands that print for people.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn rampart() -> Command {
    let mut cmd = Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"));
    cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    cmd
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A scratch folder for one test holding `files`.
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ci-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    dir
}

/// (exit code, stdout, stderr).
fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running rampart: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TESTED: &str = r#"package t
schema {
  entity User
  entity Doc
  action "doc:read" on Doc for User
}
@id("read")
@allow_lint("L001", "test fixture")
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

#[test]
fn test_json_lists_each_test_with_outcome_and_summary() {
    let dir = scratch("test-json", &[("t.rampart", TESTED)]);
    let (code, stdout, _) = output(rampart().args(["test", "--format", "json"]).arg(&dir));
    assert_eq!(code, 1, "a failing test fails the run");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        report["summary"],
        serde_json::json!({"total": 2, "passed": 1, "failed": 1})
    );
    let tests = report["tests"].as_array().cloned().unwrap_or_default();
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0]["name"], "reads");
    assert_eq!(tests[0]["outcome"], "passed");
    assert_eq!(tests[0]["message"], serde_json::Value::Null);
    assert_eq!(tests[0]["file"], "t.rampart");
    assert_eq!(tests[0]["line"], 10);
    assert_eq!(tests[1]["outcome"], "failed");
    let message = tests[1]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("expected deny, got allow"), "{message}");
    assert_eq!(report["not_compiled"], serde_json::json!([]));
}

#[test]
fn test_json_passes_on_the_payments_example() {
    let (code, stdout, _) = output(
        rampart()
            .args(["test", "--format", "json"])
            .arg(workspace().join("examples/payments")),
    );
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["summary"]["failed"], 0);
    assert!(report["summary"]["passed"].as_u64().is_some_and(|n| n > 0));
}

const LINTED: &str = r#"package l
schema {
  entity User { mfa: Bool }
  entity Doc
  action "doc:read", "doc:write" on Doc for User
}
@id("all")
allow * on Doc for User when context.tls.mtls and principal.mfa
"#;

#[test]
fn lint_reports_lints_and_shares_the_exit_codes_of_check() {
    let dir = scratch("lint", &[("l.rampart", LINTED)]);
    let (code, stdout, _) = output(rampart().args(["lint", "--format", "json"]).arg(&dir));
    assert_eq!(code, 0, "warnings pass without --deny-warnings");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["warnings"], 1);
    assert_eq!(report["diagnostics"][0]["code"], "L002");
    let (code, _, stderr) = output(rampart().args(["lint", "--deny-warnings"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(stderr.contains("L002"), "{stderr}");
    let broken = scratch("lint-broken", &[("b.rampart", "package b\nallow when\n")]);
    let (code, _, stderr) = output(rampart().arg("lint").arg(&broken));
    assert_eq!(code, 1, "errors keep lints from running and fail the run");
    assert!(stderr.contains("E001"), "{stderr}");
}

#[test]
fn completions_for_every_shell_mention_rampart() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, stdout, _) = output(rampart().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}");
        assert!(stdout.contains("rampart"), "{shell}");
        assert!(
            stdout.contains("check"),
            "{shell}: subcommands are completed"
        );
    }
    let (code, _, _) = output(rampart().args(["completions", "tcsh"]));
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

/// Runs `args` and returns stdout + stderr.
fn all_output(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = rampart();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (_, stdout, stderr) = output(&mut cmd);
    format!("{stdout}{stderr}")
}

#[test]
fn colour_only_when_forced_and_never_with_no_color() {
    let dir = scratch("colour", &[("l.rampart", LINTED)]);
    let dir = dir.to_string_lossy().into_owned();
    let tested = scratch("colour-test", &[("t.rampart", TESTED)]);
    let tested = tested.to_string_lossy().into_owned();
    let commands: Vec<Vec<&str>> = vec![
        vec!["check", &dir],
        vec!["lint", &dir],
        vec!["test", &tested],
        vec!["explain", "L002"],
        vec!["fmt", "--check", &dir],
        vec!["--help"],
        vec!["check", "--no-such-flag"],
    ];
    let escape = '\u{1b}';
    for args in &commands {
        // Not a terminal (a pipe): plain.
        assert!(!all_output(args, &[]).contains(escape), "{args:?}");
        // NO_COLOR wins over CLICOLOR_FORCE.
        let no_color = all_output(args, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]);
        assert!(!no_color.contains(escape), "{args:?}: {no_color}");
    }
    // CLICOLOR_FORCE colours diagnostics even through a pipe.
    assert!(all_output(&["check", &dir], &[("CLICOLOR_FORCE", "1")]).contains(escape));
    assert!(!all_output(&["check", &dir], &[("CLICOLOR_FORCE", "0")]).contains(escape));
}

#[test]
fn explain_prints_json_for_lints_and_errors() {
    let (code, out, err) = output(rampart().args(["explain", "l010", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["code"], "L010");
    assert_eq!(doc["kind"], "lint");
    assert_eq!(doc["name"], "allow-without-control");
    assert_eq!(doc["severity"], "warning");
    assert_eq!(doc["url"], "https://rampart.dev/docs/diagnostics/L010");
    assert!(doc["docs"]
        .as_str()
        .is_some_and(|d| d.contains("### What it does")));

    let (code, out, _) = output(rampart().args(["explain", "E022", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["kind"], "error");
    assert_eq!(doc["summary"], "unknown control");

    let (code, _, err) = output(rampart().args(["explain", "X999", "--format", "json"]));
    assert_eq!(code, 2);
    assert!(err.contains("unknown code `X999`"), "{err}");
}
