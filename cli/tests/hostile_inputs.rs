//! Issue 11 ("trust under attack"): inputs built to crash, stall or exhaust the CLI. Each
//! test reproduces an attack through the `rampart` binary and checks the exit code: 1 for
//! policy errors, 2 for input errors, never 101 (a panic).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn rampart() -> Command {
    Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"))
}

/// A scratch folder for one test, removed and recreated.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

const SCHEMA: &str = r#"package p

schema {
  entity User {}
  entity Doc {}
  action "read" on Doc for User
}

"#;

/// A folder holding one policy file `p.rampart` with `SCHEMA` then `rest`.
fn policy(name: &str, rest: &str) -> PathBuf {
    let dir = scratch(name);
    write(&dir.join("p.rampart"), &format!("{SCHEMA}{rest}"));
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// `check` (human and JSON), `lint`, `test` and `eval` all fail with exit 1, and JSON
/// reports the error with `code`.
fn every_command_reports(dir: &Path, code: &str) {
    rampart()
        .arg("check")
        .arg(dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(code).and(predicate::str::contains("panicked").not()));
    let out = rampart()
        .args(["check", "--format", "json"])
        .arg(dir)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert!(report["errors"].as_u64() >= Some(1), "{report}");
    assert_eq!(report["diagnostics"][0]["code"], code, "{report}");
    rampart()
        .args(["check", "--format", "sarif"])
        .arg(dir)
        .assert()
        .code(1);
    rampart().arg("lint").arg(dir).assert().code(1);
    rampart().arg("test").arg(dir).assert().code(1);
    rampart()
        .arg("eval")
        .arg(dir)
        .args(["--request", "-"])
        .write_stdin(r#"{"principal":"User::\"a\"","action":"read","resource":"Doc::\"d\""}"#)
        .assert()
        .code(1);
}

/// F8: miette formats underlines with widths that panic past column 65,535.
#[test]
fn a_label_past_column_65535_is_rendered_not_panicked() {
    let indent = " ".repeat(70_000);
    let dir = policy(
        "long-line",
        &format!("{indent}allow \"read\" on Doc for User when undefined_thing\n"),
    );
    every_command_reports(&dir, "E003");
    // The long line is shown as a window around the label, with the true column.
    rampart().arg("check").arg(&dir).assert().code(1).stderr(
        predicate::str::contains("p.rampart:9:70035").and(predicate::str::contains(
            "…                                                              allow",
        )),
    );
}

/// F8: 70k chained unary operators: the nesting limit, not a crash.
#[test]
fn deep_unary_chains_are_a_nesting_error() {
    for (name, chain) in [
        ("minus", "-".repeat(70_000)),
        ("not", "not ".repeat(70_000)),
    ] {
        let operand = if name == "minus" { "1 == 1" } else { "true" };
        let dir = policy(
            &format!("unary-{name}"),
            &format!("allow \"read\" on Doc for User when {chain}{operand}\n"),
        );
        every_command_reports(&dir, "E018");
    }
    // Under the limit, a chain is fine.
    let dir = policy(
        "unary-ok",
        &format!(
            "allow \"read\" on Doc for User when {}true\n",
            "not not ".repeat(20)
        ),
    );
    rampart().arg("check").arg(&dir).assert().success();
}

/// F11: many warnings of one code in one file: at most 50 are rendered, the rest counted.
#[test]
fn repeated_diagnostics_are_capped_per_file_and_code() {
    let routes: String = (0..120)
        .map(|i| format!("route GET \"/r{i}/{{id}}\" => \"read\" on Doc::{{id}}\n"))
        .collect();
    let dir = policy("many-warnings", &routes);
    let out = rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8_lossy(&out);
    assert_eq!(stderr.matches("L009 (").count(), 50, "{stderr}");
    assert!(
        stderr.contains("… and 70 more `L009` in `p.rampart`"),
        "{stderr}"
    );
    assert!(stderr.contains("0 errors, 120 warnings"), "{stderr}");
    // Machine reports keep every finding.
    let out = rampart()
        .args(["check", "--format", "json"])
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(report["warnings"], 120, "{report}");
}

/// The time one command takes.
fn timed(cmd: &mut Command, code: i32) -> Duration {
    let started = Instant::now();
    cmd.assert().code(code);
    started.elapsed()
}

/// F12: `--request /dev/zero` grew to 22 GB. Devices are refused, standard input is read
/// up to the limit, and both end as quickly as a good request (same run, generous bound).
#[test]
fn endless_inputs_are_refused_within_their_limits() {
    let dir = policy(
        "endless",
        "allow \"read\" on Doc for User when principal == principal\n",
    );
    let request = r#"{"principal":"User::\"a\"","action":"read","resource":"Doc::\"d\""}"#;
    let good = timed(
        rampart()
            .arg("eval")
            .arg(&dir)
            .args(["--request", "-"])
            .write_stdin(request),
        0,
    );
    let started = Instant::now();
    rampart()
        .arg("eval")
        .arg(&dir)
        .args(["--request", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`/dev/zero` is not a regular file",
        ));
    let device = started.elapsed();
    assert!(
        device < good * 10 + Duration::from_secs(2),
        "{device:?} vs {good:?}"
    );
    // Standard input is bounded too: 17 MiB of zeros stop at the 16 MiB request limit.
    rampart()
        .arg("eval")
        .arg(&dir)
        .args(["--request", "-"])
        .write_stdin(vec![b'0'; 17 * 1024 * 1024])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`<stdin>` is larger than the 16 MiB limit for a request",
        ));
    // Entity files, bundles, key sets and the config file are refused the same way.
    rampart()
        .arg("eval")
        .arg(&dir)
        .args(["--request", "-", "--entities", "/dev/zero"])
        .write_stdin(request)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular file"));
    rampart().args(["serve", "/dev/zero"]).assert().code(2);
    rampart()
        .arg("serve")
        .arg(&dir)
        .args(["--jwks", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`/dev/zero` is not a regular file",
        ));
    rampart()
        .args(["log", "verify", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`/dev/zero` is not a regular file",
        ));
    rampart()
        .args(["serve", "--config", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular file"));
}

/// F12: a policy file over the 4 MiB limit is an `E017` error, read no further.
#[test]
fn an_oversized_policy_file_is_an_error() {
    let dir = policy(
        "oversized",
        &format!("// {}\n", "x".repeat(5 * 1024 * 1024)),
    );
    rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("E017").and(predicate::str::contains(
                "file `p.rampart` is too large (the limit is 4 MiB)",
            )),
        );
    // `fmt` reads within the same limit; an input error.
    rampart()
        .arg("fmt")
        .arg(dir.join("p.rampart"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("larger than the 4 MiB limit"));
}

/// F18: a leading UTF-8 byte order mark is ignored in every text input; `fmt` drops it.
#[test]
fn a_leading_byte_order_mark_is_ignored() {
    let bom = "\u{feff}";
    let dir = policy(
        "bom",
        "@id(\"r\")\nallow \"read\" on Doc for User when principal == principal\n",
    );
    let file = dir.join("p.rampart");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    write(&file, &format!("{bom}{text}"));
    write(
        &dir.join("entities.json"),
        &format!(
            "{bom}[{{\"uid\":{{\"type\":\"User\",\"id\":\"a\"}},\"attrs\":{{}},\"parents\":[]}}]"
        ),
    );
    rampart()
        .arg("eval")
        .arg(&dir)
        .args(["--request", "-"])
        .write_stdin(format!(
            r#"{bom}{{"principal":"User::\"a\"","action":"read","resource":"Doc::\"d\""}}"#
        ))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"allow\""));
    // `fmt --check` reports the mark; `fmt` writes the file without it.
    rampart()
        .args(["fmt", "--check"])
        .arg(&file)
        .assert()
        .code(1);
    rampart().arg("fmt").arg(&file).assert().success();
    let formatted = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(formatted.starts_with("package p"), "{formatted:?}");
    rampart()
        .args(["fmt", "--check"])
        .arg(&file)
        .assert()
        .success();
}

/// F18: `fmt` kept `"\u{202e}"` as the raw character (Trojan Source); now it stays escaped,
/// a raw one becomes an escape, and lint L011 reports raw ones (in comments too).
#[test]
fn invisible_characters_stay_visible() {
    let dir = policy(
        "trojan",
        "@id(\"r\")\nallow \"read\" on Doc for User when principal == principal and \"a\\u{202e}\" == \"a\\u{202e}\"\n",
    );
    let file = dir.join("p.rampart");
    rampart().arg("fmt").arg(&file).assert().success();
    let formatted = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(formatted.contains("\"a\\u{202e}\""), "{formatted}");
    assert!(!formatted.contains('\u{202e}'), "{formatted}");
    rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("L011").not());

    write(
        &file,
        &format!("{SCHEMA}// review me \u{2067}\n@id(\"r\")\nallow \"read\" on Doc for User when principal == principal and \"a\u{202e}\" == \"a\"\n"),
    );
    rampart().arg("check").arg(&dir).assert().success().stderr(
        predicate::str::contains("raw bidirectional control U+2067 in a comment")
            .and(predicate::str::contains(
                "raw bidirectional control U+202E in a string",
            ))
            .and(predicate::str::contains('\u{202e}').not()),
    );
    rampart().arg("fmt").arg(&file).assert().success();
    let formatted = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(formatted.contains("\"a\\u{202e}\""), "{formatted}");
}

/// A string quoted in a diagnostic cannot forge lines of the report or send escape
/// sequences to the terminal: what does not show is printed as a `\u{…}` escape.
#[test]
fn diagnostics_cannot_forge_the_report() {
    let dir = policy(
        "forge",
        "allow \"x\\nchecked 1 file: no errors\\u{1b}[2J\" on Doc for User\n",
    );
    let out = rampart()
        .arg("check")
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8_lossy(&out);
    assert!(
        stderr.contains("x\\u{a}checked 1 file: no errors\\u{1b}[2J"),
        "{stderr}"
    );
    assert!(!stderr.contains("\nchecked 1 file"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
