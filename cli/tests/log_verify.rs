//! `rampart log verify` on decision logs written by `rampart serve`: an untouched log
//! verifies; an edited field, a deleted record, two swapped records and a line cut in the
//! middle are each caught at their line; rotation and restarts keep one chain.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use serve_support::{payments, Scratch, Sidecar};

fn request(name: &str) -> Vec<u8> {
    std::fs::read(payments().join("requests").join(name)).expect("read a payments request")
}

/// Runs the sidecar on the payments example with `extra` flags, decides `count` requests
/// (allow and deny by turns) and stops it.
fn serve_and_decide(extra: &[&str], count: usize) {
    let mut sidecar = Sidecar::start(&payments(), extra);
    for n in 0..count {
        let name = if n % 2 == 0 {
            "pay-http.json"
        } else {
            "no-route.json"
        };
        let reply = sidecar.http("POST", "/v1/decide", &[], &request(name));
        assert_eq!(reply.status, 200);
    }
    let status = sidecar.terminate();
    assert!(status.success(), "exit status {status:?}");
}

fn verify(files: &[&Path], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["log", "verify"])
        .args(files)
        .args(extra)
        .output()
        .expect("run rampart log verify")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read the log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes a tampered copy of the log and returns its path.
fn tampered(scratch: &Scratch, name: &str, lines: &[String], cut_last: bool) -> PathBuf {
    let path = scratch.0.join(name);
    let mut text = lines.join("\n");
    if !cut_last {
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write a tampered log");
    path
}

/// Verifies a tampered log: exit 1 and a JSON problem of `kind` at `line`.
fn assert_caught(path: &Path, line: u64, kind: &str) {
    let output = verify(&[path], &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["intact"], false);
    assert_eq!(report["problem"]["kind"], kind, "{report}");
    assert_eq!(report["problem"]["line"], line, "{report}");
    let human = stdout(&verify(&[path], &[]));
    let place = format!("{}:{line}: {kind}: ", path.display());
    assert!(human.starts_with(&place), "{human}");
}

#[test]
fn an_untouched_log_verifies_and_each_tampering_is_caught() {
    let scratch = Scratch::new("log-verify");
    let log = scratch.0.join("decisions.jsonl");
    serve_and_decide(&["--decision-log", log.to_str().unwrap_or_default()], 6);

    let output = verify(&[&log], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // Six decisions and the stop record of a clean shutdown.
    assert!(
        stdout(&output).starts_with("intact: 7 records (seq 1 to 7), last hash "),
        "{}",
        stdout(&output)
    );
    let output = verify(&[&log], &["--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["intact"], true);
    assert_eq!(report["records"], 7);
    assert_eq!(report["problem"], Value::Null);
    assert_eq!(report["closed"], true);

    let mut original = lines(&log);
    // The tampered copies below are of the decision records.
    let stop = original.pop().unwrap_or_default();
    assert!(stop.starts_with("{\"event\":\"stop\""), "{stop}");
    assert!(
        original[0].contains("\"decision\":\"allow\""),
        "{}",
        original[0]
    );
    let record: Value = serde_json::from_str(&original[1]).expect("a JSON record");
    assert_eq!(record["seq"], 2);
    assert_eq!(
        record["prev"],
        serde_json::from_str::<Value>(&original[0]).expect("JSON")["hash"]
    );

    let mut edited = original.clone();
    edited[0] = edited[0].replace("\"decision\":\"allow\"", "\"decision\":\"deny\"");
    assert_caught(&tampered(&scratch, "edited", &edited, false), 1, "edited");

    let mut deleted = original.clone();
    deleted.remove(2);
    assert_caught(
        &tampered(&scratch, "deleted", &deleted, false),
        3,
        "removed",
    );

    let mut swapped = original.clone();
    swapped.swap(3, 4);
    assert_caught(
        &tampered(&scratch, "swapped", &swapped, false),
        4,
        "reordered",
    );

    let mut cut = original.clone();
    let half = cut[5].len() / 2;
    cut[5].truncate(half);
    assert_caught(&tampered(&scratch, "cut", &cut, true), 6, "truncated");
    let mut cut_inside = original.clone();
    let half = cut_inside[2].len() / 2;
    cut_inside[2].truncate(half);
    assert_caught(
        &tampered(&scratch, "cut-inside", &cut_inside, false),
        3,
        "bad_json",
    );

    let mut headless = original.clone();
    headless.remove(0);
    let headless = tampered(&scratch, "headless", &headless, false);
    assert_caught(&headless, 1, "removed");
    // Stating where the chain picks up accepts it.
    let start = record["prev"].as_str().unwrap_or_default();
    let output = verify(&[&headless], &["--from", start]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // The original is still intact; unreadable input is exit 2.
    assert_eq!(verify(&[&log], &[]).status.code(), Some(0));
    let missing = scratch.0.join("missing.jsonl");
    assert_eq!(verify(&[&missing], &[]).status.code(), Some(2));
    assert_eq!(
        verify(&[&log], &["--from", "nothex"]).status.code(),
        Some(2)
    );
}

/// F9: an edit after a cut-off line is still found: verification goes on past it.
#[test]
fn an_edit_after_a_cut_off_line_is_found() {
    let scratch = Scratch::new("log-torn-edit");
    let log = scratch.0.join("decisions.jsonl");
    serve_and_decide(&["--decision-log", log.to_str().unwrap_or_default()], 6);
    let mut lines = lines(&log);
    let half = lines[2].len() / 2;
    lines[2].truncate(half);
    lines[4] = lines[4].replace("\"decision\":\"allow\"", "\"decision\":\"deny\"");
    let path = tampered(&scratch, "torn-edit", &lines, false);
    let output = verify(&[&path], &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let found: Vec<(u64, &str)> = report["problems"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|p| {
                    (
                        p["line"].as_u64().unwrap_or(0),
                        p["kind"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(found, vec![(3, "bad_json"), (5, "edited")], "{report}");
    assert_eq!(report["status"], "broken");
    let human = stdout(&verify(&[&path], &[]));
    assert!(human.contains(":5: edited: "), "{human}");
    assert!(human.contains("broken: "), "{human}");
}

#[test]
fn rotated_files_and_restarts_keep_one_chain() {
    let scratch = Scratch::new("log-rotate");
    let log = scratch.0.join("decisions.jsonl");
    let flags = [
        "--decision-log",
        log.to_str().unwrap_or_default(),
        "--decision-log-max-bytes",
        "2K",
        "--decision-log-keep",
        "20",
    ];
    serve_and_decide(&flags, 12);
    // A restart picks the chain up where it stopped.
    serve_and_decide(&flags, 12);

    let mut files: Vec<PathBuf> = (1..=20)
        .map(|n| scratch.0.join(format!("decisions.jsonl.{n}")))
        .filter(|p| p.exists())
        .collect();
    assert!(files.len() >= 3, "only {} rotated files", files.len());
    for file in files.iter().chain([&log]) {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 0 && size <= 2048,
            "{} has {size} bytes",
            file.display()
        );
    }
    files.reverse();
    files.push(log.clone());
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let output = verify(&paths, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    // 24 decisions and the stop records of both runs.
    assert_eq!(report["records"], 26);
    assert_eq!(report["last"]["seq"], 26);

    // Out of order, the files do not chain.
    let mut shuffled = paths.clone();
    shuffled.swap(0, 1);
    assert_eq!(verify(&shuffled, &[]).status.code(), Some(1));
    // Without the oldest file, the first record links to a missing one.
    assert_eq!(verify(&paths[1..], &[]).status.code(), Some(1));

    // With fewer files kept, the oldest go.
    let kept = scratch.0.join("kept.jsonl");
    serve_and_decide(
        &[
            "--decision-log",
            kept.to_str().unwrap_or_default(),
            "--decision-log-max-bytes",
            "1500",
            "--decision-log-keep",
            "2",
        ],
        12,
    );
    assert!(scratch.0.join("kept.jsonl.2").exists());
    assert!(!scratch.0.join("kept.jsonl.3").exists());
}
