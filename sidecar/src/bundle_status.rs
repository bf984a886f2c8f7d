//! What `GET /v1/status` and the `rampart_bundle_*` metrics say about the bundle (and
//! entities) this replica serves: where it came from, its revision and digest, the key
//! that signed it, when it was fetched and the last error.
//!
//! For a local folder or file the digest is that of the bundle JSON as served (computed
//! once per loaded policy, on the first request that asks); for a remote source it is the
//! digest of the verified bytes, set by the poller (`remote.rs`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde_json::{json, Value as Json};

use crate::state::Policy;

/// The results of a fetch, in the order of the metric's `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchResult {
    Updated,
    NotModified,
    Error,
    Refused,
}

impl FetchResult {
    const ALL: [FetchResult; 4] = [
        FetchResult::Updated,
        FetchResult::NotModified,
        FetchResult::Error,
        FetchResult::Refused,
    ];

    fn label(self) -> &'static str {
        match self {
            FetchResult::Updated => "updated",
            FetchResult::NotModified => "not_modified",
            FetchResult::Error => "error",
            FetchResult::Refused => "refused",
        }
    }
}

/// One source's state.
#[derive(Clone, Debug, Default)]
pub struct SourceInfo {
    /// The path or URL.
    pub source: Option<String>,
    pub remote: bool,
    pub revision: Option<String>,
    pub digest: Option<String>,
    pub key_id: Option<String>,
    /// When the bytes serving were fetched (Unix seconds).
    pub fetched_at: Option<u64>,
    /// When the source was last asked (Unix seconds).
    pub last_fetch_at: Option<u64>,
    pub last_error: Option<String>,
    /// Serving the cached copy: the source could not be reached at start.
    pub from_cache: bool,
    /// The last success of a fetch (updated or not modified), Unix seconds.
    pub last_success_at: Option<u64>,
}

impl SourceInfo {
    fn to_json(&self) -> Json {
        json!({
            "source": self.source,
            "revision": self.revision,
            "digest": self.digest,
            "key_id": self.key_id,
            "fetched_at": self.fetched_at,
            "last_fetch_at": self.last_fetch_at,
            "last_error": self.last_error,
            "from_cache": self.from_cache,
        })
    }
}

/// The bundle's and the entities' status, and the fetch counters.
#[derive(Default)]
pub struct BundleStatus {
    bundle: Mutex<SourceInfo>,
    entities: Mutex<SourceInfo>,
    /// Bundle fetches per [`FetchResult`].
    fetches: [AtomicU64; 4],
    /// The digest of a local policy's bundle JSON, for the policy it was computed from.
    local_digest: Mutex<Option<(Weak<Policy>, String)>>,
}

impl BundleStatus {
    /// Changes the bundle's state.
    pub fn update_bundle(&self, change: impl FnOnce(&mut SourceInfo)) {
        if let Ok(mut info) = self.bundle.lock() {
            change(&mut info);
        }
    }

    /// Changes the entities' state.
    pub fn update_entities(&self, change: impl FnOnce(&mut SourceInfo)) {
        if let Ok(mut info) = self.entities.lock() {
            change(&mut info);
        }
    }

    /// Changes the state of the bundle's or the entities' source.
    pub fn update(
        &self,
        kind: rampart_bundle::transport::oci::ArtifactKind,
        change: impl FnOnce(&mut SourceInfo),
    ) {
        match kind {
            rampart_bundle::transport::oci::ArtifactKind::Bundle => self.update_bundle(change),
            rampart_bundle::transport::oci::ArtifactKind::Entities => self.update_entities(change),
        }
    }

    /// Counts one bundle fetch.
    pub fn fetched(&self, result: FetchResult) {
        let slot = FetchResult::ALL
            .iter()
            .position(|r| *r == result)
            .unwrap_or(0);
        if let Some(counter) = self.fetches.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn bundle(&self) -> SourceInfo {
        self.bundle.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// The digest of the bundle serving: the remote one, or that of the local bundle's
    /// JSON (computed once per policy).
    pub fn digest(&self, policy: &Arc<Policy>) -> String {
        let info = self.bundle();
        if info.remote {
            if let Some(digest) = info.digest {
                return digest;
            }
        }
        if let Ok(mut memo) = self.local_digest.lock() {
            if let Some((weak, digest)) = memo.as_ref() {
                if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(policy)) {
                    return digest.clone();
                }
            }
            let digest = rampart_bundle::digest(policy.engine.bundle().to_json().as_bytes());
            *memo = Some((Arc::downgrade(policy), digest.clone()));
            return digest;
        }
        String::new()
    }

    /// The body of `GET /v1/status`.
    pub fn to_json(&self, policy: &Arc<Policy>) -> Json {
        let mut bundle = self.bundle();
        bundle.revision = Some(policy.revision().to_owned());
        bundle.digest = Some(self.digest(policy));
        let entities = self.entities.lock().map(|i| i.clone()).unwrap_or_default();
        json!({
            "bundle": bundle.to_json(),
            "entities": entities.to_json(),
        })
    }

    /// The bundle metrics (fetch counters and timestamps).
    /// The fetch metrics, for a remote source only: a local folder or file is never
    /// fetched, and a last success of 0 would read as a bundle that is stale.
    pub fn render(&self, out: &mut String) {
        let info = self.bundle();
        if !info.remote {
            return;
        }
        out.push_str("# HELP rampart_bundle_fetch_total Fetches of a remote bundle, by result.\n");
        out.push_str("# TYPE rampart_bundle_fetch_total counter\n");
        for (result, counter) in FetchResult::ALL.iter().zip(&self.fetches) {
            let _ = writeln!(
                out,
                "rampart_bundle_fetch_total{{result=\"{}\"}} {}",
                result.label(),
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP rampart_bundle_last_success_timestamp_seconds When a fetch of the bundle \
             last succeeded (updated or not modified), Unix seconds; 0 never.\n",
        );
        out.push_str("# TYPE rampart_bundle_last_success_timestamp_seconds gauge\n");
        let _ = writeln!(
            out,
            "rampart_bundle_last_success_timestamp_seconds {}",
            info.last_success_at.unwrap_or(0)
        );
        out.push_str(
            "# HELP rampart_bundle_last_fetch_timestamp_seconds When the bundle's source was \
             last asked, Unix seconds; 0 never.\n",
        );
        out.push_str("# TYPE rampart_bundle_last_fetch_timestamp_seconds gauge\n");
        let _ = writeln!(
            out,
            "rampart_bundle_last_fetch_timestamp_seconds {}",
            info.last_fetch_at.unwrap_or(0)
        );
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_names_the_local_digest_and_the_metrics_count_fetches() {
        let status = BundleStatus::default();
        let policy = Arc::new(crate::reload::tests::policy("r1"));
        status.update_bundle(|i| i.source = Some("policies/".into()));
        let body = status.to_json(&policy);
        let expected = rampart_bundle::digest(policy.engine.bundle().to_json().as_bytes());
        assert_eq!(body["bundle"]["digest"], json!(expected));
        assert_eq!(body["bundle"]["revision"], json!("r1"));
        assert_eq!(body["bundle"]["source"], json!("policies/"));
        assert_eq!(body["bundle"]["from_cache"], json!(false));
        // Another policy: another digest.
        let other = Arc::new(crate::reload::tests::policy("r2"));
        assert_ne!(status.digest(&other), expected);

        status.fetched(FetchResult::Refused);
        status.fetched(FetchResult::NotModified);
        status.fetched(FetchResult::NotModified);
        // A local source is never fetched: no fetch metrics.
        let mut out = String::new();
        status.render(&mut out);
        assert!(!out.contains("rampart_bundle_fetch_total"), "{out}");

        status.update_bundle(|i| {
            i.remote = true;
            i.last_fetch_at = Some(42);
        });
        let mut out = String::new();
        status.render(&mut out);
        assert!(out.contains("rampart_bundle_fetch_total{result=\"refused\"} 1\n"));
        assert!(out.contains("rampart_bundle_fetch_total{result=\"not_modified\"} 2\n"));
        assert!(out.contains("rampart_bundle_fetch_total{result=\"updated\"} 0\n"));
        assert!(out.contains("rampart_bundle_last_fetch_timestamp_seconds 42\n"));
        assert!(out.contains("rampart_bundle_last_success_timestamp_seconds 0\n"));
    }
}
