//! The shipper's pieces without a network: following the file across rotations and
//! restarts, sink URLs, backoff and the metrics.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::reader::{chain_fields, Cursor, Line, Reader};
use super::*;
use crate::decision_log::chain::ChainHead;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("rampart-ship-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Appends `n` sealed records to the file at `path`.
fn append(path: &Path, head: &mut ChainHead, n: usize) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..n {
        let mut body = format!("{{\"id\":\"r{}\",\"decision\":\"allow\"", head.seq + 1);
        head.seal(&mut body);
        file.write_all(body.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn read_all(reader: &mut Reader) -> Vec<Line> {
    let mut lines = Vec::new();
    reader
        .read(usize::MAX, &mut lines)
        .unwrap_or_else(|e| panic!("{e}"));
    lines
}

fn seqs(lines: &[Line]) -> Vec<u64> {
    lines.iter().map(|l| l.seq).collect()
}

fn rotate(path: &Path) {
    let one = crate::decision_log::sink::rotated_path(path, 1);
    let two = crate::decision_log::sink::rotated_path(path, 2);
    if one.exists() {
        std::fs::rename(&one, &two).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::rename(path, &one).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn chain_fields_are_read_from_the_end_of_a_sealed_line() {
    let mut head = ChainHead::genesis();
    let mut body = r#"{"id":"a","note":"\"seq\":99"#.to_owned() + "\"";
    head.seal(&mut body);
    let line = body.trim_end().as_bytes();
    let (seq, prev, hash) = chain_fields(line).unwrap_or_else(|| panic!("no fields"));
    assert_eq!(
        (seq, prev.as_str()),
        (1, crate::decision_log::chain::GENESIS)
    );
    assert_eq!(hash, head.hash);
    assert_eq!(chain_fields(b"{\"id\":\"a\"}"), None);
    assert_eq!(chain_fields(&line[..line.len() - 3]), None);
    assert_eq!(chain_fields(b""), None);
}

#[test]
fn the_reader_follows_the_log_across_rotations_and_resumes_from_a_cursor() {
    let dir = Dir::new("follow");
    let log = dir.0.join("decisions.jsonl");
    let mut head = ChainHead::genesis();
    append(&log, &mut head, 3);
    let mut reader = Reader::new(&log, MAX_RECORD_BYTES, None);
    let first = read_all(&mut reader);
    assert_eq!(seqs(&first), [1, 2, 3]);
    assert!(read_all(&mut reader).is_empty());
    // A partial line is not read until it is complete.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(b"{\"id\":"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(read_all(&mut reader).is_empty());
    // Complete it with a sealed record's remainder: rewrite the file as a sound chain.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    std::fs::write(&log, text.trim_end_matches("{\"id\":")).unwrap_or_else(|e| panic!("{e}"));
    append(&log, &mut head, 2);
    assert_eq!(seqs(&read_all(&mut reader)), [4, 5]);
    // Rotation: the old file is read to its end, then the new one.
    append(&log, &mut head, 1);
    rotate(&log);
    append(&log, &mut head, 2);
    assert_eq!(seqs(&read_all(&mut reader)), [6, 7, 8]);
    let cursor = first[1].cursor();
    // A restart from a cursor in the rotated file: everything after it, once.
    let mut again = Reader::new(&log, MAX_RECORD_BYTES, Some(&cursor));
    assert_eq!(seqs(&read_all(&mut again)), [3, 4, 5, 6, 7, 8]);
    assert_eq!(again.skipped, reader::Skipped::default());
    // The cursor survives its text form.
    assert_eq!(Cursor::from_json(cursor.to_json().as_bytes()), Some(cursor));
    assert_eq!(Cursor::from_json(b"{\"offset\":1}"), None);
}

#[test]
fn records_rotated_away_before_they_were_shipped_are_counted() {
    let dir = Dir::new("rotated");
    let log = dir.0.join("decisions.jsonl");
    let mut head = ChainHead::genesis();
    append(&log, &mut head, 2);
    let mut reader = Reader::new(&log, MAX_RECORD_BYTES, None);
    let read = read_all(&mut reader);
    let cursor = read[1].cursor();
    append(&log, &mut head, 3); // 3..5, never read
    rotate(&log);
    append(&log, &mut head, 2); // 6..7
    rotate(&log); // FILE.2 holds 1..5, FILE.1 6..7
    std::fs::remove_file(crate::decision_log::sink::rotated_path(&log, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    append(&log, &mut head, 1); // 8
    let mut resumed = Reader::new(&log, MAX_RECORD_BYTES, Some(&cursor));
    assert_eq!(seqs(&read_all(&mut resumed)), [6, 7, 8]);
    assert_eq!(resumed.skipped.rotated, 3);
}

#[test]
fn lines_that_are_not_records_are_skipped_and_counted() {
    let dir = Dir::new("skipped");
    let log = dir.0.join("decisions.jsonl");
    let mut head = ChainHead::genesis();
    append(&log, &mut head, 1);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| {
            f.write_all(b"{\"id\":\"torn\n")?;
            f.write_all(&vec![b'x'; 300_000])?;
            f.write_all(b"\n")
        })
        .unwrap_or_else(|e| panic!("{e}"));
    append(&log, &mut head, 1);
    let mut reader = Reader::new(&log, 100_000, None);
    assert_eq!(seqs(&read_all(&mut reader)), [1, 2]);
    assert_eq!(reader.skipped.unsealed, 1);
    assert_eq!(reader.skipped.too_large, 1);
}

#[test]
fn sink_urls_are_checked() {
    let ok = |url: &str| url.parse::<SinkUrl>().unwrap_or_else(|e| panic!("{e}"));
    let syslog = ok("syslog+tls://logs.example:6514");
    assert_eq!(
        (syslog.kind, syslog.host.as_str(), syslog.port),
        (SinkKind::SyslogTls, "logs.example", 6514)
    );
    let https = ok("https://collector.example/v1/logs");
    assert_eq!((https.kind, https.port), (SinkKind::Http, 443));
    assert_eq!(ok("http://127.0.0.1:8080/logs").port, 8080);
    assert_eq!(ok("syslog+tcp://[::1]:514").host, "::1");
    for bad in [
        "syslog+tls://logs.example",
        "syslog+tcp://logs.example:514",
        "http://collector.example/logs",
        "ftp://x:1",
        "https://user:pw@collector.example/",
        "syslog+tls://logs.example:6514/path",
        "syslog+tls://:6514",
        "syslog+tls://a b:6514",
        "https://x:99999/",
        "logs.example:6514",
    ] {
        assert!(bad.parse::<SinkUrl>().is_err(), "{bad}");
    }
    assert_ne!(
        ok("https://a.example/x").cursor_name(),
        ok("https://a.example/y").cursor_name()
    );
    assert!(ok("https://a.example/x").cursor_name().starts_with("http-"));
}

#[test]
fn backoff_doubles_with_jitter_up_to_its_ceiling() {
    let mut backoff = Backoff::default();
    let mut step = RETRY_FIRST;
    for _ in 0..20 {
        let pause = backoff.next();
        assert!(pause >= step / 2 && pause <= step, "{pause:?} for {step:?}");
        step = (step * 2).min(RETRY_MAX);
    }
    backoff.reset();
    assert!(backoff.next() <= RETRY_FIRST);
}

#[test]
fn shipping_metrics_name_each_sink() {
    let stats = ShipStats {
        sinks: vec![
            Arc::new(SinkStats::new("syslog".into())),
            Arc::new(SinkStats::new("http".into())),
        ],
    };
    stats.sinks[0].shipped.store(7, Ordering::Relaxed);
    stats.sinks[0].confirmed_seq.store(7, Ordering::Relaxed);
    stats.sinks[1].errors.store(2, Ordering::Relaxed);
    stats.sinks[1].drop_records(DropReason::Rejected, 3);
    stats.sinks[1].confirmed_seq.store(3, Ordering::Relaxed);
    let mut out = String::new();
    stats.render(&mut out, 10);
    for line in [
        "rampart_decision_log_queued{sink=\"syslog\"} 3",
        "rampart_decision_log_queued{sink=\"http\"} 7",
        "rampart_decision_log_shipped_total{sink=\"syslog\"} 7",
        "rampart_decision_log_ship_dropped_total{sink=\"http\",reason=\"rejected\"} 3",
        "rampart_decision_log_ship_dropped_total{sink=\"syslog\",reason=\"rotated\"} 0",
        "rampart_decision_log_ship_errors_total{sink=\"http\"} 2",
        "# TYPE rampart_decision_log_queued gauge",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
    }
    let mut none = String::new();
    ShipStats::default().render(&mut none, 10);
    assert!(none.is_empty());
}
