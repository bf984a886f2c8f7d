//! What one decision-log record says, and what it keeps out.
//!
//! A record holds facts about the request, never secrets: no header (so no `Authorization`
//! or cookie), no query string, no token or claim, obligations without their values. On
//! top of that, facts named by a `mask` obligation of the decision are written as `"***"`,
//! and any header value, query string or `context.auth` value that an error message quotes
//! is cut out of it.

#[cfg(test)]
use std::time::Duration;

use rampart_engine::{Decision, ObligationOut};
use serde_json::Value as Json;

#[cfg(test)]
use crate::state::Door;

use super::entry::{Entry, FactValue, RequestSummary};

/// What a masked fact is written as.
const MASKED: &str = "***";

/// Quoted request values shorter than this are not cut out of error messages: they are too
/// short to be secrets and would garble the messages.
const MIN_SECRET_LEN: usize = 4;

/// A fact kept from the request: its name in the record and where it comes from in the
/// request JSON (every path a `mask` obligation may name it by). [`RequestSummary`] holds
/// their values in this order.
pub struct Fact {
    name: &'static str,
    paths: &'static [&'static str],
}

pub const FACTS: [Fact; 9] = [
    Fact {
        name: "method",
        paths: &["http.method", "context.request.method"],
    },
    Fact {
        name: "path",
        paths: &["http.path", "context.request.path"],
    },
    Fact {
        name: "host",
        paths: &["http.host", "context.request.host"],
    },
    Fact {
        name: "package",
        paths: &["package"],
    },
    Fact {
        name: "principal",
        paths: &["principal"],
    },
    Fact {
        name: "action",
        paths: &["action"],
    },
    Fact {
        name: "resource",
        paths: &["resource"],
    },
    Fact {
        name: "source_ip",
        paths: &["context.source.ip"],
    },
    Fact {
        name: "tls_peer",
        paths: &["context.tls.peer"],
    },
];

/// One record as a JSON object without its closing brace (the chain fields are appended by
/// the writer, see `chain`), for a request given as request JSON: [`Entry::from_json`] and
/// [`write_record`] in one step.
#[cfg(test)]
pub fn record_body(
    id: &str,
    door: Door,
    revision: &str,
    request: &Json,
    decision: &Decision,
    elapsed: Duration,
) -> String {
    let entry = Entry::from_json(
        id.to_owned(),
        door,
        revision.to_owned(),
        request,
        decision.clone(),
        elapsed,
    );
    let mut out = Vec::new();
    write_record(&mut out, &entry, &mut TimeText::default());
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the record of `entry` into `out`: a JSON object without its closing brace.
///
/// Runs on the writer thread, into one reused buffer, writing the JSON text straight
/// (serde_json escapes each string) instead of building a `Value` tree: the bytes are the
/// same as serde_json's compact form of the object, fields in this order.
pub fn write_record(out: &mut Vec<u8>, entry: &Entry, time: &mut TimeText) {
    let decision = &entry.decision;
    out.extend_from_slice(b"{\"id\":");
    write_str(out, &entry.id);
    out.extend_from_slice(b",\"time\":");
    write_str(out, time.of(entry.time_ms));
    out.extend_from_slice(b",\"door\":");
    write_str(out, entry.door.label());
    out.extend_from_slice(b",\"revision\":");
    write_str(out, &entry.revision);
    out.extend_from_slice(b",\"request\":");
    write_request_facts(out, &entry.request, &masked_fields(decision));
    out.extend_from_slice(b",\"decision\":");
    write_json(out, &decision.decision);
    out.extend_from_slice(b",\"rules\":");
    write_strs(out, decision.rules.iter().map(String::as_str));
    out.extend_from_slice(b",\"reasons\":");
    write_strs(out, decision.reasons.iter().map(String::as_str));
    out.extend_from_slice(b",\"errors\":");
    // Already redacted (see `Entry`).
    write_strs(out, decision.errors.iter().map(|e| e.message.as_str()));
    out.extend_from_slice(b",\"obligations\":[");
    for (index, obligation) in decision.obligations.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_obligation_summary(out, obligation);
    }
    out.extend_from_slice(b"],\"controls\":");
    write_json(out, &decision.controls);
    out.extend_from_slice(b",\"latency_us\":");
    write_json(
        out,
        &u64::try_from(entry.elapsed.as_micros()).unwrap_or(u64::MAX),
    );
}

/// The text of the last record time written: records of the same millisecond (most of
/// them, under load) reuse it instead of formatting it again.
#[derive(Default)]
pub struct TimeText {
    /// The time `text` states, in milliseconds since the Unix epoch.
    ms: Option<i64>,
    text: String,
}

impl TimeText {
    /// The RFC 3339 text of `ms` (as `rampart_engine::time::format_timestamp` writes it).
    pub fn of(&mut self, ms: i64) -> &str {
        if self.ms != Some(ms) {
            self.text = rampart_engine::time::format_timestamp(ms);
            self.ms = Some(ms);
        }
        &self.text
    }
}

/// Appends `text` as a JSON string, as serde_json writes it: most strings of a record
/// (ids, rule names, paths) need no escape and are copied in one go; the others go through
/// serde_json.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // No early exit: the loop over the bytes vectorizes.
    let needs_escape = text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        write_json(out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Appends a JSON array of the strings `items` gives.
fn write_strs<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, item);
    }
    out.push(b']');
}

/// Appends the compact JSON of `value`. Strings, numbers, string lists and JSON values
/// cannot fail to serialize into memory.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The facts of a request that are safe to keep (see [`RequestSummary`]). A fact whose
/// name or request path (or a parent of it) is a `mask` field is written as `"***"`.
fn write_request_facts(out: &mut Vec<u8>, request: &RequestSummary, masked: &[&str]) {
    out.push(b'{');
    let mut first = true;
    for (fact, value) in FACTS.iter().zip(request.values()) {
        let Some(value) = value else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, fact.name);
        out.push(b':');
        let is_masked = masked
            .iter()
            .any(|field| *field == fact.name || fact.paths.iter().any(|path| covers(field, path)));
        match value {
            _ if is_masked => write_json(out, MASKED),
            FactValue::Text(text) => write_str(out, text),
            FactValue::Json(value) => write_json(out, value),
        }
    }
    out.push(b'}');
}

/// The value at a dotted path of the request JSON.
fn lookup<'a>(request: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.')
        .try_fold(request, |value, key| value.get(key))
}

/// True when `field` is `path` or a parent of it (`context.tls` covers `context.tls.peer`).
fn covers(field: &str, path: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The fields of the decision's `mask` obligations.
fn masked_fields(decision: &Decision) -> Vec<&str> {
    decision
        .obligations
        .iter()
        .filter_map(|o| match o {
            ObligationOut::Mask { fields, .. } => Some(fields.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect()
}

impl RequestSummary {
    /// The facts kept from request JSON: each at the first of its [`FACTS`] paths, the
    /// path without its query string or fragment; `null` and absent facts left out.
    pub fn from_json(request: &Json) -> RequestSummary {
        let mut summary = RequestSummary::default();
        for (fact, slot) in FACTS.iter().zip(summary.slots_mut()) {
            *slot = match fact.name {
                "path" => lookup(request, "http.path")
                    .and_then(Json::as_str)
                    .map(|p| FactValue::Text(cut_path(p).to_owned())),
                _ => lookup(request, fact.paths[0])
                    .filter(|v| !v.is_null())
                    .map(|v| match v {
                        Json::String(text) => FactValue::Text(text.clone()),
                        other => FactValue::Json(Box::new(other.clone())),
                    }),
            };
        }
        summary
    }
}

/// The path of a request target: without its query string and fragment.
pub fn cut_path(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or_default()
}

/// The values of a request that may be secret: every header value, the query string, and
/// every string under `context.auth`. Longest first, so that a value containing another is
/// cut out whole.
pub fn secrets_of(request: &Json) -> Vec<String> {
    let headers = match lookup(request, "http.headers") {
        Some(Json::Object(headers)) => Some(headers),
        _ => None,
    };
    secrets_from(
        headers.into_iter().flat_map(|h| h.values()),
        lookup(request, "http.path").and_then(Json::as_str),
        lookup(request, "context.auth"),
    )
}

/// [`secrets_of`] from the parts: the header values (as the policy sees them, repeated
/// names joined), the request target and the `context.auth` value.
pub fn secrets_from<'a>(
    header_values: impl Iterator<Item = &'a Json>,
    target: Option<&str>,
    auth: Option<&Json>,
) -> Vec<String> {
    let mut secrets = Vec::new();
    for value in header_values {
        collect_strings(value, &mut secrets);
    }
    if let Some((_, query)) = target.and_then(|p| p.split_once('?')) {
        secrets.push(query.to_owned());
        secrets.extend(query.split('&').map(str::to_owned));
    }
    if let Some(auth) = auth {
        collect_strings(auth, &mut secrets);
    }
    secrets.retain(|s| s.len() >= MIN_SECRET_LEN);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Json::Object(fields) => fields.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// `message` with every secret replaced by `***`.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        if message.contains(secret.as_str()) {
            message = message.replace(secret.as_str(), MASKED);
        }
    }
    message
}

/// `{"kind":KIND,"name":NAME,"rule":RULE` (the caller closes the object).
fn write_named(out: &mut Vec<u8>, kind: &[u8], name: &str, rule: &str) {
    out.extend_from_slice(b"{\"kind\":\"");
    out.extend_from_slice(kind);
    out.extend_from_slice(b"\",\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"rule\":");
    write_str(out, rule);
}

/// An obligation without its value: kind, name or fields, and rule.
fn write_obligation_summary(out: &mut Vec<u8>, obligation: &ObligationOut) {
    match obligation {
        ObligationOut::Mask { fields, rule } => {
            out.extend_from_slice(b"{\"kind\":\"mask\",\"fields\":");
            write_strs(out, fields.iter().map(String::as_str));
            out.extend_from_slice(b",\"rule\":");
            write_str(out, rule);
        }
        ObligationOut::RateLimit {
            limit, per_s, rule, ..
        } => {
            out.extend_from_slice(b"{\"kind\":\"rate_limit\",\"limit\":");
            write_json(out, limit);
            out.extend_from_slice(b",\"per_s\":");
            write_json(out, per_s);
            out.extend_from_slice(b",\"rule\":");
            write_str(out, rule);
        }
        ObligationOut::RequestHeader { name, rule, .. } => {
            write_named(out, b"request_header", name, rule);
        }
        ObligationOut::ResponseHeader { name, rule, .. } => {
            write_named(out, b"response_header", name, rule);
        }
        ObligationOut::RemoveHeader { name, rule } => {
            write_named(out, b"remove_header", name, rule)
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_engine::Effect;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let texts = [
            "",
            "plain",
            "quote \" and backslash \\",
            "tab\tnewline\n\u{1}\u{1f}",
            "delete \u{7f}, é, 漢字, emoji 🦀",
            "</script>",
        ];
        for text in texts {
            let mut ours = Vec::new();
            write_str(&mut ours, text);
            let serde = serde_json::to_vec(text).unwrap_or_default();
            assert_eq!(ours, serde, "{text:?}");
        }
        let mut ours = Vec::new();
        write_strs(&mut ours, texts.iter().copied());
        assert_eq!(ours, serde_json::to_vec(&texts).unwrap_or_default());
        let mut empty = Vec::new();
        write_strs(&mut empty, std::iter::empty());
        assert_eq!(empty, b"[]");
    }
    use serde_json::json;

    #[test]
    fn record_times_are_formatted_once_per_millisecond() {
        let mut time = TimeText::default();
        for ms in [
            0,
            1_795_804_325_856,
            1_795_804_325_856,
            1_795_804_325_857,
            0,
        ] {
            assert_eq!(
                time.of(ms),
                rampart_engine::time::format_timestamp(ms),
                "{ms}"
            );
        }
    }

    fn record(request: &Json, decision: &Decision) -> Json {
        let mut body = record_body(
            "id1",
            Door::ExtAuthz,
            "rev1",
            request,
            decision,
            Duration::ZERO,
        );
        body.push('}');
        serde_json::from_str(&body).unwrap_or_default()
    }

    #[test]
    fn a_record_is_serde_json_compact_form_of_its_fields() {
        let request = json!({
            "principal": {"type": "User", "id": "al\"ice"}, "action": "read",
            "http": {"method": "GET", "path": "/d/\u{e9}t\u{e9}?q=1#f", "host": "api",
                     "headers": {"x-secret": "tok-123456"}},
            "context": {"source": {"ip": "10.0.0.1"}, "tls": {"peer": "spiffe://a"}}
        });
        let mut decision = Decision::error("entity `tok-123456` not found\nline two");
        decision.rules = vec!["r1".into(), "r\t2".into()];
        decision.reasons = vec!["because \"quoted\"".into()];
        decision.controls = vec!["pci-dss-4.0/7.2.1".into()];
        decision.obligations = vec![
            ObligationOut::Mask {
                fields: vec!["http.host".into()],
                rule: "m".into(),
            },
            ObligationOut::RateLimit {
                limit: 100,
                per_s: 60,
                key: "k".into(),
                rule: "rl".into(),
            },
            ObligationOut::RequestHeader {
                name: "x-user".into(),
                value: "v".into(),
                rule: "h1".into(),
            },
            ObligationOut::ResponseHeader {
                name: "cache-control".into(),
                value: "no-store".into(),
                rule: "h2".into(),
            },
            ObligationOut::RemoveHeader {
                name: "authorization".into(),
                rule: "h3".into(),
            },
        ];
        let body = record_body(
            "id1",
            Door::Opa,
            "rev1",
            &request,
            &decision,
            Duration::from_micros(42),
        );
        // The time is the clock's: take it from the record itself.
        let written: Json = serde_json::from_str(&format!("{body}}}")).unwrap_or_default();
        let expected = json!({
            "id": "id1",
            "time": written["time"],
            "door": "opa",
            "revision": "rev1",
            "request": {"method": "GET", "path": "/d/\u{e9}t\u{e9}", "host": MASKED,
                        "principal": {"type": "User", "id": "al\"ice"}, "action": "read",
                        "source_ip": "10.0.0.1", "tls_peer": "spiffe://a"},
            "decision": "deny",
            "rules": ["r1", "r\t2"],
            "reasons": ["because \"quoted\""],
            "errors": ["entity `***` not found\nline two"],
            "obligations": [
                {"kind": "mask", "fields": ["http.host"], "rule": "m"},
                {"kind": "rate_limit", "limit": 100, "per_s": 60, "rule": "rl"},
                {"kind": "request_header", "name": "x-user", "rule": "h1"},
                {"kind": "response_header", "name": "cache-control", "rule": "h2"},
                {"kind": "remove_header", "name": "authorization", "rule": "h3"}
            ],
            "controls": ["pci-dss-4.0/7.2.1"],
            "latency_us": 42
        });
        let mut expected = expected.to_string();
        expected.pop();
        assert_eq!(body, expected);
    }

    #[test]
    fn records_keep_request_facts_but_no_secrets() {
        let request = json!({
            "http": {"method": "GET", "path": "/v1/a?token=secret", "host": "api",
                     "headers": {"authorization": "Bearer secret", "cookie": "s=secret"}},
            "context": {"auth": {"method": "jwt", "subject": "alice"},
                        "source": {"ip": "10.0.0.1"}, "tls": {"mtls": true, "peer": "spiffe://a"}}
        });
        let mut decision = Decision::error("boom");
        decision.obligations.push(ObligationOut::RequestHeader {
            name: "x-user".into(),
            value: "secret".into(),
            rule: "r".into(),
        });
        let body = record_body(
            "id1",
            Door::ExtAuthz,
            "rev1",
            &request,
            &decision,
            Duration::ZERO,
        );
        assert!(!body.contains("secret"), "{body}");
        assert!(!body.ends_with('}'), "{body}");
        let record = record(&request, &decision);
        assert_eq!(record["id"], "id1");
        assert_eq!(record["door"], "ext_authz");
        assert_eq!(record["revision"], "rev1");
        assert_eq!(record["decision"], "deny");
        assert_eq!(record["request"]["path"], "/v1/a");
        assert_eq!(record["request"]["source_ip"], "10.0.0.1");
        assert_eq!(record["request"]["tls_peer"], "spiffe://a");
        assert_eq!(record["errors"][0], "boom");
        assert_eq!(record["obligations"][0]["name"], "x-user");
    }

    #[test]
    fn errors_quoting_request_secrets_are_redacted() {
        let request = json!({
            "http": {"method": "GET", "path": "/a?api_key=k3y-value",
                     "headers": {"x-service": "tok-123456"}},
            "context": {"auth": {"method": "jwt", "token": "eyJhbGciOi.payload.sig"}}
        });
        let decision = Decision::error(
            "entity `Service::\"tok-123456\"` not found; token `eyJhbGciOi.payload.sig`; \
             query `api_key=k3y-value`",
        );
        let record = record(&request, &decision);
        let message = record["errors"][0].as_str().unwrap_or_default();
        assert_eq!(
            message,
            "entity `Service::\"***\"` not found; token `***`; query `***`"
        );
    }

    #[test]
    fn mask_obligations_hide_the_facts_they_name() {
        let request = json!({
            "principal": "User::\"alice\"", "action": "read", "resource": "Doc::\"d1\"",
            "http": {"method": "GET", "path": "/d1", "host": "api"},
            "context": {"source": {"ip": "10.0.0.1"}, "tls": {"peer": "spiffe://a"}}
        });
        let mut decision = Decision::error("x");
        decision.decision = Effect::Allow;
        decision.errors.clear();
        decision.obligations.push(ObligationOut::Mask {
            fields: vec!["principal".into(), "context.tls".into(), "http.host".into()],
            rule: "m".into(),
        });
        let facts = &record(&request, &decision)["request"];
        assert_eq!(facts["principal"], MASKED);
        assert_eq!(facts["tls_peer"], MASKED);
        assert_eq!(facts["host"], MASKED);
        assert_eq!(facts["resource"], "Doc::\"d1\"");
        assert_eq!(facts["source_ip"], "10.0.0.1");
        assert!(covers("context", "context.source.ip"));
        assert!(!covers("context.so", "context.source.ip"));
    }
}
