//! Verified claims as the `context.auth` record of the engine's builtin context:
//!
//! ```text
//! auth: { method: AuthMethod = none, issuer?: String, subject?: String, audience?: Set<String>,
//!         scopes: Set<String> = [], issued_at?: Timestamp, expires_at?: Timestamp,
//!         mfa: Bool = false, claims: Map<Any> = {} }
//! ```
//!
//! Every field is written in a JSON form the engine reads, and a claim of a shape it cannot
//! read (a fraction, `null`, an object in the engine's `__entity`/`__extn` forms, deeper
//! than [`MAX_CLAIM_DEPTH`]) is left out of `claims`, so a token never turns into a request
//! error.

use serde_json::{json, Map, Value as Json};

use super::TokenMethod;

/// How deep nested claim values are kept in `context.auth.claims`.
pub const MAX_CLAIM_DEPTH: usize = 8;

/// The `context.auth` record of a verified token.
///
/// - `method`: the configured [`TokenMethod`] (`jwt` unless `--jwt-method` says otherwise);
/// - `issuer` from `iss`, `subject` from `sub` (strings);
/// - `audience` from `aud` (a string or an array of strings);
/// - `scopes` from `scope` (space separated, OAuth 2.0) and `scp` (an array, or a string);
/// - `issued_at` from `iat`, `expires_at` from `exp` (epoch seconds);
/// - `mfa` when `amr` lists `mfa` (RFC 8176);
/// - `claims`: every claim the engine can read.
pub fn auth_facts(claims: &Map<String, Json>, method: TokenMethod) -> Json {
    let mut auth = Map::new();
    auth.insert("method".into(), json!(method.label()));
    let text = |name: &str| claims.get(name).and_then(Json::as_str);
    if let Some(issuer) = text("iss") {
        auth.insert("issuer".into(), json!(issuer));
    }
    if let Some(subject) = text("sub") {
        auth.insert("subject".into(), json!(subject));
    }
    if let Some(audience) = claims.get("aud").map(strings) {
        auth.insert("audience".into(), json!(audience));
    }
    let mut scopes: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        for scope in claims.get(name).map(strings).unwrap_or_default() {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    auth.insert("scopes".into(), json!(scopes));
    for (claim, field) in [("iat", "issued_at"), ("exp", "expires_at")] {
        if let Some(seconds) = claims.get(claim).and_then(epoch_seconds) {
            auth.insert(field.into(), json!(seconds));
        }
    }
    let mfa = claims
        .get("amr")
        .and_then(Json::as_array)
        .is_some_and(|methods| methods.iter().any(|m| m.as_str() == Some("mfa")));
    if mfa {
        auth.insert("mfa".into(), json!(true));
    }
    let kept: Map<String, Json> = claims
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), readable(value, 0)?)))
        .collect();
    auth.insert("claims".into(), Json::Object(kept));
    Json::Object(auth)
}

/// A string split on whitespace, or the strings of an array.
fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// An integer, or a number with no fraction that fits one (some issuers write `1.7e9`).
fn whole_number(value: &Json) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let n = value.as_f64()?;
    // Exact: the range check keeps the conversion in bounds and the fraction check whole.
    (n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
}

/// A time claim: whole seconds since the epoch, within ±300,000 years (the engine keeps
/// timestamps in milliseconds).
fn epoch_seconds(value: &Json) -> Option<i64> {
    whole_number(value).filter(|s| s.unsigned_abs() < 10_000_000_000_000)
}

/// The value as the engine's `Any` reads it, or `None` when it cannot.
fn readable(value: &Json, depth: usize) -> Option<Json> {
    match value {
        Json::Null => None,
        Json::Bool(_) | Json::String(_) => Some(value.clone()),
        Json::Number(_) => whole_number(value).map(Json::from),
        _ if depth >= MAX_CLAIM_DEPTH => None,
        Json::Array(items) => Some(Json::Array(
            items
                .iter()
                .filter_map(|item| readable(item, depth.saturating_add(1)))
                .collect(),
        )),
        Json::Object(fields) => {
            if fields.contains_key("__entity") || fields.contains_key("__extn") {
                return None;
            }
            Some(Json::Object(
                fields
                    .iter()
                    .filter_map(|(name, item)| {
                        Some((name.clone(), readable(item, depth.saturating_add(1))?))
                    })
                    .collect(),
            ))
        }
    }
}
