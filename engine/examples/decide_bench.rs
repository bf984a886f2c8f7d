//! Measures the decision path: heap allocations per decision (a counting allocator, exact)
//! and time per decision (median of individually timed decisions, and the mean over the
//! whole stream), plus decisions per second on one and two threads.
//!
//! ```text
//! cargo run --release -p rampart-engine --example decide_bench -- gateway 1000 100000
//! cargo run --release -p rampart-engine --example decide_bench -- \
//!     bundle /tmp/p.json examples/payments/entities.json examples/payments/requests/*.json
//! ```
//!
//! `gateway N…` generates the synthetic gateway of `tests/common/gateway.rs` with `N` rules;
//! `multi-tenant N…` the multi-tenant set of `tests/common/tenants.rs` (`N / 10` rules per
//! action, as many tenants), and prints the index's candidates per request, then the same
//! rules with a conjunct that may fail first, which the index does not key (the baseline);
//! `bundle FILE ENTITIES REQUEST…` loads a bundle built by `rampart build`. Requests that
//! cannot be read (no route…) are left out: there is no decision to time.
//!
//! `--passes K --api decide|into|effect` first: only decide the stream `K` times with one
//! API, without timing — for instruction counts under `valgrind --tool=callgrind`, which do
//! not depend on the machine's load. `DECIDE_BENCH_EACH=1` also prints the allocations of
//! each request; `DECIDE_BENCH_CPU=1` adds decisions per CPU-second of the deciding threads
//! with one and two threads (contention shows there even on a busy machine).
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_engine::{DecisionBuffer, Effect, Engine, EntityStore, Request};

/// Counts allocations while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; counting only touches
// atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, ALLOCATIONS.load(Ordering::Relaxed))
}

/// The decision APIs measured.
#[derive(Clone, Copy)]
enum Api {
    /// `Engine::decide`: the owned `Decision`.
    Decide,
    /// `Engine::decide_into` with a reused buffer.
    Into,
    /// `Engine::decide_effect`.
    Effect,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Decide => "decide",
            Api::Into => "decide_into",
            Api::Effect => "decide_effect",
        }
    }
}

fn decide_once(
    api: Api,
    engine: &Engine,
    entities: &EntityStore,
    request: &Request,
    buffer: &mut DecisionBuffer,
) -> bool {
    match api {
        Api::Decide => engine.decide(request, entities).is_allow(),
        Api::Into => engine.decide_into(request, entities, buffer).is_allow(),
        Api::Effect => engine.decide_effect(request, entities) == Effect::Allow,
    }
}

/// `--passes K --api NAME`, when given.
static PASSES: std::sync::OnceLock<(u32, Api)> = std::sync::OnceLock::new();

fn measure(name: &str, engine: &Engine, entities: &EntityStore, requests: &[Request]) {
    if let Some((passes, api)) = PASSES.get().copied() {
        let mut buffer = engine.decision_buffer();
        let mut allows = 0usize;
        for _ in 0..passes {
            for r in requests {
                allows += usize::from(decide_once(api, engine, entities, r, &mut buffer));
            }
        }
        println!(
            "{name}: {} decisions with {}, {allows} allowed",
            passes as usize * requests.len(),
            api.name()
        );
        return;
    }
    println!(
        "{name}: {} rules, {} entities, {} requests",
        engine.bundle().rules.len(),
        entities.len(),
        requests.len()
    );
    for api in [Api::Decide, Api::Into, Api::Effect] {
        let mut buffer = engine.decision_buffer();
        // Warm up, then count one pass.
        let allows = requests
            .iter()
            .filter(|r| decide_once(api, engine, entities, r, &mut buffer))
            .count();
        let (_, allocs) = count(|| {
            for r in requests {
                black_box(decide_once(api, engine, entities, r, &mut buffer));
            }
        });
        if std::env::var_os("DECIDE_BENCH_EACH").is_some() {
            for (i, r) in requests.iter().enumerate() {
                let (_, n) =
                    count(|| black_box(decide_once(api, engine, entities, r, &mut buffer)));
                let d = engine.decide(r, entities);
                println!(
                    "    request {i}: {n} allocations; {:?} {:?} errors {:?}",
                    d.decision, d.rules, d.errors
                );
            }
        }
        let mut samples = Vec::with_capacity(requests.len() * 20);
        let budget = Duration::from_millis(600);
        let started = Instant::now();
        let mut passes = 0u32;
        while started.elapsed() < budget || passes < 2 {
            for r in requests {
                let t = Instant::now();
                black_box(decide_once(api, engine, entities, r, &mut buffer));
                samples.push(t.elapsed().as_nanos() as u64);
            }
            passes += 1;
        }
        samples.sort_unstable();
        let median = samples[samples.len() / 2];
        let p99 = samples[samples.len() * 99 / 100];
        let single = throughput(api, engine, entities, requests, 1);
        let double = throughput(api, engine, entities, requests, 2);
        if std::env::var_os("DECIDE_BENCH_CPU").is_some() {
            let one = cpu_throughput(api, engine, entities, requests, 1);
            let two = cpu_throughput(api, engine, entities, requests, 2);
            println!(
                "  {:<14} per CPU-second: 1 thread {one:>9.0}/s  2 threads {two:>9.0}/s (x{:.2} per CPU, so x{:.2} on two idle cores)",
                api.name(),
                two / one,
                2.0 * two / one
            );
        }
        println!(
            "  {:<14} allows {allows:>5}/{:<5} allocs/decision {:>6.2}  median {median:>6} ns  \
             p99 {p99:>6} ns  1 thread {:>9.0}/s  2 threads {:>9.0}/s (x{:.2})",
            api.name(),
            requests.len(),
            allocs as f64 / requests.len() as f64,
            single,
            double,
            double / single
        );
    }
}

/// CPU time this thread has used (Linux: `/proc/thread-self/stat`, clock ticks of 10 ms).
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Decisions per CPU-second of the deciding threads, with `threads` threads deciding the
/// stream for a fixed time: unlike wall-clock throughput, it does not depend on what else
/// the machine runs, and it drops if the threads contend (shared cache lines, locks).
fn cpu_throughput(
    api: Api,
    engine: &Engine,
    entities: &EntityStore,
    requests: &[Request],
    threads: usize,
) -> f64 {
    let budget = Duration::from_millis(2000);
    let (decisions, cpu): (u64, f64) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut buffer = engine.decision_buffer();
                    let offset = t * requests.len() / threads.max(1);
                    let cpu = thread_cpu_seconds();
                    let started = Instant::now();
                    let mut done = 0u64;
                    while started.elapsed() < budget {
                        for i in 0..256 {
                            let r = &requests[(offset + done as usize + i) % requests.len()];
                            black_box(decide_once(api, engine, entities, r, &mut buffer));
                        }
                        done += 256;
                    }
                    (done, thread_cpu_seconds() - cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0.0), |(d, c), (d2, c2)| (d + d2, c + c2))
    });
    decisions as f64 / cpu.max(0.01)
}

/// Decisions per second with `threads` threads deciding the stream (each from its own
/// offset) for a fixed time.
fn throughput(
    api: Api,
    engine: &Engine,
    entities: &EntityStore,
    requests: &[Request],
    threads: usize,
) -> f64 {
    let budget = Duration::from_millis(400);
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut buffer = engine.decision_buffer();
                    let offset = t * requests.len() / threads.max(1);
                    let started = Instant::now();
                    let mut done = 0u64;
                    while started.elapsed() < budget {
                        for i in 0..256 {
                            let r = &requests[(offset + done as usize + i) % requests.len()];
                            black_box(decide_once(api, engine, entities, r, &mut buffer));
                        }
                        done += 256;
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / budget.as_secs_f64()
}

/// Resident memory of this process (Linux), in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--passes") {
        let passes: u32 = args[1].parse().expect("a pass count");
        let api = match args[3].as_str() {
            "decide" => Api::Decide,
            "into" => Api::Into,
            "effect" => Api::Effect,
            other => panic!("unknown api `{other}`"),
        };
        let _ = PASSES.set((passes, api));
        args.drain(..4);
    }
    match args.first().map(String::as_str) {
        Some("gateway") => {
            for size in &args[1..] {
                let rules: usize = size.parse().expect("a rule count");
                let shape = common::gateway::Shape::gateway(rules);
                let bundle = common::gateway::bundle(&shape, 7);
                let started = Instant::now();
                let engine = Engine::new(bundle).expect("the gateway bundle loads");
                let loaded = started.elapsed();
                let entities = engine
                    .load_entities(&common::gateway::entities_json(&shape, 7))
                    .expect("the gateway entities load");
                let requests: Vec<Request> = common::gateway::requests_json(&shape, 7)
                    .iter()
                    .map(|json| engine.request_from_value(json).expect("a valid request"))
                    .collect();
                let w = common::gateway::Workload {
                    engine,
                    entities,
                    requests,
                };
                println!(
                    "Engine::new in {loaded:?}; resident memory {:.0} MiB",
                    rss_mib()
                );
                measure(
                    &format!("gateway-{rules}"),
                    &w.engine,
                    &w.entities,
                    &w.requests,
                );
            }
        }
        Some("multi-tenant") => {
            let sizes = args[1..]
                .iter()
                .map(|size| size.parse().expect("a rule count"));
            for (rules, keyed) in sizes.flat_map(|n: usize| [(n, true), (n, false)]) {
                let (bundle, name) = if keyed {
                    (common::tenants::bundle(rules), "multi-tenant")
                } else {
                    (
                        common::tenants::bundle_unkeyed(rules),
                        "multi-tenant-unkeyed",
                    )
                };
                let started = Instant::now();
                let engine = Engine::new(bundle).expect("the multi-tenant bundle loads");
                let loaded = started.elapsed();
                let entities = engine
                    .entities_from_values(&common::tenants::entities_json(rules))
                    .expect("the multi-tenant entities load");
                let requests: Vec<Request> = common::tenants::requests_json(rules, 2_000, 7)
                    .iter()
                    .map(|json| engine.request_from_value(json).expect("a valid request"))
                    .collect();
                let candidates: usize = requests
                    .iter()
                    .map(|r| engine.candidate_count(r, &entities))
                    .sum();
                println!(
                    "Engine::new in {loaded:?}; resident memory {:.0} MiB; {:.1} candidates per request",
                    rss_mib(),
                    candidates as f64 / requests.len().max(1) as f64
                );
                measure(&format!("{name}-{rules}"), &engine, &entities, &requests);
            }
        }
        Some("bundle") => {
            let [_, bundle, entities, requests @ ..] = args.as_slice() else {
                panic!("usage: bundle FILE ENTITIES REQUEST...");
            };
            let engine = Engine::from_bundle_json(&std::fs::read_to_string(bundle).unwrap())
                .expect("the bundle loads");
            let entities = engine
                .load_entities(&std::fs::read_to_string(entities).unwrap())
                .expect("the entities load");
            let requests: Vec<Request> = requests
                .iter()
                .filter_map(|file| {
                    let text = std::fs::read_to_string(file).unwrap();
                    let mut request = engine.parse_request(&text).ok()?;
                    engine.fill_time(&mut request, 1_772_000_000_000);
                    Some(request)
                })
                .collect();
            measure(bundle, &engine, &entities, &requests);
        }
        _ => panic!("usage: decide_bench gateway N... | bundle FILE ENTITIES REQUEST..."),
    }
}
