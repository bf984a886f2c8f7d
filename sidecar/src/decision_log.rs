//! The decision log: one JSON line per decision, hash-chained, written by a thread of its
//! own.
//!
//! Deciding threads hand the owned facts of each decision (an [`Entry`]: ids, the request
//! summary, the decision) to a bounded queue; they never format, hash or wait on the disk.
//! The writer thread formats each record (`record`), seals it into the chain (`chain`:
//! `seq`, `prev`, `hash`) in the order it writes them, and appends it to the file, rotating
//! by size (`sink`). `verify` reads a chain back, finds every record that was edited,
//! removed or moved, and reports what the writer recorded about itself (`event`).
//!
//! **Key design decision:** a loss is never silent. A record that cannot be queued is
//! dropped and counted by reason (`rampart_decision_log_dropped_total{reason}`), and the
//! writer seals a gap record saying how many were lost once it can write again. A write
//! that fails (a full disk) is retried with backoff, from the byte where it stopped, until
//! it succeeds; meanwhile the queue fills, and the sidecar is unwritable: with
//! `--decision-log-required` decisions are denied and `/readyz` answers 503. A run that
//! ends without closing the log (kill -9) is noted by the next run in a crash record.

mod chain;
mod entry;
mod event;
mod record;
pub mod ship;
mod sink;
pub mod verify;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rampart_engine::Decision;
use serde_json::Value as Json;

pub use entry::{Entry, FactValue, RequestSummary};
pub use event::GapReason;
pub use record::{cut_path, secrets_from};
pub use sink::Rotation;

use crate::state::Door;
use event::Event;
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

/// The first wait before a failed write is tried again; it doubles up to
/// [`RETRY_MAX_PAUSE`].
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(10);
const RETRY_MAX_PAUSE: Duration = Duration::from_secs(1);

/// Attempts left for a failing write once the log is being closed (at most about 3 s with
/// the backoff), after which what is pending is given up and reported.
const CLOSING_ATTEMPTS: u32 = 3;

/// When written records are made durable with `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Never: the operating system writes them back in its own time (a process crash
    /// loses nothing written, a power loss may lose the last seconds).
    Never,
    /// At most once per interval, when something was written since.
    Interval(Duration),
    /// After every batch the writer writes (about one per millisecond under load).
    Always,
}

/// How a decision log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    pub rotation: Option<Rotation>,
    pub fsync: Fsync,
    /// Deny decisions (and be unready) while records cannot be written.
    pub required: bool,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            rotation: None,
            fsync: Fsync::Interval(Duration::from_secs(1)),
            required: false,
        }
    }
}

/// What the deciding threads, the writer and `/metrics` share about a log.
#[derive(Debug)]
pub struct LogStatus {
    /// False from a failed write until a write succeeds again.
    writable: AtomicBool,
    /// Records dropped, by [`GapReason`].
    dropped: [AtomicU64; 2],
    /// Write (or sync) attempts that failed.
    write_errors: AtomicU64,
    /// Set by [`DecisionLog::close`]: a failing writer gives up after a few attempts.
    closing: AtomicBool,
    /// The `seq` of the last record written to the file (shipping's queue ends there).
    written_seq: Arc<AtomicU64>,
    /// The sinks' counters, when the log is shipped.
    shipping: OnceLock<ship::ShipStats>,
}

impl Default for LogStatus {
    fn default() -> LogStatus {
        LogStatus {
            writable: AtomicBool::new(true),
            dropped: Default::default(),
            write_errors: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            written_seq: Arc::new(AtomicU64::new(0)),
            shipping: OnceLock::new(),
        }
    }
}

impl LogStatus {
    /// False while the writer cannot write.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::SeqCst)
    }

    /// Records dropped for `reason`.
    pub fn dropped(&self, reason: GapReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Failed write attempts.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// The sequence number of the last record written out to the file.
    pub fn written_seq(&self) -> u64 {
        self.written_seq.load(Ordering::SeqCst)
    }

    /// The shipping metrics (`rampart_decision_log_queued{sink}`, …) when the log has
    /// sinks; nothing otherwise.
    pub fn render_shipping(&self, out: &mut String) {
        if let Some(shipping) = self.shipping.get() {
            shipping.render(out, self.written_seq.load(Ordering::Relaxed));
        }
    }

    fn drop_record(&self) {
        let reason = if self.is_writable() {
            GapReason::QueueFull
        } else {
            GapReason::WriteError
        };
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// A running decision-log writer.
pub struct DecisionLog {
    /// `None` once closed. Deciding threads only take the read lock.
    sender: RwLock<Option<SyncSender<Entry>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    status: Arc<LogStatus>,
    required: bool,
    /// One per `--decision-log-sink`.
    shippers: Mutex<Vec<ship::Shipper>>,
}

/// Why a decision log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Ship(#[from] ship::ShipError),
}

impl DecisionLog {
    /// Opens (creating or appending to) the file, picks up the chain where the file (or
    /// its last rotated file) ends, and starts the writer thread.
    #[cfg(test)]
    pub fn open(path: &Path, options: LogOptions) -> std::io::Result<DecisionLog> {
        let file = LogFile::open(path, options.rotation)?;
        DecisionLog::start(file, options)
    }

    /// [`DecisionLog::open`] for a replica of a fleet: every record carries
    /// `shipping.instance` (when not empty), and a shipper per sink follows the file.
    pub fn open_shipped(
        path: &Path,
        options: LogOptions,
        shipping: &ship::ShipOptions,
    ) -> Result<DecisionLog, OpenError> {
        let instance = Some(shipping.instance.as_str()).filter(|i| !i.is_empty());
        let file = LogFile::open_as(path, options.rotation, instance)?;
        let log = DecisionLog::start(file, options)?;
        if !shipping.sinks.is_empty() {
            let (shippers, stats) =
                ship::start(path, shipping, Arc::clone(&log.status.written_seq))?;
            let _ = log.status.shipping.set(stats);
            if let Ok(mut slot) = log.shippers.lock() {
                *slot = shippers;
            }
        }
        Ok(log)
    }

    fn start(file: LogFile, options: LogOptions) -> std::io::Result<DecisionLog> {
        let (sender, receiver) = sync_channel(QUEUE_RECORDS);
        let status = Arc::new(LogStatus::default());
        let writer = Writer::new(file, Arc::clone(&status), options.fsync);
        let writer = std::thread::Builder::new()
            .name("rampart-decision-log".into())
            .spawn(move || writer.run(receiver))?;
        Ok(DecisionLog {
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            status,
            required: options.required,
            shippers: Mutex::new(Vec::new()),
        })
    }

    /// The counters and state `/metrics` and `/readyz` report.
    pub fn status(&self) -> Arc<LogStatus> {
        Arc::clone(&self.status)
    }

    /// True with `--decision-log-required`.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// True when decisions must be denied: the log is required and cannot be written.
    pub fn refuses_decisions(&self) -> bool {
        self.required && !self.status.is_writable()
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

    /// Queues an entry. False when it was dropped (queue full or closed); the drop is
    /// counted, and declared in the chain by the next gap record.
    // The queue's slots hold entries by value (no allocation per record); a refused
    // entry comes back in the error and is dropped here.
    #[allow(clippy::result_large_err)]
    pub fn push(&self, entry: Entry) -> bool {
        let sent = match self.sender.read() {
            Ok(guard) => match guard.as_ref().map(|s| s.try_send(entry)) {
                Some(Ok(())) => true,
                Some(Err(TrySendError::Full(_))) => false,
                // The writer is gone: nothing will be written any more.
                Some(Err(TrySendError::Disconnected(_))) => {
                    self.status.writable.store(false, Ordering::SeqCst);
                    false
                }
                None => false,
            },
            Err(_) => false,
        };
        if !sent {
            self.status.drop_record();
        }
        sent
    }

    /// Stops accepting records, writes out the queue and a stop record, and waits for the
    /// writer to finish (a few seconds at most when writes keep failing).
    pub fn close(&self) {
        self.status.closing.store(true, Ordering::SeqCst);
        if let Ok(mut sender) = self.sender.write() {
            sender.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            if handle.join().is_err() {
                eprintln!("rampart serve: the decision-log writer failed");
            }
        }
        // The shippers send what the writer wrote last (its stop record included), for a
        // few seconds at most; the rest waits in the file for the next run.
        let shippers = self
            .shippers
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        for shipper in shippers {
            shipper.finish();
        }
    }
}

/// The writer thread's state.
struct Writer {
    file: LogFile,
    status: Arc<LogStatus>,
    fsync: Fsync,
    /// Drops already declared in gap records, by reason.
    declared: [u64; 2],
    /// The last write error, for the next gap record.
    last_error: Option<String>,
    last_sync: Instant,
    /// Set when writing was given up on exit: nothing more is tried.
    abandoned: bool,
    buffer: Vec<u8>,
    time: record::TimeText,
}

impl Writer {
    fn new(file: LogFile, status: Arc<LogStatus>, fsync: Fsync) -> Writer {
        Writer {
            file,
            status,
            fsync,
            declared: [0; 2],
            last_error: None,
            last_sync: Instant::now(),
            abandoned: false,
            buffer: Vec::with_capacity(RECORD_CAPACITY),
            time: record::TimeText::default(),
        }
    }

    /// Formats, seals and writes each record (in one reused buffer); after each batch
    /// declares new drops, writes the batch out and syncs per the policy, then rests for
    /// [`BATCH_PAUSE`]. Ends with a stop record once the queue is closed.
    fn run(mut self, receiver: Receiver<Entry>) {
        loop {
            let first = match self.sync_wait() {
                Some(wait) => match receiver.recv_timeout(wait) {
                    Ok(entry) => entry,
                    Err(RecvTimeoutError::Timeout) => {
                        self.commit(true);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match receiver.recv() {
                    Ok(entry) => entry,
                    Err(_) => break,
                },
            };
            let mut next = Some(first);
            while let Some(entry) = next {
                self.buffer.clear();
                record::write_record(&mut self.buffer, &entry, &mut self.time);
                // Dropped here, on the writer thread.
                drop(entry);
                self.append();
                next = receiver.try_recv().ok();
            }
            self.declare_gaps();
            self.commit(false);
            std::thread::sleep(BATCH_PAUSE);
        }
        self.declare_gaps();
        self.write_event(&Event::Stop);
        self.commit(true);
    }

    /// How long the writer may wait for a record before an interval sync is due; `None`
    /// when nothing waits to be synced.
    fn sync_wait(&self) -> Option<Duration> {
        match self.fsync {
            Fsync::Interval(every) if self.file.is_unsynced() => {
                Some(every.saturating_sub(self.last_sync.elapsed()))
            }
            _ => None,
        }
    }

    /// Seals the record in `buffer` and queues it for writing, waiting out a failing
    /// write.
    fn append(&mut self) {
        if self.abandoned {
            return;
        }
        if let Err(error) = self.file.append(&mut self.buffer) {
            self.recover(error, false);
        }
    }

    fn write_event(&mut self, event: &Event) {
        self.buffer.clear();
        event.write(&mut self.buffer, crate::state::now_ms(), &mut self.time);
        self.append();
    }

    /// Seals a gap record for each reason records were dropped for since the last one.
    fn declare_gaps(&mut self) {
        for reason in GapReason::ALL {
            let dropped = self.status.dropped(reason);
            let lost = dropped.saturating_sub(self.declared[reason.index()]);
            if lost > 0 {
                self.declared[reason.index()] = dropped;
                let error = match reason {
                    GapReason::WriteError => self.last_error.clone(),
                    GapReason::QueueFull => None,
                };
                self.write_event(&Event::Gap {
                    reason,
                    lost,
                    error,
                });
            }
        }
    }

    /// Writes out the batch and syncs it when the policy (or `sync_now`) says so; on
    /// failure waits until it works.
    fn commit(&mut self, sync_now: bool) {
        if self.abandoned {
            return;
        }
        if let Err(error) = self.write_out(sync_now) {
            self.recover(error, sync_now);
        }
    }

    fn write_out(&mut self, sync_now: bool) -> std::io::Result<()> {
        self.file.flush()?;
        self.status
            .written_seq
            .store(self.file.head_seq(), Ordering::SeqCst);
        let due = match self.fsync {
            Fsync::Never => false,
            Fsync::Always => true,
            Fsync::Interval(every) => self.last_sync.elapsed() >= every,
        };
        // `sync_now`: an interval elapsed while idle, or the log is being closed (every
        // policy syncs then).
        if ((due && self.fsync != Fsync::Never) || sync_now) && self.file.is_unsynced() {
            self.file.sync()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// After a failed write: marks the log unwritable, then tries again with backoff
    /// (10 ms doubling to 1 s) until a write succeeds. While closing, gives up after
    /// [`CLOSING_ATTEMPTS`] and reports the records lost.
    fn recover(&mut self, error: std::io::Error, sync_now: bool) {
        self.status.write_errors.fetch_add(1, Ordering::Relaxed);
        self.status.writable.store(false, Ordering::SeqCst);
        eprintln!("rampart serve: cannot write the decision log: {error}; retrying");
        self.last_error = Some(error.to_string());
        let mut pause = RETRY_FIRST_PAUSE;
        let mut closing_attempts = 0;
        loop {
            std::thread::sleep(pause);
            pause = pause.saturating_mul(2).min(RETRY_MAX_PAUSE);
            match self.write_out(sync_now) {
                Ok(()) => break,
                Err(error) => {
                    self.status.write_errors.fetch_add(1, Ordering::Relaxed);
                    self.last_error = Some(error.to_string());
                }
            }
            if self.status.closing.load(Ordering::SeqCst) {
                closing_attempts += 1;
                if closing_attempts >= CLOSING_ATTEMPTS {
                    eprintln!(
                        "rampart serve: gave up writing the decision log on exit: {} records \
                         lost ({}); the next start records a crash",
                        self.file.pending_records(),
                        self.last_error.as_deref().unwrap_or_default()
                    );
                    self.abandoned = true;
                    return;
                }
            }
        }
        self.status.writable.store(true, Ordering::SeqCst);
        eprintln!("rampart serve: the decision log is written again");
    }
}

#[cfg(test)]
mod tests;
