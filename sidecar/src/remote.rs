//! A bundle served from a registry or an HTTPS server: polled, verified, swapped through
//! the reload path, cached.
//!
//! **Key design decision:** the poller never builds a policy itself. It puts the verified
//! bytes in the [`BundleSlot`] the loader reads and runs an ordinary reload
//! (`Trigger::Remote`), so a remote bundle goes through the same timeout, entity-shrink
//! guard and atomic swap as a file. When that reload fails, the last good bytes go back in
//! the slot (later reloads, such as an entities change, keep building from them), the
//! failing version is remembered so it is not fetched again until the source changes, and
//! nothing is cached. Only a bundle that is serving is written to the cache.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_bundle::transport::oci::ArtifactKind;
use rampart_bundle::transport::remote::{self, FetchError, Fetcher, Known, Polled};

use crate::bundle_status::{unix_now, FetchResult};
use crate::reload::Trigger;
use crate::state::State;

/// The verified bundle bytes the loader builds from, and the revision their signature
/// names (the loader refuses a bundle whose own revision differs).
#[derive(Debug, Clone, Default)]
pub struct RemoteBytes {
    pub bytes: Vec<u8>,
    pub signed_revision: Option<String>,
}

/// Shared by the poller and the loader.
pub type BundleSlot = Arc<Mutex<Arc<RemoteBytes>>>;

/// A remote bundle (or entity data) to poll.
#[derive(Clone)]
pub struct RemoteBundle {
    /// A bundle, or entity data (polled on its own, with its own status).
    pub kind: ArtifactKind,
    pub fetcher: Arc<Fetcher>,
    /// The wait between polls (plus up to 10% of it, random, so replicas spread out).
    pub interval: Duration,
    /// Where the last good bundle is written.
    pub cache: Option<PathBuf>,
    pub slot: BundleSlot,
    /// What serves at start.
    pub start: RemoteStart,
}

impl std::fmt::Debug for RemoteBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBundle")
            .field("source", &self.fetcher.source().to_string())
            .field("interval", &self.interval)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// How the bundle serving at start was obtained.
#[derive(Clone, Debug, Default)]
pub struct RemoteStart {
    /// Its manifest digest or ETag, and digest.
    pub known: Known,
    /// The signed revision.
    pub revision: Option<String>,
    pub key_id: Option<String>,
    /// When it was fetched (Unix seconds); for a cached copy, when it was read.
    pub fetched_at: u64,
    pub from_cache: bool,
    /// Why the source could not be used at start (serving from the cache).
    pub error: Option<String>,
}

/// Records the start state and spawns the poller.
pub fn start(state: &Arc<State>, remote: &RemoteBundle) {
    let source = remote.fetcher.source().to_string();
    let begin = remote.start.clone();
    state.metrics.bundle.update(remote.kind, |info| {
        info.source = Some(source);
        info.remote = true;
        info.digest = begin.known.digest.clone();
        info.revision = begin.revision.clone();
        info.key_id = begin.key_id.clone();
        info.fetched_at = Some(begin.fetched_at);
        info.last_fetch_at = Some(begin.fetched_at);
        info.from_cache = begin.from_cache;
        info.last_error = begin.error.clone();
        if !begin.from_cache {
            info.last_success_at = Some(begin.fetched_at);
        }
    });
    tokio::spawn(poll(Arc::clone(state), remote.clone()));
}

/// The wait before the next poll: `interval` and a random 0–10% of it.
fn jittered(interval: Duration) -> Duration {
    // Randomness enough to spread replicas: the clock's nanoseconds, hashed.
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let tenth = interval.as_millis().saturating_div(10).max(1);
    let extra = u128::from(hasher.finish()) % tenth;
    interval.saturating_add(Duration::from_millis(u64::try_from(extra).unwrap_or(0)))
}

async fn poll(state: Arc<State>, remote: RemoteBundle) {
    let metrics = &state.metrics.bundle;
    let kind = remote.kind;
    let update = |change: &dyn Fn(&mut crate::bundle_status::SourceInfo)| {
        metrics.update(kind, |info| change(info));
    };
    // The fetch metrics are the bundle's; entities report through `/v1/status` only.
    let fetched = |result: FetchResult| {
        if kind == ArtifactKind::Bundle {
            metrics.fetched(result);
        }
    };
    let what = match kind {
        ArtifactKind::Bundle => "bundle",
        ArtifactKind::Entities => "entities",
    };
    let mut known = remote.start.known.clone();
    // The version last refused or failed to load: the error stays shown while the source
    // still serves it.
    let mut bad_version: Option<String> = None;
    loop {
        tokio::time::sleep(jittered(remote.interval)).await;
        if state.is_shutting_down() {
            return;
        }
        let asked = unix_now();
        let polled = remote.fetcher.poll(&known).await;
        update(&|info| info.last_fetch_at = Some(asked));
        match polled {
            Ok(Polled::NotModified { version }) => {
                fetched(FetchResult::NotModified);
                let still_bad = version.is_some() && version == bad_version;
                if version.is_some() {
                    known.version = version;
                }
                update(&|info| {
                    info.last_success_at = Some(asked);
                    // The source confirms what serves.
                    info.from_cache = false;
                    if !still_bad {
                        info.last_error = None;
                    }
                });
            }
            Ok(Polled::Updated(candidate)) => {
                let fresh = Arc::new(RemoteBytes {
                    bytes: candidate.bytes.clone(),
                    signed_revision: candidate.verified.revision().map(str::to_owned),
                });
                let previous = swap_slot(&remote.slot, fresh);
                let outcome = match state.reloader() {
                    Some(reloader) => reloader.reload(&state, Trigger::Remote).await,
                    None => return,
                };
                if let Some(error) = &outcome.error {
                    swap_slot(&remote.slot, previous);
                    fetched(FetchResult::Error);
                    bad_version.clone_from(&candidate.version);
                    known.version = candidate.version;
                    let message = format!(
                        "the {what} {} fetched from {} does not load: {error}",
                        candidate.verified.digest,
                        remote.fetcher.source()
                    );
                    update(&|info| info.last_error = Some(message.clone()));
                    continue;
                }
                fetched(FetchResult::Updated);
                bad_version = None;
                known = Known {
                    version: candidate.version.clone(),
                    digest: Some(candidate.verified.digest.clone()),
                };
                update(&|info| {
                    info.revision = candidate.verified.revision().map(str::to_owned);
                    info.digest = Some(candidate.verified.digest.clone());
                    info.key_id.clone_from(&candidate.verified.key_id);
                    info.fetched_at = Some(asked);
                    info.last_success_at = Some(asked);
                    info.from_cache = false;
                    info.last_error = None;
                });
                if let Some(dir) = remote.cache.clone() {
                    let written = tokio::task::spawn_blocking(move || {
                        remote::write_cache(
                            &dir,
                            kind,
                            &candidate.bytes,
                            candidate.signature.as_deref(),
                        )
                    })
                    .await;
                    match written {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            eprintln!("rampart serve: cannot write the bundle cache: {e}")
                        }
                        Err(_) => eprintln!("rampart serve: cannot write the bundle cache"),
                    }
                }
            }
            Err(error) => {
                let refused = matches!(error, FetchError::Refused { .. });
                fetched(if refused {
                    FetchResult::Refused
                } else {
                    FetchResult::Error
                });
                let message = format!("{}: {error}", remote.fetcher.source());
                eprintln!(
                    "rampart serve: {what} fetch {}: {message}; revision {} keeps serving",
                    if refused { "refused" } else { "failed" },
                    state.policy().revision()
                );
                if let FetchError::Refused {
                    version: Some(version),
                    ..
                } = error
                {
                    // Not fetched again until the source changes (a HEAD or a 304 says so).
                    bad_version = Some(version.clone());
                    known.version = Some(version);
                }
                update(&|info| info.last_error = Some(message.clone()));
            }
        }
    }
}

fn swap_slot(slot: &BundleSlot, bytes: Arc<RemoteBytes>) -> Arc<RemoteBytes> {
    match slot.lock() {
        Ok(mut current) => std::mem::replace(&mut *current, bytes),
        Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_polls_is_the_interval_and_at_most_a_tenth_more() {
        for interval in [
            Duration::from_millis(1),
            Duration::from_secs(1),
            Duration::from_secs(30),
        ] {
            for _ in 0..100 {
                let wait = jittered(interval);
                assert!(
                    wait >= interval && wait <= interval + interval / 10 + Duration::from_millis(1)
                );
            }
        }
    }
}
