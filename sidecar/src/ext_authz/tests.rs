//! Unit tests of the CheckRequest → request JSON → CheckResponse mapping.

use super::*;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{Peer, Request, TlsSession};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::google::protobuf::Timestamp;
use rampart_engine::{Decision, Effect};

fn peer(ip: &str, port: u32, principal: &str) -> Peer {
    Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.into(),
                port_specifier: Some(PortSpecifier::PortValue(port)),
                ..SocketAddress::default()
            })),
        }),
        principal: principal.into(),
        ..Peer::default()
    }
}

/// What Envoy 1.40 sent in the captured request of `gateways.md`, trimmed.
fn envoy_check() -> CheckRequest {
    let headers = [
        (":authority", "api.local:10443"),
        (":path", "/v1/orders/42?expand=true"),
        (":method", "POST"),
        (":scheme", "https"),
        ("authorization", "Bearer x"),
        ("content-type", "application/json"),
    ];
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(peer(
                "127.0.0.1",
                52248,
                "spiffe://test/ns/default/sa/client1",
            )),
            destination: Some(peer("127.0.0.1", 10443, "spiffe://test/gateway")),
            request: Some(Request {
                time: Some(Timestamp {
                    seconds: 1_795_804_325,
                    nanos: 856_064_000,
                }),
                http: Some(HttpRequest {
                    id: "13486549274609014367".into(),
                    method: "POST".into(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    path: "/v1/orders/42?expand=true".into(),
                    host: "api.local:10443".into(),
                    scheme: "https".into(),
                    protocol: "HTTP/1.1".into(),
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: [("policy".to_owned(), "items-api".to_owned())]
                .into_iter()
                .collect(),
            tls_session: Some(TlsSession {
                sni: "api.local".into(),
            }),
            ..AttributeContext::default()
        }),
    }
}

#[test]
fn an_envoy_check_request_maps_to_raw_http_request_json() {
    let mapped = request_json(&envoy_check());
    assert_eq!(
        mapped.request,
        json!({
            "http": {
                "method": "POST",
                "path": "/v1/orders/42?expand=true",
                "host": "api.local:10443",
                "headers": {"authorization": "Bearer x", "content-type": "application/json"}
            },
            "context": {
                "source": {"ip": "127.0.0.1", "port": 52248},
                "tls": {"mtls": true, "peer": "spiffe://test/ns/default/sa/client1"}
            },
            "package": "items-api"
        })
    );
    assert_eq!(mapped.time_ms, Some(1_795_804_325_856));
    assert!(!is_unauthenticated(&mapped.request));
}

#[test]
fn raw_header_maps_query_fields_and_tls_version_are_read() {
    let mut check = envoy_check();
    let attributes = check.attributes.get_or_insert_with(Default::default);
    attributes.source = Some(peer("not-an-ip", 1, ""));
    attributes.context_extensions = [
        ("package".to_owned(), "payments".to_owned()),
        ("tls_version".to_owned(), "1.3".to_owned()),
    ]
    .into_iter()
    .collect();
    let http = attributes
        .request
        .get_or_insert_with(Default::default)
        .http
        .get_or_insert_with(Default::default);
    http.headers.clear();
    http.header_map = Some(HeaderMap {
        headers: vec![
            HeaderValue {
                key: ":authority".into(),
                value: "ignored".into(),
                ..HeaderValue::default()
            },
            HeaderValue {
                key: "X-Tag".into(),
                raw_value: b"a".to_vec(),
                ..HeaderValue::default()
            },
            HeaderValue {
                key: "x-tag".into(),
                raw_value: b"b".to_vec(),
                ..HeaderValue::default()
            },
        ],
    });
    http.path = "/v1/orders".into();
    http.query = "page=2".into();
    http.host = String::new();
    let mapped = request_json(&check);
    let request = &mapped.request;
    assert_eq!(request["http"]["path"], "/v1/orders?page=2");
    assert_eq!(request["http"]["headers"], json!({"x-tag": ["a", "b"]}));
    assert_eq!(request["http"].get("host"), None);
    assert_eq!(request["context"].get("source"), None);
    assert_eq!(request["context"]["tls"], json!({"version": "1.3"}));
    assert_eq!(request["package"], "payments");
    assert!(is_unauthenticated(request));
}

#[test]
fn a_check_request_without_attributes_maps_to_an_empty_request() {
    let mapped = request_json(&CheckRequest::default());
    assert_eq!(mapped.request, json!({}));
    assert_eq!(mapped.time_ms, None);
}

fn decided(effect: Effect, obligations: Vec<ObligationOut>) -> Decided {
    let mut decision = Decision::error("x");
    decision.decision = effect;
    decision.errors.clear();
    decision.rules = vec!["r1".into()];
    decision.reasons = vec!["because".into()];
    decision.obligations = obligations;
    Decided {
        id: "abc".into(),
        decision,
        rate_limited: None,
    }
}

fn metadata_string(response: &CheckResponse, key: &str) -> Option<String> {
    match response
        .dynamic_metadata
        .as_ref()?
        .fields
        .get(key)?
        .kind
        .as_ref()?
    {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn an_allow_becomes_an_ok_response_with_header_obligations() {
    let response = check_response(
        &mut decided(
            Effect::Allow,
            vec![
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
            ],
        ),
        true,
    );
    assert_eq!(response.status.as_ref().map(|s| s.code), Some(GRPC_OK));
    let Some(HttpResponse::OkResponse(ok)) = &response.http_response else {
        panic!("expected an ok_response: {response:?}");
    };
    let pairs = |headers: &[HeaderValueOption]| -> Vec<(String, String, i32)> {
        headers
            .iter()
            .filter_map(|h| {
                let header = h.header.as_ref()?;
                Some((header.key.clone(), header.value.clone(), h.append_action))
            })
            .collect()
    };
    assert_eq!(
        pairs(&ok.headers),
        vec![(
            "x-user".into(),
            "alice".into(),
            HeaderAppendAction::OverwriteIfExistsOrAdd as i32
        )]
    );
    assert_eq!(ok.headers_to_remove, vec!["authorization".to_string()]);
    assert_eq!(
        pairs(&ok.response_headers_to_add),
        vec![(
            "cache-control".into(),
            "no-store".into(),
            HeaderAppendAction::AppendIfExistsOrAdd as i32
        )]
    );
    assert_eq!(
        metadata_string(&response, "decision_id").as_deref(),
        Some("abc")
    );
    assert_eq!(
        metadata_string(&response, "decision").as_deref(),
        Some("allow")
    );
}

#[test]
fn a_deny_becomes_a_denied_response_401_or_403() {
    for (unauthenticated, http, grpc) in [
        (false, 403, GRPC_PERMISSION_DENIED),
        (true, 401, GRPC_UNAUTHENTICATED),
    ] {
        let response = check_response(&mut decided(Effect::Deny, Vec::new()), unauthenticated);
        assert_eq!(response.status.as_ref().map(|s| s.code), Some(grpc));
        let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
            panic!("expected a denied_response: {response:?}");
        };
        assert_eq!(denied.status.as_ref().map(|s| s.code), Some(http));
        let body: Json = serde_json::from_str(&denied.body).unwrap_or_default();
        assert_eq!(
            body,
            json!({"decision": "deny", "id": "abc", "rules": ["r1"], "reasons": ["because"]})
        );
        let names: Vec<&str> = denied
            .headers
            .iter()
            .filter_map(|h| h.header.as_ref().map(|h| h.key.as_str()))
            .collect();
        assert!(names.contains(&"x-rampart-decision-id"));
        assert_eq!(names.contains(&"www-authenticate"), unauthenticated);
        assert_eq!(
            metadata_string(&response, "decision").as_deref(),
            Some("deny")
        );
    }
}

#[test]
fn a_rate_limited_request_becomes_a_429_with_retry_after() {
    let mut limited = decided(Effect::Deny, Vec::new());
    limited.rate_limited = Some(crate::ratelimit::RateLimited {
        rule: "r1".into(),
        limit: 5,
        per_s: 60,
        retry_after_s: 12,
        store_unavailable: false,
    });
    // Rate limits apply to requests the policy allowed, authenticated or not: no challenge.
    let response = check_response(&mut limited, true);
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(GRPC_RESOURCE_EXHAUSTED)
    );
    let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
        panic!("expected a denied_response: {response:?}");
    };
    assert_eq!(denied.status.as_ref().map(|s| s.code), Some(429));
    let headers: Vec<(&str, &str)> = denied
        .headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .map(|h| (h.key.as_str(), h.value.as_str()))
        .collect();
    assert!(headers.contains(&("retry-after", "12")), "{headers:?}");
    assert!(!headers.iter().any(|(k, _)| *k == "www-authenticate"));
    let body: Json = serde_json::from_str(&denied.body).unwrap_or_default();
    assert_eq!(body["rules"], json!(["r1"]));
    assert_eq!(body["retry_after_s"], 12);
}

/// The JSON the typed facts of `check` stand for (the engine reads both alike, see
/// `engine/tests/gateway_facts.rs`), through the same `HttpFacts` mapping.
fn facts_as_json(check: &CheckRequest) -> Json {
    let attributes = check
        .attributes
        .as_ref()
        .unwrap_or_else(|| panic!("attributes"));
    let http = attributes
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .unwrap_or_else(|| panic!("http attributes"));
    let target = request_target(http);
    let facts = request_facts(attributes, http, &target);
    let headers = if http.headers.is_empty() {
        raw_headers(http)
    } else {
        http.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let owned = |text: Option<&str>| text.map(str::to_owned);
    HttpFacts {
        method: facts.method.to_owned(),
        path: facts.path.to_owned(),
        host: owned(facts.host),
        headers,
        source_ip: facts.source_ip.and_then(|ip| ip.parse().ok()),
        source_port: facts.source_port,
        tls_peer: owned(facts.tls.peer),
        mtls: facts.tls.mtls,
        tls_version: owned(facts.tls.version),
        package: owned(facts.package),
    }
    .to_request_json()
}

#[test]
fn the_typed_facts_of_a_check_request_are_its_request_json() {
    let mut checks = vec![envoy_check()];
    // Raw header map, query split off, a source that is not an IP address, no principal.
    let mut raw = envoy_check();
    let attributes = raw.attributes.get_or_insert_with(Default::default);
    attributes.source = Some(peer("not-an-ip", 1, ""));
    attributes.context_extensions = [
        ("package".to_owned(), "payments".to_owned()),
        ("tls_version".to_owned(), "1.3".to_owned()),
    ]
    .into_iter()
    .collect();
    let http = attributes
        .request
        .get_or_insert_with(Default::default)
        .http
        .get_or_insert_with(Default::default);
    http.headers.clear();
    http.header_map = Some(HeaderMap {
        headers: vec![
            HeaderValue {
                key: "X-Tag".into(),
                raw_value: b"a\xff".to_vec(),
                ..HeaderValue::default()
            },
            HeaderValue {
                key: "x-tag".into(),
                value: "b".into(),
                ..HeaderValue::default()
            },
        ],
    });
    http.path = "/v1/orders".into();
    http.query = "page=2".into();
    http.host = String::new();
    checks.push(raw);
    // IPv6 source, no host but an `:authority`, `policy` beats `package`.
    let mut v6 = envoy_check();
    let attributes = v6.attributes.get_or_insert_with(Default::default);
    attributes.source = Some(peer("0:0::1", 7, "spiffe://x"));
    attributes
        .context_extensions
        .insert("package".into(), "other".into());
    if let Some(http) = attributes.request.as_mut().and_then(|r| r.http.as_mut()) {
        http.host = String::new();
    }
    checks.push(v6);
    for check in &checks {
        assert_eq!(facts_as_json(check), request_json(check).request);
    }
}

#[test]
fn the_typed_and_json_ways_answer_alike() {
    let policy = crate::state::Policy {
        engine: rampart_engine::Engine::new(rampart_engine::Bundle {
            format: rampart_engine::bundle::BUNDLE_FORMAT.into(),
            version: rampart_engine::bundle::BUNDLE_VERSION,
            revision: "r".into(),
            symbols: vec![],
            schema: rampart_engine::bundle::Schema {
                entity_types: vec![rampart_engine::bundle::EntityType {
                    name: rampart_engine::bundle::ANONYMOUS_TYPE.into(),
                    attrs: Default::default(),
                    parents: vec![],
                }],
                enums: vec![],
                actions: vec![],
                context: Default::default(),
            },
            packages: vec![],
            rules: vec![],
            obligations: vec![],
            routes: vec![],
            principals: vec![],
        })
        .unwrap_or_else(|e| panic!("{e}")),
        entities: rampart_engine::EntityStore::default(),
    };
    let state = State::new(policy, None);
    let mut no_principal = envoy_check();
    if let Some(source) = no_principal
        .attributes
        .as_mut()
        .and_then(|a| a.source.as_mut())
    {
        source.principal.clear();
    }
    for check in [envoy_check(), no_principal, CheckRequest::default()] {
        let ready = |response: Option<CheckResponse>| {
            response.unwrap_or_else(|| panic!("a door without a rate-limit store waited"))
        };
        let typed = ready(crate::fuzzing::now_or_never(decide_check(&state, &check)));
        let by_json = ready(crate::fuzzing::now_or_never(decide_json(&state, &check)));
        let status = |r: &CheckResponse| {
            let http = match &r.http_response {
                Some(HttpResponse::DeniedResponse(d)) => d.status.as_ref().map(|s| s.code),
                _ => None,
            };
            (r.status.as_ref().map(|s| s.code), http)
        };
        assert_eq!(status(&typed), status(&by_json));
        assert_eq!(
            metadata_string(&typed, "decision"),
            metadata_string(&by_json, "decision")
        );
    }
}
