//! The report as text tables and as JSON, and the targets checked against it.

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};

use super::{targets, EngineMetrics, EngineOutcome, Memory, Report, Target, WorkloadReport};
use crate::engines::EngineKind;
use crate::measure::Summary;

/// The machine the report ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
}

impl Machine {
    /// This machine: available parallelism and `/proc/cpuinfo`'s model name.
    pub fn current() -> Machine {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        Machine { cpus, cpu_model }
    }
}

/// One workload as a text table: per engine the median round's figures (wall median and
/// p99, CPU median, the best round's CPU median, end to end wall and CPU), throughput,
/// allocations, memory and load times; then each engine's CPU time over Rampart's.
pub fn workload_text(w: &WorkloadReport) -> String {
    let mut out = if w.requests == 0 {
        format!(
            "== {}: {} rules, {} entities; not run\n",
            w.name, w.rules, w.entities
        )
    } else {
        format!(
            "== {}: {} rules, {} entities, {} requests ({:.1}% allowed); all engines agree \
             (decide and end to end); median of {} rounds\n",
            w.name, w.rules, w.entities, w.requests, w.allow_percent, w.rounds
        )
    };
    let _ = writeln!(
        out,
        "{:<23} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>17} {:>8} {:>8} {:>10} {:>8}",
        "engine",
        "median ns",
        "p99 ns",
        "CPU ns",
        "best CPU",
        "e2e ns",
        "e2e CPU",
        "decisions/s",
        "allocs (al/deny)",
        "RSS MiB",
        "heap MiB",
        "compile ms",
        "load ms"
    );
    for (kind, outcome) in &w.engines {
        match outcome {
            EngineOutcome::Measured(m) => {
                let allocs = format!(
                    "{:.1} ({:.1}/{:.1})",
                    m.allocations.per_decision, m.allocations.per_allow, m.allocations.per_deny
                );
                let memory = |f: fn(&Memory) -> Option<u64>, decimals: usize| {
                    m.memory
                        .as_ref()
                        .and_then(f)
                        .map_or_else(|| "-".to_string(), |b| format!("{:.decimals$}", mib(b)))
                };
                let _ = writeln!(
                    out,
                    "{:<23} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>17} {:>8} {:>8} {:>10.1} {:>8.1}",
                    kind.label(),
                    m.decide.median_ns,
                    m.decide.p99_ns,
                    m.decide.cpu_median_ns,
                    m.decide.best_cpu_median_ns,
                    m.e2e.median_ns,
                    m.e2e.cpu_median_ns,
                    m.decide.decisions_per_s,
                    allocs,
                    memory(|m| Some(m.rss_bytes), 1),
                    memory(|m| m.live_heap_bytes, 2),
                    m.compile_ms,
                    m.load_ms
                );
            }
            EngineOutcome::Skipped(why) => {
                let _ = writeln!(out, "{:<23} skipped: {why}", kind.label());
            }
        }
    }
    let ratios: Vec<String> = w
        .engines
        .iter()
        .filter(|(kind, _)| *kind != EngineKind::Rampart)
        .filter_map(|(kind, _)| {
            w.speedup_over(kind.name())
                .map(|x| format!("{} {x:.1}x", kind.label()))
        })
        .collect();
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "CPU time per decision over rampart's: {}",
            ratios.join(", ")
        );
    }
    if let Some(t) = &w.threads {
        let _ = writeln!(
            out,
            "rampart throughput: 1 thread {:.0}/s, 2 threads {:.0}/s, ratio {:.2}",
            t.one_thread_per_s,
            t.two_threads_per_s,
            t.ratio()
        );
    }
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The targets as a text table.
pub fn targets_text(targets: &[Target]) -> String {
    let mut out =
        String::from("== targets (this run only, CPU-time medians; printed, never asserted)\n");
    for t in targets {
        let measured = t
            .measured
            .map_or_else(|| "not measured".to_string(), |x| format!("{x:.2}"));
        let verdict = if t.met { "met" } else { "MISSED" };
        let _ = writeln!(
            out,
            "{:<48} {:>10} {:>14}  {verdict}",
            t.name, t.wanted, measured
        );
    }
    out
}

/// The report as JSON: per workload and engine (by name) the fields and the
/// details of every round; skipped engines with their reason; and the `targets` array.
pub fn to_json(report: &Report, machine: &Machine) -> Json {
    let workloads: Vec<Json> = report.workloads.iter().map(workload_json).collect();
    let targets: Vec<Json> = targets(report)
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "wanted": t.wanted,
                "measured": t.measured.map(round2),
                "met": t.met,
            })
        })
        .collect();
    json!({
        "machine": {"cpus": machine.cpus, "cpu_model": machine.cpu_model},
        "quick": report.quick,
        "workloads": workloads,
        "targets": targets,
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn rounds_json(summary: &Summary) -> Json {
    let rounds: Vec<Json> = summary
        .rounds
        .iter()
        .map(|r| {
            json!({
                "median_ns": round1(r.latency.median_ns),
                "p99_ns": round1(r.latency.p99_ns),
                "cpu_median_ns": round1(r.cpu_ns),
                "decisions_per_s": r.decisions_per_s.round(),
                "samples": r.latency.samples,
                "batch": r.batch,
                "batches": r.batches,
            })
        })
        .collect();
    json!({
        "best_median_ns": round1(summary.best_median_ns),
        "best_cpu_median_ns": round1(summary.best_cpu_median_ns),
        "rounds": rounds,
    })
}

/// One engine's measured figures as JSON.
pub fn metrics_json(m: &EngineMetrics) -> Json {
    json!({
        "median_ns": round1(m.decide.median_ns),
        "p99_ns": round1(m.decide.p99_ns),
        "cpu_median_ns": round1(m.decide.cpu_median_ns),
        "e2e_median_ns": round1(m.e2e.median_ns),
        "e2e_p99_ns": round1(m.e2e.p99_ns),
        "e2e_cpu_median_ns": round1(m.e2e.cpu_median_ns),
        "decisions_per_s": m.decide.decisions_per_s.round(),
        "e2e_decisions_per_s": m.e2e.decisions_per_s.round(),
        "allocs_per_decision": round1(m.allocations.per_decision),
        "allocs_per_allow": round1(m.allocations.per_allow),
        "allocs_per_deny": round1(m.allocations.per_deny),
        "e2e_allocs_per_decision": round1(m.e2e_allocations.per_decision),
        "rss_mib": m.memory.map(|b| round1(mib(b.rss_bytes))),
        "live_heap_bytes": m.memory.and_then(|b| b.live_heap_bytes),
        "compile_ms": round1(m.compile_ms),
        "load_ms": round1(m.load_ms),
        "latency_samples": m.decide.samples,
        "decide_rounds": rounds_json(&m.decide),
        "e2e_rounds": rounds_json(&m.e2e),
    })
}

fn workload_json(w: &WorkloadReport) -> Json {
    let mut engines = Map::new();
    for (kind, outcome) in &w.engines {
        let value = match outcome {
            EngineOutcome::Skipped(why) => json!({"skipped": why}),
            EngineOutcome::Measured(m) => {
                let mut value = metrics_json(m);
                if let (EngineKind::Rampart, Some(t), Some(object)) =
                    (kind, &w.threads, value.as_object_mut())
                {
                    object.insert(
                        "threads".into(),
                        json!({
                            "one_thread_per_s": t.one_thread_per_s.round(),
                            "two_threads_per_s": t.two_threads_per_s.round(),
                            "ratio": round2(t.ratio()),
                        }),
                    );
                }
                value
            }
        };
        engines.insert(kind.name().to_string(), value);
    }
    let speedup: Map<String, Json> = w
        .engines
        .iter()
        .filter(|(kind, _)| *kind != EngineKind::Rampart)
        .map(|(kind, _)| {
            let name = kind.name();
            (name.to_string(), json!(w.speedup_over(name).map(round2)))
        })
        .collect();
    json!({
        "name": w.name,
        "rules": w.rules,
        "entities": w.entities,
        "requests": w.requests,
        "allow_percent": round1(w.allow_percent),
        "rounds": w.rounds,
        "engines": engines,
        "cpu_over_rampart": speedup,
    })
}

/// The fields every measured engine has in the JSON report.
pub const ENGINE_FIELDS: [&str; 10] = [
    "median_ns",
    "p99_ns",
    "cpu_median_ns",
    "e2e_median_ns",
    "decisions_per_s",
    "allocs_per_decision",
    "rss_mib",
    "live_heap_bytes",
    "compile_ms",
    "load_ms",
];
