//! How much of each workload the report runs: stream length, skipped engines, time budgets.
//!
//! The full report measures everything that finishes in reasonable time on a 2-core
//! machine; `--quick` (CI) shortens streams and budgets and skips the slowest
//! engine × scale combinations so that the whole run stays under a minute.

use std::time::Duration;

use crate::engines::EngineKind;
use crate::gen::default_requests;

/// What to run for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub requests: usize,
    /// Engines left out, with the reason reported in their place.
    pub skip: Vec<(EngineKind, String)>,
    /// Time spent timing single decisions, per engine.
    pub latency_budget: Duration,
    /// At most this many latency samples per engine.
    pub max_samples: usize,
    /// Time spent measuring throughput, per engine (and per thread count for Rampart).
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
}

/// The plan of workload `name`.
pub fn plan(name: &str, quick: bool) -> Plan {
    let slow = |kind: EngineKind, why: &str| (kind, why.to_string());
    let regorus_slow = "regorus without routing evaluates every rule of the package on each \
                        decision; too slow at this size for this run (regorus-routed runs)";
    let too_big = "generating, compiling and checking agreement on 100,000 rules takes \
                   over a minute here (Cedar needs about 0.3 s per decision); see the full report";
    let everything = |why: &str| EngineKind::ALL.map(|k| slow(k, why)).to_vec();
    let skip = match (name, quick) {
        ("scale-100k" | "scale-wide-100k", false) => vec![slow(EngineKind::Regorus, regorus_slow)],
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
            latency_budget: Duration::from_millis(150),
            max_samples: 200_000,
            throughput_budget: Duration::from_millis(100),
            alloc_budget: Duration::from_millis(50),
            measure_rss: matches!(name, "small" | "gateway"),
        }
    } else {
        Plan {
            requests: default_requests(name),
            skip,
            latency_budget: Duration::from_secs(2),
            max_samples: 2_000_000,
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
        assert!(full.runs(EngineKind::Cedar) && !full.runs(EngineKind::Regorus));
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
    }
}
