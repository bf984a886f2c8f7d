//! TLS and mTLS on the listeners (rustls with the ring provider), reloaded when the files
//! change.
//!
//! One certificate, key and optional client CA secure both listeners. The files are read
//! and checked at start, so a bad file stops `rampart serve` with a clear message rather
//! than failing handshakes later. With a client CA, every client must present a
//! certificate that chains to it; the handshake fails otherwise.
//!
//! **Key design decision:** each listener takes the rustls configuration it hands a new
//! connection from an [`ArcSwap`], so a reload swaps it for new handshakes while
//! connections already open keep the one they started with. Both listeners do their own
//! handshakes (the gRPC listener too: tonic's built-in TLS cannot be reloaded), each in a
//! task of its own bounded by the handshake timeout. The watcher polls the files' contents
//! (SPIFFE SVIDs rotate hourly: a poll a second costs three small reads); a change is
//! loaded once the files stayed the same for the settle period, and a set that does not
//! load (a half-written file, a key that does not match the certificate) is refused,
//! logged and counted, and the old one keeps serving until the files change again.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::idle::IdleTimeout;

/// The largest certificate, key or CA file read.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// The PEM files that secure the listeners.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain, leaf first.
    pub cert: PathBuf,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to; set, it makes client
    /// certificates required (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    message: String,
}

impl TlsError {
    fn new(message: String) -> TlsError {
        TlsError { message }
    }
}

/// The rustls configurations of both listeners, built from one reading of the files.
struct Configs {
    http: Arc<ServerConfig>,
    grpc: Arc<ServerConfig>,
}

/// TLS loaded and checked, ready for both listeners, replaceable while they serve.
pub struct ListenerTls {
    files: TlsFiles,
    http: ArcSwap<ServerConfig>,
    grpc: ArcSwap<ServerConfig>,
    handshake_timeout: Duration,
    /// Reloads of the files: [success, failure].
    reloads: [AtomicU64; 2],
}

impl ListenerTls {
    /// Reads and checks the files. `handshake_timeout` bounds every TLS handshake.
    pub fn load(files: &TlsFiles, handshake_timeout: Duration) -> Result<ListenerTls, TlsError> {
        // tonic (and other rustls users of the process) build configurations with the
        // process-wide provider: make it ring.
        let _ = ring::default_provider().install_default();
        let configs = build(files)?;
        Ok(ListenerTls {
            files: files.clone(),
            http: ArcSwap::new(configs.http),
            grpc: ArcSwap::new(configs.grpc),
            handshake_timeout,
            reloads: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    /// The acceptor of the HTTP listener (ALPN `http/1.1`) with the configuration in use
    /// now: take one per connection.
    pub fn http(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.http.load_full())
    }

    /// The acceptor of the gRPC listener (ALPN `h2`) with the configuration in use now.
    fn grpc(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.grpc.load_full())
    }

    /// Re-reads the files and swaps the new configuration in; on error the old one stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let result = build(&self.files).map(|configs| {
            self.http.store(configs.http);
            self.grpc.store(configs.grpc);
        });
        let slot = usize::from(result.is_err());
        if let Some(counter) = self.reloads.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// The paths of the files.
    fn paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.files.cert.clone(), self.files.key.clone()];
        paths.extend(self.files.client_ca.iter().cloned());
        paths
    }

    /// Appends `rampart_tls_reloads_total` in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str(
            "# HELP rampart_tls_reloads_total Reloads of the listeners' certificate, key and \
             client CA after their files changed, by result; on failure the old ones kept \
             serving.\n",
        );
        out.push_str("# TYPE rampart_tls_reloads_total counter\n");
        for (slot, result) in ["success", "failure"].iter().enumerate() {
            let _ = writeln!(
                out,
                "rampart_tls_reloads_total{{result=\"{result}\"}} {}",
                self.reloads[slot].load(Ordering::Relaxed)
            );
        }
    }
}

/// Polls the files every `interval` and reloads once a change has stayed the same for
/// `settle` (two looks at least). A change that fails to load is not retried until the
/// files change again. Runs until the runtime stops.
pub async fn watch(tls: Arc<ListenerTls>, interval: Duration, settle: Duration) {
    let paths = tls.paths();
    let look = |paths: &Vec<PathBuf>| {
        let paths = paths.clone();
        async move {
            tokio::task::spawn_blocking(move || fingerprint(&paths))
                .await
                .unwrap_or(0)
        }
    };
    let mut loaded = look(&paths).await;
    // The contents seen changing, since when, and at how many looks in a row.
    let mut pending: Option<(u64, Instant, u32)> = None;
    loop {
        tokio::time::sleep(interval).await;
        let now = look(&paths).await;
        if now == loaded {
            pending = None;
            continue;
        }
        let (seen, since, looks) = match pending {
            Some((seen, since, looks)) if seen == now => (seen, since, looks.saturating_add(1)),
            _ => (now, Instant::now(), 1),
        };
        if looks < 2 || since.elapsed() < settle {
            pending = Some((seen, since, looks));
            continue;
        }
        pending = None;
        loaded = now;
        match tls.reload() {
            Ok(()) => eprintln!(
                "rampart serve: reloaded the listeners' TLS certificate `{}`",
                tls.files.cert.display()
            ),
            Err(error) => eprintln!(
                "rampart serve: TLS reload failed; the old certificate keeps serving: {error}"
            ),
        }
    }
}

/// A hash of the files' contents (a missing or unreadable file hashes as such).
fn fingerprint(paths: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for path in paths {
        match read_limited(path) {
            Ok(bytes) => {
                hasher.write_u8(1);
                hasher.write(&bytes);
            }
            Err(_) => hasher.write_u8(0),
        }
    }
    hasher.finish()
}

/// The gRPC listener's connections, TLS handshakes done: each accepted connection is
/// handshaken in a task of its own (bounded by the handshake timeout) with the
/// configuration in use when it was accepted; a failed or slow handshake just closes it.
/// Ends when the receiving side (the gRPC server) is dropped.
pub fn grpc_incoming(
    listener: TcpListener,
    tls: Arc<ListenerTls>,
    idle: Duration,
) -> tonic::codegen::tokio_stream::wrappers::ReceiverStream<
    std::io::Result<TlsStream<IdleTimeout<TcpStream>>>,
> {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = sender.closed() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let acceptor = tls.grpc();
            let timeout = tls.handshake_timeout;
            let sender = sender.clone();
            tokio::spawn(async move {
                let stream = IdleTimeout::new(stream, idle);
                if let Ok(Ok(stream)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await
                {
                    let _ = sender.send(Ok(stream)).await;
                }
            });
        }
    });
    tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(receiver)
}

/// Reads the files and builds both configurations.
fn build(files: &TlsFiles) -> Result<Configs, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let cert_pem = read(&files.cert, "certificate")?;
    let key_pem = read(&files.key, "private key")?;
    let chain = certificates(&cert_pem, &files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| TlsError::new(format!("no private key in `{}`: {e}", files.key.display())))?;
    let verifier = match &files.client_ca {
        Some(path) => {
            let ca_pem = read(path, "client CA")?;
            let mut roots = RootCertStore::empty();
            for certificate in certificates(&ca_pem, path)? {
                roots.add(certificate).map_err(|e| {
                    TlsError::new(format!(
                        "invalid CA certificate in `{}`: {e}",
                        path.display()
                    ))
                })?;
            }
            Some(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| {
                        TlsError::new(format!(
                            "cannot use the client CA `{}`: {e}",
                            path.display()
                        ))
                    })?,
            )
        }
        None => None,
    };
    let config = |alpn: &[u8]| -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(format!("cannot set up TLS: {e}")))?;
        let builder = match &verifier {
            Some(verifier) => builder.with_client_cert_verifier(Arc::clone(verifier)),
            None => builder.with_no_client_auth(),
        };
        // Refuses a key that does not match the certificate.
        let mut config = builder
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| {
                TlsError::new(format!(
                    "cannot use the certificate `{}` with the key `{}`: {e}",
                    files.cert.display(),
                    files.key.display()
                ))
            })?;
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    };
    Ok(Configs {
        http: config(b"http/1.1")?,
        grpc: config(b"h2")?,
    })
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(bytes)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    read_limited(path).map_err(|e| {
        TlsError::new(format!(
            "cannot read the TLS {what} `{}`: {e}",
            path.display()
        ))
    })
}

/// Every certificate of a PEM file; at least one.
fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(format!("invalid PEM in `{}`: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(TlsError::new(format!(
            "no certificate in `{}`",
            path.display()
        )));
    }
    Ok(certificates)
}
