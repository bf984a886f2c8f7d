//! `rampart serve` over gRPC: Envoy's ext_authz v3 `Check` driven by Envoy's own client
//! types (envoy-types), and grpc.health.v1.

mod serve_support;

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{address, socket_address, Address, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::protobuf::value::Kind;
use serde_json::{json, Value};
use serve_support::{gateway_fixture, payments, Sidecar};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A CheckRequest as Envoy builds it (lower-cased headers with pseudo-headers included).
struct Check {
    method: &'static str,
    path: &'static str,
    principal: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    extensions: Vec<(&'static str, &'static str)>,
}

impl Check {
    fn new(method: &'static str, path: &'static str) -> Check {
        Check {
            method,
            path,
            principal: "",
            headers: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn peer(mut self, principal: &'static str) -> Check {
        self.principal = principal;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Check {
        self.headers.push((name, value));
        self
    }

    fn extension(mut self, key: &'static str, value: &'static str) -> Check {
        self.extensions.push((key, value));
        self
    }

    fn build(&self) -> CheckRequest {
        let mut headers: HashMap<String, String> = self
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        headers.insert(":method".into(), self.method.into());
        headers.insert(":path".into(), self.path.into());
        headers.insert(":authority".into(), "api.local".into());
        CheckRequest {
            attributes: Some(AttributeContext {
                source: Some(Peer {
                    address: Some(Address {
                        address: Some(address::Address::SocketAddress(SocketAddress {
                            address: "127.0.0.1".into(),
                            port_specifier: Some(socket_address::PortSpecifier::PortValue(52248)),
                            ..SocketAddress::default()
                        })),
                    }),
                    principal: self.principal.into(),
                    ..Peer::default()
                }),
                request: Some(Request {
                    time: None,
                    http: Some(HttpRequest {
                        id: "1".into(),
                        method: self.method.into(),
                        headers,
                        path: self.path.into(),
                        host: "api.local".into(),
                        scheme: "https".into(),
                        protocol: "HTTP/1.1".into(),
                        ..HttpRequest::default()
                    }),
                }),
                context_extensions: self
                    .extensions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..AttributeContext::default()
            }),
        }
    }
}

async fn check(sidecar: &Sidecar, request: Check) -> CheckResponse {
    let mut client = AuthorizationClient::connect(format!("http://{}", sidecar.grpc))
        .await
        .expect("connect to the gRPC listener");
    client
        .check(request.build())
        .await
        .expect("Check answers")
        .into_inner()
}

fn ok_response(response: &CheckResponse) -> &OkHttpResponse {
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(0),
        "{response:?}"
    );
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok,
        other => panic!("expected an ok_response, got {other:?}"),
    }
}

/// The denied response, its HTTP status and its JSON body.
fn denied(response: &CheckResponse) -> (&DeniedHttpResponse, i32, Value) {
    match &response.http_response {
        Some(HttpResponse::DeniedResponse(denied)) => {
            let status = denied.status.as_ref().map_or(0, |s| s.code);
            let body = serde_json::from_str(&denied.body).expect("a JSON body");
            (denied, status, body)
        }
        other => panic!("expected a denied_response, got {other:?}"),
    }
}

fn headers(
    options: &[envoy_types::pb::envoy::config::core::v3::HeaderValueOption],
) -> Vec<(String, String)> {
    options
        .iter()
        .filter_map(|o| o.header.as_ref())
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect()
}

fn metadata(response: &CheckResponse, key: &str) -> String {
    match response
        .dynamic_metadata
        .as_ref()
        .and_then(|m| m.fields.get(key))
        .and_then(|v| v.kind.as_ref())
    {
        Some(Kind::StringValue(s)) => s.clone(),
        other => panic!("no string `{key}` in dynamic_metadata: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_mtls_request_gets_the_header_obligations() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let response = check(
        &sidecar,
        Check::new("GET", "/docs/handbook")
            .peer("spiffe://corp/docs-editor")
            .header("authorization", "Bearer abc"),
    )
    .await;
    let ok = ok_response(&response);
    assert_eq!(
        headers(&ok.headers),
        vec![("x-rampart-team".into(), "docs".into())]
    );
    assert_eq!(ok.headers_to_remove, vec!["authorization".to_string()]);
    assert_eq!(
        headers(&ok.response_headers_to_add),
        vec![("cache-control".into(), "no-store".into())]
    );
    assert_eq!(metadata(&response, "decision"), "allow");
    let id = metadata(&response, "decision_id");
    assert_eq!(id.len(), 32, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_caller_without_access_gets_403_with_a_json_body() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let response = check(
        &sidecar,
        Check::new("GET", "/docs/handbook").peer("spiffe://corp/billing"),
    )
    .await;
    assert_eq!(response.status.as_ref().map(|s| s.code), Some(7)); // PERMISSION_DENIED
    let (denied, status, body) = denied(&response);
    assert_eq!(status, 403);
    assert_eq!(body["decision"], "deny");
    assert_eq!(body["rules"], json!([]));
    assert_eq!(body["id"], metadata(&response, "decision_id"));
    let names: Vec<String> = headers(&denied.headers)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(names.contains(&"content-type".to_string()), "{names:?}");
    assert!(
        !names.contains(&"www-authenticate".to_string()),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_authentication_gets_401() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let response = check(&sidecar, Check::new("GET", "/docs/handbook")).await;
    assert_eq!(response.status.as_ref().map(|s| s.code), Some(16)); // UNAUTHENTICATED
    let (denied, status, _) = denied(&response);
    assert_eq!(status, 401);
    assert!(headers(&denied.headers)
        .iter()
        .any(|(k, v)| k == "www-authenticate" && v.starts_with("Bearer")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_is_split_from_the_path_and_reasons_reach_the_body() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let request = || {
        Check::new("PUT", "/docs/handbook?frozen=1")
            .peer("spiffe://corp/docs-editor")
            .header("x-change-ticket", "CHG-1")
    };
    let (_, status, body) = denied(&check(&sidecar, request()).await);
    assert_eq!(status, 403);
    assert_eq!(body["rules"], json!(["frozen"]));
    assert_eq!(body["reasons"], json!(["the document is frozen"]));

    let mut allowed = request();
    allowed.path = "/docs/handbook?draft=1";
    ok_response(&check(&sidecar, allowed).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_extensions_select_the_package_per_route() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let status_page =
        |package: &'static str| Check::new("GET", "/status").extension("policy", package);
    ok_response(&check(&sidecar, status_page("status")).await);
    // The gateway package has no route for /status: denied.
    let (_, status, _) = denied(&check(&sidecar, status_page("gateway")).await);
    assert_eq!(status, 401);
    // An unknown package fails closed.
    let unknown = Check::new("GET", "/status").extension("package", "nope");
    denied(&check(&sidecar, unknown).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_a_tls_version_extension_satisfies_the_tls_rules() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let partner = || Check::new("GET", "/v1/accounts/a1").peer("spiffe://partners/ledger");
    let (_, status, body) = denied(&check(&sidecar, partner()).await);
    assert_eq!(status, 403);
    let rules: Vec<String> = serde_json::from_value(body["rules"].clone()).unwrap_or_default();
    assert!(
        rules.contains(&"std.zerotrust.tls-min".to_string()),
        "{rules:?}"
    );

    // With the listener's TLS version stated, the TLS rules pass; what denies now is the
    // partner's missing token (`short-tokens` fails closed without token times).
    let (_, status, body) =
        denied(&check(&sidecar, partner().extension("tls_version", "1.3")).await);
    assert_eq!(status, 403);
    assert_eq!(body["rules"], json!(["short-tokens"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_reports_serving() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", sidecar.grpc))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::new(channel);
    for service in ["", "envoy.service.auth.v3.Authorization"] {
        let response = client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health answers")
            .into_inner();
        assert_eq!(response.status, ServingStatus::Serving as i32, "{service}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_sidecar_while_a_grpc_connection_stays_open() {
    let mut sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let mut client = AuthorizationClient::connect(format!("http://{}", sidecar.grpc))
        .await
        .expect("connect to the gRPC listener");
    client
        .check(Check::new("GET", "/status").build())
        .await
        .expect("Check answers");
    // The client keeps its HTTP/2 connection open, as Envoy does.
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || sidecar.terminate())
        .await
        .expect("join");
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(client);
}

/// A CheckRequest for `GET /docs/handbook` from the docs editor carrying `count` extra
/// header fields with distinct names (Envoy's `headers` map).
fn flood(count: usize) -> CheckRequest {
    let mut request = Check::new("GET", "/docs/handbook")
        .peer("spiffe://corp/docs-editor")
        .build();
    if let Some(http) = request
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
    {
        for i in 0..count {
            http.headers.insert(format!("x-flood-{i}"), "v".into());
        }
    }
    request
}

/// The wall time of one Check.
async fn timed_check(
    client: &mut AuthorizationClient<tonic::transport::Channel>,
    request: CheckRequest,
) -> (std::time::Duration, CheckResponse) {
    let started = std::time::Instant::now();
    let response = client
        .check(request)
        .await
        .expect("Check answers")
        .into_inner();
    (started.elapsed(), response)
}

/// F3: header floods. Before, joining headers searched linearly per header: 50,000 headers
/// took 2.4 s and 150,000 took 193 s, and four such calls stalled every other check and
/// /healthz. Now a request with more than 256 header fields is denied with its reason, the
/// work grows linearly with what was sent (decoding the message), and other requests go on.
/// Times are compared with ones measured in this run, never with a fixed bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_flood_is_denied_in_linear_time_and_stalls_nothing() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let mut client = AuthorizationClient::connect(format!("http://{}", sidecar.grpc))
        .await
        .expect("connect to the gRPC listener")
        .max_decoding_message_size(8 << 20)
        .max_encoding_message_size(8 << 20);

    // At the limit: decided as usual.
    let (_, response) = timed_check(&mut client, flood(250)).await;
    ok_response(&response);
    // Past it: a deny naming the limit.
    let (_, response) = timed_check(&mut client, flood(257)).await;
    let (_, status, _) = denied(&response);
    assert_eq!(status, 403, "{response:?}");

    // Linear: four times the headers take about four times as long (a quadratic join took
    // sixteen times). The best of three runs of each size.
    let best = |count: usize| {
        let client = client.clone();
        async move {
            let mut client = client;
            let mut best = std::time::Duration::MAX;
            for _ in 0..3 {
                let (took, response) = timed_check(&mut client, flood(count)).await;
                assert!(response.status.as_ref().is_none_or(|s| s.code != 0));
                best = best.min(took);
            }
            best
        }
    };
    let small = best(20_000).await;
    let large = best(80_000).await;
    assert!(
        large < small * 10 + std::time::Duration::from_millis(50),
        "80,000 headers took {large:?}, 20,000 took {small:?}: not linear"
    );

    // Four floods at once (the old stall) while an ordinary check and /healthz are asked.
    let (baseline, _) = timed_check(
        &mut client,
        Check::new("GET", "/docs/handbook")
            .peer("spiffe://corp/docs-editor")
            .build(),
    )
    .await;
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { timed_check(&mut client, flood(150_000)).await.0 })
        })
        .collect();
    let (during, response) = timed_check(
        &mut client,
        Check::new("GET", "/docs/handbook")
            .peer("spiffe://corp/docs-editor")
            .build(),
    )
    .await;
    ok_response(&response);
    let health = tokio::task::spawn_blocking({
        let addr = sidecar.http;
        move || {
            let started = std::time::Instant::now();
            let reply = serve_support::http_request(addr, "GET", "/healthz", &[], b"");
            (reply.status, started.elapsed())
        }
    })
    .await
    .expect("the health probe runs");
    let mut slowest_flood = std::time::Duration::ZERO;
    for flood in floods {
        slowest_flood = slowest_flood.max(flood.await.expect("a flood's check answers"));
    }
    assert_eq!(health.0, 200);
    // Bounded by the floods' own time (decoding 4 x 150,000 headers on two cores), never
    // by a quadratic join: before, this waited 17 s.
    let bound = slowest_flood * 2 + baseline * 20 + std::time::Duration::from_millis(500);
    assert!(
        during < bound,
        "a check during the floods took {during:?} (bound {bound:?})"
    );
    assert!(
        health.1 < bound,
        "/healthz during the floods took {:?} (bound {bound:?})",
        health.1
    );
}
