//! JSON text read strictly: a key repeated in one object is an error, at any depth.
//!
//! serde_json keeps the last of repeated keys. A component in front of Rampart that keeps
//! the first one (or reads them differently) would then check one request while the engine
//! decides another: `{"input": {…"/admin"…}, "input": {…}}`. So every request and entity
//! JSON a door reads goes through [`from_str`] or [`from_slice`], which build the same
//! [`serde_json::Value`] serde_json would, with one hash lookup per key and no other
//! allocation, and refuse the first repeated key by name (with its line and column).
//! Nesting stays bounded by serde_json's recursion limit (128).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value as Json};

use crate::display::truncate;

/// Parses JSON text; a repeated key in any object is an error naming it.
pub fn from_str(text: &str) -> Result<Json, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// [`from_str`] over bytes (which must be UTF-8).
pub fn from_slice(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Builds a [`Json`] value, refusing repeated keys.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        // JSON text has no NaN or infinity; serde_json reads overflowing numbers as errors.
        Ok(Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(access.next_value_seed(Strict)?);
                }
                Entry::Occupied(slot) => {
                    return Err(A::Error::custom(format_args!(
                        "duplicate key `{}`",
                        truncate(slot.key(), 60)
                    )));
                }
            }
        }
        Ok(Json::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::{from_slice, from_str};

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a": [1, -2, 3.5, 1e300, 18446744073709551615, "x\u00e9", true, null, {}], "b": {"c": []}}"#,
            "[]",
            "  \"s\"  ",
            "0",
        ] {
            let expected: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            assert_eq!(from_str(text).ok(), Some(expected.clone()), "{text}");
            assert_eq!(from_slice(text.as_bytes()).ok(), Some(expected), "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_an_error_naming_it_at_any_depth() {
        for (text, key) in [
            (
                r#"{"input": {"path": "/admin"}, "input": {"path": "/"}}"#,
                "input",
            ),
            (r#"{"http": {"path": "/admin", "path": "/"}}"#, "path"),
            (r#"[{"a": 1}, {"b": [{"c": 1, "c": 1}]}]"#, "c"),
            (r#"{"\u0061": 1, "a": 2}"#, "a"),
        ] {
            let message = from_str(text).err().map(|e| e.to_string());
            assert!(
                message
                    .as_deref()
                    .is_some_and(|m| m.starts_with(&format!("duplicate key `{key}` at line 1"))),
                "{text}: {message:?}"
            );
            assert!(from_slice(text.as_bytes()).is_err());
        }
        // The same key in sibling objects is no repetition.
        assert!(from_str(r#"{"a": {"k": 1}, "b": {"k": 2}}"#).is_ok());
    }

    #[test]
    fn trailing_text_and_deep_nesting_are_errors() {
        assert!(from_str("{} {}").is_err());
        assert!(from_str(&"[".repeat(100_000)).is_err());
    }
}
