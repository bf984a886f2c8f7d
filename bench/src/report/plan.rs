//! How much of each workload the report runs: stream length, skipped engines, rounds and
//! time budgets.
//!
//! The full report measures everything that finishes in reasonable time on a 2-core
//! machine; `--quick` (CI) shortens streams, rounds and budgets and skips the slowest
//! engine × scale combinations so that the whole run stays under a minute.

use std::time::Duration;

use crate::engines::EngineKind;
use crate::gen::default_requests;
use crate::measure::Sampling;

/// What to run for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub requests: usize,
    /// Engines left out, with the reason reported in their place.
    pub skip: Vec<(EngineKind, String)>,
    /// Measurement rounds: each round measures every engine in turn.
    pub rounds: usize,
    /// Time spent timing single decisions, per engine and round (half of it end to end).
    pub latency_budget: Duration,
    /// At most this many latency samples per engine and round.
    pub max_samples: usize,
    /// At least this many latency samples per engine and round.
    pub min_samples: usize,
    /// Time spent on CPU-time batches, per engine and round (half of it end to end).
    pub batch_budget: Duration,
    /// At least this many CPU-time batches per engine and round.
    pub min_batches: usize,
    /// Time spent measuring Rampart's 1- and 2-thread throughput, per thread count.
    pub throughput_budget: Duration,
    /// Time spent counting allocations, per engine.
    pub alloc_budget: Duration,
    /// Whether to measure resident memory in a separate process per engine.
    pub measure_rss: bool,
}

impl Plan {
    /// Whether `kind` runs on this workload.
    pub fn runs(&self, kind: EngineKind) -> bool {
        !self.skip.iter().any(|(k, _)| *k == kind)
    }

    /// How one round samples `decide`.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            latency_budget: self.latency_budget,
            max_samples: self.max_samples,
            min_samples: self.min_samples,
            batch_budget: self.batch_budget,
            min_batches: self.min_batches,
        }
    }

    /// How one round samples `decide_e2e`: half the budgets of `decide`.
    pub fn e2e_sampling(&self) -> Sampling {
        Sampling {
            latency_budget: self.latency_budget / 2,
            batch_budget: self.batch_budget / 2,
            ..self.sampling()
        }
    }
}

/// The plan of workload `name`.
pub fn plan(name: &str, quick: bool) -> Plan {
    let slow = |kind: EngineKind, why: &str| (kind, why.to_string());
    let regorus_slow = "regorus without routing evaluates every rule of the package on each \
                        decision; too slow at this size for this run (regorus-routed runs)";
    let cedar_slow = "Cedar on the unsliced set walks every policy: about 0.7 s per decision \
                      at 100,000 rules (the previous full run), so the agreement check alone \
                      would take minutes (cedar-sliced runs)";
    let too_big = "generating, compiling and checking agreement on 100,000 rules takes \
                   over a minute here (Cedar needs about 0.3 s per decision); see the full report";
    let everything = |why: &str| EngineKind::ALL.map(|k| slow(k, why)).to_vec();
    let skip = match (name, quick) {
        ("scale-100k" | "scale-wide-100k", false) => vec![
            slow(EngineKind::Regorus, regorus_slow),
            slow(EngineKind::Cedar, cedar_slow),
        ],
        ("scale-100k" | "scale-wide-100k", true) => everything(too_big),
        ("scale-10k", true) => vec![slow(EngineKind::Regorus, regorus_slow)],
        _ => Vec::new(),
    };
    if quick {
        Plan {
            requests: match name {
                "small" => 500,
                "gateway" | "gateway-global" | "multi-tenant" => 300,
                "scale-1k" => 200,
                _ => 100,
            },
            skip,
            rounds: 2,
            latency_budget: Duration::from_millis(40),
            max_samples: 100_000,
            min_samples: 5,
            batch_budget: Duration::from_millis(40),
            min_batches: 3,
            throughput_budget: Duration::from_millis(100),
            alloc_budget: Duration::from_millis(50),
            measure_rss: matches!(name, "small" | "gateway"),
        }
    } else {
        Plan {
            requests: default_requests(name),
            skip,
            rounds: 5,
            latency_budget: Duration::from_millis(400),
            max_samples: 400_000,
            min_samples: 10,
            batch_budget: Duration::from_millis(300),
            min_batches: 5,
            throughput_budget: Duration::from_secs(1),
            alloc_budget: Duration::from_millis(500),
            measure_rss: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_is_smaller_and_skips_slow_engines() {
        let full = plan("scale-100k", false);
        let quick = plan("scale-100k", true);
        assert!(quick.requests < full.requests);
        assert!(!full.runs(EngineKind::Cedar) && !full.runs(EngineKind::Regorus));
        assert!(plan("scale-10k", false).runs(EngineKind::Cedar));
        assert!(EngineKind::ALL.iter().all(|k| !quick.runs(*k)));
        assert!(plan("gateway", true).runs(EngineKind::Regorus));
        assert!(full.runs(EngineKind::RegorusRouted) && full.runs(EngineKind::CedarSliced));
        assert!(plan("scale-10k", true).runs(EngineKind::RegorusRouted));
        for name in ["gateway-global", "multi-tenant"] {
            let quick = plan(name, true);
            assert!(EngineKind::ALL.iter().all(|k| quick.runs(*k)), "{name}");
            assert!(quick.requests < plan(name, false).requests);
        }
        assert!(!plan("scale-wide-100k", true).runs(EngineKind::Rampart));
        assert!(plan("gateway", true).runs(EngineKind::Floor));
        assert!(quick.rounds >= 2 && full.rounds > quick.rounds);
    }

    #[test]
    fn end_to_end_gets_half_the_budgets() {
        let plan = plan("gateway", false);
        let (decide, e2e) = (plan.sampling(), plan.e2e_sampling());
        assert_eq!(e2e.latency_budget * 2, decide.latency_budget);
        assert_eq!(e2e.batch_budget * 2, decide.batch_budget);
        assert_eq!(e2e.min_samples, decide.min_samples);
    }
}
