//! `rate_limit` obligations enforced: a token bucket per (obligation, key), in bounded memory.
//!
//! **Key design decision:** buckets are found by a 128-bit keyed fingerprint of the rule id
//! and the key (SipHash under two random keys chosen at start), never by the key text. An
//! entry has a fixed size whatever the key (a header value can be kilobytes), so the memory
//! bound is a count of keys: `--rate-limit-keys` (100,000 by default) buckets of a few dozen
//! bytes. Collisions need 2^64 work against keys an attacker cannot see.
//!
//! The buckets live in up to 64 shards (of 64 buckets or more), each behind its own mutex
//! (a decision holds one for a few hundred nanoseconds). A shard that is full first drops
//! its idle buckets (refilled to the limit: they hold no state), then, under a flood of new
//! keys, the least recently used eighth of its buckets. Recently used keys, throttled ones
//! included, stay counted.
//!
//! A bucket of `rate_limit N per P` holds up to `N` tokens and regains `N / P` per second,
//! so a key may send `N` requests at once and then `N` per `P` on average. A request allowed
//! by the policy takes one token from the bucket of each of its `rate_limit` obligations; if
//! one is empty, the tokens already taken are given back and the request is denied with the
//! time until a token is due (`retry-after`).
//!
//! With `--rate-limit-store` the counts live in Redis instead, shared by every replica
//! (`shared.rs`, `store.rs`, `gcra.lua`), and these buckets are the fallback while the store
//! cannot be reached. [`Limits`] is what `State` holds: off, local, or shared.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

use rampart_engine::{Decision, Effect, ObligationOut};
use serde_json::{json, Value as Json};

mod shared;
mod store;
mod store_metrics;

pub use shared::SharedLimiter;
pub use store::{FailMode, StoreConfig, StoreError, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
pub use store_metrics::StoreMetrics;

/// The default of `--rate-limit-keys`.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The most shards the buckets are spread over (a power of two).
const MAX_SHARDS: usize = 64;

/// The fewest buckets a shard holds when there are several: small limiters use fewer
/// shards rather than tiny ones, which would evict on every collision.
const MIN_KEYS_PER_SHARD: usize = 64;

const NANOS_PER_SECOND: f64 = 1e9;

/// A request denied because one of its rate limits was exhausted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    /// The id of the `rate_limit` obligation.
    pub rule: String,
    pub limit: u64,
    pub per_s: u64,
    /// Whole seconds until the bucket has a token again (at least 1).
    pub retry_after_s: u64,
    /// Denied because the rate-limit store could not be reached (`--rate-limit-fail
    /// closed`), not because the limit was used up.
    pub store_unavailable: bool,
}

impl RateLimited {
    /// The deny that replaces the policy's allow: the obligation is the deciding rule.
    pub fn decision(&self) -> Decision {
        let period = i64::try_from(self.per_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        Decision {
            decision: Effect::Deny,
            rules: vec![self.rule.clone()],
            reasons: vec![if self.store_unavailable {
                STORE_UNAVAILABLE.to_owned()
            } else {
                format!(
                    "rate limit of {} per {} exceeded",
                    self.limit,
                    rampart_engine::time::format_duration(period)
                )
            }],
            errors: Vec::new(),
            obligations: Vec::new(),
            controls: Vec::new(),
        }
    }

    /// The `rate_limited` field of the decision API's answer.
    pub fn to_json(&self) -> Json {
        let mut fields = json!({
            "rule": self.rule,
            "limit": self.limit,
            "per_s": self.per_s,
            "retry_after_s": self.retry_after_s,
        });
        if let (true, Json::Object(map)) = (self.store_unavailable, &mut fields) {
            map.insert("store_unavailable".into(), Json::Bool(true));
        }
        fields
    }
}

/// The reason of a deny because the store could not be reached (`--rate-limit-fail closed`).
pub const STORE_UNAVAILABLE: &str = "rate-limit store unavailable";

/// How a sidecar enforces `rate_limit` obligations.
pub enum Limits {
    /// Not at all: the obligations are only returned (`--rate-limit-keys 0`).
    Off,
    /// With this replica's buckets.
    Local(RateLimiter),
    /// In the shared store (`--rate-limit-store`).
    Shared(SharedLimiter),
}

impl Limits {
    /// True when enforcing `decision` asks the shared store (so may wait for it).
    pub fn asks_store(&self, decision: &Decision) -> bool {
        matches!(self, Limits::Shared(_)) && has_rate_limit(decision)
    }

    /// Enforces without waiting: the local buckets, or for a shared limiter its fallback
    /// (as while the store is down). The doors use [`Limits::enforce`].
    pub fn enforce_now(&self, decision: &Decision) -> Option<RateLimited> {
        match self {
            Limits::Off => None,
            Limits::Local(limiter) => limiter.enforce(decision),
            Limits::Shared(shared) => shared.enforce_without_store(decision),
        }
    }

    /// Enforces the `rate_limit` obligations of an allow decision: `None` when the request
    /// may pass, otherwise the limit that denies it.
    pub async fn enforce(&self, decision: &Decision) -> Option<RateLimited> {
        match self {
            Limits::Shared(shared) if has_rate_limit(decision) => shared.enforce(decision).await,
            _ => self.enforce_now(decision),
        }
    }
}

/// True for an allow with at least one `rate_limit` obligation.
fn has_rate_limit(decision: &Decision) -> bool {
    decision.is_allow()
        && decision
            .obligations
            .iter()
            .any(|o| matches!(o, ObligationOut::RateLimit { .. }))
}

/// The HTTP status of a rate-limited request.
pub const TOO_MANY_REQUESTS: u16 = 429;

/// Token buckets of every (obligation, key) seen recently.
pub struct RateLimiter {
    shards: Box<[Mutex<Shard>]>,
    keys_per_shard: usize,
    fingerprint: [RandomState; 2],
    epoch: Instant,
}

#[derive(Default)]
struct Shard {
    buckets: HashMap<u128, Bucket>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date, in nanoseconds since the limiter started.
    updated_ns: u64,
    limit: u64,
    per_s: u64,
}

impl Bucket {
    fn new(limit: u64, per_s: u64, now_ns: u64) -> Bucket {
        Bucket {
            // Precision loss above 2^53 requests per period is irrelevant.
            tokens: limit as f64,
            updated_ns: now_ns,
            limit,
            per_s,
        }
    }

    /// Tokens regained per nanosecond.
    fn rate(&self) -> f64 {
        self.limit as f64 / (self.per_s as f64 * NANOS_PER_SECOND)
    }

    fn capacity(&self) -> f64 {
        self.limit as f64
    }

    /// The tokens the bucket holds at `now_ns`.
    fn tokens_at(&self, now_ns: u64) -> f64 {
        let elapsed = now_ns.saturating_sub(self.updated_ns) as f64;
        (self.tokens + elapsed * self.rate()).min(self.capacity())
    }

    fn refill(&mut self, now_ns: u64) {
        self.tokens = self.tokens_at(now_ns);
        self.updated_ns = self.updated_ns.max(now_ns);
    }

    /// Takes a token, or says in how many whole seconds one is due.
    fn take(&mut self, now_ns: u64) -> Result<(), u64> {
        self.refill(now_ns);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait_s = (1.0 - self.tokens) / (self.rate() * NANOS_PER_SECOND);
        // Bounded by `per_s`, so the conversion cannot overflow.
        let whole = wait_s.ceil().max(1.0) as u64;
        Err(whole)
    }
}

impl RateLimiter {
    /// A limiter holding at most `max_keys` buckets (at least one).
    pub fn new(max_keys: usize) -> RateLimiter {
        RateLimiter::with_shards(max_keys, MAX_SHARDS)
    }

    /// A limiter of at most `max_keys` buckets in at most `max_shards` shards.
    fn with_shards(max_keys: usize, max_shards: usize) -> RateLimiter {
        let max_keys = max_keys.max(1);
        // The largest power of two not above either bound: the shards never hold more
        // than `max_keys` buckets together.
        let bound = max_shards.min(max_keys / MIN_KEYS_PER_SHARD).max(1);
        let shards = 1usize << (usize::BITS - 1 - bound.leading_zeros());
        RateLimiter {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            keys_per_shard: max_keys / shards,
            fingerprint: [RandomState::new(), RandomState::new()],
            epoch: Instant::now(),
        }
    }

    /// The most buckets this limiter keeps.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.keys_per_shard.saturating_mul(self.shards.len())
    }

    /// The buckets held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |s| s.buckets.len()))
            .sum()
    }

    /// True when no bucket is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a token for each `rate_limit` obligation of an allow decision. `None` when the
    /// request may pass (or the decision is no allow); otherwise the first exhausted limit.
    pub fn enforce(&self, decision: &Decision) -> Option<RateLimited> {
        if !has_rate_limit(decision) {
            return None;
        }
        let now_ns = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.enforce_at(decision, now_ns)
    }

    /// [`RateLimiter::enforce`] at a given time (nanoseconds since the limiter started).
    fn enforce_at(&self, decision: &Decision, now_ns: u64) -> Option<RateLimited> {
        let mut taken: Vec<u128> = Vec::new();
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
            let fingerprint = self.fingerprint(rule, key);
            match self.take(fingerprint, limit, per_s, now_ns) {
                Ok(()) => taken.push(fingerprint),
                Err(retry_after_s) => {
                    for fingerprint in taken {
                        self.give_back(fingerprint);
                    }
                    return Some(RateLimited {
                        rule: rule.clone(),
                        limit,
                        per_s,
                        retry_after_s,
                        store_unavailable: false,
                    });
                }
            }
        }
        None
    }

    fn fingerprint(&self, rule: &str, key: &str) -> u128 {
        let [first, second] = self.fingerprint.each_ref().map(|state| {
            let mut hasher = state.build_hasher();
            rule.hash(&mut hasher);
            key.hash(&mut hasher);
            hasher.finish()
        });
        (u128::from(first) << 64) | u128::from(second)
    }

    fn shard(&self, fingerprint: u128) -> Option<&Mutex<Shard>> {
        // Truncation is intended: the low bits choose the shard.
        let index = (fingerprint as usize) & (self.shards.len().saturating_sub(1));
        self.shards.get(index)
    }

    fn take(&self, fingerprint: u128, limit: u64, per_s: u64, now_ns: u64) -> Result<(), u64> {
        let Some(Ok(mut shard)) = self.shard(fingerprint).map(Mutex::lock) else {
            // A poisoned shard (a panic while holding it) does not limit: the policy's allow
            // stands, as without the obligation being enforced.
            return Ok(());
        };
        if !shard.buckets.contains_key(&fingerprint) && shard.buckets.len() >= self.keys_per_shard {
            shard.evict(self.keys_per_shard, now_ns);
        }
        let bucket = shard
            .buckets
            .entry(fingerprint)
            .or_insert_with(|| Bucket::new(limit, per_s, now_ns));
        if bucket.limit != limit || bucket.per_s != per_s {
            // The policy changed (a reload): keep what was used, within the new limit.
            bucket.refill(now_ns);
            let used = bucket.capacity() - bucket.tokens;
            *bucket = Bucket::new(limit, per_s, now_ns);
            bucket.tokens = (bucket.capacity() - used).max(0.0);
        }
        bucket.take(now_ns)
    }

    fn give_back(&self, fingerprint: u128) {
        if let Some(Ok(mut shard)) = self.shard(fingerprint).map(Mutex::lock) {
            if let Some(bucket) = shard.buckets.get_mut(&fingerprint) {
                bucket.tokens = (bucket.tokens + 1.0).min(bucket.capacity());
            }
        }
    }
}

impl Shard {
    /// Makes room for at least one bucket: drops the idle (full) buckets, then, if fewer
    /// than an eighth of the places came free, the least recently used buckets down to
    /// seven eighths of `capacity`.
    fn evict(&mut self, capacity: usize, now_ns: u64) {
        self.buckets
            .retain(|_, bucket| bucket.tokens_at(now_ns) < bucket.capacity());
        let target = capacity.saturating_sub((capacity / 8).max(1));
        if self.buckets.len() <= target {
            return;
        }
        let mut by_age: Vec<(u64, u128)> = self
            .buckets
            .iter()
            .map(|(fingerprint, bucket)| (bucket.updated_ns, *fingerprint))
            .collect();
        let excess = self.buckets.len().saturating_sub(target);
        by_age.select_nth_unstable(excess.saturating_sub(1));
        for (_, fingerprint) in by_age.iter().take(excess) {
            self.buckets.remove(fingerprint);
        }
    }
}

#[cfg(test)]
mod tests;
