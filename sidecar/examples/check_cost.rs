//! What one ext_authz `Check` costs the sidecar, in process, without the network: heap
//! allocations and CPU time per Check, the decision log on (its writer thread included).
//!
//! ```sh
//! rampart build cli/tests/fixtures/gateway -o gateway.bundle.json
//! frame_check_request write check.grpc
//! check_cost gateway.bundle.json cli/tests/fixtures/gateway/entities.json check.grpc [N]
//! ```
//!
//! Each Check decodes the `CheckRequest` bytes as the gRPC server does, decides, builds
//! and encodes the `CheckResponse`, and queues the decision-log record; the log is then
//! closed (every record formatted, hashed and written) before the clocks stop. CPU time is
//! the process's (`/proc/self/stat`: every thread, the writer's included), so it does not
//! depend on what else runs on the machine; allocations are counted by
//! `rampart_bench::alloc` over every thread. The log goes to a temporary file, verified
//! and deleted at the end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rampart_bench::alloc::{count_allocations, is_installed, CountingAllocator};
use rampart_engine::Engine;
use rampart_sidecar::fuzzing::Doors;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const USAGE: &str = "usage: check_cost BUNDLE ENTITIES CHECK.grpc [N] [typed|lean]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("check_cost: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bundle, entities, check, n, way) = match args.as_slice() {
        [b, e, c] => (b, e, c, "200000", "lean"),
        [b, e, c, n] => (b, e, c, n.as_str(), "lean"),
        [b, e, c, n, w] => (b, e, c, n.as_str(), w.as_str()),
        _ => return Err(USAGE.to_owned()),
    };
    let n = n.parse::<u64>().map_err(|e| e.to_string())?;
    // `lean`: the bytes read in place, as `rampart serve` does; `typed`: decoded by prost
    // into a `CheckRequest` first (as the generated service does).
    let check_one = match way {
        "lean" => Doors::check_message,
        "typed" => Doors::check_message_typed,
        _ => return Err(USAGE.to_owned()),
    };
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read `{p}`: {e}"));
    let engine = Engine::from_bundle_json(&String::from_utf8_lossy(&read(bundle)?))
        .map_err(|e| e.to_string())?;
    let entities = engine
        .load_entities(&String::from_utf8_lossy(&read(entities)?))
        .map_err(|e| e.to_string())?;
    let framed = read(check)?;
    let message = framed.get(5..).ok_or("not a gRPC frame")?;
    let log = temp_log();
    let doors = Doors::with_decision_log(engine, entities, &log)?;
    if !is_installed() {
        return Err("the counting allocator is not installed".to_owned());
    }

    for _ in 0..2_000 {
        check_one(&doors, message).map_err(|e| e.to_string())?;
    }
    let cpu_before = process_cpu_ns()?;
    let started = Instant::now();
    let (result, allocations) = count_allocations(|| -> Result<usize, String> {
        let mut bytes = 0;
        for _ in 0..n {
            bytes += check_one(&doors, message).map_err(|e| e.to_string())?.len();
        }
        doors.close_log();
        Ok(bytes)
    });
    let wall = started.elapsed();
    let cpu = process_cpu_ns()?.saturating_sub(cpu_before);
    let response_bytes = result?;
    let log_bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let verified = rampart_sidecar::log_verify::verify_files(std::slice::from_ref(&log), None)
        .is_ok_and(|report| report.is_intact());
    let _ = std::fs::remove_file(&log);
    let per = |x: f64| x / n as f64;
    println!(
        "{way}: checks {n}  allocations/check {:.1}  cpu/check {:.2} us  wall/check {:.2} us  \
         response {:.0} B  log {:.0} B/record  verify {}",
        per(allocations as f64),
        per(cpu as f64) / 1e3,
        per(wall.as_nanos() as f64) / 1e3,
        per(response_bytes as f64),
        per(log_bytes as f64),
        if verified { "ok" } else { "FAILED" },
    );
    println!(
        "loadavg {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    Ok(())
}

fn temp_log() -> PathBuf {
    std::env::temp_dir().join(format!("check_cost-{}.jsonl", std::process::id()))
}

/// CPU time of every thread of this process so far, in nanoseconds (`utime + stime` of
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn process_cpu_ns() -> Result<u64, String> {
    let stat = std::fs::read_to_string(Path::new("/proc/self/stat")).map_err(|e| e.to_string())?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command: state is field 3; utime 14 and stime 15 (1-based) are 11 and 12.
    Ok((tick(11) + tick(12)) * 10_000_000)
}
