//! The bundle (and entities) `rampart build --target proxy-wasm` joined to the module.
//!
//! The joining is `rampart-wasm-embed`'s, shared with the plain-ABI module: the module
//! imports `rampart_embed.rampart_payload_len`/`_copy`, and the joiner replaces them with
//! functions that copy a passive data segment holding the payload. A module nothing was
//! joined to still has those imports, so Envoy refuses to load it: what is shipped is
//! always joined, with a bundle or with an empty payload.

use rampart_wasm_embed::{embedded_payload, Payload, BUNDLE, ENTITIES};

/// What is embedded in this module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Embedded {
    /// The bundle JSON, if one was joined.
    pub bundle: Option<String>,
    /// The entity JSON, if it was joined.
    pub entities: Option<String>,
}

/// Reads the embedded policy (nothing outside wasm); an error when the payload is corrupt.
pub fn policy() -> Result<Embedded, String> {
    let bytes = embedded_payload().ok_or("no memory for the embedded payload")?;
    from_payload(&bytes)
}

/// The policy entries of payload bytes.
pub fn from_payload(bytes: &[u8]) -> Result<Embedded, String> {
    let mut payload = Payload::from_bytes(bytes).map_err(|e| e.to_string())?;
    let mut text = |name: &str| -> Result<Option<String>, String> {
        payload
            .take(name)
            .map(|data| String::from_utf8(data).map_err(|_| format!("entry `{name}` is not UTF-8")))
            .transpose()
    };
    Ok(Embedded {
        bundle: text(BUNDLE)?,
        entities: text(ENTITIES)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bundle_and_entities_entries() {
        assert_eq!(policy(), Ok(Embedded::default()));
        let mut payload = Payload::new();
        payload.insert(BUNDLE, b"{}".to_vec()).unwrap();
        payload.insert("other", b"x".to_vec()).unwrap();
        let embedded = from_payload(&payload.to_bytes()).unwrap();
        assert_eq!(embedded.bundle.as_deref(), Some("{}"));
        assert_eq!(embedded.entities, None);
        payload.insert(ENTITIES, vec![0xff]).unwrap();
        assert_eq!(
            from_payload(&payload.to_bytes()),
            Err("entry `entities` is not UTF-8".into())
        );
        assert!(from_payload(b"nope").is_err());
    }
}
