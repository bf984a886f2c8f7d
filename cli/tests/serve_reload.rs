//! Hot reload of `rampart serve`: bundles swapped under load never give a failed or wrong
//! decision, a broken policy or entities file never replaces a good one, and each trigger
//! (`POST /v1/reload`, SIGHUP, a file change) reloads.

mod serve_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use serve_support::{Scratch, Sidecar};

const SCHEMA: &str = r#"package reload

schema {
  entity User
  entity Doc
  action "read" on Doc for User
}
"#;

/// Policy A allows the request (rule `a-allows`); policy B denies it (rule `b-denies`).
fn policy_a() -> String {
    format!("{SCHEMA}\n@id(\"a-allows\")\nallow \"read\" on Doc for User reason \"policy A\"\n")
}

fn policy_b() -> String {
    format!("{SCHEMA}\n@id(\"b-denies\")\ndeny \"read\" on Doc for User reason \"policy B\"\n")
}

const BROKEN: &str = "package reload\n\nallow \"read\" on\n";

const REQUEST: &[u8] =
    br#"{"principal": "User::\"u\"", "action": "read", "resource": "Doc::\"d\""}"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a policy file");
}

/// A policy folder holding policy A.
fn folder(name: &str) -> Scratch {
    let scratch = Scratch::new(name);
    write(&scratch.0.join("policy.rampart"), &policy_a());
    scratch
}

fn revision_of(sidecar: &Sidecar) -> String {
    sidecar
        .ready_line
        .split_whitespace()
        .find_map(|part| part.strip_prefix("bundle="))
        .expect("a bundle revision in the ready line")
        .to_owned()
}

/// Decides the request: (revision, decision JSON).
fn decide(sidecar: &Sidecar) -> (u16, Option<String>, Value) {
    let reply = sidecar.http("POST", "/v1/decide", &[], REQUEST);
    let revision = reply.header("x-rampart-revision").map(str::to_owned);
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, revision, body)
}

fn reload(sidecar: &Sidecar) -> (u16, Value) {
    let reply = sidecar.http("POST", "/v1/reload", &[], b"");
    (reply.status, reply.json())
}

/// The value of a metric line, e.g. `rampart_reloads_total{result="failure"}`.
fn metric(sidecar: &Sidecar, name: &str) -> Option<String> {
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')
            .map(str::to_owned)
    })
}

/// True when `rampart_bundle_info` names `revision` (and a `sha256:` digest), value 1.
fn bundle_info(sidecar: &Sidecar, revision: &str) -> bool {
    let prefix = format!("rampart_bundle_info{{revision=\"{revision}\",digest=\"sha256:");
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines()
        .any(|line| line.starts_with(&prefix) && line.ends_with("\"} 1"))
}

/// Polls `check` until it holds (at most 20 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The answer each revision must give.
fn expected_rule(revision: &str, rev_a: &str, rev_b: &str) -> Option<(&'static str, &'static str)> {
    if revision == rev_a {
        Some(("allow", "a-allows"))
    } else if revision == rev_b {
        Some(("deny", "b-denies"))
    } else {
        None
    }
}

#[test]
fn bundles_swapped_under_load_never_give_a_failed_or_wrong_decision() {
    let scratch = folder("load");
    let policy = scratch.0.join("policy.rampart");
    let sidecar = Arc::new(Sidecar::start(&scratch.0, &["--no-watch"]));
    let rev_a = revision_of(&sidecar);

    // Learn B's revision, then go back to A.
    write(&policy, &policy_b());
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 200, "{answer}");
    let rev_b = answer["revision"].as_str().unwrap_or_default().to_owned();
    assert_ne!(rev_a, rev_b);
    assert_eq!(answer["previous"], rev_a.as_str());
    assert_eq!(answer["reloaded"], true);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let deciders: Vec<_> = (0..4)
        .map(|_| {
            let (sidecar, stop, seen, failures) = (
                Arc::clone(&sidecar),
                Arc::clone(&stop),
                Arc::clone(&seen),
                Arc::clone(&failures),
            );
            let (rev_a, rev_b) = (rev_a.clone(), rev_b.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let (status, revision, body) = decide(&sidecar);
                    let revision = revision.unwrap_or_default();
                    let expected = expected_rule(&revision, &rev_a, &rev_b);
                    let answer = (body["decision"].as_str(), body["rules"][0].as_str());
                    match expected {
                        Some((effect, rule))
                            if status == 200 && answer == (Some(effect), Some(rule)) =>
                        {
                            seen[usize::from(revision == rev_b)].fetch_add(1, Ordering::SeqCst);
                        }
                        _ => failures
                            .lock()
                            .expect("failures")
                            .push(format!("{status} revision `{revision}`: {body}")),
                    }
                }
            })
        })
        .collect();

    let swaps = 30;
    for swap in 0..swaps {
        let (text, revision, slot) = if swap % 2 == 0 {
            (policy_a(), &rev_a, 0)
        } else {
            (policy_b(), &rev_b, 1)
        };
        write(&policy, &text);
        let before = seen[slot].load(Ordering::SeqCst);
        let (status, answer) = reload(&sidecar);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["revision"], revision.as_str());
        // Let some decisions land on this revision before the next swap.
        eventually("a decision on the new revision", || {
            seen[slot].load(Ordering::SeqCst) > before
        });
    }
    stop.store(true, Ordering::SeqCst);
    for decider in deciders {
        decider.join().expect("a decider thread");
    }
    let failures = failures.lock().expect("failures");
    assert!(
        failures.is_empty(),
        "wrong or failed decisions: {failures:?}"
    );
    let (on_a, on_b) = (
        seen[0].load(Ordering::SeqCst),
        seen[1].load(Ordering::SeqCst),
    );
    assert!(on_a > 0 && on_b > 0, "decisions on A: {on_a}, on B: {on_b}");
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"success\"}"),
        Some((swaps + 1).to_string())
    );
    // The last swap (29, odd) left B serving.
    assert!(bundle_info(&sidecar, &rev_b));

    // A broken policy is rejected; B keeps serving.
    write(&policy, BROKEN);
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["reloaded"], false);
    assert_eq!(answer["revision"], rev_b.as_str());
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("policy.rampart:3:"), "{error}");
    let (status, revision, body) = decide(&sidecar);
    assert_eq!((status, revision.as_deref()), (200, Some(rev_b.as_str())));
    assert_eq!(body["rules"][0], "b-denies");
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").as_deref(),
        Some("1")
    );
    assert!(bundle_info(&sidecar, &rev_b));

    // So is an entities file that does not load; the good policy text is not enough.
    write(&policy, &policy_a());
    let entities = scratch.0.join("entities.json");
    write(&entities, "{ not json");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("entities.json")),
        "{answer}"
    );
    assert_eq!(decide(&sidecar).1.as_deref(), Some(rev_b.as_str()));
    write(&entities, "[]");
    let (status, answer) = reload(&sidecar);
    assert_eq!(
        (status, answer["revision"].as_str()),
        (200, Some(rev_a.as_str()))
    );
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").as_deref(),
        Some("2")
    );
}

#[test]
fn sighup_reloads_and_a_broken_policy_keeps_the_old_one() {
    let scratch = folder("sighup");
    let policy = scratch.0.join("policy.rampart");
    let mut sidecar = Sidecar::start(&scratch.0, &["--no-watch"]);
    let rev_a = revision_of(&sidecar);

    write(&policy, &policy_b());
    sidecar.signal("HUP");
    eventually("the SIGHUP reload", || {
        decide(&sidecar).1.as_deref() != Some(&rev_a)
    });
    let (status, rev_b, body) = decide(&sidecar);
    assert_eq!((status, body["rules"][0].as_str()), (200, Some("b-denies")));
    let rev_b = rev_b.unwrap_or_default();

    write(&policy, BROKEN);
    sidecar.signal("HUP");
    eventually("the failed reload to be counted", || {
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").as_deref() == Some("1")
    });
    assert!(sidecar.is_running(), "SIGHUP stopped the sidecar");
    assert_eq!(decide(&sidecar).1, Some(rev_b.clone()));
    assert!(bundle_info(&sidecar, &rev_b));
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"success\"}").as_deref(),
        Some("1")
    );
    let status = sidecar.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_changed_file_is_reloaded_without_a_signal() {
    let scratch = folder("watch");
    let policy = scratch.0.join("policy.rampart");
    let sidecar = Sidecar::start(&scratch.0, &["--watch-interval", "100ms"]);
    let rev_a = revision_of(&sidecar);

    write(&policy, &policy_b());
    eventually("the file-change reload", || {
        decide(&sidecar).1.as_deref() != Some(&rev_a)
    });
    let (_, rev_b, body) = decide(&sidecar);
    assert_eq!(body["rules"][0], "b-denies");

    // A broken file is tried once and rejected.
    write(&policy, BROKEN);
    eventually("the failed reload to be counted", || {
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").as_deref() == Some("1")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").as_deref(),
        Some("1")
    );
    assert_eq!(decide(&sidecar).1, rev_b);

    // A new file in a subfolder counts too: a second package that changes nothing here.
    std::fs::create_dir_all(scratch.0.join("more")).expect("create a subfolder");
    write(&policy, &policy_a());
    write(
        &scratch.0.join("more").join("other.rampart"),
        "package other\n\nschema {\n  entity Thing\n}\n",
    );
    eventually("the reload back to A", || {
        metric(&sidecar, "rampart_reloads_total{result=\"success\"}").as_deref() == Some("2")
    });
    let (_, _, body) = decide(&sidecar);
    assert_eq!(body["rules"][0], "a-allows");
}

#[test]
fn a_bundle_file_is_watched_and_reload_reports_its_revision() {
    let scratch = folder("bundle");
    let bundle = scratch.0.join("policy.bundle.json");
    let build = |dir: &Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("build")
            .arg(dir)
            .arg("-o")
            .arg(&bundle)
            .output()
            .expect("run rampart build");
        assert!(out.status.success(), "{out:?}");
    };
    let source = scratch.0.join("src");
    std::fs::create_dir_all(&source).expect("create the source folder");
    write(&source.join("policy.rampart"), &policy_a());
    build(&source);
    let sidecar = Sidecar::start(&bundle, &["--watch-interval", "100ms"]);
    let rev_a = revision_of(&sidecar);

    write(&source.join("policy.rampart"), &policy_b());
    build(&source);
    eventually("the bundle reload", || {
        decide(&sidecar).1.as_deref() != Some(&rev_a)
    });
    assert_eq!(decide(&sidecar).2["rules"][0], "b-denies");

    write(&bundle, "{\"not\": \"a bundle\"}");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(decide(&sidecar).2["rules"][0], "b-denies");
}

/// A policy whose deny depends on entity data: members of `Group::"suspended"` may not read.
const GROUPS: &str = r#"package groups

schema {
  entity Group
  entity User in [Group]
  entity Doc
  action "read" on Doc for User
}

@id("readers")
allow "read" on Doc for User

@id("suspended")
deny "read" on Doc for User when principal in Group::"suspended"
"#;

/// The entities: the suspended group, its member `u`, and `others` more users.
fn group_entities(others: usize) -> String {
    let mut items = vec![
        serde_json::json!({"uid": {"type": "Group", "id": "suspended"}, "attrs": {}, "parents": []}),
        serde_json::json!({"uid": {"type": "User", "id": "u"}, "attrs": {},
                           "parents": [{"type": "Group", "id": "suspended"}]}),
    ];
    for n in 0..others {
        items.push(
            serde_json::json!({"uid": {"type": "User", "id": format!("user{n}")},
                                      "attrs": {}, "parents": []}),
        );
    }
    Value::Array(items).to_string()
}

/// The effect and first rule of the request of `User::"u"`.
fn effect(sidecar: &Sidecar) -> (String, String) {
    let (status, _, body) = decide(sidecar);
    assert_eq!(status, 200, "{body}");
    (
        body["decision"].as_str().unwrap_or_default().to_owned(),
        body["rules"][0].as_str().unwrap_or_default().to_owned(),
    )
}

fn suspended() -> (String, String) {
    ("deny".to_owned(), "suspended".to_owned())
}

#[test]
fn a_deleted_emptied_or_gutted_entities_file_never_lifts_an_entity_deny() {
    let scratch = Scratch::new("entities");
    write(&scratch.0.join("policy.rampart"), GROUPS);
    let entities = scratch.0.join("entities.json");
    write(&entities, &group_entities(8));
    let sidecar = Sidecar::start(
        &scratch.0,
        &["--watch-interval", "100ms", "--watch-settle", "300ms"],
    );
    assert_eq!(effect(&sidecar), suspended());
    let failures = |sidecar: &Sidecar| {
        metric(sidecar, "rampart_reloads_total{result=\"failure\"}")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_default()
    };

    // Deleted: the watcher's reload fails, and for well past its settle period the deny holds.
    std::fs::remove_file(&entities).expect("delete the entities");
    eventually("the watcher's failed reload", || failures(&sidecar) >= 1);
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        assert_eq!(effect(&sidecar), suspended());
    }
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("entities.json` is missing")),
        "{answer}"
    );

    // A zero-byte file.
    write(&entities, "");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("entities.json` is empty")),
        "{answer}"
    );
    assert_eq!(effect(&sidecar), suspended());

    // A valid but empty array, and one that drops more than half the entities.
    for shrunk in ["[]".to_owned(), group_entities(2)] {
        write(&entities, &shrunk);
        let (status, answer) = reload(&sidecar);
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("the entities would shrink from 10 to ")),
            "{answer}"
        );
        assert_eq!(effect(&sidecar), suspended());
    }

    // Removing less than half is an ordinary change.
    write(&entities, &group_entities(4));
    let (status, answer) = reload(&sidecar);
    assert_eq!(
        (status, answer["reloaded"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    assert_eq!(effect(&sidecar), suspended());
    let successes = metric(&sidecar, "rampart_reloads_total{result=\"success\"}");
    assert!(
        successes.as_deref().is_some_and(|n| n != "0"),
        "{successes:?}"
    );
}

#[test]
fn max_entity_shrink_100_lets_a_reload_empty_the_entities() {
    let scratch = Scratch::new("entities-shrink");
    write(&scratch.0.join("policy.rampart"), GROUPS);
    let entities = scratch.0.join("entities.json");
    write(&entities, &group_entities(8));
    let sidecar = Sidecar::start(&scratch.0, &["--no-watch", "--max-entity-shrink", "100"]);
    assert_eq!(effect(&sidecar), suspended());
    write(&entities, "[]");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(effect(&sidecar), ("allow".to_owned(), "readers".to_owned()));
    // Deleting it is still a failure: `[]` is how to say "no entities".
    std::fs::remove_file(&entities).expect("delete the entities");
    assert_eq!(reload(&sidecar).0, 422);
}

#[test]
fn a_policy_file_written_slowly_is_never_served_half_written() {
    let scratch = Scratch::new("slow-writer");
    let policy = scratch.0.join("policy.rampart");
    let deny = "\n@id(\"b-denies\")\ndeny \"read\" on Doc for User reason \"policy B\"\n";
    write(&policy, &format!("{}{deny}", policy_a()));
    // The default settle period; checks every 100 ms.
    let sidecar = Arc::new(Sidecar::start(&scratch.0, &["--watch-interval", "100ms"]));
    let first = revision_of(&sidecar);
    assert_eq!(decide(&sidecar).2["decision"], "deny");

    let stop = Arc::new(AtomicBool::new(false));
    let allowed = Arc::new(Mutex::new(Vec::<String>::new()));
    let decider = {
        let (sidecar, stop, allowed) = (
            Arc::clone(&sidecar),
            Arc::clone(&stop),
            Arc::clone(&allowed),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let (_, revision, body) = decide(&sidecar);
                if body["decision"] != "deny" {
                    let mut allowed = allowed.lock().expect("allowed");
                    allowed.push(format!("{revision:?}: {body}"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // The same policy rewritten in place, a piece at a time with pauses of several checks,
    // the deny rule last; the allow rule now has another reason (a new revision).
    let text = format!("{}{deny}", policy_a().replace("policy A", "policy A, v2"));
    let (head, tail) = text.split_at(text.find("\n@id(\"b-denies\")").expect("the deny rule"));
    let pieces = [
        &head[..head.len() / 2],
        &head[head.len() / 2..],
        &tail[..tail.len() / 2],
        &tail[tail.len() / 2..],
    ];
    let mut file = std::fs::File::create(&policy).expect("truncate the policy");
    for piece in pieces {
        std::thread::sleep(Duration::from_millis(400));
        std::io::Write::write_all(&mut file, piece.as_bytes()).expect("write a piece");
        file.sync_all().expect("flush the piece");
    }
    drop(file);
    eventually("the finished file to be loaded", || {
        decide(&sidecar).1.as_deref() != Some(first.as_str())
    });
    stop.store(true, Ordering::SeqCst);
    decider.join().expect("the decider thread");
    let allowed = allowed.lock().expect("allowed");
    assert!(
        allowed.is_empty(),
        "served from a half-written file {} times, first: {:?}",
        allowed.len(),
        allowed.first()
    );
    // Only the finished file was loaded.
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"success\"}").as_deref(),
        Some("1")
    );
    let (_, _, body) = decide(&sidecar);
    assert_eq!(body["rules"][0], "b-denies", "{body}");
    // Files that no longer change are not loaded again.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"success\"}").as_deref(),
        Some("1")
    );
}
