//! The hash chain of the decision log: how a record is sealed and how a sealed line is read
//! back.
//!
//! A sealed record is one JSON object on one line whose last three fields are
//! `"seq":N,"prev":"<hex>","hash":"<hex>"`. `hash` is the SHA-256, in lowercase hex, of the
//! line's own bytes without its `hash` field: everything before `,"hash":` followed by `}`.
//! So the hash covers `prev`, which is the `hash` of the record before (64 zeros for the
//! first record of a chain), and `seq`, which counts records from 1 along the chain. The
//! bytes are hashed exactly as written: any change to a record, even of white space, breaks
//! its hash.

use std::io::Write as _;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::event::Event;

/// The `prev` of the first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The length of a SHA-256 hash in hex.
const HASH_HEX_LEN: usize = 64;

/// Lowercase hex digits by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// What a sealed line ends with before the hash.
const HASH_FIELD: &[u8] = b",\"hash\":\"";

/// The bytes after the hash: the closing quote and brace.
const HASH_END: &[u8] = b"\"}";

/// Where a chain stands: the last record sealed (or read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// The `seq` of the last record; 0 before the first.
    pub seq: u64,
    /// The `hash` of the last record; [`GENESIS`] before the first.
    pub hash: String,
}

impl ChainHead {
    /// The head of a chain that has no record yet.
    pub fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }

    /// Seals a record: `body` is a JSON object without its closing brace (`{"id":…,"x":1`).
    /// Appends `seq`, `prev` and `hash`, the closing brace and a newline, and moves the head
    /// to the new record.
    #[cfg(test)]
    pub fn seal(&mut self, body: &mut String) {
        let mut bytes = std::mem::take(body).into_bytes();
        self.seal_bytes(&mut bytes);
        // Sealing appends ASCII only.
        *body = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }

    /// [`ChainHead::seal`] on the bytes of a record (valid UTF-8), as the writer holds it.
    pub fn seal_bytes(&mut self, body: &mut Vec<u8>) {
        let seq = self.seq.saturating_add(1);
        let _ = write!(body, ",\"seq\":{seq},\"prev\":\"{}\"", self.hash);
        // The new hash replaces the old one in place: no allocation per record.
        write_hash_hex(body, &mut self.hash);
        body.extend_from_slice(b",\"hash\":\"");
        body.extend_from_slice(self.hash.as_bytes());
        body.extend_from_slice(b"\"}\n");
        self.seq = seq;
    }
}

/// SHA-256 in hex of `body` followed by `}`: the hash of a record whose bytes without the
/// `hash` field are `body}`.
fn hash_hex(body: &[u8]) -> String {
    let mut hex = String::with_capacity(HASH_HEX_LEN);
    write_hash_hex(body, &mut hex);
    hex
}

/// [`hash_hex`] into `hex`, replacing what it held.
fn write_hash_hex(body: &[u8], hex: &mut String) {
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.update(b"}");
    let digest = hasher.finalize();
    hex.clear();
    for byte in digest {
        hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// A line read back from a log, its chain fields checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    /// For a record about the log itself, its event (or why it is not one the writer
    /// writes); `None` for a decision record.
    pub event: Option<Result<Event, String>>,
}

/// Why a line is not a sound sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFault {
    /// Not a JSON object.
    BadJson(String),
    /// JSON, but without well-formed `seq`, `prev` and `hash` fields at its end.
    NotSealed(String),
    /// Well-formed, but the hash does not match the bytes: the record was edited.
    HashMismatch {
        seq: u64,
        stated: String,
        computed: String,
    },
}

/// Reads one line (without its newline) as a sealed record and checks its hash.
pub fn read_sealed(line: &[u8]) -> Result<SealedRecord, LineFault> {
    let record: Json = serde_json::from_slice(line).map_err(|e| {
        if line.iter().all(u8::is_ascii_whitespace) {
            LineFault::BadJson("empty line".to_owned())
        } else {
            LineFault::BadJson(e.to_string())
        }
    })?;
    let Json::Object(fields) = &record else {
        return Err(LineFault::BadJson("not a JSON object".to_owned()));
    };
    let not_sealed = |what: &str| LineFault::NotSealed(what.to_owned());
    let seq = fields
        .get("seq")
        .and_then(Json::as_u64)
        .ok_or_else(|| not_sealed("no `seq` number"))?;
    let prev = fields
        .get("prev")
        .and_then(Json::as_str)
        .filter(|p| is_hash_hex(p))
        .ok_or_else(|| not_sealed("no `prev` hash"))?;
    let hash = fields
        .get("hash")
        .and_then(Json::as_str)
        .filter(|h| is_hash_hex(h))
        .ok_or_else(|| not_sealed("no `hash`"))?;
    let suffix_len = HASH_FIELD.len() + HASH_HEX_LEN + HASH_END.len();
    let body_len = line
        .len()
        .checked_sub(suffix_len)
        .ok_or_else(|| not_sealed("`hash` is not the last field"))?;
    let (body, suffix) = line.split_at(body_len);
    let expected_suffix = [HASH_FIELD, hash.as_bytes(), HASH_END].concat();
    if suffix != expected_suffix.as_slice() {
        return Err(not_sealed("`hash` is not the last field"));
    }
    let computed = hash_hex(body);
    if computed != hash {
        return Err(LineFault::HashMismatch {
            seq,
            stated: hash.to_owned(),
            computed,
        });
    }
    Ok(SealedRecord {
        seq,
        prev: prev.to_owned(),
        hash: hash.to_owned(),
        event: Event::read(fields),
    })
}

/// The `prev` field of a line, read without any check: used to find where a record that
/// went missing from its place was moved to.
pub fn prev_of(line: &[u8]) -> Option<String> {
    let record: Json = serde_json::from_slice(line).ok()?;
    record.get("prev")?.as_str().map(str::to_owned)
}

/// True for 64 lowercase hex digits.
pub fn is_hash_hex(text: &str) -> bool {
    text.len() == HASH_HEX_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_line(head: &mut ChainHead, body: &str) -> String {
        let mut line = body.to_owned();
        head.seal(&mut line);
        line
    }

    #[test]
    fn a_sealed_record_reads_back_and_links_to_the_one_before() {
        let mut head = ChainHead::genesis();
        let first = sealed_line(&mut head, r#"{"id":"a""#);
        let second = sealed_line(&mut head, r#"{"id":"b""#);
        assert!(first.ends_with("\"}\n"));
        let a = read_sealed(first.trim_end().as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        let b = read_sealed(second.trim_end().as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((a.seq, a.prev.as_str()), (1, GENESIS));
        assert_eq!((b.seq, b.prev.as_str()), (2, a.hash.as_str()));
        assert_eq!(head.hash, b.hash);
        assert!(is_hash_hex(&a.hash));
        // The hash is over the bytes without the hash field, closed with a brace.
        let body = first.trim_end();
        let cut = body.len() - 75;
        assert_eq!(a.hash, hash_hex(&body.as_bytes()[..cut]));
    }

    #[test]
    fn edits_and_malformed_lines_are_told_apart() {
        let mut head = ChainHead::genesis();
        let line = sealed_line(&mut head, r#"{"id":"a","decision":"deny""#);
        let edited = line.trim_end().replace("deny", "allow");
        assert!(matches!(
            read_sealed(edited.as_bytes()),
            Err(LineFault::HashMismatch { .. })
        ));
        let spaced = line.trim_end().replacen(':', ": ", 1);
        assert!(matches!(
            read_sealed(spaced.as_bytes()),
            Err(LineFault::HashMismatch { .. })
        ));
        let cut = &line.as_bytes()[..line.len() / 2];
        assert!(matches!(read_sealed(cut), Err(LineFault::BadJson(_))));
        assert!(matches!(
            read_sealed(br#"{"id":"a"}"#),
            Err(LineFault::NotSealed(_))
        ));
        assert_eq!(
            read_sealed(b""),
            Err(LineFault::BadJson("empty line".into()))
        );
    }
}
