//! `rampart serve --rate-limit-store`: rate limits shared by several sidecars through one
//! real `redis-server` (started by each test on loopback and a unix socket in a temp
//! folder), the fallback when Redis dies, reconnection, and a store that misbehaves.

mod e2e_support;
mod fleet_support;
mod serve_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use fleet_support::redis::Redis;
use serde_json::{json, Value};
use serve_support::{http_request, Reply, Scratch};

const NEEDS: &str = "needs redis-server: sh scripts/services-setup.sh";

/// The limit of the shared key: 200 per hour, so refill during a run is negligible (one
/// token every 18 s).
const LIMIT: usize = 200;

const POLICY: &str = r#"package fleet

schema {
  entity User
  entity Api
  action "call", "pair", "free", "measure"
  context { client?: String }
}

@id("open")
allow "call", "pair", "free", "measure" for User

@id("per-client")
obligation rate_limit 200 per 1h by context.client on "call", "pair"

@id("per-user")
obligation rate_limit 5 per 1h by principal on "pair"

@id("measured")
obligation rate_limit 1000000000 per 1h by context.client on "measure"
"#;

/// A policy folder with [`POLICY`].
fn policy(scratch: &Scratch) -> PathBuf {
    let dir = scratch.0.join("policy");
    std::fs::create_dir_all(&dir).expect("create the policy folder");
    std::fs::write(dir.join("fleet.rampart"), POLICY).expect("write the policy");
    dir
}

/// A running `rampart serve` whose standard error goes to a file; killed on drop.
struct Sidecar {
    child: Child,
    http: SocketAddr,
    stderr: PathBuf,
}

impl Sidecar {
    fn start(policy: &Path, stderr: PathBuf, extra: &[&str]) -> Sidecar {
        let log = std::fs::File::create(&stderr).expect("create the stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("serve")
            .arg(policy)
            .args([
                "--grpc",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--no-watch",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn rampart serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let line = match received.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(line)) => line,
            other => {
                let _ = child.kill();
                panic!(
                    "rampart serve did not start ({other:?}): {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        let http = line
            .split_whitespace()
            .find_map(|part| part.strip_prefix("http="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no http= in `{line}`"));
        Sidecar {
            child,
            http,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `POST /v1/decide` for `action` by `user` with `context.client = client`.
    fn decide(&self, action: &str, user: &str, client: &str) -> Reply {
        decide(self.http, action, user, client)
    }

    fn metric(&self, name: &str) -> f64 {
        let text = http_request(self.http, "GET", "/metrics", &[], b"").text();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric `{name}` in:\n{text}"))
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(action: &str, user: &str, client: &str) -> Value {
    json!({
        "principal": format!("User::\"{user}\""),
        "action": action,
        "resource": "Api::\"a\"",
        "context": {"client": client},
    })
}

fn decide(http: SocketAddr, action: &str, user: &str, client: &str) -> Reply {
    let body = request(action, user, client).to_string();
    http_request(
        http,
        "POST",
        "/v1/decide",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// What a `/v1/decide` answer says: `Some(true)` allow, `Some(false)` a deny by the
/// per-client limit; anything else (another status, another deny) is a failed request.
fn outcome(reply: &Reply) -> Result<bool, String> {
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, reply.text()));
    }
    let decision = reply.json();
    match decision["decision"].as_str() {
        Some("allow") => Ok(true),
        Some("deny") if decision["rate_limited"]["rule"] == "per-client" => Ok(false),
        _ => Err(format!("unexpected answer {decision}")),
    }
}

/// Sends `per_thread` requests for `client` from `threads` threads per sidecar, round
/// robin; returns (allowed, denied). Every request must get a normal answer.
fn load(
    sidecars: &[&Sidecar],
    threads: usize,
    per_thread: usize,
    client: &str,
    during: impl FnOnce(&AtomicUsize),
) -> (usize, usize) {
    let allowed = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut handles = Vec::new();
    for (n, sidecar) in sidecars.iter().enumerate() {
        for t in 0..threads {
            let (http, client) = (sidecar.http, client.to_owned());
            let (allowed, answered, failures) = (
                Arc::clone(&allowed),
                Arc::clone(&answered),
                Arc::clone(&failures),
            );
            handles.push(std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let reply = decide(http, "call", &format!("u{n}-{t}"), &client);
                    match outcome(&reply) {
                        Ok(true) => {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(false) => {}
                        Err(error) => failures.lock().expect("lock").push(error),
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    during(&answered);
    for handle in handles {
        handle
            .join()
            .expect("a load thread panicked (a request failed)");
    }
    let failures = failures.lock().expect("lock");
    assert!(failures.is_empty(), "failed requests: {:?}", &failures[..]);
    let total = answered.load(Ordering::Relaxed);
    let allowed = allowed.load(Ordering::Relaxed);
    (allowed, total - allowed)
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn three_sidecars_share_one_limit_and_fall_back_when_redis_dies() {
    let _ = NEEDS;
    let scratch = Scratch::new("fleet-rl");
    let mut redis = Redis::start(&scratch.0.join("redis"));
    let policy = policy(&scratch);
    let store = redis.tcp_url();
    let sidecars: Vec<Sidecar> = (0..3)
        .map(|n| {
            Sidecar::start(
                &policy,
                scratch.0.join(format!("sidecar{n}.err")),
                &["--rate-limit-store", &store],
            )
        })
        .collect();
    let all: Vec<&Sidecar> = sidecars.iter().collect();
    for sidecar in &all {
        assert_eq!(sidecar.metric("rampart_ratelimit_store_up"), 1.0);
    }

    // 3 sidecars × 3 threads × 100 requests for one key: 900 requests, 200 allowed.
    let started = Instant::now();
    let (allowed, denied) = load(&all, 3, 100, "hot", |_| {});
    let elapsed = started.elapsed().as_secs_f64();
    // GCRA's allowance: the burst plus what refilled during the run.
    let expected = LIMIT as f64 + LIMIT as f64 * elapsed / 3600.0;
    eprintln!("shared limit: {allowed} allowed, {denied} denied in {elapsed:.2} s");
    assert!(
        allowed as f64 >= LIMIT as f64 && allowed as f64 <= (expected * 1.05).max(expected + 1.0),
        "{allowed} allowed across three sidecars, expected within [{LIMIT}, 1.05 × {expected:.1}]"
    );
    assert_eq!(allowed + denied, 900);
    // One key in Redis for it, its TTL at most the period.
    let keys: Vec<String> = redis.must(&["KEYS", "rampart:rl:*"]);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with("rampart:rl:{per-client}:200:3600:"),
        "{keys:?}"
    );
    let ttl: i64 = redis.must(&["PTTL", &keys[0]]);
    assert!(ttl > 0 && ttl <= 3_600_000, "{ttl}");
    // Every door asks the same store: the OPA door of another sidecar is denied too.
    let opa = http_request(
        sidecars[2].http,
        "POST",
        "/v1/data/fleet",
        &[("content-type", "application/json")],
        json!({"input": request("call", "x", "hot")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(opa.json()["result"]["status"], 429, "{}", opa.text());

    // Redis dies under load, before the fresh key is spent (a spent key is answered by
    // the over-limit cache, which needs no Redis): every request still gets a normal
    // answer, by each replica's own buckets once the store fails.
    let (allowed, denied) = load(&all, 3, 150, "after", |answered| {
        wait_for("some of the load", Duration::from_secs(120), || {
            answered.load(Ordering::Relaxed) >= 100
        });
        redis.kill();
    });
    eprintln!("redis killed mid-run: {allowed} allowed, {denied} denied, no failed request");
    assert_eq!(allowed + denied, 1350);
    // Up to 200 through Redis before it died, then up to 200 per replica's own buckets.
    assert!((LIMIT..=4 * LIMIT).contains(&allowed), "{allowed}");
    // A replica whose share of that load after the kill was all answered by the over-limit
    // cache (the key spent before the kill reached it) has not asked the store since: one
    // request with a fresh key each makes every replica meet the outage, and be allowed by
    // its own buckets.
    for (i, sidecar) in all.iter().enumerate() {
        let reply = sidecar.decide("call", "x", &format!("probe-{i}"));
        assert_eq!(reply.json()["decision"], "allow", "{}", reply.text());
    }
    for sidecar in &all {
        assert_eq!(sidecar.metric("rampart_ratelimit_store_up"), 0.0);
        assert!(sidecar.metric("rampart_ratelimit_fallback_total") > 0.0);
        assert!(sidecar.metric("rampart_ratelimit_store_errors_total") >= 1.0);
        // Logged once for the outage, not once per request.
        let stderr = sidecar.stderr();
        assert_eq!(
            stderr.matches("the rate-limit store").count(),
            1,
            "{stderr}"
        );
        assert!(stderr.contains("this replica's own buckets"), "{stderr}");
    }

    // --rate-limit-fail closed: denied (429 at the OPA door) while the store is down;
    // requests without a rate limit are not affected.
    let closed = Sidecar::start(
        &policy,
        scratch.0.join("closed.err"),
        &["--rate-limit-store", &store, "--rate-limit-fail", "closed"],
    );
    let reply = closed.decide("call", "u", "c");
    let decision = reply.json();
    assert_eq!(decision["decision"], "deny", "{decision}");
    assert_eq!(decision["reasons"], json!(["rate-limit store unavailable"]));
    assert_eq!(decision["rate_limited"]["store_unavailable"], true);
    let opa = http_request(
        closed.http,
        "POST",
        "/v1/data/fleet",
        &[("content-type", "application/json")],
        json!({"input": request("call", "u", "c")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(opa.json()["result"]["status"], 429, "{}", opa.text());
    assert_eq!(outcome(&closed.decide("free", "u", "c")), Ok(true));
    assert!(closed.metric("rampart_ratelimit_fallback_total") >= 2.0);
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn a_restarted_redis_is_reconnected_and_the_count_is_shared_again() {
    let scratch = Scratch::new("fleet-rl-restart");
    let mut redis = Redis::start(&scratch.0.join("redis"));
    let policy = policy(&scratch);
    // Over the unix socket this time.
    let store = redis.unix_url();
    let a = Sidecar::start(
        &policy,
        scratch.0.join("a.err"),
        &["--rate-limit-store", &store],
    );
    let b = Sidecar::start(
        &policy,
        scratch.0.join("b.err"),
        &["--rate-limit-store", &store],
    );
    assert_eq!(outcome(&a.decide("call", "u", "before")), Ok(true));

    redis.restart();
    // The first request after the restart may fail over (the old connection is dead);
    // the background task reconnects within its backoff.
    let _ = a.decide("call", "u", "probe");
    let _ = b.decide("call", "u", "probe");
    for sidecar in [&a, &b] {
        wait_for("the store to be up again", Duration::from_secs(30), || {
            sidecar.metric("rampart_ratelimit_store_up") == 1.0
        });
        assert!(
            sidecar.stderr().contains("answers again"),
            "{}",
            sidecar.stderr()
        );
    }
    // Shared again: 150 requests on each sidecar, 200 allowed in all.
    let (allowed, denied) = load(&[&a, &b], 2, 150, "resumed", |_| {});
    assert_eq!((allowed, denied), (LIMIT, 600 - LIMIT));
    let keys: Vec<String> = redis.must(&["KEYS", "rampart:rl:{per-client}:*"]);
    assert!(!keys.is_empty());
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn keys_stay_small_and_expire_and_one_request_takes_from_all_its_limits_or_none() {
    let scratch = Scratch::new("fleet-rl-keys");
    let redis = Redis::start(&scratch.0.join("redis"));
    let policy = policy(&scratch);
    let store = redis.tcp_url();
    let sidecar = Sidecar::start(
        &policy,
        scratch.0.join("s.err"),
        &[
            "--rate-limit-store",
            &store,
            "--rate-limit-prefix",
            "fleet-a:",
        ],
    );

    // A key value of 16 KiB: the Redis key is a fixed-size hash of it.
    let huge = "k".repeat(16 * 1024);
    for _ in 0..3 {
        assert_eq!(outcome(&sidecar.decide("call", "u", &huge)), Ok(true));
    }
    let keys: Vec<String> = redis.must(&["KEYS", "*"]);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("fleet-a:{per-client}:200:3600:"));
    assert!(keys[0].len() < 80, "{}", keys[0]);
    let usage: i64 = redis.must(&["MEMORY", "USAGE", &keys[0]]);
    assert!(usage < 200, "{usage} bytes for one key");
    let _: () = redis.must(&["FLUSHALL"]);

    // Many distinct keys: each expires when its bucket is full again (one request of
    // 200 per hour: 18 s), so Redis never holds more than the keys in use.
    for n in 0..300 {
        assert_eq!(
            outcome(&sidecar.decide("call", "u", &format!("client-{n}"))),
            Ok(true)
        );
    }
    let keys: Vec<String> = redis.must(&["KEYS", "*"]);
    assert_eq!(keys.len(), 300);
    for key in &keys {
        let ttl: i64 = redis.must(&["PTTL", key]);
        assert!(ttl > 0 && ttl <= 18_000, "{key}: PTTL {ttl}");
    }
    let _: () = redis.must(&["FLUSHALL"]);

    // "pair" has two limits: per client (200/h) and per user (5/h). Once the user's is
    // spent, a request takes nothing from its client's limit either.
    for n in 0..5 {
        assert_eq!(
            outcome(&sidecar.decide("pair", "eve", &format!("c{n}"))),
            Ok(true)
        );
    }
    // The first denial is the script's (a fresh client: its key must not appear), the
    // next ones the over-limit cache's.
    let denied = sidecar.decide("pair", "eve", "c5").json();
    assert_eq!(denied["rate_limited"]["rule"], "per-user", "{denied}");
    let denied = sidecar.decide("pair", "eve", "c0").json();
    assert_eq!(denied["rate_limited"]["rule"], "per-user", "{denied}");
    for n in 6..10 {
        let denied = sidecar.decide("pair", "eve", &format!("c{n}")).json();
        assert_eq!(denied["rate_limited"]["rule"], "per-user", "{denied}");
    }
    let clients: Vec<String> = redis.must(&["KEYS", "fleet-a:{per-client}:*"]);
    assert_eq!(
        clients.len(),
        5,
        "denied requests created client keys: {clients:?}"
    );
    // Each client key was taken once (18 s until full again), c0 too.
    for key in &clients {
        let ttl: i64 = redis.must(&["PTTL", key]);
        assert!(ttl <= 18_000, "{key}: {ttl}");
    }
    // The user is known to be over: further denials need no round trip.
    let cached = sidecar.metric("rampart_ratelimit_cached_denials_total");
    assert!(cached >= 5.0, "{cached}");
}

/// A CA and a certificate for `localhost` it signed, as PEM files in `dir`.
fn tls_files(dir: &Path) -> [PathBuf; 3] {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a server key");
    let cert = CertificateParams::new(vec!["localhost".into()])
        .expect("server parameters")
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    std::fs::create_dir_all(dir).expect("create the TLS folder");
    let files = [
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    ];
    for (file, text) in files.iter().zip([cert.pem(), key.serialize_pem(), ca_pem]) {
        std::fs::write(file, text).expect("write a PEM file");
    }
    files
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn a_rediss_store_is_trusted_through_the_given_ca_only() {
    let scratch = Scratch::new("fleet-rl-tls");
    let [cert, key, ca] = tls_files(&scratch.0.join("tls"));
    let redis = Redis::start_tls(&scratch.0.join("redis"), &cert, &key, &ca);
    let policy = policy(&scratch);
    let store = redis.tls_url();
    let ca_arg = ca.display().to_string();
    let trusted = Sidecar::start(
        &policy,
        scratch.0.join("trusted.err"),
        &[
            "--rate-limit-store",
            &store,
            "--rate-limit-store-ca",
            &ca_arg,
        ],
    );
    assert_eq!(
        trusted.metric("rampart_ratelimit_store_up"),
        1.0,
        "{}",
        trusted.stderr()
    );
    assert_eq!(outcome(&trusted.decide("call", "u", "tls")), Ok(true));
    let keys: Vec<String> = redis.must(&["KEYS", "rampart:rl:*"]);
    assert_eq!(keys.len(), 1);

    // The system's roots do not know the test CA: the handshake fails, the store stays
    // down, and the local buckets decide.
    let untrusted = Sidecar::start(
        &policy,
        scratch.0.join("untrusted.err"),
        &["--rate-limit-store", &store],
    );
    assert_eq!(untrusted.metric("rampart_ratelimit_store_up"), 0.0);
    assert_eq!(outcome(&untrusted.decide("call", "u", "tls")), Ok(true));
    assert!(untrusted.metric("rampart_ratelimit_fallback_total") >= 1.0);
    assert!(
        untrusted
            .stderr()
            .contains("cannot reach the rate-limit store"),
        "{}",
        untrusted.stderr()
    );

    // A CA for a plaintext store, or a URL that is not one, stops the start.
    for args in [
        vec![
            "--rate-limit-store",
            "redis://127.0.0.1:6379",
            "--rate-limit-store-ca",
            &ca_arg,
        ],
        vec!["--rate-limit-store", "http://127.0.0.1:6379"],
        vec![
            "--rate-limit-store",
            "redis://127.0.0.1:6379",
            "--rate-limit-prefix",
            "{a}",
        ],
        vec![
            "--rate-limit-store",
            "redis://127.0.0.1:6379",
            "--rate-limit-keys",
            "0",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("serve")
            .arg(&policy)
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run rampart serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--rate-limit-"), "{args:?}: {stderr}");
    }
}

/// What a fake Redis does with a script call that has keys (the connection's probe, with
/// none, is answered `{0, 0}` so that the store counts as up).
#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Never answers.
    Hang,
    /// Answers these bytes.
    Reply(&'static [u8]),
}

/// A TCP server that speaks just enough RESP to pass the sidecar's probe, then misbehaves.
struct FakeRedis {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl FakeRedis {
    fn start(misbehaviour: Misbehaviour) -> FakeRedis {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let stopping = Arc::clone(&stopping);
                        std::thread::spawn(move || serve_fake(stream, misbehaviour, stopping));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRedis { port, stop }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeRedis {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads RESP commands (arrays of bulk strings) and answers them.
fn serve_fake(stream: TcpStream, misbehaviour: Misbehaviour, stop: Arc<AtomicBool>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(_) => continue,
        }
        let Some(count) = line
            .trim()
            .strip_prefix('*')
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return;
        };
        let mut args = Vec::new();
        for _ in 0..count {
            let mut head = String::new();
            if reader.read_line(&mut head).is_err() {
                return;
            }
            let Some(len) = head
                .trim()
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return;
            };
            let mut data = vec![0; len + 2];
            if reader.read_exact(&mut data).is_err() {
                return;
            }
            data.truncate(len);
            args.push(String::from_utf8_lossy(&data).to_uppercase());
        }
        let answer: &[u8] = match args.first().map(String::as_str) {
            Some("PING") => b"+PONG\r\n",
            Some("EVALSHA" | "EVAL") if args.get(2).map(String::as_str) == Some("0") => {
                b"*2\r\n:0\r\n:0\r\n"
            }
            Some("EVALSHA" | "EVAL") => match misbehaviour {
                Misbehaviour::Hang => continue,
                Misbehaviour::Reply(bytes) => bytes,
            },
            _ => b"+OK\r\n",
        };
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn a_hung_or_lying_store_neither_stalls_nor_allows() {
    let scratch = Scratch::new("fleet-rl-fake");
    let policy = policy(&scratch);

    // Accepts, passes the probe, then never answers a check: each check waits at most the
    // store timeout, and the local buckets decide.
    let hung = FakeRedis::start(Misbehaviour::Hang);
    let sidecar = Sidecar::start(
        &policy,
        scratch.0.join("hung.err"),
        &[
            "--rate-limit-store",
            &hung.url(),
            "--rate-limit-store-timeout",
            "50ms",
        ],
    );
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let started = Instant::now();
        assert_eq!(
            outcome(&sidecar.decide("call", "u", &format!("c{n}"))),
            Ok(true)
        );
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("hung store: slowest decision {slowest:?} (timeout 50 ms)");
    // Generous: a stall would be the 5 s request timeout or forever.
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    assert!(sidecar.metric("rampart_ratelimit_store_errors_total") >= 1.0);
    assert!(sidecar.metric("rampart_ratelimit_fallback_total") >= 1.0);

    // A listener that accepts connections (in its backlog) and never says a word: the
    // start waits for the first connection attempt at most a second, and then requests
    // fall back at once, without waiting for a connection each.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!(
        "redis://127.0.0.1:{}",
        silent.local_addr().expect("address").port()
    );
    let started = Instant::now();
    let mute = Sidecar::start(
        &policy,
        scratch.0.join("silent.err"),
        &["--rate-limit-store", &silent_url],
    );
    eprintln!("silent store: started in {:?}", started.elapsed());
    assert_eq!(mute.metric("rampart_ratelimit_store_up"), 0.0);
    let started = Instant::now();
    for n in 0..20 {
        assert_eq!(
            outcome(&mute.decide("call", "u", &format!("s{n}"))),
            Ok(true)
        );
    }
    let twenty = started.elapsed();
    eprintln!("silent store: 20 decisions in {twenty:?}");
    assert!(twenty < Duration::from_secs(2), "{twenty:?}");
    assert!(mute.metric("rampart_ratelimit_fallback_total") >= 20.0);
    drop(silent);

    // Garbage replies: an error each, never an allow when closed.
    for garbage in [
        &b"$5\r\nhello\r\n"[..],
        b"*2\r\n:7\r\n:5\r\n",
        b"*2\r\n:1\r\n:-5\r\n",
        b"*2\r\n:0\r\n:1\r\n",
        b"!!!! not resp\r\n",
        b"-ERR something broke\r\n",
        b"*4294967295\r\n",
        b"$2147483647\r\n",
    ] {
        let liar = FakeRedis::start(Misbehaviour::Reply(garbage));
        let shown = String::from_utf8_lossy(garbage).into_owned();
        let closed = Sidecar::start(
            &policy,
            scratch.0.join("liar.err"),
            &[
                "--rate-limit-store",
                &liar.url(),
                "--rate-limit-fail",
                "closed",
            ],
        );
        wait_for(
            "the liar to pass the probe",
            Duration::from_secs(10),
            || closed.metric("rampart_ratelimit_store_up") == 1.0,
        );
        for _ in 0..3 {
            let started = Instant::now();
            let decision = closed.decide("call", "u", "c").json();
            assert_eq!(decision["decision"], "deny", "{shown:?}: {decision}");
            assert_eq!(
                decision["reasons"],
                json!(["rate-limit store unavailable"]),
                "{shown:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(2), "{shown:?}");
        }
        assert!(
            closed.metric("rampart_ratelimit_store_errors_total") >= 1.0,
            "{shown:?}"
        );
        // The fallback of the default mode answers from the local buckets instead.
        let local = Sidecar::start(
            &policy,
            scratch.0.join("liar-local.err"),
            &["--rate-limit-store", &liar.url()],
        );
        assert_eq!(
            outcome(&local.decide("call", "u", "c")),
            Ok(true),
            "{shown:?}"
        );
    }
}

/// A persistent HTTP/1.1 connection for measuring (`/v1/decide`, keep-alive).
struct KeepAlive {
    stream: BufReader<TcpStream>,
    http: SocketAddr,
}

impl KeepAlive {
    fn new(http: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(http).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        KeepAlive {
            stream: BufReader::new(stream),
            http,
        }
    }

    /// One decision; its allow or deny.
    fn decide(&mut self, body: &str) -> bool {
        let head = format!(
            "POST /v1/decide HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.http,
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body.as_bytes()).expect("write");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).expect("read");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).expect("read body");
        body.starts_with(br#"{"decision":"allow""#)
    }
}

/// p50 and p99 of `samples`, in microseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99))
}

#[test]
#[ignore = "needs redis-server: sh scripts/services-setup.sh"]
fn measure_the_overhead_of_a_shared_limit() {
    let scratch = Scratch::new("fleet-rl-measure");
    let redis = Redis::start(&scratch.0.join("redis"));
    let policy = policy(&scratch);
    const N: usize = 3000;
    let body = request("measure", "u", "m").to_string();
    let free = request("free", "u", "m").to_string();
    let mut report = Vec::new();
    for (name, extra) in [
        ("local buckets", vec![]),
        (
            "redis tcp",
            vec!["--rate-limit-store".to_owned(), redis.tcp_url()],
        ),
        (
            "redis unix",
            vec!["--rate-limit-store".to_owned(), redis.unix_url()],
        ),
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let sidecar = Sidecar::start(&policy, scratch.0.join("m.err"), &extra);
        let mut connection = KeepAlive::new(sidecar.http);
        for _ in 0..300 {
            connection.decide(&body);
            connection.decide(&free);
        }
        let (bytes_in, bytes_out, commands) = (
            redis.info_field("total_net_input_bytes"),
            redis.info_field("total_net_output_bytes"),
            redis.info_field("total_commands_processed"),
        );
        let mut limited = Vec::with_capacity(N);
        let mut unlimited = Vec::with_capacity(N);
        for _ in 0..N {
            let started = Instant::now();
            assert!(connection.decide(&body));
            limited.push(started.elapsed());
            let started = Instant::now();
            assert!(connection.decide(&free));
            unlimited.push(started.elapsed());
        }
        // Each INFO costs a command and some bytes of its own: negligible against N.
        let per = |after: u64, before: u64| (after - before) as f64 / N as f64;
        let traffic = (
            per(redis.info_field("total_net_input_bytes"), bytes_in),
            per(redis.info_field("total_net_output_bytes"), bytes_out),
            per(redis.info_field("total_commands_processed"), commands),
        );
        let (p50, p99) = percentiles(&mut limited);
        let (free50, free99) = percentiles(&mut unlimited);
        report.push(format!(
            "{name}: limited p50 {p50:.0} µs p99 {p99:.0} µs; no limit p50 {free50:.0} µs p99 \
             {free99:.0} µs; per limited request {:.2} commands, {:.0} B to Redis, {:.0} B back",
            traffic.2, traffic.0, traffic.1
        ));
    }
    for line in &report {
        eprintln!("{line}");
    }
}
