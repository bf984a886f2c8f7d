//! `rampart-bench report [--quick] [--json FILE] [--workload NAME]…`: the side-by-side
//! report. Exit codes: 0 done, 1 a failure (an engine disagreed, a workload did not load),
//! 2 usage error.
//!
//! `rampart-bench emit NAME DIR [--requests N]` writes a workload's policies (every
//! language) and data to `DIR`, for timing `rampart build` on them, and the first N (10)
//! requests of its stream twice, one a line: as Rampart request JSON
//! (`DIR/rampart-requests.jsonl`: `scripts/sidecar-load.sh` sends one) and, line for line
//! the same requests, in Cedar's JSON request form (`DIR/cedar-requests.jsonl`: uids as
//! `{"type", "id"}`, the context as Cedar context JSON; `scripts/bench-python.sh` gives
//! both to the Python benchmark).
//!
//! `rampart-bench plan DIR REQUEST…` times `Engine::plan` (docs/plan.md) on a policy folder
//! (its `entities.json`) for each plan request file: wall-clock and thread-CPU medians and
//! p99 of single timed plans, and the plan's condition.
//!
//! `rampart-bench probe-memory NAME DIR ENGINE` is internal: the report runs it in a child
//! process to measure one engine's resident memory and live heap bytes.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use rampart_bench::alloc::{is_installed, CountingAllocator};
use rampart_bench::engines::EngineKind;
use rampart_bench::report::render::{targets_text, to_json, workload_text, Machine};
use rampart_bench::report::{self, targets, Memory, Options};
use rampart_bench::BenchError;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const USAGE: &str = "usage: rampart-bench report [--quick] [--json FILE] [--workload NAME]...
       rampart-bench emit NAME DIR [--requests N]
       rampart-bench plan DIR REQUEST...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("report") => match parse_report_args(args.get(1..).unwrap_or_default()) {
            Ok((options, json)) => finish(run_report(&options, json.as_deref())),
            Err(message) => usage(&message),
        },
        Some("probe-memory") => match args.get(1..) {
            Some([name, dir, engine]) => match EngineKind::from_name(engine) {
                Some(kind) => finish(report::probe_memory(name, Path::new(dir), kind).map(
                    |memory| {
                        println!("{}", memory.to_line());
                    },
                )),
                None => usage(&format!("unknown engine `{engine}`")),
            },
            _ => usage("probe-memory takes a workload name, a folder and an engine"),
        },
        Some("emit") => match parse_emit_args(args.get(1..).unwrap_or_default()) {
            Ok((name, dir, requests)) => finish(emit(name, Path::new(dir), requests)),
            Err(message) => usage(&message),
        },
        Some("plan") => match args.get(1..) {
            Some([dir, requests @ ..]) if !requests.is_empty() => {
                finish(plan(Path::new(dir), requests))
            }
            _ => usage("plan takes a policy folder and plan request files"),
        },
        Some(other) => usage(&format!("unknown command `{other}`")),
        None => usage("missing command"),
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}\n{USAGE}");
    ExitCode::from(2)
}

fn finish(result: Result<(), BenchError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

fn parse_report_args(args: &[String]) -> Result<(Options, Option<PathBuf>), String> {
    let mut options = Options::default();
    let mut json = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => {
                let file = rest.next().ok_or("`--json` needs a file name")?;
                json = Some(PathBuf::from(file));
            }
            "--workload" => {
                let name = rest.next().ok_or("`--workload` needs a workload name")?;
                if !rampart_bench::gen::WORKLOADS.contains(&name.as_str()) {
                    return Err(format!("unknown workload `{name}`"));
                }
                options.workloads.push(name.clone());
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok((options, json))
}

fn run_report(options: &Options, json: Option<&Path>) -> Result<(), BenchError> {
    let machine = Machine::current();
    println!(
        "rampart-bench report{}: {} CPUs, {}",
        if options.quick { " --quick" } else { "" },
        machine.cpus,
        machine.cpu_model
    );
    if !is_installed() {
        eprintln!("note: the counting allocator is not active; allocation counts read 0");
    }
    let started = std::time::Instant::now();
    let report = report::run(
        options,
        &probe_in_child,
        &mut |note| eprintln!("  .. {note}"),
        &mut |workload| println!("\n{}", workload_text(workload)),
    )?;
    println!("{}", targets_text(&targets(&report)));
    println!("total time {:.1} s", started.elapsed().as_secs_f64());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&to_json(&report, &machine))
            .map_err(|e| BenchError::new(format!("cannot write the JSON report: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| BenchError::new(format!("cannot write `{}`: {e}", path.display())))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `NAME DIR [--requests N]`: the workload, the folder and how many requests to write.
fn parse_emit_args(args: &[String]) -> Result<(&str, &str, usize), String> {
    let mut positional = Vec::new();
    let mut requests = 10;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--requests" {
            let n = rest.next().ok_or("`--requests` needs a number")?;
            requests = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`--requests` takes a positive number, not `{n}`"))?;
        } else if arg.starts_with("--") {
            return Err(format!("unknown option `{arg}`"));
        } else {
            positional.push(arg.as_str());
        }
    }
    match positional[..] {
        [name, dir] => Ok((name, dir, requests)),
        _ => Err("emit takes a workload name and a folder".into()),
    }
}

/// Writes the named workload's files to `dir`, and the first `requests` requests of its
/// stream as Rampart request JSON and, the same requests in the same order, as Cedar
/// request JSON (the timed stream of the report is not written).
fn emit(name: &str, dir: &Path, requests: usize) -> Result<(), BenchError> {
    let workload = rampart_bench::gen::generate(name, requests)
        .ok_or_else(|| BenchError::new(format!("unknown workload `{name}`")))?;
    let cannot =
        |e: std::io::Error| BenchError::new(format!("cannot write `{}`: {e}", dir.display()));
    workload.write_to(dir).map_err(cannot)?;
    let lines = |line: &dyn Fn(&rampart_bench::gen::RequestSpec) -> String| -> String {
        workload
            .requests
            .iter()
            .map(|spec| format!("{}\n", line(spec)))
            .collect()
    };
    let rampart = lines(&|spec| rampart_bench::gen::rampart::request_json(spec).to_string());
    let cedar = lines(&rampart_bench::engines::cedar::request_text);
    std::fs::write(dir.join("rampart-requests.jsonl"), rampart).map_err(cannot)?;
    std::fs::write(dir.join("cedar-requests.jsonl"), cedar).map_err(cannot)?;
    println!(
        "wrote {} ({} rules, {} requests) to {}",
        name,
        workload.rules,
        workload.requests.len(),
        dir.display()
    );
    Ok(())
}

/// Runs `probe-memory` in a fresh process of this binary and reads the figures it prints.
fn probe_in_child(name: &str, dir: &Path, kind: EngineKind) -> Result<Memory, BenchError> {
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::new(format!("cannot find this program: {e}")))?;
    let output = Command::new(exe)
        .arg("probe-memory")
        .arg(name)
        .arg(dir)
        .arg(kind.name())
        .output()
        .map_err(|e| BenchError::new(format!("cannot run the memory probe: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::new(format!(
            "the memory probe for {} on `{name}` failed: {}",
            kind.name(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Memory::from_line(stdout.trim()).ok_or_else(|| {
        BenchError::new(format!(
            "the memory probe printed `{}`, not two byte counts",
            stdout.trim()
        ))
    })
}

/// Times `Engine::plan` on each request: 20 rounds of 500 single timed plans after a
/// warm-up; the medians and p99 over every sample.
fn plan(dir: &Path, requests: &[String]) -> Result<(), BenchError> {
    use rampart_bench::measure::{percentile, thread_cpu_ns};
    let fail = |what: String| BenchError::new(what);
    let set = rampart_lang::PolicySet::load(dir)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", dir.display())))?;
    let bundle = rampart_lang::compile(&set)
        .bundle
        .ok_or_else(|| fail(format!("`{}` does not compile", dir.display())))?;
    let engine = rampart_engine::Engine::new(bundle).map_err(|e| fail(e.to_string()))?;
    let entities_path = dir.join("entities.json");
    let entities = match std::fs::read_to_string(&entities_path) {
        Ok(text) => engine
            .load_entities(&text)
            .map_err(|e| fail(format!("`{}`: {e}", entities_path.display())))?,
        Err(_) => engine.empty_entities(),
    };
    println!("request                                   wall median   wall p99   CPU median  decision     condition");
    for path in requests {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read `{path}`: {e}")))?;
        let request = engine
            .parse_plan_request(&text)
            .map_err(|e| fail(format!("`{path}`: {e}")))?;
        let first = engine
            .plan(&request, &entities)
            .map_err(|e| fail(format!("`{path}`: {e}")))?;
        for _ in 0..2_000 {
            std::hint::black_box(engine.plan(&request, &entities).ok());
        }
        let (mut wall, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            for _ in 0..500 {
                let (started, cpu_started) = (std::time::Instant::now(), thread_cpu_ns());
                std::hint::black_box(engine.plan(std::hint::black_box(&request), &entities).ok());
                cpu.push(thread_cpu_ns().saturating_sub(cpu_started));
                wall.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
        }
        let json = first.to_json(&engine);
        println!(
            "{:<40} {:>9.0} ns {:>8.0} ns {:>9.0} ns  {:<11}  {}",
            Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            percentile(&mut wall, 50.0),
            percentile(&mut wall, 99.0),
            percentile(&mut cpu, 50.0),
            json["decision"].as_str().unwrap_or_default(),
            json["text"].as_str().unwrap_or("-"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_emit_args;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn emit_takes_a_request_count_anywhere() {
        assert_eq!(
            parse_emit_args(&args(&["small", "out"])),
            Ok(("small", "out", 10))
        );
        assert_eq!(
            parse_emit_args(&args(&["small", "--requests", "500", "out"])),
            Ok(("small", "out", 500))
        );
        assert!(parse_emit_args(&args(&["small", "out", "--requests", "0"])).is_err());
        assert!(parse_emit_args(&args(&["small", "out", "--requests"])).is_err());
        assert!(parse_emit_args(&args(&["small"])).is_err());
        assert!(parse_emit_args(&args(&["small", "out", "--quick"])).is_err());
    }
}
