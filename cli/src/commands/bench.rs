//! `rampart bench DIR --requests FILE`: time a policy folder on your own requests, like
//! `opa bench`: median and p99 per decision, throughput, and heap allocations per decision.
//!
//! Requests are read and typed once, outside the timed loop; what is timed is
//! `Engine::decide_into` with a reused buffer: the full decision (effect, deciding rules,
//! obligations, errors), the work a gateway embedding the engine pays per request.

use std::time::{Duration, Instant};

use rampart_engine::{Engine, EntityStore, Request};

use crate::alloc::count_allocations;
use crate::args::{BenchArgs, BenchFormat};
use crate::exit::{CliError, FAILURE, OK};
use crate::output::outln;
use crate::policy;

/// Timings of one benchmark run.
struct Measurement {
    requests: usize,
    decisions: u64,
    median_ns: u64,
    p99_ns: u64,
    mean_ns: u64,
    allocs_per_decision: f64,
    allows: usize,
}

pub fn run(args: BenchArgs) -> Result<u8, CliError> {
    let Some(loaded) = policy::load_reporting(&args.dir)? else {
        return Ok(FAILURE);
    };
    let entities = policy::load_entities(&loaded.engine, &loaded.root, args.entities.as_deref())?;
    let requests = read_requests(&loaded.engine, &args.requests)?;
    if requests.is_empty() {
        return Err(CliError::Input(format!(
            "`{}` holds no requests",
            args.requests.display()
        )));
    }
    let budget = Duration::from_millis(args.millis.max(1));
    let m = measure(&loaded.engine, &entities, &requests, budget);
    match args.format {
        BenchFormat::Json => outln!(
            "{}",
            serde_json::json!({
                "requests": m.requests,
                "decisions": m.decisions,
                "median_ns": m.median_ns,
                "p99_ns": m.p99_ns,
                "mean_ns": m.mean_ns,
                "decisions_per_s": per_second(m.mean_ns),
                "allocs_per_decision": m.allocs_per_decision,
                "allowed_requests": m.allows,
            })
        ),
        BenchFormat::Human => {
            outln!("requests        {:>12}  ({} allowed)", m.requests, m.allows);
            outln!("decisions       {:>12}", m.decisions);
            outln!("median          {:>12}", human_ns(m.median_ns));
            outln!("p99             {:>12}", human_ns(m.p99_ns));
            outln!("mean            {:>12}", human_ns(m.mean_ns));
            outln!("decisions/s     {:>12.0}", per_second(m.mean_ns));
            outln!("allocs/decision {:>12.1}", m.allocs_per_decision);
        }
    }
    Ok(OK)
}

/// Reads a JSON array of requests, or one request per line (JSON Lines).
fn read_requests(engine: &Engine, path: &std::path::Path) -> Result<Vec<Request>, CliError> {
    let text = crate::input::read(path, crate::input::Input::Requests)?;
    let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(single @ serde_json::Value::Object(_)) => vec![single],
        _ => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| {
                    CliError::Input(format!(
                        "`{}` line {}: invalid JSON: {e}",
                        path.display(),
                        i + 1
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    // A request the schema or the routes reject is denied before evaluation starts; there
    // is nothing of the engine's to time, so it is left out (and said so).
    let mut requests = Vec::with_capacity(values.len());
    let mut rejected = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match engine.request_from_value(value) {
            Ok(request) => requests.push(request),
            Err(e) => rejected.push(format!("request {}: {e}", i + 1)),
        }
    }
    if let Some(first) = rejected.first() {
        eprintln!(
            "note: {} of {} requests are denied while being read and are not timed (first: {first})",
            rejected.len(),
            values.len()
        );
    }
    Ok(requests)
}

/// Decides the requests round-robin until the time budget is spent, timing each decision.
fn measure(
    engine: &Engine,
    entities: &EntityStore,
    requests: &[Request],
    budget: Duration,
) -> Measurement {
    // Warm up caches, the branch predictor and the buffer on one pass, then count
    // allocations on a second one.
    let mut buffer = engine.decision_buffer();
    for request in requests {
        std::hint::black_box(
            engine
                .decide_into(request, entities, &mut buffer)
                .is_allow(),
        );
    }
    let (allows, allocs) = count_allocations(|| {
        requests
            .iter()
            .filter(|r| engine.decide_into(r, entities, &mut buffer).is_allow())
            .count()
    });
    let mut samples: Vec<u64> = Vec::with_capacity(1 << 16);
    let started = Instant::now();
    'outer: loop {
        for request in requests {
            let t = Instant::now();
            let allowed = engine
                .decide_into(request, entities, &mut buffer)
                .is_allow();
            let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
            std::hint::black_box(allowed);
            samples.push(ns);
            if started.elapsed() >= budget && samples.len() >= requests.len() {
                break 'outer;
            }
        }
    }
    samples.sort_unstable();
    let pick = |q: f64| {
        let last = samples.len().saturating_sub(1);
        let at = ((last as f64) * q).round() as usize;
        samples.get(at.min(last)).copied().unwrap_or(0)
    };
    let total: u128 = samples.iter().map(|&n| u128::from(n)).sum();
    let mean = u64::try_from(total / samples.len().max(1) as u128).unwrap_or(u64::MAX);
    Measurement {
        requests: requests.len(),
        decisions: samples.len() as u64,
        median_ns: pick(0.5),
        p99_ns: pick(0.99),
        mean_ns: mean,
        allocs_per_decision: allocs as f64 / requests.len() as f64,
        allows,
    }
}

fn per_second(mean_ns: u64) -> f64 {
    if mean_ns == 0 {
        0.0
    } else {
        1e9 / mean_ns as f64
    }
}

fn human_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", ns as f64 / 1e3),
        _ => format!("{:.1} ms", ns as f64 / 1e6),
    }
}
