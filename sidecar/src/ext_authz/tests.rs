//! Unit tests of the CheckRequest → request JSON → CheckResponse mapping.

use super::*;
use envoy_types::ext_authz::v3::pb::{HeaderValue, HeaderValueOption, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{Peer, Request, TlsSession};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::google::protobuf::Timestamp;
use envoy_types::pb::google::protobuf::{value::Kind, Struct};
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
fn long_values_masks_and_emptied_obligations_round_trip() {
    // Values longer than 127 bytes take two-byte lengths, in every nested message.
    let long = "v".repeat(300);
    let mut allowed = decided(
        Effect::Allow,
        vec![
            ObligationOut::RequestHeader {
                name: "x-long".into(),
                value: long.clone(),
                rule: "a".into(),
            },
            ObligationOut::Mask {
                fields: vec!["resource.ssn".into(), "principal.email".into()],
                rule: "m".into(),
            },
        ],
    );
    allowed.decision.rules = (0..40).map(|i| format!("rule-{i}")).collect();
    let response = check_response(&mut allowed, false);
    let Some(HttpResponse::OkResponse(ok)) = &response.http_response else {
        panic!("expected an ok_response: {response:?}");
    };
    let header = ok.headers.first().and_then(|h| h.header.as_ref());
    assert_eq!(header.map(|h| h.value.as_str()), Some(long.as_str()));
    let list = |key: &str| -> Vec<String> {
        let fields = response.dynamic_metadata.as_ref().map(|m| &m.fields);
        match fields
            .and_then(|f| f.get(key))
            .and_then(|v| v.kind.as_ref())
        {
            Some(Kind::ListValue(list)) => list
                .values
                .iter()
                .filter_map(|v| match &v.kind {
                    Some(Kind::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            other => panic!("no list `{key}`: {other:?}"),
        }
    };
    assert_eq!(list("mask"), vec!["resource.ssn", "principal.email"]);
    assert_eq!(list("rules"), allowed.decision.rules);
    // The log keeps the obligation, without its value.
    assert!(matches!(
        &allowed.decision.obligations[0],
        ObligationOut::RequestHeader { name, value, .. } if name == "x-long" && value.is_empty()
    ));
    // The bytes are what prost writes for the same message (the map has one entry order).
    let mut denied = decided(Effect::Deny, Vec::new());
    let bytes = check_response_bytes(&mut denied, true);
    let typed = decode_response(&bytes);
    assert_eq!(
        decode_response(&prost::Message::encode_to_vec(&typed)),
        typed
    );
    assert_eq!(
        metadata_string(&typed, "decision_id").as_deref(),
        Some("abc")
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
    let view = CheckView::of(check);
    let http = view
        .http
        .as_ref()
        .unwrap_or_else(|| panic!("http attributes"));
    let target = request_target(http);
    let facts = request_facts(&view, http, &target);
    let http = check
        .attributes
        .as_ref()
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())
        .unwrap_or_else(|| panic!("http attributes"));
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
    let policy = empty_policy();
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
        let by_json = ready(
            crate::fuzzing::now_or_never(decide_json(&state, &check)).map(|b| decode_response(&b)),
        );
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

/// `envoy_check` with what else Envoy may send: raw header values, a destination, labels,
/// metadata, a named port, a query apart from the path.
fn full_check() -> CheckRequest {
    let mut check = envoy_check();
    if let Some(attributes) = check.attributes.as_mut() {
        if let Some(http) = attributes.request.as_mut().and_then(|r| r.http.as_mut()) {
            http.query = "a=1".into();
            http.path = "/v1/orders/42".into();
            http.size = 12;
            http.body = "{}".into();
            http.raw_body = vec![0xff, 0x00];
            http.header_map = Some(HeaderMap {
                headers: vec![
                    envoy_types::pb::envoy::config::core::v3::HeaderValue {
                        key: "x-raw".into(),
                        raw_value: b"caf\xc3\xa9 \xff".to_vec(),
                        ..Default::default()
                    },
                    envoy_types::pb::envoy::config::core::v3::HeaderValue {
                        key: "x-plain".into(),
                        value: "v".into(),
                        ..Default::default()
                    },
                ],
            });
        }
        if let Some(destination) = attributes.destination.as_mut() {
            destination.labels = [("app".to_owned(), "gw".to_owned())].into_iter().collect();
            destination.certificate = "PEM".into();
            if let Some(address::Address::SocketAddress(socket)) = destination
                .address
                .as_mut()
                .and_then(|a| a.address.as_mut())
            {
                socket.port_specifier = Some(PortSpecifier::NamedPort("https".into()));
                socket.resolver_name = "r".into();
                socket.ipv4_compat = true;
            }
        }
        attributes.metadata_context = Some(envoy_types::pb::envoy::config::core::v3::Metadata {
            filter_metadata: [("f".to_owned(), Struct::default())].into_iter().collect(),
            ..Default::default()
        });
        attributes
            .context_extensions
            .insert("tls_version".into(), "1.3".into());
    }
    check
}

/// The lean reading and prost agree on `bytes`: both refuse them, or both read the same
/// facts.
fn assert_readings_agree(bytes: &[u8]) {
    use prost::Message as _;
    let typed = CheckRequest::decode(bytes);
    let lean = CheckView::parse(bytes);
    match (&typed, &lean) {
        (Ok(check), Ok(view)) => assert_eq!(&CheckView::of(check), view, "{bytes:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("prost: {typed:?}\nlean: {lean:?}\nbytes: {bytes:?}"),
    }
}

#[test]
fn the_lean_reading_gives_the_facts_prost_gives() {
    use prost::Message as _;
    let check = full_check();
    let bytes = check.encode_to_vec();
    let view = CheckView::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let http = view.http.as_ref().unwrap_or_else(|| panic!("http"));
    assert_eq!(
        (http.method, http.path, http.query),
        ("POST", "/v1/orders/42", "a=1")
    );
    assert_eq!(view.source_address, Some(("127.0.0.1", Some(52248))));
    assert_eq!(view.source_principal, "spiffe://test/ns/default/sa/client1");
    assert_eq!(view.extension("policy"), Some("items-api"));
    assert_eq!(http.authority(), Some("api.local:10443"));
    assert_eq!(
        http.header_map[0],
        ("x-raw", Cow::Owned("café \u{fffd}".into()))
    );
    for check in [
        check.clone(),
        envoy_check(),
        CheckRequest::default(),
        CheckRequest {
            attributes: Some(AttributeContext::default()),
        },
    ] {
        assert_readings_agree(&check.encode_to_vec());
    }
    // Two messages one after the other merge: the last path, both headers, the last value
    // of a repeated header and extension, a pipe replacing the socket address.
    let mut second = envoy_check();
    if let Some(attributes) = second.attributes.as_mut() {
        if let Some(http) = attributes.request.as_mut().and_then(|r| r.http.as_mut()) {
            http.path = "/second".into();
            http.headers = [("x-second", "2"), ("authorization", "Bearer y")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        }
        attributes.context_extensions = [("policy".to_owned(), "other".to_owned())]
            .into_iter()
            .collect();
        if let Some(source) = attributes.source.as_mut() {
            source.address = Some(Address {
                address: Some(address::Address::Pipe(
                    envoy_types::pb::envoy::config::core::v3::Pipe {
                        path: "/run/s".into(),
                        mode: 0,
                    },
                )),
            });
        }
    }
    let mut merged = bytes.clone();
    merged.extend(second.encode_to_vec());
    assert_readings_agree(&merged);
    let view = CheckView::parse(&merged).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.extension("policy"), Some("other"));
    assert_eq!(view.source_address, None);
    let http = view.http.as_ref().unwrap_or_else(|| panic!("http"));
    assert_eq!(http.path, "/second");
    assert_eq!(lookup_header(http, "authorization"), Some("Bearer y"));
    assert_eq!(
        lookup_header(http, "content-type"),
        Some("application/json")
    );
}

fn lookup_header<'a>(http: &HttpView<'a>, name: &str) -> Option<&'a str> {
    http.headers
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped_as_prost_skips_them() {
    use prost::encoding::{encode_key, encode_varint, WireType};
    use prost::Message as _;
    let attributes = full_check().attributes.unwrap_or_default();
    let mut inner = attributes.encode_to_vec();
    encode_key(99, WireType::Varint, &mut inner);
    encode_varint(300, &mut inner);
    encode_key(98, WireType::ThirtyTwoBit, &mut inner);
    inner.extend([1, 2, 3, 4]);
    encode_key(97, WireType::SixtyFourBit, &mut inner);
    inner.extend([1, 2, 3, 4, 5, 6, 7, 8]);
    encode_key(96, WireType::StartGroup, &mut inner);
    encode_key(1, WireType::Varint, &mut inner);
    encode_varint(7, &mut inner);
    encode_key(96, WireType::EndGroup, &mut inner);
    encode_key(95, WireType::LengthDelimited, &mut inner);
    encode_varint(2, &mut inner);
    inner.extend([0xff, 0xfe]);
    let mut message = Vec::new();
    encode_key(1, WireType::LengthDelimited, &mut message);
    encode_varint(inner.len() as u64, &mut message);
    message.extend(&inner);
    assert!(CheckView::parse(&message).is_ok());
    assert_readings_agree(&message);
    // A group closed by another field's end, a stray end, a wrong wire type, a field 0.
    for tail in [
        vec![(96 << 3) | 3, (95 << 3) | 4],
        vec![(96 << 3) | 4],
        vec![4 << 3, 1],
        vec![0, 1],
        vec![0xff; 11],
    ] {
        let mut bad = inner.clone();
        bad.extend(&tail);
        let mut message = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut message);
        encode_varint(bad.len() as u64, &mut message);
        message.extend(&bad);
        assert!(CheckView::parse(&message).is_err(), "{tail:?}");
        assert_readings_agree(&message);
    }
}

#[test]
fn the_lean_reading_refuses_what_prost_refuses_cut_or_changed_anywhere() {
    use prost::Message as _;
    let bytes = full_check().encode_to_vec();
    for len in 0..bytes.len() {
        assert_readings_agree(&bytes[..len]);
    }
    for index in 0..bytes.len() {
        for value in [
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x0a, 0x7f, 0x80, 0xc3, 0xff,
        ] {
            let mut changed = bytes.clone();
            changed[index] = value;
            assert_readings_agree(&changed);
        }
    }
}

#[test]
fn a_message_that_is_not_a_check_request_is_an_error_not_a_decision() {
    let state = State::new(empty_policy(), None);
    let answer = crate::fuzzing::now_or_never(decide_message(&state, &[0x0a, 0x05, 0x01]))
        .unwrap_or_else(|| panic!("waited"));
    let status = answer
        .err()
        .unwrap_or_else(|| panic!("decided a malformed message"));
    assert_eq!(status.code(), tonic::Code::Internal);
    // No HTTP attributes: decoded by prost, decided the JSON way (a deny).
    let answer = crate::fuzzing::now_or_never(decide_message(&state, &[]))
        .unwrap_or_else(|| panic!("waited"))
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = decode_response(&answer);
    assert_eq!(answer.status.map(|s| s.code), Some(GRPC_UNAUTHENTICATED));
}

/// A policy without rules: every request denied.
fn empty_policy() -> crate::state::Policy {
    crate::state::Policy {
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
                    tags: None,
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
    }
}
