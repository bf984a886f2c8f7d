//! `rampart serve --config FILE`: flags read from a TOML file, the command line winning,
//! and a bad file refused before anything listens.

mod serve_support;

use std::process::Command;

use serve_support::{payments, Scratch, Sidecar};

#[test]
fn settings_come_from_the_file_and_flags_win() {
    let dir = Scratch::new("config");
    let log = dir.0.join("decisions.jsonl");
    let config = dir.0.join("serve.toml");
    // The file asks for ports the command line overrides (Sidecar::start passes port 0).
    let text = format!(
        "policy = {policy:?}\nhttp = \"127.0.0.1:1\"\ngrpc = \"127.0.0.1:2\"\n\
         decision_log = {log:?}\nno_watch = true\nrate_limit_keys = 10\n",
        policy = payments().display().to_string(),
        log = log.display().to_string(),
    );
    std::fs::write(&config, text).expect("write the config file");
    let config = config.display().to_string();
    let mut sidecar = Sidecar::start(&payments(), &["--config", &config]);
    assert_ne!(
        sidecar.http.port(),
        1,
        "the command line wins over the file"
    );
    let body = std::fs::read(payments().join("requests/pay-http.json")).expect("a request");
    let reply = sidecar.http(
        "POST",
        "/v1/decide",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(reply.status, 200);
    // A graceful stop writes out the log's queue (the writer formats records off the
    // request path, so a reply can come before its record is on disk).
    sidecar.terminate();
    let logged = std::fs::read_to_string(&log).expect("the decision log named in the file");
    // One decision record and the stop record.
    let decisions = logged.lines().filter(|l| l.starts_with("{\"id\":")).count();
    assert_eq!((decisions, logged.lines().count()), (1, 2), "{logged}");
}

#[test]
fn a_bad_config_file_is_a_usage_error() {
    let dir = Scratch::new("config-bad");
    let config = dir.0.join("serve.toml");
    std::fs::write(&config, "decision_lg = \"x.jsonl\"\n").expect("write the config file");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run rampart serve");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown key `decision_lg`; did you mean `decision_log`?"),
        "{err}"
    );
    // A value the flag's own parser refuses is reported like the flag.
    std::fs::write(&config, "policy = \"x\"\nrequest_timeout = \"soon\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run rampart serve");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--request-timeout"), "{err}");
}
