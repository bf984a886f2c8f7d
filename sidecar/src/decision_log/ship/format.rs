//! The forms a record is shipped in: OPA's decision-log event (the HTTP sink's default)
//! and an OCSF API Activity event (`--decision-log-format ocsf`, either sink).
//!
//! Both are built from the sealed record as written to the file, so they hold exactly
//! what the record holds (no header, query string, token or claim: see `record`) and carry
//! its chain fields (`instance`, `seq`, `prev`, `hash`), so a receiver can tell a missing
//! record. The file keeps the chained form: `rampart log verify` checks it, and a
//! `rampart` syslog sink ships its lines byte for byte.

use serde_json::{json, Map, Value as Json};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// OCSF API Activity: class 6003 in category 6 (Application Activity).
pub const OCSF_CLASS_UID: u64 = 6003;
pub const OCSF_CATEGORY_UID: u64 = 6;

/// The fields of a record that are its place in the chain.
const CHAIN_FIELDS: [&str; 4] = ["instance", "seq", "prev", "hash"];

/// The record's chain fields as one object.
fn chain_of(record: &Map<String, Json>) -> Map<String, Json> {
    CHAIN_FIELDS
        .iter()
        .filter_map(|k| record.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

fn text<'a>(record: &'a Map<String, Json>, key: &str) -> &'a str {
    record.get(key).and_then(Json::as_str).unwrap_or_default()
}

/// An event of OPA's decision-log upload API for a record: `decision_id`, `labels`
/// (`id` is the instance, `version` Rampart's), `bundles`, `path` (`rampart/<door>`),
/// `input` (the request facts the record keeps), `result` (the decision), `timestamp`,
/// `metrics`, and `rampart` with the chain fields. A record about the log itself (stop,
/// gap, crash) becomes an event with path `rampart/log/<event>` and the record as result.
pub fn opa_event(record: &Map<String, Json>) -> Json {
    let instance = text(record, "instance");
    let labels = json!({
        "id": instance,
        "app": "rampart",
        "version": env!("CARGO_PKG_VERSION"),
    });
    let chain = Json::Object(chain_of(record));
    if let Some(event) = record.get("event").and_then(Json::as_str) {
        let seq = record.get("seq").and_then(Json::as_u64).unwrap_or_default();
        return json!({
            "labels": labels,
            "decision_id": format!("{instance}/log/{seq}"),
            "path": format!("rampart/log/{event}"),
            "result": Json::Object(record.clone()),
            "timestamp": record.get("time").cloned().unwrap_or(Json::Null),
            "rampart": chain,
        });
    }
    let latency_ns = record
        .get("latency_us")
        .and_then(Json::as_u64)
        .unwrap_or_default()
        .saturating_mul(1000);
    let result = json!({
        "decision": record.get("decision").cloned().unwrap_or(Json::Null),
        "allow": record.get("decision").and_then(Json::as_str) == Some("allow"),
        "rules": record.get("rules").cloned().unwrap_or(Json::Null),
        "reasons": record.get("reasons").cloned().unwrap_or(Json::Null),
        "errors": record.get("errors").cloned().unwrap_or(Json::Null),
        "obligations": record.get("obligations").cloned().unwrap_or(Json::Null),
        "controls": record.get("controls").cloned().unwrap_or(Json::Null),
    });
    let requested_by = record
        .get("request")
        .and_then(|r| r.get("source_ip"))
        .and_then(Json::as_str)
        .unwrap_or_default();
    json!({
        "labels": labels,
        "decision_id": record.get("id").cloned().unwrap_or(Json::Null),
        "bundles": {"rampart": {"revision": record.get("revision").cloned().unwrap_or(Json::Null)}},
        "path": format!("rampart/{}", text(record, "door")),
        "input": record.get("request").cloned().unwrap_or_else(|| json!({})),
        "result": result,
        "requested_by": requested_by,
        "timestamp": record.get("time").cloned().unwrap_or(Json::Null),
        "metrics": {"timer_rampart_decision_ns": latency_ns},
        "rampart": chain,
    })
}

/// The OCSF `activity_id` of an HTTP method (1 create, 2 read, 3 update, 4 delete, 99
/// other) or, without one, of the action's name; 0 when nothing tells.
fn activity_of(method: Option<&str>, action: Option<&str>) -> (u64, &'static str) {
    let by_method = method.map(|m| m.to_ascii_uppercase());
    match by_method.as_deref() {
        Some("POST") => return (1, "Create"),
        Some("GET" | "HEAD") => return (2, "Read"),
        Some("PUT" | "PATCH") => return (3, "Update"),
        Some("DELETE") => return (4, "Delete"),
        Some(_) => return (99, "Other"),
        None => {}
    }
    let action = action.unwrap_or_default().to_ascii_lowercase();
    let word = |w: &[&str]| w.iter().any(|p| action.contains(p));
    if action.is_empty() {
        (0, "Unknown")
    } else if word(&["create", "add", "write", "upload", "post"]) {
        (1, "Create")
    } else if word(&["read", "get", "view", "list", "download", "search"]) {
        (2, "Read")
    } else if word(&["update", "edit", "modify", "patch", "put"]) {
        (3, "Update")
    } else if word(&["delete", "remove", "destroy"]) {
        (4, "Delete")
    } else {
        (99, "Other")
    }
}

/// A request fact as text: strings as they are, other JSON values (a principal given as
/// an object) as their compact JSON.
fn fact_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The record's time in milliseconds since the Unix epoch (OCSF `time`).
fn time_ms(record: &Map<String, Json>) -> i64 {
    record
        .get("time")
        .and_then(Json::as_str)
        .and_then(rampart_engine::time::parse_timestamp)
        .unwrap_or_default()
}

/// An OCSF API Activity event (class 6003) for a record. The decision is the
/// `disposition` (1 allowed, 2 blocked) and `status` (1 success, 2 failure); the actor is
/// the principal; `api.operation` the action; `http_request` the method, path and host;
/// `src_endpoint` the caller's address; `metadata` names the product, the OCSF version,
/// the record's id (`uid`), its place in the chain (`sequence`) and the bundle revision;
/// everything else of the record, the chain fields included, is under `unmapped`. A
/// record about the log itself (stop, gap, crash) becomes an event with activity 99 whose
/// operation is `rampart.log.<event>`.
pub fn ocsf_event(record: &Map<String, Json>) -> Json {
    let empty = Map::new();
    let request = record
        .get("request")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let fact = |k: &str| request.get(k).map(fact_text);
    let event = record.get("event").and_then(Json::as_str);
    let (activity_id, activity_name) = match event {
        Some(_) => (99, "Other"),
        None => activity_of(
            request.get("method").and_then(Json::as_str),
            request.get("action").and_then(Json::as_str),
        ),
    };
    let allowed = record.get("decision").and_then(Json::as_str) == Some("allow");
    let is_problem = matches!(event, Some("gap" | "crash"));
    let (severity_id, severity) = if is_problem {
        (3, "Medium")
    } else if event.is_none() && !allowed {
        (2, "Low")
    } else {
        (1, "Informational")
    };
    let (status_id, status) = match event {
        Some(_) if is_problem => (2, "Failure"),
        Some(_) => (1, "Success"),
        None if allowed => (1, "Success"),
        None => (2, "Failure"),
    };
    let instance = text(record, "instance");
    let operation = match event {
        Some(event) => format!("rampart.log.{event}"),
        None => fact("action").unwrap_or_else(|| "unknown".to_owned()),
    };
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(OCSF_CLASS_UID));
    out.insert("class_name".into(), json!("API Activity"));
    out.insert("category_uid".into(), json!(OCSF_CATEGORY_UID));
    out.insert("category_name".into(), json!("Application Activity"));
    out.insert("activity_id".into(), json!(activity_id));
    out.insert("activity_name".into(), json!(activity_name));
    out.insert("type_uid".into(), json!(OCSF_CLASS_UID * 100 + activity_id));
    out.insert("severity_id".into(), json!(severity_id));
    out.insert("severity".into(), json!(severity));
    out.insert("status_id".into(), json!(status_id));
    out.insert("status".into(), json!(status));
    out.insert("time".into(), json!(time_ms(record)));
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "Rampart",
            "vendor_name": "Rampart",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "profiles": ["security_control"],
        "log_name": "decision",
        "log_provider": instance,
        "sequence": record.get("seq").cloned().unwrap_or(Json::Null),
    });
    if let Some(id) = record.get("id") {
        metadata["uid"] = id.clone();
    }
    if let Some(revision) = record.get("revision") {
        metadata["product"]["feature"] = json!({"name": "policy", "version": revision});
    }
    out.insert("metadata".into(), metadata);
    let principal = fact("principal");
    let mut actor = json!({"app_name": "rampart"});
    if let Some(principal) = &principal {
        actor["user"] = json!({"uid": principal, "name": principal});
    }
    out.insert("actor".into(), actor);
    let mut api = json!({"operation": operation});
    if let Some(door) = record.get("door") {
        api["service"] = json!({"name": door});
    }
    if let Some(id) = record.get("id") {
        api["request"] = json!({"uid": id});
    }
    out.insert("api".into(), api);
    let mut src = Map::new();
    if let Some(ip) = fact("source_ip") {
        src.insert("ip".into(), json!(ip));
    }
    if let Some(peer) = fact("tls_peer") {
        src.insert("uid".into(), json!(peer));
    }
    if src.is_empty() {
        src.insert("name".into(), json!("unknown"));
    }
    out.insert("src_endpoint".into(), Json::Object(src));
    if let Some(host) = fact("host") {
        out.insert("dst_endpoint".into(), json!({"hostname": host}));
    }
    if fact("method").is_some() || fact("path").is_some() {
        let mut http = Map::new();
        if let Some(method) = fact("method") {
            http.insert("http_method".into(), json!(method));
        }
        let mut url = Map::new();
        if let Some(path) = fact("path") {
            url.insert("path".into(), json!(path));
        }
        if let Some(host) = fact("host") {
            url.insert("hostname".into(), json!(host));
        }
        http.insert("url".into(), Json::Object(url));
        out.insert("http_request".into(), Json::Object(http));
    }
    if let Some(resource) = fact("resource") {
        out.insert("resources".into(), json!([{"uid": resource}]));
    }
    if event.is_none() {
        let (disposition_id, disposition) = if allowed {
            (1, "Allowed")
        } else {
            (2, "Blocked")
        };
        out.insert("disposition_id".into(), json!(disposition_id));
        out.insert("disposition".into(), json!(disposition));
        out.insert("action_id".into(), json!(if allowed { 1 } else { 2 }));
        out.insert(
            "action".into(),
            json!(if allowed { "Allowed" } else { "Denied" }),
        );
    }
    let message = match event {
        Some(event) => format!("decision log {event}"),
        None => format!(
            "{} {} {}",
            if allowed { "allowed" } else { "denied" },
            principal.as_deref().unwrap_or("-"),
            operation
        ),
    };
    out.insert("message".into(), json!(message));
    let mapped = [
        "id", "time", "request", "decision", "revision", "door", "event",
    ];
    let unmapped: Map<String, Json> = record
        .iter()
        .filter(|(k, _)| !mapped.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert("unmapped".into(), Json::Object(unmapped));
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> Map<String, Json> {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    const DECISION: &str = r#"{"id":"d1","time":"2026-01-02T03:04:05.678Z","door":"ext_authz","revision":"r1","request":{"method":"DELETE","path":"/docs/1","host":"api","principal":"User::\"alice\"","action":"delete","resource":"Doc::\"1\"","source_ip":"10.0.0.9"},"decision":"deny","rules":["no-delete"],"reasons":["r"],"errors":[],"obligations":[],"controls":[],"latency_us":12,"instance":"pod-a","seq":7,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"1111111111111111111111111111111111111111111111111111111111111111"}"#;

    /// The attributes OCSF 1.3 requires of an API Activity event (the base event's and
    /// the class's), and those its objects require.
    pub fn assert_ocsf_required(event: &Json) {
        for key in [
            "activity_id",
            "category_uid",
            "class_uid",
            "severity_id",
            "time",
            "type_uid",
            "metadata",
            "actor",
            "api",
            "src_endpoint",
        ] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
        assert_eq!(event["class_uid"], 6003);
        assert_eq!(event["category_uid"], 6);
        let activity = event["activity_id"].as_u64().unwrap_or(1000);
        assert_eq!(event["type_uid"].as_u64(), Some(600_300 + activity));
        assert!(event["metadata"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")));
        assert!(event["metadata"]["product"]["vendor_name"].is_string());
        assert!(event["api"]["operation"].is_string());
        assert!(event["time"].is_i64());
        assert!(event["src_endpoint"]
            .as_object()
            .is_some_and(|o| !o.is_empty()));
    }

    #[test]
    fn a_decision_maps_onto_ocsf_api_activity() {
        let event = ocsf_event(&record(DECISION));
        assert_ocsf_required(&event);
        assert_eq!(event["activity_id"], 4);
        assert_eq!(event["disposition_id"], 2);
        assert_eq!(event["status_id"], 2);
        assert_eq!(event["actor"]["user"]["uid"], "User::\"alice\"");
        assert_eq!(event["src_endpoint"]["ip"], "10.0.0.9");
        assert_eq!(event["http_request"]["http_method"], "DELETE");
        assert_eq!(event["http_request"]["url"]["path"], "/docs/1");
        assert_eq!(event["metadata"]["sequence"], 7);
        assert_eq!(event["metadata"]["uid"], "d1");
        assert_eq!(event["unmapped"]["hash"], record(DECISION)["hash"]);
        assert_eq!(event["unmapped"]["instance"], "pod-a");
        assert_eq!(event["time"], 1_767_323_045_678i64);
    }

    #[test]
    fn activities_follow_the_method_then_the_action() {
        assert_eq!(activity_of(Some("get"), Some("delete")).0, 2);
        assert_eq!(activity_of(Some("POST"), None).0, 1);
        assert_eq!(activity_of(Some("OPTIONS"), None).0, 99);
        assert_eq!(activity_of(None, Some("documents:update")).0, 3);
        assert_eq!(activity_of(None, Some("approve")).0, 99);
        assert_eq!(activity_of(None, None).0, 0);
    }

    #[test]
    fn log_events_map_too() {
        let gap = record(
            r#"{"event":"gap","time":"2026-01-02T03:04:05.678Z","reason":"queue_full","lost":3,"instance":"pod-a","seq":9,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"1111111111111111111111111111111111111111111111111111111111111111"}"#,
        );
        let event = ocsf_event(&gap);
        assert_ocsf_required(&event);
        assert_eq!(event["api"]["operation"], "rampart.log.gap");
        assert_eq!(event["status_id"], 2);
        assert_eq!(event["unmapped"]["lost"], 3);
        let opa = opa_event(&gap);
        assert_eq!(opa["path"], "rampart/log/gap");
        assert_eq!(opa["rampart"]["seq"], 9);
    }

    #[test]
    fn a_decision_maps_onto_an_opa_event() {
        let event = opa_event(&record(DECISION));
        assert_eq!(event["decision_id"], "d1");
        assert_eq!(event["labels"]["id"], "pod-a");
        assert!(event["labels"]["version"].is_string());
        assert_eq!(event["bundles"]["rampart"]["revision"], "r1");
        assert_eq!(event["path"], "rampart/ext_authz");
        assert_eq!(event["input"]["path"], "/docs/1");
        assert_eq!(event["result"]["allow"], false);
        assert_eq!(event["result"]["decision"], "deny");
        assert_eq!(event["timestamp"], "2026-01-02T03:04:05.678Z");
        assert_eq!(event["metrics"]["timer_rampart_decision_ns"], 12_000);
        assert_eq!(event["rampart"]["seq"], 7);
        assert_eq!(event["requested_by"], "10.0.0.9");
    }
}
