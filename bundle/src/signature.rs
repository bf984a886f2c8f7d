//! The signature of a bundle: a detached compact JWS (RFC 7515, `alg: EdDSA`, Ed25519)
//! stored beside the bundle as `FILE.sig`, whose payload is a small JSON manifest naming
//! the digest, size and revision of the bundle file's exact bytes (`docs/bundles.md`).
//!
//! **Key design decision:** the signature covers a manifest of the bytes, not the bundle
//! itself, so a verifier checks, in this order and before anything reads the bundle: its
//! size against a limit, the signature over the manifest, then the manifest's size and
//! SHA-256 digest against the bytes. Only bytes that passed all three are ever parsed.
//! Parsing is strict: the header may hold `alg`, `kid` and `typ` only (`alg` exactly
//! `EdDSA`), the manifest exactly its five fields, each segment canonical unpadded
//! base64url, each length bounded.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The largest signature file read (a manifest and a header take a few hundred bytes).
pub const MAX_SIGNATURE_BYTES: usize = 8 * 1024;

/// The largest key file read.
pub const MAX_KEY_FILE_BYTES: usize = 16 * 1024;

/// The default bound on a bundle's size (`--max-bundle-bytes`).
pub const DEFAULT_MAX_BUNDLE_BYTES: u64 = 64 << 20;

/// The longest revision a manifest may name.
pub const MAX_REVISION_CHARS: usize = 256;

/// The manifest format this version writes and reads.
pub const MANIFEST_VERSION: u64 = 1;

/// The JWS `typ` written in the header.
pub const JWS_TYPE: &str = "rampart-bundle+jws";

/// The one algorithm accepted.
const ALGORITHM: &str = "EdDSA";

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 public key in SPKI PEM (`-----BEGIN PUBLIC KEY-----`): {0}")]
    Public(String),
    #[error("not an Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`): {0}")]
    Private(String),
    #[error("the key file is larger than {MAX_KEY_FILE_BYTES} bytes")]
    TooLarge,
    #[error("cannot encode the key: {0}")]
    Encode(String),
    #[error("no random source: {0}")]
    Random(String),
}

/// Why a bundle's signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the bundle is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the signature is larger than {MAX_SIGNATURE_BYTES} bytes")]
    SignatureTooLarge,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("signature algorithm `{0}` refused: only EdDSA (Ed25519) is accepted")]
    Algorithm(String),
    #[error("signed by key `{0}`, which is not among the verification keys")]
    UnknownKey(String),
    #[error("the signature does not verify with key `{0}`")]
    BadSignature(String),
    #[error("the bundle is {actual} bytes, the signed manifest says {signed}")]
    SizeMismatch { signed: u64, actual: u64 },
    #[error("the bundle's digest is {actual}, the signed manifest says {signed}")]
    DigestMismatch { signed: String, actual: String },
    #[error("no verification key given")]
    NoKeys,
}

/// An Ed25519 public key that verifies bundles, with its key id.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
    id: String,
}

impl PublicKey {
    /// Reads an SPKI PEM public key (`openssl pkey -pubout`).
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        if text.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge);
        }
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(text.trim())
            .map_err(|e| KeyError::Public(e.to_string()))?;
        Ok(PublicKey::new(key))
    }

    fn new(key: ed25519_dalek::VerifyingKey) -> PublicKey {
        let id = key_id(&key);
        PublicKey { key, id }
    }

    /// The key id: its RFC 7638 JWK thumbprint (SHA-256, base64url), as in a JWS `kid`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as SPKI PEM.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))
    }
}

/// An Ed25519 private key that signs bundles.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.public.id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem(text: &str) -> Result<SigningKey, KeyError> {
        if text.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge);
        }
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim())
            .map_err(|e| KeyError::Private(e.to_string()))?;
        Ok(SigningKey::new(key))
    }

    fn new(key: ed25519_dalek::SigningKey) -> SigningKey {
        let public = PublicKey::new(key.verifying_key());
        SigningKey { key, public }
    }

    /// A new key from the operating system's random source.
    #[cfg(feature = "keygen")]
    pub fn generate() -> Result<SigningKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(SigningKey::new(key))
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key as PKCS#8 v1 PEM, the form `openssl genpkey` writes and OpenSSL reads
    /// (erased from memory when dropped).
    pub fn to_pem(&self) -> Result<impl AsRef<str>, KeyError> {
        let pair = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        pair.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))
    }
}

/// The signed payload: what the signature says about the bundle file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest format, [`MANIFEST_VERSION`].
    pub rampart_bundle: u64,
    /// `sha256:` and the lowercase hex SHA-256 of the bundle file's bytes.
    pub digest: String,
    /// The bundle file's length in bytes.
    pub size: u64,
    /// The bundle's revision.
    pub revision: String,
    /// When it was signed, in Unix seconds.
    pub signed_at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// What a verification established about a bundle's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// The number of bytes.
    pub size: u64,
    /// The signed manifest; `None` for bytes accepted unsigned.
    pub manifest: Option<Manifest>,
    /// The id of the key that verified the signature.
    pub key_id: Option<String>,
}

impl Verified {
    /// Bytes accepted without a signature (`--insecure-unsigned`): only their digest.
    pub fn unsigned(bundle: &[u8]) -> Verified {
        Verified {
            digest: digest(bundle),
            size: bundle.len() as u64,
            manifest: None,
            key_id: None,
        }
    }

    /// The signed revision, if signed.
    pub fn revision(&self) -> Option<&str> {
        self.manifest.as_ref().map(|m| m.revision.as_str())
    }
}

/// `sha256:` and the lowercase hex SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0x0f));
    }
    out
}

fn hex_digit(nibble: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(nibble))
            .copied()
            .unwrap_or(b'0'),
    )
}

/// The RFC 7638 thumbprint of an Ed25519 key: base64url(SHA-256(`{"crv","kty","x"}`)).
fn key_id(key: &ed25519_dalek::VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let jwk = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// Signs `bundle` (the exact bytes of the bundle file) whose revision is `revision`:
/// the compact JWS to store as `FILE.sig`.
pub fn sign(bundle: &[u8], revision: &str, key: &SigningKey, signed_at: u64) -> String {
    let header = Header {
        alg: ALGORITHM.to_owned(),
        kid: key.public.id.clone(),
        typ: Some(JWS_TYPE.to_owned()),
    };
    let manifest = Manifest {
        rampart_bundle: MANIFEST_VERSION,
        digest: digest(bundle),
        size: bundle.len() as u64,
        revision: revision.to_owned(),
        signed_at,
    };
    // Serializing these plain structs cannot fail; an empty object would not verify.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(&manifest).unwrap_or_default();
    let mut jws = URL_SAFE_NO_PAD.encode(header);
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.key.sign(jws.as_bytes());
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    jws
}

/// Verifies `signature` (the `.sig` file's bytes) over `bundle` with any of `keys`:
/// size limit, then signature, then size and digest of the exact bytes. The caller parses
/// the bundle only after this succeeds (and should check that its revision is the signed
/// one).
pub fn verify(
    bundle: &[u8],
    signature: &[u8],
    keys: &[PublicKey],
    max_bundle_bytes: u64,
) -> Result<Verified, VerifyError> {
    let size = bundle.len() as u64;
    if size > max_bundle_bytes {
        return Err(VerifyError::TooLarge {
            size,
            limit: max_bundle_bytes,
        });
    }
    if keys.is_empty() {
        return Err(VerifyError::NoKeys);
    }
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(VerifyError::SignatureTooLarge);
    }
    let malformed = |what: &str| VerifyError::Malformed(what.to_owned());
    let text = std::str::from_utf8(signature).map_err(|_| malformed("not UTF-8 text"))?;
    // One trailing newline is allowed (a file written by hand); nothing else around it.
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut parts = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "not a compact JWS (three base64url parts joined by `.`)",
        ));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| malformed("the header is not canonical base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
    if header.alg != ALGORITHM {
        return Err(VerifyError::Algorithm(truncate(&header.alg)));
    }
    if header.typ.as_deref().is_some_and(|typ| typ != JWS_TYPE) {
        return Err(malformed("header `typ` is not `rampart-bundle+jws`"));
    }
    let key = keys
        .iter()
        .find(|key| key.id == header.kid)
        .ok_or_else(|| VerifyError::UnknownKey(truncate(&header.kid)))?;
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| malformed("the signature is not canonical base64url"))?;
    let signature = Signature::from_slice(&signature_bytes)
        .map_err(|_| malformed("the signature is not 64 bytes"))?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let signed = text
        .get(..signed_len)
        .ok_or_else(|| malformed("truncated"))?;
    key.key
        .verify_strict(signed.as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature(key.id.clone()))?;
    // Signed by a trusted key from here on; the manifest is still read strictly.
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| malformed("the payload is not canonical base64url"))?;
    let manifest: Manifest = serde_json::from_slice(&payload)
        .map_err(|e| VerifyError::Malformed(format!("manifest: {e}")))?;
    if manifest.rampart_bundle != MANIFEST_VERSION {
        return Err(VerifyError::Malformed(format!(
            "manifest format {} (this version reads {MANIFEST_VERSION})",
            manifest.rampart_bundle
        )));
    }
    if manifest.revision.chars().count() > MAX_REVISION_CHARS {
        return Err(malformed("the manifest's revision is too long"));
    }
    if !is_sha256_digest(&manifest.digest) {
        return Err(malformed(
            "the manifest's digest is not `sha256:` and 64 hex digits",
        ));
    }
    if manifest.size != size {
        return Err(VerifyError::SizeMismatch {
            signed: manifest.size,
            actual: size,
        });
    }
    let actual = digest(bundle);
    if manifest.digest != actual {
        return Err(VerifyError::DigestMismatch {
            signed: manifest.digest,
            actual,
        });
    }
    Ok(Verified {
        digest: actual,
        size,
        key_id: Some(key.id.clone()),
        manifest: Some(manifest),
    })
}

fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A value from an untrusted header, cut for an error message.
fn truncate(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(64).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG9zUAYN5R9+EMFdVya7MgDCVQCeDSWSpncdjSbOzKkp\n-----END PRIVATE KEY-----\n";

    fn key_from(seed: u8) -> SigningKey {
        SigningKey::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    fn signed(bundle: &[u8]) -> (SigningKey, String) {
        let key = key_from(7);
        let sig = sign(bundle, "rev-1", &key, 1_700_000_000);
        (key, sig)
    }

    const BUNDLE: &[u8] = br#"{"format":"rampart-bundle","revision":"rev-1"}"#;
    const LIMIT: u64 = DEFAULT_MAX_BUNDLE_BYTES;

    fn segments(sig: &str) -> Vec<String> {
        sig.split('.').map(str::to_owned).collect()
    }

    /// A JWS with this header and payload JSON, signed by `key`.
    fn forge(header: &str, payload: &str, key: &SigningKey) -> String {
        let mut jws = URL_SAFE_NO_PAD.encode(header);
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = key.key.sign(jws.as_bytes());
        format!("{jws}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn manifest_json(digest: &str, size: usize) -> String {
        format!(
            r#"{{"rampart_bundle":1,"digest":"{digest}","size":{size},"revision":"rev-1","signed_at":1}}"#
        )
    }

    #[test]
    fn a_signed_bundle_verifies_and_names_its_digest_revision_and_key() {
        let (key, sig) = signed(BUNDLE);
        let verified = verify(BUNDLE, sig.as_bytes(), &[key.public_key().clone()], LIMIT).unwrap();
        assert_eq!(verified.digest, digest(BUNDLE));
        assert_eq!(verified.size, BUNDLE.len() as u64);
        assert_eq!(verified.revision(), Some("rev-1"));
        assert_eq!(verified.key_id.as_deref(), Some(key.public_key().id()));
        // A trailing newline (a file edited by hand) is accepted.
        verify(
            BUNDLE,
            format!("{sig}\n").as_bytes(),
            &[key.public_key().clone()],
            LIMIT,
        )
        .unwrap();
    }

    #[test]
    fn any_listed_key_verifies_so_keys_can_rotate() {
        let (key, sig) = signed(BUNDLE);
        let other = key_from(9);
        let keys = [other.public_key().clone(), key.public_key().clone()];
        assert!(verify(BUNDLE, sig.as_bytes(), &keys, LIMIT).is_ok());
        assert!(matches!(
            verify(BUNDLE, sig.as_bytes(), &[other.public_key().clone()], LIMIT),
            Err(VerifyError::UnknownKey(_))
        ));
        assert_eq!(
            verify(BUNDLE, sig.as_bytes(), &[], LIMIT),
            Err(VerifyError::NoKeys)
        );
    }

    #[test]
    fn a_changed_bundle_byte_is_refused() {
        let (key, sig) = signed(BUNDLE);
        let keys = [key.public_key().clone()];
        let mut tampered = BUNDLE.to_vec();
        tampered[10] ^= 1;
        assert!(matches!(
            verify(&tampered, sig.as_bytes(), &keys, LIMIT),
            Err(VerifyError::DigestMismatch { .. })
        ));
        let mut longer = BUNDLE.to_vec();
        longer.push(b' ');
        assert!(matches!(
            verify(&longer, sig.as_bytes(), &keys, LIMIT),
            Err(VerifyError::SizeMismatch { .. })
        ));
        assert!(matches!(
            verify(&BUNDLE[..BUNDLE.len() - 1], sig.as_bytes(), &keys, LIMIT),
            Err(VerifyError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn every_changed_byte_of_the_signature_file_is_refused() {
        let (key, sig) = signed(BUNDLE);
        let keys = [key.public_key().clone()];
        for i in 0..sig.len() {
            let mut bytes = sig.clone().into_bytes();
            // Flip to another base64url character (or a dot to a letter).
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            if bytes == sig.as_bytes() {
                continue;
            }
            assert!(
                verify(BUNDLE, &bytes, &keys, LIMIT).is_err(),
                "changing byte {i} of the signature was accepted"
            );
        }
    }

    #[test]
    fn a_truncated_or_oversized_signature_is_refused() {
        let (key, sig) = signed(BUNDLE);
        let keys = [key.public_key().clone()];
        for cut in [0, 1, sig.len() / 2, sig.len() - 1] {
            assert!(verify(BUNDLE, &sig.as_bytes()[..cut], &keys, LIMIT).is_err());
        }
        let huge = "A".repeat(MAX_SIGNATURE_BYTES + 1);
        assert_eq!(
            verify(BUNDLE, huge.as_bytes(), &keys, LIMIT),
            Err(VerifyError::SignatureTooLarge)
        );
        let four = format!("{sig}.{}", segments(&sig)[2]);
        assert!(matches!(
            verify(BUNDLE, four.as_bytes(), &keys, LIMIT),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn an_oversized_bundle_is_refused_before_its_signature_is_read() {
        let (key, sig) = signed(BUNDLE);
        assert_eq!(
            verify(BUNDLE, sig.as_bytes(), &[key.public_key().clone()], 10),
            Err(VerifyError::TooLarge {
                size: BUNDLE.len() as u64,
                limit: 10
            })
        );
    }

    #[test]
    fn alg_none_hs256_and_a_missing_or_extra_header_field_are_refused() {
        let key = key_from(7);
        let keys = [key.public_key().clone()];
        let kid = key.public_key().id().to_owned();
        let payload = manifest_json(&digest(BUNDLE), BUNDLE.len());
        for alg in ["none", "HS256", "ES256", "eddsa", "Ed25519"] {
            let header = format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#);
            assert!(
                matches!(
                    verify(
                        BUNDLE,
                        forge(&header, &payload, &key).as_bytes(),
                        &keys,
                        LIMIT
                    ),
                    Err(VerifyError::Algorithm(_))
                ),
                "{alg}"
            );
        }
        // alg none with an empty signature part.
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#));
        let none = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(&payload));
        assert!(verify(BUNDLE, none.as_bytes(), &keys, LIMIT).is_err());
        // A header without a kid, with fields a verifier would have to act on, with a
        // repeated field or another typ.
        for header in [
            r#"{"alg":"EdDSA"}"#.to_owned(),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","jku":"https://evil"}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["b64"],"b64":false}}"#),
            format!(r#"{{"alg":"EdDSA","alg":"EdDSA","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"JWT"}}"#),
        ] {
            assert!(
                matches!(
                    verify(
                        BUNDLE,
                        forge(&header, &payload, &key).as_bytes(),
                        &keys,
                        LIMIT
                    ),
                    Err(VerifyError::Malformed(_))
                ),
                "{header}"
            );
        }
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#);
        assert!(verify(
            BUNDLE,
            forge(&header, &payload, &key).as_bytes(),
            &keys,
            LIMIT
        )
        .is_ok());
    }

    #[test]
    fn a_signed_manifest_that_lies_or_is_malformed_is_refused() {
        let key = key_from(7);
        let keys = [key.public_key().clone()];
        let header = format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, key.public_key().id());
        let right = digest(BUNDLE);
        let other = digest(b"other");
        let cases = [
            manifest_json(&other, BUNDLE.len()),
            manifest_json(&right, BUNDLE.len() + 1),
            manifest_json(&right.to_uppercase(), BUNDLE.len()),
            manifest_json("sha512:00", BUNDLE.len()),
            manifest_json(&right, BUNDLE.len())
                .replace(r#""rampart_bundle":1"#, r#""rampart_bundle":2"#),
            manifest_json(&right, BUNDLE.len())
                .replace(r#","signed_at":1"#, r#","signed_at":1,"x":1"#),
            manifest_json(&right, BUNDLE.len()).replace(r#""size""#, r#""size":1,"size""#),
            manifest_json(&right, BUNDLE.len()).replace("rev-1", &"r".repeat(300)),
            "[]".to_owned(),
            "{".to_owned(),
        ];
        for payload in cases {
            assert!(
                verify(
                    BUNDLE,
                    forge(&header, &payload, &key).as_bytes(),
                    &keys,
                    LIMIT
                )
                .is_err(),
                "{payload}"
            );
        }
    }

    #[test]
    fn a_signature_by_another_key_with_the_trusted_kid_is_refused() {
        let trusted = key_from(7);
        let attacker = key_from(8);
        let header = format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, trusted.public_key().id());
        let payload = manifest_json(&digest(BUNDLE), BUNDLE.len());
        let forged = forge(&header, &payload, &attacker);
        assert!(matches!(
            verify(
                BUNDLE,
                forged.as_bytes(),
                &[trusted.public_key().clone()],
                LIMIT
            ),
            Err(VerifyError::BadSignature(_))
        ));
    }

    #[test]
    fn padded_or_non_canonical_base64_is_refused() {
        let (key, sig) = signed(BUNDLE);
        let keys = [key.public_key().clone()];
        let parts = segments(&sig);
        let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
        assert!(verify(BUNDLE, padded.as_bytes(), &keys, LIMIT).is_err());
        let standard = sig.replace('-', "+").replace('_', "/");
        if standard != sig {
            assert!(verify(BUNDLE, standard.as_bytes(), &keys, LIMIT).is_err());
        }
        assert!(verify(BUNDLE, b" \xff\xfe", &keys, LIMIT).is_err());
    }

    #[test]
    fn openssl_keys_are_read_and_round_trip_through_pem() {
        let key = SigningKey::from_pem(OPENSSL_PRIVATE).unwrap();
        let public_pem = key.public_key().to_pem().unwrap();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = PublicKey::from_pem(&public_pem).unwrap();
        assert_eq!(public.id(), key.public_key().id());
        let pem = key.to_pem().unwrap();
        // PKCS#8 v1, as openssl writes it (OpenSSL 3.0 does not read v2 with a public key).
        assert!(
            pem.as_ref().contains("\nMC4CAQAwBQYDK2VwBCIEI"),
            "{}",
            pem.as_ref()
        );
        let again = SigningKey::from_pem(pem.as_ref()).unwrap();
        assert_eq!(again.public_key().id(), key.public_key().id());
        let sig = sign(BUNDLE, "rev-1", &key, 1);
        assert!(verify(BUNDLE, sig.as_bytes(), &[public], LIMIT).is_ok());
        // A private key is not a public key and the other way round; junk is neither.
        assert!(PublicKey::from_pem(OPENSSL_PRIVATE).is_err());
        assert!(SigningKey::from_pem(&public_pem).is_err());
        assert!(PublicKey::from_pem("not a key").is_err());
        assert!(matches!(
            PublicKey::from_pem(&"A".repeat(MAX_KEY_FILE_BYTES + 1)),
            Err(KeyError::TooLarge)
        ));
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            PublicKey::new(key).id(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn unsigned_bytes_carry_only_their_digest() {
        let verified = Verified::unsigned(BUNDLE);
        assert_eq!(verified.digest, digest(BUNDLE));
        assert!(verified.key_id.is_none() && verified.revision().is_none());
        assert_eq!(
            digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
