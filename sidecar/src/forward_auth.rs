//! Forward-auth: one endpoint for NGINX `auth_request`, Traefik and APISIX forward-auth and
//! Envoy's ext_authz HTTP mode.
//!
//! The request being authorized is read from `X-Forwarded-Method`/`X-Forwarded-Uri`
//! (Traefik, APISIX), then `X-Original-Method`/`X-Original-URI` (NGINX), then the request
//! line itself, where Envoy's HTTP mode puts the original path after the `/v1/authz`
//! prefix. Answers are 200 to allow and 401 or 403 to deny, and 429 for an exhausted rate
//! limit except to NGINX, which turns any status but 2xx, 401 and 403 into a 500.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value as Json};

use crate::enforce::{self, HeaderObligations, CHALLENGE};
use crate::http::{json_response, set_decision_id};
use crate::ratelimit::TOO_MANY_REQUESTS;
use crate::state::{is_unauthenticated, Door, State};

/// The path prefix of the endpoint; what follows it is the original path (Envoy HTTP mode).
const PREFIX: &str = "/v1/authz";

/// The header that lists headers for Envoy (HTTP mode) to remove from the upstream request.
const REMOVE_HEADERS_HEADER: &str = "x-envoy-auth-headers-to-remove";

/// Decides the forwarded request and answers the gateway.
pub fn answer(state: &State, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut request = request_json(method, uri, headers);
    state.authenticate(&mut request);
    let decided = state.decide(Door::ForwardAuth, &request, None);
    let mut response = if decided.decision.is_allow() {
        allow_response(&HeaderObligations::of(&decided.decision))
    } else if let Some(limited) = &decided.rate_limited {
        // NGINX's auth_request turns any status but 2xx, 401 and 403 into a 500: a request
        // in its shape (`X-Original-URI`) gets 403, everyone else 429.
        let status = if headers.contains_key("x-original-uri") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::from_u16(TOO_MANY_REQUESTS).unwrap_or(StatusCode::FORBIDDEN)
        };
        let mut response = json_response(status, enforce::deny_body(&decided));
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(limited.retry_after_s),
        );
        response
    } else {
        let unauthenticated = is_unauthenticated(&request);
        let status = StatusCode::from_u16(enforce::deny_status(unauthenticated))
            .unwrap_or(StatusCode::FORBIDDEN);
        let mut response = json_response(status, enforce::deny_body(&decided));
        if unauthenticated {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        response
    };
    set_decision_id(&mut response, &decided.id);
    response
}

/// 200 with the header obligations as response headers: the gateway copies the ones it is
/// configured to copy (`auth_request_set`, `authResponseHeaders`, `allowed_upstream_headers`,
/// `allowed_client_headers_on_success`), and Envoy removes the headers named in
/// `x-envoy-auth-headers-to-remove`.
fn allow_response(headers: &HeaderObligations) -> Response {
    let mut response = json_response(StatusCode::OK, json!({"decision": "allow"}).to_string());
    let out = response.headers_mut();
    for (name, value) in headers.set_upstream.iter().chain(&headers.add_to_response) {
        // The engine's obligations are validated when the decision is taken (State::decide).
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.append(name, value);
        }
    }
    if !headers.remove_upstream.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&headers.remove_upstream.join(", ")) {
            out.insert(REMOVE_HEADERS_HEADER, value);
        }
    }
    response
}

/// The forwarded request as engine request JSON.
pub fn request_json(method: &Method, uri: &Uri, headers: &HeaderMap) -> Json {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let method = header("x-forwarded-method")
        .or_else(|| header("x-original-method"))
        .map_or_else(|| method.as_str().to_owned(), str::to_owned);
    let target = header("x-forwarded-uri")
        .or_else(|| header("x-original-uri"))
        .map_or_else(|| target_after_prefix(uri), str::to_owned);
    let host = header("x-forwarded-host").or_else(|| header("host"));

    let mut joined: Map<String, Json> = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        joined.insert(name.as_str().to_owned(), Json::from(values.join(", ")));
    }
    let mut http = Map::new();
    http.insert("method".into(), json!(method));
    http.insert("path".into(), json!(target));
    if let Some(host) = host {
        http.insert("host".into(), json!(host));
    }
    http.insert("headers".into(), Json::Object(joined));
    json!({ "http": http })
}

/// The original target when the gateway put it in the request line: the path after
/// `/v1/authz` (`/` when nothing follows) with the query.
fn target_after_prefix(uri: &Uri) -> String {
    let path = uri.path();
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    let mut target = if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    };
    if let Some(query) = uri.query() {
        target.push('?');
        target.push_str(query);
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn forwarded_headers_win_over_the_request_line() {
        let uri: Uri = "/v1/authz".parse().unwrap_or_default();
        let request = request_json(
            &Method::GET,
            &uri,
            &headers(&[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-uri", "/v1/accounts/a1/payments?x=1"),
                ("x-original-uri", "/ignored"),
                ("host", "auth.local"),
                ("x-forwarded-host", "api.bank.example"),
            ]),
        );
        assert_eq!(request["http"]["method"], "POST");
        assert_eq!(request["http"]["path"], "/v1/accounts/a1/payments?x=1");
        assert_eq!(request["http"]["host"], "api.bank.example");
        assert_eq!(request["http"]["headers"]["host"], "auth.local");
    }

    #[test]
    fn nginx_original_headers_are_read() {
        let uri: Uri = "/v1/authz".parse().unwrap_or_default();
        let request = request_json(
            &Method::GET,
            &uri,
            &headers(&[
                ("x-original-method", "DELETE"),
                ("x-original-uri", "/v1/accounts/a1"),
            ]),
        );
        assert_eq!(request["http"]["method"], "DELETE");
        assert_eq!(request["http"]["path"], "/v1/accounts/a1");
    }

    #[test]
    fn envoy_http_mode_puts_the_original_path_after_the_prefix() {
        let uri: Uri = "/v1/authz/v1/accounts/a2?fields=balance"
            .parse()
            .unwrap_or_default();
        let request = request_json(
            &Method::PUT,
            &uri,
            &headers(&[("x-custom", "a"), ("x-custom", "b")]),
        );
        assert_eq!(request["http"]["method"], "PUT");
        assert_eq!(request["http"]["path"], "/v1/accounts/a2?fields=balance");
        assert_eq!(request["http"]["headers"]["x-custom"], "a, b");
        let bare: Uri = "/v1/authz".parse().unwrap_or_default();
        assert_eq!(target_after_prefix(&bare), "/");
    }
}
