//! What every gateway door shares, on both sides of a decision: the HTTP facts a gateway
//! sees turned into the raw-HTTP request JSON, and a decision turned into what the gateway
//! must do (the header obligations of an allow; the status and body of a deny).
//!
//! The sidecar's doors (Envoy ext_authz, forward-auth, the OPA door) and the proxy-wasm
//! filter that runs inside Envoy use this one mapping, so the same request gets the same
//! answer through each of them. Nothing here does I/O.

use std::net::IpAddr;

use serde_json::{json, Map, Value as Json};

use crate::decision::{Decision, ObligationOut};

pub mod headers;
pub mod path;

pub use headers::{join_headers, HeaderError, JoinedHeaders, MAX_HEADERS, MAX_HEADER_BYTES};
pub use path::{canonicalize, CanonicalTarget, PathError, MAX_TARGET_BYTES};

/// The `www-authenticate` challenge sent with a 401.
pub const CHALLENGE: &str = "Bearer realm=\"rampart\"";

/// The response header naming the decision, on every deny a gateway answers itself.
pub const DECISION_ID_HEADER: &str = "x-rampart-decision-id";

/// The status of a deny caused by an exhausted `rate_limit` obligation.
pub const TOO_MANY_REQUESTS: u16 = 429;

/// The facts of one HTTP request as a gateway sees them, before the bundle's routes turn
/// them into action and resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpFacts {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target: the path with its query string, if any.
    pub path: String,
    /// The `Host` header or `:authority`.
    pub host: Option<String>,
    /// The request headers in arrival order, as the gateway has them; see
    /// [`request_headers`] for what the policy sees.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub source_ip: Option<IpAddr>,
    /// The client's port.
    pub source_port: Option<u32>,
    /// The identity of the client certificate (its URI SAN, e.g. a SPIFFE id).
    pub tls_peer: Option<String>,
    /// True when the client presented a certificate the listener verified. A
    /// [`HttpFacts::tls_peer`] implies it.
    pub mtls: bool,
    /// The TLS version of the connection (`TLSv1.3`, `1.2`, …).
    pub tls_version: Option<String>,
    /// Only this package (and its imports) decides.
    pub package: Option<String>,
}

impl HttpFacts {
    /// The request JSON the engine reads: `{"http": {method, path, host, headers},
    /// "context": {"source": {ip, port}, "tls": {mtls, peer, version}}, "package"}`, with
    /// absent facts left out.
    pub fn to_request_json(&self) -> Json {
        let mut http = Map::new();
        http.insert("method".into(), json!(self.method));
        http.insert("path".into(), json!(self.path));
        if let Some(host) = &self.host {
            http.insert("host".into(), json!(host));
        }
        let pairs = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        http.insert("headers".into(), Json::Object(grouped_headers(pairs)));

        let mut context = Map::new();
        if let Some(ip) = self.source_ip {
            let mut source = Map::new();
            source.insert("ip".into(), json!(ip.to_string()));
            if let Some(port) = self.source_port {
                source.insert("port".into(), json!(port));
            }
            context.insert("source".into(), Json::Object(source));
        }
        let mut tls = Map::new();
        if self.mtls || self.tls_peer.is_some() {
            tls.insert("mtls".into(), json!(true));
        }
        if let Some(peer) = &self.tls_peer {
            tls.insert("peer".into(), json!(peer));
        }
        if let Some(version) = &self.tls_version {
            tls.insert("version".into(), json!(version));
        }
        if !tls.is_empty() {
            context.insert("tls".into(), Json::Object(tls));
        }

        let mut request = Map::new();
        request.insert("http".into(), Json::Object(http));
        if !context.is_empty() {
            request.insert("context".into(), Json::Object(context));
        }
        if let Some(package) = &self.package {
            request.insert("package".into(), json!(package));
        }
        Json::Object(request)
    }
}

/// The facts of one HTTP request, borrowed from what the gateway decoded, for
/// [`Engine::request_from_http`](crate::Engine::request_from_http): the typed way to the
/// engine's [`Request`](crate::Request), without building request JSON.
///
/// It reads to the same request as [`Engine::request_from_value`](crate::Engine::request_from_value)
/// followed by [`Engine::fill_time`](crate::Engine::fill_time) reads from the request JSON
/// of the same facts: [`HttpFacts::to_request_json`] with `context.tls.cipher` and
/// `context.auth` added when given. Bad facts (a source that is not an IP address, an
/// unknown TLS version or package) are the same errors.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestFacts<'a> {
    /// `GET`, `POST`, … (upper-cased by the engine).
    pub method: &'a str,
    /// The request target: the path with its query string, if any.
    pub path: &'a str,
    /// The `Host` header or `:authority`.
    pub host: Option<&'a str>,
    /// The client's address: `context.source.ip`.
    pub source_ip: Option<&'a str>,
    /// The client's port: `context.source.port`; only kept with a [`RequestFacts::source_ip`].
    pub source_port: Option<u32>,
    /// The TLS facts of the connection: `context.tls`.
    pub tls: TlsFacts<'a>,
    /// The `context.auth` record of a verified token, in its JSON form (the sidecar's
    /// verified claims); `None`: unauthenticated (`method` is `none`).
    pub auth: Option<&'a Json>,
    /// Only this package (and its imports) decides.
    pub package: Option<&'a str>,
    /// `context.time` in milliseconds since the Unix epoch, when the bundle's context has
    /// it: the time the gateway saw the request, or now.
    pub time_ms: Option<i64>,
}

/// The TLS facts of a connection: `context.tls`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsFacts<'a> {
    /// `TLSv1.3`, `1.2`, …
    pub version: Option<&'a str>,
    /// The cipher suite's name.
    pub cipher: Option<&'a str>,
    /// True when the client presented a certificate the listener verified. A
    /// [`TlsFacts::peer`] implies it.
    pub mtls: bool,
    /// The identity of the client certificate (its URI SAN, e.g. a SPIFFE id).
    pub peer: Option<&'a str>,
}

impl RequestFacts<'_> {
    /// True when the request carries no authentication: no verified token (or one whose
    /// `method` is `none`) and no client certificate; [`is_unauthenticated`] of the same
    /// facts' request JSON.
    pub fn is_unauthenticated(&self) -> bool {
        let method = self
            .auth
            .and_then(|a| a.get("method"))
            .and_then(Json::as_str)
            .unwrap_or("none");
        method == "none" && !self.tls.mtls && self.tls.peer.is_none()
    }
}

/// The request headers as the policy sees them, as JSON ([`join_headers`]: names
/// lower-cased, pseudo-headers left out, repeated names joined with `, ` in arrival order,
/// sorted by name), or why they are refused.
pub fn request_headers<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Map<String, Json>, HeaderError> {
    Ok(join_headers(pairs)?
        .into_iter()
        .map(|(k, v)| (k.into_owned(), Json::from(v.into_owned())))
        .collect())
}

/// The request headers as request JSON: names lower-cased, pseudo-headers left out, a name
/// seen once a string, a repeated name an array of its values in arrival order (the
/// engine joins them with `, ` and counts every value against [`MAX_HEADERS`]). Linear in
/// the number of headers (one map insertion each).
pub fn grouped_headers<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Map<String, Json> {
    let mut grouped: std::collections::BTreeMap<std::borrow::Cow<'a, str>, Vec<&'a str>> =
        std::collections::BTreeMap::new();
    for (name, value) in pairs.filter(|(name, _)| !name.starts_with(':')) {
        grouped
            .entry(headers::lower_case(name))
            .or_default()
            .push(value);
    }
    grouped
        .into_iter()
        .map(|(name, values)| {
            let value = match values.as_slice() {
                [one] => Json::from(*one),
                _ => Json::from(values),
            };
            (name.into_owned(), value)
        })
        .collect()
}

/// True when the request JSON carries no authentication: `context.auth.method` absent or
/// `none`, and `context.tls.mtls` not true. Authenticating may change the answer to such a
/// request, so its deny answers 401.
pub fn is_unauthenticated(request: &Json) -> bool {
    let context = request.get("context");
    let method = context
        .and_then(|c| c.get("auth"))
        .and_then(|a| a.get("method"))
        .and_then(Json::as_str)
        .unwrap_or("none");
    let mtls = context
        .and_then(|c| c.get("tls"))
        .and_then(|t| t.get("mtls"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    method == "none" && !mtls
}

/// The header obligations of an allow decision, in declaration order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeaderObligations {
    /// `request_header`: set on the upstream request (replacing any value).
    pub set_upstream: Vec<(String, String)>,
    /// `remove_header`: removed from the upstream request.
    pub remove_upstream: Vec<String>,
    /// `response_header`: added to the response sent to the client.
    pub add_to_response: Vec<(String, String)>,
}

impl HeaderObligations {
    /// The header obligations of `decision`; none for a deny.
    pub fn of(decision: &Decision) -> HeaderObligations {
        let mut out = HeaderObligations::default();
        if !decision.is_allow() {
            return out;
        }
        for obligation in &decision.obligations {
            match obligation {
                ObligationOut::RequestHeader { name, value, .. } => {
                    out.set_upstream.push((name.clone(), value.clone()));
                }
                ObligationOut::RemoveHeader { name, .. } => out.remove_upstream.push(name.clone()),
                ObligationOut::ResponseHeader { name, value, .. } => {
                    out.add_to_response.push((name.clone(), value.clone()));
                }
                ObligationOut::Mask { .. } | ObligationOut::RateLimit { .. } => {}
            }
        }
        out
    }
}

/// True when `name` is an HTTP field name (a token: RFC 9110, 5.1).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// True when `value` can be sent as an HTTP field value: no control characters but tab
/// (a line break would end the header and start another).
pub fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Why an allow's header obligations cannot be sent, if they cannot: a name that is not an
/// HTTP token or a value with control characters. The engine already refuses both (a
/// bundle with such a name does not load; such a value makes the decision a deny); doors
/// check again before they send, as defence in depth.
pub fn unsendable_header(decision: &Decision) -> Option<String> {
    decision.obligations.iter().find_map(|obligation| {
        let (name, value, rule) = match obligation {
            ObligationOut::RequestHeader { name, value, rule }
            | ObligationOut::ResponseHeader { name, value, rule } => (name, Some(value), rule),
            ObligationOut::RemoveHeader { name, rule } => (name, None, rule),
            ObligationOut::Mask { .. } | ObligationOut::RateLimit { .. } => return None,
        };
        if !is_header_name(name) {
            Some(format!("obligation `{rule}`: invalid header name `{name}`"))
        } else if value.is_some_and(|v| !is_header_value(v)) {
            Some(format!(
                "obligation `{rule}`: the value of header `{name}` has control characters"
            ))
        } else {
            None
        }
    })
}

/// The fixed half of a door's decision ids (`{prefix:016x}{counter:016x}`): SplitMix64's
/// finaliser over a per-process seed (start time, process facts), so that two processes
/// started together still give different ids. The sidecar and the proxy-wasm filter share it.
pub fn decision_id_prefix(mut seed: u64) -> u64 {
    seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    seed = (seed ^ (seed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    seed = (seed ^ (seed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    seed ^ (seed >> 31)
}

/// The HTTP status of a deny: 401 when the request carried no authentication at all
/// (authenticating may change the answer), 403 otherwise.
pub fn deny_status(unauthenticated: bool) -> u16 {
    if unauthenticated {
        401
    } else {
        403
    }
}

/// The JSON body of a deny: the decision id, the deciding rules and their reasons, and
/// `retry_after_s` for a rate-limited request. Errors are not shown to the client (they
/// may describe the policy).
pub fn deny_body(id: &str, decision: &Decision, retry_after_s: Option<u64>) -> String {
    let mut body = json!({
        "decision": "deny",
        "id": id,
        "rules": decision.rules,
        "reasons": decision.reasons,
    });
    if let (Some(seconds), Some(fields)) = (retry_after_s, body.as_object_mut()) {
        fields.insert("retry_after_s".into(), json!(seconds));
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Effect;

    fn allow_with(obligations: Vec<ObligationOut>) -> Decision {
        let mut decision = Decision::error("x");
        decision.decision = Effect::Allow;
        decision.errors.clear();
        decision.obligations = obligations;
        decision
    }

    #[test]
    fn facts_become_raw_http_request_json() {
        let facts = HttpFacts {
            method: "PUT".into(),
            path: "/docs/a?frozen=1".into(),
            host: Some("api.local".into()),
            headers: vec![
                (":path".into(), "/docs/a?frozen=1".into()),
                ("X-Tag".into(), "a".into()),
                ("content-type".into(), "text/plain".into()),
                ("x-tag".into(), "b".into()),
            ],
            source_ip: "127.0.0.1".parse().ok(),
            source_port: Some(4242),
            tls_peer: Some("spiffe://corp/docs".into()),
            mtls: false,
            tls_version: Some("TLSv1.3".into()),
            package: Some("gateway".into()),
        };
        assert_eq!(
            facts.to_request_json(),
            json!({
                "http": {"method": "PUT", "path": "/docs/a?frozen=1", "host": "api.local",
                         "headers": {"content-type": "text/plain", "x-tag": ["a", "b"]}},
                "context": {"source": {"ip": "127.0.0.1", "port": 4242},
                            "tls": {"mtls": true, "peer": "spiffe://corp/docs",
                                    "version": "TLSv1.3"}},
                "package": "gateway"
            })
        );
        assert!(!is_unauthenticated(&facts.to_request_json()));
    }

    #[test]
    fn absent_facts_are_left_out() {
        let facts = HttpFacts {
            method: "GET".into(),
            path: "/".into(),
            ..HttpFacts::default()
        };
        let request = facts.to_request_json();
        assert_eq!(
            request,
            json!({"http": {"method": "GET", "path": "/", "headers": {}}})
        );
        assert!(is_unauthenticated(&request));
    }

    #[test]
    fn unauthenticated_means_no_auth_method_and_no_mtls() {
        assert!(is_unauthenticated(
            &json!({"context": {"auth": {"method": "none"}, "tls": {"mtls": false}}})
        ));
        assert!(!is_unauthenticated(
            &json!({"context": {"auth": {"method": "jwt"}}})
        ));
    }

    #[test]
    fn header_obligations_are_sorted_by_where_they_go() {
        let decision = allow_with(vec![
            ObligationOut::RequestHeader {
                name: "x-user".into(),
                value: "alice".into(),
                rule: "a".into(),
            },
            ObligationOut::RemoveHeader {
                name: "authorization".into(),
                rule: "b".into(),
            },
            ObligationOut::ResponseHeader {
                name: "cache-control".into(),
                value: "no-store".into(),
                rule: "c".into(),
            },
        ]);
        let headers = HeaderObligations::of(&decision);
        assert_eq!(
            headers.set_upstream,
            vec![("x-user".into(), "alice".into())]
        );
        assert_eq!(headers.remove_upstream, vec!["authorization".to_string()]);
        assert_eq!(
            headers.add_to_response,
            vec![("cache-control".into(), "no-store".into())]
        );
        let deny = Decision::error("no");
        assert_eq!(HeaderObligations::of(&deny), HeaderObligations::default());
    }

    #[test]
    fn deny_bodies_name_rules_and_reasons_but_not_errors() {
        let mut decision = Decision::error("secret detail");
        decision.rules.push("frozen".into());
        decision.reasons.push("the document is frozen".into());
        assert_eq!(
            deny_body("d1", &decision, None),
            r#"{"decision":"deny","id":"d1","rules":["frozen"],"reasons":["the document is frozen"]}"#
        );
        assert!(deny_body("d1", &decision, Some(7)).ends_with(r#""retry_after_s":7}"#));
        assert_eq!(deny_status(true), 401);
        assert_eq!(deny_status(false), 403);
    }

    #[test]
    fn header_values_with_line_breaks_cannot_be_sent() {
        let header = |name: &str, value: &str| ObligationOut::RequestHeader {
            name: name.into(),
            value: value.into(),
            rule: "user".into(),
        };
        assert_eq!(
            unsendable_header(&allow_with(vec![header("x-user", "alice\tok")])),
            None
        );
        assert_eq!(
            unsendable_header(&allow_with(vec![header("x-user", "a\r\nx-admin: 1")])).as_deref(),
            Some("obligation `user`: the value of header `x-user` has control characters")
        );
        assert_eq!(
            unsendable_header(&allow_with(vec![header("x user", "a")])).as_deref(),
            Some("obligation `user`: invalid header name `x user`")
        );
    }
}
