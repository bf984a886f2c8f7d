//! Rate limits shared by every replica through the store (`--rate-limit-store`), with this
//! replica's buckets (or a deny) as the fallback and a local cache of keys known to be over
//! their limit.
//!
//! **Key design decision:** the store's answer is the local buckets' answer. GCRA with burst
//! `N` and emission interval `P / N` is the token bucket of `RateLimiter` written as one
//! timestamp per key, so a replica that falls back decides by the same rule, and a denied
//! key's wait is exact: the cache denies it without a round trip until that wait has passed
//! (measured from when the request was sent, so never longer than the store would).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_engine::{Decision, ObligationOut};

use super::store::{self, FailMode, Store, StoreConfig, StoreError, Verdict};
use super::store_metrics::StoreMetrics;
use super::{RateLimited, RateLimiter};

/// How long a request denied because the store is unreachable (`closed`) is told to wait.
const CLOSED_RETRY_AFTER_S: u64 = 1;

/// Rate limits counted in the store.
pub struct SharedLimiter {
    store: Arc<Store>,
    /// The fallback of `--rate-limit-fail local`.
    local: RateLimiter,
    over: OverLimit,
    prefix: String,
    fail: FailMode,
    metrics: Arc<StoreMetrics>,
}

/// One obligation of a request, as the store sees it.
struct Check<'d> {
    rule: &'d str,
    limit: u64,
    per_s: u64,
    key: String,
    interval_us: u64,
    capacity_us: u64,
}

impl<'d> Check<'d> {
    fn limited(&self, retry_after_s: u64) -> RateLimited {
        RateLimited {
            rule: self.rule.to_owned(),
            limit: self.limit,
            per_s: self.per_s,
            retry_after_s,
            store_unavailable: false,
        }
    }
}

impl SharedLimiter {
    /// Connects to the store (see [`Store::start`]); `max_keys` bounds both the fallback
    /// buckets and the over-limit cache. Must be called inside a tokio runtime.
    pub async fn start(config: &StoreConfig, max_keys: usize) -> Result<SharedLimiter, StoreError> {
        if max_keys == 0 {
            return Err(StoreError::NoKeys);
        }
        let metrics = Arc::new(StoreMetrics::default());
        let store = Store::start(config, Arc::clone(&metrics)).await?;
        Ok(SharedLimiter {
            store,
            local: RateLimiter::new(max_keys),
            over: OverLimit::new(max_keys),
            prefix: config.prefix.clone(),
            fail: config.fail,
            metrics,
        })
    }

    /// The store's metrics, for `/metrics`.
    pub fn metrics(&self) -> Arc<StoreMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Enforces the `rate_limit` obligations of `decision` (an allow that has some) in the
    /// store: one round trip, or none when a key is known to be over its limit or the store
    /// is down (then the fallback decides).
    pub async fn enforce(&self, decision: &Decision) -> Option<RateLimited> {
        let checks = self.checks(decision);
        let first = checks.first()?;
        let now = Instant::now();
        for check in &checks {
            if let Some(until) = self.over.until(&check.key, now) {
                self.metrics.cached_denial();
                return Some(check.limited(whole_seconds(until.saturating_duration_since(now))));
            }
        }
        if !self.store.is_up() {
            return self.fallback(decision, first);
        }
        let keys: Vec<String> = checks.iter().map(|c| c.key.clone()).collect();
        let args: Vec<u64> = checks
            .iter()
            .flat_map(|c| [c.interval_us, c.capacity_us])
            .collect();
        let max_wait_us = checks.iter().map(|c| c.capacity_us).max().unwrap_or(0);
        let sent = Instant::now();
        match self.store.check(&keys, &args, max_wait_us).await {
            Ok(Verdict::Allowed) => None,
            Ok(Verdict::Denied { index, wait_us }) => {
                let check = checks.get(index)?;
                let wait = Duration::from_micros(wait_us);
                self.over.insert(&check.key, sent + wait, now);
                Some(check.limited(whole_seconds(wait)))
            }
            Err(_) => self.fallback(decision, first),
        }
    }

    /// Enforces without the store, as while it is down (counted as a fallback).
    pub fn enforce_without_store(&self, decision: &Decision) -> Option<RateLimited> {
        let checks = self.checks(decision);
        let first = checks.first()?;
        self.fallback(decision, first)
    }

    fn fallback(&self, decision: &Decision, first: &Check<'_>) -> Option<RateLimited> {
        self.metrics.fallback();
        match self.fail {
            FailMode::Local => self.local.enforce(decision),
            FailMode::Closed => Some(RateLimited {
                store_unavailable: true,
                ..first.limited(CLOSED_RETRY_AFTER_S)
            }),
        }
    }

    /// The obligations of an allow, each with its key; none for a deny.
    fn checks<'d>(&self, decision: &'d Decision) -> Vec<Check<'d>> {
        if !decision.is_allow() {
            return Vec::new();
        }
        let mut checks: Vec<Check<'d>> = Vec::new();
        for obligation in &decision.obligations {
            let ObligationOut::RateLimit {
                limit,
                per_s,
                key,
                rule,
            } = obligation
            else {
                continue;
            };
            let (limit, per_s) = ((*limit).max(1), (*per_s).max(1));
            let key = store::redis_key(&self.prefix, rule, limit, per_s, key);
            // The same key twice would be counted once by the script: keep the first.
            if checks.iter().any(|c| c.key == key) {
                continue;
            }
            let (interval_us, capacity_us) = store::gcra_args(limit, per_s);
            checks.push(Check {
                rule,
                limit,
                per_s,
                key,
                interval_us,
                capacity_us,
            });
        }
        checks
    }
}

/// Whole seconds of `wait`, rounded up, at least 1 (the `retry-after` of a deny).
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Keys known to be over their limit, until when; at most `capacity` of them. When full,
/// the entries that expired are dropped (at most once a second, so a flood of denied keys
/// does not sweep on every request), and if none did the new one is not kept: the store
/// still answers for it, the cache only saves round trips.
pub struct OverLimit {
    entries: Mutex<Entries>,
    capacity: usize,
}

#[derive(Default)]
struct Entries {
    until: HashMap<String, Instant>,
    swept: Option<Instant>,
}

/// The least time between two sweeps of a full cache.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl OverLimit {
    pub fn new(capacity: usize) -> OverLimit {
        OverLimit {
            entries: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    /// Until when `key` is over its limit, if it is at `now`.
    pub fn until(&self, key: &str, now: Instant) -> Option<Instant> {
        let Ok(mut entries) = self.entries.lock() else {
            return None;
        };
        match entries.until.get(key) {
            Some(until) if *until > now => Some(*until),
            Some(_) => {
                entries.until.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: &str, until: Instant, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.until.len() >= self.capacity && !entries.until.contains_key(key) {
            let due = entries
                .swept
                .is_none_or(|swept| now.saturating_duration_since(swept) >= SWEEP_EVERY);
            if due {
                entries.until.retain(|_, until| *until > now);
                entries.swept = Some(now);
            }
            if entries.until.len() >= self.capacity {
                return;
            }
        }
        entries.until.insert(key.to_owned(), until);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.until.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_over_limit_cache_expires_and_stays_bounded() {
        let cache = OverLimit::new(3);
        let now = Instant::now();
        let second = Duration::from_secs(1);
        cache.insert("a", now + second, now);
        assert_eq!(cache.until("a", now), Some(now + second));
        // Expired: forgotten.
        assert_eq!(cache.until("a", now + second), None);
        assert_eq!(cache.len(), 0);
        // Full of live entries: a new key is not kept, the old ones are.
        for key in ["a", "b", "c"] {
            cache.insert(key, now + 10 * second, now);
        }
        cache.insert("d", now + 10 * second, now);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.until("d", now), None);
        assert!(cache.until("b", now).is_some());
        // Once they expire, a sweep (at most once a second) makes room.
        let later = now + 11 * second;
        cache.insert("e", later + second, later);
        assert_eq!(cache.len(), 1);
        assert!(cache.until("e", later).is_some());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_micros(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(18)), 18);
        assert_eq!(whole_seconds(Duration::from_millis(18_001)), 19);
    }
}
