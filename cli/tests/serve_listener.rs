//! `rampart serve` listener security and limits: TLS and mTLS on both listeners with
//! certificates made at test time (rcgen), plaintext refused on a TLS port, oversized
//! request heads, slow clients and slow bodies.

mod serve_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_sidecar::proto::rampart::v1::decisions_client::DecisionsClient;
use rampart_sidecar::proto::rampart::v1::{DecideRequest, Effect, Entity};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serve_support::{gateway_fixture, parse_response, Reply, Scratch, Sidecar};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const PEER: &str = "spiffe://corp/docs-editor";
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A CA, a server certificate for `localhost`/127.0.0.1 and a client certificate with a
/// SPIFFE id, all made now and written as PEM files into a scratch folder.
struct Pki {
    dir: Scratch,
    ca: String,
    client_cert: String,
    client_key: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.distinguished_name
            .push(DnType::CommonName, "rampart test CA");
        let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().expect("a server key");
        let mut server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server parameters");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_pem = server
            .signed_by(&server_key, &issuer)
            .expect("a server certificate")
            .pem();

        let client_key = KeyPair::generate().expect("a client key");
        let mut client = CertificateParams::new(Vec::<String>::new()).expect("client parameters");
        client.subject_alt_names = vec![SanType::URI(PEER.try_into().expect("an IA5 URI"))];
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_pem = client
            .signed_by(&client_key, &issuer)
            .expect("a client certificate")
            .pem();

        let dir = Scratch::new(name);
        let write = |file: &str, text: &str| {
            std::fs::write(dir.0.join(file), text).expect("write a PEM file");
        };
        write("ca.pem", &ca_pem);
        write("server.pem", &server_pem);
        write("server.key", &server_key.serialize_pem());
        Pki {
            dir,
            ca: ca_pem,
            client_cert: client_pem,
            client_key: client_key.serialize_pem(),
        }
    }

    fn path(&self, file: &str) -> String {
        self.dir.0.join(file).display().to_string()
    }

    /// `rampart serve` flags: TLS, and mTLS when `mtls`.
    fn flags(&self, mtls: bool) -> Vec<String> {
        let mut flags = vec![
            "--tls-cert".to_owned(),
            self.path("server.pem"),
            "--tls-key".to_owned(),
            self.path("server.key"),
        ];
        if mtls {
            flags.push("--tls-client-ca".to_owned());
            flags.push(self.path("ca.pem"));
        }
        flags
    }
}

fn start(pki: &Pki, mtls: bool) -> Sidecar {
    let flags = pki.flags(mtls);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Sidecar::start(&gateway_fixture(), &flags)
}

fn read_handbook() -> DecideRequest {
    DecideRequest {
        principal: Some(Entity {
            r#type: "Service".into(),
            id: PEER.into(),
        }),
        action: "docs:read".into(),
        resource: Some(Entity {
            r#type: "Doc".into(),
            id: "handbook".into(),
        }),
        ..DecideRequest::default()
    }
}

/// One `Decide` over gRPC with TLS trusting the test CA, with the client certificate when
/// `with_client_cert`.
async fn decide_over_tls(
    sidecar: &Sidecar,
    pki: &Pki,
    with_client_cert: bool,
) -> Result<Effect, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    if with_client_cert {
        tls = tls.identity(Identity::from_pem(&pki.client_cert, &pki.client_key));
    }
    let channel = Channel::from_shared(format!("https://{}", sidecar.grpc))
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(IO_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    decide_on(channel).await
}

async fn decide_on(channel: Channel) -> Result<Effect, String> {
    let response = DecisionsClient::new(channel)
        .decide(read_handbook())
        .await
        .map_err(|e| format!("decide: {e}"))?;
    let effect = response.get_ref().decision.as_ref().map_or(0, |d| d.effect);
    Effect::try_from(effect).map_err(|e| e.to_string())
}

/// `GET /healthz` over HTTPS trusting the test CA, with the client certificate when
/// `with_client_cert`.
fn https_healthz(addr: SocketAddr, pki: &Pki, with_client_cert: bool) -> Result<Reply, String> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
        roots
            .add(certificate.expect("a CA certificate"))
            .expect("a trusted root");
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    let config = if with_client_cert {
        let chain = CertificateDer::pem_slice_iter(pki.client_cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the client chain");
        let key = PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).expect("the key");
        builder
            .with_client_auth_cert(chain, key)
            .expect("a client identity")
    } else {
        builder.with_no_client_auth()
    };
    let server = ServerName::try_from("localhost").expect("a server name");
    let connection = ClientConnection::new(Arc::new(config), server).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut tls = StreamOwned::new(connection, tcp);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A peer that closes without close_notify: what was read is the answer.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    if raw.is_empty() {
        return Err("no answer".into());
    }
    Ok(parse_response(&raw))
}

/// Sends `bytes` on a fresh connection and reads until the server closes it (bounded).
fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.write_all(bytes).expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_both_listeners_to_clients_trusting_the_ca_and_refuses_plaintext() {
    let pki = Pki::new("tls");
    let sidecar = start(&pki, false);

    assert_eq!(
        decide_over_tls(&sidecar, &pki, false).await,
        Ok(Effect::Allow)
    );
    let reply = https_healthz(sidecar.http, &pki, false).expect("HTTPS answers");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ok\n");

    // Plaintext gRPC to the TLS port fails.
    let plaintext = async {
        let channel = Channel::from_shared(format!("http://{}", sidecar.grpc))
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        decide_on(channel).await
    };
    let outcome = tokio::time::timeout(IO_TIMEOUT, plaintext)
        .await
        .expect("plaintext gRPC fails in time");
    assert!(outcome.is_err(), "{outcome:?}");

    // Plaintext HTTP to the TLS port gets no HTTP answer.
    let raw = raw_exchange(
        sidecar.http,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_requires_a_client_certificate_from_the_client_ca() {
    let pki = Pki::new("mtls");
    let sidecar = start(&pki, true);

    assert_eq!(
        decide_over_tls(&sidecar, &pki, true).await,
        Ok(Effect::Allow)
    );
    let reply = https_healthz(sidecar.http, &pki, true).expect("HTTPS with a certificate");
    assert_eq!(reply.status, 200);

    let refused = tokio::time::timeout(IO_TIMEOUT, decide_over_tls(&sidecar, &pki, false))
        .await
        .expect("refused in time");
    assert!(refused.is_err(), "{refused:?}");
    let refused = https_healthz(sidecar.http, &pki, false);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("CertificateRequired")),
        "{refused:?}"
    );

    // A certificate from another CA is refused too.
    let stranger = Pki::new("stranger");
    let foreign = Pki {
        dir: Scratch::new("foreign"),
        ca: pki.ca.clone(),
        client_cert: stranger.client_cert.clone(),
        client_key: stranger.client_key.clone(),
    };
    let refused = https_healthz(sidecar.http, &foreign, true);
    assert!(refused.is_err(), "{refused:?}");
    let refused = tokio::time::timeout(IO_TIMEOUT, decide_over_tls(&sidecar, &foreign, true))
        .await
        .expect("refused in time");
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn unusable_tls_files_stop_the_server_with_a_usage_error() {
    let pki = Pki::new("bad-files");
    let missing = pki.dir.0.join("missing.pem");
    let run = |args: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("serve")
            .arg(gateway_fixture())
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("run rampart serve")
    };
    let path = |p: &PathBuf| p.display().to_string();

    let output = run(&[
        "--tls-cert".into(),
        path(&missing),
        "--tls-key".into(),
        pki.path("server.key"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot read the TLS certificate `{}`",
            missing.display()
        )),
        "{stderr}"
    );

    // A key that is not the certificate's.
    let output = run(&[
        "--tls-cert".into(),
        pki.path("server.pem"),
        "--tls-key".into(),
        pki.path("ca.pem"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no private key in"), "{stderr}");

    // A key without a certificate, and a zero timeout, are usage errors.
    let output = run(&["--tls-key".into(), pki.path("server.key")]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["--request-timeout".into(), "0s".into()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 1 ms"), "{stderr}");
}

#[test]
fn an_oversized_request_head_is_a_431_and_an_oversized_body_a_413() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let big = "a".repeat(rampart_sidecar::MAX_HEADER_BYTES + 1);
    let reply = sidecar.http("GET", "/healthz", &[("x-big", &big)], b"");
    assert_eq!(reply.status, 431);
    let body = vec![b' '; rampart_sidecar::MAX_BODY_BYTES + 1];
    let reply = sidecar.http("POST", "/v1/decide", &[], &body);
    assert_eq!(reply.status, 413);
    // Headers under the limit are fine.
    let reply = sidecar.http("GET", "/healthz", &[("x-big", &big[..32 << 10])], b"");
    assert_eq!(reply.status, 200);
}

#[test]
fn slow_clients_and_idle_connections_are_cut_off() {
    let sidecar = Sidecar::start(
        &gateway_fixture(),
        &[
            "--request-timeout",
            "300ms",
            "--header-read-timeout",
            "400ms",
        ],
    );

    // A request head that never ends: the connection is closed, nothing is answered.
    let started = Instant::now();
    let raw = raw_exchange(sidecar.http, b"GET /healthz HTTP/1.1\r\nHost: a\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );

    // A body that trickles: 408, never a decision.
    let started = Instant::now();
    let raw = raw_exchange(
        sidecar.http,
        b"POST /v1/decide HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"acti",
    );
    let waited = started.elapsed();
    let reply = parse_response(&raw);
    assert_eq!(reply.status, 408, "{}", reply.text());
    assert!(
        reply.text().contains("not complete within 300 ms"),
        "{}",
        reply.text()
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // An idle keep-alive connection is closed after the header-read timeout, after
    // answering its request.
    let started = Instant::now();
    let raw = raw_exchange(sidecar.http, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    let waited = started.elapsed();
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(5),
        "{waited:?}"
    );

    // The server still answers promptly.
    let reply = sidecar.http("GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 200);
}

/// An HTTP/2 frame on stream 0.
fn h2_frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("a small frame")
        .to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// Reads one frame: (type, flags, payload); `None` once the connection has ended.
fn h2_read_frame(stream: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).ok()?;
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).ok()?;
    Some((head[3], head[4], payload))
}

/// Opens an HTTP/2 connection by hand (no request): the preface, empty SETTINGS, and the
/// ack of the server's SETTINGS.
fn h2_open(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect to the gRPC listener");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write the preface");
    stream
        .write_all(&h2_frame(0x4, 0, &[]))
        .expect("write SETTINGS");
    loop {
        let (kind, flags, _) = h2_read_frame(&mut stream).expect("the server's SETTINGS");
        if kind == 0x4 && flags & 1 == 0 {
            stream
                .write_all(&h2_frame(0x4, 1, &[]))
                .expect("ack SETTINGS");
            return stream;
        }
    }
}

/// Sends a PING and waits for its ack: false when the connection ended first.
fn h2_ping(stream: &mut TcpStream, n: u8) -> bool {
    let payload = [n; 8];
    if stream.write_all(&h2_frame(0x6, 0, &payload)).is_err() {
        return false;
    }
    while let Some((kind, flags, data)) = h2_read_frame(stream) {
        if kind == 0x6 && flags & 1 == 1 && data == payload {
            return true;
        }
    }
    false
}

#[test]
fn an_idle_grpc_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(1000);
    let sidecar = Sidecar::start(
        &gateway_fixture(),
        &[
            "--request-timeout",
            "300ms",
            "--grpc-idle-timeout",
            "1000ms",
        ],
    );
    // Baseline: a connection and a round trip, on this machine now.
    let started = Instant::now();
    let mut busy = h2_open(sidecar.grpc);
    assert!(h2_ping(&mut busy, 1));
    let round_trip = started.elapsed();
    let bound = idle + round_trip * 10 + Duration::from_secs(5);

    // A connection that says nothing after its handshake.
    let addr = sidecar.grpc;
    let quiet = std::thread::spawn(move || {
        let mut stream = h2_open(addr);
        stream.set_read_timeout(Some(bound)).expect("timeout");
        let opened = Instant::now();
        let mut sink = [0u8; 256];
        loop {
            match stream.read(&mut sink) {
                // A GOAWAY may come first; the end of the connection is what counts.
                Ok(n) if n > 0 => continue,
                Ok(_) => return Some(opened.elapsed()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(_) => return Some(opened.elapsed()),
            }
        }
    });

    // Meanwhile a connection with traffic every 200 ms outlives the idle timeout twice over.
    let talking = Instant::now();
    let mut n = 2;
    while talking.elapsed() < idle * 2 + Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            h2_ping(&mut busy, n),
            "a busy connection was closed after {:?}",
            talking.elapsed()
        );
        n = n.wrapping_add(1);
    }

    let closed = quiet.join().expect("the quiet connection's thread");
    let Some(closed) = closed else {
        panic!("an idle gRPC connection was still open after {bound:?}");
    };
    assert!(
        closed >= idle - Duration::from_millis(100) && closed < bound,
        "closed after {closed:?} (idle timeout {idle:?}, bound {bound:?})"
    );
}

#[test]
fn a_grpc_idle_timeout_not_above_the_request_timeout_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("serve")
        .arg(gateway_fixture())
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--request-timeout", "5s", "--grpc-idle-timeout", "5s"])
        .output()
        .expect("run rampart serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "`--grpc-idle-timeout 5000ms` must be longer than `--request-timeout 5000ms`"
        ),
        "{stderr}"
    );
}
