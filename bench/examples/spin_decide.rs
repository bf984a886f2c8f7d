//! Decides one workload's request stream with one engine for a while, untimed: a target
//! for `perf record` and `valgrind --tool=callgrind` (instruction counts do not depend on
//! the machine's load).
//!
//! ```text
//! cargo run --release -p rampart-bench --example spin_decide -- gateway rampart 2000000 [e2e]
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::process::ExitCode;

use rampart_bench::engines::{load, EngineKind};
use rampart_bench::gen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
