//! Values in the JSON forms `rampart eval` reads: canonical literal strings for IPs,
//! durations, timestamps and TLS versions, `{"type", "id"}` for entities.

use serde_json::{json, Map, Value as Json};

use rampart_engine::Value;

use crate::check::schema::SchemaInfo;
use crate::check::symbols::Symbols;
use crate::fmt::{format_duration, format_timestamp};

/// The JSON form of a value.
pub fn to_json(value: &Value, schema: &SchemaInfo, symbols: &Symbols) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => json!(n),
        Value::String(s) => Json::String(s.to_string()),
        Value::Ip(net) => Json::String(ip_text(net)),
        Value::Duration(ms) => Json::String(format_duration(*ms)),
        Value::Timestamp(ms) => Json::String(format_timestamp(*ms)),
        Value::Decimal(n) => Json::String(rampart_engine::decimal::format_decimal(*n)),
        Value::Tls(v) => Json::String(v.literal().to_owned()),
        Value::Enum(e, i) => {
            let name = schema
                .enum_info(*e)
                .and_then(|info| info.variants.get(*i as usize))
                .cloned()
                .unwrap_or_default();
            Json::String(name)
        }
        Value::Entity(uid) => entity_json(
            schema.entity(uid.ty).map_or("", |e| e.name.as_str()),
            &uid.id,
        ),
        Value::Set(items) => {
            Json::Array(items.iter().map(|v| to_json(v, schema, symbols)).collect())
        }
        Value::Record(record) => {
            let mut map = Map::new();
            for (sym, v) in &record.fields {
                map.insert(symbols.name(*sym).to_owned(), to_json(v, schema, symbols));
            }
            Json::Object(map)
        }
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), to_json(v, schema, symbols)))
                .collect(),
        ),
    }
}

/// `{"type": "User", "id": "alice"}`
pub fn entity_json(ty: &str, id: &str) -> Json {
    json!({"type": ty, "id": id})
}

/// An address without `/32` or `/128`; a network with its prefix.
pub fn ip_text(net: &ipnet::IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_addresses_without_full_prefix() {
        let host: ipnet::IpNet = "10.0.0.1/32".parse().unwrap_or_else(|_| panic!("ip"));
        let net: ipnet::IpNet = "2001:db8::/32".parse().unwrap_or_else(|_| panic!("ip"));
        assert_eq!(ip_text(&host), "10.0.0.1");
        assert_eq!(ip_text(&net), "2001:db8::/32");
    }
}
