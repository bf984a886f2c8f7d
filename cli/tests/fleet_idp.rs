//! Identity across a fleet: `rampart serve --jwks-url/--oidc-issuer` against a local HTTPS
//! key server that the tests rotate, break and take down mid-run; the listeners' TLS
//! certificate rotated under load; API keys (`--api-keys`). Needs no Debian service: the
//! key server is in the harness (`fleet_support/key_server.rs`).

mod e2e_support;
mod fleet_support;
mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleet_support::key_server::{KeyServer, Mode};
use fleet_support::pki::Ca;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use serve_support::{Reply, Scratch, Sidecar};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture JWKS with only the keys of `kids`.
fn jwks_of(kids: &[&str]) -> String {
    let all: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("jwt/jwks.json")).expect("read the fixture JWKS"),
    )
    .expect("JSON");
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// The old key of the rotations (ES256) and the new one (EdDSA).
const OLD: &str = "test-ec";
const NEW: &str = "test-ed25519";

/// A token for `docs:read` signed with the fixture key `kid`, naming `header_kid` (the
/// key's own kid unless a test lies), issued by `issuer`.
fn token_as(kid: &str, header_kid: &str, issuer: &str) -> String {
    let read = |name: &str| std::fs::read(fixtures().join("jwt").join(name)).expect("a key");
    let (algorithm, key) = match kid {
        OLD => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&read("TEST-ONLY-ec-private.pem")),
        ),
        _ => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&read("TEST-ONLY-ed25519-private.pem")),
        ),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(header_kid.to_owned());
    let now = now();
    let claims = json!({"iss": issuer, "aud": "docs", "sub": "alice", "scope": "docs:read",
                        "iat": now - 5, "exp": now + 600});
    jsonwebtoken::encode(&header, &claims, &key.expect("a test key")).expect("sign")
}

fn token(kid: &str) -> String {
    token_as(kid, kid, "https://idp.test")
}

/// `GET /docs/1` through forward-auth (Traefik's shape) with `headers`.
fn read_doc(sidecar: &Sidecar, headers: &[(&str, &str)]) -> u16 {
    let mut all = vec![
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/docs/1"),
    ];
    all.extend_from_slice(headers);
    sidecar.http("GET", "/v1/authz", &all, b"").status
}

fn read_with(sidecar: &Sidecar, token: &str) -> u16 {
    read_doc(sidecar, &[("Authorization", &format!("Bearer {token}"))])
}

/// The value of an unlabelled (or fully labelled) sample of `/metrics`.
fn metric(sidecar: &Sidecar, sample: &str) -> Option<f64> {
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == sample).then(|| value.parse().ok())?
    })
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `rampart serve` on the docs policy with keys from `source` (flags), the key server's CA
/// trusted, rate limits off.
fn start_remote(scratch: &Scratch, server: &KeyServer, source: &[&str], extra: &[&str]) -> Sidecar {
    let ca = scratch.0.join("idp-ca.pem");
    std::fs::write(&ca, &server.ca_pem).expect("write the CA");
    let ca = ca.display().to_string();
    let mut args = source.to_vec();
    args.extend_from_slice(&[
        "--outbound-ca",
        &ca,
        "--jwt-audience",
        "docs",
        "--rate-limit-keys",
        "0",
        "--forward-auth",
        "traefik",
        "--no-watch",
    ]);
    args.extend_from_slice(extra);
    let log = std::fs::File::create(scratch.0.join("stderr.txt")).expect("stderr file");
    Sidecar::start_with(&fixtures().join("auth"), &args, Stdio::from(log))
}

/// One request of the rotation test: its phase, the key that signed it, the status.
type Outcome = (usize, &'static str, u16);

/// One handshake: the certificate the server presented, or why it failed.
type Handshake = Result<Vec<u8>, String>;

fn by_url(url: &str) -> [&str; 4] {
    ["--jwks-url", url, "--jwt-issuer", "https://idp.test"]
}

/// Done when (issue 12): under continuous load with tokens signed by the old and the new
/// key, the identity provider publishes old+new, then new only. No request signed with
/// either key fails during the overlap; once the sidecar has refreshed, no request with
/// the retired key is allowed.
#[test]
fn key_rotation_at_the_identity_provider_under_load() {
    let server = KeyServer::start(&jwks_of(&[OLD]), 1);
    let scratch = Scratch::new("fleet-idp-rotation");
    let url = server.jwks_url();
    let sidecar = Arc::new(start_remote(
        &scratch,
        &server,
        &by_url(&url),
        &["--jwks-min-refresh", "1s", "--jwks-refetch-interval", "1s"],
    ));

    // Phase 0: old only; 1: old and new published; 2: new only (old retired), the
    // sidecar not refreshed yet; 3: refreshed.
    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // (phase, key, status) of every request.
    let results: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let (old_token, new_token) = (token(OLD), token(NEW));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (sidecar, phase, stop, results) = (
            Arc::clone(&sidecar),
            Arc::clone(&phase),
            Arc::clone(&stop),
            Arc::clone(&results),
        );
        let (old_token, new_token) = (old_token.clone(), new_token.clone());
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let before = phase.load(Ordering::SeqCst);
                // Clients 0 and 1 sign with the old key; 2 and 3 with the new one once it
                // is published.
                let (key, token) = if client < 2 {
                    (OLD, &old_token)
                } else if before >= 1 {
                    (NEW, &new_token)
                } else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let status = read_with(&sidecar, token);
                let after = phase.load(Ordering::SeqCst);
                // A request that straddled a phase change is not attributed to either.
                if before == after {
                    results.lock().expect("lock").push((after, key, status));
                }
            }
        }));
    }
    let settle = Duration::from_millis(1500);
    std::thread::sleep(settle);
    server.set_jwks(&jwks_of(&[OLD, NEW]));
    phase.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    server.set_jwks(&jwks_of(&[NEW]));
    phase.store(2, Ordering::SeqCst);
    wait_for(
        "the sidecar to drop the retired key",
        Duration::from_secs(15),
        || metric(&sidecar, "rampart_jwks_keys") == Some(1.0),
    );
    phase.store(3, Ordering::SeqCst);
    std::thread::sleep(settle);
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("a client thread");
    }

    let results = results.lock().expect("lock");
    let count = |p: usize, key: &str, status: Option<u16>| {
        results
            .iter()
            .filter(|(rp, rk, rs)| *rp == p && *rk == key && status.is_none_or(|s| s == *rs))
            .count()
    };
    for (p, key) in [(0, OLD), (1, OLD), (1, NEW), (3, NEW)] {
        let all = count(p, key, None);
        let allowed = count(p, key, Some(200));
        assert!(all > 5, "phase {p}, key {key}: only {all} requests");
        assert_eq!(
            allowed, all,
            "phase {p}, key {key}: {allowed} of {all} allowed"
        );
    }
    let retired = count(3, OLD, None);
    assert!(retired > 5, "only {retired} requests with the retired key");
    assert_eq!(
        count(3, OLD, Some(401)),
        retired,
        "a request signed with the retired key was not refused"
    );
    eprintln!(
        "rotation: {} requests; {} with the new key during the overlap; {} with the retired key \
         refused after the refresh; {} JWKS fetches",
        results.len(),
        count(1, NEW, None),
        retired,
        server.jwks_fetches()
    );
}

/// Tokens naming random unknown kids make at most one refetch per
/// `--jwks-refetch-interval` (counted at the server), shared by concurrent requests, and
/// are refused; the known key keeps working.
#[test]
fn an_unknown_kid_storm_makes_a_bounded_number_of_fetches() {
    let server = KeyServer::start(&jwks_of(&[OLD]), 3600);
    let scratch = Scratch::new("fleet-idp-storm");
    let url = server.jwks_url();
    let sidecar = Arc::new(start_remote(&scratch, &server, &by_url(&url), &[]));
    assert_eq!(read_with(&sidecar, &token(OLD)), 200);
    let before = server.jwks_fetches();
    let started = Instant::now();
    let refused = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let (sidecar, refused) = (Arc::clone(&sidecar), Arc::clone(&refused));
            std::thread::spawn(move || {
                for n in 0..40 {
                    let token =
                        token_as(OLD, &format!("attacker-{thread}-{n}"), "https://idp.test");
                    if read_with(&sidecar, &token) == 401 {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a storm thread");
    }
    let elapsed = started.elapsed();
    let fetches = server.jwks_fetches() - before;
    // The default interval is 10 s: one refetch per started 10 s of storm.
    let allowed = 1 + elapsed.as_secs() as usize / 10;
    assert!(
        fetches <= allowed,
        "{fetches} fetches for 320 unknown kids in {elapsed:?}"
    );
    assert_eq!(refused.load(Ordering::SeqCst), 320);
    assert_eq!(read_with(&sidecar, &token(OLD)), 200);
    assert_eq!(
        metric(
            &sidecar,
            "rampart_jwt_invalid_total{reason=\"unknown_key\"}"
        ),
        Some(320.0)
    );
    eprintln!("unknown-kid storm: 320 requests in {elapsed:?}, {fetches} JWKS fetches");
}

/// The identity provider down at start: the sidecar starts, every bearer token is
/// unauthenticated (fail closed), and it recovers once the provider answers.
#[test]
fn the_identity_provider_down_at_start_fails_closed_then_recovers() {
    let server = KeyServer::start(&jwks_of(&[OLD]), 3600);
    server.set_mode(Mode::Down);
    let scratch = Scratch::new("fleet-idp-down");
    let url = server.jwks_url();
    let sidecar = start_remote(
        &scratch,
        &server,
        &by_url(&url),
        &["--jwks-min-refresh", "1s", "--jwks-refetch-interval", "1s"],
    );
    assert_eq!(read_with(&sidecar, &token(OLD)), 401);
    assert_eq!(metric(&sidecar, "rampart_jwks_keys"), Some(0.0));
    assert!(metric(&sidecar, "rampart_jwks_fetch_total{result=\"error\"}").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        metric(&sidecar, "rampart_jwks_last_success_timestamp_seconds"),
        Some(0.0)
    );
    server.set_mode(Mode::Normal);
    wait_for(
        "the keys once the provider is up",
        Duration::from_secs(15),
        || read_with(&sidecar, &token(OLD)) == 200,
    );
    assert_eq!(metric(&sidecar, "rampart_jwks_keys"), Some(1.0));
    let stderr = std::fs::read_to_string(scratch.0.join("stderr.txt")).unwrap_or_default();
    assert!(stderr.contains("no key is known"), "{stderr}");
}

/// A huge, slow, garbage or failing key set is an error and the last good set stays in
/// use; an unchanged set is a 304; past `--jwks-max-stale` with no success, every token
/// is unauthenticated.
#[test]
fn bad_key_sets_keep_the_last_good_one_until_it_is_stale() {
    let server = KeyServer::start(&jwks_of(&[OLD]), 1);
    let scratch = Scratch::new("fleet-idp-bad");
    let url = server.jwks_url();
    let sidecar = start_remote(
        &scratch,
        &server,
        &by_url(&url),
        &[
            "--jwks-min-refresh",
            "1s",
            "--jwks-fetch-timeout",
            "1s",
            "--jwks-max-stale",
            "8s",
        ],
    );
    let old = token(OLD);
    assert_eq!(read_with(&sidecar, &old), 200);
    wait_for("a 304", Duration::from_secs(10), || {
        metric(
            &sidecar,
            "rampart_jwks_fetch_total{result=\"not_modified\"}",
        )
        .unwrap_or(0.0)
            >= 1.0
    });
    let errors = || metric(&sidecar, "rampart_jwks_fetch_total{result=\"error\"}").unwrap_or(0.0);
    let mut seen = errors();
    let stale_from = Instant::now();
    for mode in [Mode::Huge, Mode::Garbage, Mode::Slow, Mode::Error] {
        server.set_mode(mode);
        wait_for(
            &format!("a failed fetch ({mode:?})"),
            Duration::from_secs(10),
            || errors() > seen,
        );
        seen = errors();
        // (The last success was at most about a second before `stale_from`.)
        if stale_from.elapsed() < Duration::from_secs(5) {
            assert_eq!(
                read_with(&sidecar, &old),
                200,
                "{mode:?}: the last good set is gone"
            );
            assert_eq!(metric(&sidecar, "rampart_jwks_keys"), Some(1.0));
        }
    }
    // Past --jwks-max-stale: fail closed.
    wait_for(
        "the stale key set to be dropped",
        Duration::from_secs(15),
        || read_with(&sidecar, &old) == 401,
    );
    assert_eq!(metric(&sidecar, "rampart_jwks_keys"), Some(0.0));
    let stderr = std::fs::read_to_string(scratch.0.join("stderr.txt")).unwrap_or_default();
    for expected in [
        "larger than 1 MiB",
        "--jwks-fetch-timeout",
        "HTTP 503",
        "--jwks-max-stale",
    ] {
        assert!(stderr.contains(expected), "no `{expected}` in {stderr}");
    }
    // And back.
    server.set_mode(Mode::Normal);
    wait_for("the keys again", Duration::from_secs(15), || {
        read_with(&sidecar, &old) == 200
    });
}

/// `--oidc-issuer`: discovery names the JWKS, the issuer becomes the accepted `iss`; a
/// discovery document naming another issuer is refused (no keys: fail closed).
#[test]
fn oidc_discovery_finds_the_keys_and_checks_the_issuer() {
    let server = KeyServer::start(&jwks_of(&[OLD]), 3600);
    let scratch = Scratch::new("fleet-idp-oidc");
    let issuer = server.base();
    let sidecar = start_remote(&scratch, &server, &["--oidc-issuer", &issuer], &[]);
    assert_eq!(read_with(&sidecar, &token_as(OLD, OLD, &issuer)), 200);
    // Another issuer's token, signed with a key of this one, is not accepted.
    assert_eq!(
        read_with(&sidecar, &token_as(OLD, OLD, "https://idp.test")),
        401
    );
    assert_eq!(server.discovery_fetches(), 1);
    drop(sidecar);

    server.set_issuer("https://evil.test");
    let scratch = Scratch::new("fleet-idp-oidc-evil");
    let sidecar = start_remote(&scratch, &server, &["--oidc-issuer", &issuer], &[]);
    assert_eq!(read_with(&sidecar, &token_as(OLD, OLD, &issuer)), 401);
    let stderr = std::fs::read_to_string(scratch.0.join("stderr.txt")).unwrap_or_default();
    assert!(
        stderr.contains("names the issuer `https://evil.test`"),
        "{stderr}"
    );
}

/// Plain http:// to anything but loopback is refused at start, and two key sources are a
/// usage error.
#[test]
fn key_addresses_must_be_https() {
    let fails = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("serve")
            .arg(fixtures().join("auth"))
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run rampart serve");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = fails(&["--jwks-url", "http://idp.example:1/jwks"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is not an https:// address"), "{stderr}");
    // The same through --config, whose keys are the long flag names.
    let scratch = Scratch::new("fleet-idp-config");
    let config = scratch.0.join("serve.toml");
    std::fs::write(
        &config,
        "oidc_issuer = \"http://idp.example:1\"\njwks-min-refresh = \"2m\"\n",
    )
    .expect("write the config");
    let (code, stderr) = fails(&["--config", &config.display().to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`http://idp.example:1` is not an https:// address"),
        "{stderr}"
    );
    let jwks = fixtures().join("jwt/jwks.json").display().to_string();
    let (code, stderr) = fails(&["--jwks", &jwks, "--oidc-issuer", "https://idp.test"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// The listeners' certificate reloaded under load.

/// A TLS client of the sidecar's listeners trusting `roots`, presenting `client` when set;
/// returns the DER of the certificate the server presented.
fn handshake(
    addr: std::net::SocketAddr,
    config: &Arc<tokio_rustls::rustls::ClientConfig>,
    http: bool,
) -> Result<Vec<u8>, String> {
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConnection, StreamOwned};
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let connection = ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(connection, stream);
    if http {
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw);
        if !raw.starts_with(b"HTTP/1.1 200") {
            return Err(format!("answer: {}", String::from_utf8_lossy(&raw)));
        }
    } else {
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("handshake: {e}"))?;
        }
    }
    let presented = tls
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.as_ref().to_vec())
        .ok_or("no server certificate")?;
    Ok(presented)
}

fn client_config(
    roots: &[&str],
    client: &fleet_support::pki::Issued,
    alpn: &[u8],
) -> Arc<tokio_rustls::rustls::ClientConfig> {
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut store = tokio_rustls::rustls::RootCertStore::empty();
    for pem in roots {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            store.add(cert.expect("a CA")).expect("add a CA");
        }
    }
    let chain = vec![CertificateDer::from(client.der.clone())];
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).expect("a key");
    let mut config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(store)
    .with_client_auth_cert(chain, key)
    .expect("a client config");
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// Writes `text` to `path` through a temporary file and a rename.
fn replace(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).expect("write");
    std::fs::rename(&temporary, path).expect("rename");
}

/// The certificate, key and client CA rotate (to a certificate of a new CA, and a client
/// CA bundle trusting a new client CA) under continuous TLS load on both listeners: no
/// handshake fails, and once the new certificate is seen, every new connection gets it.
/// A key that does not match its certificate is refused and the old pair keeps serving.
#[test]
fn the_listener_certificate_rotates_under_load_without_a_failed_handshake() {
    let (server_ca_1, server_ca_2) = (Ca::new("server CA 1"), Ca::new("server CA 2"));
    let (client_ca_1, client_ca_2) = (Ca::new("client CA 1"), Ca::new("client CA 2"));
    let (first, second, third) = (
        server_ca_1.server(101),
        server_ca_2.server(202),
        server_ca_2.server(303),
    );
    let client_1 = client_ca_1.client("client of CA 1");
    let client_2 = client_ca_2.client("client of CA 2");
    let scratch = Scratch::new("fleet-tls-rotation");
    let (cert, key, ca) = (
        scratch.0.join("server.pem"),
        scratch.0.join("server.key"),
        scratch.0.join("clients.pem"),
    );
    replace(&cert, &first.cert_pem);
    replace(&key, &first.key_pem);
    replace(&ca, &client_ca_1.pem);
    let (cert_s, key_s, ca_s) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca.display().to_string(),
    );
    let log = std::fs::File::create(scratch.0.join("stderr.txt")).expect("stderr file");
    let sidecar = Sidecar::start_with(
        &serve_support::gateway_fixture(),
        &[
            "--tls-cert",
            &cert_s,
            "--tls-key",
            &key_s,
            "--tls-client-ca",
            &ca_s,
            "--watch-interval",
            "100ms",
            "--watch-settle",
            "300ms",
        ],
        Stdio::from(log),
    );
    let roots = [server_ca_1.pem.as_str(), server_ca_2.pem.as_str()];
    let http_config = client_config(&roots, &client_1, b"http/1.1");
    let grpc_config = client_config(&roots, &client_1, b"h2");
    assert_eq!(
        handshake(sidecar.http, &http_config, true),
        Ok(first.der.clone())
    );
    assert_eq!(
        handshake(sidecar.grpc, &grpc_config, false),
        Ok(first.der.clone())
    );
    // A client of the second client CA is refused until its CA is trusted.
    let newcomer = client_config(&roots, &client_2, b"http/1.1");
    assert!(handshake(sidecar.http, &newcomer, true).is_err());

    let stop = Arc::new(AtomicBool::new(false));
    // (listener, presented certificate or error), in order per thread.
    let seen: Arc<Mutex<Vec<Vec<Handshake>>>> = Arc::default();
    let mut threads = Vec::new();
    for thread in 0..4 {
        let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
        let (addr, config, http) = if thread % 2 == 0 {
            (sidecar.http, Arc::clone(&http_config), true)
        } else {
            (sidecar.grpc, Arc::clone(&grpc_config), false)
        };
        threads.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                mine.push(handshake(addr, &config, http));
            }
            seen.lock().expect("lock").push(mine);
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    // The rotation: the new client CA bundle, then the key and the certificate.
    replace(&ca, &format!("{}{}", client_ca_1.pem, client_ca_2.pem));
    replace(&key, &second.key_pem);
    replace(&cert, &second.cert_pem);
    wait_for("the new certificate", Duration::from_secs(10), || {
        handshake(sidecar.http, &http_config, true).ok() == Some(second.der.clone())
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().expect("a client thread");
    }
    let seen = seen.lock().expect("lock");
    let mut total = 0;
    for results in seen.iter() {
        let mut rotated = false;
        for result in results {
            total += 1;
            let presented = result
                .as_ref()
                .unwrap_or_else(|e| panic!("a handshake failed: {e}"));
            if *presented == second.der {
                rotated = true;
            } else {
                assert_eq!(*presented, first.der, "an unknown certificate");
                assert!(!rotated, "the old certificate came back after the new one");
            }
        }
        assert!(rotated, "a client never saw the new certificate");
    }
    assert_eq!(
        handshake(sidecar.grpc, &grpc_config, false),
        Ok(second.der.clone())
    );
    // The new client CA is trusted now.
    assert_eq!(
        handshake(sidecar.http, &newcomer, true),
        Ok(second.der.clone())
    );

    // A certificate whose key is not there yet (the key file still holds the old key):
    // refused, counted, and the current pair keeps serving.
    replace(&cert, &third.cert_pem);
    let stderr = || std::fs::read_to_string(scratch.0.join("stderr.txt")).unwrap_or_default();
    wait_for("the refused reload", Duration::from_secs(10), || {
        stderr().contains("TLS reload failed")
    });
    assert_eq!(
        handshake(sidecar.http, &http_config, true),
        Ok(second.der.clone())
    );
    // Its key arrives: the pair loads.
    replace(&key, &third.key_pem);
    wait_for("the third certificate", Duration::from_secs(10), || {
        handshake(sidecar.http, &http_config, true).ok() == Some(third.der.clone())
    });
    assert!(
        stderr().contains("does not match") || stderr().contains("cannot use the certificate"),
        "{}",
        stderr()
    );
    eprintln!("certificate rotation: {total} handshakes under load, none failed");
}

// ---------------------------------------------------------------------------------------
// API keys.

const API_POLICY: &str = r#"package svc

schema {
  entity Service
  entity Doc
  action "docs:read" on Doc for Service
}

route GET "/docs/{id}" => "docs:read" on Doc::{id}

principal Service::{context.auth.subject}
  when context.auth.method == api_key and context.auth has subject

@id("read")
allow "docs:read" on Doc for Service
  when context.auth.scopes has_scope "docs:read"
"#;

fn hash(key: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["apikey", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run rampart apikey hash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{key}\n").as_bytes())
        .expect("write the key");
    let output = child.wait_with_output().expect("its output");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

fn key_record(id: &str, key: &str, window: (&str, &str)) -> Value {
    let mut record = json!({"id": id, "sha256": hash(key), "subject": "billing",
                            "scopes": ["docs:read"]});
    if !window.0.is_empty() {
        record["not_before"] = json!(window.0);
    }
    if !window.1.is_empty() {
        record["expires"] = json!(window.1);
    }
    record
}

/// Two overlapping keys both work; an expired, a not-yet-valid and an unknown key are
/// unauthenticated; the file reloads (a bad file keeps the old keys); no key reaches the
/// decision log, standard error or the metrics.
#[test]
fn api_keys_verify_by_hash_rotate_and_never_leak() {
    let scratch = Scratch::new("fleet-api-keys");
    let policy = scratch.0.join("policy");
    std::fs::create_dir_all(&policy).expect("policy folder");
    std::fs::write(policy.join("svc.rampart"), API_POLICY).expect("write the policy");
    let (old, new, expired, future, unknown) = (
        "rk_old_4f1c9a7e2b6d8053e1a9",
        "rk_new_77c2e0d4a91b3f65c8d2",
        "rk_expired_0a8b7c6d5e4f3a2b",
        "rk_future_1b2c3d4e5f6a7b8c9d",
        "rk_unknown_99aa88bb77cc66dd",
    );
    let file = scratch.0.join("api-keys.json");
    let write_keys = |records: Vec<Value>| replace(&file, &json!({ "keys": records }).to_string());
    write_keys(vec![
        key_record("old", old, ("", "2099-01-01T00:00:00Z")),
        key_record("new", new, ("2020-01-01T00:00:00Z", "")),
        key_record("expired", expired, ("", "2021-01-01T00:00:00Z")),
        key_record("future", future, ("2099-01-01T00:00:00Z", "")),
    ]);
    let (file_s, log) = (
        file.display().to_string(),
        scratch.0.join("decisions.jsonl").display().to_string(),
    );
    let stderr = std::fs::File::create(scratch.0.join("stderr.txt")).expect("stderr file");
    let sidecar = Sidecar::start_with(
        &policy,
        &[
            "--api-keys",
            &file_s,
            "--decision-log",
            &log,
            "--forward-auth",
            "traefik",
            "--watch-interval",
            "100ms",
            "--watch-settle",
            "300ms",
            "--rate-limit-keys",
            "0",
        ],
        Stdio::from(stderr),
    );
    let with_key = |key: &str| read_doc(&sidecar, &[("x-api-key", key)]);
    assert_eq!(with_key(old), 200);
    assert_eq!(with_key(new), 200);
    assert_eq!(with_key(expired), 401);
    assert_eq!(with_key(future), 401);
    assert_eq!(with_key(unknown), 401);
    assert_eq!(read_doc(&sidecar, &[]), 401);
    // A key in another header is not read.
    assert_eq!(read_doc(&sidecar, &[("x-other-key", old)]), 401);
    // The decision API shows what the policy saw.
    let reply: Reply = sidecar.http(
        "POST",
        "/v1/decide",
        &[("content-type", "application/json")],
        json!({"http": {"method": "GET", "path": "/docs/7", "headers": {"X-Api-Key": new}}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(reply.json()["decision"], "allow", "{}", reply.text());

    // The old key retired: the file is rewritten and reloaded.
    write_keys(vec![key_record("new", new, ("2020-01-01T00:00:00Z", ""))]);
    wait_for(
        "the reload retiring the old key",
        Duration::from_secs(10),
        || with_key(old) == 401,
    );
    assert_eq!(with_key(new), 200);
    // A bad file keeps the keys in use.
    replace(&file, "{\"keys\": [{\"id\": \"x\", \"sha256\": \"zz\"}]}");
    wait_for("the failed reload", Duration::from_secs(10), || {
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}").unwrap_or(0.0) >= 1.0
    });
    assert_eq!(with_key(new), 200);

    for (reason, at_least) in [("expired", 1.0), ("not_yet_valid", 1.0), ("unknown", 2.0)] {
        let sample = format!("rampart_api_key_invalid_total{{reason=\"{reason}\"}}");
        let value = metric(&sidecar, &sample).unwrap_or(0.0);
        assert!(value >= at_least, "{sample} = {value}");
    }
    assert!(metric(&sidecar, "rampart_api_key_verified_total").unwrap_or(0.0) >= 4.0);
    let metrics = sidecar.http("GET", "/metrics", &[], b"").text();
    drop(sidecar);
    let decisions = std::fs::read_to_string(&log).expect("the decision log");
    let stderr = std::fs::read_to_string(scratch.0.join("stderr.txt")).unwrap_or_default();
    assert!(decisions.lines().count() >= 8, "{decisions}");
    for key in [old, new, expired, future, unknown] {
        for (what, text) in [
            ("decision log", &decisions),
            ("stderr", &stderr),
            ("metrics", &metrics),
        ] {
            assert!(!text.contains(key), "the key `{key}` is in the {what}");
        }
    }
}

#[test]
fn apikey_hash_prints_the_sha256_of_standard_input() {
    assert_eq!(
        hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["apikey", "hash"])
        .stdin(Stdio::null())
        .output()
        .expect("run rampart apikey hash");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no key on standard input"));
}
