//! The identity provider's key set, fetched over HTTPS (`--jwks-url URL`, or
//! `--oidc-issuer URL` through OpenID Connect discovery) and kept current in the background.
//!
//! **Key design decision:** the fetcher is one task that owns every request to the
//! identity provider. Requests never fetch: a token naming an unknown `kid` asks the task
//! for one refetch, at most one per `refetch_interval` whatever the number or variety of
//! unknown kids (singleflight), and waits for it a bounded time. An attacker sending random
//! kids makes at most one fetch per interval.
//!
//! - A fetched set replaces the old one whole: a key in both keeps verifying, a key dropped
//!   from the set stops at the next successful fetch.
//! - The next fetch is due after the response's `Cache-Control: max-age` (5 minutes when it
//!   gives none; `no-cache`/`no-store` mean the minimum) clamped to
//!   [`min_refresh`, `max_refresh`]; a failed fetch is retried after 1 s, 2 s, 4 s … up to
//!   `min_refresh`. Conditional requests (`If-None-Match`) make an unchanged set a 304.
//! - A failed fetch (network, status, redirect to a non-HTTPS address, larger than 1 MiB,
//!   slower than the fetch timeout, not a JWKS, no usable key) keeps the last good set,
//!   until `max_stale` after the last success; then every token is unauthenticated until a
//!   fetch succeeds. Before the first success no key is known: fail closed.
//!
//! [`min_refresh`]: RemoteJwks::min_refresh
//! [`max_refresh`]: RemoteJwks::max_refresh

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rampart_bundle::transport::{error_chain, http_client, OutboundTls};
use serde_json::Value as Json;

use super::jwks::{self, KeySet};
use super::metrics::{AuthMetrics, FetchResult};
use super::verify::JwtVerifier;
use super::{JwksError, JwtConfig};

/// The largest key set or discovery document read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The refresh interval when the response gives no `max-age` (before clamping).
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// The first retry delay after a failed fetch; it doubles up to `min_refresh`.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Where the key set is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyLocation {
    /// `--jwks-url`: the JWKS itself.
    JwksUrl(String),
    /// `--oidc-issuer`: `ISSUER/.well-known/openid-configuration` names the JWKS
    /// (`jwks_uri`); its `issuer` must equal this exactly.
    Issuer(String),
}

/// How the key set is fetched and kept.
#[derive(Clone, Debug)]
pub struct RemoteJwks {
    pub location: KeyLocation,
    /// Trust for the HTTPS connections (`--outbound-ca`).
    pub outbound: OutboundTls,
    /// The shortest time between scheduled fetches (`--jwks-min-refresh`).
    pub min_refresh: Duration,
    /// The longest time between scheduled fetches (`--jwks-max-refresh`).
    pub max_refresh: Duration,
    /// How long the last good set is used while fetches fail (`--jwks-max-stale`).
    pub max_stale: Duration,
    /// The shortest time between two refetches asked for by unknown kids
    /// (`--jwks-refetch-interval`).
    pub refetch_interval: Duration,
    /// The longest one fetch (discovery included) may take (`--jwks-fetch-timeout`).
    pub fetch_timeout: Duration,
}

impl RemoteJwks {
    /// The defaults: refresh within [60 s, 1 h], stale after 24 h, one unknown-kid
    /// refetch per 10 s, 10 s per fetch.
    pub fn new(location: KeyLocation) -> RemoteJwks {
        RemoteJwks {
            location,
            outbound: OutboundTls::default(),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            max_stale: Duration::from_secs(24 * 3600),
            refetch_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(10),
        }
    }

    /// The address named in messages.
    pub fn shown(&self) -> &str {
        match &self.location {
            KeyLocation::JwksUrl(url) | KeyLocation::Issuer(url) => url,
        }
    }
}

/// The refetch requests of unknown kids, and the fetches started and finished so far
/// (fetches run one at a time, numbered from 1).
#[derive(Default)]
struct Refetch {
    /// When an unknown kid last asked for a refetch.
    last_asked: Option<Instant>,
    /// The fetch that serves the refetch asked for and not finished yet: the first one to
    /// start after the ask (a fetch already running may have read the old set).
    pending: Option<u64>,
    started: u64,
    finished: u64,
    /// Requests blocked in [`RemoteKeys::wait_for`] now (at most [`MAX_REFETCH_WAITERS`]).
    waiters: usize,
}

/// The most requests that wait for one refetch at a time. Each holds a thread (tokio's
/// `block_in_place`) for up to the fetch timeout, so a flood of unknown kids while the
/// identity provider is slow must not pin more: the requests beyond it are decided at once
/// with the keys known (their token is unauthenticated).
pub const MAX_REFETCH_WAITERS: usize = 32;

/// The live state of a remote key set, shared by the fetcher task and the requests.
pub struct RemoteKeys {
    config: RemoteJwks,
    jwt: JwtConfig,
    client: reqwest::Client,
    verifier: Arc<ArcSwapOption<JwtVerifier>>,
    metrics: Arc<AuthMetrics>,
    wake: tokio::sync::Notify,
    refetch: Mutex<Refetch>,
    fetched: Condvar,
}

/// What one fetch brought.
enum Fetched {
    Keys {
        set: KeySet,
        max_age: Option<Duration>,
        etag: Option<String>,
    },
    NotModified {
        max_age: Option<Duration>,
    },
}

/// What the fetcher remembers between fetches.
#[derive(Default)]
struct Memory {
    /// The JWKS address, from the flag or discovery; rediscovered after a failure.
    jwks_uri: Option<String>,
    etag: Option<String>,
    failures: u32,
    last_success: Option<Instant>,
    /// Keys are in use (cleared when they went stale).
    serving: bool,
}

impl RemoteKeys {
    /// The client and an empty key set (every token unauthenticated until a fetch).
    pub fn new(
        config: RemoteJwks,
        jwt: JwtConfig,
        verifier: Arc<ArcSwapOption<JwtVerifier>>,
        metrics: Arc<AuthMetrics>,
    ) -> Result<RemoteKeys, JwksError> {
        https_url(config.shown()).map_err(|message| JwksError::Remote {
            url: config.shown().to_owned(),
            message,
        })?;
        let client =
            http_client(&config.outbound, config.fetch_timeout).map_err(|e| JwksError::Remote {
                url: config.shown().to_owned(),
                message: e.to_string(),
            })?;
        metrics.enable_remote_keys();
        Ok(RemoteKeys {
            config,
            jwt,
            client,
            verifier,
            metrics,
            wake: tokio::sync::Notify::new(),
            refetch: Mutex::new(Refetch::default()),
            fetched: Condvar::new(),
        })
    }

    /// Fetches once now (the sidecar starts with the keys when the identity provider
    /// answers), then keeps the set current in a task of its own. Must be called inside a
    /// tokio runtime.
    pub async fn start(self: &Arc<RemoteKeys>) {
        let mut memory = Memory::default();
        let mut next = self.fetch_and_apply(&mut memory).await;
        let keys = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                // A refetch asked for by an unknown kid wakes the task early.
                tokio::select! {
                    () = tokio::time::sleep(next) => {}
                    () = keys.wake.notified() => {}
                }
                next = keys.fetch_and_apply(&mut memory).await;
            }
        });
    }

    /// Asks for a refetch on behalf of a token with an unknown `kid`. Returns the number
    /// of the fetch to wait for, or `None` when a refetch was asked for less than
    /// `refetch_interval` ago and has finished (the token stays unknown).
    pub fn ask_refetch(&self) -> Option<u64> {
        let mut refetch = self.refetch.lock().ok()?;
        if refetch.waiters >= MAX_REFETCH_WAITERS {
            return None;
        }
        if let Some(target) = refetch.pending {
            return Some(target);
        }
        let now = Instant::now();
        if refetch
            .last_asked
            .is_some_and(|last| now.duration_since(last) < self.config.refetch_interval)
        {
            return None;
        }
        refetch.last_asked = Some(now);
        let target = refetch.started.wrapping_add(1);
        refetch.pending = Some(target);
        drop(refetch);
        self.wake.notify_one();
        Some(target)
    }

    /// Blocks the calling thread until fetch number `target` finished, or the fetch timeout
    /// passed.
    pub fn wait_for(&self, target: u64) {
        let deadline = Instant::now() + self.config.fetch_timeout;
        let Ok(mut refetch) = self.refetch.lock() else {
            return;
        };
        if refetch.waiters >= MAX_REFETCH_WAITERS {
            return;
        }
        refetch.waiters += 1;
        while refetch.finished < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.fetched.wait_timeout(refetch, left) {
                Ok((guard, _)) => refetch = guard,
                // A poisoned lock: the count no longer matters.
                Err(_) => return,
            }
        }
        refetch.waiters = refetch.waiters.saturating_sub(1);
    }

    /// One fetch, its result applied and counted; returns the time until the next one.
    async fn fetch_and_apply(&self, memory: &mut Memory) -> Duration {
        let number = match self.refetch.lock() {
            Ok(mut refetch) => {
                refetch.started = refetch.started.wrapping_add(1);
                refetch.started
            }
            Err(_) => 0,
        };
        let result = tokio::time::timeout(self.config.fetch_timeout, self.fetch(memory)).await;
        let result = result.unwrap_or_else(|_| Err(self.timed_out()));
        let next = match result {
            Ok(Fetched::Keys { set, max_age, etag }) => {
                for note in &set.skipped {
                    eprintln!("rampart serve: key set `{}`: {note}", self.config.shown());
                }
                let verifier = JwtVerifier::new(set.keys, &self.jwt);
                let count = verifier.key_count();
                self.verifier.store(Some(Arc::new(verifier)));
                self.metrics.set_keys(count);
                self.metrics.fetched(FetchResult::Ok);
                if !memory.serving || memory.failures > 0 {
                    eprintln!(
                        "rampart serve: key set `{}`: {count} signing keys in use",
                        self.config.shown()
                    );
                }
                memory.etag = etag;
                self.succeeded(memory);
                self.refresh_after(max_age)
            }
            Ok(Fetched::NotModified { max_age }) => {
                self.metrics.fetched(FetchResult::NotModified);
                self.succeeded(memory);
                self.refresh_after(max_age)
            }
            Err(message) => {
                self.metrics.fetched(FetchResult::Error);
                memory.failures = memory.failures.saturating_add(1);
                memory.jwks_uri = None;
                memory.etag = None;
                let stale = memory
                    .last_success
                    .is_none_or(|last| last.elapsed() >= self.config.max_stale);
                if stale && memory.serving {
                    self.verifier
                        .store(Some(Arc::new(JwtVerifier::new(Vec::new(), &self.jwt))));
                    self.metrics.set_keys(0);
                    memory.serving = false;
                    eprintln!(
                        "rampart serve: key set `{}`: no successful fetch for {} s \
                         (`--jwks-max-stale`): every bearer token is now unauthenticated",
                        self.config.shown(),
                        self.config.max_stale.as_secs()
                    );
                }
                let kept = if memory.serving {
                    "the last good key set stays in use"
                } else {
                    "no key is known: every bearer token is unauthenticated"
                };
                eprintln!(
                    "rampart serve: key set `{}`: fetch failed ({message}); {kept}",
                    self.config.shown()
                );
                let shift = memory.failures.saturating_sub(1).min(16);
                let retry = FIRST_RETRY
                    .saturating_mul(1 << shift)
                    .min(self.config.min_refresh.max(FIRST_RETRY));
                // Wake up when the last good set goes stale, to drop it on time.
                match memory.last_success.filter(|_| memory.serving) {
                    Some(last) => retry.min(
                        self.config
                            .max_stale
                            .saturating_sub(last.elapsed())
                            .max(Duration::from_millis(10)),
                    ),
                    None => retry,
                }
            }
        };
        if let Ok(mut refetch) = self.refetch.lock() {
            refetch.finished = number;
            if refetch.pending.is_some_and(|target| target <= number) {
                refetch.pending = None;
            }
        }
        self.fetched.notify_all();
        next
    }

    /// The error of a fetch that took too long.
    fn timed_out(&self) -> String {
        format!(
            "no answer within {} ms (`--jwks-fetch-timeout`)",
            self.config.fetch_timeout.as_millis()
        )
    }

    fn succeeded(&self, memory: &mut Memory) {
        memory.failures = 0;
        memory.serving = true;
        memory.last_success = Some(Instant::now());
        self.metrics
            .set_last_success(crate::state::now_ms().div_euclid(1000));
    }

    /// The time until the next scheduled fetch.
    fn refresh_after(&self, max_age: Option<Duration>) -> Duration {
        max_age.unwrap_or(DEFAULT_MAX_AGE).clamp(
            self.config.min_refresh,
            self.config.max_refresh.max(self.config.min_refresh),
        )
    }

    /// Discovery when needed, then the key set.
    async fn fetch(&self, memory: &mut Memory) -> Result<Fetched, String> {
        let jwks_uri = match (&memory.jwks_uri, &self.config.location) {
            (Some(uri), _) => uri.clone(),
            (None, KeyLocation::JwksUrl(url)) => url.clone(),
            (None, KeyLocation::Issuer(issuer)) => self.discover(issuer).await?,
        };
        memory.jwks_uri = Some(jwks_uri.clone());
        let got = self.get(&jwks_uri, memory.etag.as_deref()).await?;
        let max_age = got.max_age;
        let Some(body) = got.body else {
            return Ok(Fetched::NotModified { max_age });
        };
        let text = std::str::from_utf8(&body).map_err(|_| "the key set is not UTF-8".to_owned())?;
        let set = jwks::parse(text, &jwks_uri).map_err(|e| e.to_string())?;
        if set.keys.is_empty() {
            return Err("the key set has no RS256, ES256 or EdDSA signing key".to_owned());
        }
        Ok(Fetched::Keys {
            set,
            max_age,
            etag: got.etag,
        })
    }

    /// OpenID Connect discovery: the `jwks_uri` of the issuer's configuration, whose
    /// `issuer` must be the configured one exactly (OpenID Connect Discovery 1.0, 4.3).
    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let got = self.get(&url, None).await?;
        let body = got
            .body
            .ok_or_else(|| "the discovery document answered 304".to_owned())?;
        let document: Json = serde_json::from_slice(&body)
            .map_err(|e| format!("the discovery document is not JSON: {e}"))?;
        let stated = document.get("issuer").and_then(Json::as_str);
        if stated != Some(issuer) {
            return Err(format!(
                "the discovery document names the issuer `{}`, not `{issuer}`",
                stated.unwrap_or("")
            ));
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Json::as_str)
            .ok_or_else(|| "the discovery document has no `jwks_uri`".to_owned())?;
        https_url(jwks_uri)?;
        Ok(jwks_uri.to_owned())
    }

    /// A bounded GET over HTTPS: 200 gives the body, 304 none.
    async fn get(&self, url: &str, etag: Option<&str>) -> Result<Got, String> {
        https_url(url)?;
        let mut request = self.client.get(url).header("accept", "application/json");
        let etag_sent = etag.is_some();
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                self.timed_out()
            } else {
                format!("`{url}`: {}", error_chain(&e))
            }
        };
        let mut response = request.send().await.map_err(failed)?;
        if !secure_enough(response.url()) {
            return Err(format!("`{url}` redirected to a non-HTTPS address"));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let max_age = header("cache-control").and_then(|value| max_age(&value));
        // An entity tag longer than this is not worth sending back.
        let etag = header("etag").filter(|tag| tag.len() <= 256);
        match response.status().as_u16() {
            // Only an answer to a conditional request may say "not modified".
            304 if etag_sent => {
                return Ok(Got {
                    body: None,
                    max_age,
                    etag: None,
                })
            }
            200 => {}
            status => return Err(format!("`{url}` answered HTTP {status}")),
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("`{url}` is larger than 1 MiB"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len().saturating_add(chunk.len()) > MAX_DOCUMENT_BYTES {
                return Err(format!("`{url}` is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Got {
            body: Some(body),
            max_age,
            etag,
        })
    }
}

/// A response read: no body for 304.
struct Got {
    body: Option<Vec<u8>>,
    max_age: Option<Duration>,
    etag: Option<String>,
}

/// Refuses an address that is not `https://`.
/// An `https://` address, or an `http://` one on the loopback interface (a key server
/// beside the sidecar, or a test's).
fn https_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !secure_enough(&parsed) {
        return Err(format!(
            "`{url}` is not an https:// address (http:// is accepted on loopback only)"
        ));
    }
    Ok(())
}

fn secure_enough(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url
            .host_str()
            .is_some_and(rampart_bundle::transport::is_loopback_host),
        _ => false,
    }
}

/// The `max-age` of a `Cache-Control` value; `no-cache` and `no-store` give zero (the
/// minimum after clamping).
fn max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-cache" | "no-store" => return Some(Duration::ZERO),
            "max-age" => {
                let seconds: u64 = argument.trim().trim_matches('"').parse().ok()?;
                found = Some(Duration::from_secs(seconds.min(365 * 24 * 3600)));
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=120"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            max_age("Max-Age=\"30\", must-revalidate"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(max_age("no-store, max-age=600"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(
            max_age("max-age=99999999999999"),
            Some(Duration::from_secs(365 * 24 * 3600))
        );
    }

    #[test]
    fn no_more_than_the_bound_of_requests_wait_for_one_refetch() {
        let mut config = RemoteJwks::new(KeyLocation::JwksUrl("https://idp.test/keys".into()));
        config.fetch_timeout = Duration::from_secs(3);
        let jwt = JwtConfig::with_source(crate::auth::KeySource::Remote(config.clone()));
        let keys = Arc::new(
            RemoteKeys::new(config, jwt, Arc::default(), Arc::default()).expect("remote keys"),
        );
        // No fetcher runs: the refetch asked for never finishes, so each waiter stays until
        // the fetch timeout.
        let target = keys.ask_refetch().expect("a first refetch is allowed");
        let waiters: Vec<_> = (0..MAX_REFETCH_WAITERS)
            .map(|_| {
                let keys = Arc::clone(&keys);
                std::thread::spawn(move || keys.wait_for(target))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(2);
        while keys.refetch.lock().map(|r| r.waiters).unwrap_or(0) < MAX_REFETCH_WAITERS {
            assert!(Instant::now() < deadline, "the waiters did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Past the bound: no refetch is offered, and a waiter returns at once.
        assert_eq!(keys.ask_refetch(), None);
        let started = Instant::now();
        keys.wait_for(target);
        assert!(started.elapsed() < Duration::from_secs(1));
        for waiter in waiters {
            waiter.join().expect("a waiter");
        }
        assert_eq!(keys.refetch.lock().map(|r| r.waiters).unwrap_or(99), 0);
        // Room again: the pending refetch is offered to the next request.
        assert_eq!(keys.ask_refetch(), Some(target));
    }

    #[test]
    fn only_https_addresses_are_fetched() {
        assert!(https_url("https://idp.example/keys").is_ok());
        assert!(https_url("http://idp.example/keys").is_err());
        assert!(https_url("http://127.0.0.1:8080/keys").is_ok());
        assert!(https_url("http://[::1]:8080/keys").is_ok());
        assert!(https_url("http://localhost/keys").is_ok());
        assert!(https_url("http://127.0.0.1.example/keys").is_err());
        assert!(https_url("file:///etc/passwd").is_err());
        assert!(https_url("not a url").is_err());
    }
}
