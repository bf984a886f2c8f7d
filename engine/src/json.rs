//! Reading JSON data (request context, entity attributes) as values of the schema's types.
//!
//! A [`Reader`] walks a JSON value and a [`Ty`] together and keeps the path it is at
//! (`context.tls.version`), so every error names the field. Accepted forms:
//! entities `"User::\"alice\""`, `{"type", "id"}` or `{"__entity": {…}}`; IPs as strings
//! or `{"__extn": {"fn": "ip", "arg": …}}`; durations `"1h30m"`, `"-5h"` or
//! `{"__extn": {"fn": "duration", …}}`; timestamps RFC 3339, Cedar's `datetime` texts
//! (`2024-10-10`, `…-0500`), `{"__extn": {"fn": "datetime", …}}` or integer epoch seconds; TLS versions `"1.2"`, `"TLSv1.2"`, `"tls1.2"`; enum variants by
//! name; sets from arrays. Absent and `null` record fields take the schema default, are left
//! out when optional, and are an error otherwise. Unknown fields are errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map as JsonMap, Value as Json};

use crate::bundle::{RecordType, Ty, TypeId};
use crate::display::{self, escape_into, truncate};
use crate::engine::Engine;
use crate::forms::{entity_parts, extension_arg, is_identifier, parse_ip};
use crate::time::{parse_data_timestamp, parse_duration};
use crate::value::{EntityUid, Record, TlsVersion, Value};

/// The deepest nesting of JSON data the engine reads.
pub(crate) const MAX_DATA_DEPTH: usize = 64;

/// A value that does not fit, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadError {
    pub path: String,
    pub message: String,
}

/// Reads JSON as schema-typed values, tracking the field path for messages.
pub(crate) struct Reader<'e> {
    engine: &'e Engine,
    path: String,
    depth: usize,
}

impl<'e> Reader<'e> {
    /// A reader whose paths start at `root` (`context`, `attrs`, `principal`).
    pub(crate) fn new(engine: &'e Engine, root: &str) -> Self {
        Self {
            engine,
            path: root.to_string(),
            depth: 0,
        }
    }

    /// An error at the current path.
    pub(crate) fn error(&self, message: impl Into<String>) -> ReadError {
        ReadError {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn expected(&self, what: &str, found: &Json) -> ReadError {
        self.error(format!("expected {what}, found `{}`", json_excerpt(found)))
    }

    /// Runs `read` with `.name` appended to the path.
    pub(crate) fn field<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        let len = self.path.len();
        if is_identifier(name) {
            self.path.push('.');
            self.path.push_str(name);
        } else {
            self.path.push_str("[\"");
            escape_into(&mut self.path, &truncate(name, 40));
            self.path.push_str("\"]");
        }
        let result = read(self);
        self.path.truncate(len);
        result
    }

    /// Runs `read` with `[index]` appended to the path.
    pub(crate) fn element<T>(
        &mut self,
        index: usize,
        read: impl FnOnce(&mut Self) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        let len = self.path.len();
        self.path.push_str(&format!("[{index}]"));
        let result = read(self);
        self.path.truncate(len);
        result
    }

    /// Runs `read` one nesting level deeper (at most [`MAX_DATA_DEPTH`]).
    pub(crate) fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        if self.depth >= MAX_DATA_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DATA_DEPTH} levels")));
        }
        self.depth = self.depth.saturating_add(1);
        let result = read(self);
        self.depth = self.depth.saturating_sub(1);
        result
    }

    /// Reads `json` as a value of type `ty`.
    pub(crate) fn value(&mut self, json: &Json, ty: &Ty) -> Result<Value, ReadError> {
        match ty {
            Ty::Bool => json
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| self.expected("a boolean", json)),
            Ty::Int => self.int(json).map(Value::Int),
            Ty::String => json
                .as_str()
                .map(Value::string)
                .ok_or_else(|| self.expected("a string", json)),
            Ty::Ip => self.ip(json).map(Value::Ip),
            Ty::Duration => self.duration(json).map(Value::Duration),
            Ty::Timestamp => self.timestamp(json).map(Value::Timestamp),
            Ty::Decimal => self.decimal(json).map(Value::Decimal),
            Ty::Tls => json
                .as_str()
                .and_then(TlsVersion::parse)
                .map(Value::Tls)
                .ok_or_else(|| self.expected("a TLS version", json)),
            Ty::Enum(id) => self.enum_variant(json, *id),
            Ty::Entity(expected) => self.entity(json, Some(*expected)).map(Value::Entity),
            Ty::AnyEntity => self.entity(json, None).map(Value::Entity),
            Ty::Set(element) => self.set(json, element),
            Ty::Record(record) => match json.as_object() {
                Some(object) => self
                    .nested(|r| r.record(Some(object), record))
                    .map(|r| Value::Record(Arc::new(r))),
                None => Err(self.expected("an object", json)),
            },
            Ty::Map(element) => self.map(json, element),
            Ty::Any => self.any(json),
        }
    }

    /// Reads the fields of an object (or of no object: all defaults) as a record.
    pub(crate) fn record(
        &mut self,
        object: Option<&JsonMap<String, Json>>,
        ty: &RecordType,
    ) -> Result<Record, ReadError> {
        self.record_of(
            object
                .into_iter()
                .flatten()
                .map(|(key, json)| (key.as_str(), json)),
            ty,
        )
    }

    /// Reads named fields, in the order given, as a record: what [`Reader::record`] does
    /// for a JSON object, for any [`FieldInput`] (the gateway's typed facts read this way
    /// without a JSON tree, with the same values and the same errors).
    pub(crate) fn record_of<'k, I: FieldInput>(
        &mut self,
        entries: impl IntoIterator<Item = (&'k str, I)>,
        ty: &RecordType,
    ) -> Result<Record, ReadError> {
        let mut fields: Vec<(u32, Value)> = Vec::with_capacity(ty.fields.len());
        for (key, input) in entries {
            let field = self
                .engine
                .names
                .symbols
                .get(key)
                .and_then(|sym| ty.fields.binary_search_by_key(sym, |f| f.name).ok())
                .and_then(|i| ty.fields.get(i));
            let Some(field) = field else {
                return Err(self.error(format!("unknown field `{}`", truncate(key, 60))));
            };
            if input.is_null() {
                continue;
            }
            let value = self.field(key, |r| input.read(r, &field.ty))?;
            fields.push((field.name, value));
        }
        fields.sort_by_key(|(sym, _)| *sym);
        // The absent fields go after the given ones (which stay sorted for the search).
        let given = fields.len();
        let engine = self.engine;
        for field in &ty.fields {
            let is_given = fields.get(..given).is_some_and(|given| {
                given
                    .binary_search_by_key(&field.name, |(sym, _)| *sym)
                    .is_ok()
            });
            if is_given {
                continue;
            }
            if let Some(default) = &field.default {
                fields.push((field.name, default.clone()));
            } else if field.optional {
                continue;
            } else if let Ty::Record(inner) = &field.ty {
                // A record whose fields all have defaults (the builtin `auth`, `tls`, …) is
                // always present; otherwise this names the first missing inner field.
                let name = engine.symbol_name(field.name);
                let record = self.field(name, |r| r.nested(|r| r.record(None, inner)))?;
                fields.push((field.name, Value::Record(Arc::new(record))));
            } else {
                let name = engine.symbol_name(field.name);
                return Err(self.field(name, |r| Ok(r.error("missing required field")))?);
            }
        }
        Ok(Record::new(fields))
    }

    fn int(&self, json: &Json) -> Result<i64, ReadError> {
        json.as_i64()
            .ok_or_else(|| self.expected("an integer", json))
    }

    fn ip(&self, json: &Json) -> Result<ipnet::IpNet, ReadError> {
        let text = match json {
            Json::String(text) => Some(text.as_str()),
            Json::Object(object) => extension_arg(object, "ip"),
            _ => None,
        };
        text.and_then(parse_ip)
            .ok_or_else(|| self.expected("an IP address or CIDR range", json))
    }

    /// `"1h30m"`, `"-5h"`, or Cedar's `{"__extn": {"fn": "duration", "arg": "-5h"}}`.
    fn duration(&self, json: &Json) -> Result<i64, ReadError> {
        let text = match json {
            Json::String(text) => Some(text.as_str()),
            Json::Object(object) => extension_arg(object, "duration"),
            _ => None,
        };
        text.and_then(parse_duration).ok_or_else(|| {
            self.expected(
                "a duration like `1h30m` or `-5h` (digits and a unit, d h m s or ms, per piece)",
                json,
            )
        })
    }

    /// `"12.5"`, Cedar's `{"__extn": {"fn": "decimal", "arg": "12.5"}}`, or a JSON number
    /// (an integer, or a fraction of at most 15 significant digits, which a double holds
    /// exactly; larger fractions must be written as text).
    fn decimal(&self, json: &Json) -> Result<i64, ReadError> {
        let text = match json {
            Json::String(text) => Some(text.as_str()),
            Json::Object(object) => extension_arg(object, "decimal"),
            Json::Number(n) => {
                let value = match (n.as_i64(), n.as_f64()) {
                    (Some(whole), _) => whole
                        .checked_mul(crate::decimal::SCALE)
                        .ok_or(crate::decimal::DecimalError::Range),
                    (None, Some(float)) => crate::decimal::decimal_from_f64(float),
                    (None, None) => Err(crate::decimal::DecimalError::Range),
                };
                return value.map_err(|e| self.not_decimal(json, e));
            }
            _ => None,
        };
        let Some(text) = text else {
            return Err(self.expected("a decimal like `12.5` (text or a number)", json));
        };
        crate::decimal::parse_decimal(text).map_err(|e| self.not_decimal(json, e))
    }

    fn not_decimal(&self, json: &Json, why: crate::decimal::DecimalError) -> ReadError {
        self.error(format!(
            "expected a decimal, found `{}`: {}",
            json_excerpt(json),
            why.message()
        ))
    }

    /// RFC 3339 text, Cedar's other `datetime` texts (`2024-10-10`, `…T10:00:00-0500`),
    /// `{"__extn": {"fn": "datetime", "arg": …}}`, or integer epoch seconds.
    fn timestamp(&self, json: &Json) -> Result<i64, ReadError> {
        self.timestamp_within(json, 0)
    }

    /// [`Self::timestamp`] inside `depth` `offset` forms: their nesting is bounded, since a
    /// value built in memory (not parsed from text) has no parser depth limit.
    fn timestamp_within(&self, json: &Json, depth: usize) -> Result<i64, ReadError> {
        let ms = match json {
            Json::String(text) => parse_data_timestamp(text),
            Json::Object(object) => match offset_args(object) {
                Some((base, by)) => return self.offset(base, by, depth),
                None => extension_arg(object, "datetime").and_then(parse_data_timestamp),
            },
            Json::Number(n) => n.as_i64().and_then(|seconds| seconds.checked_mul(1000)),
            _ => None,
        };
        ms.ok_or_else(|| {
            self.expected(
                "a timestamp: RFC 3339 (`2026-01-01T10:00:00Z`), a date (`2026-01-01`) or epoch seconds",
                json,
            )
        })
    }

    /// Cedar's one computed extension value that its JSON writes: `{"__extn": {"fn":
    /// "offset", "args": [DATETIME, DURATION]}}`, the timestamp moved by the duration (an
    /// overflow is refused like any out-of-range value).
    fn offset(&self, base: &Json, by: &Json, depth: usize) -> Result<i64, ReadError> {
        if depth >= MAX_OFFSET_DEPTH {
            return Err(self.error(format!("`offset` nested more than {MAX_OFFSET_DEPTH} deep")));
        }
        let base = self.timestamp_within(base, depth.saturating_add(1))?;
        let by = self.duration(by)?;
        base.checked_add(by)
            .ok_or_else(|| self.error("`offset`: the timestamp moved out of range"))
    }

    /// Cedar's extension values in untyped data: `ip`, `duration`, `datetime` and `decimal`
    /// read as their Rampart types; any other function is named in the error.
    fn extension(&self, json: &Json, object: &JsonMap<String, Json>) -> Result<Value, ReadError> {
        let function = object
            .get("__extn")
            .and_then(Json::as_object)
            .and_then(|inner| inner.get("fn"))
            .and_then(Json::as_str);
        match function {
            Some("ip") => self.ip(json).map(Value::Ip),
            Some("duration") => self.duration(json).map(Value::Duration),
            Some("datetime" | "offset") => self.timestamp(json).map(Value::Timestamp),
            Some("decimal") => self.decimal(json).map(Value::Decimal),
            Some(other) => Err(self.error(format!(
                "unknown extension function `{}`: Rampart reads `ip`, `duration`, `datetime`, \
                 `decimal` and `offset`",
                truncate(other, 40)
            ))),
            None => Err(self.expected(
                "an extension value `{\"__extn\": {\"fn\": …, \"arg\": …}}`",
                json,
            )),
        }
    }

    fn enum_variant(&self, json: &Json, id: u32) -> Result<Value, ReadError> {
        let schema = &self.engine.bundle.schema;
        let Some(enum_type) = usize::try_from(id).ok().and_then(|i| schema.enums.get(i)) else {
            return Err(self.error("the schema has no such enum"));
        };
        let position = json
            .as_str()
            .and_then(|name| enum_type.variants.iter().position(|v| v == name));
        match position.and_then(|p| u32::try_from(p).ok()) {
            Some(variant) => Ok(Value::Enum(id, variant)),
            None => {
                let names: Vec<String> = enum_type
                    .variants
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect();
                Err(self.expected(&format!("one of {}", names.join(", ")), json))
            }
        }
    }

    /// Reads an entity reference in any of its JSON forms, of type `expected` when given.
    pub(crate) fn entity(
        &self,
        json: &Json,
        expected: Option<TypeId>,
    ) -> Result<EntityUid, ReadError> {
        let (type_name, id) = entity_parts(json).ok_or_else(|| {
            self.expected(
                "an entity (`Type::\"id\"` or {\"type\": …, \"id\": …})",
                json,
            )
        })?;
        let ty = self
            .engine
            .names
            .types
            .get(type_name.as_str())
            .copied()
            .ok_or_else(|| {
                self.error(format!(
                    "unknown entity type `{}`",
                    truncate(&type_name, 60)
                ))
            })?;
        let uid = EntityUid {
            ty,
            id: Arc::from(id),
        };
        match expected {
            Some(expected) if expected != ty => {
                let schema = &self.engine.bundle.schema;
                Err(self.error(format!(
                    "expected an entity of type `{}`, found `{}`",
                    display::type_name(schema, expected),
                    truncate(&display::uid_literal(schema, &uid), 80)
                )))
            }
            _ => Ok(uid),
        }
    }

    fn set(&mut self, json: &Json, element: &Ty) -> Result<Value, ReadError> {
        if let (Json::String(text), Ty::String) = (json, element) {
            if self.path == "context.auth.scopes" {
                return Ok(Value::set(
                    text.split_whitespace().map(Value::string).collect(),
                ));
            }
        }
        let Some(items) = json.as_array() else {
            return Err(self.expected("an array", json));
        };
        self.nested(|r| {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| r.element(i, |r| r.value(item, element)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::set(values))
        })
    }

    fn map(&mut self, json: &Json, element: &Ty) -> Result<Value, ReadError> {
        let Some(object) = json.as_object() else {
            return Err(self.expected("an object", json));
        };
        let lower_keys = self.path == "context.request.headers";
        self.nested(|r| {
            let mut map = BTreeMap::new();
            for (key, item) in object {
                if item.is_null() {
                    continue;
                }
                let value = r.field(key, |r| r.value(item, element))?;
                let key: Arc<str> = if lower_keys {
                    Arc::from(key.to_ascii_lowercase())
                } else {
                    Arc::from(key.as_str())
                };
                map.insert(key, value);
            }
            Ok(Value::Map(Arc::new(map)))
        })
    }

    /// Untyped data (claims): booleans, integers, strings, arrays as sets, objects as maps,
    /// and the Cedar `__entity` / `__extn` forms.
    fn any(&mut self, json: &Json) -> Result<Value, ReadError> {
        match json {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::Number(_) => self.int(json).map(Value::Int),
            Json::String(text) => Ok(Value::string(text)),
            Json::Array(_) => self.set(json, &Ty::Any),
            Json::Object(object) if object.contains_key("__entity") => {
                self.entity(json, None).map(Value::Entity)
            }
            Json::Object(object) if object.contains_key("__extn") => self.extension(json, object),
            Json::Object(_) => self.map(json, &Ty::Any),
            Json::Null => Err(self.expected("a value", json)),
        }
    }
}

/// A value of a record field, as [`Reader::record_of`] reads it.
pub(crate) trait FieldInput {
    /// True for an absent value (JSON `null`): the field takes its default.
    fn is_null(&self) -> bool;
    /// Reads the value as a value of type `ty`, at the reader's path.
    fn read(&self, reader: &mut Reader<'_>, ty: &Ty) -> Result<Value, ReadError>;
}

impl FieldInput for &Json {
    fn is_null(&self) -> bool {
        Json::is_null(self)
    }

    fn read(&self, reader: &mut Reader<'_>, ty: &Ty) -> Result<Value, ReadError> {
        reader.value(self, ty)
    }
}

/// Compact JSON of user input for a message, shortened. Bounded in depth and length, so
/// even a huge or deeply nested value (built by a caller, not parsed) is cheap to quote.
pub(crate) fn json_excerpt(json: &Json) -> String {
    const BUDGET: usize = 80;
    fn write(out: &mut String, json: &Json, depth: usize) {
        if out.len() > BUDGET {
            return;
        }
        match json {
            Json::Array(items) if depth >= 4 && !items.is_empty() => out.push_str("[…]"),
            Json::Object(map) if depth >= 4 && !map.is_empty() => out.push_str("{…}"),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item, depth.saturating_add(1));
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, &Json::String(truncate(key, BUDGET)), depth);
                    out.push(':');
                    write(out, item, depth.saturating_add(1));
                }
                out.push('}');
            }
            Json::String(text) => {
                let short = Json::String(truncate(text, BUDGET));
                out.push_str(&serde_json::to_string(&short).unwrap_or_default());
            }
            scalar => out.push_str(&serde_json::to_string(scalar).unwrap_or_default()),
        }
    }
    let mut out = String::new();
    write(&mut out, json, 0);
    truncate(&out, 60)
}

/// The deepest nesting of Cedar's `offset` form (`offset(offset(…), …)`) read.
const MAX_OFFSET_DEPTH: usize = 16;

/// The two arguments of `{"__extn": {"fn": "offset", "args": [A, B]}}`, the only member of
/// its object.
fn offset_args(object: &JsonMap<String, Json>) -> Option<(&Json, &Json)> {
    let inner = object.get("__extn")?.as_object()?;
    if object.len() != 1 || inner.get("fn")?.as_str()? != "offset" {
        return None;
    }
    match inner.get("args")?.as_array()?.as_slice() {
        [base, by] => Some((base, by)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(
            json_excerpt(&serde_json::json!({"a": [1, "x"]})),
            r#"{"a":[1,"x"]}"#
        );
        let mut deep = serde_json::json!(1);
        for _ in 0..100_000 {
            deep = Json::Array(vec![deep]);
        }
        assert_eq!(json_excerpt(&deep), "[[[[[…]]]]]");
        let long = serde_json::json!("x".repeat(1000));
        assert_eq!(json_excerpt(&long).chars().count(), 61);
        // Dropping a value this deep recurses in serde_json; leak it in the test instead.
        std::mem::forget(deep);
    }
}
