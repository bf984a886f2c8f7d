//! Reading a JWKS file (RFC 7517) into the keys tokens are verified with.
//!
//! Keys the sidecar cannot use are skipped with a note, so an identity provider's published
//! set works as it is: encryption keys (`use: enc`), other key types and curves (`oct`,
//! P-384, X25519), and keys whose `alg` is none of RS256, ES256 and EdDSA. A key of a usable
//! type that is malformed (bad base64, a point of the wrong size, an RSA modulus under 2048
//! bits) is an error: a typo in a key must not silently drop it.
//!
//! A set with no usable key parses (to no keys): a start refuses it
//! ([`JwksError::NoUsableKey`]), a reload accepts it, since withdrawing every key is how an
//! operator revokes them all. The file is read with [`crate::files`]: a regular file of at
//! most 1 MiB, opened without blocking.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value as Json};

use crate::files::{self, ReadError};

/// The largest JWKS file read.
const MAX_JWKS_BYTES: u64 = 1 << 20;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Why a JWKS file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read the key set `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the key set `{path}` is larger than 1 MiB")]
    TooLarge { path: String },
    #[error("the key set `{path}` is not a regular file")]
    NotRegular { path: String },
    #[error("the key set `{path}` is not a JWKS: {message}")]
    Format { path: String, message: String },
    #[error("the key set `{path}`: key {key}: {message}")]
    Key {
        path: String,
        key: String,
        message: String,
    },
    #[error("the key set `{path}` has no RS256, ES256 or EdDSA signing key")]
    NoUsableKey { path: String },
    #[error("the key set at `{url}`: {message}")]
    Remote { url: String, message: String },
}

/// One public key and the algorithm it verifies.
pub struct VerificationKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The usable keys of a JWKS file, and notes about the keys skipped.
pub struct KeySet {
    pub keys: Vec<VerificationKey>,
    pub skipped: Vec<String>,
}

/// Reads and parses a JWKS file.
pub fn read(path: &Path) -> Result<KeySet, JwksError> {
    let shown = path.display().to_string();
    let text = files::read_text(path, MAX_JWKS_BYTES).map_err(|error| match error {
        ReadError::Io { source, .. } => JwksError::Read {
            path: shown.clone(),
            source,
        },
        ReadError::NotRegular { .. } => JwksError::NotRegular {
            path: shown.clone(),
        },
        ReadError::TooLarge { .. } => JwksError::TooLarge {
            path: shown.clone(),
        },
        ReadError::NotUtf8 { .. } => JwksError::Format {
            path: shown.clone(),
            message: "not UTF-8 text".to_owned(),
        },
    })?;
    parse(&text, &shown)
}

/// Parses JWKS text; `path` names it in messages. A set without a usable key is not an
/// error here (see the module documentation).
pub fn parse(text: &str, path: &str) -> Result<KeySet, JwksError> {
    let format = |message: String| JwksError::Format {
        path: path.to_owned(),
        message,
    };
    let document: Json =
        serde_json::from_str(text).map_err(|e| format(format!("invalid JSON: {e}")))?;
    let Some(entries) = document.get("keys").and_then(Json::as_array) else {
        return Err(format("no `keys` array".to_owned()));
    };
    let mut set = KeySet {
        keys: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate() {
        let Some(fields) = entry.as_object() else {
            return Err(format(format!("key {index} is not an object")));
        };
        let kid = fields.get("kid").and_then(Json::as_str).map(str::to_owned);
        let name = match &kid {
            Some(kid) => format!("`{kid}`"),
            None => index.to_string(),
        };
        match key(fields) {
            Ok(Usable::Yes(algorithm, key)) => set.keys.push(VerificationKey {
                kid,
                algorithm,
                key,
            }),
            Ok(Usable::No(why)) => set.skipped.push(format!("key {name} skipped: {why}")),
            Err(message) => {
                return Err(JwksError::Key {
                    path: path.to_owned(),
                    key: name,
                    message,
                })
            }
        }
    }
    Ok(set)
}

/// Whether a JWK is a key the sidecar verifies with.
enum Usable {
    Yes(Algorithm, DecodingKey),
    No(String),
}

/// Reads one JWK: `Err` for a malformed key of a usable type.
fn key(fields: &Map<String, Json>) -> Result<Usable, String> {
    let text = |name: &str| fields.get(name).and_then(Json::as_str);
    if let Some(usage) = text("use").filter(|u| *u != "sig") {
        return Ok(Usable::No(format!("`use` is `{usage}`")));
    }
    let kty = text("kty").unwrap_or_default();
    let crv = text("crv").unwrap_or_default();
    let algorithm = match (kty, crv) {
        ("RSA", _) => Algorithm::RS256,
        ("EC", "P-256") => Algorithm::ES256,
        ("OKP", "Ed25519") => Algorithm::EdDSA,
        ("EC" | "OKP", _) => return Ok(Usable::No(format!("curve `{crv}` is not supported"))),
        _ => return Ok(Usable::No(format!("key type `{kty}` is not supported"))),
    };
    if let Some(alg) = text("alg") {
        if alg != algorithm_name(algorithm) {
            return Ok(Usable::No(format!("algorithm `{alg}` is not supported")));
        }
    }
    let part = |name: &str, expected: Option<usize>| -> Result<Vec<u8>, String> {
        let encoded = text(name).ok_or_else(|| format!("no `{name}`"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|_| format!("`{name}` is not base64url"))?;
        match expected {
            Some(len) if bytes.len() != len => Err(format!(
                "`{name}` has {} bytes, expected {len}",
                bytes.len()
            )),
            _ => Ok(bytes),
        }
    };
    let key = match algorithm {
        Algorithm::RS256 => {
            let modulus = part("n", None)?;
            let exponent = part("e", None)?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(format!(
                    "the RSA modulus has {} bits, at least 2048 are required",
                    significant.saturating_mul(8)
                ));
            }
            if exponent.is_empty() || exponent.len() > 8 {
                return Err("the RSA exponent `e` is invalid".to_owned());
            }
            DecodingKey::from_rsa_raw_components(&modulus, &exponent)
        }
        Algorithm::ES256 => {
            let x = part("x", Some(32))?;
            let y = part("y", Some(32))?;
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            DecodingKey::from_ec_der(&point)
        }
        _ => DecodingKey::from_ed_der(&part("x", Some(32))?),
    };
    // Building a verifier checks the key itself (an EC or Ed25519 point on its curve, RSA
    // parameters in range); the signature of this probe is never valid.
    jsonwebtoken::crypto::verify("AA", b"probe", &key, algorithm)
        .map_err(|e| format!("not a valid {} public key: {e}", algorithm_name(algorithm)))?;
    Ok(Usable::Yes(algorithm, key))
}

/// The JOSE name of an algorithm the sidecar accepts.
pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}
