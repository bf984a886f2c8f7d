//! A remote bundle (or entities) source, polled: where it is, how it is fetched and
//! verified, and the on-disk cache of the last good copy.
//!
//! **Key design decision:** a poll costs one request when nothing changed: a manifest HEAD
//! for a registry (its digest compared with the one served), a conditional GET
//! (`If-None-Match`) for a URL. What is fetched is verified here, before anyone parses
//! it; the caller loads it and, only once it is serving, records it as known and caches
//! it, so a bundle that fails to load is never cached and never retried until the source
//! changes again.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::https::{self, Fetched};
use super::oci::{ArtifactKind, OciRef, Registry, RegistryOptions};
use super::{OutboundTls, TransportError};
use crate::signature::{self, PublicKey, Verified, MAX_SIGNATURE_BYTES};

/// The default poll interval (`--poll-interval`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The default bound on one fetch (manifest, blobs, or a GET and its `.sig`).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a remote bundle lives.
#[derive(Clone, Debug)]
pub enum Source {
    Oci(OciRef),
    /// An `https://` URL (or `http://` to loopback, or with `--plain-http`); the signature
    /// is at the URL with `.sig` appended.
    Https(String),
}

impl Source {
    /// `None` when `text` is not a remote source (a path).
    pub fn parse(text: &str, plain_http: bool) -> Option<Result<Source, TransportError>> {
        if text.starts_with("oci://") {
            return Some(OciRef::parse(text).map(Source::Oci));
        }
        if let Some(rest) = text.strip_prefix("https://") {
            return Some(check_url(text, rest).map(|()| Source::Https(text.to_owned())));
        }
        if let Some(rest) = text.strip_prefix("http://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            if !plain_http && !super::oci::is_loopback_host(host) {
                return Some(Err(TransportError::Url(format!(
                    "`{text}`: plain http:// only to a loopback host, or with --plain-http"
                ))));
            }
            return Some(check_url(text, rest).map(|()| Source::Https(text.to_owned())));
        }
        None
    }

    pub fn is_remote(text: &str) -> bool {
        ["oci://", "https://", "http://"]
            .iter()
            .any(|scheme| text.starts_with(scheme))
    }
}

fn check_url(url: &str, rest: &str) -> Result<(), TransportError> {
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url.len() > 2048
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
        || url.contains('#')
    {
        return Err(TransportError::Url(format!(
            "`{url}`: expected https://HOST/PATH"
        )));
    }
    Ok(())
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Oci(r) => r.fmt(f),
            Source::Https(url) => f.write_str(url),
        }
    }
}

/// How a source is fetched and what makes its bytes acceptable.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    pub tls: OutboundTls,
    pub plain_http: bool,
    pub credentials: Option<(String, String)>,
    pub timeout: Duration,
    pub max_bytes: u64,
    /// Any of these keys verifies.
    pub keys: Vec<PublicKey>,
    /// Accept bytes without a signature (a signature that is present must still verify
    /// with one of `keys`).
    pub insecure_unsigned: bool,
}

/// What a source served last (as far as the caller accepted it).
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// The manifest digest (OCI) or ETag (HTTPS).
    pub version: Option<String>,
    /// The digest of the bytes.
    pub digest: Option<String>,
}

/// Verified bytes fetched from a source.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    pub verified: Verified,
    /// The manifest digest (OCI) or ETag (HTTPS) these bytes came with.
    pub version: Option<String>,
}

/// What a poll found.
#[derive(Debug)]
pub enum Polled {
    /// Nothing new: the same manifest digest, a 304, or the same bytes. `version` is what
    /// the source now calls it.
    NotModified {
        version: Option<String>,
    },
    Updated(Candidate),
}

/// Why a poll gave nothing to load.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source could not be reached or read.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// What it served was refused (unsigned, wrongly signed, tampered); `version` is the
    /// manifest digest or ETag it came with.
    #[error("refused: {reason}")]
    Refused {
        reason: String,
        version: Option<String>,
    },
}

/// Fetches one source.
pub struct Fetcher {
    source: Source,
    kind: ArtifactKind,
    registry: Option<Registry>,
    http: Option<reqwest::Client>,
    options: FetchOptions,
}

impl Fetcher {
    pub fn new(
        source: Source,
        kind: ArtifactKind,
        options: FetchOptions,
    ) -> Result<Fetcher, TransportError> {
        let (registry, http) = match &source {
            Source::Oci(reference) => {
                let registry = Registry::new(
                    reference,
                    &RegistryOptions {
                        plain_http: options.plain_http,
                        tls: options.tls.clone(),
                        credentials: options.credentials.clone(),
                        timeout: options.timeout,
                    },
                )?;
                (Some(registry), None)
            }
            Source::Https(_) => (
                None,
                Some(
                    super::http_client(&options.tls, options.timeout)
                        .map_err(|e| TransportError::Client(e.to_string()))?,
                ),
            ),
        };
        Ok(Fetcher {
            source,
            kind,
            registry,
            http,
            options,
        })
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Fetches what the source serves now unless it is `known`, and verifies it.
    pub async fn poll(&self, known: &Known) -> Result<Polled, FetchError> {
        let max = self.options.max_bytes;
        let (bytes, signature, version) = match (&self.source, &self.registry, &self.http) {
            (Source::Oci(reference), Some(registry), _) => {
                let digest = registry.manifest_digest(reference).await?;
                if known.version.as_deref() == Some(digest.as_str()) {
                    return Ok(Polled::NotModified {
                        version: Some(digest),
                    });
                }
                let pulled = registry.pull(reference, self.kind, max).await?;
                (pulled.bytes, pulled.signature, Some(pulled.manifest_digest))
            }
            (Source::Https(url), _, Some(client)) => {
                let timeout = self.options.timeout;
                let fetched =
                    https::get(client, url, known.version.as_deref(), max, timeout, false).await?;
                let (bytes, etag) = match fetched {
                    Some(Fetched::Body { bytes, etag }) => (bytes, etag),
                    Some(Fetched::NotModified) => {
                        return Ok(Polled::NotModified {
                            version: known.version.clone(),
                        })
                    }
                    None => return Err(TransportError::Http(format!("GET {url}: 404")).into()),
                };
                let sig_url = format!("{url}.sig");
                let signature = match https::get(
                    client,
                    &sig_url,
                    None,
                    MAX_SIGNATURE_BYTES as u64,
                    timeout,
                    true,
                )
                .await?
                {
                    Some(Fetched::Body { bytes, .. }) => Some(bytes),
                    _ => None,
                };
                (bytes, signature, etag)
            }
            _ => return Err(TransportError::Client("fetcher without a client".to_owned()).into()),
        };
        let verified = match self.check(&bytes, signature.as_deref()) {
            Ok(verified) => verified,
            Err(FetchError::Refused { reason, .. }) => {
                return Err(FetchError::Refused { reason, version })
            }
            Err(other) => return Err(other),
        };
        if known.digest.as_deref() == Some(verified.digest.as_str()) {
            return Ok(Polled::NotModified { version });
        }
        Ok(Polled::Updated(Candidate {
            bytes,
            signature,
            verified,
            version,
        }))
    }

    /// Verifies `bytes` against `signature` under these options: a signature must verify
    /// with one of the keys; no signature is refused unless `insecure_unsigned`.
    pub fn check(&self, bytes: &[u8], signature: Option<&[u8]>) -> Result<Verified, FetchError> {
        check(&self.options, bytes, signature)
    }
}

/// [`Fetcher::check`] without a fetcher (the cache at start).
pub fn check(
    options: &FetchOptions,
    bytes: &[u8],
    signature: Option<&[u8]>,
) -> Result<Verified, FetchError> {
    let size = bytes.len() as u64;
    if size > options.max_bytes {
        return Err(refused(format!(
            "{size} bytes, over the limit of {}",
            options.max_bytes
        )));
    }
    match signature {
        Some(signature) if !options.keys.is_empty() || !options.insecure_unsigned => {
            signature::verify(bytes, signature, &options.keys, options.max_bytes)
                .map_err(|e| refused(e.to_string()))
        }
        Some(_) | None if options.insecure_unsigned => Ok(Verified::unsigned(bytes)),
        _ => Err(refused(
            "no signature (`--insecure-unsigned` accepts unsigned bundles)".to_owned(),
        )),
    }
}

fn refused(reason: String) -> FetchError {
    FetchError::Refused {
        reason,
        version: None,
    }
}

/// The cache files of `kind` in `dir`: the content and its `.sig`.
fn cache_paths(dir: &Path, kind: ArtifactKind) -> (PathBuf, PathBuf) {
    let name = match kind {
        ArtifactKind::Bundle => "bundle.json",
        ArtifactKind::Entities => "entities.json",
    };
    (dir.join(name), dir.join(format!("{name}.sig")))
}

/// Writes the last good copy to `dir` (created if missing): each file written beside its
/// name, flushed to disk and renamed over it, the signature first. A crash between the two
/// renames leaves a pair that does not verify, which the next start treats as no cache.
pub fn write_cache(
    dir: &Path,
    kind: ArtifactKind,
    bytes: &[u8],
    signature: Option<&[u8]>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (content, sig) = cache_paths(dir, kind);
    match signature {
        Some(signature) => write_atomic(&sig, signature)?,
        None => match std::fs::remove_file(&sig) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    write_atomic(&content, bytes)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A cached copy: the content and its signature, if it had one.
pub type Cached = (Vec<u8>, Option<Vec<u8>>);

/// Reads the cached copy of `kind` from `dir` (`None` when there is none), each file under
/// its limit. The caller verifies it.
pub fn read_cache(
    dir: &Path,
    kind: ArtifactKind,
    max_bytes: u64,
) -> std::io::Result<Option<Cached>> {
    let (content, sig) = cache_paths(dir, kind);
    let Some(bytes) = read_bounded(&content, max_bytes)? else {
        return Ok(None);
    };
    let signature = read_bounded(&sig, MAX_SIGNATURE_BYTES as u64)?;
    Ok(Some((bytes, signature)))
}

fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "`{}` is not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "`{}` is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{sign, SigningKey};

    fn options(keys: Vec<PublicKey>, insecure: bool) -> FetchOptions {
        FetchOptions {
            tls: OutboundTls::default(),
            plain_http: false,
            credentials: None,
            timeout: Duration::from_secs(1),
            max_bytes: 1024,
            keys,
            insecure_unsigned: insecure,
        }
    }

    fn key() -> SigningKey {
        SigningKey::generate().unwrap()
    }

    #[test]
    fn unsigned_bytes_pass_only_with_insecure_unsigned_and_a_bad_signature_never() {
        let key = key();
        let bytes = b"{}";
        let good = sign(bytes, "r", &key, 1);
        let other = sign(bytes, "r", &SigningKey::generate().unwrap(), 1);
        let keys = vec![key.public_key().clone()];
        assert!(check(&options(keys.clone(), false), bytes, Some(good.as_bytes())).is_ok());
        assert!(check(&options(keys.clone(), false), bytes, None).is_err());
        assert!(check(&options(keys.clone(), false), bytes, Some(other.as_bytes())).is_err());
        assert!(check(&options(keys.clone(), true), bytes, None).is_ok());
        assert!(check(&options(keys, true), bytes, Some(other.as_bytes())).is_err());
        assert!(check(&options(vec![], true), bytes, Some(other.as_bytes())).is_ok());
        assert!(check(&options(vec![], true), &[b' '; 2048], None).is_err());
    }

    #[test]
    fn sources_are_told_apart_and_plain_http_needs_loopback() {
        assert!(matches!(
            Source::parse("oci://127.0.0.1:5000/p:v1", false),
            Some(Ok(Source::Oci(_)))
        ));
        assert!(matches!(
            Source::parse("https://h.example/b.json", false),
            Some(Ok(Source::Https(_)))
        ));
        assert!(matches!(
            Source::parse("http://127.0.0.1:8080/b.json", false),
            Some(Ok(_))
        ));
        assert!(matches!(
            Source::parse("http://h.example/b.json", false),
            Some(Err(_))
        ));
        assert!(matches!(
            Source::parse("http://h.example/b.json", true),
            Some(Ok(_))
        ));
        assert!(Source::parse("https:///x", false).unwrap().is_err());
        assert!(Source::parse("policies/", false).is_none());
    }

    #[test]
    fn the_cache_round_trips_and_refuses_oversized_files() {
        let dir = std::env::temp_dir().join(format!("rampart-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(read_cache(&dir, ArtifactKind::Bundle, 100)
            .unwrap()
            .is_none());
        write_cache(&dir, ArtifactKind::Bundle, b"abc", Some(b"sig")).unwrap();
        let (bytes, sig) = read_cache(&dir, ArtifactKind::Bundle, 100)
            .unwrap()
            .unwrap();
        assert_eq!(
            (bytes.as_slice(), sig.as_deref()),
            (&b"abc"[..], Some(&b"sig"[..]))
        );
        write_cache(&dir, ArtifactKind::Bundle, b"abcd", None).unwrap();
        let (bytes, sig) = read_cache(&dir, ArtifactKind::Bundle, 100)
            .unwrap()
            .unwrap();
        assert_eq!((bytes.as_slice(), sig), (&b"abcd"[..], None));
        assert!(read_cache(&dir, ArtifactKind::Bundle, 3).is_err());
        assert!(read_cache(&dir, ArtifactKind::Entities, 100)
            .unwrap()
            .is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
