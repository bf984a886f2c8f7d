//! Decides one workload's request stream with one engine for a while, untimed: a target
//! for `perf record` and `valgrind --tool=callgrind` (instruction counts do not depend on
//! the machine's load).
//!
//! ```text
//! cargo run --release -p rampart-bench --example spin_decide -- gateway rampart 2000000 [e2e]
//! cargo run --release -p rampart-bench --example spin_decide -- scale-100k candidates
//! ```
//!
//! `candidates` prints how many rules Rampart's index hands each request of the stream to
//! evaluate (`Engine::candidate_count`): mean, median and largest.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::process::ExitCode;

use rampart_bench::engines::rampart::RampartDecider;
use rampart_bench::engines::{load, EngineKind};
use rampart_bench::gen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let (Some(workload), Some("candidates")) = (args.first(), args.get(1).map(String::as_str)) {
        return candidates(workload);
    }
    let (Some(workload), Some(engine), Some(count)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("usage: spin_decide WORKLOAD ENGINE DECISIONS [e2e]");
        return ExitCode::from(2);
    };
    let e2e = args.get(3).is_some_and(|a| a == "e2e");
    let Some(kind) = EngineKind::ALL.into_iter().find(|k| k.name() == engine) else {
        eprintln!("unknown engine {engine}");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("DECISIONS must be a number");
        return ExitCode::from(2);
    };
    let Some(workload) = gen::generate(workload, gen::default_requests(workload)) else {
        eprintln!("unknown workload {workload}");
        return ExitCode::from(2);
    };
    let mut decider = match load(kind, &workload) {
        Ok(decider) => decider,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let mut allowed = 0usize;
    for i in 0..count {
        let allow = if e2e {
            decider.decide_e2e(black_box(i))
        } else {
            decider.decide(black_box(i))
        };
        allowed += usize::from(allow);
    }
    println!("{allowed} of {count} allowed");
    ExitCode::SUCCESS
}

/// Prints the index's candidates per request of a workload's stream.
fn candidates(name: &str) -> ExitCode {
    let Some(workload) = gen::generate(name, gen::default_requests(name)) else {
        eprintln!("unknown workload {name}");
        return ExitCode::from(2);
    };
    let rampart = match RampartDecider::load(&workload) {
        Ok(rampart) => rampart,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let (engine, entities) = (rampart.engine(), rampart.entities());
    let mut counts: Vec<usize> = rampart
        .requests()
        .iter()
        .map(|request| engine.candidate_count(request, entities))
        .collect();
    counts.sort_unstable();
    let total: usize = counts.iter().sum();
    let mean = total as f64 / counts.len().max(1) as f64;
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let most = counts.last().copied().unwrap_or(0);
    println!("{name}: candidates per request: mean {mean:.1}, median {median}, most {most}");
    ExitCode::SUCCESS
}
