//! The shared store of `--rate-limit-store`: one Redis server (TCP, TLS or a unix socket),
//! asked with one script call per limited request (`gcra.lua`).
//!
//! **Key design decision:** requests never wait for a connection. The store is either up
//! (a multiplexed connection every request shares) or down; the first failed round trip
//! (an error, a garbage reply, no answer within `--rate-limit-store-timeout`) marks it down,
//! and from then on requests go straight to the fallback while one background task
//! reconnects with backoff, probing with the script itself before the store counts as up.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, Script};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::store_metrics::StoreMetrics;

/// The default of `--rate-limit-prefix`.
pub const DEFAULT_PREFIX: &str = "rampart:rl:";

/// The default of `--rate-limit-store-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// The longest store URL read.
const MAX_URL_BYTES: usize = 2048;

/// The longest key prefix.
const MAX_PREFIX_BYTES: usize = 128;

/// The largest CA file read (`--rate-limit-store-ca`).
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// How long one (re)connection attempt may take, the probe included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The first and the longest pause between reconnection attempts.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Hex digits of the SHA-256 of a key value kept in a Redis key (128 bits).
const KEY_HASH_HEX: usize = 32;

/// The longest obligation id kept as it is in a key; longer ids (or ids with other
/// characters) are replaced by a hash.
const MAX_RULE_IN_KEY: usize = 64;

/// The GCRA script (see the file for its arguments and reply).
const GCRA: &str = include_str!("gcra.lua");

/// What `--rate-limit-fail` says to do while the store cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Decide with this replica's own token buckets (the default).
    Local,
    /// Deny every request that has a `rate_limit` obligation (429).
    Closed,
}

/// How to reach the store and what to do without it.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `redis://HOST:PORT[/DB]`, `rediss://…`, `redis+unix:///PATH` or `unix:///PATH`.
    pub url: String,
    /// Trust this CA (PEM) for `rediss://` instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// Prepended to every key (`--rate-limit-prefix`).
    pub prefix: String,
    /// The longest one round trip may take (`--rate-limit-store-timeout`).
    pub timeout: Duration,
    pub fail: FailMode,
}

impl StoreConfig {
    /// A store at `url` with the default prefix, timeout and fallback.
    pub fn new(url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: url.into(),
            ca: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            fail: FailMode::Local,
        }
    }
}

/// Why the store's configuration is unusable (at start; an unreachable store is not one).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--rate-limit-store `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("--rate-limit-store-ca `{path}`: {reason}")]
    Ca { path: String, reason: String },
    #[error("--rate-limit-prefix `{prefix}`: {reason}")]
    Prefix { prefix: String, reason: String },
    #[error(
        "--rate-limit-store needs --rate-limit-keys above 0: it bounds the fallback buckets \
         and the cache of keys over their limit"
    )]
    NoKeys,
}

/// A checked store address, and how it is shown in logs (without a password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUrl {
    url: String,
    shown: String,
    tls: bool,
}

impl StoreUrl {
    /// Checks a store URL: one of the four schemes, a host (or a socket path), and a
    /// database number when one is given.
    pub fn parse(text: &str) -> Result<StoreUrl, String> {
        if text.len() > MAX_URL_BYTES {
            return Err(format!("longer than {MAX_URL_BYTES} bytes"));
        }
        let (scheme, rest) = text.split_once("://").ok_or_else(expected)?;
        let (tls, unix) = match scheme {
            "redis" => (false, false),
            "rediss" => (true, false),
            "redis+unix" | "unix" => (false, true),
            _ => return Err(expected()),
        };
        let Some(url) = redis::parse_redis_url(text) else {
            return Err("not a URL".into());
        };
        if unix {
            if url.path().is_empty() || url.path() == "/" {
                return Err("names no socket path (redis+unix:///path/to/redis.sock)".into());
            }
        } else if url.host_str().is_none_or(str::is_empty) {
            return Err("names no host".into());
        }
        if rest.contains(char::is_whitespace) {
            return Err("contains white space".into());
        }
        text.into_connection_info()
            .map_err(|error| error.to_string())?;
        let mut shown = format!("{scheme}://");
        if let Some(host) = url.host_str() {
            shown.push_str(host);
        }
        if let Some(port) = url.port() {
            let _ = write!(shown, ":{port}");
        }
        shown.push_str(url.path());
        Ok(StoreUrl {
            url: text.to_owned(),
            shown,
            tls,
        })
    }

    /// The address without user name, password or query.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn expected() -> String {
    "expected redis://HOST:PORT[/DB], rediss://HOST:PORT[/DB], redis+unix:///PATH or \
     unix:///PATH"
        .into()
}

/// Checks a key prefix: printable ASCII without spaces or braces (a brace would move the
/// Redis Cluster hash tag), at most 128 bytes.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(format!("longer than {MAX_PREFIX_BYTES} bytes"));
    }
    match prefix
        .chars()
        .find(|c| !c.is_ascii_graphic() || *c == '{' || *c == '}')
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed (printable ASCII without spaces or braces)"
        )),
        None => Ok(()),
    }
}

/// The Redis key of one (obligation, key value) under one limit:
/// `PREFIX{RULE}:LIMIT:PERIOD:H`, with `H` the first 128 bits of the SHA-256 of the key
/// value in hex. The value itself is never sent (a header value can be kilobytes, and
/// secret); the `{RULE}` hash tag keeps every key of one obligation in one Cluster slot.
/// An id that is not a short plain name is replaced by `#` and the hash of the id.
pub fn redis_key(prefix: &str, rule: &str, limit: u64, per_s: u64, value: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + MAX_RULE_IN_KEY + 80);
    key.push_str(prefix);
    key.push('{');
    let plain = !rule.is_empty()
        && rule.len() <= MAX_RULE_IN_KEY
        && rule
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'));
    if plain {
        key.push_str(rule);
    } else {
        key.push('#');
        push_hex(&mut key, &Sha256::digest(rule.as_bytes()), KEY_HASH_HEX);
    }
    let _ = write!(key, "}}:{limit}:{per_s}:");
    push_hex(&mut key, &Sha256::digest(value.as_bytes()), KEY_HASH_HEX);
    key
}

/// Appends the first `digits` hex digits of `bytes`.
fn push_hex(out: &mut String, bytes: &[u8], digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes.iter().take(digits.div_ceil(2)) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
}

/// The script's arguments for `rate_limit LIMIT per PER_S`: the emission interval and the
/// burst capacity in microseconds. The interval is rounded to a whole microsecond (at
/// least 1, so above a million per second a key is held to a million per second); the
/// capacity is `limit` intervals, so a burst is exactly `limit` requests.
pub fn gcra_args(limit: u64, per_s: u64) -> (u64, u64) {
    // Bounded below 2^52 so that Lua's doubles hold every sum exactly.
    const MAX_US: u64 = 1 << 50;
    let (limit, per_s) = (limit.max(1), per_s.max(1));
    let period_us = u128::from(per_s) * 1_000_000;
    let interval = (period_us + u128::from(limit) / 2) / u128::from(limit);
    let interval = u64::try_from(interval).unwrap_or(MAX_US).clamp(1, MAX_US);
    let capacity = interval.saturating_mul(limit).min(MAX_US);
    (interval, capacity.max(interval))
}

/// The answer of one round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key had room and took one.
    Allowed,
    /// The key at this index (of those sent) has no room for this many microseconds.
    Denied { index: usize, wait_us: u64 },
}

/// Reads the script's reply `{0, 0}` or `{i, wait}` for `keys` keys whose longest wait is
/// `max_wait_us`; anything else is a garbage reply.
pub fn read_reply(reply: &[i64], keys: usize, max_wait_us: u64) -> Result<Verdict, String> {
    match reply {
        [0, 0] => Ok(Verdict::Allowed),
        [index, wait] => {
            let index = usize::try_from(*index)
                .ok()
                .filter(|i| (1..=keys).contains(i));
            let wait = u64::try_from(*wait).ok().filter(|w| *w <= max_wait_us);
            match (index, wait) {
                (Some(index), Some(wait_us)) => Ok(Verdict::Denied {
                    index: index - 1,
                    wait_us,
                }),
                _ => Err(format!("unexpected reply {reply:?}")),
            }
        }
        _ => Err(format!("unexpected reply of {} integers", reply.len())),
    }
}

/// The connection to the store, shared by every request, and its state.
pub struct Store {
    client: Client,
    url: StoreUrl,
    /// The live connection while the store is up; `None` while it is down.
    connection: ArcSwapOption<MultiplexedConnection>,
    up: AtomicBool,
    /// Wakes the reconnecting task when the store goes down.
    wake: Arc<Notify>,
    timeout: Duration,
    script: Script,
    metrics: Arc<StoreMetrics>,
    /// What the outage log line says requests get meanwhile.
    meanwhile: &'static str,
}

impl Store {
    /// Checks the configuration, tries to connect once (at most a second), and starts the
    /// task that reconnects whenever the store goes down. Must be called inside a tokio
    /// runtime. An unreachable store is no error: it is logged and retried.
    pub async fn start(
        config: &StoreConfig,
        metrics: Arc<StoreMetrics>,
    ) -> Result<Arc<Store>, StoreError> {
        let url = StoreUrl::parse(&config.url).map_err(|reason| StoreError::Url {
            url: StoreUrl::redacted(&config.url),
            reason,
        })?;
        check_prefix(&config.prefix).map_err(|reason| StoreError::Prefix {
            prefix: config.prefix.clone(),
            reason,
        })?;
        let client = client(&url, config.ca.as_ref())?;
        let store = Arc::new(Store {
            client,
            url,
            connection: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
            timeout: config.timeout,
            script: Script::new(GCRA),
            metrics,
            meanwhile: match config.fail {
                FailMode::Local => "rate limits are decided by this replica's own buckets",
                FailMode::Closed => {
                    "requests with a rate_limit obligation are denied (--rate-limit-fail closed)"
                }
            },
        });
        match store.connect().await {
            Ok(connection) => store.came_up(connection, false),
            Err(error) => eprintln!(
                "rampart serve: cannot reach the rate-limit store {}: {error}; {} until it \
                 answers",
                store.url.shown(),
                store.meanwhile
            ),
        }
        tokio::spawn(keep_connected(
            Arc::downgrade(&store),
            Arc::clone(&store.wake),
        ));
        Ok(store)
    }

    /// True while round trips are tried.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// One script call for `keys` with `args` (two per key), bounded by the store timeout.
    /// Any failure marks the store down (logged once per outage) before it is returned.
    pub async fn check(
        &self,
        keys: &[String],
        args: &[u64],
        max_wait_us: u64,
    ) -> Result<Verdict, String> {
        let Some(connection) = self.connection.load_full() else {
            return Err("not connected".into());
        };
        let mut connection = MultiplexedConnection::clone(&connection);
        let mut invocation = self.script.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let started = Instant::now();
        let reply = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<Vec<i64>>(&mut connection),
        )
        .await;
        self.metrics.observe(started.elapsed());
        let verdict = match reply {
            Ok(Ok(reply)) => read_reply(&reply, keys.len(), max_wait_us),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms (--rate-limit-store-timeout)",
                self.timeout.as_millis()
            )),
        };
        if let Err(error) = &verdict {
            self.went_down(error);
        }
        verdict
    }

    /// Marks the store down after a failed round trip: counted, logged when it was up, and
    /// the reconnecting task woken.
    fn went_down(&self, error: &str) {
        self.metrics.error();
        if self.up.swap(false, Ordering::AcqRel) {
            self.connection.store(None);
            self.metrics.set_up(false);
            eprintln!(
                "rampart serve: the rate-limit store {} failed: {error}; {} until it answers \
                 again",
                self.url.shown(),
                self.meanwhile
            );
            self.wake.notify_one();
        }
    }

    fn came_up(&self, connection: MultiplexedConnection, again: bool) {
        self.connection.store(Some(Arc::new(connection)));
        self.up.store(true, Ordering::Release);
        self.metrics.set_up(true);
        let how = if again { "answers again" } else { "connected" };
        eprintln!("rampart serve: rate-limit store {} {how}", self.url.shown());
    }

    /// Connects and probes: the script with no key must answer `{0, 0}` (which also loads
    /// it, so that requests find it by its hash).
    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let attempt = async {
            let config = AsyncConnectionConfig::new().set_connection_timeout(Some(CONNECT_TIMEOUT));
            let mut connection = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| e.to_string())?;
            let reply: Vec<i64> = self
                .script
                .prepare_invoke()
                .invoke_async(&mut connection)
                .await
                .map_err(|e| e.to_string())?;
            read_reply(&reply, 0, 0)?;
            Ok(connection)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no connection within {} ms",
                CONNECT_TIMEOUT.as_millis()
            )),
        }
    }
}

impl StoreUrl {
    /// `text` without what could be a password, for an error message about it.
    fn redacted(text: &str) -> String {
        match StoreUrl::parse(text) {
            Ok(url) => url.shown,
            Err(_) => match text.split_once("://") {
                Some((scheme, _)) if scheme.len() <= 16 => format!("{scheme}://…"),
                _ => "…".into(),
            },
        }
    }
}

/// The client of `url`, with the CA of `ca` as the only root for `rediss://`.
fn client(url: &StoreUrl, ca: Option<&PathBuf>) -> Result<Client, StoreError> {
    let url_error = |reason: String| StoreError::Url {
        url: url.shown.clone(),
        reason,
    };
    let Some(path) = ca else {
        return Client::open(url.url.as_str()).map_err(|e| url_error(e.to_string()));
    };
    let ca_error = |reason: String| StoreError::Ca {
        path: path.display().to_string(),
        reason,
    };
    if !url.tls {
        return Err(ca_error("needs a rediss:// store".into()));
    }
    let pem = crate::files::read_bytes(path, MAX_CA_BYTES).map_err(|e| ca_error(e.to_string()))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(ca_error("holds no PEM certificate".into()));
    }
    Client::build_with_tls(
        url.url.as_str(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        },
    )
    .map_err(|e| ca_error(e.to_string()))
}

/// The background task: while the store is down, reconnects with backoff (100 ms doubling
/// to 5 s); ends when the store is dropped.
async fn keep_connected(store: Weak<Store>, wake: Arc<Notify>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        loop {
            let Some(live) = store.upgrade() else { return };
            if !live.is_up() {
                break;
            }
            drop(live);
            // Woken when the store goes down; the timeout notices a dropped store.
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        }
        let Some(live) = store.upgrade() else { return };
        match live.connect().await {
            Ok(connection) => {
                live.came_up(connection, true);
                backoff = MIN_BACKOFF;
            }
            Err(_) => {
                drop(live);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests;
