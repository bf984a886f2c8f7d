//! The writer against the attacks on it: a restart after a cut-off line, rotation, a full
//! disk (a device whose writes fail with ENOSPC until space is freed), and a required log.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::verify::{verify_files, ChainReport, ProblemKind};
use super::*;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "rampart-decision-log-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(i: usize) -> Entry {
    let request = serde_json::json!({"http": {"method": "GET", "path": "/a"}});
    Entry::from_json(
        format!("id{i}"),
        Door::Decide,
        "r".into(),
        &request,
        Decision::error(format!("record {i}")),
        Duration::ZERO,
    )
}

fn write(path: &Path, rotation: Option<Rotation>, n: usize) {
    let options = LogOptions {
        rotation,
        ..LogOptions::default()
    };
    let log = DecisionLog::open(path, options).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..n {
        assert!(log.push(entry(i)));
    }
    log.close();
}

fn verify(paths: &[PathBuf]) -> ChainReport {
    verify_files(paths, None).unwrap_or_else(|e| panic!("{e}"))
}

fn kinds(report: &ChainReport) -> Vec<(u64, ProblemKind)> {
    report.problems.iter().map(|p| (p.line, p.kind)).collect()
}

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_clean_stop_is_recorded_and_a_restart_goes_on_with_the_chain() {
    let scratch = Scratch::new("restart");
    let path = scratch.0.join("log.jsonl");
    write(&path, None, 3);
    write(&path, None, 2);
    let report = verify(std::slice::from_ref(&path));
    // 3 records, a stop, 2 records, a stop: no crash between the runs.
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.records, report.closed), (7, true));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let stops = text
        .lines()
        .filter(|l| l.starts_with("{\"event\":\"stop\""))
        .count();
    assert_eq!(stops, 2);
}

#[test]
fn a_cut_off_last_line_is_noted_by_the_next_run_and_verify_goes_on_past_it() {
    let scratch = Scratch::new("torn");
    let path = scratch.0.join("log.jsonl");
    write(&path, None, 4);
    // A crash cut the last record (and so no stop record follows).
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let cut = format!(
        "{}\n{}",
        lines[..3].join("\n"),
        &lines[3][..lines[3].len() / 2]
    );
    std::fs::write(&path, &cut).unwrap_or_else(|e| panic!("{e}"));
    // Verify on the cut file: the cut line, nothing else.
    let report = verify(std::slice::from_ref(&path));
    assert_eq!(kinds(&report), vec![(4, ProblemKind::Truncated)]);

    write(&path, None, 2);
    let report = verify(std::slice::from_ref(&path));
    // Line 4 is the torn record, line 5 the crash record that names it; the chain goes
    // on through the next run and its stop.
    assert_eq!(
        kinds(&report),
        vec![(4, ProblemKind::Torn), (5, ProblemKind::Crash)],
        "{report:?}"
    );
    assert_eq!(
        (report.records, report.crashes, report.closed),
        (7, 1, true)
    );
    assert!(!report.is_tampered());

    // Attack: edit a record after the torn line. Verify still finds it.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let edited = text.replacen("record 1\"", "record 9\"", 2);
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap_or_else(|e| panic!("{e}"));
    let report = verify(std::slice::from_ref(&path));
    assert!(report.is_tampered());
    assert!(
        kinds(&report).contains(&(7, ProblemKind::Edited)),
        "{report:?}"
    );
    // Attack: rewrite the torn line itself: the crash record's hash of it no longer
    // matches.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[3] = lines[3].replace("\"id\":\"id3\"", "\"id\":\"xx3\"");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let report = verify(std::slice::from_ref(&path));
    assert!(
        kinds(&report).contains(&(5, ProblemKind::Edited)),
        "{report:?}"
    );
}

/// A start that crashed again while noting a torn line (it closed the line, its crash
/// record did not make it) does not restart the chain: the next start goes on from the
/// last sound record and notes the crash.
#[test]
fn a_closed_torn_line_does_not_restart_the_chain() {
    let scratch = Scratch::new("torn-closed");
    let path = scratch.0.join("log.jsonl");
    write(&path, None, 3);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!("{}\n{}\n", lines[..2].join("\n"), &lines[2][..30]);
    std::fs::write(&path, torn).unwrap_or_else(|e| panic!("{e}"));
    write(&path, None, 1);
    let report = verify(std::slice::from_ref(&path));
    assert_eq!(
        kinds(&report),
        vec![(3, ProblemKind::BadJson), (4, ProblemKind::Crash)],
        "{report:?}"
    );
    // The chain runs on: seq 3 is the crash record, after records 1 and 2.
    assert_eq!(report.last.map(|l| l.seq), Some(5));
}

#[test]
fn a_run_that_ends_without_a_stop_record_is_noted_as_a_crash() {
    let scratch = Scratch::new("crash");
    let path = scratch.0.join("log.jsonl");
    write(&path, None, 3);
    // The stop record removed, as a kill -9 between two batches leaves the log.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let report = verify(std::slice::from_ref(&path));
    assert!(report.is_intact() && !report.closed, "{report:?}");
    write(&path, None, 1);
    let report = verify(std::slice::from_ref(&path));
    assert_eq!(kinds(&report), vec![(4, ProblemKind::Crash)]);
    assert!(!report.is_intact() && !report.is_tampered());
}

#[test]
fn rotation_keeps_the_chain_across_files_and_bounds_their_number() {
    let scratch = Scratch::new("rotation");
    let path = scratch.0.join("log.jsonl");
    let rotation = Rotation {
        max_bytes: 2000,
        keep: 2,
    };
    write(&path, Some(rotation), 20);
    let rotated = |n| sink::rotated_path(&path, n);
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists());
    for file in [path.clone(), rotated(1), rotated(2)] {
        let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0 && len <= 2000, "{} has {len} bytes", file.display());
    }
    // The oldest file kept links to a deleted one: verify from its `prev`.
    let files = [rotated(2), rotated(1), path.clone()];
    let first = std::fs::read_to_string(&files[0]).unwrap_or_default();
    let first: Json =
        serde_json::from_str(first.lines().next().unwrap_or_default()).unwrap_or_default();
    let start = first["prev"].as_str().map(str::to_owned);
    let report = verify_files(&files, start.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_intact(), "{report:?}");
    // 20 records and the stop record.
    assert_eq!(report.last.as_ref().map(|l| l.seq), Some(21));
    // Without the start, the missing beginning is reported.
    let report = verify(&files);
    assert_eq!(report.problem().map(|p| p.kind), Some(ProblemKind::Removed));

    // Moved away by hand (as logrotate does), the file is missing at the next start:
    // the chain goes on from the last record of `FILE.1`.
    std::fs::rename(&path, rotated(1)).unwrap_or_else(|e| panic!("{e}"));
    write(&path, None, 1);
    let text = std::fs::read_to_string(rotated(1)).unwrap_or_default();
    let first: Json =
        serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap_or_default();
    let start = first["prev"].as_str().map(str::to_owned);
    let report = verify_files(&[rotated(1), path.clone()], start.as_deref())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.last.map(|l| l.seq), Some(23));
}

/// A log on a device with `space` bytes free.
fn open_limited(path: &Path, space: &Arc<AtomicU64>, options: LogOptions) -> DecisionLog {
    let file = LogFile::open_limited(path, options.rotation, Arc::clone(space))
        .unwrap_or_else(|e| panic!("{e}"));
    DecisionLog::start(file, options).unwrap_or_else(|e| panic!("{e}"))
}

/// F4: on a full disk every record is kept or counted, the loss is declared in the chain,
/// and writing resumes by itself once space is freed.
#[test]
fn a_full_disk_is_retried_counted_declared_and_survived() {
    let scratch = Scratch::new("full");
    let path = scratch.0.join("log.jsonl");
    // Room for a few records: the disk fills in the middle of one.
    let space = Arc::new(AtomicU64::new(1500));
    let log = open_limited(&path, &space, LogOptions::default());
    let status = log.status();
    let mut accepted = 0usize;
    let mut i = 0;
    // Fill the queue while the writer is stuck: pushes start failing.
    while log.push(entry(i)) {
        accepted += 1;
        i += 1;
        assert!(i < 100_000, "the queue never filled");
    }
    wait_for("the writer is failing", || !status.is_writable());
    let refused = 1 + (0..250).filter(|n| !log.push(entry(i + 1 + n))).count() as u64;
    assert!(status.write_errors() >= 1);
    // Refused while the disk is full: counted as write errors, none as queue_full.
    assert_eq!(status.dropped(GapReason::WriteError), refused);
    assert_eq!(status.dropped(GapReason::QueueFull), 0);

    // The retries back off: a second later, only a handful of attempts were made.
    let errors = status.write_errors();
    std::thread::sleep(Duration::from_millis(1200));
    let attempts = status.write_errors() - errors;
    assert!(
        attempts <= 8,
        "{attempts} attempts in 1.2 s: not backing off"
    );

    // Space is freed: the writer goes on by itself.
    space.store(u64::MAX, Ordering::SeqCst);
    wait_for("the writer recovers", || status.is_writable());
    // Writable again means one write went through; the queue drains after it, and a push
    // made before it has room would be refused (and counted as queue_full).
    wait_for("the queue drains", || {
        status.written_seq() >= accepted as u64
    });
    for n in 0..3 {
        assert!(log.push(entry(1_000_000 + n)));
    }
    log.close();

    let report = verify(std::slice::from_ref(&path));
    assert!(!report.is_tampered(), "{report:?}");
    assert_eq!(report.lost, refused, "{report:?}");
    let gaps: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Gap)
        .collect();
    assert_eq!(gaps.len(), 1, "{report:?}");
    assert!(
        gaps[0]
            .message
            .contains("(write_error: No space left on device"),
        "{}",
        gaps[0].message
    );
    // Every accepted record is in the log, once, none half: accepted + 3, a gap, a stop.
    let expected = accepted as u64 + 3 + 2;
    assert_eq!(report.records, expected, "{report:?}");
    assert_eq!(kinds(&report).len(), 1);
}

/// Drops while the disk is fine (the writer fell behind) are `queue_full`, declared the
/// same way.
#[test]
fn a_full_queue_is_counted_and_declared() {
    let scratch = Scratch::new("queue");
    let path = scratch.0.join("log.jsonl");
    // The queue is filled before the writer starts, as a burst faster than it fills it.
    let (sender, receiver) = sync_channel(QUEUE_RECORDS);
    let status = Arc::new(LogStatus::default());
    let log = DecisionLog {
        sender: RwLock::new(Some(sender)),
        writer: Mutex::new(None),
        status: Arc::clone(&status),
        required: false,
        shippers: Mutex::new(Vec::new()),
    };
    for i in 0..QUEUE_RECORDS {
        assert!(log.push(entry(i)));
    }
    for i in 0..10 {
        assert!(!log.push(entry(QUEUE_RECORDS + i)));
    }
    assert_eq!(status.dropped(GapReason::QueueFull), 10);
    assert_eq!(status.dropped(GapReason::WriteError), 0);
    let file = LogFile::open(&path, None).unwrap_or_else(|e| panic!("{e}"));
    let writer = Writer::new(file, Arc::clone(&status), Fsync::Never);
    let handle = std::thread::spawn(move || writer.run(receiver));
    if let Ok(mut slot) = log.writer.lock() {
        *slot = Some(handle);
    }
    log.close();
    let report = verify(std::slice::from_ref(&path));
    assert_eq!(report.lost, 10, "{report:?}");
    assert_eq!(
        kinds(&report),
        vec![(QUEUE_RECORDS as u64 + 1, ProblemKind::Gap)]
    );
    assert!(report.problems[0].message.contains("(queue_full)"));
    assert_eq!(report.records, QUEUE_RECORDS as u64 + 2);
}

/// A policy that decides nothing (every request is denied).
fn empty_policy() -> crate::state::Policy {
    use rampart_engine::bundle::{
        EntityType, Schema, ANONYMOUS_TYPE, BUNDLE_FORMAT, BUNDLE_VERSION,
    };
    let bundle = rampart_engine::Bundle {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        revision: "r".into(),
        symbols: vec![],
        schema: Schema {
            entity_types: vec![EntityType {
                name: ANONYMOUS_TYPE.into(),
                attrs: Default::default(),
                parents: vec![],
                tags: None,
            }],
            enums: vec![],
            actions: vec![],
            context: Default::default(),
        },
        packages: vec![],
        rules: vec![],
        obligations: vec![],
        routes: vec![],
        principals: vec![],
    };
    let engine = rampart_engine::Engine::new(bundle).unwrap_or_else(|e| panic!("{e}"));
    let entities = engine.empty_entities();
    crate::state::Policy { engine, entities }
}

fn names_the_log(decided: &crate::state::Decided) -> bool {
    decided
        .decision
        .errors
        .iter()
        .any(|e| e.message.starts_with("the decision log cannot be written"))
}

/// F4 with `--decision-log-required`: while records cannot be written, decisions are
/// denied and the sidecar is unready; once space is back, both recover by themselves,
/// and nothing that was answered is missing from the log.
#[test]
fn a_required_log_denies_and_goes_unready_until_it_can_write() {
    let scratch = Scratch::new("required");
    let path = scratch.0.join("log.jsonl");
    let space = Arc::new(AtomicU64::new(0));
    let options = LogOptions {
        required: true,
        ..LogOptions::default()
    };
    let state =
        crate::state::State::new(empty_policy(), Some(open_limited(&path, &space, options)));
    let request = serde_json::json!({"principal": null, "action": "read", "resource": null});
    let before = state.decide(Door::Decide, &request, None);
    assert!(!names_the_log(&before));
    // The writer fails on that first record: from then on, decisions are refused.
    wait_for("the log refuses decisions", || {
        state.log_refuses_decisions()
    });
    let mut refused = 0;
    for _ in 0..20 {
        let decided = state.decide(Door::Decide, &request, None);
        assert!(!decided.decision.is_allow());
        refused += usize::from(names_the_log(&decided));
    }
    assert_eq!(refused, 20);
    let metrics = state.metrics.render("r");
    assert!(
        metrics.contains("rampart_decision_log_writable 0"),
        "{metrics}"
    );

    space.store(u64::MAX, Ordering::SeqCst);
    wait_for("the log is written again", || {
        !state.log_refuses_decisions()
    });
    let after = state.decide(Door::Decide, &request, None);
    assert!(!names_the_log(&after));
    assert!(state
        .metrics
        .render("r")
        .contains("rampart_decision_log_writable 1"));
    state.close_log();

    // Every decision answered is in the log, the refused ones with their reason.
    let report = verify(std::slice::from_ref(&path));
    assert!(report.is_intact(), "{report:?}");
    // 22 decisions and the stop record.
    assert_eq!(report.records, 23);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text.matches("the decision log cannot be written").count(),
        20
    );
}

/// Without `--decision-log-required`, a full disk does not change decisions or readiness
/// (the loss is counted and declared instead).
#[test]
fn an_optional_log_on_a_full_disk_changes_no_decision() {
    let scratch = Scratch::new("optional");
    let path = scratch.0.join("log.jsonl");
    let space = Arc::new(AtomicU64::new(0));
    let log = open_limited(&path, &space, LogOptions::default());
    let status = log.status();
    let state = crate::state::State::new(empty_policy(), Some(log));
    let request = serde_json::json!({"principal": null, "action": "read", "resource": null});
    let _ = state.decide(Door::Decide, &request, None);
    wait_for("the writer fails", || !status.is_writable());
    assert!(!state.log_refuses_decisions());
    assert!(!names_the_log(&state.decide(Door::Decide, &request, None)));
    space.store(u64::MAX, Ordering::SeqCst);
    state.close_log();
}

/// The cost of each fsync policy (docs/sidecar.md, "Durability"): the latency of one
/// append-and-`fdatasync` on the temp folder's disk, and the records a second the writer
/// sustains under each policy when fed faster than it writes (drops are declared, the
/// chain stays sound). A measurement, run by hand:
/// `cargo test -p rampart-sidecar --lib fsync_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn fsync_cost() {
    use std::io::Write as _;
    let scratch = Scratch::new("fsync-cost");
    let raw = scratch.0.join("raw");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw)
        .unwrap_or_else(|e| panic!("{e}"));
    let record = [b'x'; 600];
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        file.write_all(&record).unwrap_or_else(|e| panic!("{e}"));
        file.sync_data().unwrap_or_else(|e| panic!("{e}"));
    }
    let per_sync = started.elapsed() / rounds;
    eprintln!("append + fdatasync: {per_sync:?} each");
    let policies = [
        ("never", Fsync::Never),
        ("interval 1s", Fsync::Interval(Duration::from_secs(1))),
        ("always", Fsync::Always),
    ];
    for (name, fsync) in policies {
        let path = scratch.0.join(name.replace(' ', "-"));
        let options = LogOptions {
            fsync,
            ..LogOptions::default()
        };
        let log = DecisionLog::open(&path, options).unwrap_or_else(|e| panic!("{e}"));
        let status = log.status();
        let started = Instant::now();
        let mut accepted = 0u64;
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(2) {
            if log.push(entry(i)) {
                accepted += 1;
            } else {
                std::thread::yield_now();
            }
            i += 1;
        }
        log.close();
        let elapsed = started.elapsed().as_secs_f64();
        let report = verify(std::slice::from_ref(&path));
        assert!(!report.is_tampered(), "{report:?}");
        assert_eq!(report.lost, status.dropped(GapReason::QueueFull));
        eprintln!(
            "{name}: {:.0} records/s written ({accepted} in {elapsed:.2} s)",
            accepted as f64 / elapsed
        );
    }
}

/// With `--decision-log-required`, a decision whose record the queue cannot take is denied,
/// on the JSON path and on the typed (ext_authz) path, where the record is queued before
/// the answer; the refusals are counted.
#[test]
fn a_required_log_denies_what_its_queue_cannot_take() {
    // A queue of the usual size, filled before any writer runs.
    let (sender, receiver) = sync_channel(QUEUE_RECORDS);
    let log = DecisionLog {
        sender: RwLock::new(Some(sender)),
        writer: Mutex::new(None),
        status: Arc::new(LogStatus::default()),
        required: true,
        shippers: Mutex::new(Vec::new()),
    };
    for i in 0..QUEUE_RECORDS {
        assert!(log.push(entry(i)));
    }
    let status = log.status();
    let state = crate::state::State::new(empty_policy(), Some(log));
    let full = "the decision log cannot take the record of this decision";
    let request = serde_json::json!({"principal": null, "action": "read", "resource": null});
    let decided = state.decide(Door::Decide, &request, None);
    assert!(
        decided
            .decision
            .errors
            .iter()
            .any(|e| e.message.starts_with(full)),
        "{:?}",
        decided.decision
    );
    let facts = rampart_engine::gateway::RequestFacts {
        method: "GET",
        path: "/a",
        host: None,
        source_ip: None,
        source_port: None,
        tls: Default::default(),
        auth: None,
        package: None,
        time_ms: None,
    };
    let (decided, pending) =
        crate::fuzzing::now_or_never(state.decide_http(Door::ExtAuthz, &facts, std::iter::empty()))
            .unwrap_or_else(|| panic!("deciding without a rate-limit store waited"));
    assert!(
        decided
            .decision
            .errors
            .iter()
            .any(|e| e.message.starts_with(full)),
        "{:?}",
        decided.decision
    );
    state.log_decided(pending, decided);
    assert_eq!(status.dropped(GapReason::QueueFull), 2);
    // The metrics count what was answered: two denials.
    let metrics = state.metrics.render("r");
    assert!(
        metrics.contains("rampart_decisions_total{door=\"decide\",effect=\"deny\"} 1")
            && metrics.contains("rampart_decisions_total{door=\"ext_authz\",effect=\"deny\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_decision_log_dropped_total{reason=\"queue_full\"} 2"));
    drop(receiver);
}
