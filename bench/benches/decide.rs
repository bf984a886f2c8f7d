//! Criterion benches: one group per workload, one bench per engine; each iteration decides
//! the next request of the workload's stream.
//!
//! `cargo bench -p rampart-bench` runs `small`, `gateway`, `scale-1k` and `scale-10k`;
//! set `RAMPART_BENCH_WORKLOADS` (comma separated) to choose, e.g.
//! `RAMPART_BENCH_WORKLOADS=scale-100k` (Rampart's compiler needs tens of seconds there).
//! Engines the full report leaves out on a workload are left out here too. Before timing,
//! every engine decides the whole stream and the benches stop on a disagreement.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_bench::agree::check;
use rampart_bench::engines::{load, Decider, EngineKind};
use rampart_bench::gen::generate;
use rampart_bench::report::plan;

const DEFAULT_WORKLOADS: &str = "small,gateway,scale-1k,scale-10k";
/// Requests per stream: enough to mix allow and deny paths, few enough for the agreement
/// pass of the slow engines at 10k rules.
const REQUESTS: usize = 200;

fn workloads() -> Vec<String> {
    std::env::var("RAMPART_BENCH_WORKLOADS")
        .unwrap_or_else(|_| DEFAULT_WORKLOADS.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn decide(c: &mut Criterion) {
    for name in workloads() {
        let Some(workload) = generate(&name, REQUESTS) else {
            eprintln!("unknown workload `{name}`, skipped");
            continue;
        };
        let plan = plan(&name, false);
        let mut deciders: Vec<Box<dyn Decider>> = EngineKind::ALL
            .into_iter()
            .filter(|kind| plan.runs(*kind))
            .map(|kind| load(kind, &workload).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        if let Err(e) = check(&workload, &mut deciders) {
            panic!("{e}");
        }
        let mut group = c.benchmark_group(format!("decide/{name}"));
        if workload.rules >= 10_000 {
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
        }
        for decider in &mut deciders {
            let mut index = 0_usize;
            group.bench_function(decider.kind().name(), |b| {
                b.iter(|| {
                    index = index.wrapping_add(1);
                    black_box(decider.decide(black_box(index)))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decide);
criterion_main!(benches);
