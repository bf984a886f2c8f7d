//! The authentication counters of the identity provider's key set (`--jwks-url`,
//! `--oidc-issuer`) and of API keys (`--api-keys`), written into `/metrics` by
//! [`AuthMetrics::render`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use super::api_keys::ApiKeyRejection;

/// The `result` of one fetch of the key set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchResult {
    /// A new key set was fetched and is in use.
    Ok = 0,
    /// The fetch failed (network, status, size, time or content); the last good set stays.
    Error = 1,
    /// The identity provider answered 304: the set in use is current.
    NotModified = 2,
}

const FETCH_RESULTS: [(FetchResult, &str); 3] = [
    (FetchResult::Ok, "ok"),
    (FetchResult::Error, "error"),
    (FetchResult::NotModified, "not_modified"),
];

/// Counters of remote key fetches and of API keys; each family is rendered only when its
/// feature is configured.
#[derive(Default)]
pub struct AuthMetrics {
    remote_keys: AtomicBool,
    fetches: [AtomicU64; FETCH_RESULTS.len()],
    keys: AtomicU64,
    last_success_s: AtomicI64,
    api_keys: AtomicBool,
    api_key_verified: AtomicU64,
    api_key_invalid: [AtomicU64; ApiKeyRejection::ALL.len()],
}

impl AuthMetrics {
    /// Reports the `rampart_jwks_*` family from now on.
    pub fn enable_remote_keys(&self) {
        self.remote_keys.store(true, Ordering::Relaxed);
    }

    /// Reports the `rampart_api_key_*` family from now on.
    pub fn enable_api_keys(&self) {
        self.api_keys.store(true, Ordering::Relaxed);
    }

    /// Counts one fetch of the key set.
    pub fn fetched(&self, result: FetchResult) {
        if let Some(counter) = self.fetches.get(result as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The number of keys tokens are verified with now.
    pub fn set_keys(&self, keys: usize) {
        self.keys
            .store(u64::try_from(keys).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The time (seconds since the epoch) of the last fetch that confirmed the key set.
    pub fn set_last_success(&self, unix_s: i64) {
        self.last_success_s.store(unix_s, Ordering::Relaxed);
    }

    /// Counts an API key that verified.
    pub fn api_key_verified(&self) {
        self.api_key_verified.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an API key that did not verify (the request went on unauthenticated).
    pub fn api_key_invalid(&self, reason: ApiKeyRejection) {
        if let Some(counter) = self.api_key_invalid.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends the configured families in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        if self.remote_keys.load(Ordering::Relaxed) {
            out.push_str(
                "# HELP rampart_jwks_fetch_total Fetches of the identity provider's key set, \
                 by result; on error the last good set stays in use.\n",
            );
            out.push_str("# TYPE rampart_jwks_fetch_total counter\n");
            for (result, name) in FETCH_RESULTS {
                let _ = writeln!(
                    out,
                    "rampart_jwks_fetch_total{{result=\"{name}\"}} {}",
                    get(&self.fetches[result as usize])
                );
            }
            out.push_str(
                "# HELP rampart_jwks_keys Signing keys bearer tokens are verified with (0: \
                 every token is unauthenticated).\n",
            );
            out.push_str("# TYPE rampart_jwks_keys gauge\n");
            let _ = writeln!(out, "rampart_jwks_keys {}", get(&self.keys));
            out.push_str(
                "# HELP rampart_jwks_last_success_timestamp_seconds When a fetch last \
                 confirmed the key set (Unix seconds; 0: never).\n",
            );
            out.push_str("# TYPE rampart_jwks_last_success_timestamp_seconds gauge\n");
            let _ = writeln!(
                out,
                "rampart_jwks_last_success_timestamp_seconds {}",
                self.last_success_s.load(Ordering::Relaxed)
            );
        }
        if self.api_keys.load(Ordering::Relaxed) {
            out.push_str("# HELP rampart_api_key_verified_total API keys that verified.\n");
            out.push_str("# TYPE rampart_api_key_verified_total counter\n");
            let _ = writeln!(
                out,
                "rampart_api_key_verified_total {}",
                get(&self.api_key_verified)
            );
            out.push_str(
                "# HELP rampart_api_key_invalid_total API keys that did not verify (the \
                 request was decided as unauthenticated), by reason.\n",
            );
            out.push_str("# TYPE rampart_api_key_invalid_total counter\n");
            for reason in ApiKeyRejection::ALL {
                let _ = writeln!(
                    out,
                    "rampart_api_key_invalid_total{{reason=\"{}\"}} {}",
                    reason.label(),
                    get(&self.api_key_invalid[reason.index()])
                );
            }
        }
    }
}
