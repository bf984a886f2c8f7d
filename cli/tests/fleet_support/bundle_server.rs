//! A plain HTTPS server for the URL form of remote bundles: rustls with a certificate made
//! now by rcgen (its CA written to a PEM file for `--outbound-ca`), serving files with an
//! ETag and answering `If-None-Match` with 304; per path it can also misbehave (an endless
//! body, a huge Content-Length, a slow answer). Counts what it answered. A thread per
//! connection; stopped on drop.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How a path is answered.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with this body and ETag (304 when `If-None-Match` names it).
    File { body: Vec<u8>, etag: String },
    /// 200 and bytes forever.
    Endless,
    /// 200 announcing a body of this many bytes, and a little of it.
    HugeLength(u64),
    /// Nothing for this long, then 200 with this body.
    Slow(Duration, Vec<u8>),
}

/// What the server answered, by path and status.
#[derive(Default, Debug)]
pub struct Log {
    pub answers: Vec<(String, u16)>,
}

pub struct BundleServer {
    pub addr: SocketAddr,
    pub ca: PathBuf,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    pub log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
}

impl BundleServer {
    /// Starts on a loopback port; writes the CA to `dir/ca.pem`.
    pub fn start(dir: &Path) -> BundleServer {
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
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server parameters");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert_pem = params
            .signed_by(&key, &issuer)
            .expect("a certificate")
            .pem();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &ca_pem).expect("write ca.pem");

        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the chain");
        let private = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("key");
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .expect("a server identity");
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let log: Arc<Mutex<Log>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (answers, log, stop) = (answers.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (config, answers, log, stop) =
                                (config.clone(), answers.clone(), log.clone(), stop.clone());
                            std::thread::spawn(move || {
                                serve(stream, config, &answers, &log, &stop);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        BundleServer {
            addr,
            ca: ca_path,
            answers,
            log,
            stop,
        }
    }

    pub fn set(&self, path: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(path.to_owned(), answer);
    }

    pub fn remove(&self, path: &str) {
        self.answers.lock().unwrap().remove(path);
    }

    /// `https://localhost:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// How many answers of `status` were given for `path`.
    pub fn count(&self, path: &str, status: u16) -> usize {
        let log = self.log.lock().unwrap();
        log.answers
            .iter()
            .filter(|(p, s)| p == path && *s == status)
            .count()
    }
}

impl Drop for BundleServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    answers: &Mutex<HashMap<String, Answer>>,
    log: &Mutex<Log>,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || tls.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let if_none_match = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("if-none-match")
            .then(|| value.trim().to_owned())
    });
    let answer = answers.lock().unwrap().get(&path).cloned();
    let record = |status: u16| log.lock().unwrap().answers.push((path.clone(), status));
    match answer {
        None => {
            record(404);
            let _ = tls.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        Some(Answer::File { body, etag }) => {
            if if_none_match.as_deref() == Some(etag.as_str()) {
                record(304);
                let _ = tls.write_all(
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                );
            } else {
                record(200);
                let _ = tls.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = tls.write_all(&body);
            }
        }
        Some(Answer::Endless) => {
            record(200);
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b' '; 64 * 1024];
            while !stop.load(Ordering::SeqCst) && tls.write_all(&chunk).is_ok() {}
        }
        Some(Answer::HugeLength(length)) => {
            record(200);
            let _ = tls.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{{"
                )
                .as_bytes(),
            );
            std::thread::sleep(Duration::from_secs(2));
        }
        Some(Answer::Slow(wait, body)) => {
            record(200);
            std::thread::sleep(wait);
            let _ = tls.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = tls.write_all(&body);
        }
    }
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
