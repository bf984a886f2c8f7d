//! What every policy set has without declaring it: the `Anonymous` entity type, the
//! `AuthMethod` enum, the typed request context and the expression variables.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use rampart_engine::bundle::{EnumId, TypeId, ANONYMOUS_TYPE};
use rampart_engine::Value;

use super::types::{FieldDefault, FieldTy, RecordTy, Type};

/// Entity type 0: the principal of requests that name none and match no mapping.
pub const ANONYMOUS: TypeId = 0;
/// Its name.
pub const ANONYMOUS_NAME: &str = ANONYMOUS_TYPE;

/// Enum 0: how the caller authenticated.
pub const AUTH_METHOD: EnumId = 0;
pub const AUTH_METHOD_NAME: &str = "AuthMethod";
/// The variants of `AuthMethod`, in order (`none` first: the default).
pub const AUTH_METHOD_VARIANTS: [&str; 6] = ["none", "api_key", "jwt", "oauth2", "oidc", "mtls"];

/// Type names the language defines; a schema may not declare them again.
pub const SCALAR_TYPE_NAMES: [&str; 8] = [
    "Bool",
    "Int",
    "String",
    "Ip",
    "Duration",
    "Timestamp",
    "Decimal",
    "TlsVersion",
];

/// Whether a schema may not declare `name`: a scalar type, `Set`, `Map`, `Any`, or a builtin
/// entity type or enum (`Anonymous`, `AuthMethod`). The one list, also used by `rampart
/// import cedar` to rename Cedar types that collide with these.
pub fn is_builtin_type_name(name: &str) -> bool {
    SCALAR_TYPE_NAMES.contains(&name)
        || matches!(name, "Set" | "Map" | "Any")
        || name == ANONYMOUS_NAME
        || name == AUTH_METHOD_NAME
}

/// The expression variables.
pub const VARIABLES: [&str; 5] = ["principal", "resource", "action", "context", "now"];

/// The scalar type of a builtin type name.
pub fn scalar_type(name: &str) -> Option<Type> {
    Some(match name {
        "Bool" => Type::Bool,
        "Int" => Type::Int,
        "String" => Type::String,
        "Ip" => Type::Ip,
        "Duration" => Type::Duration,
        "Timestamp" => Type::Timestamp,
        "Decimal" => Type::Decimal,
        "TlsVersion" => Type::Tls,
        _ => return None,
    })
}

/// The builtin type people often mean by a name from another language (`Integer`).
pub fn type_alias(name: &str) -> Option<&'static str> {
    Some(match name {
        "Integer" | "Long" | "I64" | "Number" => "Int",
        "Boolean" => "Bool",
        "Str" | "Text" => "String",
        "IP" | "IpAddr" | "Cidr" | "CIDR" => "Ip",
        "Time" | "DateTime" | "Instant" => "Timestamp",
        "Tls" | "TLS" => "TlsVersion",
        "Record" | "Object" => "{ name: Type }",
        "List" | "Array" | "Vec" => "Set<T>",
        _ => return None,
    })
}

fn optional(ty: Type) -> FieldTy {
    FieldTy::new(ty, true)
}

fn defaulted(ty: Type, value: Value) -> FieldTy {
    FieldTy {
        ty,
        optional: false,
        default: Some(FieldDefault::Value(value)),
    }
}

fn record(fields: Vec<(&str, FieldTy)>) -> Type {
    let fields: BTreeMap<String, FieldTy> =
        fields.into_iter().map(|(n, f)| (n.to_owned(), f)).collect();
    Type::Record(Rc::new(RecordTy { fields }))
}

fn always_present(ty: Type) -> FieldTy {
    FieldTy {
        ty,
        optional: false,
        default: Some(FieldDefault::RecordOfDefaults),
    }
}

fn empty_map() -> Value {
    Value::Map(Arc::new(BTreeMap::new()))
}

/// The builtin request context, with the defaults the spec gives.
pub fn builtin_context() -> RecordTy {
    let auth = record(vec![
        (
            "method",
            defaulted(Type::Enum(AUTH_METHOD), Value::Enum(AUTH_METHOD, 0)),
        ),
        ("issuer", optional(Type::String)),
        ("subject", optional(Type::String)),
        ("audience", optional(Type::set_of(Type::String))),
        (
            "scopes",
            defaulted(Type::set_of(Type::String), Value::set(Vec::new())),
        ),
        ("issued_at", optional(Type::Timestamp)),
        ("expires_at", optional(Type::Timestamp)),
        ("mfa", defaulted(Type::Bool, Value::Bool(false))),
        (
            "claims",
            defaulted(Type::Map(Box::new(Type::Any)), empty_map()),
        ),
    ]);
    let tls = record(vec![
        ("version", optional(Type::Tls)),
        ("cipher", optional(Type::String)),
        ("mtls", defaulted(Type::Bool, Value::Bool(false))),
        ("peer", optional(Type::String)),
    ]);
    let source = record(vec![
        ("ip", optional(Type::Ip)),
        ("port", optional(Type::Int)),
    ]);
    let request = record(vec![
        ("method", optional(Type::String)),
        // The canonical path (engine::gateway::path), what routes and rules see.
        ("path", optional(Type::String)),
        // The path as the gateway received it, before canonicalisation.
        ("raw_path", optional(Type::String)),
        // The raw query string (without `?`), kept out of `path` so rules can inspect it.
        ("query", optional(Type::String)),
        ("host", optional(Type::String)),
        (
            "headers",
            defaulted(Type::Map(Box::new(Type::String)), empty_map()),
        ),
    ]);
    let mut fields = BTreeMap::new();
    fields.insert("auth".to_owned(), always_present(auth));
    fields.insert("tls".to_owned(), always_present(tls));
    fields.insert("source".to_owned(), always_present(source));
    fields.insert("request".to_owned(), always_present(request));
    fields.insert("time".to_owned(), optional(Type::Timestamp));
    RecordTy { fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_context_has_defaults_where_the_spec_says() {
        let ctx = builtin_context();
        let Some(Type::Record(auth)) = ctx.get("auth").map(|f| &f.ty) else {
            panic!("auth is a record")
        };
        assert_eq!(
            auth.get("method").and_then(|f| f.default.clone()),
            Some(FieldDefault::Value(Value::Enum(0, 0)))
        );
        assert!(auth.get("subject").is_some_and(|f| f.optional));
        assert!(ctx.get("time").is_some_and(|f| f.optional));
        let Some(Type::Record(request)) = ctx.get("request").map(|f| &f.ty) else {
            panic!("request is a record")
        };
        assert!(request.get("query").is_some_and(|f| f.optional));
        assert_eq!(
            ctx.get("tls").and_then(|f| f.default.clone()),
            Some(FieldDefault::RecordOfDefaults)
        );
    }
}
