//! Runtime values.
//!
//! Cloning a [`Value`] never allocates: strings, sets, records and maps are shared behind
//! `Arc`. Sets are kept sorted and deduplicated so equality is structural.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bundle::{EnumId, Sym, TypeId};

/// TLS protocol versions, ordered: `tls1.0 < tls1.1 < tls1.2 < tls1.3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// The policy literal: `tls1.2`.
    pub fn literal(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "tls1.0",
            TlsVersion::Tls11 => "tls1.1",
            TlsVersion::Tls12 => "tls1.2",
            TlsVersion::Tls13 => "tls1.3",
        }
    }

    /// Reads the usual spellings: `tls1.2`, `TLSv1.2`, `TLS 1.2`, `1.2` (case-insensitive).
    pub fn parse(text: &str) -> Option<TlsVersion> {
        let lower = text.trim().to_ascii_lowercase();
        let rest = lower
            .strip_prefix("tlsv")
            .or_else(|| lower.strip_prefix("tls"))
            .unwrap_or(&lower)
            .trim_start();
        match rest {
            "1.0" | "1" | "10" => Some(TlsVersion::Tls10),
            "1.1" | "11" => Some(TlsVersion::Tls11),
            "1.2" | "12" => Some(TlsVersion::Tls12),
            "1.3" | "13" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

/// An entity reference: its type and id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityUid {
    pub ty: TypeId,
    pub id: Arc<str>,
}

/// A record with fields named by interned symbols, sorted by symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Record {
    pub fields: Vec<(Sym, Value)>,
}

impl Record {
    /// Builds a record, sorting fields by symbol. A repeated symbol keeps its last value.
    pub fn new(mut fields: Vec<(Sym, Value)>) -> Self {
        fields.sort_by_key(|(s, _)| *s);
        let mut out: Vec<(Sym, Value)> = Vec::with_capacity(fields.len());
        for (s, v) in fields {
            match out.last_mut() {
                Some(last) if last.0 == s => last.1 = v,
                _ => out.push((s, v)),
            }
        }
        Self { fields: out }
    }

    pub fn get(&self, sym: Sym) -> Option<&Value> {
        self.fields
            .binary_search_by_key(&sym, |(s, _)| *s)
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|(_, v)| v)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Bool(bool),
    Int(i64),
    String(Arc<str>),
    /// An address is a network of full length (/32, /128).
    Ip(ipnet::IpNet),
    /// Milliseconds.
    Duration(i64),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Ten-thousandths (Cedar's `decimal`; see [`crate::decimal`]).
    Decimal(i64),
    Tls(TlsVersion),
    Enum(EnumId, u32),
    Entity(EntityUid),
    /// Sorted and deduplicated.
    Set(Arc<[Value]>),
    Record(Arc<Record>),
    /// String-keyed data whose keys the schema does not name (headers, claims).
    Map(Arc<BTreeMap<Arc<str>, Value>>),
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::String(Arc::from(s))
    }

    /// Builds a set value: sorts and deduplicates.
    pub fn set(mut items: Vec<Value>) -> Value {
        items.sort();
        items.dedup();
        Value::Set(Arc::from(items))
    }

    /// A short name of the value's kind, for error messages: `string`, `set`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::String(_) => "string",
            Value::Ip(_) => "ip",
            Value::Duration(_) => "duration",
            Value::Timestamp(_) => "timestamp",
            Value::Decimal(_) => "decimal",
            Value::Tls(_) => "tls version",
            Value::Enum(..) => "enum",
            Value::Entity(_) => "entity",
            Value::Set(_) => "set",
            Value::Record(_) => "record",
            Value::Map(_) => "map",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.literal())
    }
}
