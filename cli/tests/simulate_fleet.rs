//! A fleet simulated on one machine, for the capacity model of `docs/deploy.md`: `REPLICAS`
//! `rampart serve` processes (the debug build `cargo test` makes) serving a signed bundle
//! from one real OCI registry (Debian's `docker-registry`) and sharing rate limits in one
//! real `redis-server`. It measures what the model needs — memory per replica, the
//! registry's cost per poll, the time until every replica serves a pushed revision, and
//! Redis's work per limited request — and prints it.
//!
//! Not part of CI (it takes a minute and both cores): run it with
//! `sh scripts/services-setup.sh && cargo test -p rampart-cli --test simulate_fleet --
//! --ignored --nocapture`. It asserts correctness only (every replica follows the push, the
//! shared limit holds across all of them), never a speed.

mod e2e_support;
mod fleet_support;
mod serve_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::{run_bounded, wait_until};
use fleet_support::redis::Redis;
use fleet_support::registry::Registry;
use serde_json::Value;
use serve_support::{http_request, Scratch, Sidecar};

/// How many sidecars the simulation runs.
const REPLICAS: usize = 50;

/// Their poll interval.
const POLL: Duration = Duration::from_secs(2);

/// The shared limit every replica enforces for one client.
const LIMIT: usize = 200;

/// `REV` is replaced by the revision's name, so each revision compiles to another bundle.
const POLICY: &str = r#"package sim

schema {
  entity User
  entity Api
  action "call"
  context { client?: String }
}

@id("open-REV")
allow "call" for User

@id("per-client")
obligation rate_limit 200 per 1h by context.client on "call"
"#;

fn rampart(args: &[&str]) -> String {
    let output = run_bounded(
        "rampart",
        Command::new(env!("CARGO_BIN_EXE_rampart")).args(args),
    );
    assert!(
        output.status.success(),
        "rampart {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds and signs revision `name` of [`POLICY`]; returns the bundle file.
fn build(dir: &Path, name: &str, key: &Path) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).expect("policy folder");
    std::fs::write(folder.join("sim.rampart"), POLICY.replace("REV", name)).expect("policy");
    let out = dir.join(format!("{name}.json"));
    rampart(&[
        "build",
        &folder.to_string_lossy(),
        "-o",
        &out.to_string_lossy(),
        "--sign",
        &key.to_string_lossy(),
    ]);
    out
}

fn status(http: SocketAddr) -> Value {
    http_request(http, "GET", "/v1/status", &[], b"").json()
}

fn metric(http: SocketAddr, name: &str) -> f64 {
    let text = http_request(http, "GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) a process has used, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5), here 11 and 12; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// The PID of the process whose command line mentions `needle`.
fn pid_of(needle: &str) -> u32 {
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            return pid;
        }
    }
    panic!("no process mentions {needle}");
}

fn redis_cpu_seconds(redis: &Redis) -> f64 {
    let info: String = redis.must(&["INFO", "cpu"]);
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    field("used_cpu_user") + field("used_cpu_sys")
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

#[test]
#[ignore = "a measurement, not a CI test: needs docker-registry and redis-server (sh scripts/services-setup.sh)"]
fn fifty_replicas_against_one_registry_and_one_redis() {
    let dir = Scratch::new("simulate-fleet");
    let registry = Registry::start(&dir.0);
    let redis = Redis::start(&dir.0);
    let registry_pid = pid_of(&dir.0.join("registry.yml").to_string_lossy());
    let prefix = dir.0.join("release");
    rampart(&["bundle", "keygen", "--out", &prefix.to_string_lossy()]);
    let (key, public) = (dir.0.join("release.key"), dir.0.join("release.pub"));
    let url = registry.url("sim/policy:live");
    let a = build(&dir.0, "a", &key);
    rampart(&["push", &a.to_string_lossy(), &url]);

    // Start every replica, a few at a time (the start is CPU-bound: fetch, verify, load).
    let started = Instant::now();
    let poll = format!("{}s", POLL.as_secs());
    let store = redis.unix_url();
    let public_text = public.to_string_lossy().into_owned();
    let mut replicas: Vec<Sidecar> = Vec::new();
    for batch in 0..REPLICAS.div_ceil(5) {
        let handles: Vec<_> = (0..5)
            .filter(|i| batch * 5 + i < REPLICAS)
            .map(|_| {
                let (url, poll, store, public) = (
                    url.clone(),
                    poll.clone(),
                    store.clone(),
                    public_text.clone(),
                );
                std::thread::spawn(move || {
                    Sidecar::start(
                        Path::new(&url),
                        &[
                            "--verify-key",
                            &public,
                            "--poll-interval",
                            &poll,
                            "--no-watch",
                            "--rate-limit-store",
                            &store,
                        ],
                    )
                })
            })
            .collect();
        for handle in handles {
            replicas.push(handle.join().expect("a replica started"));
        }
    }
    let start_time = started.elapsed();
    let https: Vec<SocketAddr> = replicas.iter().map(|r| r.http).collect();
    let mut rss: Vec<u64> = replicas.iter().map(|r| rss_kib(r.pid())).collect();
    let rss_median = median(&mut rss);

    // Polling at rest: what the registry spends on polls that find nothing new.
    let polls = |https: &[SocketAddr]| -> f64 {
        https
            .iter()
            .map(|h| metric(*h, "rampart_bundle_fetch_total{result=\"not_modified\"}"))
            .sum()
    };
    let (polls_before, cpu_before) = (polls(&https), cpu_seconds(registry_pid));
    let idle = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    let idle_time = idle.elapsed().as_secs_f64();
    let (polls_after, cpu_after) = (polls(&https), cpu_seconds(registry_pid));
    let polls_per_s = (polls_after - polls_before) / idle_time;
    let registry_cpu_per_1000 = (cpu_after - cpu_before) / (polls_after - polls_before) * 1000.0;

    // A push: how long until every replica serves it.
    let b = build(&dir.0, "b", &key);
    let b_revision = serde_json::from_slice::<Value>(&std::fs::read(&b).expect("read b"))
        .expect("bundle JSON")["revision"]
        .as_str()
        .expect("revision")
        .to_owned();
    let pushed = Instant::now();
    rampart(&["push", &b.to_string_lossy(), &url]);
    let mut last_seen = Duration::ZERO;
    for http in &https {
        wait_until("every replica serves B", Duration::from_secs(60), || {
            status(*http)["bundle"]["revision"] == b_revision.as_str()
        });
        last_seen = pushed.elapsed();
    }

    // One client's shared limit, hit from 8 threads spread over every replica.
    let commands_before = redis.info_field("total_commands_processed");
    let redis_cpu_before = redis_cpu_seconds(&redis);
    let allowed = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let load = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (https, allowed, sent) = (https.clone(), Arc::clone(&allowed), Arc::clone(&sent));
            std::thread::spawn(move || {
                let body = r#"{"principal":"User::\"u\"","action":"call","resource":"Api::\"a\"","context":{"client":"shared"}}"#;
                for i in 0..150 {
                    let http = https[(t * 150 + i) % https.len()];
                    let reply = http_request(http, "POST", "/v1/decide", &[], body.as_bytes());
                    assert_eq!(reply.status, 200, "{}", reply.text());
                    sent.fetch_add(1, Ordering::Relaxed);
                    if reply.json()["decision"] == "allow" {
                        allowed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a load thread");
    }
    let load_time = load.elapsed().as_secs_f64();
    let (sent, allowed) = (
        sent.load(Ordering::Relaxed),
        allowed.load(Ordering::Relaxed),
    );
    let commands = redis.info_field("total_commands_processed") - commands_before;
    let redis_cpu = redis_cpu_seconds(&redis) - redis_cpu_before;

    println!("simulated fleet: {REPLICAS} replicas (debug build), one docker-registry, one redis-server, 2 cores");
    println!(
        "  start of all replicas from the registry: {:.1} s; median RSS {} MiB per replica",
        start_time.as_secs_f64(),
        rss_median / 1024
    );
    println!(
        "  polls at rest (interval {}s): {polls_per_s:.1}/s; registry CPU {registry_cpu_per_1000:.3} s per 1,000 polls",
        POLL.as_secs()
    );
    println!(
        "  push of B to all {REPLICAS} replicas serving it: {:.2} s",
        last_seen.as_secs_f64()
    );
    println!(
        "  shared limit {LIMIT}: {allowed} of {sent} allowed across {REPLICAS} replicas in {load_time:.1} s; redis {commands} commands ({:.2} per request), {:.3} s CPU ({:.0} µs per request)",
        commands as f64 / sent as f64,
        redis_cpu,
        redis_cpu / sent as f64 * 1e6
    );

    assert!(
        (LIMIT..=LIMIT * 105 / 100).contains(&allowed),
        "{allowed} allowed for a shared limit of {LIMIT}"
    );
    assert!(last_seen <= POLL + POLL / 10 + Duration::from_secs(30));
}
