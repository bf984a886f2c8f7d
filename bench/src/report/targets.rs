//! The targets, computed from one report's numbers only: CPU-time medians (the
//! median round) for every ratio, engines looked up by name, so that an engine or a
//! workload the run did not measure gives `measured: None, met: false`.

use super::{ratio, Report, WorkloadReport};
use crate::engines::EngineKind;

/// The sliced Cedar peer the speed targets compare with.
pub const CEDAR_PEER: &str = "cedar-sliced";
/// The routed regorus peer.
pub const REGORUS_PEER: &str = "regorus-routed";
/// The floor (a lookup of the precomputed answer).
pub const FLOOR: &str = "floor";

/// One target with what this run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    /// What is wanted, as the issue says it (`">= 10x"`, `"<= 5"`, `"0"`).
    pub wanted: &'static str,
    /// `None` when the run did not measure it (workload or engine not run).
    pub measured: Option<f64>,
    pub met: bool,
}

/// What a target compares its measure with.
#[derive(Debug, Clone, Copy)]
enum Want {
    AtLeast(f64),
    AtMost(f64),
}

impl Want {
    fn met(self, measured: Option<f64>) -> bool {
        match (self, measured) {
            (Want::AtLeast(min), Some(x)) => x >= min,
            (Want::AtMost(max), Some(x)) => x <= max,
            (_, None) => false,
        }
    }
}

fn target(name: String, wanted: &'static str, want: Want, measured: Option<f64>) -> Target {
    // A NaN (0 / 0) is no measurement.
    let measured = measured.filter(|x| x.is_finite());
    Target {
        name,
        wanted,
        measured,
        met: want.met(measured),
    }
}

/// The targets of issue 13, checked against `report`:
/// - per workload: median and end-to-end CPU time vs `cedar-sliced` (≥ 10×, ≥ 5×) and
///   Rampart's allocations per decision (0);
/// - `multi-tenant` and `gateway-global` vs `regorus-routed` (≥ 10×);
/// - Rampart ÷ floor on `gateway` (≤ 5);
/// - Rampart at `scale-100k` ÷ at `scale-1k` (≤ 2);
/// - Rampart compile time of `scale-100k` (≤ 3,000 ms) and of `scale-10k` (≤ 300 ms).
pub fn targets(report: &Report) -> Vec<Target> {
    let workload = |name: &str| report.workloads.iter().find(|w| w.name == name);
    let rampart = |name: &str| workload(name).and_then(|w| w.metrics(EngineKind::Rampart));
    let mut out = Vec::new();
    for w in &report.workloads {
        out.push(target(
            format!("{} median vs {CEDAR_PEER}", w.name),
            ">= 10x",
            Want::AtLeast(10.0),
            speedup(w, CEDAR_PEER, false),
        ));
        out.push(target(
            format!("{} end-to-end vs {CEDAR_PEER}", w.name),
            ">= 5x",
            Want::AtLeast(5.0),
            speedup(w, CEDAR_PEER, true),
        ));
    }
    for name in ["multi-tenant", "gateway-global"] {
        out.push(target(
            format!("{name} vs {REGORUS_PEER}"),
            ">= 10x",
            Want::AtLeast(10.0),
            workload(name).and_then(|w| speedup(w, REGORUS_PEER, false)),
        ));
    }
    let floor = workload("gateway").and_then(|w| {
        let rampart = w.metrics(EngineKind::Rampart)?.decide.cpu_median_ns;
        ratio(rampart, w.metrics_named(FLOOR)?.decide.cpu_median_ns)
    });
    out.push(target(
        format!("gateway rampart / {FLOOR}"),
        "<= 5",
        Want::AtMost(5.0),
        floor,
    ));
    let scale = rampart("scale-100k")
        .zip(rampart("scale-1k"))
        .and_then(|(big, small)| ratio(big.decide.cpu_median_ns, small.decide.cpu_median_ns));
    out.push(target(
        "scale-100k / scale-1k median".to_string(),
        "<= 2",
        Want::AtMost(2.0),
        scale,
    ));
    for w in &report.workloads {
        let allocations = w
            .metrics(EngineKind::Rampart)
            .map(|m| m.allocations.per_allow.max(m.allocations.per_deny));
        out.push(target(
            format!("{} allocations per decision", w.name),
            "0",
            Want::AtMost(0.0),
            allocations,
        ));
    }
    out.push(target(
        "100k rules compile".to_string(),
        "<= 3000 ms",
        Want::AtMost(3000.0),
        rampart("scale-100k").map(|m| m.compile_ms),
    ));
    out.push(target(
        "10k rules compile".to_string(),
        "<= 300 ms",
        Want::AtMost(300.0),
        rampart("scale-10k").map(|m| m.compile_ms),
    ));
    out
}

/// How many times Rampart's CPU time per decision (end to end with `e2e`) the engine
/// named `other` takes on `w`.
fn speedup(w: &WorkloadReport, other: &str, e2e: bool) -> Option<f64> {
    let cpu = |m: &super::EngineMetrics| {
        if e2e {
            m.e2e.cpu_median_ns
        } else {
            m.decide.cpu_median_ns
        }
    };
    let rampart = cpu(w.metrics(EngineKind::Rampart)?);
    ratio(cpu(w.metrics_named(other)?), rampart)
}

#[cfg(test)]
mod tests {
    use super::super::{EngineMetrics, EngineOutcome};
    use super::*;
    use crate::measure::{summarize, Allocations, Latency, Round};

    /// Metrics with these CPU medians (prepared, end to end) and allocations per allow.
    fn metrics(cpu_ns: f64, e2e_cpu_ns: f64, allocs: f64, compile_ms: f64) -> EngineMetrics {
        let round = |cpu_ns: f64| Round {
            latency: Latency {
                median_ns: cpu_ns * 1.1,
                p99_ns: cpu_ns * 3.0,
                samples: 100,
            },
            cpu_ns,
            decisions_per_s: 1e9 / cpu_ns,
            batch: 10,
            batches: 10,
        };
        // Three rounds; the median round is the given figure, one round is a burst.
        let rounds = |cpu: f64| summarize(vec![round(cpu * 0.9), round(cpu), round(cpu * 50.0)]);
        EngineMetrics {
            decide: rounds(cpu_ns),
            e2e: rounds(e2e_cpu_ns),
            allocations: Allocations {
                per_decision: allocs / 2.0,
                per_allow: allocs,
                per_deny: 0.0,
            },
            e2e_allocations: Allocations::default(),
            memory: None,
            compile_ms,
            load_ms: 1.0,
        }
    }

    fn workload(name: &str, engines: Vec<(EngineKind, EngineOutcome)>) -> WorkloadReport {
        WorkloadReport {
            name: name.into(),
            rules: 1_000,
            entities: 100,
            requests: 100,
            allow_percent: 40.0,
            engines,
            threads: None,
            rounds: 3,
        }
    }

    fn find<'a>(targets: &'a [Target], name: &str) -> &'a Target {
        match targets.iter().find(|t| t.name == name) {
            Some(t) => t,
            None => panic!("no target `{name}` in {targets:?}"),
        }
    }

    #[test]
    fn targets_are_computed_from_the_cpu_medians_of_the_report() {
        let measured = |m| EngineOutcome::Measured(Box::new(m));
        let report = Report {
            quick: true,
            workloads: vec![
                workload(
                    "gateway",
                    vec![
                        (
                            EngineKind::Rampart,
                            measured(metrics(200.0, 1_000.0, 0.0, 50.0)),
                        ),
                        (EngineKind::Floor, measured(metrics(50.0, 400.0, 0.0, 0.0))),
                        (
                            EngineKind::Cedar,
                            measured(metrics(9_000.0, 9_000.0, 90.0, 5.0)),
                        ),
                    ],
                ),
                workload(
                    "scale-1k",
                    vec![(
                        EngineKind::Rampart,
                        measured(metrics(100.0, 500.0, 1.0, 70.0)),
                    )],
                ),
                workload(
                    "scale-10k",
                    vec![(
                        EngineKind::Rampart,
                        measured(metrics(150.0, 500.0, 0.0, 400.0)),
                    )],
                ),
                workload(
                    "scale-100k",
                    vec![(
                        EngineKind::Rampart,
                        measured(metrics(180.0, 500.0, 0.0, 2_500.0)),
                    )],
                ),
            ],
        };
        let targets = targets(&report);
        // 200 / 50: the median rounds, not the best (0.9x) nor the burst (50x).
        let floor = find(&targets, "gateway rampart / floor");
        assert_eq!(
            (floor.measured, floor.met, floor.wanted),
            (Some(4.0), true, "<= 5")
        );
        let scale = find(&targets, "scale-100k / scale-1k median");
        assert_eq!((scale.measured, scale.met), (Some(1.8), true));
        let allocations = find(&targets, "scale-1k allocations per decision");
        assert_eq!((allocations.measured, allocations.met), (Some(1.0), false));
        let allocations = find(&targets, "gateway allocations per decision");
        assert_eq!((allocations.measured, allocations.met), (Some(0.0), true));
        let compile = find(&targets, "100k rules compile");
        assert_eq!((compile.measured, compile.met), (Some(2_500.0), true));
        let compile = find(&targets, "10k rules compile");
        assert_eq!((compile.measured, compile.met), (Some(400.0), false));
        // Plain `cedar` is not the peer: without `cedar-sliced` nothing is measured.
        let cedar = find(&targets, "gateway median vs cedar-sliced");
        assert_eq!(
            (cedar.measured, cedar.met, cedar.wanted),
            (None, false, ">= 10x")
        );
        let e2e = find(&targets, "gateway end-to-end vs cedar-sliced");
        assert_eq!((e2e.measured, e2e.met, e2e.wanted), (None, false, ">= 5x"));
        // Workloads the report does not have give nothing measured, not met.
        for name in [
            "multi-tenant vs regorus-routed",
            "gateway-global vs regorus-routed",
        ] {
            let t = find(&targets, name);
            assert_eq!((t.measured, t.met), (None, false));
        }
        // Every workload has its three per-workload targets.
        assert_eq!(targets.len(), 4 * 3 + 2 + 1 + 1 + 2);
    }

    #[test]
    fn peers_are_found_by_name_and_ratios_use_end_to_end_cpu_time() {
        // The floor stands in for a peer here: only names matter to the lookup.
        let measured = |m| EngineOutcome::Measured(Box::new(m));
        let report = Report {
            quick: false,
            workloads: vec![workload(
                "gateway",
                vec![
                    (
                        EngineKind::Rampart,
                        measured(metrics(100.0, 1_000.0, 0.0, 1.0)),
                    ),
                    (
                        EngineKind::Floor,
                        measured(metrics(1_200.0, 4_000.0, 0.0, 1.0)),
                    ),
                ],
            )],
        };
        let w = &report.workloads[0];
        assert_eq!(speedup(w, FLOOR, false), Some(12.0));
        assert_eq!(speedup(w, FLOOR, true), Some(4.0));
        assert_eq!(speedup(w, CEDAR_PEER, false), None);
        let targets = targets(&report);
        let floor = find(&targets, "gateway rampart / floor");
        assert_eq!((floor.measured, floor.met), (Some(100.0 / 1_200.0), true));
    }

    #[test]
    fn a_zero_denominator_or_a_skipped_engine_is_not_measured() {
        let report = Report {
            quick: true,
            workloads: vec![workload(
                "gateway",
                vec![
                    (
                        EngineKind::Rampart,
                        EngineOutcome::Measured(Box::new(metrics(0.0, 0.0, 0.0, 1.0))),
                    ),
                    (EngineKind::Floor, EngineOutcome::Skipped("not run".into())),
                ],
            )],
        };
        let targets = targets(&report);
        let floor = find(&targets, "gateway rampart / floor");
        assert_eq!((floor.measured, floor.met), (None, false));
    }
}
