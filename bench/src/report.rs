//! The `report` command: for each workload, generate it, load every engine, check that all
//! agree on the whole request stream (each engine through `decide` and `decide_e2e` too),
//! then measure in interleaved rounds (every engine in turn in each round, see
//! [`crate::measure`]) wall and CPU time per decision, prepared and end to end, and
//! throughput; then allocations, resident memory and live heap, compile time, and (for
//! Rampart) 1- vs 2-thread throughput. [`targets()`] checks the targets against
//! the numbers of the run.
//!
//! Memory is measured in a separate process per engine (see [`probe_memory`]): the
//! workload's files are written to a temporary folder, and a fresh copy of this binary
//! loads one engine from them and reports its RSS and live heap bytes, untouched by the
//! generator and by the other engines.

pub mod plan;
pub mod render;
pub mod targets;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agree;
use crate::alloc;
use crate::engines::floor::FloorDecider;
use crate::engines::rampart::{load_deployed, RampartDecider, BUNDLE_FILE};
use crate::engines::{self, Decider, EngineKind};
use crate::error::BenchError;
use crate::gen::{self, Workload};
use crate::measure::{self, Allocations, ClockOverheads, Round, Summary};
use crate::rss;

pub use plan::{plan, Plan};
pub use targets::{targets, Target};

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
    /// `decide` (prepared requests) over the rounds: wall and CPU time, throughput.
    pub decide: Summary,
    /// `decide_e2e` (request JSON text in) over the rounds.
    pub e2e: Summary,
    /// Allocations of `decide`.
    pub allocations: Allocations,
    /// Allocations of `decide_e2e`.
    pub e2e_allocations: Allocations,
    /// Memory of a process with only this engine loaded; `None` if not measured.
    pub memory: Option<Memory>,
    pub compile_ms: f64,
    pub load_ms: f64,
}

/// Memory of a process with one engine loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size, including the binary itself.
    pub rss_bytes: u64,
    /// Heap bytes allocated and not freed since the probe started (the engine, its
    /// entities and the probe's own small leftovers); `None` without the counting
    /// allocator.
    pub live_heap_bytes: Option<u64>,
}

impl Memory {
    /// The probe's output line: `RSS_BYTES LIVE_HEAP_BYTES` (`-` for no live figure).
    pub fn to_line(&self) -> String {
        let live = self
            .live_heap_bytes
            .map_or_else(|| "-".to_string(), |b| b.to_string());
        format!("{} {live}", self.rss_bytes)
    }

    /// Reads [`Memory::to_line`]'s output back.
    pub fn from_line(line: &str) -> Option<Memory> {
        let mut parts = line.split_whitespace();
        let rss_bytes = parts.next()?.parse().ok()?;
        let live_heap_bytes = match parts.next()? {
            "-" => None,
            live => Some(live.parse().ok()?),
        };
        parts.next().is_none().then_some(Memory {
            rss_bytes,
            live_heap_bytes,
        })
    }
}

/// An engine's result: measured, or left out with a reason.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutcome {
    Measured(Box<EngineMetrics>),
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
    /// Measurement rounds run.
    pub rounds: usize,
}

impl WorkloadReport {
    /// The metrics of `kind`, if it was measured.
    pub fn metrics(&self, kind: EngineKind) -> Option<&EngineMetrics> {
        self.metrics_named(kind.name())
    }

    /// The metrics of the engine named `name` (as in reports), if it was measured.
    pub fn metrics_named(&self, name: &str) -> Option<&EngineMetrics> {
        self.engines.iter().find_map(|(k, outcome)| match outcome {
            EngineOutcome::Measured(m) if k.name() == name => Some(m.as_ref()),
            _ => None,
        })
    }

    /// How many times Rampart's CPU time per decision the engine named `other` takes
    /// (median rounds); `None` if either was not measured or Rampart's reads 0.
    pub fn speedup_over(&self, other: &str) -> Option<f64> {
        let rampart = self.metrics(EngineKind::Rampart)?.decide.cpu_median_ns;
        let other = self.metrics_named(other)?.decide.cpu_median_ns;
        ratio(other, rampart)
    }
}

/// `numerator / denominator`, `None` unless the denominator is positive.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub quick: bool,
    pub workloads: Vec<WorkloadReport>,
}

/// Measures the memory of one engine loaded from a workload folder; the binary implements
/// it by running [`probe_memory`] in a child process.
pub type MemoryProbe<'a> = &'a dyn Fn(&str, &Path, EngineKind) -> Result<Memory, BenchError>;

/// Whether the memory probe measures `kind`: not the floor, whose table holds the answers
/// of this stream only.
pub fn probed(kind: EngineKind) -> bool {
    kind != EngineKind::Floor
}

/// Runs the report. `on_workload` sees each workload's results as soon as they are in;
/// `progress` gets one-line notes on what is running.
pub fn run(
    options: &Options,
    probe: MemoryProbe<'_>,
    progress: &mut dyn FnMut(&str),
    on_workload: &mut dyn FnMut(&WorkloadReport),
) -> Result<Report, BenchError> {
    let names: Vec<String> = if options.workloads.is_empty() {
        gen::WORKLOADS.iter().map(|n| n.to_string()).collect()
    } else {
        options.workloads.clone()
    };
    let scratch = scratch_dir();
    let overheads = ClockOverheads::measure();
    let mut workloads = Vec::new();
    for name in &names {
        let result = run_workload(name, options.quick, &scratch, &overheads, probe, progress);
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
    overheads: &ClockOverheads,
    probe: MemoryProbe<'_>,
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
            rounds: 0,
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
    let mut deciders = load_all(&workload, &plan, &dir, progress)?;
    progress(&format!("{name}: checking agreement"));
    let agreement = agree::check(&workload, &mut deciders)?;
    let rounds = measure_rounds(name, &mut deciders, &plan, overheads, progress);
    let mut engines = Vec::new();
    let mut threads = None;
    for (decider, (decide, e2e)) in deciders.iter_mut().zip(rounds) {
        let kind = decider.kind();
        progress(&format!("{name}: allocations of {}", kind.name()));
        let requests = workload.requests.len();
        let allocations =
            measure::allocations(&mut |i| decider.decide(i), plan.alloc_budget, requests);
        let e2e_allocations =
            measure::allocations(&mut |i| decider.decide_e2e(i), plan.alloc_budget, requests);
        if let Some(decide) = decider.concurrent() {
            progress(&format!("{name}: 1 and 2 threads of {}", kind.name()));
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
            decide: measure::summarize(decide),
            e2e: measure::summarize(e2e),
            allocations,
            e2e_allocations,
            memory: None,
            compile_ms: millis(times.compile),
            load_ms: millis(times.load),
        };
        engines.push((kind, EngineOutcome::Measured(Box::new(metrics))));
    }
    drop(deciders);
    if plan.measure_rss {
        for (kind, outcome) in &mut engines {
            if let EngineOutcome::Measured(metrics) = outcome {
                if probed(*kind) {
                    progress(&format!("{name}: memory of {}", kind.name()));
                    metrics.memory = Some(probe(name, &dir, *kind)?);
                }
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
        rounds: plan.rounds,
    })
}

/// Loads every engine the plan runs. Rampart writes its compiled bundle for the memory
/// probe; the floor is built from the loaded Rampart's decisions.
fn load_all(
    workload: &Workload,
    plan: &Plan,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Box<dyn Decider>>, BenchError> {
    let name = &workload.name;
    let mut deciders: Vec<Box<dyn Decider>> = Vec::new();
    let mut floor = None;
    for kind in EngineKind::ALL.into_iter().filter(|k| plan.runs(*k)) {
        progress(&format!("{name}: loading {}", kind.name()));
        match kind {
            EngineKind::Rampart => {
                let rampart = RampartDecider::load(workload)?;
                if plan.measure_rss {
                    let path = dir.join(BUNDLE_FILE);
                    rampart.write_bundle(&path).map_err(|e| {
                        BenchError::new(format!("cannot write `{}`: {e}", path.display()))
                    })?;
                }
                if plan.runs(EngineKind::Floor) {
                    floor = Some(FloorDecider::from_rampart(&rampart)?);
                }
                deciders.push(Box::new(rampart));
            }
            EngineKind::Floor => match floor.take() {
                Some(floor) => deciders.push(Box::new(floor)),
                None => deciders.push(engines::load(kind, workload)?),
            },
            _ => deciders.push(engines::load(kind, workload)?),
        }
    }
    Ok(deciders)
}

/// The rounds of `decide` and of `decide_e2e` of each decider, in the deciders' order.
type EngineRounds = (Vec<Round>, Vec<Round>);

/// Runs `plan.rounds` rounds; each measures every decider in turn (starting with a
/// different one each round), `decide` then `decide_e2e`, from a different point of the
/// stream each round.
fn measure_rounds(
    name: &str,
    deciders: &mut [Box<dyn Decider>],
    plan: &Plan,
    overheads: &ClockOverheads,
    progress: &mut dyn FnMut(&str),
) -> Vec<EngineRounds> {
    let count = deciders.len();
    let mut rounds: Vec<EngineRounds> = vec![(Vec::new(), Vec::new()); count];
    for round in 0..plan.rounds {
        progress(&format!("{name}: round {} of {}", round + 1, plan.rounds));
        for turn in 0..count {
            let which = (turn + round) % count;
            let (Some(decider), Some((decide, e2e))) =
                (deciders.get_mut(which), rounds.get_mut(which))
            else {
                continue;
            };
            let start = round * decider.len() / plan.rounds.max(1);
            decide.push(measure::round(
                &mut |i| decider.decide(i),
                start,
                &plan.sampling(),
                overheads,
            ));
            e2e.push(measure::round(
                &mut |i| decider.decide_e2e(i),
                start,
                &plan.e2e_sampling(),
                overheads,
            ));
        }
    }
    rounds
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The child side of the memory probe: loads engine `kind` from the workload folder `dir`
/// and returns this process's resident memory and live heap bytes with it loaded. Rampart
/// is loaded as it is deployed, from the compiled bundle (its compiler runs at build time,
/// not in the gateway); Cedar and regorus from their policy text, which they parse when
/// loading. Live heap bytes are counted from the start of this call, so it should be the
/// first thing the process does.
pub fn probe_memory(name: &str, dir: &Path, kind: EngineKind) -> Result<Memory, BenchError> {
    alloc::track_live_bytes();
    if !probed(kind) {
        return Err(BenchError::new(format!(
            "the memory probe does not measure {}",
            kind.name()
        )));
    }
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
    let rss_bytes =
        rss::resident_bytes().ok_or_else(|| BenchError::new("cannot read `/proc/self/statm`"))?;
    let live_heap_bytes = alloc::is_installed().then(alloc::live_bytes);
    drop(loaded);
    Ok(Memory {
        rss_bytes,
        live_heap_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_line_reads_back() {
        for memory in [
            Memory {
                rss_bytes: 12_345,
                live_heap_bytes: Some(678),
            },
            Memory {
                rss_bytes: 1,
                live_heap_bytes: None,
            },
        ] {
            assert_eq!(Memory::from_line(&memory.to_line()), Some(memory));
        }
        assert_eq!(Memory::from_line("12"), None);
        assert_eq!(Memory::from_line("12 x"), None);
        assert_eq!(Memory::from_line("12 3 4"), None);
    }
}
