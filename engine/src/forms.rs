//! The text and JSON forms of entity references, extension values and IP addresses, shared
//! by request and entity reading.

use std::net::IpAddr;

use serde_json::{Map as JsonMap, Value as Json};

/// `(type name, id)` of an entity in any of its JSON forms.
pub(crate) fn entity_parts(json: &Json) -> Option<(String, String)> {
    match json {
        Json::String(text) => parse_uid_literal(text),
        Json::Object(object) => {
            let object = match (object.len(), object.get("__entity")) {
                (1, Some(Json::Object(inner))) => inner,
                _ => object,
            };
            let (ty, id) = (object.get("type")?.as_str()?, object.get("id")?.as_str()?);
            (object.len() == 2).then(|| (ty.to_string(), id.to_string()))
        }
        _ => None,
    }
}

/// Reads `Type::"id"` (the id with string-literal escapes).
pub(crate) fn parse_uid_literal(text: &str) -> Option<(String, String)> {
    let (type_name, quoted) = text.split_once("::")?;
    if !is_identifier(type_name) {
        return None;
    }
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut id = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next()? {
                '"' => id.push('"'),
                '\\' => id.push('\\'),
                'n' => id.push('\n'),
                't' => id.push('\t'),
                'r' => id.push('\r'),
                'u' => {
                    let rest = chars.as_str().strip_prefix('{')?;
                    let (hex, after) = rest.split_once('}')?;
                    if hex.is_empty() || hex.len() > 6 {
                        return None;
                    }
                    id.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                    chars = after.chars();
                }
                _ => return None,
            },
            c => id.push(c),
        }
    }
    Some((type_name.to_string(), id))
}

/// The `arg` of a Cedar extension value `{"__extn": {"fn": NAME, "arg": "…"}}`.
pub(crate) fn extension_arg<'j>(
    object: &'j JsonMap<String, Json>,
    function: &str,
) -> Option<&'j str> {
    let inner = object.get("__extn")?.as_object();
    let inner = inner.filter(|_| object.len() == 1)?;
    (inner.get("fn")?.as_str()? == function).then_some(())?;
    inner.get("arg")?.as_str()
}

/// An address (as a full-length network) or a CIDR range. IPv4-mapped IPv6 addresses
/// (`::ffff:10.0.0.1`) read as their IPv4 address, so IPv4 ranges match them.
pub(crate) fn parse_ip(text: &str) -> Option<ipnet::IpNet> {
    if text.contains('/') {
        return text.parse().ok();
    }
    let address: IpAddr = text.parse().ok()?;
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    Some(ipnet::IpNet::from(address))
}

pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uid_literals() {
        assert_eq!(
            parse_uid_literal(r#"User::"alice""#),
            Some(("User".into(), "alice".into()))
        );
        assert_eq!(
            parse_uid_literal(r#"User::"a\"b\\c\u{e9}""#),
            Some(("User".into(), "a\"b\\cé".into()))
        );
        assert_eq!(
            parse_uid_literal(r#"User::"""#),
            Some(("User".into(), String::new()))
        );
        for bad in [
            r#"User::alice"#,
            r#"::"a""#,
            r#"User::"a"x"#,
            r#"User::"a"b""#,
            r#"User::"\q""#,
            r#"1User::"a""#,
            r#"User::"\u{110000}""#,
        ] {
            assert_eq!(parse_uid_literal(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_entity_object_forms() {
        let plain = serde_json::json!({"type": "User", "id": "alice"});
        let wrapped = serde_json::json!({"__entity": {"type": "User", "id": "alice"}});
        let extra = serde_json::json!({"type": "User", "id": "alice", "x": 1});
        assert_eq!(entity_parts(&plain), Some(("User".into(), "alice".into())));
        assert_eq!(
            entity_parts(&wrapped),
            Some(("User".into(), "alice".into()))
        );
        assert_eq!(entity_parts(&extra), None);
        assert_eq!(
            entity_parts(&serde_json::json!({"__entity": "User::\"a\""})),
            None
        );
    }

    #[test]
    fn reads_ips() {
        assert_eq!(parse_ip("10.0.0.1").map(|n| n.prefix_len()), Some(32));
        assert_eq!(parse_ip("10.0.0.0/8").map(|n| n.prefix_len()), Some(8));
        assert_eq!(parse_ip("::ffff:10.0.0.1"), parse_ip("10.0.0.1"));
        assert_eq!(parse_ip("2001:db8::/32").map(|n| n.prefix_len()), Some(32));
        assert_eq!(parse_ip("10.0.0.0/33"), None);
        assert_eq!(parse_ip("host"), None);
    }
}
