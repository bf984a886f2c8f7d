//! The payload format: named byte entries behind a magic number and a version.
//!
//! ```text
//! magic "RMPL" · version u8 (1) · entry*
//! entry = name length u8 · name (UTF-8) · data length u32 little-endian · data
//! ```
//!
//! Names are unique. A module reads the entries it knows and ignores the others, so a new
//! entry never breaks an older engine module.

use std::fmt;

/// The first bytes of every payload.
pub const MAGIC: &[u8; 4] = b"RMPL";

/// The payload format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// The entry holding the compiled bundle (its JSON text).
pub const BUNDLE: &str = "bundle";

/// The entry holding the entity data (a Cedar-format JSON array).
pub const ENTITIES: &str = "entities";

/// A set of named entries to embed in a module, or read back from one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    entries: Vec<(String, Vec<u8>)>,
}

/// Why bytes are not a payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadError {
    message: String,
}

impl PayloadError {
    fn new(message: impl Into<String>) -> Self {
        PayloadError {
            message: message.into(),
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PayloadError {}

impl Payload {
    /// An empty payload: a module joined with it starts with no bundle.
    pub fn new() -> Self {
        Payload::default()
    }

    /// Sets entry `name` (replacing an entry of that name). Names longer than 255 bytes
    /// are an error.
    pub fn insert(&mut self, name: &str, data: impl Into<Vec<u8>>) -> Result<(), PayloadError> {
        if name.len() > usize::from(u8::MAX) {
            return Err(PayloadError::new(format!(
                "entry name `{name}` is longer than 255 bytes"
            )));
        }
        let data = data.into();
        if u32::try_from(data.len()).is_err() {
            return Err(PayloadError::new(format!(
                "entry `{name}` is larger than 4 GiB"
            )));
        }
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = data,
            None => self.entries.push((name.to_owned(), data)),
        }
        Ok(())
    }

    /// The data of entry `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| data.as_slice())
    }

    /// Removes entry `name` and returns its data (so a reader can take ownership).
    pub fn take(&mut self, name: &str) -> Option<Vec<u8>> {
        let at = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(at).1)
    }

    /// The entry names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// Whether the payload holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let size: usize = self
            .entries
            .iter()
            .map(|(n, d)| n.len().saturating_add(d.len()).saturating_add(5))
            .fold(5, usize::saturating_add);
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        for (name, data) in &self.entries {
            // Both lengths were checked by `insert`.
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    /// Reads the binary form. An empty input is an empty payload (a module joined with
    /// nothing).
    pub fn from_bytes(bytes: &[u8]) -> Result<Payload, PayloadError> {
        if bytes.is_empty() {
            return Ok(Payload::new());
        }
        let mut input = Input { bytes };
        if input.take(4) != Some(MAGIC.as_slice()) {
            return Err(PayloadError::new(
                "not a Rampart payload (bad magic number)",
            ));
        }
        match input.take(1) {
            Some([FORMAT_VERSION]) => {}
            Some([other]) => {
                return Err(PayloadError::new(format!(
                    "payload format version {other} is not supported (this module reads {FORMAT_VERSION})"
                )))
            }
            _ => return Err(PayloadError::new("the payload is truncated")),
        }
        let mut payload = Payload::new();
        while !input.bytes.is_empty() {
            let truncated = || PayloadError::new("the payload is truncated");
            let name_len = input
                .take(1)
                .and_then(|b| b.first().copied())
                .ok_or_else(truncated)?;
            let name = input.take(usize::from(name_len)).ok_or_else(truncated)?;
            let name = std::str::from_utf8(name)
                .map_err(|_| PayloadError::new("a payload entry name is not UTF-8"))?;
            let len = input
                .take(4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .ok_or_else(truncated)?;
            let data = usize::try_from(len)
                .ok()
                .and_then(|len| input.take(len))
                .ok_or_else(truncated)?;
            if payload.get(name).is_some() {
                return Err(PayloadError::new(format!(
                    "payload entry `{name}` appears twice"
                )));
            }
            payload.entries.push((name.to_owned(), data.to_vec()));
        }
        Ok(payload)
    }
}

/// A cursor over the bytes still to read.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_entries_in_order() {
        let mut payload = Payload::new();
        payload.insert(BUNDLE, b"{\"format\":1}".to_vec()).unwrap();
        payload.insert(ENTITIES, b"[]".to_vec()).unwrap();
        payload.insert("config", Vec::new()).unwrap();
        let again = Payload::from_bytes(&payload.to_bytes()).unwrap();
        assert_eq!(again, payload);
        assert_eq!(
            again.names().collect::<Vec<_>>(),
            ["bundle", "entities", "config"]
        );
        assert_eq!(again.get(ENTITIES), Some(b"[]".as_slice()));
        assert_eq!(again.get("config"), Some(b"".as_slice()));
    }

    #[test]
    fn insert_replaces_an_entry_of_the_same_name() {
        let mut payload = Payload::new();
        payload.insert(BUNDLE, b"a".to_vec()).unwrap();
        payload.insert(BUNDLE, b"b".to_vec()).unwrap();
        assert_eq!(payload.names().count(), 1);
        assert_eq!(payload.take(BUNDLE), Some(b"b".to_vec()));
        assert!(payload.is_empty());
    }

    #[test]
    fn empty_bytes_are_an_empty_payload() {
        assert!(Payload::from_bytes(&[]).unwrap().is_empty());
        assert!(Payload::from_bytes(&Payload::new().to_bytes())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rejects_bad_magic_version_truncation_and_duplicates() {
        let error = |bytes: &[u8]| Payload::from_bytes(bytes).unwrap_err().to_string();
        assert!(error(b"nope").contains("magic"));
        assert!(error(b"RMPL\x07").contains("version 7"));
        assert!(error(b"RMPL").contains("truncated"));
        assert!(error(b"RMPL\x01\x06bundle\x05\x00\x00\x00ab").contains("truncated"));
        assert!(error(b"RMPL\x01\x01a\x00\x00\x00\x00\x01a\x00\x00\x00\x00").contains("twice"));
        let long = "x".repeat(256);
        assert!(Payload::new().insert(&long, Vec::new()).is_err());
    }
}
