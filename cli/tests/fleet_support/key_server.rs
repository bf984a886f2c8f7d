//! An identity provider's key server for the tests: HTTPS on a loopback port (a
//! certificate of a test CA, trusted by the sidecar through `--outbound-ca`), serving an
//! OpenID Connect discovery document and a JWKS with `Cache-Control` and `ETag`. The test
//! changes the keys and the server's behaviour (down, huge, slow, garbage) while it runs,
//! and reads how many times each document was fetched.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::pki::Ca;

/// How the key server answers the JWKS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The current key set.
    Normal,
    /// Connections are closed before the TLS handshake (the identity provider is down).
    Down,
    /// A 2 MiB body (a key set past the 1 MiB limit).
    Huge,
    /// The answer comes after `slow_for`.
    Slow,
    /// A 200 whose body is not a JWKS.
    Garbage,
    /// A 503.
    Error,
}

struct Shared {
    jwks: String,
    mode: Mode,
    max_age: u64,
    /// The `issuer` the discovery document states (the server's own URL unless changed).
    issuer: Option<String>,
    slow_for: Duration,
}

/// A running key server; stopped on drop.
pub struct KeyServer {
    pub addr: SocketAddr,
    /// The CA of the server's certificate, as PEM.
    pub ca_pem: String,
    shared: Arc<Mutex<Shared>>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl KeyServer {
    /// Serves `jwks` (a JWKS document) with `Cache-Control: max-age=max_age`.
    pub fn start(jwks: &str, max_age: u64) -> KeyServer {
        let ca = Ca::new("rampart test IdP CA");
        let issued = ca.server(1);
        let _ = ring::default_provider().install_default();
        let chain = vec![CertificateDer::from(issued.der.clone())];
        let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).expect("a key");
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a server configuration");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the key server");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Mutex::new(Shared {
            jwks: jwks.to_owned(),
            mode: Mode::Normal,
            max_age,
            issuer: None,
            slow_for: Duration::from_secs(3),
        }));
        let server = KeyServer {
            addr,
            ca_pem: ca.pem,
            shared,
            jwks_fetches: Arc::new(AtomicUsize::new(0)),
            discovery_fetches: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (shared, jwks_fetches, discovery_fetches, stop) = (
            Arc::clone(&server.shared),
            Arc::clone(&server.jwks_fetches),
            Arc::clone(&server.discovery_fetches),
            Arc::clone(&server.stop),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, shared, jwks_fetches, discovery_fetches) = (
                    Arc::clone(&config),
                    Arc::clone(&shared),
                    Arc::clone(&jwks_fetches),
                    Arc::clone(&discovery_fetches),
                );
                std::thread::spawn(move || {
                    answer(
                        stream,
                        config,
                        addr,
                        &shared,
                        &jwks_fetches,
                        &discovery_fetches,
                    )
                });
            }
        });
        server
    }

    /// `https://127.0.0.1:PORT` (the issuer of the discovery document).
    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The JWKS address.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base())
    }

    pub fn set_jwks(&self, jwks: &str) {
        self.shared.lock().expect("lock").jwks = jwks.to_owned();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().expect("lock").mode = mode;
    }

    /// The `issuer` the discovery document states from now on.
    pub fn set_issuer(&self, issuer: &str) {
        self.shared.lock().expect("lock").issuer = Some(issuer.to_owned());
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.discovery_fetches.load(Ordering::SeqCst)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Answers one connection (one request, then close).
fn answer(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    addr: SocketAddr,
    shared: &Mutex<Shared>,
    jwks_fetches: &AtomicUsize,
    discovery_fetches: &AtomicUsize,
) {
    let (mode, jwks, max_age, issuer, slow_for) = {
        let shared = shared.lock().expect("lock");
        (
            shared.mode,
            shared.jwks.clone(),
            shared.max_age,
            shared.issuer.clone(),
            shared.slow_for,
        )
    };
    if mode == Mode::Down {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let if_none_match = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("if-none-match")
            .then(|| value.trim().to_owned())
    });
    let base = format!("https://127.0.0.1:{}", addr.port());
    let (status, body, extra): (u16, Vec<u8>, String) = match path.as_str() {
        "/.well-known/openid-configuration" => {
            discovery_fetches.fetch_add(1, Ordering::SeqCst);
            let issuer = issuer.unwrap_or_else(|| base.clone());
            let document = serde_json::json!({
                "issuer": issuer,
                "jwks_uri": format!("{base}/jwks"),
                "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
            });
            (200, document.to_string().into_bytes(), String::new())
        }
        "/jwks" => {
            jwks_fetches.fetch_add(1, Ordering::SeqCst);
            let etag = format!("\"{:016x}\"", fnv(jwks.as_bytes()));
            let cache = format!("Cache-Control: public, max-age={max_age}\r\nETag: {etag}\r\n");
            match mode {
                Mode::Huge => (200, vec![b' '; 2 << 20], cache),
                Mode::Garbage => (
                    200,
                    b"{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"!!\"}]}".to_vec(),
                    cache,
                ),
                Mode::Error => (503, b"unavailable".to_vec(), String::new()),
                Mode::Slow => {
                    std::thread::sleep(slow_for);
                    (200, jwks.into_bytes(), cache)
                }
                Mode::Normal | Mode::Down => {
                    if if_none_match.as_deref() == Some(etag.as_str()) {
                        (304, Vec::new(), cache)
                    } else {
                        (200, jwks.into_bytes(), cache)
                    }
                }
            }
        }
        _ => (404, b"not found".to_vec(), String::new()),
    };
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    // The huge body comes without a length, so only counting what arrives can stop it.
    let length = if mode == Mode::Huge && path == "/jwks" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{length}{extra}Connection: close\r\n\r\n"
    );
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(&body);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// FNV-1a: a stable ETag for a body.
fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
