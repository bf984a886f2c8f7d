//! The Envoy door: `envoy.service.auth.v3.Authorization/Check`.
//!
//! A `CheckRequest` is mapped field by field to the engine's raw-HTTP request JSON (see
//! `docs/sidecar.md` for the table); the decision is mapped back to an `ok_response` with
//! the header obligations, or a `denied_response` with a 401/403 and a JSON body. The
//! decision id travels in `dynamic_metadata` either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, DeniedHttpResponse, HeaderValue, HeaderValueOption,
    HttpResponse, HttpStatus, OkHttpResponse,
};
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{address, Address};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::protobuf::{value::Kind, ListValue, Struct, Value as PbValue};
use envoy_types::pb::google::rpc;
use rampart_engine::gateway::HttpFacts;
use rampart_engine::ObligationOut;
use serde_json::{json, Value as Json};

use crate::enforce::{self, HeaderObligations, CHALLENGE, DECISION_ID_HEADER};
use crate::ratelimit::TOO_MANY_REQUESTS;
use crate::state::{is_unauthenticated, Decided, Door, State};

/// `context_extensions` keys that select the package deciding a route, in order.
const PACKAGE_KEYS: [&str; 2] = ["policy", "package"];

/// The `context_extensions` key stating the minimum TLS version of the listener.
const TLS_VERSION_KEY: &str = "tls_version";

/// gRPC status codes used in `CheckResponse.status`.
const GRPC_OK: i32 = 0;
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_UNAUTHENTICATED: i32 = 16;

/// The ext_authz service.
pub struct ExtAuthz {
    state: Arc<State>,
}

impl ExtAuthz {
    pub fn new(state: Arc<State>) -> ExtAuthz {
        ExtAuthz { state }
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let check = request.into_inner();
        let mut mapped = request_json(&check);
        self.state.authenticate(&mut mapped.request);
        let decided = self
            .state
            .decide(Door::ExtAuthz, &mapped.request, mapped.time_ms);
        let response = check_response(&decided, is_unauthenticated(&mapped.request));
        Ok(tonic::Response::new(response))
    }
}

/// A `CheckRequest` as engine request JSON, with the time Envoy saw the request.
pub struct Mapped {
    pub request: Json,
    pub time_ms: Option<i64>,
}

/// Maps a `CheckRequest` to the engine's raw-HTTP request JSON (through
/// [`HttpFacts`], as the proxy-wasm filter does).
pub fn request_json(check: &CheckRequest) -> Mapped {
    let Some(attributes) = &check.attributes else {
        // No attributes: the engine reports the missing request parts and denies.
        return Mapped {
            request: json!({}),
            time_ms: None,
        };
    };
    let mut facts = attributes
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .map_or_else(HttpFacts::default, http_facts);
    if let Some(source) = &attributes.source {
        if let Some((ip, port)) = socket_address(source.address.as_ref()) {
            facts.source_ip = Some(ip);
            facts.source_port = port;
        }
        if !source.principal.is_empty() {
            facts.tls_peer = Some(source.principal.clone());
        }
    }
    let extensions = &attributes.context_extensions;
    facts.tls_version = extensions.get(TLS_VERSION_KEY).cloned();
    facts.package = PACKAGE_KEYS
        .iter()
        .find_map(|k| extensions.get(*k))
        .cloned();
    let mut request = facts.to_request_json();
    if attributes
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .is_none()
    {
        // No HTTP attributes: an empty `http` part, which the engine refuses (deny).
        if let Some(object) = request.as_object_mut() {
            object.insert("http".into(), json!({}));
        }
    }

    let time_ms = attributes
        .request
        .as_ref()
        .and_then(|r| r.time.as_ref())
        .and_then(|t| {
            t.seconds
                .checked_mul(1000)?
                .checked_add(i64::from(t.nanos / 1_000_000))
        });
    Mapped { request, time_ms }
}

/// The HTTP facts: method, path with its query, host (else `:authority`), and the headers
/// (or `header_map`, with `encode_raw_headers: true`).
fn http_facts(http: &HttpRequest) -> HttpFacts {
    let mut path = http.path.clone();
    if !http.query.is_empty() && !path.contains('?') {
        path.push('?');
        path.push_str(&http.query);
    }
    let headers: Vec<(String, String)> = if http.headers.is_empty() {
        raw_headers(http)
    } else {
        http.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let host = if http.host.is_empty() {
        http.headers.get(":authority").cloned()
    } else {
        Some(http.host.clone())
    };
    HttpFacts {
        method: http.method.clone(),
        path,
        host,
        headers,
        ..HttpFacts::default()
    }
}

fn raw_headers(http: &HttpRequest) -> Vec<(String, String)> {
    let Some(map) = &http.header_map else {
        return Vec::new();
    };
    map.headers
        .iter()
        .map(|h| {
            let value = if h.raw_value.is_empty() {
                h.value.clone()
            } else {
                String::from_utf8_lossy(&h.raw_value).into_owned()
            };
            (h.key.clone(), value)
        })
        .collect()
}

/// The IP address and port of a socket address; `None` for pipes and unparsable addresses.
fn socket_address(address: Option<&Address>) -> Option<(IpAddr, Option<u32>)> {
    let Some(address::Address::SocketAddress(socket)) = address?.address.as_ref() else {
        return None;
    };
    let ip: IpAddr = socket.address.parse().ok()?;
    let port = match socket.port_specifier {
        Some(PortSpecifier::PortValue(port)) => Some(port),
        _ => None,
    };
    Some((ip, port))
}

/// Maps a decision back to Envoy: allow → `ok_response` with the header obligations;
/// deny → `denied_response` (401 or 403, 429 with `retry-after` when rate-limited) with a
/// JSON body.
pub fn check_response(decided: &Decided, unauthenticated: bool) -> CheckResponse {
    let metadata = dynamic_metadata(decided);
    if decided.decision.is_allow() {
        let headers = HeaderObligations::of(&decided.decision);
        let ok = OkHttpResponse {
            headers: headers
                .set_upstream
                .iter()
                .map(|(k, v)| header(k, v, HeaderAppendAction::OverwriteIfExistsOrAdd))
                .collect(),
            headers_to_remove: headers.remove_upstream,
            response_headers_to_add: headers
                .add_to_response
                .iter()
                .map(|(k, v)| header(k, v, HeaderAppendAction::AppendIfExistsOrAdd))
                .collect(),
            ..OkHttpResponse::default()
        };
        return CheckResponse {
            status: Some(rpc::Status {
                code: GRPC_OK,
                ..rpc::Status::default()
            }),
            http_response: Some(HttpResponse::OkResponse(ok)),
            dynamic_metadata: Some(metadata),
        };
    }
    let limited = decided.rate_limited.as_ref();
    let status = match limited {
        Some(_) => TOO_MANY_REQUESTS,
        None => enforce::deny_status(unauthenticated),
    };
    let append = HeaderAppendAction::OverwriteIfExistsOrAdd;
    let mut headers = vec![
        header("content-type", "application/json", append),
        header(DECISION_ID_HEADER, &decided.id, append),
    ];
    if let Some(limited) = limited {
        let seconds = limited.retry_after_s.to_string();
        headers.push(header("retry-after", &seconds, append));
    } else if unauthenticated {
        headers.push(header("www-authenticate", CHALLENGE, append));
    }
    let denied = DeniedHttpResponse {
        status: Some(HttpStatus {
            code: i32::from(status),
        }),
        headers,
        body: enforce::deny_body(decided),
    };
    CheckResponse {
        status: Some(rpc::Status {
            code: match (limited, unauthenticated) {
                (Some(_), _) => GRPC_RESOURCE_EXHAUSTED,
                (None, true) => GRPC_UNAUTHENTICATED,
                (None, false) => GRPC_PERMISSION_DENIED,
            },
            message: "denied by policy".into(),
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(denied)),
        dynamic_metadata: Some(metadata),
    }
}

fn header(key: &str, value: &str, action: HeaderAppendAction) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value: value.to_owned(),
            ..HeaderValue::default()
        }),
        append_action: action as i32,
        ..HeaderValueOption::default()
    }
}

/// `decision_id`, `decision`, `rules`, and the `mask` fields of an allow (for a filter
/// downstream that masks responses), under the filter's metadata namespace.
fn dynamic_metadata(decided: &Decided) -> Struct {
    let string = |s: &str| PbValue {
        kind: Some(Kind::StringValue(s.to_owned())),
    };
    let list = |items: Vec<PbValue>| PbValue {
        kind: Some(Kind::ListValue(ListValue { values: items })),
    };
    let decision = &decided.decision;
    let mut fields = HashMap::new();
    fields.insert("decision_id".to_owned(), string(&decided.id));
    let effect = if decision.is_allow() { "allow" } else { "deny" };
    fields.insert("decision".to_owned(), string(effect));
    fields.insert(
        "rules".to_owned(),
        list(decision.rules.iter().map(|r| string(r)).collect()),
    );
    let mask: Vec<PbValue> = decision
        .obligations
        .iter()
        .filter_map(|o| match o {
            ObligationOut::Mask { fields, .. } => Some(fields),
            _ => None,
        })
        .flatten()
        .map(|f| string(f))
        .collect();
    if !mask.is_empty() {
        fields.insert("mask".to_owned(), list(mask));
    }
    Struct { fields }
}

#[cfg(test)]
mod tests;
