//! `rampart-bench report [--quick] [--json FILE] [--workload NAME]…`: the side-by-side
//! report. Exit codes: 0 done, 1 a failure (an engine disagreed, a workload did not load),
//! 2 usage error.
//!
//! `rampart-bench emit NAME DIR` writes a workload's policies (every language) and data to
//! `DIR`, for timing `rampart build` on them, and ten of its requests as Rampart request
//! JSON, one a line (`DIR/rampart-requests.jsonl`: `scripts/sidecar-load.sh` sends one).
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
       rampart-bench emit NAME DIR";

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
        Some("emit") => match args.get(1..) {
            Some([name, dir]) => finish(emit(name, Path::new(dir))),
            _ => usage("emit takes a workload name and a folder"),
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

/// Writes the named workload's files to `dir`, and its first ten requests as Rampart
/// request JSON (the timed stream is not written).
fn emit(name: &str, dir: &Path) -> Result<(), BenchError> {
    let workload = rampart_bench::gen::generate(name, 10)
        .ok_or_else(|| BenchError::new(format!("unknown workload `{name}`")))?;
    let cannot =
        |e: std::io::Error| BenchError::new(format!("cannot write `{}`: {e}", dir.display()));
    workload.write_to(dir).map_err(cannot)?;
    let requests: String = workload
        .requests
        .iter()
        .map(|spec| format!("{}\n", rampart_bench::gen::rampart::request_json(spec)))
        .collect();
    std::fs::write(dir.join("rampart-requests.jsonl"), requests).map_err(cannot)?;
    println!(
        "wrote {} ({} rules) to {}",
        name,
        workload.rules,
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
