//! API keys (`--api-keys FILE`): a file of key *hashes* with the facts each key stands for.
//!
//! ```json
//! {"keys": [
//!   {"id": "billing-2026-06", "sha256": "<64 hex digits: SHA-256 of the key>",
//!    "subject": "billing", "scopes": ["invoices:read"],
//!    "not_before": "2026-06-01T00:00:00Z", "expires": "2026-09-01T00:00:00Z"}
//! ]}
//! ```
//!
//! **Key design decision:** the file holds no key, only its SHA-256, so reading the file
//! (or a backup of it) gives no key away. A presented key is hashed and looked up by its
//! hash; the digest found is compared with the presented one in constant time. Keys are
//! high-entropy random strings, so an unsalted fast hash is the right tool (a password
//! hash protects low-entropy secrets and would cost milliseconds per request).
//!
//! `principal` may stand for `subject`, and the hash may be written `sha256:<hex>`.
//!
//! Two records with different hashes may map to the same subject, which is how a key is
//! rotated: publish the new key's record, move the clients, remove the old record. A key
//! outside its `not_before`/`expires` window is unauthenticated. Unknown fields are an
//! error: a misspelt `expires` must not make a key valid forever.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::files::{self, ReadError};

/// The largest API key file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The most records a file may hold.
const MAX_KEYS: usize = 10_000;

/// Presented keys longer than this are refused without being hashed.
pub const MAX_KEY_BYTES: usize = 4096;

/// Why a presented API key was not accepted: the `reason` label of
/// `rampart_api_key_invalid_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyRejection {
    /// Empty, longer than 4 KiB, or several values of the header.
    Malformed,
    /// No record has the key's hash.
    Unknown,
    /// The record's `expires` has passed.
    Expired,
    /// The record's `not_before` has not come yet.
    NotYetValid,
}

impl ApiKeyRejection {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [ApiKeyRejection; 4] = [
        ApiKeyRejection::Malformed,
        ApiKeyRejection::Unknown,
        ApiKeyRejection::Expired,
        ApiKeyRejection::NotYetValid,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ApiKeyRejection::Malformed => "malformed",
            ApiKeyRejection::Unknown => "unknown",
            ApiKeyRejection::Expired => "expired",
            ApiKeyRejection::NotYetValid => "not_yet_valid",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why an API key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeysError {
    #[error("cannot read the API key file `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("the API key file `{path}` is invalid: {message}")]
    Format { path: String, message: String },
}

/// `--api-keys FILE` and the header keys are read from.
#[derive(Clone, Debug)]
pub struct ApiKeyConfig {
    pub file: PathBuf,
    /// The request header holding the key (`--api-key-header`, lowercase).
    pub header: String,
}

/// The default `--api-key-header`.
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    keys: Vec<RecordShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordShape {
    id: String,
    /// 64 hex digits, optionally written `sha256:…`.
    sha256: String,
    /// Who the key stands for (`principal` is accepted as another name for it).
    #[serde(alias = "principal")]
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// One record, checked.
struct Record {
    id: String,
    digest: [u8; 32],
    subject: String,
    scopes: Vec<String>,
    /// Milliseconds since the epoch.
    not_before_ms: Option<i64>,
    expires_ms: Option<i64>,
}

/// The records of an API key file, indexed by hash.
pub struct ApiKeys {
    records: Vec<Record>,
    by_digest: HashMap<[u8; 32], usize>,
}

impl ApiKeys {
    /// Reads and checks a file.
    pub fn read(path: &Path) -> Result<ApiKeys, ApiKeysError> {
        let shown = path.display().to_string();
        let text = files::read_text(path, MAX_FILE_BYTES).map_err(|error| {
            let message = match error {
                ReadError::TooLarge { .. } => "larger than 1 MiB".to_owned(),
                ReadError::NotRegular { .. } => "not a regular file".to_owned(),
                ReadError::NotUtf8 { .. } => "not UTF-8 text".to_owned(),
                ReadError::Io { source, .. } => source.to_string(),
            };
            ApiKeysError::Read {
                path: shown.clone(),
                message,
            }
        })?;
        ApiKeys::parse(&text).map_err(|message| ApiKeysError::Format {
            path: shown,
            message,
        })
    }

    /// Parses the text of a file.
    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let shape: FileShape = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if shape.keys.len() > MAX_KEYS {
            return Err(format!("more than {MAX_KEYS} keys"));
        }
        let mut keys = ApiKeys {
            records: Vec::with_capacity(shape.keys.len()),
            by_digest: HashMap::with_capacity(shape.keys.len()),
        };
        for record in shape.keys {
            let id = record.id;
            if id.is_empty() {
                return Err("a key has an empty `id`".to_owned());
            }
            if keys.records.iter().any(|r| r.id == id) {
                return Err(format!("the id `{id}` is used twice"));
            }
            let digest = hex_digest(&record.sha256)
                .ok_or_else(|| format!("key `{id}`: `sha256` is not 64 hexadecimal digits"))?;
            if keys.by_digest.contains_key(&digest) {
                return Err(format!("key `{id}`: the same hash is listed twice"));
            }
            if record.subject.is_empty() {
                return Err(format!("key `{id}`: `subject` is empty"));
            }
            let time = |field: &str, value: Option<String>| -> Result<Option<i64>, String> {
                value
                    .map(|text| {
                        rampart_engine::time::parse_timestamp(&text).ok_or_else(|| {
                            format!("key `{id}`: `{field}` is not an RFC 3339 time: `{text}`")
                        })
                    })
                    .transpose()
            };
            let not_before_ms = time("not_before", record.not_before)?;
            let expires_ms = time("expires", record.expires)?;
            keys.by_digest.insert(digest, keys.records.len());
            keys.records.push(Record {
                id,
                digest,
                subject: record.subject,
                scopes: record.scopes,
                not_before_ms,
                expires_ms,
            });
        }
        Ok(keys)
    }

    /// How many records the file holds.
    pub fn count(&self) -> usize {
        self.records.len()
    }

    /// Verifies a presented key at `now_ms` and returns its `context.auth` facts.
    pub fn verify(&self, presented: &str, now_ms: i64) -> Result<Json, ApiKeyRejection> {
        let presented = presented.trim();
        if presented.is_empty() || presented.len() > MAX_KEY_BYTES {
            return Err(ApiKeyRejection::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let record = self
            .by_digest
            .get(&digest)
            .and_then(|index| self.records.get(*index))
            .ok_or(ApiKeyRejection::Unknown)?;
        if !bool::from(record.digest.ct_eq(&digest)) {
            return Err(ApiKeyRejection::Unknown);
        }
        if record.not_before_ms.is_some_and(|t| now_ms < t) {
            return Err(ApiKeyRejection::NotYetValid);
        }
        if record.expires_ms.is_some_and(|t| now_ms >= t) {
            return Err(ApiKeyRejection::Expired);
        }
        let mut auth = serde_json::Map::new();
        auth.insert("method".into(), json!("api_key"));
        auth.insert("subject".into(), json!(record.subject));
        auth.insert("scopes".into(), json!(record.scopes));
        if let Some(expires) = record.expires_ms {
            auth.insert("expires_at".into(), json!(expires.div_euclid(1000)));
        }
        auth.insert("claims".into(), json!({ "key_id": record.id }));
        Ok(Json::Object(auth))
    }
}

/// The hex digest of the SHA-256 of `key` (what `rampart apikey hash` prints).
pub fn hash_hex(key: &str) -> String {
    let digest = Sha256::digest(key.trim().as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

const HEX: [u8; 16] = *b"0123456789abcdef";

/// 64 hex digits (either case) as 32 bytes.
fn hex_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = text.strip_prefix("sha256:").unwrap_or(text).as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (slot, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(*pair.first()?).to_digit(16)?;
        let low = char::from(*pair.get(1)?).to_digit(16)?;
        *slot = u8::try_from(high * 16 + low).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(records: &str) -> ApiKeys {
        ApiKeys::parse(&format!("{{\"keys\": [{records}]}}")).unwrap()
    }

    #[test]
    fn a_listed_key_verifies_into_api_key_facts() {
        let keys = file(&format!(
            r#"{{"id": "k1", "sha256": "{}", "subject": "billing", "scopes": ["a", "b"],
                "expires": "2030-01-01T00:00:00Z"}}"#,
            hash_hex("secret-one")
        ));
        let facts = keys.verify("secret-one", 0).unwrap();
        assert_eq!(
            facts,
            json!({"method": "api_key", "subject": "billing", "scopes": ["a", "b"],
                   "expires_at": 1_893_456_000, "claims": {"key_id": "k1"}})
        );
        assert_eq!(keys.verify("secret-two", 0), Err(ApiKeyRejection::Unknown));
        assert_eq!(keys.verify("", 0), Err(ApiKeyRejection::Malformed));
        assert_eq!(
            keys.verify(&"x".repeat(MAX_KEY_BYTES + 1), 0),
            Err(ApiKeyRejection::Malformed)
        );
    }

    #[test]
    fn principal_names_the_subject_and_the_hash_may_carry_its_algorithm() {
        let keys = file(&format!(
            r#"{{"id": "k1", "sha256": "sha256:{}", "principal": "billing"}}"#,
            hash_hex("secret-one")
        ));
        let facts = keys.verify("secret-one", 0).unwrap();
        assert_eq!(facts["subject"], json!("billing"));
        assert_eq!(facts["method"], json!("api_key"));
    }

    #[test]
    fn validity_windows_and_overlapping_rotation() {
        let keys = file(&format!(
            r#"{{"id": "old", "sha256": "{}", "subject": "svc", "expires": "2026-01-01T00:00:00Z"}},
               {{"id": "new", "sha256": "{}", "subject": "svc", "not_before": "2025-12-01T00:00:00Z"}}"#,
            hash_hex("old-key"),
            hash_hex("new-key").to_uppercase()
        ));
        let t = |text: &str| rampart_engine::time::parse_timestamp(text).unwrap();
        // Both work during the overlap.
        let overlap = t("2025-12-15T00:00:00Z");
        assert!(keys.verify("old-key", overlap).is_ok());
        assert!(keys.verify("new-key", overlap).is_ok());
        // Before the new one starts, and after the old one ends.
        assert_eq!(
            keys.verify("new-key", t("2025-11-01T00:00:00Z")),
            Err(ApiKeyRejection::NotYetValid)
        );
        assert_eq!(
            keys.verify("old-key", t("2026-01-01T00:00:00Z")),
            Err(ApiKeyRejection::Expired)
        );
    }

    #[test]
    fn bad_files_are_errors() {
        let hash = hash_hex("k");
        let bad = [
            (
                r#"{"keys": [{"id": "a", "sha256": "abc", "subject": "s"}]}"#.to_owned(),
                "64 hexadecimal",
            ),
            (
                format!(
                    r#"{{"keys": [{{"id": "a", "sha256": "{hash}", "subject": "s", "expire": "2030-01-01T00:00:00Z"}}]}}"#
                ),
                "unknown field",
            ),
            (
                format!(
                    r#"{{"keys": [{{"id": "a", "sha256": "{hash}", "subject": "s"}}, {{"id": "b", "sha256": "{hash}", "subject": "s"}}]}}"#
                ),
                "twice",
            ),
            (
                format!(
                    r#"{{"keys": [{{"id": "a", "sha256": "{hash}", "subject": "s", "expires": "tomorrow"}}]}}"#
                ),
                "RFC 3339",
            ),
            (
                format!(r#"{{"keys": [{{"id": "", "sha256": "{hash}", "subject": "s"}}]}}"#),
                "empty",
            ),
            ("[]".to_owned(), "expected struct"),
            (r#"{"keys": 1}"#.to_owned(), "invalid type"),
        ];
        for (text, expected) in bad {
            let error = ApiKeys::parse(&text).err().unwrap_or_default();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn hash_hex_is_the_sha256_of_the_trimmed_key() {
        assert_eq!(
            hash_hex("abc\n"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
