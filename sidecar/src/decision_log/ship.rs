//! Shipping the decision log to SIEMs (`--decision-log-sink`), never in the way of a
//! decision.
//!
//! **Design:** the chained file is the one durable buffer. Doors queue to the writer as
//! before; each sink runs on a thread of its own (with its own small async runtime) that
//! follows the file (`reader`), sends what it reads, and keeps a cursor (the end offset,
//! `seq` and `hash` of the last record the sink confirmed) in `FILE.cursor.<sink>`. So an
//! outage of a sink costs no memory and blocks nothing: records wait in the file, the
//! `rampart_decision_log_queued{sink}` gauge rises, and once the sink is back the shipper
//! catches up from its cursor; a restart resumes from the cursor. Delivery is at least
//! once: records sent but not yet confirmed when a connection breaks (or before the cursor
//! was saved, on a crash) are sent again. Records rotated away (`--decision-log-keep`)
//! before they were shipped are lost to the sink and counted as dropped with reason
//! `rotated`; an HTTP batch a collector refuses (4xx other than 408 and 429) is dropped
//! with reason `rejected`.
//!
//! What is shipped: every line of the chain, event records included, so a receiver's copy
//! can be checked for completeness: a `rampart` syslog sink sends each line byte for byte
//! as its MSG (a receiver writing MSG per line holds a chain `rampart log verify` reads);
//! the HTTP sink sends OPA decision-log events; `--decision-log-format ocsf` sends OCSF
//! API Activity events on either (`format`).

mod format;
mod http;
mod reader;
mod syslog;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rampart_bundle::transport::OutboundTls;

pub use format::{ocsf_event, opa_event, OCSF_VERSION};
use reader::{Cursor, Line, Reader};

/// How long the shipper rests when it has read everything there is.
const IDLE_POLL: Duration = Duration::from_millis(20);

/// The first pause after a failed send; doubled (with jitter) up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// How often the cursor is saved while records are being confirmed.
const CURSOR_SAVE_EVERY: Duration = Duration::from_secs(1);

/// How long a closing sidecar keeps shipping what is left before it stops (the rest is
/// shipped by the next run, from the cursor).
const CLOSE_DRAIN: Duration = Duration::from_secs(5);

/// The longest record shipped: longer lines are skipped and counted (`too_large`).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The form records are shipped in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShipFormat {
    /// The chained record (syslog: the line itself; HTTP: an OPA decision-log event).
    #[default]
    Rampart,
    /// An OCSF API Activity event (class 6003).
    Ocsf,
}

/// The kind of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// `syslog+tls://HOST:PORT`: RFC 5424 over TLS (RFC 5425).
    SyslogTls,
    /// `syslog+tcp://HOST:PORT`: the same over plain TCP, to a loopback address only.
    SyslogTcp,
    /// `https://HOST/PATH` (or `http://` to loopback): gzip JSON batches, OPA's upload API.
    Http,
}

impl SinkKind {
    /// `syslog` or `http`: the `sink` label of the shipping metrics.
    pub fn label(self) -> &'static str {
        match self {
            SinkKind::SyslogTls | SinkKind::SyslogTcp => "syslog",
            SinkKind::Http => "http",
        }
    }
}

/// A `--decision-log-sink` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkUrl {
    pub kind: SinkKind,
    /// The URL as given.
    pub url: String,
    pub host: String,
    pub port: u16,
}

/// A sink URL that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("decision-log sink `{url}`: {reason}")]
pub struct SinkUrlError {
    pub url: String,
    pub reason: String,
}

impl std::str::FromStr for SinkUrl {
    type Err = SinkUrlError;

    fn from_str(url: &str) -> Result<SinkUrl, SinkUrlError> {
        let fail = |reason: &str| SinkUrlError {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| fail("expected syslog+tls://HOST:PORT or https://HOST/PATH"))?;
        let kind = match scheme {
            "syslog+tls" => SinkKind::SyslogTls,
            "syslog+tcp" => SinkKind::SyslogTcp,
            "https" | "http" => SinkKind::Http,
            _ => {
                return Err(fail(
                    "the scheme must be syslog+tls, syslog+tcp (loopback), https or http \
                     (loopback)",
                ))
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(fail("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| fail("no valid host"))?;
        let port = match (port, kind) {
            (Some(port), _) => port,
            (None, SinkKind::Http) if scheme == "https" => 443,
            (None, SinkKind::Http) => 80,
            (None, _) => return Err(fail("a syslog sink needs a port (6514 for TLS)")),
        };
        if matches!(kind, SinkKind::Http) && rest.len() > authority.len() {
            let tail = &rest[authority.len()..];
            if !tail.starts_with('/') {
                return Err(fail("the path must start with `/`"));
            }
        } else if rest.len() > authority.len() {
            return Err(fail("a syslog sink takes no path"));
        }
        let plain = scheme == "http" || kind == SinkKind::SyslogTcp;
        if plain && !rampart_bundle::transport::is_loopback_host(&host) {
            return Err(fail(
                "plain (unencrypted) shipping is allowed to a loopback address only",
            ));
        }
        Ok(SinkUrl {
            kind,
            url: url.to_owned(),
            host,
            port,
        })
    }
}

impl SinkUrl {
    /// The sink's name in its cursor file: its kind and a digest of its URL, so that a
    /// sink keeps its cursor whatever other sinks come and go.
    pub fn cursor_name(&self) -> String {
        let digest = super::event::sha256_hex(self.url.as_bytes());
        format!("{}-{}", self.kind.label(), &digest[..12])
    }
}

fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return (!host.is_empty()).then(|| (host.to_owned(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (authority, None),
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    valid.then(|| (host.to_owned(), port))
}

/// The default `--instance-id`: the host name (a pod's name in Kubernetes), read from
/// the kernel (`/proc/sys/kernel/hostname`), `/etc/hostname` or `$HOSTNAME`; `rampart`
/// when none says.
pub fn default_instance_id() -> String {
    let from_file = |path: &str| {
        std::fs::read(path).ok().and_then(|bytes| {
            let text = String::from_utf8(bytes.into_iter().take(255).collect()).ok()?;
            let name = text.trim().to_owned();
            (!name.is_empty() && !name.chars().any(|c| c.is_control() || c.is_whitespace()))
                .then_some(name)
        })
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty() && h.len() <= 255 && !h.contains(char::is_whitespace))
        })
        .unwrap_or_else(|| "rampart".to_owned())
}

/// How the decision log is shipped.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    pub sinks: Vec<SinkUrl>,
    pub format: ShipFormat,
    /// The replica's name (`--instance-id`): syslog HOSTNAME, OPA `labels.id`.
    pub instance: String,
    /// An HTTP batch is sent once it holds this many bytes of records…
    pub batch_bytes: usize,
    /// …or its first record waited this long.
    pub batch_interval: Duration,
    /// The most record bytes a sink holds in memory or sent but unconfirmed.
    pub buffer_bytes: usize,
    /// The CA file trusted in addition to the system's roots (`--outbound-ca`).
    pub tls: OutboundTls,
}

impl Default for ShipOptions {
    fn default() -> ShipOptions {
        ShipOptions {
            sinks: Vec::new(),
            format: ShipFormat::Rampart,
            instance: String::new(),
            batch_bytes: 1 << 20,
            batch_interval: Duration::from_secs(1),
            buffer_bytes: 16 << 20,
            tls: OutboundTls::default(),
        }
    }
}

/// Why shipping could not start, or a send failed.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("outbound TLS: {0}")]
    Tls(String),
    #[error("cannot start the shipper: {0}")]
    Start(std::io::Error),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("cannot send: {0}")]
    Send(String),
}

/// Why records were not shipped (`rampart_decision_log_ship_dropped_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Rotated away (deleted) before they were shipped.
    Rotated = 0,
    /// The collector refused the batch (4xx other than 408 and 429).
    Rejected = 1,
    /// Longer than `MAX_RECORD_BYTES`.
    TooLarge = 2,
    /// A line that is not a sealed record (cut off by a crash).
    Unsealed = 3,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::Rotated,
        DropReason::Rejected,
        DropReason::TooLarge,
        DropReason::Unsealed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::Rotated => "rotated",
            DropReason::Rejected => "rejected",
            DropReason::TooLarge => "too_large",
            DropReason::Unsealed => "unsealed",
        }
    }
}

/// The counters of one sink.
#[derive(Debug)]
pub struct SinkStats {
    label: String,
    shipped: AtomicU64,
    errors: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    /// The `seq` of the last record confirmed (or dropped).
    confirmed_seq: AtomicU64,
}

impl SinkStats {
    fn new(label: String) -> SinkStats {
        SinkStats {
            label,
            shipped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: Default::default(),
            confirmed_seq: AtomicU64::new(0),
        }
    }

    pub fn shipped(&self) -> u64 {
        self.shipped.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Ordering::Relaxed)
    }

    fn drop_records(&self, reason: DropReason, n: u64) {
        if n > 0 {
            self.dropped[reason as usize].fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// The counters of every sink of a log, and the `seq` the writer has written up to.
#[derive(Debug, Default)]
pub struct ShipStats {
    pub sinks: Vec<Arc<SinkStats>>,
}

impl ShipStats {
    /// The shipping metrics in the Prometheus text format; `written_seq` is the `seq` of
    /// the last record written to the file (the queue of a sink is what lies between its
    /// cursor and that record).
    pub fn render(&self, out: &mut String, written_seq: u64) {
        use std::fmt::Write as _;
        if self.sinks.is_empty() {
            return;
        }
        fn family(out: &mut String, name: &str, kind: &str, help: &str) {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        }
        family(
            out,
            "rampart_decision_log_queued",
            "gauge",
            "Decision-log records written but not yet shipped to the sink.",
        );
        for sink in &self.sinks {
            let queued = written_seq.saturating_sub(sink.confirmed_seq.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "rampart_decision_log_queued{{sink=\"{}\"}} {queued}",
                sink.label
            );
        }
        family(
            out,
            "rampart_decision_log_shipped_total",
            "counter",
            "Decision-log records the sink confirmed.",
        );
        for sink in &self.sinks {
            let _ = writeln!(
                out,
                "rampart_decision_log_shipped_total{{sink=\"{}\"}} {}",
                sink.label,
                sink.shipped()
            );
        }
        family(
            out,
            "rampart_decision_log_ship_dropped_total",
            "counter",
            "Decision-log records that will not reach the sink, by reason.",
        );
        for sink in &self.sinks {
            for reason in DropReason::ALL {
                let _ = writeln!(
                    out,
                    "rampart_decision_log_ship_dropped_total{{sink=\"{}\",reason=\"{}\"}} {}",
                    sink.label,
                    reason.label(),
                    sink.dropped(reason)
                );
            }
        }
        family(
            out,
            "rampart_decision_log_ship_errors_total",
            "counter",
            "Failed connections and sends to the sink (each is retried).",
        );
        for sink in &self.sinks {
            let _ = writeln!(
                out,
                "rampart_decision_log_ship_errors_total{{sink=\"{}\"}} {}",
                sink.label,
                sink.errors()
            );
        }
    }
}

/// A running sink shipper.
pub struct Shipper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Shipper {
    /// Asks the shipper to ship what the log holds (for at most a few seconds), save its
    /// cursor and stop; waits for it.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                eprintln!("rampart serve: a decision-log shipper failed");
            }
        }
    }
}

/// Starts one shipper per sink for the log at `path`. `written` is the `seq` the writer
/// has written up to.
pub fn start(
    path: &Path,
    options: &ShipOptions,
    written: Arc<AtomicU64>,
) -> Result<(Vec<Shipper>, ShipStats), ShipError> {
    let needs_tls = options
        .sinks
        .iter()
        .any(|s| s.kind == SinkKind::SyslogTls || s.url.starts_with("https://"));
    let tls = if needs_tls {
        let config = rampart_bundle::transport::client_config(&options.tls)
            .map_err(|e| ShipError::Tls(e.to_string()))?;
        Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
    } else {
        None
    };
    let mut stats = ShipStats::default();
    let mut shippers = Vec::new();
    let mut labels: Vec<&str> = Vec::new();
    for sink in &options.sinks {
        let base = sink.kind.label();
        let n = labels.iter().filter(|l| **l == base).count();
        labels.push(base);
        let label = if n == 0 {
            base.to_owned()
        } else {
            format!("{base}_{}", n + 1)
        };
        let sink_stats = Arc::new(SinkStats::new(label));
        stats.sinks.push(Arc::clone(&sink_stats));
        let client = match sink.kind {
            SinkKind::Http => Some(
                rampart_bundle::transport::http_client(&options.tls, http::REQUEST_TIMEOUT)
                    .map_err(|e| ShipError::Tls(e.to_string()))?,
            ),
            _ => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let job = Job {
            log: path.to_path_buf(),
            cursor_path: cursor_path(path, &sink.cursor_name()),
            sink: sink.clone(),
            options: options.clone(),
            tls: tls.clone(),
            client,
            stats: sink_stats,
            stop: Arc::clone(&stop),
            written: Arc::clone(&written),
        };
        let thread = std::thread::Builder::new()
            .name(format!("rampart-ship-{}", sink.kind.label()))
            .spawn(move || job.run())
            .map_err(ShipError::Start)?;
        shippers.push(Shipper {
            stop,
            thread: Some(thread),
        });
    }
    Ok((shippers, stats))
}

/// `FILE.cursor.<name>`.
pub fn cursor_path(log: &Path, name: &str) -> PathBuf {
    let mut path = log.as_os_str().to_owned();
    path.push(format!(".cursor.{name}"));
    PathBuf::from(path)
}

/// Everything one sink's thread works with.
struct Job {
    log: PathBuf,
    cursor_path: PathBuf,
    sink: SinkUrl,
    options: ShipOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    client: Option<reqwest::Client>,
    stats: Arc<SinkStats>,
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
}

/// The sink's progress: what was confirmed, and when the cursor was last saved.
struct Progress {
    confirmed: Option<Cursor>,
    saved: Option<Cursor>,
    saved_at: Instant,
}

impl Job {
    fn run(self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!(
                    "rampart serve: cannot start the decision-log shipper for `{}`: {error}",
                    self.sink.url
                );
                return;
            }
        };
        runtime.block_on(self.ship());
    }

    fn read_cursor(&self) -> Option<Cursor> {
        let bytes = std::fs::read(&self.cursor_path).ok()?;
        let cursor = Cursor::from_json(&bytes);
        if cursor.is_none() {
            eprintln!(
                "rampart serve: the shipping cursor `{}` is not readable; shipping from the \
                 oldest record kept",
                self.cursor_path.display()
            );
        }
        cursor
    }

    /// Saves the cursor (write a temporary file, rename it over the old one).
    fn save(&self, progress: &mut Progress) {
        let Some(cursor) = &progress.confirmed else {
            return;
        };
        if progress.saved.as_ref() == Some(cursor) {
            return;
        }
        let mut tmp = self.cursor_path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(cursor.to_json().as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, &self.cursor_path));
        match result {
            Ok(()) => {
                progress.saved = Some(cursor.clone());
                progress.saved_at = Instant::now();
            }
            Err(error) => eprintln!(
                "rampart serve: cannot save the shipping cursor `{}`: {error}",
                self.cursor_path.display()
            ),
        }
    }

    /// Confirms records: advances the cursor and the counters.
    fn confirm(&self, progress: &mut Progress, lines: &[Line], shipped: bool) {
        let Some(last) = lines.last() else {
            return;
        };
        if shipped {
            self.stats
                .shipped
                .fetch_add(lines.len() as u64, Ordering::Relaxed);
        }
        self.stats.confirmed_seq.store(last.seq, Ordering::Relaxed);
        progress.confirmed = Some(last.cursor());
        if progress.saved_at.elapsed() >= CURSOR_SAVE_EVERY {
            self.save(progress);
        }
    }

    /// Moves skipped-line counts from the reader to the metrics.
    fn count_skipped(&self, reader: &mut Reader) {
        let skipped = std::mem::take(&mut reader.skipped);
        self.stats
            .drop_records(DropReason::Rotated, skipped.rotated);
        self.stats
            .drop_records(DropReason::TooLarge, skipped.too_large);
        self.stats
            .drop_records(DropReason::Unsealed, skipped.unsealed);
        if skipped.rotated > 0 {
            eprintln!(
                "rampart serve: {} decision-log records were rotated away before they were \
                 shipped to `{}`",
                skipped.rotated, self.sink.url
            );
        }
    }

    fn error(&self, what: &ShipError, pause: Duration) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "rampart serve: decision-log sink `{}`: {what}; retrying in {} ms",
            self.sink.url,
            pause.as_millis()
        );
    }

    async fn ship(self) {
        let cursor = self.read_cursor();
        if let Some(cursor) = &cursor {
            self.stats
                .confirmed_seq
                .store(cursor.seq, Ordering::Relaxed);
        }
        let mut progress = Progress {
            confirmed: cursor.clone(),
            saved: cursor.clone(),
            saved_at: Instant::now(),
        };
        let mut reader = Reader::new(&self.log, MAX_RECORD_BYTES, cursor.as_ref());
        match self.sink.kind {
            SinkKind::Http => self.ship_http(&mut reader, &mut progress).await,
            SinkKind::SyslogTls | SinkKind::SyslogTcp => {
                self.ship_syslog(&mut reader, &mut progress).await
            }
        }
        self.save(&mut progress);
    }

    /// True once the log is closed and everything written has been read, or the drain
    /// time is over.
    fn done(&self, stopping_since: &mut Option<Instant>, drained: bool) -> bool {
        if !self.stop.load(Ordering::SeqCst) {
            return false;
        }
        let since = *stopping_since.get_or_insert_with(Instant::now);
        drained || since.elapsed() >= CLOSE_DRAIN
    }

    /// True when every record written has been confirmed.
    fn caught_up(&self) -> bool {
        self.stats.confirmed_seq.load(Ordering::Relaxed) >= self.written.load(Ordering::SeqCst)
    }

    async fn ship_syslog(&self, reader: &mut Reader, progress: &mut Progress) {
        let tls = match self.sink.kind {
            SinkKind::SyslogTls => self.tls.as_ref(),
            _ => None,
        };
        let hostname = syslog::hostname_field(&self.options.instance);
        let procid = std::process::id();
        let mut connection: Option<syslog::Connection> = None;
        // Sent on the current connection, not yet confirmed: (when, record).
        let mut unconfirmed: std::collections::VecDeque<(Instant, Line)> = Default::default();
        let mut unconfirmed_bytes = 0usize;
        let mut backoff = Backoff::default();
        let mut stopping_since = None;
        let mut lines = Vec::new();
        let mut frames = Vec::new();
        loop {
            // Confirm what stayed on an open connection long enough.
            if let Some(conn) = &connection {
                if !conn.is_closed() {
                    let mut done = Vec::new();
                    while let Some((at, _)) = unconfirmed.front() {
                        if at.elapsed() < syslog::CONFIRM_AFTER {
                            break;
                        }
                        if let Some((_, line)) = unconfirmed.pop_front() {
                            unconfirmed_bytes = unconfirmed_bytes.saturating_sub(line.bytes.len());
                            done.push(line);
                        }
                    }
                    self.confirm(progress, &done, true);
                }
            }
            let broken = connection
                .as_ref()
                .is_some_and(syslog::Connection::is_closed);
            if broken {
                if let Some(conn) = connection.take() {
                    conn.close().await;
                }
                let error = ShipError::Send("the receiver closed the connection".into());
                let pause = backoff.next();
                self.error(&error, pause);
                self.rewind(reader, progress, &mut unconfirmed, &mut unconfirmed_bytes);
                if self.done(&mut stopping_since, false) {
                    break;
                }
                tokio::time::sleep(pause).await;
                continue;
            }
            let drained = self.caught_up() && unconfirmed.is_empty();
            if self.done(&mut stopping_since, drained) {
                break;
            }
            lines.clear();
            let room = self.options.buffer_bytes.saturating_sub(unconfirmed_bytes);
            if room > 0 {
                if let Err(error) = reader.read(room.min(1 << 20), &mut lines) {
                    eprintln!("rampart serve: cannot read the decision log to ship it: {error}");
                }
                self.count_skipped(reader);
            }
            if lines.is_empty() {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            if connection.is_none() {
                match syslog::Connection::open(&self.sink, tls).await {
                    Ok(conn) => {
                        connection = Some(conn);
                    }
                    Err(error) => {
                        let pause = backoff.next();
                        self.error(&error, pause);
                        self.rewind(reader, progress, &mut unconfirmed, &mut unconfirmed_bytes);
                        if self.done(&mut stopping_since, false) {
                            break;
                        }
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                }
            }
            frames.clear();
            for line in &lines {
                syslog::frame(
                    &mut frames,
                    &line.bytes,
                    None,
                    self.options.format,
                    &hostname,
                    procid,
                );
            }
            let sent = match connection.as_mut() {
                Some(conn) => conn.send(&frames).await,
                None => Err(ShipError::Send("not connected".into())),
            };
            match sent {
                Ok(()) => {
                    backoff.reset();
                    let now = Instant::now();
                    for line in lines.drain(..) {
                        unconfirmed_bytes = unconfirmed_bytes.saturating_add(line.bytes.len());
                        unconfirmed.push_back((now, line));
                    }
                }
                Err(error) => {
                    connection = None;
                    let pause = backoff.next();
                    self.error(&error, pause);
                    self.rewind(reader, progress, &mut unconfirmed, &mut unconfirmed_bytes);
                    tokio::time::sleep(pause).await;
                }
            }
        }
        if let Some(conn) = connection.take() {
            // What is still unconfirmed is sent again by the next run.
            conn.close().await;
        }
    }

    /// After a broken connection: forget what was sent unconfirmed and read again from
    /// the last confirmed record.
    fn rewind(
        &self,
        reader: &mut Reader,
        progress: &Progress,
        unconfirmed: &mut std::collections::VecDeque<(Instant, Line)>,
        unconfirmed_bytes: &mut usize,
    ) {
        unconfirmed.clear();
        *unconfirmed_bytes = 0;
        reader.seek(progress.confirmed.as_ref());
    }

    async fn ship_http(&self, reader: &mut Reader, progress: &mut Progress) {
        let Some(client) = &self.client else {
            return;
        };
        let limit = self
            .options
            .batch_bytes
            .min(self.options.buffer_bytes)
            .max(1);
        let mut batch: Vec<Line> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut first_at: Option<Instant> = None;
        let mut backoff = Backoff::default();
        let mut stopping_since = None;
        loop {
            let drained = self.caught_up() && batch.is_empty();
            if self.done(&mut stopping_since, drained) {
                break;
            }
            if batch_bytes < limit {
                let before = batch.len();
                if let Err(error) = reader.read(limit - batch_bytes, &mut batch) {
                    eprintln!("rampart serve: cannot read the decision log to ship it: {error}");
                }
                self.count_skipped(reader);
                for line in &batch[before..] {
                    batch_bytes = batch_bytes.saturating_add(line.bytes.len());
                }
                if batch.len() > before && first_at.is_none() {
                    first_at = Some(Instant::now());
                }
            }
            if batch.is_empty() {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let stopping = self.stop.load(Ordering::SeqCst);
            let due = batch_bytes >= limit
                || stopping
                || first_at.is_some_and(|t| t.elapsed() >= self.options.batch_interval);
            if !due {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let body = http::encode_batch(&batch, self.options.format);
            match http::post(client, &self.sink.url, body).await {
                http::Outcome::Accepted => {
                    backoff.reset();
                    self.confirm(progress, &batch, true);
                    batch.clear();
                    batch_bytes = 0;
                    first_at = None;
                }
                http::Outcome::Rejected(status) => {
                    backoff.reset();
                    eprintln!(
                        "rampart serve: decision-log sink `{}` refused a batch of {} records \
                         ({status}); they are dropped",
                        self.sink.url,
                        batch.len()
                    );
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .drop_records(DropReason::Rejected, batch.len() as u64);
                    self.confirm(progress, &batch, false);
                    batch.clear();
                    batch_bytes = 0;
                    first_at = None;
                }
                http::Outcome::Retry(error) => {
                    let pause = backoff.next();
                    self.error(&ShipError::Send(error), pause);
                    if self.done(&mut stopping_since, false) {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// Exponential backoff with jitter: 100 ms doubling to 30 s, each pause drawn between half
/// and all of the current step, so that replicas that lost a sink together do not come
/// back in step.
struct Backoff {
    step: Duration,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Backoff {
            step: RETRY_FIRST,
            seed: u64::from(nanos) ^ (u64::from(std::process::id()) << 32) | 1,
        }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        // xorshift64: enough to spread retries.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let step = self.step;
        self.step = self.step.saturating_mul(2).min(RETRY_MAX);
        let half = step / 2;
        let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_millis(self.seed % span)
    }

    fn reset(&mut self) {
        self.step = RETRY_FIRST;
    }
}

#[cfg(test)]
mod tests;
