//! The rate-limit store's metrics (`rampart_ratelimit_*`), rendered into `/metrics` by
//! `metrics.rs`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the round-trip buckets, in seconds (loopback is ~0.1 ms; the default
/// timeout is 50 ms).
const BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Counters of the shared rate-limit store.
#[derive(Default)]
pub struct StoreMetrics {
    up: AtomicBool,
    errors: AtomicU64,
    fallback: AtomicU64,
    cached: AtomicU64,
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl StoreMetrics {
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    /// A failed round trip (error, garbage reply or timeout).
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A check decided without the store (local buckets, or denied when closed).
    pub fn fallback(&self) {
        self.fallback.fetch_add(1, Ordering::Relaxed);
    }

    /// A check denied from the local cache of keys known to be over their limit.
    pub fn cached_denial(&self) {
        self.cached.fetch_add(1, Ordering::Relaxed);
    }

    /// One round trip, answered or not.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the Prometheus text of these metrics.
    pub fn render(&self, out: &mut String) {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        out.push_str(
            "# HELP rampart_ratelimit_store_up 1 while the rate-limit store answers, 0 while \
             checks fall back (--rate-limit-fail).\n# TYPE rampart_ratelimit_store_up gauge\n",
        );
        let _ = writeln!(
            out,
            "rampart_ratelimit_store_up {}",
            u8::from(self.up.load(Ordering::Relaxed))
        );
        out.push_str(
            "# HELP rampart_ratelimit_store_errors_total Rate-limit store round trips that \
             failed (error, garbage reply or timeout).\n# TYPE \
             rampart_ratelimit_store_errors_total counter\n",
        );
        let _ = writeln!(
            out,
            "rampart_ratelimit_store_errors_total {}",
            get(&self.errors)
        );
        out.push_str(
            "# HELP rampart_ratelimit_fallback_total Rate-limit checks decided without the \
             store: by this replica's buckets, or denied with --rate-limit-fail closed.\n# \
             TYPE rampart_ratelimit_fallback_total counter\n",
        );
        let _ = writeln!(
            out,
            "rampart_ratelimit_fallback_total {}",
            get(&self.fallback)
        );
        out.push_str(
            "# HELP rampart_ratelimit_cached_denials_total Rate-limit checks denied without \
             a round trip: the key was known to be over its limit.\n# TYPE \
             rampart_ratelimit_cached_denials_total counter\n",
        );
        let _ = writeln!(
            out,
            "rampart_ratelimit_cached_denials_total {}",
            get(&self.cached)
        );
        out.push_str(
            "# HELP rampart_ratelimit_store_duration_seconds Time of one rate-limit store \
             round trip.\n# TYPE rampart_ratelimit_store_duration_seconds histogram\n",
        );
        let mut cumulative = 0u64;
        for (slot, bound) in BUCKETS.iter().enumerate() {
            cumulative = cumulative.saturating_add(self.buckets.get(slot).map_or(0, get));
            let _ = writeln!(
                out,
                "rampart_ratelimit_store_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative = cumulative.saturating_add(self.buckets.get(BUCKETS.len()).map_or(0, get));
        let _ = writeln!(
            out,
            "rampart_ratelimit_store_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        // Precision loss is fine for an exported sum.
        let sum = get(&self.sum_ns) as f64 / 1e9;
        let _ = writeln!(out, "rampart_ratelimit_store_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "rampart_ratelimit_store_duration_seconds_count {}",
            get(&self.count)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_names_the_alerts_use_are_rendered() {
        let metrics = StoreMetrics::default();
        metrics.set_up(true);
        metrics.error();
        metrics.fallback();
        metrics.fallback();
        metrics.cached_denial();
        metrics.observe(Duration::from_micros(300));
        metrics.observe(Duration::from_secs(3));
        let mut out = String::new();
        metrics.render(&mut out);
        for line in [
            "rampart_ratelimit_store_up 1",
            "rampart_ratelimit_store_errors_total 1",
            "rampart_ratelimit_fallback_total 2",
            "rampart_ratelimit_cached_denials_total 1",
            "rampart_ratelimit_store_duration_seconds_bucket{le=\"0.00025\"} 0",
            "rampart_ratelimit_store_duration_seconds_bucket{le=\"0.0005\"} 1",
            "rampart_ratelimit_store_duration_seconds_bucket{le=\"1\"} 1",
            "rampart_ratelimit_store_duration_seconds_bucket{le=\"+Inf\"} 2",
            "rampart_ratelimit_store_duration_seconds_count 2",
            "# TYPE rampart_ratelimit_store_duration_seconds histogram",
            "# TYPE rampart_ratelimit_store_up gauge",
        ] {
            assert!(out.lines().any(|l| l == line), "no `{line}` in:\n{out}");
        }
        metrics.set_up(false);
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.lines().any(|l| l == "rampart_ratelimit_store_up 0"));
    }
}
