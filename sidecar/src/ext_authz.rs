//! The Envoy door: `envoy.service.auth.v3.Authorization/Check`.
//!
//! A `CheckRequest` is mapped field by field to the engine's typed request facts
//! ([`RequestFacts`], borrowed from the decoded message: no request JSON, no copies of the
//! headers; see `docs/sidecar.md` for the table) and read by
//! `Engine::request_from_http`; the decision is mapped back to an `ok_response` with the
//! header obligations, or a `denied_response` with a 401/403 and a JSON body. The decision
//! id travels in `dynamic_metadata` either way. A request without HTTP attributes goes the
//! JSON way ([`request_json`], the reference mapping), where the engine names what is
//! missing; either way any error is a deny.

use std::borrow::Cow;
use std::net::IpAddr;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{address, Address};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::rpc;
use rampart_engine::gateway::{HttpFacts, RequestFacts, TlsFacts};
use rampart_engine::ObligationOut;
use serde_json::{json, Value as Json};

use crate::state::{is_unauthenticated, now_ms, Decided, Door, State};

mod encode;
mod service;
mod wire;

pub use service::CheckServer;
pub use wire::{CheckView, HttpView};

/// `context_extensions` keys that select the package deciding a route, in order.
const PACKAGE_KEYS: [&str; 2] = ["policy", "package"];

/// The `context_extensions` key stating the minimum TLS version of the listener.
const TLS_VERSION_KEY: &str = "tls_version";

/// gRPC status codes used in `CheckResponse.status`.
const GRPC_OK: i32 = 0;
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_UNAUTHENTICATED: i32 = 16;

/// Decides a `CheckRequest` and maps the decision back to Envoy; never fails (an error is
/// a deny).
pub async fn decide_check(state: &State, check: &CheckRequest) -> CheckResponse {
    let view = CheckView::of(check);
    let bytes = match &view.http {
        Some(http) => decide_http(state, &view, http).await,
        None => decide_json(state, check).await,
    };
    decode_response(&bytes)
}

/// [`decide_check`] on the bytes of a `CheckRequest`, read without building the typed
/// message ([`CheckView::parse`]; the JSON way, for a request without HTTP attributes,
/// decodes it), answered with the bytes of the `CheckResponse` ([`check_response_bytes`]).
/// Bytes that are not a `CheckRequest` are the `INTERNAL` error tonic answers for a message
/// prost cannot decode.
pub async fn decide_message(state: &State, message: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let view = CheckView::parse(message).map_err(|e| tonic::Status::internal(e.to_string()))?;
    match &view.http {
        Some(http) => Ok(decide_http(state, &view, http).await),
        None => {
            let check = <CheckRequest as prost::Message>::decode(message)
                .map_err(|e| tonic::Status::internal(e.to_string()))?;
            Ok(decide_json(state, &check).await)
        }
    }
}

/// The JSON way, for a request without HTTP attributes.
async fn decide_json(state: &State, check: &CheckRequest) -> Vec<u8> {
    let mut mapped = request_json(check);
    state.authenticate(&mut mapped.request);
    let mut decided = state
        .decide_async(Door::ExtAuthz, &mapped.request, mapped.time_ms)
        .await;
    check_response_bytes(&mut decided, is_unauthenticated(&mapped.request))
}

/// The typed way: the facts borrowed from the request (see [`request_facts`]), the bearer
/// token verified, decided, answered, and then logged (the decision moves into the log).
/// The headers are `headers`, or when there are none the `header_map`
/// (`encode_raw_headers: true`).
async fn decide_http(state: &State, view: &CheckView<'_>, http: &HttpView<'_>) -> Vec<u8> {
    if http.headers.is_empty() {
        let headers = http
            .header_map
            .iter()
            .map(|(name, value)| (*name, value.as_ref()));
        decide_headers(state, view, http, headers).await
    } else {
        let headers = http.headers.iter().map(|(name, value)| (*name, *value));
        decide_headers(state, view, http, headers).await
    }
}

async fn decide_headers<'h>(
    state: &State,
    view: &CheckView<'_>,
    http: &HttpView<'_>,
    headers: impl Iterator<Item = (&'h str, &'h str)> + Clone,
) -> Vec<u8> {
    let auth = state.authenticate_headers(headers.clone());
    let target = request_target(http);
    let mut facts = request_facts(view, http, &target);
    facts.auth = auth.as_ref();
    facts.time_ms = Some(request_time_ms(view.time).unwrap_or_else(now_ms));
    let (mut decided, pending) = state.decide_http(Door::ExtAuthz, &facts, headers).await;
    let response = check_response_bytes(&mut decided, facts.is_unauthenticated());
    state.log_decided(pending, decided);
    response
}

/// The request target: the path with its query (from `query` when the path has none).
fn request_target<'a>(http: &HttpView<'a>) -> Cow<'a, str> {
    if !http.query.is_empty() && !http.path.contains('?') {
        Cow::Owned(format!("{}?{}", http.path, http.query))
    } else {
        Cow::Borrowed(http.path)
    }
}

/// The facts of a `CheckRequest` with HTTP attributes, borrowed from it, as
/// [`request_json`] maps them: method, the request `target`, host (else `:authority`), the
/// source address (when it is an IP address) and port, the peer's principal (mTLS),
/// `context_extensions` (`tls_version`; `policy` or `package`). No auth and no time yet.
pub fn request_facts<'a>(
    view: &CheckView<'a>,
    http: &HttpView<'a>,
    target: &'a str,
) -> RequestFacts<'a> {
    let host = if http.host.is_empty() {
        http.authority()
    } else {
        Some(http.host)
    };
    let address = view
        .source_address
        .filter(|(text, _)| text.parse::<IpAddr>().is_ok());
    RequestFacts {
        method: http.method,
        path: target,
        host,
        source_ip: address.map(|(ip, _)| ip),
        source_port: address.and_then(|(_, port)| port),
        tls: TlsFacts {
            version: view.extension(TLS_VERSION_KEY),
            peer: Some(view.source_principal).filter(|p| !p.is_empty()),
            ..TlsFacts::default()
        },
        package: PACKAGE_KEYS.iter().find_map(|k| view.extension(k)),
        ..RequestFacts::default()
    }
}

/// The time Envoy saw the request (seconds and nanoseconds), in milliseconds since the
/// Unix epoch.
fn request_time_ms(time: Option<(i64, i32)>) -> Option<i64> {
    let (seconds, nanos) = time?;
    seconds
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
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

    let time_ms = request_time_ms(
        attributes
            .request
            .as_ref()
            .and_then(|r| r.time.as_ref())
            .map(|t| (t.seconds, t.nanos)),
    );
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
    raw_header_values(http)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.into_owned()))
        .collect()
}

/// The `header_map` of a request (`encode_raw_headers: true`): `raw_value` as UTF-8
/// (lossily), else `value`; borrowed where it can be.
fn raw_header_values(http: &HttpRequest) -> Vec<(&str, Cow<'_, str>)> {
    let Some(map) = &http.header_map else {
        return Vec::new();
    };
    map.headers
        .iter()
        .map(|h| {
            let value = if h.raw_value.is_empty() {
                Cow::Borrowed(h.value.as_str())
            } else {
                String::from_utf8_lossy(&h.raw_value)
            };
            (h.key.as_str(), value)
        })
        .collect()
}

/// The IP address and port of a socket address; `None` for pipes and unparsable addresses.
fn socket_address(address: Option<&Address>) -> Option<(IpAddr, Option<u32>)> {
    let Some(address::Address::SocketAddress(socket)) = address?.address.as_ref() else {
        return None;
    };
    let port = match socket.port_specifier {
        Some(PortSpecifier::PortValue(port)) => Some(port),
        _ => None,
    };
    Some((socket.address.parse().ok()?, port))
}

/// Maps a decision back to Envoy: allow → `ok_response` with the header obligations;
/// deny → `denied_response` (401 or 403, 429 with `retry-after` when rate-limited) with a
/// JSON body. Either way `dynamic_metadata` holds `decision_id`, `decision`, `rules`, and
/// the `mask` fields of an allow (for a filter downstream that masks responses), under the
/// filter's metadata namespace.
///
/// The typed form of [`check_response_bytes`], which the server sends: these are its bytes
/// decoded.
#[cfg(test)]
pub fn check_response(decided: &mut Decided, unauthenticated: bool) -> CheckResponse {
    decode_response(&check_response_bytes(decided, unauthenticated))
}

/// The typed form of the bytes of [`check_response_bytes`].
fn decode_response(bytes: &[u8]) -> CheckResponse {
    <CheckResponse as prost::Message>::decode(bytes).unwrap_or_else(|error| {
        // The writer writes what prost reads; kept a deny all the same.
        CheckResponse {
            status: Some(rpc::Status {
                code: GRPC_PERMISSION_DENIED,
                message: format!("cannot encode the answer: {error}"),
                ..rpc::Status::default()
            }),
            ..CheckResponse::default()
        }
    })
}

/// The encoded `CheckResponse` of a decision (see [`check_response`]), written in one pass
/// ([`encode::write_check_response`]).
///
/// The values of the header obligations are then emptied in `decided`: the decision log
/// keeps obligations without their values.
pub fn check_response_bytes(decided: &mut Decided, unauthenticated: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(encode::RESPONSE_CAPACITY);
    encode::write_check_response(&mut out, decided, unauthenticated);
    for obligation in &mut decided.decision.obligations {
        if let ObligationOut::RequestHeader { value, .. }
        | ObligationOut::ResponseHeader { value, .. } = obligation
        {
            *value = String::new();
        }
    }
    out
}

#[cfg(test)]
mod tests;
