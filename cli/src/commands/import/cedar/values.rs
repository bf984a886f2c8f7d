//! Cedar values (the `Value` of an expression, in Cedar's JSON value form) as Rampart
//! literals, and the literals of Cedar's extension constructors.

use std::net::IpAddr;

use serde_json::Value;

use super::names::{field, string_literal};
use super::schema::CedarSchema;

/// The `(type, id)` of an entity reference (`{"__entity": {"type", "id"}}`); `None` when
/// `v` is not one.
pub fn entity_ref(v: &Value) -> Option<Result<(&str, &str), String>> {
    let inner = v.as_object()?.get("__entity")?;
    let ty = inner.get("type").and_then(Value::as_str);
    let id = inner.get("id").and_then(Value::as_str);
    Some(match (ty, id) {
        (Some(ty), Some(id)) => Ok((ty, id)),
        _ => Err("an entity reference without a string `type` and `id`".to_owned()),
    })
}

/// A Cedar value as a Rampart literal, and whether it starts with a unary minus.
pub fn literal(v: &Value, schema: &CedarSchema) -> Result<(String, bool), String> {
    match v {
        Value::Bool(b) => Ok((b.to_string(), false)),
        Value::Number(n) => match n.as_i64() {
            // Rampart's literals are unsigned: the smallest integer is written as the
            // constant expression it is (folded by the compiler, exact).
            Some(i64::MIN) => Ok(("(-9223372036854775807 - 1)".to_owned(), false)),
            Some(i) if i < 0 => Ok((format!("-{}", i.unsigned_abs()), true)),
            Some(i) => Ok((i.to_string(), false)),
            None => Err(format!("the number `{n}`, which is not a 64-bit integer")),
        },
        Value::String(s) => Ok((string_literal(s), false)),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(element(item, schema)?);
            }
            Ok((format!("[{}]", parts.join(", ")), false))
        }
        Value::Object(obj) => {
            if let Some(uid) = entity_ref(v) {
                let (ty, id) = uid?;
                if schema.ns.is_action_type(ty) {
                    return Err(format!("the action `{id}` used as a value"));
                }
                return Ok((schema.entity_literal(ty, id)?, false));
            }
            if let Some(ext) = obj.get("__extn") {
                let name = ext.get("fn").and_then(Value::as_str).unwrap_or_default();
                let arg = ext.get("arg").and_then(Value::as_str).ok_or_else(|| {
                    format!("the extension value `{name}` without a string argument")
                })?;
                return extension_literal(name, arg);
            }
            let mut parts = Vec::with_capacity(obj.len());
            for (k, item) in obj {
                parts.push(format!("{}: {}", field(k), element(item, schema)?));
            }
            Ok((format!("{{ {} }}", parts.join(", ")), false))
        }
        Value::Null => Err("`null`".to_owned()),
    }
}

/// A value inside a set or record (a leading minus needs no parentheses there).
fn element(v: &Value, schema: &CedarSchema) -> Result<String, String> {
    literal(v, schema).map(|(text, _)| text)
}

/// The literal of `ip("…")`, `datetime("…")`, `duration("…")` or `decimal("…")`, and
/// whether it starts with a unary minus.
pub fn extension_literal(name: &str, arg: &str) -> Result<(String, bool), String> {
    match name {
        "ip" => ip_literal(arg).map(|text| (text, false)),
        "datetime" => rampart_engine::time::parse_data_timestamp(arg)
            .map(|ms| (rampart_engine::time::format_timestamp(ms), false))
            .ok_or_else(|| {
                format!(
                    "`datetime({})`: not a datetime Rampart can read",
                    string_literal(arg)
                )
            }),
        "duration" => rampart_engine::time::parse_duration(arg)
            .map(|ms| {
                let text = rampart_engine::time::format_duration(ms);
                let negative = text.starts_with('-');
                (text, negative)
            })
            .ok_or_else(|| {
                format!(
                    "`duration({})`: not a duration Rampart can read",
                    string_literal(arg)
                )
            }),
        "decimal" => rampart_engine::decimal::parse_decimal(arg)
            .map(|n| {
                let text = rampart_engine::decimal::format_decimal(n);
                let negative = text.starts_with('-');
                (text, negative)
            })
            .map_err(|e| {
                format!(
                    "`decimal({})`: not a decimal Rampart can read ({})",
                    string_literal(arg),
                    e.message()
                )
            }),
        other => Err(format!("the extension function `{other}`")),
    }
}

/// An address or network as Rampart writes it (`10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`).
fn ip_literal(text: &str) -> Result<String, String> {
    let refuse = || format!("`ip({})`: not an address or network", string_literal(text));
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| refuse())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => Ok(addr.to_string()),
        Some(p) => {
            let bits: u8 = p.parse().map_err(|_| refuse())?;
            if bits > max || (p.len() > 1 && p.starts_with('0')) {
                return Err(refuse());
            }
            if bits == max {
                Ok(addr.to_string())
            } else {
                Ok(format!("{addr}/{bits}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_literals_are_rampart_literals() {
        assert_eq!(
            extension_literal("ip", "10.0.0.0/8"),
            Ok(("10.0.0.0/8".to_owned(), false))
        );
        assert_eq!(
            extension_literal("ip", "::1/128"),
            Ok(("::1".to_owned(), false))
        );
        assert!(extension_literal("ip", "10.0.0.0/33").is_err());
        assert_eq!(
            extension_literal("datetime", "2024-10-15"),
            Ok(("2024-10-15T00:00:00Z".to_owned(), false))
        );
        assert_eq!(
            extension_literal("datetime", "2024-10-15T11:38:02+0130"),
            Ok(("2024-10-15T10:08:02Z".to_owned(), false))
        );
        assert_eq!(
            extension_literal("duration", "-1d12h"),
            Ok(("-1d12h".to_owned(), true))
        );
        assert_eq!(
            extension_literal("decimal", "-1.50"),
            Ok(("-1.5".to_owned(), true))
        );
        assert!(extension_literal("decimal", "1.23456").is_err());
        assert!(extension_literal("decimal", "1").is_err());
    }
}
