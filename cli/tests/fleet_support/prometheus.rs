//! A real Prometheus (Debian's `prometheus`) on a loopback port, scraping given targets every
//! second and loading given rule files, with its TSDB in a scratch folder; and `promtool`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::e2e_support::{free_port, run_bounded, wait_until, Process};
use crate::serve_support::{http_request, Scratch};

/// How long Prometheus may take to start and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A binary of the services, or a failure that says how to install it.
pub fn service_binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: run `sh scripts/services-setup.sh` first")
    })
}

/// Runs `promtool ARGS…` in `dir`, bounded in time.
pub fn promtool(dir: &Path, args: &[&str]) -> Output {
    run_bounded(
        "promtool",
        Command::new(service_binary("promtool"))
            .args(args)
            .current_dir(dir),
    )
}

/// A running Prometheus; killed on drop, its scratch folder removed.
pub struct Prometheus {
    pub addr: SocketAddr,
    process: Process,
    log: PathBuf,
    // Dropped after the process (fields drop in declaration order).
    _dir: Scratch,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`HOST:PORT`, path `/metrics`) as job `job`
    /// every second, evaluating `rule_files` every second.
    pub fn start(job: &str, targets: &[SocketAddr], rule_files: &[PathBuf]) -> Prometheus {
        let dir = Scratch::new("prometheus");
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("\"{}\"", p.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{}]\n\
             scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
            rules.join(", "),
            targets.join(", ")
        );
        let config_path = dir.0.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let log = dir.0.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("create the log");
        let mut process = Process::spawn_terminated(
            "prometheus",
            Command::new(service_binary("prometheus"))
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.0.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--web.enable-lifecycle")
                .arg("--log.level=warn")
                .current_dir(&dir.0)
                .stdout(Stdio::null())
                .stderr(log_file),
        );
        let mut prometheus_ready = || {
            process.assert_running(&log);
            std::net::TcpStream::connect(addr).is_ok()
                && http_request(addr, "GET", "/-/ready", &[], b"").status == 200
        };
        wait_until(
            "prometheus to be ready",
            START_TIMEOUT,
            &mut prometheus_ready,
        );
        Prometheus {
            addr,
            process,
            log,
            _dir: dir,
        }
    }

    /// Prometheus' log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET PATH` of the HTTP API, whose `data` is returned when `status` is `success`.
    pub fn api(&self, path_and_query: &str) -> Value {
        let reply = http_request(self.addr, "GET", path_and_query, &[], b"");
        let body = reply.json();
        assert_eq!(
            body["status"], "success",
            "GET {path_and_query} answered {}: {body}",
            reply.status
        );
        body["data"].clone()
    }

    /// An instant query: the result vector, as (labels, value) pairs.
    pub fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        let data = self.api(&format!("/api/v1/query?query={}", encode(promql)));
        data["result"]
            .as_array()
            .map(|series| {
                series
                    .iter()
                    .map(|s| {
                        let value = s["value"][1]
                            .as_str()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(f64::NAN);
                        (s["metric"].clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }
}

/// Percent-encodes a query parameter (everything but unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
