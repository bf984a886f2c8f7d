//! The decision log: one JSON line per decision, hash-chained, written by a thread of its
//! own.
//!
//! Deciding threads hand the owned facts of each decision (an [`Entry`]: ids, the request
//! summary, the decision) to a bounded queue; they never format, hash or wait on the disk.
//! When the queue is full the entry is dropped and counted
//! (`rampart_decision_log_dropped_total`). The writer thread formats each record (`record`),
//! seals it into the chain (`chain`: `seq`, `prev`, `hash`) in the order it writes them,
//! and appends it to the file, rotating by size (`sink`). `verify` reads a chain back and finds the first
//! record that was edited, removed or moved.

mod chain;
mod entry;
mod record;
mod sink;
pub mod verify;

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rampart_engine::Decision;
use serde_json::Value as Json;

pub use entry::{Entry, FactValue, RequestSummary};
pub use record::{cut_path, secrets_from};
pub use sink::Rotation;

use crate::state::Door;
use sink::LogFile;

/// The bytes reserved for a record up front: most records fit without growing.
const RECORD_CAPACITY: usize = 2048;

/// Records waiting to be written before new ones are dropped.
const QUEUE_RECORDS: usize = 16 * 1024;

/// How long the writer rests after writing out the queue before it looks again. Records
/// that arrive meanwhile are written as one batch, so that a busy sidecar does not wake the
/// writer (a futex call and a context switch) for every decision; at 1 ms the queue holds
/// any rate below 16 million decisions a second.
const BATCH_PAUSE: Duration = Duration::from_millis(1);

/// A running decision-log writer.
pub struct DecisionLog {
    /// `None` once closed. Deciding threads only take the read lock.
    sender: RwLock<Option<SyncSender<Entry>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl DecisionLog {
    /// Opens (creating or appending to) the file, picks up the chain where the file (or
    /// its last rotated file) ends, and starts the writer thread.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> std::io::Result<DecisionLog> {
        let file = LogFile::open(path, rotation)?;
        let (sender, receiver) = sync_channel(QUEUE_RECORDS);
        let writer = std::thread::Builder::new()
            .name("rampart-decision-log".into())
            .spawn(move || write_records(receiver, file))?;
        Ok(DecisionLog {
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues the record of one decision on a request given as request JSON, taken on the
    /// bundle `revision`. False when it was dropped (queue full or closed).
    pub fn record(
        &self,
        id: &str,
        door: Door,
        revision: &str,
        request: &Json,
        decision: &Decision,
        elapsed: Duration,
    ) -> bool {
        self.push(Entry::from_json(
            id.to_owned(),
            door,
            revision.to_owned(),
            request,
            decision.clone(),
            elapsed,
        ))
    }

    /// Queues an entry. False when it was dropped (queue full or closed).
    // The queue's slots hold entries by value (no allocation per record); a refused
    // entry comes back in the error and is dropped here.
    #[allow(clippy::result_large_err)]
    pub fn push(&self, entry: Entry) -> bool {
        let Ok(guard) = self.sender.read() else {
            return false;
        };
        match guard.as_ref().map(|s| s.try_send(entry)) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => false,
        }
    }

    /// Stops accepting records, writes out the queue and waits for the writer to finish.
    pub fn close(&self) {
        if let Ok(mut sender) = self.sender.write() {
            sender.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            if handle.join().is_err() {
                eprintln!("rampart serve: the decision-log writer failed");
            }
        }
    }
}

/// The writer thread: formats, seals and writes each record (in one reused buffer),
/// flushing whenever the queue is empty, then rests for [`BATCH_PAUSE`]. After a write
/// error nothing more is written (a gap would break the chain anyway); the error is
/// reported once.
fn write_records(receiver: Receiver<Entry>, mut file: LogFile) {
    let mut failed = false;
    let report = |error: std::io::Error| {
        eprintln!("rampart serve: cannot write the decision log: {error}");
    };
    let mut buffer = Vec::with_capacity(RECORD_CAPACITY);
    let mut time = record::TimeText::default();
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(entry) = next {
            if !failed {
                buffer.clear();
                record::write_record(&mut buffer, &entry, &mut time);
                if let Err(error) = file.append(&mut buffer) {
                    report(error);
                    failed = true;
                }
            }
            // Dropped here, on the writer thread.
            drop(entry);
            next = receiver.try_recv().ok();
        }
        if !failed {
            if let Err(error) = file.flush() {
                report(error);
                failed = true;
            }
        }
        std::thread::sleep(BATCH_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision_log::verify::{verify_files, ProblemKind};
    use std::path::PathBuf;

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

    fn write(path: &Path, rotation: Option<Rotation>, n: usize) {
        let log = DecisionLog::open(path, rotation).unwrap_or_else(|e| panic!("{e}"));
        let request = serde_json::json!({"http": {"method": "GET", "path": "/a"}});
        for i in 0..n {
            let decision = Decision::error(format!("record {i}"));
            assert!(log.record(
                &format!("id{i}"),
                Door::Decide,
                "r",
                &request,
                &decision,
                Duration::ZERO
            ));
        }
        log.close();
    }

    #[test]
    fn the_chain_survives_a_restart_and_a_cut_off_last_line() {
        let scratch = Scratch::new("restart");
        let path = scratch.0.join("log.jsonl");
        write(&path, None, 3);
        write(&path, None, 2);
        let report =
            verify_files(std::slice::from_ref(&path), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (report.records, report.problem.is_none()),
            (5, true),
            "{report:?}"
        );

        // A crash cut the last record: the next run closes the line and goes on; the cut
        // record stays visible to `verify`.
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, &text[..text.len() - 20]).unwrap_or_else(|e| panic!("{e}"));
        write(&path, None, 1);
        let report = verify_files(&[path], None).unwrap_or_else(|e| panic!("{e}"));
        let problem = report.problem.unwrap_or_else(|| panic!("not detected"));
        assert_eq!((problem.line, problem.kind), (5, ProblemKind::BadJson));
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
        assert!(report.problem.is_none(), "{report:?}");
        assert_eq!(report.last.as_ref().map(|l| l.seq), Some(20));
        // Without the start, the missing beginning is reported.
        let report = verify_files(&files, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.problem.map(|p| p.kind), Some(ProblemKind::Removed));

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
        assert!(report.problem.is_none(), "{report:?}");
        assert_eq!(report.last.map(|l| l.seq), Some(21));
    }
}
