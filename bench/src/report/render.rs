//! The report as text tables and as JSON, and the targets checked against it.

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};

use super::{EngineOutcome, Report, WorkloadReport};
use crate::engines::EngineKind;

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

/// One workload as a text table.
pub fn workload_text(w: &WorkloadReport) -> String {
    let mut out = if w.requests == 0 {
        format!(
            "== {}: {} rules, {} entities; not run\n",
            w.name, w.rules, w.entities
        )
    } else {
        format!(
            "== {}: {} rules, {} entities, {} requests ({:.1}% allowed); all engines agree\n",
            w.name, w.rules, w.entities, w.requests, w.allow_percent
        )
    };
    let _ = writeln!(
        out,
        "{:<23} {:>11} {:>11} {:>13} {:>26} {:>9} {:>11} {:>9}",
        "engine",
        "median ns",
        "p99 ns",
        "decisions/s",
        "allocs/decision (al/deny)",
        "RSS MiB",
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
                let rss = m
                    .rss_bytes
                    .map_or_else(|| "-".to_string(), |b| format!("{:.1}", mib(b)));
                let _ = writeln!(
                    out,
                    "{:<23} {:>11.0} {:>11.0} {:>13.0} {:>26} {:>9} {:>11.1} {:>9.1}",
                    kind.label(),
                    m.latency.median_ns,
                    m.latency.p99_ns,
                    m.decisions_per_s,
                    allocs,
                    rss,
                    m.compile_ms,
                    m.load_ms
                );
            }
            EngineOutcome::Skipped(why) => {
                let _ = writeln!(out, "{:<23} skipped: {why}", kind.label());
            }
        }
    }
    let ratios: Vec<String> = [
        EngineKind::CedarSliced,
        EngineKind::Cedar,
        EngineKind::RegorusRouted,
        EngineKind::Regorus,
    ]
    .into_iter()
    .filter_map(|k| {
        w.speedup_over(k)
            .map(|x| format!("{x:.1}x faster than {}", k.label()))
    })
    .collect();
    if !ratios.is_empty() {
        let _ = writeln!(out, "rampart median: {}", ratios.join(", "));
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

/// One of the targets, with the value this report measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: &'static str,
    pub target: &'static str,
    /// `None` when the report did not measure it (workload or engine not run).
    pub measured: Option<f64>,
    pub met: Option<bool>,
}

/// The targets, checked against `report`.
pub fn targets(report: &Report) -> Vec<Target> {
    let workload = |name: &str| report.workloads.iter().find(|w| w.name == name);
    let rampart = |name: &str| workload(name).and_then(|w| w.metrics(EngineKind::Rampart));
    let speedup = |name: &str, kind| workload(name).and_then(|w| w.speedup_over(kind));
    let scale_ratio = rampart("scale-100k")
        .zip(rampart("scale-1k"))
        .map(|(big, small)| big.latency.median_ns / small.latency.median_ns);
    let allocs = rampart("gateway").map(|m| m.allocations.per_allow.max(m.allocations.per_deny));
    let rss_mb = rampart("scale-100k")
        .and_then(|m| m.rss_bytes)
        .map(|b| b as f64 / 1e6);
    let compile = rampart("scale-10k").map(|m| m.compile_ms);
    let threads = workload("gateway")
        .and_then(|w| w.threads)
        .map(|t| t.ratio());
    let at_least = |x: Option<f64>, min: f64| x.map(|x| x >= min);
    let at_most = |x: Option<f64>, max: f64| x.map(|x| x <= max);
    vec![
        Target {
            what: "small: cedar median / rampart median",
            target: ">= 5",
            measured: speedup("small", EngineKind::Cedar),
            met: at_least(speedup("small", EngineKind::Cedar), 5.0),
        },
        Target {
            what: "gateway: cedar median / rampart median",
            target: ">= 20",
            measured: speedup("gateway", EngineKind::Cedar),
            met: at_least(speedup("gateway", EngineKind::Cedar), 20.0),
        },
        Target {
            what: "gateway: regorus median / rampart median",
            target: ">= 50",
            measured: speedup("gateway", EngineKind::Regorus),
            met: at_least(speedup("gateway", EngineKind::Regorus), 50.0),
        },
        Target {
            what: "rampart median scale-100k / scale-1k",
            target: "<= 2",
            measured: scale_ratio,
            met: at_most(scale_ratio, 2.0),
        },
        Target {
            what: "gateway: rampart allocations per decision (worse of allow, deny)",
            target: "0",
            measured: allocs,
            met: at_most(allocs, 0.0),
        },
        Target {
            what: "scale-100k: rampart resident memory, MB",
            target: "<= 200",
            measured: rss_mb,
            met: at_most(rss_mb, 200.0),
        },
        Target {
            what: "scale-10k: rampart check + build, ms",
            target: "<= 1000",
            measured: compile,
            met: at_most(compile, 1000.0),
        },
        Target {
            what: "gateway: rampart 2-thread / 1-thread throughput",
            target: ">= 1.8",
            measured: threads,
            met: at_least(threads, 1.8),
        },
    ]
}

/// The targets as a text table.
pub fn targets_text(targets: &[Target]) -> String {
    let mut out = String::from("== targets (informational; the machine is shared and noisy)\n");
    for t in targets {
        let measured = t
            .measured
            .map_or_else(|| "not measured".to_string(), |x| format!("{x:.2}"));
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        let _ = writeln!(
            out,
            "{:<66} {:>8} {:>14}  {verdict}",
            t.what, t.target, measured
        );
    }
    out
}

/// The report as JSON, in the shape plus extra fields.
pub fn to_json(report: &Report, machine: &Machine) -> Json {
    let workloads: Vec<Json> = report.workloads.iter().map(workload_json).collect();
    let targets: Vec<Json> = targets(report)
        .iter()
        .map(|t| json!({"what": t.what, "target": t.target, "measured": t.measured, "met": t.met}))
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

fn workload_json(w: &WorkloadReport) -> Json {
    let mut engines = Map::new();
    for (kind, outcome) in &w.engines {
        let value = match outcome {
            EngineOutcome::Skipped(why) => json!({"skipped": why}),
            EngineOutcome::Measured(m) => {
                let mut value = json!({
                    "median_ns": round1(m.latency.median_ns),
                    "p99_ns": round1(m.latency.p99_ns),
                    "allocs_per_decision": round1(m.allocations.per_decision),
                    "rss_bytes": m.rss_bytes,
                    "compile_ms": round1(m.compile_ms),
                    "load_ms": round1(m.load_ms),
                    "decisions_per_s": m.decisions_per_s.round(),
                    "allocs_per_allow": round1(m.allocations.per_allow),
                    "allocs_per_deny": round1(m.allocations.per_deny),
                    "latency_samples": m.latency.samples,
                });
                if let (EngineKind::Rampart, Some(t), Some(object)) =
                    (kind, &w.threads, value.as_object_mut())
                {
                    object.insert(
                        "threads".into(),
                        json!({
                            "one_thread_per_s": t.one_thread_per_s.round(),
                            "two_threads_per_s": t.two_threads_per_s.round(),
                            "ratio": (t.ratio() * 100.0).round() / 100.0,
                        }),
                    );
                }
                value
            }
        };
        engines.insert(kind.name().to_string(), value);
    }
    let speedup = |k| w.speedup_over(k).map(round1);
    json!({
        "name": w.name,
        "rules": w.rules,
        "entities": w.entities,
        "requests": w.requests,
        "allow_percent": round1(w.allow_percent),
        "engines": engines,
        "speedup": {
            "cedar_over_rampart": speedup(EngineKind::Cedar),
            "regorus_over_rampart": speedup(EngineKind::Regorus),
        },
    })
}
