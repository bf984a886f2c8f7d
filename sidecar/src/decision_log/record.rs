//! What one decision-log record says, and what it keeps out.
//!
//! A record holds facts about the request, never secrets: no header (so no `Authorization`
//! or cookie), no query string, no token or claim, obligations without their values. On
//! top of that, facts named by a `mask` obligation of the decision are written as `"***"`,
//! and any header value, query string or `context.auth` value that an error message quotes
//! is cut out of it.

use std::time::Duration;

use rampart_engine::{Decision, ObligationOut};
use serde_json::{json, Map, Value as Json};

use crate::state::{now_ms, Door};

/// What a masked fact is written as.
const MASKED: &str = "***";

/// Quoted request values shorter than this are not cut out of error messages: they are too
/// short to be secrets and would garble the messages.
const MIN_SECRET_LEN: usize = 4;

/// A fact kept from the request: its name in the record and where it comes from in the
/// request JSON (every path a `mask` obligation may name it by).
struct Fact {
    name: &'static str,
    paths: &'static [&'static str],
}

const FACTS: [Fact; 9] = [
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

/// One record as a JSON object without its closing brace: the chain fields are appended by
/// the writer (see `chain`).
pub fn record_body(
    id: &str,
    door: Door,
    revision: &str,
    request: &Json,
    decision: &Decision,
    elapsed: Duration,
) -> String {
    let obligations: Vec<Json> = decision
        .obligations
        .iter()
        .map(obligation_summary)
        .collect();
    let errors: Vec<String> = if decision.errors.is_empty() {
        Vec::new()
    } else {
        let secrets = secrets_of(request);
        decision
            .errors
            .iter()
            .map(|e| redact(&e.message, &secrets))
            .collect()
    };
    let record = json!({
        "id": id,
        "time": rampart_engine::time::format_timestamp(now_ms()),
        "door": door.label(),
        "revision": revision,
        "request": request_facts(request, &masked_fields(decision)),
        "decision": decision.decision,
        "rules": decision.rules,
        "reasons": decision.reasons,
        "errors": errors,
        "obligations": obligations,
        "controls": decision.controls,
        "latency_us": u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    });
    let mut body = record.to_string();
    // Drop the closing brace; `to_string` of an object always ends with one.
    if body.ends_with('}') {
        body.pop();
    }
    body
}

/// The facts of a request that are safe to keep: method, path without its query, host,
/// package, named principal/action/resource, source address and mTLS peer. A fact whose
/// name or request path (or a parent of it) is a `mask` field is written as `"***"`.
fn request_facts(request: &Json, masked: &[&str]) -> Json {
    let mut facts = Map::new();
    for fact in &FACTS {
        let value = match fact.name {
            "path" => lookup(request, "http.path")
                .and_then(Json::as_str)
                .map(|p| Json::from(p.split(['?', '#']).next().unwrap_or_default())),
            _ => lookup(request, fact.paths[0]).cloned(),
        };
        let Some(value) = value.filter(|v| !v.is_null()) else {
            continue;
        };
        let is_masked = masked
            .iter()
            .any(|field| *field == fact.name || fact.paths.iter().any(|path| covers(field, path)));
        let value = if is_masked { Json::from(MASKED) } else { value };
        facts.insert(fact.name.to_owned(), value);
    }
    Json::Object(facts)
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

/// The values of a request that may be secret: every header value, the query string, and
/// every string under `context.auth`. Longest first, so that a value containing another is
/// cut out whole.
fn secrets_of(request: &Json) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(Json::Object(headers)) = lookup(request, "http.headers") {
        for value in headers.values() {
            collect_strings(value, &mut secrets);
        }
    }
    if let Some((_, query)) = lookup(request, "http.path")
        .and_then(Json::as_str)
        .and_then(|p| p.split_once('?'))
    {
        secrets.push(query.to_owned());
        secrets.extend(query.split('&').map(str::to_owned));
    }
    if let Some(auth) = lookup(request, "context.auth") {
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
fn redact(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        if message.contains(secret.as_str()) {
            message = message.replace(secret.as_str(), MASKED);
        }
    }
    message
}

/// An obligation without its value: kind, name or fields, and rule.
fn obligation_summary(obligation: &ObligationOut) -> Json {
    match obligation {
        ObligationOut::Mask { fields, rule } => {
            json!({"kind": "mask", "fields": fields, "rule": rule})
        }
        ObligationOut::RateLimit {
            limit, per_s, rule, ..
        } => json!({"kind": "rate_limit", "limit": limit, "per_s": per_s, "rule": rule}),
        ObligationOut::RequestHeader { name, rule, .. } => {
            json!({"kind": "request_header", "name": name, "rule": rule})
        }
        ObligationOut::ResponseHeader { name, rule, .. } => {
            json!({"kind": "response_header", "name": name, "rule": rule})
        }
        ObligationOut::RemoveHeader { name, rule } => {
            json!({"kind": "remove_header", "name": name, "rule": rule})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_engine::Effect;

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
