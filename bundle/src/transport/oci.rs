//! Bundles as OCI artifacts (ORAS-compatible), through the `oci-client` crate.
//!
//! An artifact is an OCI image manifest with `artifactType`
//! [`BUNDLE_ARTIFACT_TYPE`] (or [`ENTITIES_ARTIFACT_TYPE`]), the empty config, one layer
//! holding the file and, when signed, one layer holding its `.sig`; each layer carries
//! `org.opencontainers.image.title` (the file name, as `oras push` writes it) and the
//! manifest carries the revision and a title.
//!
//! A pull reads the manifest (HEAD first: when its digest is the one already served,
//! nothing else is fetched), refuses a manifest that is not one of these, checks every
//! layer's declared size against the limit before fetching it, and reads each blob under
//! that limit while hashing it.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OCI_IMAGE_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use sha2::{Digest as _, Sha256};

use super::{OutboundTls, TransportError};

/// The `artifactType` of a bundle.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.rampart.bundle.v1";
/// The media type of a bundle layer (the bundle JSON, byte for byte).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.rampart.bundle.v1+json";
/// The media type of a signature layer (the `.sig` file: a compact JWS).
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.rampart.bundle.signature.v1+jws";
/// The `artifactType` of entity data.
pub const ENTITIES_ARTIFACT_TYPE: &str = "application/vnd.rampart.entities.v1";
/// The media type of an entities layer (the entities JSON, byte for byte).
pub const ENTITIES_MEDIA_TYPE: &str = "application/vnd.rampart.entities.v1+json";
/// The empty config of artifacts (OCI image spec 1.1).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// The largest manifest accepted (an artifact's is under 2 KiB).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// The most layers an artifact may list.
const MAX_LAYERS: usize = 8;

/// What an artifact holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    Bundle,
    Entities,
}

impl ArtifactKind {
    pub fn artifact_type(self) -> &'static str {
        match self {
            ArtifactKind::Bundle => BUNDLE_ARTIFACT_TYPE,
            ArtifactKind::Entities => ENTITIES_ARTIFACT_TYPE,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ArtifactKind::Bundle => BUNDLE_MEDIA_TYPE,
            ArtifactKind::Entities => ENTITIES_MEDIA_TYPE,
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            ArtifactKind::Bundle => "bundle.json",
            ArtifactKind::Entities => "entities.json",
        }
    }
}

/// `oci://HOST[:PORT]/REPO:TAG` (or `…/REPO@sha256:…`).
#[derive(Clone, Debug)]
pub struct OciRef {
    reference: Reference,
}

impl OciRef {
    /// Parses an `oci://` URL. A tag or digest is required: `latest` is never implied.
    pub fn parse(url: &str) -> Result<OciRef, TransportError> {
        let bad = |why: &str| TransportError::Url(format!("`{url}`: {why}"));
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| bad("expected oci://HOST[:PORT]/REPOSITORY:TAG"))?;
        if rest.len() > 1024 || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("too long or not printable"));
        }
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no repository after the registry"))?;
        if host.is_empty() || path.is_empty() {
            return Err(bad("expected oci://HOST[:PORT]/REPOSITORY:TAG"));
        }
        let last = path.rsplit('/').next().unwrap_or(path);
        if !last.contains(':') && !path.contains('@') {
            return Err(bad("no tag (`:TAG`) or digest (`@sha256:…`)"));
        }
        let reference: Reference = rest.parse().map_err(|e| bad(&format!("{e}")))?;
        // The registry must be the host given, never a default one.
        if reference.registry() != host {
            return Err(bad("the registry host is not understood"));
        }
        Ok(OciRef { reference })
    }

    /// `HOST[:PORT]`.
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// True for a loopback registry (127.0.0.0/8, ::1, localhost): plain HTTP, as Docker.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.registry())
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}", self.reference.whole())
    }
}

pub use super::is_loopback_host;

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Plain HTTP even for a registry that is not on loopback (`--plain-http`).
    pub plain_http: bool,
    pub tls: OutboundTls,
    /// Basic credentials; anonymous when `None`.
    pub credentials: Option<(String, String)>,
    /// The longest one pull or push may take.
    pub timeout: Duration,
}

/// An artifact to push.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    pub revision: String,
}

/// A pulled artifact: its manifest digest and the layers' bytes (digests checked).
#[derive(Clone, Debug)]
pub struct Pulled {
    pub manifest_digest: String,
    pub bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

/// A client of one registry.
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
    timeout: Duration,
}

impl Registry {
    /// A client for `reference`'s registry.
    pub fn new(reference: &OciRef, options: &RegistryOptions) -> Result<Registry, TransportError> {
        super::install_crypto_provider();
        let protocol = if options.plain_http || reference.is_loopback() {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let mut extra = Vec::new();
        if let Some(path) = &options.tls.extra_ca {
            // Read (and checked) through the shared reader: bounded, PEM certificates only.
            for cert in super::read_ca(path)? {
                extra.push(Certificate {
                    encoding: CertificateEncoding::Der,
                    data: cert.as_ref().to_vec(),
                });
            }
        }
        let config = ClientConfig {
            protocol,
            extra_root_certificates: extra,
            platform_resolver: None,
            connect_timeout: Some(options.timeout.min(Duration::from_secs(10))),
            read_timeout: Some(options.timeout),
            user_agent: concat!("rampart/", env!("CARGO_PKG_VERSION")),
            max_concurrent_download: 2,
            max_concurrent_upload: 2,
            ..ClientConfig::default()
        };
        let client = oci_client::Client::try_from(config)
            .map_err(|e| TransportError::Client(e.to_string()))?;
        let auth = match &options.credentials {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok(Registry {
            client,
            auth,
            timeout: options.timeout,
        })
    }

    async fn bounded<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
    ) -> Result<T, TransportError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(TransportError::Registry(format!("{what}: {e}"))),
            Err(_) => Err(TransportError::Timeout(self.timeout)),
        }
    }

    /// Pushes `artifact` to `reference`; returns the manifest's digest.
    pub async fn push(
        &self,
        reference: &OciRef,
        artifact: &Artifact,
    ) -> Result<String, TransportError> {
        let title = |name: &str| {
            Some(BTreeMap::from([(
                "org.opencontainers.image.title".to_owned(),
                name.to_owned(),
            )]))
        };
        let name = artifact.kind.file_name();
        let mut layers = vec![ImageLayer::new(
            artifact.bytes.clone(),
            artifact.kind.media_type().to_owned(),
            title(name),
        )];
        if let Some(signature) = &artifact.signature {
            layers.push(ImageLayer::new(
                signature.clone(),
                SIGNATURE_MEDIA_TYPE.to_owned(),
                title(&format!("{name}.sig")),
            ));
        }
        let config = Config::new(b"{}".to_vec(), EMPTY_CONFIG_MEDIA_TYPE.to_owned(), None);
        let annotations = BTreeMap::from([
            (
                "org.opencontainers.image.revision".to_owned(),
                artifact.revision.clone(),
            ),
            ("org.opencontainers.image.title".to_owned(), name.to_owned()),
        ]);
        let mut manifest = OciImageManifest::build(&layers, &config, Some(annotations));
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
        manifest.artifact_type = Some(artifact.kind.artifact_type().to_owned());
        self.bounded(
            "push",
            self.client.push(
                &reference.reference,
                &layers,
                config,
                &self.auth,
                Some(manifest),
            ),
        )
        .await?;
        // The digest of the manifest as the registry stores it (one HEAD).
        self.manifest_digest(reference).await
    }

    /// The digest of the manifest `reference` names now (one HEAD request).
    pub async fn manifest_digest(&self, reference: &OciRef) -> Result<String, TransportError> {
        self.bounded(
            "manifest",
            self.client
                .fetch_manifest_digest(&reference.reference, &self.auth),
        )
        .await
    }

    /// Pulls the artifact `reference` names, refusing any blob over `max_bytes`.
    pub async fn pull(
        &self,
        reference: &OciRef,
        kind: ArtifactKind,
        max_bytes: u64,
    ) -> Result<Pulled, TransportError> {
        let (raw, manifest_digest) = self
            .bounded(
                "manifest",
                self.client.pull_manifest_raw(
                    &reference.reference,
                    &self.auth,
                    &[OCI_IMAGE_MEDIA_TYPE],
                ),
            )
            .await?;
        if raw.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(TransportError::TooLarge {
                what: "manifest",
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let manifest: OciImageManifest = serde_json::from_slice(&raw)
            .map_err(|e| TransportError::Artifact(format!("manifest: {e}")))?;
        let (content, signature) = layers_of(&manifest, kind, max_bytes)?;
        let bytes = self.blob(reference, content, max_bytes).await?;
        let signature = match signature {
            Some(layer) => Some(
                self.blob(
                    reference,
                    layer,
                    crate::signature::MAX_SIGNATURE_BYTES as u64,
                )
                .await?,
            ),
            None => None,
        };
        Ok(Pulled {
            manifest_digest,
            bytes,
            signature,
        })
    }

    /// One blob, read chunk by chunk under `limit` and its declared size, its digest
    /// checked.
    async fn blob(
        &self,
        reference: &OciRef,
        layer: &OciDescriptor,
        limit: u64,
    ) -> Result<Vec<u8>, TransportError> {
        let declared = u64::try_from(layer.size).unwrap_or(u64::MAX);
        let work = async {
            let mut stream = self
                .client
                .pull_blob_stream(&reference.reference, layer)
                .await
                .map_err(|e| TransportError::Registry(format!("blob: {e}")))?;
            let capacity = usize::try_from(declared.min(limit)).unwrap_or(0);
            let mut bytes = Vec::with_capacity(capacity);
            let mut hash = Sha256::new();
            while let Some(chunk) = stream.stream.next().await {
                let chunk = chunk.map_err(|e| TransportError::Registry(format!("blob: {e}")))?;
                if (bytes.len() + chunk.len()) as u64 > declared.min(limit) {
                    return Err(TransportError::TooLarge {
                        what: "blob (over its declared size or the limit)",
                        limit: declared.min(limit),
                    });
                }
                hash.update(&chunk);
                bytes.extend_from_slice(&chunk);
            }
            let actual = format!("sha256:{}", hex(&hash.finalize()));
            if actual != layer.digest || bytes.len() as u64 != declared {
                return Err(TransportError::Artifact(format!(
                    "blob {} does not match its descriptor",
                    layer.digest
                )));
            }
            Ok(bytes)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(self.timeout)),
        }
    }
}

/// The content layer and the signature layer of an artifact of `kind`, sizes checked.
fn layers_of(
    manifest: &OciImageManifest,
    kind: ArtifactKind,
    max_bytes: u64,
) -> Result<(&OciDescriptor, Option<&OciDescriptor>), TransportError> {
    let refuse = |why: String| Err(TransportError::Artifact(why));
    if manifest.artifact_type.as_deref() != Some(kind.artifact_type()) {
        return refuse(format!(
            "the manifest's artifactType is {:?}, expected `{}`",
            manifest.artifact_type.as_deref().unwrap_or("(none)"),
            kind.artifact_type()
        ));
    }
    if manifest.layers.len() > MAX_LAYERS {
        return refuse(format!("more than {MAX_LAYERS} layers"));
    }
    let mut content = None;
    let mut signature = None;
    for layer in &manifest.layers {
        let slot = if layer.media_type == kind.media_type() {
            &mut content
        } else if layer.media_type == SIGNATURE_MEDIA_TYPE {
            &mut signature
        } else {
            continue;
        };
        if slot.replace(layer).is_some() {
            return refuse(format!("two layers of type `{}`", layer.media_type));
        }
    }
    let Some(content) = content else {
        return refuse(format!("no layer of type `{}`", kind.media_type()));
    };
    let size = |layer: &OciDescriptor| u64::try_from(layer.size).unwrap_or(u64::MAX);
    if size(content) > max_bytes {
        return Err(TransportError::TooLarge {
            what: "artifact layer",
            limit: max_bytes,
        });
    }
    if signature.is_some_and(|s| size(s) > crate::signature::MAX_SIGNATURE_BYTES as u64) {
        return Err(TransportError::TooLarge {
            what: "signature layer",
            limit: crate::signature::MAX_SIGNATURE_BYTES as u64,
        });
    }
    Ok((content, signature))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_urls_need_a_registry_a_repository_and_a_tag() {
        let r = OciRef::parse("oci://127.0.0.1:5000/policies/api:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/policies/api:v1");
        assert!(!OciRef::parse("oci://registry.example.com/p:v1")
            .unwrap()
            .is_loopback());
        for bad in [
            "127.0.0.1:5000/p:v1",
            "oci://127.0.0.1:5000/p",
            "oci://127.0.0.1:5000/",
            "oci:///p:v1",
            "oci://host/p :v1",
        ] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts_are_recognised_as_docker_does() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.9.9.9:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1:5000",
            "example.com",
            "[::2]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    fn manifest(layers: &[(&str, i64)], artifact: Option<&str>) -> OciImageManifest {
        OciImageManifest {
            layers: layers
                .iter()
                .map(|(media, size)| OciDescriptor {
                    media_type: (*media).to_owned(),
                    size: *size,
                    digest: "sha256:00".to_owned(),
                    ..OciDescriptor::default()
                })
                .collect(),
            artifact_type: artifact.map(str::to_owned),
            ..OciImageManifest::default()
        }
    }

    #[test]
    fn a_manifest_of_another_kind_or_shape_or_size_is_refused() {
        let good = manifest(
            &[(BUNDLE_MEDIA_TYPE, 10), (SIGNATURE_MEDIA_TYPE, 100)],
            Some(BUNDLE_ARTIFACT_TYPE),
        );
        assert!(layers_of(&good, ArtifactKind::Bundle, 10).is_ok());
        assert!(layers_of(&good, ArtifactKind::Bundle, 9).is_err());
        assert!(layers_of(&good, ArtifactKind::Entities, 10).is_err());
        for bad in [
            manifest(&[(BUNDLE_MEDIA_TYPE, 10)], None),
            manifest(&[(SIGNATURE_MEDIA_TYPE, 10)], Some(BUNDLE_ARTIFACT_TYPE)),
            manifest(
                &[(BUNDLE_MEDIA_TYPE, 10), (BUNDLE_MEDIA_TYPE, 10)],
                Some(BUNDLE_ARTIFACT_TYPE),
            ),
            manifest(
                &[(BUNDLE_MEDIA_TYPE, 10), (SIGNATURE_MEDIA_TYPE, 1 << 20)],
                Some(BUNDLE_ARTIFACT_TYPE),
            ),
            manifest(&[(BUNDLE_MEDIA_TYPE, -1)], Some(BUNDLE_ARTIFACT_TYPE)),
            manifest(&[("x", 1); 9], Some(BUNDLE_ARTIFACT_TYPE)),
        ] {
            assert!(
                layers_of(&bad, ArtifactKind::Bundle, 1 << 30).is_err(),
                "{bad:?}"
            );
        }
    }
}
