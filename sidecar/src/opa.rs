//! The OPA-compatible data API, for Kong's and APISIX's OPA plugins:
//! `POST /v1/data/{path}` with `{"input": <request JSON>}`.
//!
//! The path names the package that decides (`/v1/data/payments`, `/v1/data/std/zerotrust`
//! for `std.zerotrust`; `/v1/data` for the whole policy set) and answers
//! `{"result": {"allow": …, …}, "decision_id": …}`. A path ending in `/allow` answers the
//! bare boolean, as OPA does for a rule: `{"result": false, "decision_id": …}`.
//!
//! The `input` is the request JSON, or what Kong's or APISIX's OPA plugin sends, which
//! [`plugins`] reads as the request JSON.

mod plugins;

use axum::http::StatusCode;
use axum::response::Response;
use rampart_engine::Engine;
use serde_json::{json, Map, Value as Json};

use crate::enforce::{self, HeaderObligations};
use crate::http::{json_response, set_decision_id};
use crate::ratelimit::TOO_MANY_REQUESTS;
use crate::state::{is_unauthenticated, Door, State};
use plugins::Plugin;

/// What a data path asks for.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    /// The package named by the path; `None` for the whole policy set.
    package: Option<String>,
    /// The path ends in `/allow`: answer the boolean alone.
    allow_only: bool,
}

/// Decides the `input` of an OPA data request.
pub async fn answer(state: &State, path: &str, document: Json) -> Response {
    let Json::Object(mut document) = document else {
        state.metrics.bad_request(Door::Opa);
        return opa_error("the request body must be a JSON object");
    };
    let Some(mut input) = document.remove("input") else {
        state.metrics.bad_request(Door::Opa);
        return opa_error("missing `input`");
    };
    let plugin = Plugin::of(&input);
    if let Some(plugin) = plugin {
        input = match plugin.request_json(&input) {
            Ok(request) => request,
            Err(message) => {
                state.metrics.bad_request(Door::Opa);
                return opa_error(&message);
            }
        };
    }
    let query = parse_path(path, &state.policy().engine);
    if let (Some(package), Json::Object(fields)) = (&query.package, &mut input) {
        fields.insert("package".into(), json!(package));
    }
    state.authenticate(&mut input);
    let decided = state.decide_async(Door::Opa, &input, None).await;
    let decision = &decided.decision;
    let result = if query.allow_only {
        json!(decision.is_allow())
    } else {
        let mut result = Map::new();
        result.insert("allow".into(), json!(decision.is_allow()));
        result.insert("rules".into(), json!(decision.rules));
        result.insert("reasons".into(), json!(decision.reasons));
        result.insert("obligations".into(), json!(decision.obligations));
        let mut headers: Map<String, Json> = HeaderObligations::of(decision)
            .set_upstream
            .into_iter()
            .map(|(k, v)| (k, Json::from(v)))
            .collect();
        if let Some(limited) = &decided.rate_limited {
            headers.insert(
                "retry-after".into(),
                json!(limited.retry_after_s.to_string()),
            );
        }
        result.insert("headers".into(), Json::Object(headers));
        let status = if decided.rate_limited.is_some() {
            Some(TOO_MANY_REQUESTS)
        } else if !decision.is_allow() {
            Some(enforce::deny_status(is_unauthenticated(&input)))
        } else {
            None
        };
        if let Some(status) = status {
            result.insert("status".into(), json!(status));
            // APISIX answers a deny with `status_code` and `reason` as the body.
            if plugin == Some(Plugin::Apisix) {
                result.insert("status_code".into(), json!(status));
                result.insert("reason".into(), json!(decision.reasons.join("; ")));
            }
        }
        Json::Object(result)
    };
    let body = json!({"result": result, "decision_id": decided.id});
    let mut response = json_response(StatusCode::OK, body.to_string());
    set_decision_id(&mut response, &decided.id);
    response
}

/// `a/b/c` → package `a.b.c`; a last segment `allow` that is not part of a package name
/// asks for the boolean alone.
fn parse_path(path: &str, engine: &Engine) -> Query {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let dotted = |parts: &[&str]| (!parts.is_empty()).then(|| parts.join("."));
    if let Some((last, rest)) = segments.split_last() {
        let whole = segments.join(".");
        if *last == "allow" && engine.package_id(&whole).is_none() {
            return Query {
                package: dotted(rest),
                allow_only: true,
            };
        }
    }
    Query {
        package: dotted(&segments),
        allow_only: false,
    }
}

/// OPA's error shape, with a 400.
fn opa_error(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"code": "invalid_parameter", "message": message}).to_string(),
    )
}
