//! The decision flow on the gateway fixture: the same requests and answers as the
//! sidecar's Envoy tests (`cli/tests/e2e_envoy.rs`).

use super::*;
use crate::config::{load, Sources};
use crate::embedded::Embedded;
use crate::fake::{gateway_policy, request, FakeRequest};
use serde_json::json;

const DOCS_EDITOR: &[u8] = b"spiffe://corp/docs-editor";
const BILLING: &[u8] = b"spiffe://corp/billing";
const NOW_MS: i64 = 1_795_804_325_856;

fn filter(plugin: &str) -> Filter {
    let (bundle, entities) = gateway_policy();
    let sources = Sources {
        plugin: Some(plugin.as_bytes()),
        vm: None,
        embedded: Ok(Embedded {
            bundle: Some(bundle),
            entities: Some(entities),
        }),
    };
    Filter::new(load(&sources), DecisionIds::new(7))
}

fn get(path: &str, headers: &[(&str, &[u8])], properties: &[(&str, &[u8])]) -> FakeRequest {
    let mut all: Vec<(&str, &[u8])> = vec![
        (":method", b"GET"),
        (":path", path.as_bytes()),
        (":authority", b"api.local"),
    ];
    all.extend_from_slice(headers);
    request(&all, properties)
}

fn denied(decided: &Decided) -> &DenyResponse {
    match &decided.verdict {
        Verdict::Deny(response) => response,
        Verdict::Continue(_) => panic!("allowed: {decided:?}"),
    }
}

fn header<'a>(response: &'a DenyResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_allow_carries_the_header_obligations() {
    let filter = filter("{}");
    let decided = filter.decide(
        &get(
            "/docs/handbook?v=2",
            &[
                ("x-service", DOCS_EDITOR),
                ("authorization", b"Bearer secret"),
            ],
            &[],
        ),
        NOW_MS,
    );
    assert_eq!(decided.decision.rules, ["team-read"]);
    assert_eq!(
        decided.verdict,
        Verdict::Continue(HeaderObligations {
            set_upstream: vec![("x-rampart-team".into(), "docs".into())],
            remove_upstream: vec!["authorization".into()],
            add_to_response: vec![("cache-control".into(), "no-store".into())],
        })
    );
}

/// F16: the filter decides on the canonical path, and tells the host to forward that
/// path, so that the upstream serves exactly what was decided.
#[test]
fn an_allow_of_a_non_canonical_path_forwards_the_canonical_one() {
    let filter = filter("{}");
    let service = [("x-service", DOCS_EDITOR)];
    let decided = filter.decide(&get("/docs/handbook?v=2", &service, &[]), NOW_MS);
    assert!(decided.decision.is_allow(), "{decided:?}");
    assert_eq!(decided.canonical_target, None);
    for raw in [
        "//docs/handbook?v=2",
        "/docs/./handbook?v=2",
        "/x/../%64ocs/handbook?v=2",
    ] {
        let decided = filter.decide(&get(raw, &service, &[]), NOW_MS);
        assert!(decided.decision.is_allow(), "{raw}: {decided:?}");
        assert_eq!(
            decided.canonical_target.as_deref(),
            Some("/docs/handbook?v=2"),
            "{raw}"
        );
    }
    // Ambiguous targets are denied, never forwarded.
    for raw in ["/docs/handbook;x", "/docs%2Fhandbook", "/../docs/handbook"] {
        let decided = filter.decide(&get(raw, &service, &[]), NOW_MS);
        assert!(!decided.decision.is_allow(), "{raw}: {decided:?}");
        assert_eq!(decided.canonical_target, None);
    }
}

#[test]
fn a_deny_without_authentication_is_a_401_with_the_json_body() {
    let filter = filter("{}");
    let decided = filter.decide(&get("/docs/handbook", &[], &[]), NOW_MS);
    let response = denied(&decided);
    assert_eq!(response.status, 401);
    assert_eq!(
        header(response, "www-authenticate"),
        Some("Bearer realm=\"rampart\"")
    );
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(
        header(response, "x-rampart-decision-id"),
        Some(decided.id.as_str())
    );
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        body,
        json!({"decision": "deny", "id": decided.id, "rules": [], "reasons": []})
    );
}

#[test]
fn an_authenticated_deny_is_a_403_naming_rules_and_reasons() {
    let filter = filter("{}");
    let mtls: &[(&str, &[u8])] = &[
        ("connection.mtls", &[1]),
        ("connection.uri_san_peer_certificate", DOCS_EDITOR),
        ("connection.tls_version", b"TLSv1.3"),
    ];
    let mut put = get(
        "/docs/handbook?frozen=1",
        &[("x-change-ticket", b"CHG-8")],
        mtls,
    );
    put.headers[0].1 = b"PUT".to_vec();
    let decided = filter.decide(&put, NOW_MS);
    let response = denied(&decided);
    assert_eq!(response.status, 403);
    assert_eq!(header(response, "www-authenticate"), None);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["rules"], json!(["frozen"]));
    assert_eq!(body["reasons"], json!(["the document is frozen"]));

    // The billing service over mTLS may not read the docs team's handbook.
    let billing: &[(&str, &[u8])] = &[
        ("connection.mtls", &[1]),
        ("connection.uri_san_peer_certificate", BILLING),
    ];
    let decided = filter.decide(&get("/docs/handbook", &[], billing), NOW_MS);
    assert_eq!(denied(&decided).status, 403);
}

#[test]
fn routes_select_their_package_by_name() {
    let filter = filter(r#"{"route_packages": {"status-route": "status"}}"#);
    let route: &[(&str, &[u8])] = &[("xds.route_name", b"status-route")];
    let decided = filter.decide(&get("/status", &[], route), NOW_MS);
    assert_eq!(decided.decision.rules, ["status-public"]);
    assert!(matches!(decided.verdict, Verdict::Continue(_)));

    // A package that does not route this request denies it, naming the error.
    let decided = filter.decide(
        &get("/docs/handbook", &[("x-service", DOCS_EDITOR)], route),
        NOW_MS,
    );
    assert_eq!(denied(&decided).status, 401);
    assert!(!decided.decision.errors.is_empty(), "{decided:?}");
}

#[test]
fn a_configuration_that_failed_denies_every_request() {
    let sources = Sources {
        plugin: Some(br#"{"bundle": {"format": "nope"}}"#),
        vm: None,
        embedded: Ok(Embedded::default()),
    };
    let filter = Filter::new(load(&sources), DecisionIds::new(1));
    assert!(filter.config_error().is_some());
    let decided = filter.decide(&get("/status", &[], &[]), NOW_MS);
    // 403 whatever the request: authenticating would not help (as Envoy answers when
    // the sidecar is down).
    let response = denied(&decided);
    assert_eq!(response.status, 403);
    assert_eq!(
        decided.decision.errors[0].message,
        "the filter has no policy: its configuration failed"
    );
    assert!(
        !response.body.contains("configuration"),
        "errors are not shown"
    );
}

#[test]
fn requests_the_engine_cannot_read_are_denied() {
    let filter = filter("{}");
    let decided = filter.decide(&request(&[], &[]), NOW_MS);
    assert_eq!(denied(&decided).status, 401);
    assert!(!decided.decision.errors.is_empty());
}

#[test]
fn an_allow_whose_header_cannot_be_sent_is_a_deny() {
    let filter = filter("{}");
    let Ok(policy) = &filter.policy else {
        panic!("the fixture loads")
    };
    let request = json!({"http": {"method": "GET", "path": "/docs/handbook",
                                  "headers": {"x-service": "spiffe://corp/docs-editor"}}});
    assert!(decide_request(policy, &request, NOW_MS).is_allow());
    // The team attribute flows into the `x-rampart-team` header: a line break in it is
    // refused.
    let entities = r#"[{"uid": {"type": "Service", "id": "evil"}, "attrs": {"team": "docs\r\nx-admin: 1"}, "parents": []},
                       {"uid": {"type": "Doc", "id": "handbook"}, "attrs": {"team": "docs\r\nx-admin: 1"}, "parents": []}]"#;
    let (bundle, _) = gateway_policy();
    let plugin = format!(r#"{{"bundle": {bundle}, "entities": {entities}}}"#);
    let sources = Sources {
        plugin: Some(plugin.as_bytes()),
        vm: None,
        embedded: Ok(Embedded::default()),
    };
    let policy = load(&sources).unwrap();
    let request = json!({"http": {"method": "GET", "path": "/docs/handbook",
                                  "headers": {"x-service": "evil"}}});
    let decision = decide_request(&policy, &request, NOW_MS);
    assert!(!decision.is_allow());
    assert_eq!(
        decision.errors[0].message,
        "the value of header `x-rampart-team` has control characters"
    );
}

#[test]
fn rate_limits_deny_unless_left_to_another_filter() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/fixtures/ratelimit");
    let set = rampart_lang::PolicySet::load(&dir).unwrap();
    let bundle = rampart_lang::compile(&set).bundle.unwrap().to_json();
    let limited = |plugin: &str| {
        let sources = Sources {
            plugin: Some(plugin.as_bytes()),
            vm: None,
            embedded: Ok(Embedded {
                bundle: Some(bundle.clone()),
                entities: None,
            }),
        };
        Filter::new(load(&sources), DecisionIds::new(3))
            .decide(&get("/limited/a", &[], &[]), NOW_MS)
    };
    let decided = limited("{}");
    assert_eq!(denied(&decided).status, 401);
    assert_eq!(
        decided.decision.errors[0].message,
        "obligation `page-rate`: the proxy-wasm filter does not enforce rate limits \
         (set `rate_limits` to `not_enforced` when another filter does)"
    );
    let decided = limited(r#"{"rate_limits": "not_enforced"}"#);
    assert!(
        matches!(decided.verdict, Verdict::Continue(_)),
        "{decided:?}"
    );
    assert!(load(&Sources {
        plugin: Some(br#"{"rate_limits": "maybe"}"#),
        vm: None,
        embedded: Ok(Embedded::default()),
    })
    .is_err());
}
