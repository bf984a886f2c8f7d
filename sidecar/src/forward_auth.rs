//! Forward-auth: one endpoint for NGINX `auth_request`, Traefik and APISIX forward-auth and
//! Envoy's ext_authz HTTP mode.
//!
//! Where the request being authorized is read from is configured, never guessed: a client
//! can send any `X-Forwarded-*` or `X-Original-*` header, and only the gateway in front
//! knows which of them it wrote itself. `rampart serve --forward-auth MODE` names the
//! gateway ([`ForwardAuth`]):
//!
//! | mode | method | target | host |
//! |---|---|---|---|
//! | `nginx` | `X-Original-Method` | `X-Original-URI` | `X-Original-Host` |
//! | `traefik`, `apisix` | `X-Forwarded-Method` | `X-Forwarded-Uri` | `X-Forwarded-Host` |
//! | `envoy` | the request's method | the path after `/v1/authz` | `Host` |
//! | `headers:M,U[,H]` | header `M` | header `U` | header `H` |
//!
//! In a header mode the method and target headers are required and must appear once; a
//! request without them, or with either repeated, is denied (the gateway is not the one
//! configured, or a client's copy got through). Without `--forward-auth`, the endpoint
//! denies every request and says why. Answers are 200 to allow and 401 or 403 to deny, and
//! 429 for an exhausted rate limit except to NGINX, which turns any status but 2xx, 401 and
//! 403 into a 500.

use std::fmt;
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value as Json};

use crate::enforce::{self, HeaderObligations, CHALLENGE};
use crate::http::{json_response, set_decision_id};
use crate::ratelimit::TOO_MANY_REQUESTS;
use crate::state::{is_unauthenticated, Decided, Door, State};

/// The path prefix of the endpoint; what follows it is the original path (Envoy HTTP mode).
const PREFIX: &str = "/v1/authz";

/// The header that lists headers for Envoy (HTTP mode) to remove from the upstream request.
const REMOVE_HEADERS_HEADER: &str = "x-envoy-auth-headers-to-remove";

/// Where forward-auth reads the request being authorized (`--forward-auth`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ForwardAuth {
    /// Not configured: every forward-auth request is denied.
    #[default]
    Off,
    /// Envoy's ext_authz HTTP mode: the request line (the original path after `/v1/authz`)
    /// and the `Host` header.
    RequestLine,
    /// Headers the gateway sets: NGINX, Traefik, APISIX, or named ones.
    Headers(ForwardHeaders),
}

/// The headers a gateway puts the original request in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardHeaders {
    /// The mode's name, for messages (`nginx`, `traefik`, `apisix`, `headers`).
    pub mode: &'static str,
    /// The original method.
    pub method: HeaderName,
    /// The original request target (path and query).
    pub target: HeaderName,
    /// The original host; the `Host` header when absent from the mode.
    pub host: HeaderName,
}

impl ForwardAuth {
    /// NGINX `auth_request`: `proxy_set_header X-Original-Method/-URI/-Host` in the auth
    /// location (examples/nginx/nginx.conf).
    pub fn nginx() -> ForwardAuth {
        ForwardAuth::headers(
            "nginx",
            "x-original-method",
            "x-original-uri",
            "x-original-host",
        )
    }

    /// Traefik's ForwardAuth middleware (which overwrites the client's `X-Forwarded-*`
    /// unless `trustForwardHeader` is set).
    pub fn traefik() -> ForwardAuth {
        ForwardAuth::headers(
            "traefik",
            "x-forwarded-method",
            "x-forwarded-uri",
            "x-forwarded-host",
        )
    }

    /// APISIX's forward-auth plugin.
    pub fn apisix() -> ForwardAuth {
        ForwardAuth::headers(
            "apisix",
            "x-forwarded-method",
            "x-forwarded-uri",
            "x-forwarded-host",
        )
    }

    fn headers(
        mode: &'static str,
        method: &'static str,
        target: &'static str,
        host: &'static str,
    ) -> ForwardAuth {
        ForwardAuth::Headers(ForwardHeaders {
            mode,
            method: HeaderName::from_static(method),
            target: HeaderName::from_static(target),
            host: HeaderName::from_static(host),
        })
    }
}

impl fmt::Display for ForwardAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardAuth::Off => f.write_str("off"),
            ForwardAuth::RequestLine => f.write_str("envoy"),
            ForwardAuth::Headers(h) if h.mode == "headers" => {
                write!(f, "headers:{},{},{}", h.method, h.target, h.host)
            }
            ForwardAuth::Headers(h) => f.write_str(h.mode),
        }
    }
}

impl FromStr for ForwardAuth {
    type Err = String;

    /// `nginx`, `traefik`, `apisix`, `envoy`, `off`, or `headers:METHOD,TARGET[,HOST]`.
    fn from_str(text: &str) -> Result<ForwardAuth, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nginx" => Ok(ForwardAuth::nginx()),
            "traefik" => Ok(ForwardAuth::traefik()),
            "apisix" => Ok(ForwardAuth::apisix()),
            "envoy" => Ok(ForwardAuth::RequestLine),
            "off" => Ok(ForwardAuth::Off),
            other => {
                let Some(list) = other.strip_prefix("headers:") else {
                    return Err(format!(
                        "unknown forward-auth mode `{other}`: expected nginx, traefik, apisix, \
                         envoy, off or headers:METHOD,TARGET[,HOST]"
                    ));
                };
                let names: Vec<&str> = list.split(',').map(str::trim).collect();
                let name = |n: &str| {
                    HeaderName::from_bytes(n.as_bytes())
                        .map_err(|_| format!("`{n}` is not a header name"))
                };
                match names.as_slice() {
                    [method, target] => Ok(ForwardAuth::Headers(ForwardHeaders {
                        mode: "headers",
                        method: name(method)?,
                        target: name(target)?,
                        host: HeaderName::from_static("host"),
                    })),
                    [method, target, host] => Ok(ForwardAuth::Headers(ForwardHeaders {
                        mode: "headers",
                        method: name(method)?,
                        target: name(target)?,
                        host: name(host)?,
                    })),
                    _ => Err(format!(
                        "`headers:{list}` must name two or three headers: METHOD,TARGET[,HOST]"
                    )),
                }
            }
        }
    }
}

/// Decides the forwarded request and answers the gateway.
pub async fn answer(state: &State, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mode = &state.forward_auth;
    match request_json(mode, method, uri, headers) {
        Ok(mut request) => {
            state.authenticate(&mut request);
            let decided = state.decide_async(Door::ForwardAuth, &request, None).await;
            respond(mode, &request, decided)
        }
        Err(refused) => {
            // The decision log and the error counters say why; the client gets a 403,
            // which every gateway passes on.
            let request = json!({"http": {"method": method.as_str(), "path": uri.path()}});
            let decided = state.refuse(Door::ForwardAuth, &request, refused);
            let mut response = json_response(StatusCode::FORBIDDEN, enforce::deny_body(&decided));
            set_decision_id(&mut response, &decided.id);
            response
        }
    }
}

/// The gateway's answer to a decided request.
fn respond(mode: &ForwardAuth, request: &Json, decided: Decided) -> Response {
    let mut response = if decided.decision.is_allow() {
        allow_response(&HeaderObligations::of(&decided.decision))
    } else if let Some(limited) = &decided.rate_limited {
        // NGINX's auth_request turns any status but 2xx, 401 and 403 into a 500: NGINX
        // gets 403 (its configuration turns it back into 429), everyone else 429.
        let nginx = matches!(mode, ForwardAuth::Headers(h) if h.mode == "nginx");
        let status = if nginx {
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
        let unauthenticated = is_unauthenticated(request);
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

/// The forwarded request as engine request JSON, read where `mode` says; an error (the
/// deny's reason) when the mode's headers are missing or repeated.
pub fn request_json(
    mode: &ForwardAuth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Json, String> {
    let (method, target, host) = match mode {
        ForwardAuth::Off => {
            return Err("forward-auth is not configured: start rampart serve with \
                        --forward-auth nginx|traefik|apisix|envoy|headers:…"
                .to_owned())
        }
        ForwardAuth::RequestLine => (
            method.as_str().to_owned(),
            target_after_prefix(uri),
            single(headers, &HeaderName::from_static("host"), "envoy")?,
        ),
        ForwardAuth::Headers(names) => {
            let required = |name: &HeaderName| {
                single(headers, name, names.mode)?.ok_or_else(|| {
                    format!(
                        "forward-auth ({}) needs the `{name}` header from the gateway",
                        names.mode
                    )
                })
            };
            (
                required(&names.method)?,
                required(&names.target)?,
                single(headers, &names.host, names.mode)?,
            )
        }
    };
    let values: Vec<(&str, std::borrow::Cow<'_, str>)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let pairs = values.iter().map(|(name, value)| (*name, value.as_ref()));
    let mut http = Map::new();
    http.insert("method".into(), json!(method));
    http.insert("path".into(), json!(target));
    if let Some(host) = host {
        http.insert("host".into(), json!(host));
    }
    http.insert(
        "headers".into(),
        Json::Object(rampart_engine::gateway::grouped_headers(pairs)),
    );
    Ok(json!({ "http": http }))
}

/// The one value of a header the gateway sets: `None` when absent, an error when repeated
/// or not text (a gateway sets it once; two values mean a client's copy got through).
fn single(headers: &HeaderMap, name: &HeaderName, mode: &str) -> Result<Option<String>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!(
            "forward-auth ({mode}): the `{name}` header appears more than once"
        ));
    }
    let text = first
        .to_str()
        .map_err(|_| format!("forward-auth ({mode}): the `{name}` header is not text"))?
        .trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
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

    fn authz() -> Uri {
        "/v1/authz".parse().unwrap_or_default()
    }

    #[test]
    fn nginx_mode_reads_only_the_original_headers() {
        let request = request_json(
            &ForwardAuth::nginx(),
            &Method::GET,
            &authz(),
            &headers(&[
                ("x-original-method", "DELETE"),
                ("x-original-uri", "/v1/accounts/a2"),
                ("x-original-host", "api.bank.example"),
                // A client's spoofed copies: never read in this mode.
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/v1/accounts/a1"),
                ("host", "rampart"),
            ]),
        )
        .unwrap();
        assert_eq!(request["http"]["method"], "DELETE");
        assert_eq!(request["http"]["path"], "/v1/accounts/a2");
        assert_eq!(request["http"]["host"], "api.bank.example");
    }

    #[test]
    fn traefik_and_apisix_read_the_forwarded_headers() {
        for mode in [ForwardAuth::traefik(), ForwardAuth::apisix()] {
            let request = request_json(
                &mode,
                &Method::GET,
                &authz(),
                &headers(&[
                    ("x-forwarded-method", "POST"),
                    ("x-forwarded-uri", "/v1/accounts/a1/payments?x=1"),
                    ("x-original-uri", "/ignored"),
                    ("host", "auth.local"),
                    ("x-forwarded-host", "api.bank.example"),
                ]),
            )
            .unwrap();
            assert_eq!(request["http"]["method"], "POST");
            assert_eq!(request["http"]["path"], "/v1/accounts/a1/payments?x=1");
            assert_eq!(request["http"]["host"], "api.bank.example");
            assert_eq!(request["http"]["headers"]["host"], "auth.local");
        }
    }

    #[test]
    fn envoy_mode_reads_the_request_line_and_ignores_forwarding_headers() {
        let uri: Uri = "/v1/authz/v1/accounts/a2?fields=balance"
            .parse()
            .unwrap_or_default();
        let request = request_json(
            &ForwardAuth::RequestLine,
            &Method::PUT,
            &uri,
            &headers(&[
                ("x-custom", "a"),
                ("x-custom", "b"),
                ("x-forwarded-uri", "/v1/accounts/a1"),
                ("x-original-method", "GET"),
            ]),
        )
        .unwrap();
        assert_eq!(request["http"]["method"], "PUT");
        assert_eq!(request["http"]["path"], "/v1/accounts/a2?fields=balance");
        assert_eq!(request["http"]["headers"]["x-custom"], json!(["a", "b"]));
        assert_eq!(target_after_prefix(&authz()), "/");
    }

    #[test]
    fn missing_or_repeated_trusted_headers_are_refused() {
        let missing = request_json(
            &ForwardAuth::nginx(),
            &Method::GET,
            &authz(),
            &headers(&[("x-forwarded-uri", "/v1/accounts/a1")]),
        );
        assert!(missing.unwrap_err().contains("`x-original-method`"));
        let repeated = request_json(
            &ForwardAuth::nginx(),
            &Method::GET,
            &authz(),
            &headers(&[
                ("x-original-method", "GET"),
                ("x-original-uri", "/v1/accounts/a1"),
                ("x-original-uri", "/v1/accounts/a2"),
            ]),
        );
        assert!(repeated.unwrap_err().contains("more than once"));
        let off = request_json(&ForwardAuth::Off, &Method::GET, &authz(), &HeaderMap::new());
        assert!(off.unwrap_err().contains("not configured"));
    }

    #[test]
    fn modes_parse_and_print() {
        for text in ["nginx", "traefik", "apisix", "envoy", "off"] {
            assert_eq!(
                text.parse::<ForwardAuth>().map(|m| m.to_string()),
                Ok(text.into())
            );
        }
        let custom: ForwardAuth = "headers:X-Auth-Method, X-Auth-Uri".parse().unwrap();
        assert_eq!(custom.to_string(), "headers:x-auth-method,x-auth-uri,host");
        assert!("haproxy".parse::<ForwardAuth>().is_err());
        assert!("headers:x-only".parse::<ForwardAuth>().is_err());
        assert!("headers:bad name,x".parse::<ForwardAuth>().is_err());
    }
}
