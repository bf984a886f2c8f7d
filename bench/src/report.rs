//! The `report` command: for each workload, generate it, load every engine, check that all
//! agree on the whole request stream, then measure latency, throughput, allocations,
//! resident memory and compile time, and (for Rampart) 1- vs 2-thread throughput.
//!
//! Resident memory is measured in a separate process per engine (see [`probe_rss`]): the
//! workload's files are written to a temporary folder, and a fresh copy of this binary
//! loads one engine from them and reports its RSS, untouched by the generator and by the
//! other engines.

pub mod plan;
pub mod render;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agree;
use crate::engines::rampart::{load_deployed, RampartDecider, BUNDLE_FILE};
use crate::engines::{self, Decider, EngineKind};
use crate::error::BenchError;
use crate::gen::{self, Workload};
use crate::measure::{self, Allocations, Latency};
use crate::rss;

pub use plan::{plan, Plan};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub quick: bool,
    /// Workload names; empty means all of [`gen::WORKLOADS`].
    pub workloads: Vec<String>,
}

/// The measurements of one engine on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineMetrics {
    pub latency: Latency,
    pub decisions_per_s: f64,
    pub allocations: Allocations,
    /// Resident memory of a process with only this engine loaded; `None` if not measured.
    pub rss_bytes: Option<u64>,
    pub compile_ms: f64,
    pub load_ms: f64,
}

/// An engine's result: measured, or left out with a reason.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutcome {
    Measured(EngineMetrics),
    Skipped(String),
}

/// Rampart's throughput with one and with two threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThreadScaling {
    pub one_thread_per_s: f64,
    pub two_threads_per_s: f64,
}

impl ThreadScaling {
    /// Two-thread throughput over one-thread throughput.
    pub fn ratio(&self) -> f64 {
        self.two_threads_per_s / self.one_thread_per_s
    }
}

/// The results of one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadReport {
    pub name: String,
    pub rules: usize,
    pub entities: usize,
    pub requests: usize,
    pub allow_percent: f64,
    pub engines: Vec<(EngineKind, EngineOutcome)>,
    pub threads: Option<ThreadScaling>,
}

impl WorkloadReport {
    /// The metrics of `kind`, if it was measured.
    pub fn metrics(&self, kind: EngineKind) -> Option<&EngineMetrics> {
        self.engines.iter().find_map(|(k, outcome)| match outcome {
            EngineOutcome::Measured(m) if *k == kind => Some(m),
            _ => None,
        })
    }

    /// How many times faster Rampart's median is than `other`'s.
    pub fn speedup_over(&self, other: EngineKind) -> Option<f64> {
        let rampart = self.metrics(EngineKind::Rampart)?.latency.median_ns;
        let other = self.metrics(other)?.latency.median_ns;
        (rampart > 0.0).then(|| other / rampart)
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub quick: bool,
    pub workloads: Vec<WorkloadReport>,
}

/// Measures the resident memory of one engine loaded from a workload folder; the binary
/// implements it by running [`probe_rss`] in a child process.
pub type RssProbe<'a> = &'a dyn Fn(&str, &Path, EngineKind) -> Result<u64, BenchError>;

/// Runs the report. `on_workload` sees each workload's results as soon as they are in;
/// `progress` gets one-line notes on what is running.
pub fn run(
    options: &Options,
    probe: RssProbe<'_>,
    progress: &mut dyn FnMut(&str),
    on_workload: &mut dyn FnMut(&WorkloadReport),
) -> Result<Report, BenchError> {
    let names: Vec<String> = if options.workloads.is_empty() {
        gen::WORKLOADS.iter().map(|n| n.to_string()).collect()
    } else {
        options.workloads.clone()
    };
    let scratch = scratch_dir();
    let overhead_ns = measure::timer_overhead_ns();
    let mut workloads = Vec::new();
    for name in &names {
        let result = run_workload(name, options.quick, &scratch, overhead_ns, probe, progress);
        let _ = fs::remove_dir_all(scratch.join(name));
        let report = result?;
        on_workload(&report);
        workloads.push(report);
    }
    let _ = fs::remove_dir_all(&scratch);
    Ok(Report {
        quick: options.quick,
        workloads,
    })
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rampart-bench-{}", std::process::id()))
}

fn run_workload(
    name: &str,
    quick: bool,
    scratch: &Path,
    overhead_ns: f64,
    probe: RssProbe<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<WorkloadReport, BenchError> {
    let plan = plan(name, quick);
    if !EngineKind::ALL.iter().any(|k| plan.runs(*k)) {
        let (rules, entities) = gen::size_of(name).unwrap_or_default();
        return Ok(WorkloadReport {
            name: name.to_string(),
            rules,
            entities,
            requests: 0,
            allow_percent: 0.0,
            engines: plan
                .skip
                .into_iter()
                .map(|(kind, why)| (kind, EngineOutcome::Skipped(why)))
                .collect(),
            threads: None,
        });
    }
    progress(&format!("{name}: generating {} requests", plan.requests));
    let workload = gen::generate(name, plan.requests)
        .ok_or_else(|| BenchError::new(format!("unknown workload `{name}`")))?;
    let dir = scratch.join(name);
    if plan.measure_rss {
        workload
            .write_to(&dir)
            .map_err(|e| BenchError::new(format!("cannot write `{}`: {e}", dir.display())))?;
    }
    let mut deciders: Vec<Box<dyn Decider>> = Vec::new();
    for kind in EngineKind::ALL.into_iter().filter(|k| plan.runs(*k)) {
        progress(&format!("{name}: loading {}", kind.name()));
        if kind == EngineKind::Rampart {
            let rampart = RampartDecider::load(&workload)?;
            if plan.measure_rss {
                let path = dir.join(BUNDLE_FILE);
                rampart.write_bundle(&path).map_err(|e| {
                    BenchError::new(format!("cannot write `{}`: {e}", path.display()))
                })?;
            }
            deciders.push(Box::new(rampart));
        } else {
            deciders.push(engines::load(kind, &workload)?);
        }
    }
    progress(&format!("{name}: checking agreement"));
    let agreement = agree::check(&workload, &mut deciders)?;
    let mut engines = Vec::new();
    let mut threads = None;
    for decider in &mut deciders {
        let kind = decider.kind();
        progress(&format!("{name}: measuring {}", kind.name()));
        let latency = measure::latency(
            decider.as_mut(),
            plan.latency_budget,
            plan.max_samples,
            overhead_ns,
        );
        let decisions_per_s = measure::throughput(decider.as_mut(), plan.throughput_budget);
        let allocations =
            measure::allocations(decider.as_mut(), plan.alloc_budget, workload.requests.len());
        if let Some(decide) = decider.concurrent() {
            threads = Some(ThreadScaling {
                one_thread_per_s: measure::parallel_throughput(1, plan.throughput_budget, &*decide),
                two_threads_per_s: measure::parallel_throughput(
                    2,
                    plan.throughput_budget,
                    &*decide,
                ),
            });
        }
        let times = decider.load_times();
        let metrics = EngineMetrics {
            latency,
            decisions_per_s,
            allocations,
            rss_bytes: None,
            compile_ms: millis(times.compile),
            load_ms: millis(times.load),
        };
        engines.push((kind, EngineOutcome::Measured(metrics)));
    }
    drop(deciders);
    if plan.measure_rss {
        for (kind, outcome) in &mut engines {
            if let EngineOutcome::Measured(metrics) = outcome {
                progress(&format!("{name}: resident memory of {}", kind.name()));
                metrics.rss_bytes = Some(probe(name, &dir, *kind)?);
            }
        }
    }
    for (kind, why) in plan.skip {
        engines.push((kind, EngineOutcome::Skipped(why)));
    }
    engines.sort_by_key(|(kind, _)| EngineKind::ALL.iter().position(|k| k == kind));
    Ok(WorkloadReport {
        name: name.to_string(),
        rules: workload.rules,
        entities: workload.entities,
        requests: agreement.requests,
        allow_percent: agreement.allow_percent(),
        engines,
        threads,
    })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The child side of the memory probe: loads engine `kind` from the workload folder `dir`
/// and returns this process's resident memory with it loaded. Rampart is loaded as it is
/// deployed, from the compiled bundle (its compiler runs at build time, not in the
/// gateway); Cedar and regorus from their policy text, which they parse when loading.
pub fn probe_rss(name: &str, dir: &Path, kind: EngineKind) -> Result<u64, BenchError> {
    let workload = Workload::read_for(name, dir, kind)
        .map_err(|e| BenchError::new(format!("cannot read `{}`: {e}", dir.display())))?;
    let loaded: Box<dyn std::any::Any> = if kind == EngineKind::Rampart {
        let path = dir.join(BUNDLE_FILE);
        let bundle = fs::read_to_string(&path)
            .map_err(|e| BenchError::new(format!("cannot read `{}`: {e}", path.display())))?;
        Box::new(load_deployed(&bundle, &workload.entities_json)?)
    } else {
        Box::new(engines::load(kind, &workload)?)
    };
    drop(workload);
    let bytes =
        rss::resident_bytes().ok_or_else(|| BenchError::new("cannot read `/proc/self/statm`"))?;
    drop(loaded);
    Ok(bytes)
}
