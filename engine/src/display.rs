//! Values in their policy-literal form, for messages, explanations and obligation output.

use std::fmt::Write as _;

use crate::bundle::Schema;
use crate::program::{Node, NodeId, Program};
use crate::time::{format_duration, format_timestamp};
use crate::value::{EntityUid, Value};

/// Appends `text` as the body of a string literal (without the quotes): `"` `\` and control
/// characters escaped the way the policy language reads them.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// `User::"alice"`: an entity reference as written in policy text and request JSON.
pub(crate) fn uid_literal(schema: &Schema, uid: &EntityUid) -> String {
    let mut out = String::new();
    write_uid(&mut out, schema, uid);
    out
}

fn write_uid(out: &mut String, schema: &Schema, uid: &EntityUid) {
    out.push_str(type_name(schema, uid.ty));
    out.push_str("::\"");
    escape_into(out, &uid.id);
    out.push('"');
}

/// The name of an entity type, or `?` for an index the schema does not have.
pub(crate) fn type_name(schema: &Schema, ty: u32) -> &str {
    usize::try_from(ty)
        .ok()
        .and_then(|i| schema.entity_types.get(i))
        .map_or("?", |t| t.name.as_str())
}

/// The policy literal of a value: `"text"`, `42`, `10.0.0.0/8`, `1h30m`, `tls1.2`, `pci`,
/// `User::"alice"`, `["a", "b"]`, `{mfa: true}` (record field names need `symbols`).
pub(crate) fn value_literal(schema: &Schema, symbols: &[String], value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, schema, symbols, value);
    out
}

fn write_value(out: &mut String, schema: &Schema, symbols: &[String], value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            out.push('"');
            escape_into(out, s);
            out.push('"');
        }
        Value::Ip(net) => {
            if net.prefix_len() == net.max_prefix_len() {
                let _ = write!(out, "{}", net.addr());
            } else {
                let _ = write!(out, "{net}");
            }
        }
        Value::Duration(ms) => out.push_str(&format_duration(*ms)),
        Value::Timestamp(ms) => out.push_str(&format_timestamp(*ms)),
        Value::Decimal(n) => out.push_str(&crate::decimal::format_decimal(*n)),
        Value::Tls(v) => out.push_str(v.literal()),
        Value::Enum(e, variant) => out.push_str(variant_name(schema, *e, *variant)),
        Value::Entity(uid) => write_uid(out, schema, uid),
        Value::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, schema, symbols, item);
            }
            out.push(']');
        }
        Value::Record(record) => {
            out.push('{');
            for (i, (sym, item)) in record.fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(symbol_name(symbols, *sym));
                out.push_str(": ");
                write_value(out, schema, symbols, item);
            }
            out.push('}');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('"');
                escape_into(out, key);
                out.push_str("\": ");
                write_value(out, schema, symbols, item);
            }
            out.push('}');
        }
    }
}

/// The name of an enum variant, or `?` when the bundle has no such variant.
pub(crate) fn variant_name(schema: &Schema, enum_id: u32, variant: u32) -> &str {
    let lookup = || {
        let e = schema.enums.get(usize::try_from(enum_id).ok()?)?;
        e.variants.get(usize::try_from(variant).ok()?)
    };
    lookup().map_or("?", String::as_str)
}

/// The text of an interned symbol, or `?` when out of range.
pub(crate) fn symbol_name(symbols: &[String], sym: u32) -> &str {
    usize::try_from(sym)
        .ok()
        .and_then(|i| symbols.get(i))
        .map_or("?", String::as_str)
}

/// A short source-like rendering of a simple compiled expression path (`principal.mfa`,
/// `context.auth.claims["role"]`) for error messages; `None` for anything more complex.
pub(crate) fn node_path(program: &Program, symbols: &[String], node: NodeId) -> Option<String> {
    match program.node(node)? {
        Node::Principal => Some(String::from("principal")),
        Node::Resource => Some(String::from("resource")),
        Node::Context => Some(String::from("context")),
        Node::Action => Some(String::from("action")),
        Node::Now => Some(String::from("now")),
        Node::ContextField(sym) => Some(format!("context.{}", symbol_name(symbols, sym))),
        Node::PrincipalAttr(sym) => Some(format!("principal.{}", symbol_name(symbols, sym))),
        Node::ResourceAttr(sym) => Some(format!("resource.{}", symbol_name(symbols, sym))),
        Node::ContextKey(key) => {
            let mut out = String::from("context");
            index_path(&mut out, &program.key(key)?.name);
            Some(out)
        }
        Node::Attr(inner, sym) => {
            let mut out = node_path(program, symbols, inner)?;
            out.push('.');
            out.push_str(symbol_name(symbols, sym));
            Some(out)
        }
        Node::Index(inner, key) => {
            let mut out = node_path(program, symbols, inner)?;
            index_path(&mut out, &program.key(key)?.name);
            Some(out)
        }
        _ => None,
    }
}

fn index_path(out: &mut String, key: &str) {
    out.push_str("[\"");
    escape_into(out, key);
    out.push_str("\"]");
}

/// Shortens user input quoted in a message to at most `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_string_literals() {
        let mut out = String::new();
        escape_into(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "a\\\"b\\\\c\\nd\\u{1}é");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
    }
}
