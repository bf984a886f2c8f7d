//! Measurements: per-decision latency (median, p99) in wall time, CPU time per decision,
//! throughput, allocations per decision, and multi-thread throughput; and the summary of
//! several interleaved rounds.
//!
//! One [`round`] of a decision function has two phases. First, latency: decisions one by
//! one, walking the request stream in order from a start index (so allow and deny paths
//! mix as in the stream), `Instant` around each call, the median cost of an empty `Instant`
//! pair subtracted. Second, CPU time: batches of decisions without per-call clocks, the
//! calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, a system call of a few hundred ns)
//! read around each batch, the median cost of an empty pair of reads subtracted; a batch
//! lasts about [`BATCH_TARGET_NS`] (from the latency phase's median), so the clock reads
//! are noise. The round's CPU figure is the median over its batches of (batch CPU time ÷
//! batch size), its throughput the batch phase's decisions per wall-clock second. CPU
//! time does not count the time the thread waits while others run, the main error of
//! wall-clock figures on a loaded machine. Every phase has a time budget and a minimum
//! sample count, so slow engines yield fewer samples rather than a longer run.
//!
//! The report runs several rounds, every engine in turn in each round, and [`summarize`]s
//! an engine's rounds as the median round (the median of the per-round figures) and the
//! best round: a burst of load hits one round of one engine, not a whole engine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rustix::time::{clock_gettime, ClockId};

use crate::alloc::count_allocations;

/// Fewest samples the allocation count takes, whatever its budget.
const MIN_SAMPLES: usize = 20;

/// The wall time a CPU-time batch aims at, in nanoseconds: about a hundred times the cost
/// of reading the thread's CPU clock twice.
pub const BATCH_TARGET_NS: f64 = 50_000.0;

/// The most decisions in one CPU-time batch.
const MAX_BATCH: usize = 100_000;

/// Latency of one decision, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_ns: f64,
    pub p99_ns: f64,
    pub samples: usize,
}

/// The median costs of the clocks, subtracted from what they measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOverheads {
    /// Two `Instant`s and their difference.
    pub instant_ns: f64,
    /// Two reads of the thread's CPU clock and their difference.
    pub thread_cpu_ns: f64,
}

impl ClockOverheads {
    /// Measures both on this thread.
    pub fn measure() -> ClockOverheads {
        ClockOverheads {
            instant_ns: timer_overhead_ns(),
            thread_cpu_ns: thread_cpu_overhead_ns(),
        }
    }
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

/// The median cost of reading the thread's CPU clock twice and subtracting.
pub fn thread_cpu_overhead_ns() -> f64 {
    let mut samples: Vec<u64> = (0..2_001)
        .map(|_| {
            let start = thread_cpu_ns();
            thread_cpu_ns().saturating_sub(black_box(start))
        })
        .collect();
    percentile(&mut samples, 50.0)
}

/// CPU time the calling thread has used, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let now = clock_gettime(ClockId::ThreadCPUTime);
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
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

/// The median of `values` (the lower of the two middle ones for an even count); 0 when
/// empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// The smallest of `values`; 0 when empty.
fn best(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().min_by(f64::total_cmp).unwrap_or(0.0)
}

/// How one round samples a decision function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Time spent timing single decisions.
    pub latency_budget: Duration,
    /// At most this many single-decision samples.
    pub max_samples: usize,
    /// At least this many single-decision samples, whatever the budget.
    pub min_samples: usize,
    /// Time spent on CPU-time batches.
    pub batch_budget: Duration,
    /// At least this many batches, whatever the budget.
    pub min_batches: usize,
}

/// One round of one decision function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    /// Wall time per decision, each timed alone.
    pub latency: Latency,
    /// Median over the batches of thread CPU time per decision, in nanoseconds.
    pub cpu_ns: f64,
    /// Decisions per wall-clock second over the batch phase.
    pub decisions_per_s: f64,
    /// Decisions per batch.
    pub batch: usize,
    /// Batches timed.
    pub batches: usize,
}

/// Runs one round of `decide` (called with request indices from `start` on): latency, then
/// CPU-time batches.
pub fn round(
    decide: &mut dyn FnMut(usize) -> bool,
    start: usize,
    sampling: &Sampling,
    overheads: &ClockOverheads,
) -> Round {
    let latency = latency(
        decide,
        start,
        sampling.latency_budget,
        (sampling.min_samples, sampling.max_samples),
        overheads.instant_ns,
    );
    let batch = batch_size(latency.median_ns);
    let mut next = start.wrapping_add(latency.samples);
    let mut per_decision: Vec<u64> = Vec::new();
    let started = Instant::now();
    while per_decision.len() < sampling.min_batches || started.elapsed() < sampling.batch_budget {
        let cpu = thread_cpu_ns();
        for i in next..next.wrapping_add(batch) {
            black_box(decide(black_box(i)));
        }
        let spent = thread_cpu_ns().saturating_sub(cpu) as f64;
        let net = (spent - overheads.thread_cpu_ns).max(0.0);
        per_decision.push((net / batch as f64).round() as u64);
        next = next.wrapping_add(batch);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let batches = per_decision.len();
    let decided = (batches * batch) as f64;
    Round {
        latency,
        cpu_ns: percentile(&mut per_decision, 50.0),
        decisions_per_s: if elapsed > 0.0 {
            decided / elapsed
        } else {
            0.0
        },
        batch,
        batches,
    }
}

/// Decisions per CPU-time batch for a decision of `median_ns`: about
/// [`BATCH_TARGET_NS`] of work, at least 1.
pub fn batch_size(median_ns: f64) -> usize {
    let size = (BATCH_TARGET_NS / median_ns.max(1.0)).ceil();
    (size as usize).clamp(1, MAX_BATCH)
}

/// Times decisions one by one from `start` on, until `budget` is spent (and at least
/// `min` samples were taken) or `max` samples were taken.
pub fn latency(
    decide: &mut dyn FnMut(usize) -> bool,
    start: usize,
    budget: Duration,
    (min, max): (usize, usize),
    overhead_ns: f64,
) -> Latency {
    let started = Instant::now();
    let mut samples: Vec<u64> = Vec::with_capacity(max.min(1 << 20));
    let mut index = start;
    while samples.len() < max && (samples.len() < min || started.elapsed() < budget) {
        let start = Instant::now();
        black_box(decide(black_box(index)));
        samples.push(duration_ns(start.elapsed()));
        index = index.wrapping_add(1);
    }
    let count = samples.len();
    let corrected = |x: f64| (x - overhead_ns).max(0.0);
    Latency {
        median_ns: corrected(percentile(&mut samples, 50.0)),
        p99_ns: corrected(percentile(&mut samples, 99.0)),
        samples: count,
    }
}

/// Several rounds of one decision function, summarized.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The median round: the median of the per-round wall-time medians.
    pub median_ns: f64,
    /// The median of the per-round p99s.
    pub p99_ns: f64,
    /// The median of the per-round CPU-time medians.
    pub cpu_median_ns: f64,
    /// The median of the per-round throughputs.
    pub decisions_per_s: f64,
    /// The best round's wall-time median.
    pub best_median_ns: f64,
    /// The best round's CPU-time median.
    pub best_cpu_median_ns: f64,
    /// Single-decision samples over all rounds.
    pub samples: usize,
    /// Every round, in the order run.
    pub rounds: Vec<Round>,
}

/// Summarizes the rounds of one decision function.
pub fn summarize(rounds: Vec<Round>) -> Summary {
    let each = |f: fn(&Round) -> f64| rounds.iter().map(f).collect::<Vec<f64>>();
    Summary {
        median_ns: median(each(|r| r.latency.median_ns)),
        p99_ns: median(each(|r| r.latency.p99_ns)),
        cpu_median_ns: median(each(|r| r.cpu_ns)),
        decisions_per_s: median(each(|r| r.decisions_per_s)),
        best_median_ns: best(each(|r| r.latency.median_ns)),
        best_cpu_median_ns: best(each(|r| r.cpu_ns)),
        samples: rounds.iter().map(|r| r.latency.samples).sum(),
        rounds,
    }
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

/// Counts allocations of each decision of the stream (its first `requests`, for about
/// `budget` of time and at least 20 decisions). Meaningful only with
/// [`crate::alloc::CountingAllocator`] installed.
pub fn allocations(
    decide: &mut dyn FnMut(usize) -> bool,
    budget: Duration,
    requests: usize,
) -> Allocations {
    let started = Instant::now();
    let (mut allow, mut deny) = ((0_u64, 0_u64), (0_u64, 0_u64));
    for index in 0..requests {
        let (allowed, count) = count_allocations(|| decide(index));
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
    fn medians_of_rounds_take_the_lower_middle() {
        assert_eq!(median([5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median([4.0, 2.0]), 2.0);
        assert_eq!(median([]), 0.0);
        assert_eq!(best([4.0, 2.0, 9.0]), 2.0);
    }

    #[test]
    fn batches_last_about_the_target() {
        assert_eq!(batch_size(50.0), 1_000);
        assert_eq!(batch_size(3_000_000.0), 1);
        assert_eq!(batch_size(0.0), 50_000);
        assert_eq!(batch_size(f64::NAN), 50_000);
    }

    #[test]
    fn thread_cpu_time_advances_with_work_only() {
        let start = thread_cpu_ns();
        let mut x = 0_u64;
        for i in 0..2_000_000_u64 {
            x = black_box(x.wrapping_add(i));
        }
        assert!(thread_cpu_ns() > start, "{x}");
        let start = thread_cpu_ns();
        std::thread::sleep(Duration::from_millis(30));
        // Sleeping costs (almost) no CPU time: well under the 30 ms of wall time.
        assert!(thread_cpu_ns() - start < 10_000_000);
    }

    #[test]
    fn a_round_measures_both_phases_and_summaries_pick_the_median_round() {
        let sampling = Sampling {
            latency_budget: Duration::from_millis(5),
            max_samples: 1_000,
            min_samples: 10,
            batch_budget: Duration::from_millis(5),
            min_batches: 3,
        };
        let overheads = ClockOverheads::measure();
        let mut calls = 0_usize;
        let mut work = |i: usize| {
            calls += 1;
            black_box((0..200).fold(i, |a, b| a.wrapping_mul(31).wrapping_add(b))) % 2 == 0
        };
        let rounds: Vec<Round> = (0..3)
            .map(|r| round(&mut work, r * 100, &sampling, &overheads))
            .collect();
        for r in &rounds {
            assert!(r.latency.samples >= 10 && r.batches >= 3 && r.batch >= 1);
            assert!(r.cpu_ns > 0.0 && r.decisions_per_s > 0.0);
        }
        let summary = summarize(rounds.clone());
        assert_eq!(summary.rounds.len(), 3);
        assert_eq!(
            summary.cpu_median_ns,
            median(rounds.iter().map(|r| r.cpu_ns))
        );
        assert!(summary.best_cpu_median_ns <= summary.cpu_median_ns);
        assert!(summary.best_median_ns <= summary.median_ns);
        assert!(calls >= summary.samples);
    }

    #[test]
    fn throughput_counts_calls() {
        let rate = parallel_throughput(2, Duration::from_millis(20), &|i| i % 2 == 0);
        assert!(rate > 1000.0);
    }
}
