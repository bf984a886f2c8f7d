//! The WebAssembly figures of `docs/performance.md`:
//!
//! 1. the engine module's size (release, stripped) and a joined module's;
//! 2. decision latency through the module in wasmtime, ABI included (alloc, write, decide,
//!    read, free), against the native engine on the same request texts
//!    (`Engine::decide_json` + `Decision::to_json`: the same work, JSON in, JSON out);
//! 3. instantiating a compiled module joined with a 1,000-rule bundle and loading that
//!    bundle (the first call), and the same load through `rampart_load_bundle`.
//!
//! Run it in release: `cargo run --release -p rampart-wasm-tests --example wasm_bench`.
//! Timings are printed, never asserted.

#[path = "../tests/common/host.rs"]
#[allow(dead_code, reason = "the benchmark uses part of the test host")]
mod host;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use host::Host;
use rampart_wasm_tests::{conformance_requests, engine_module, workspace_dir, Policy};
use wasmtime::Module;

fn main() -> Result<(), String> {
    let engine = wasmtime::Engine::default();
    sizes()?;
    println!();
    latency(&engine)?;
    println!();
    load_1k(&engine)?;
    Ok(())
}

fn sizes() -> Result<(), String> {
    let module = engine_module()?;
    let payments = Policy::load(&workspace_dir().join("examples/payments"))?;
    let joined = payments.joined_module()?;
    println!("## sizes");
    println!(
        "engine module (wasm-release, stripped): {} bytes ({:.2} MiB)",
        module.len(),
        mib(module.len())
    );
    println!(
        "examples/payments joined (bundle {} B + entities): {} bytes",
        payments.engine.bundle().to_json().len(),
        joined.len()
    );
    Ok(())
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Median of per-decision times over `rounds` rounds of all `requests`.
fn median_per_decision(requests: &[String], mut decide: impl FnMut(&str)) -> Duration {
    let rounds = 31;
    let mut per_round = Vec::with_capacity(rounds);
    // Warm up.
    for request in requests {
        decide(request);
    }
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..20 {
            for request in requests {
                decide(request);
            }
        }
        let n = u32::try_from(requests.len() * 20).unwrap_or(u32::MAX);
        per_round.push(started.elapsed() / n);
    }
    per_round.sort();
    per_round[rounds / 2]
}

fn latency(engine: &wasmtime::Engine) -> Result<(), String> {
    println!("## decision latency: wasmtime (ABI included) vs native, same request texts");
    println!("| policy | requests | native | wasmtime | ratio |");
    println!("|---|---|---|---|---|");
    let mut sets: Vec<(String, std::path::PathBuf, Vec<String>)> = Vec::new();
    let payments = workspace_dir().join("examples/payments");
    let mut payment_requests = Vec::new();
    for entry in std::fs::read_dir(payments.join("requests")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        payment_requests.push(json.to_string());
    }
    payment_requests.sort();
    sets.push(("examples/payments".into(), payments, payment_requests));
    for case in [
        "01-combining",
        "09-hierarchy",
        "14-obligations",
        "15-routes",
        "20-stdlib",
    ] {
        let dir = workspace_dir().join("tests/conformance").join(case);
        let requests = conformance_requests(&dir)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        sets.push((format!("conformance/{case}"), dir, requests));
    }
    let mut ratios = Vec::new();
    for (name, dir, requests) in &sets {
        let (native, wasm) = compare(engine, dir, requests)?;
        let ratio = wasm.as_secs_f64() / native.as_secs_f64();
        ratios.push(ratio);
        println!(
            "| {name} | {} | {:.2} µs | {:.2} µs | {ratio:.2}× |",
            requests.len(),
            native.as_secs_f64() * 1e6,
            wasm.as_secs_f64() * 1e6
        );
    }
    let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    println!("geometric mean ratio: {geomean:.2}×");
    Ok(())
}

fn compare(
    engine: &wasmtime::Engine,
    dir: &Path,
    requests: &[String],
) -> Result<(Duration, Duration), String> {
    let policy = Policy::load(dir)?;
    let module = Module::new(engine, policy.joined_module()?).map_err(|e| e.to_string())?;
    let mut host = Host::new(engine, &module)?;
    for request in requests {
        if host.decide(request)? != policy.native_decision(request) {
            return Err(format!(
                "{}: the module and the engine disagree on {request}",
                dir.display()
            ));
        }
    }
    let native = median_per_decision(requests, |r| {
        black_box(
            policy
                .engine
                .decide_json(black_box(r), &policy.entities)
                .to_json(),
        );
    });
    let wasm = median_per_decision(requests, |r| {
        black_box(host.decide(black_box(r)).ok());
    });
    Ok((native, wasm))
}

/// A policy of `rules` rules over 20 actions, 4 resource types and 50 groups: group
/// membership, attribute equality, scopes, TLS and network conditions.
fn generated_policy(rules: usize) -> String {
    let mut text = String::from(
        "package scale\n\nschema {\n  entity User { dept: String, active: Bool } in [Group]\n  entity Group\n",
    );
    for r in 0..4 {
        let _ = writeln!(text, "  entity Res{r} {{ dept: String, public: Bool }}");
    }
    for r in 0..4 {
        let actions: Vec<String> = (0..5).map(|a| format!("\"api{r}:op{a}\"")).collect();
        let _ = writeln!(text, "  action {} on Res{r} for User", actions.join(", "));
    }
    text.push_str("}\n\n");
    for i in 0..rules {
        let (r, a, g) = (i % 4, (i / 4) % 5, i % 50);
        let kind = if i % 10 == 9 { "deny" } else { "allow" };
        let condition = match i % 5 {
            0 => format!("principal in Group::\"g{g}\" and resource.dept == principal.dept"),
            1 => format!("resource.dept == \"d{}\" and principal.active", i % 30),
            2 => format!(
                "context.auth.scopes has_scope \"api{r}:op{a}\" and principal in Group::\"g{g}\""
            ),
            3 => "context.tls.version >= tls1.2 and resource.public".to_owned(),
            _ => format!(
                "context.source.ip in 10.{}.0.0/16 and principal in Group::\"g{g}\"",
                i % 200
            ),
        };
        let _ = write!(
            text,
            "@id(\"r{i}\")\n{kind} \"api{r}:op{a}\" on Res{r} for User\n  when {condition}\n\n"
        );
    }
    text
}

fn load_1k(engine: &wasmtime::Engine) -> Result<(), String> {
    println!("## instantiate + load a 1,000-rule bundle");
    let dir = std::env::temp_dir().join(format!("rampart-wasm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("scale.rampart"), generated_policy(1000)).map_err(|e| e.to_string())?;
    let policy = Policy::load(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let policy = policy?;
    let bundle = policy.engine.bundle().to_json();
    println!(
        "bundle: {} rules, {} bytes of JSON",
        policy.engine.bundle().rules.len(),
        bundle.len()
    );

    let native_load = median(21, || {
        black_box(rampart_engine::Engine::from_bundle_json(&bundle).ok());
    });
    let joined = policy.joined_module()?;
    let started = Instant::now();
    let module = Module::new(engine, &joined).map_err(|e| e.to_string())?;
    let compile = started.elapsed();
    let instantiate = median(21, || {
        black_box(Host::new(engine, &module).ok());
    });
    let instantiate_and_load = median(21, || {
        let info = Host::new(engine, &module).and_then(|mut h| h.info());
        assert!(info.is_ok_and(|i| i["bundle"]["rules"] == 1000));
    });
    let empty = rampart_wasm_embed::join::join(
        &engine_module()?,
        &rampart_wasm_embed::Payload::new().to_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let empty = Module::new(engine, &empty).map_err(|e| e.to_string())?;
    let through_abi = median(21, || {
        let status = Host::new(engine, &empty)
            .and_then(|mut h| h.call_with("rampart_load_bundle", bundle.as_bytes()));
        assert!(status.is_ok_and(|s| s.starts_with("{\"ok\":true")));
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "compile the joined module (once, cranelift): {:.1} ms",
        ms(compile)
    );
    println!("instantiate only: {:.3} ms", ms(instantiate));
    println!(
        "instantiate + load the embedded bundle (first call): {:.2} ms",
        ms(instantiate_and_load)
    );
    println!(
        "instantiate + rampart_load_bundle (same bundle): {:.2} ms",
        ms(through_abi)
    );
    println!("native Engine::from_bundle_json: {:.2} ms", ms(native_load));
    Ok(())
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}
