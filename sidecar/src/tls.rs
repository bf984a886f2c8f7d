//! TLS and mTLS on the listeners (rustls with the ring provider).
//!
//! One certificate, key and optional client CA secure both listeners. The files are read
//! and checked once at start, so a bad file stops `rampart serve` with a clear message
//! rather than failing handshakes later. With a client CA, every client must present a
//! certificate that chains to it; the handshake fails otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

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

/// TLS loaded and checked, ready for both listeners.
pub struct ListenerTls {
    http: TlsAcceptor,
    grpc: ServerTlsConfig,
}

impl ListenerTls {
    /// Reads and checks the files. `handshake_timeout` bounds every TLS handshake.
    pub fn load(files: &TlsFiles, handshake_timeout: Duration) -> Result<ListenerTls, TlsError> {
        let provider = Arc::new(ring::default_provider());
        // tonic builds its rustls config with the process-wide provider: make it ring.
        let _ = ring::default_provider().install_default();

        let cert_pem = read(&files.cert, "certificate")?;
        let key_pem = read(&files.key, "private key")?;
        let chain = certificates(&cert_pem, &files.cert)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            TlsError::new(format!("no private key in `{}`: {e}", files.key.display()))
        })?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(format!("cannot set up TLS: {e}")))?;
        let (builder, ca_pem) = match &files.client_ca {
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
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| {
                            TlsError::new(format!(
                                "cannot use the client CA `{}`: {e}",
                                path.display()
                            ))
                        })?;
                (builder.with_client_cert_verifier(verifier), Some(ca_pem))
            }
            None => (builder.with_no_client_auth(), None),
        };
        let mut http = builder.with_single_cert(chain, key).map_err(|e| {
            TlsError::new(format!(
                "cannot use the certificate `{}` with the key `{}`: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })?;
        http.alpn_protocols = vec![b"http/1.1".to_vec()];

        let mut grpc = ServerTlsConfig::new()
            .identity(Identity::from_pem(&cert_pem, &key_pem))
            .timeout(handshake_timeout);
        if let Some(ca_pem) = ca_pem {
            grpc = grpc.client_ca_root(Certificate::from_pem(ca_pem));
        }
        Ok(ListenerTls {
            http: TlsAcceptor::from(Arc::new(http)),
            grpc,
        })
    }

    /// The acceptor of the HTTP listener (ALPN `http/1.1`).
    pub fn http(&self) -> TlsAcceptor {
        self.http.clone()
    }

    /// The configuration of the gRPC listener (ALPN `h2`).
    pub fn grpc(&self) -> ServerTlsConfig {
        self.grpc.clone()
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
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
