//! Outbound HTTPS: one way to build the client every fetch and upload of the fleet uses.
//!
//! TLS is rustls on ring, trusting the system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR`
//! honoured) plus the PEM certificates of [`OutboundTls::extra_ca`]; plain `http://` is
//! allowed only to the loopback interface ([`is_loopback_host`]; the one check every
//! outbound door uses) or where the operator says so (`--plain-http`).

pub mod https;
pub mod oci;
pub mod remote;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The largest CA file read.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// How outgoing connections are secured.
#[derive(Clone, Debug, Default)]
pub struct OutboundTls {
    /// PEM certificates trusted in addition to the system's roots.
    pub extra_ca: Option<PathBuf>,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("CA file `{path}`: {reason}")]
    CaFile { path: String, reason: String },
    #[error("no trusted root certificate: the system has none and no CA file was given")]
    NoRoots,
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Why a fetch or a push failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Url(String),
    #[error(transparent)]
    Ca(#[from] ClientError),
    #[error("client: {0}")]
    Client(String),
    #[error("registry: {0}")]
    Registry(String),
    #[error("{0}")]
    Http(String),
    #[error("artifact refused: {0}")]
    Artifact(String),
    #[error("{what} larger than the limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("timed out: no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// True when `host` (`HOST`, `HOST:PORT`, `[V6]:PORT`) names the loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An error and its causes on one line (reqwest hides the cause of a connect error): the
/// one way every outbound door reports a failed request.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(cause) = source {
        if depth >= 4 {
            break;
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
        depth += 1;
    }
    text
}

/// Installs ring as the process's rustls provider, for the clients other crates build from
/// a process default (the OCI client). Idempotent; a provider already installed stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls client configuration: ring, the system roots and `tls.extra_ca`.
pub fn client_config(tls: &OutboundTls) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = &tls.extra_ca {
        for cert in read_ca(path)? {
            roots.add(cert).map_err(|e| ClientError::CaFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(ClientError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// An HTTP client for fetches and uploads: rustls as [`client_config`], `timeout` for a
/// whole request, no redirects to another scheme, no proxy from the environment.
pub fn http_client(tls: &OutboundTls, timeout: Duration) -> Result<reqwest::Client, ClientError> {
    let mut config = client_config(tls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::limited(5))
        .no_proxy()
        .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Client(e.to_string()))
}

pub(crate) fn read_ca(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ClientError> {
    use std::io::Read as _;
    let fail = |reason: String| ClientError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(fail(format!("larger than {MAX_CA_FILE_BYTES} bytes")));
    }
    use rustls::pki_types::pem::PemObject as _;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_an_error() {
        let missing = OutboundTls {
            extra_ca: Some(PathBuf::from("/nonexistent/ca.pem")),
        };
        assert!(matches!(
            client_config(&missing),
            Err(ClientError::CaFile { .. })
        ));
        let dir = std::env::temp_dir().join(format!("rampart-bundle-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(&OutboundTls {
            extra_ca: Some(empty),
        })
        .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
