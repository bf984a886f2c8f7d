//! Measurements: per-decision latency (median, p99), throughput, allocations per
//! decision, and multi-thread throughput.
//!
//! Latency is measured per decision, walking the request stream in order (so allow and
//! deny paths mix as in the stream), with `Instant` around each call; the median cost of
//! an empty `Instant` pair is subtracted. Throughput runs the stream without per-call
//! clocks. Every measure has a time budget, so slow engines yield fewer samples rather
//! than a longer run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::alloc::count_allocations;
use crate::engines::Decider;

/// Fewest samples a latency measure takes, whatever its budget.
const MIN_SAMPLES: usize = 20;

/// Latency of one decision, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_ns: f64,
    pub p99_ns: f64,
    pub samples: usize,
}

/// The median cost of taking two `Instant`s and subtracting them.
pub fn timer_overhead_ns() -> f64 {
    let mut samples: Vec<u64> = (0..10_001)
        .map(|_| {
            let start = Instant::now();
            duration_ns(black_box(start).elapsed())
        })
        .collect();
    percentile(&mut samples, 50.0)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The `p`-th percentile (nearest rank) of `samples`, sorting them; 0 when empty.
pub fn percentile(samples: &mut [u64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    let index = rank.clamp(1, samples.len()) - 1;
    samples.get(index).map_or(0.0, |&s| s as f64)
}

/// Times decisions one by one, cycling through the stream, until `budget` is spent (and at
/// least 20 samples were taken) or `max_samples` were taken.
pub fn latency(
    decider: &mut dyn Decider,
    budget: Duration,
    max_samples: usize,
    overhead_ns: f64,
) -> Latency {
    let started = Instant::now();
    let mut samples: Vec<u64> = Vec::with_capacity(max_samples.min(1 << 20));
    let mut index = 0;
    while samples.len() < max_samples && (samples.len() < MIN_SAMPLES || started.elapsed() < budget)
    {
        let start = Instant::now();
        black_box(decider.decide(black_box(index)));
        samples.push(duration_ns(start.elapsed()));
        index += 1;
    }
    let count = samples.len();
    let corrected = |x: f64| (x - overhead_ns).max(0.0);
    Latency {
        median_ns: corrected(percentile(&mut samples, 50.0)),
        p99_ns: corrected(percentile(&mut samples, 99.0)),
        samples: count,
    }
}

/// Decisions per second of one thread running the stream for about `budget`.
pub fn throughput(decider: &mut dyn Decider, budget: Duration) -> f64 {
    run_for(budget, &mut |i| decider.decide(i))
}

/// Total decisions per second of `threads` threads, each calling `decide` (with its own
/// walk through the stream) for about `budget`.
pub fn parallel_throughput(
    threads: usize,
    budget: Duration,
    decide: &(dyn Fn(usize) -> bool + Sync),
) -> f64 {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let offset = t.wrapping_mul(7919);
                    run_for(budget, &mut |i| decide(i.wrapping_add(offset)))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).sum()
    })
}

/// Calls `decide(0), decide(1), …` in chunks until `budget` has passed; decisions per second.
fn run_for(budget: Duration, decide: &mut dyn FnMut(usize) -> bool) -> f64 {
    const CHUNK: usize = 64;
    let started = Instant::now();
    let mut done = 0_usize;
    loop {
        for i in done..done + CHUNK {
            black_box(decide(black_box(i)));
        }
        done += CHUNK;
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return done as f64 / elapsed.as_secs_f64();
        }
    }
}

/// Heap allocations per decision, over allowed and denied requests separately.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Allocations {
    pub per_decision: f64,
    pub per_allow: f64,
    pub per_deny: f64,
}

/// Counts allocations of each decision of the stream (at most `max_requests`, and about
/// `budget` of time). Meaningful only with [`crate::alloc::CountingAllocator`] installed.
pub fn allocations(
    decider: &mut dyn Decider,
    budget: Duration,
    max_requests: usize,
) -> Allocations {
    let started = Instant::now();
    let (mut allow, mut deny) = ((0_u64, 0_u64), (0_u64, 0_u64));
    for index in 0..decider.len().min(max_requests) {
        let (allowed, count) = count_allocations(|| decider.decide(index));
        let slot = if allowed { &mut allow } else { &mut deny };
        slot.0 += count;
        slot.1 += 1;
        if index + 1 >= MIN_SAMPLES && started.elapsed() >= budget {
            break;
        }
    }
    let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    Allocations {
        per_decision: ratio(allow.0 + deny.0, allow.1 + deny.1),
        per_allow: ratio(allow.0, allow.1),
        per_deny: ratio(deny.0, deny.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut xs: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut xs, 50.0), 50.0);
        assert_eq!(percentile(&mut xs, 99.0), 99.0);
        assert_eq!(percentile(&mut xs, 100.0), 100.0);
        assert_eq!(percentile(&mut [], 50.0), 0.0);
        assert_eq!(percentile(&mut [5], 99.0), 5.0);
    }

    #[test]
    fn throughput_counts_calls() {
        let rate = parallel_throughput(2, Duration::from_millis(20), &|i| i % 2 == 0);
        assert!(rate > 1000.0);
    }
}
