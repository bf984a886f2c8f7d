//! `rampart serve` over HTTP: the decision API, forward-auth, the OPA data API, health,
//! metrics, limits, bundle files, the decision log, and shutdown on SIGTERM.

mod serve_support;

use std::process::Command;

use serde_json::{json, Value};
use serve_support::{gateway_fixture, payments, Scratch, Sidecar};

fn request_file(name: &str) -> Vec<u8> {
    std::fs::read(payments().join("requests").join(name)).expect("read a payments request")
}

fn post_json(sidecar: &Sidecar, target: &str, body: &[u8]) -> serve_support::Reply {
    sidecar.http(
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body,
    )
}

#[test]
fn decide_answers_the_decision_json_with_its_id() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let reply = post_json(&sidecar, "/v1/decide", &request_file("pay-http.json"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let decision = reply.json();
    assert_eq!(decision["decision"], "allow");
    assert_eq!(decision["rules"], json!(["pay-write"]));
    let kinds: Vec<&str> = decision["obligations"]
        .as_array()
        .map(|o| o.iter().filter_map(|o| o["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        kinds.contains(&"rate_limit") && kinds.contains(&"mask"),
        "{kinds:?}"
    );
    let id = reply.header("x-rampart-decision-id").unwrap_or_default();
    assert_eq!(id.len(), 32, "{id}");

    let reply = post_json(&sidecar, "/v1/decide", &request_file("no-route.json"));
    assert_eq!(reply.status, 200);
    let decision = reply.json();
    assert_eq!(decision["decision"], "deny");
    assert_eq!(
        decision["errors"][0]["message"],
        "no route matches GET /v1/admin/accounts"
    );

    // Valid JSON that is not a request is decided: denied, with the error listed.
    let decision = post_json(&sidecar, "/v1/decide", br#"{"nonsense": 1}"#).json();
    assert_eq!(decision["decision"], "deny");
    assert!(decision["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("unknown field `nonsense`")));
}

#[test]
fn malformed_json_is_a_400_and_oversized_bodies_a_413() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let reply = post_json(&sidecar, "/v1/decide", br#"{"http": {"method": "GET""#);
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]
        .as_str()
        .is_some_and(|m| m.starts_with("invalid JSON")));

    let mut big = b"{\"context\": {}, \"pad\": \"".to_vec();
    big.resize(1024 * 1024 + 1, b'x');
    let reply = post_json(&sidecar, "/v1/decide", &big);
    assert_eq!(reply.status, 413);
    let reply = post_json(&sidecar, "/v1/data/payments", &big);
    assert_eq!(reply.status, 413);

    let reply = sidecar.http("GET", "/v1/decide", &[], b"");
    assert_eq!(reply.status, 405);
    let reply = sidecar.http("GET", "/nowhere", &[], b"");
    assert_eq!(reply.status, 404);

    let metrics = sidecar.http("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("rampart_errors_total{door=\"decide\",kind=\"bad_request\"} 2"),
        "{metrics}"
    );
}

#[test]
fn forward_auth_allows_with_obligation_headers() {
    let sidecar = Sidecar::start(&gateway_fixture(), &["--forward-auth", "traefik"]);
    // Traefik / APISIX: X-Forwarded-*.
    let reply = sidecar.http(
        "GET",
        "/v1/authz",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/docs/handbook"),
            ("X-Forwarded-Host", "api.local"),
            ("X-Service", "spiffe://corp/docs-editor"),
            ("Authorization", "Bearer abc"),
        ],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-rampart-team"), Some("docs"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("x-envoy-auth-headers-to-remove"),
        Some("authorization")
    );
    assert!(reply.header("x-rampart-decision-id").is_some());

    // Envoy HTTP mode: the original path follows the prefix, the method is the client's.
    let envoy = Sidecar::start(&gateway_fixture(), &["--forward-auth", "envoy"]);
    let reply = envoy.http(
        "PUT",
        "/v1/authz/docs/handbook?draft=1",
        &[
            ("X-Service", "spiffe://corp/docs-editor"),
            ("X-Change-Ticket", "CHG-7"),
        ],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn forward_auth_denies_with_401_or_403_only() {
    let sidecar = Sidecar::start(&gateway_fixture(), &["--forward-auth", "nginx"]);
    // NGINX auth_request: always GET, the original request in X-Original-*.
    let reply = sidecar.http(
        "GET",
        "/v1/authz",
        &[
            ("X-Original-Method", "PUT"),
            ("X-Original-URI", "/docs/handbook?frozen=1"),
            ("X-Service", "spiffe://corp/docs-editor"),
            ("X-Change-Ticket", "CHG-1"),
        ],
        b"",
    );
    // Identified by a header, not authenticated: 401.
    assert_eq!(reply.status, 401);
    assert!(reply
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    let body = reply.json();
    assert_eq!(body["rules"], json!(["frozen"]));
    assert_eq!(body["reasons"], json!(["the document is frozen"]));
    assert_eq!(
        body["id"].as_str(),
        reply.header("x-rampart-decision-id"),
        "the body and the header name the same decision"
    );
    assert!(reply.header("x-envoy-auth-headers-to-remove").is_none());

    // No route for the forwarded request: still a deny, never a 404 or 500.
    let envoy = Sidecar::start(&gateway_fixture(), &["--forward-auth", "envoy"]);
    let reply = envoy.http("POST", "/v1/authz/nowhere", &[], b"");
    assert_eq!(reply.status, 401);
}

/// F1: the client's own forwarding headers never choose what is authorized.
#[test]
fn forward_auth_reads_only_the_headers_of_its_gateway() {
    let spoofed = [
        ("X-Original-Method", "PUT"),
        ("X-Original-URI", "/docs/handbook?frozen=1"),
        // What a client adds to turn the frozen PUT into an allowed GET.
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/docs/handbook"),
        ("X-Service", "spiffe://corp/docs-editor"),
        ("X-Change-Ticket", "CHG-1"),
    ];
    let nginx = Sidecar::start(&gateway_fixture(), &["--forward-auth", "nginx"]);
    let reply = nginx.http("GET", "/v1/authz", &spoofed, b"");
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["rules"], json!(["frozen"]));

    // Envoy's HTTP mode reads the request line: the same headers change nothing.
    let envoy = Sidecar::start(&gateway_fixture(), &["--forward-auth", "envoy"]);
    let reply = envoy.http("PUT", "/v1/authz/docs/handbook?frozen=1", &spoofed, b"");
    assert_eq!(reply.json()["rules"], json!(["frozen"]), "{}", reply.text());

    // A trusted header given twice (the gateway's and a client's copy) is refused.
    let twice = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/docs/handbook"),
        ("X-Original-URI", "/docs/handbook"),
    ];
    let reply = nginx.http("GET", "/v1/authz", &twice, b"");
    assert_eq!(reply.status, 403, "{}", reply.text());

    // Not configured: every forward-auth request is denied, whatever it carries.
    let unconfigured = Sidecar::start(&gateway_fixture(), &[]);
    let reply = unconfigured.http("GET", "/v1/authz", &spoofed, b"");
    assert_eq!(reply.status, 403, "{}", reply.text());
    let metrics = unconfigured.http("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("rampart_decisions_total{door=\"forward_auth\",effect=\"deny\"} 1"),
        "{metrics}"
    );
}

#[test]
fn the_opa_data_api_answers_result_documents() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let input = |name: &str| {
        let request: Value = serde_json::from_slice(&request_file(name)).expect("JSON");
        serde_json::to_vec(&json!({ "input": request })).expect("JSON")
    };
    let reply = post_json(&sidecar, "/v1/data/payments", &input("pay-http.json"));
    assert_eq!(reply.status, 200);
    let answer = reply.json();
    assert_eq!(answer["result"]["allow"], true);
    assert_eq!(answer["result"]["rules"], json!(["pay-write"]));
    assert_eq!(answer["result"]["headers"], json!({}));
    assert_eq!(
        answer["decision_id"].as_str(),
        reply.header("x-rampart-decision-id")
    );

    let answer = post_json(&sidecar, "/v1/data/payments/allow", &input("pay-http.json")).json();
    assert_eq!(answer["result"], true);

    let answer = post_json(&sidecar, "/v1/data", &input("no-route.json")).json();
    assert_eq!(answer["result"]["allow"], false);
    assert_eq!(answer["result"]["status"], 403);

    // A package the policy does not have fails closed.
    let answer = post_json(&sidecar, "/v1/data/nope", &input("pay-http.json")).json();
    assert_eq!(answer["result"]["allow"], false);

    let reply = post_json(&sidecar, "/v1/data/payments", br#"{"in": {}}"#);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "invalid_parameter");
}

#[test]
fn health_readiness_and_metrics() {
    let sidecar = Sidecar::start(&payments(), &[]);
    assert_eq!(sidecar.http("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(sidecar.http("GET", "/readyz", &[], b"").status, 200);
    post_json(&sidecar, "/v1/decide", &request_file("pay-http.json"));
    post_json(&sidecar, "/v1/decide", &request_file("old-tls.json"));
    post_json(&sidecar, "/v1/decide", &request_file("no-route.json"));

    let reply = sidecar.http("GET", "/metrics", &[], b"");
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = reply.text();
    for line in [
        "rampart_decisions_total{door=\"decide\",effect=\"allow\"} 1",
        "rampart_decisions_total{door=\"decide\",effect=\"deny\"} 2",
        "rampart_decisions_total{door=\"ext_authz\",effect=\"allow\"} 0",
        "rampart_errors_total{door=\"decide\",kind=\"decision\"} 1",
        "rampart_decision_duration_seconds_count 3",
        "rampart_decision_duration_seconds_bucket{le=\"+Inf\"} 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    let revision = sidecar
        .ready_line
        .rsplit("bundle=")
        .next()
        .unwrap_or_default();
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "rampart_bundle_info{{revision=\"{revision}\",digest=\"sha256:"
        )) && l.ends_with("\"} 1")),
        "{text}"
    );
}

#[test]
fn a_bundle_file_is_served_and_sigterm_stops_the_server_writing_the_decision_log() {
    let scratch = Scratch::new("bundle");
    let bundle = scratch.0.join("payments.bundle.json");
    let built = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("build")
        .arg(payments())
        .arg("-o")
        .arg(&bundle)
        .output()
        .expect("run rampart build");
    assert!(built.status.success(), "{built:?}");
    let log = scratch.0.join("decisions.jsonl");
    let entities = payments().join("entities.json");
    let mut sidecar = Sidecar::start(
        &bundle,
        &[
            "--entities",
            entities.to_str().unwrap_or_default(),
            "--decision-log",
            log.to_str().unwrap_or_default(),
            "--forward-auth",
            "traefik",
        ],
    );
    let allow = post_json(&sidecar, "/v1/decide", &request_file("pay-http.json"));
    assert_eq!(allow.json()["decision"], "allow");
    let deny = sidecar.http(
        "GET",
        "/v1/authz",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/v1/accounts/a1?token=s3cret"),
            ("Authorization", "Bearer s3cret"),
        ],
        b"",
    );
    assert_eq!(deny.status, 401);

    let status = sidecar.terminate();
    assert!(status.success(), "exit status {status:?}");

    let text = std::fs::read_to_string(&log).expect("read the decision log");
    assert!(!text.contains("s3cret"), "secrets in the log:\n{text}");
    let mut records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // The decision records, then the stop record of the graceful stop.
    assert_eq!(
        records.pop().map(|r| r["event"].clone()),
        Some(json!("stop"))
    );
    assert_eq!(records.len(), 2, "{text}");
    assert_eq!(
        records[0]["id"].as_str(),
        allow.header("x-rampart-decision-id")
    );
    assert_eq!(records[0]["door"], "decide");
    assert_eq!(records[0]["decision"], "allow");
    assert_eq!(records[0]["rules"], json!(["pay-write"]));
    assert_eq!(records[0]["request"]["path"], "/v1/accounts/a1/payments");
    assert_eq!(records[1]["door"], "forward_auth");
    assert_eq!(records[1]["decision"], "deny");
    assert_eq!(records[1]["request"]["path"], "/v1/accounts/a1");
    assert!(records[1]["latency_us"].is_u64());
}

#[test]
fn a_listener_address_in_use_is_a_usage_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("serve")
        .arg(payments())
        .args(["--grpc", "127.0.0.1:0", "--http", &addr])
        .output()
        .expect("run rampart serve");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: cannot listen on `{addr}` for HTTP")),
        "{stderr}"
    );
}

/// Finding F17: a repeated key was read last-wins, so a component in front that reads the
/// first saw another request (`"input"` twice on `/v1/data`, `"path"` twice in `http`).
/// Both HTTP doors now refuse a repeated key at any depth with a 400 naming it.
#[test]
fn repeated_json_keys_are_refused_at_the_http_doors() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let pay = String::from_utf8(request_file("pay-http.json")).expect("UTF-8");
    // The allowed request, twice under one key, the first one going elsewhere.
    let elsewhere = pay.replace("/v1/accounts/a1/payments", "/admin");
    let twice = format!("{{\"input\": {elsewhere}, \"input\": {pay}}}");
    assert_eq!(
        post_json(
            &sidecar,
            "/v1/data/payments",
            format!("{{\"input\": {pay}}}").as_bytes()
        )
        .json()["result"]["allow"],
        true
    );
    let reply = post_json(&sidecar, "/v1/data/payments", twice.as_bytes());
    assert_eq!(reply.status, 400, "{}", reply.text());
    let message = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("invalid JSON: duplicate key `input` at line"),
        "{message}"
    );
    let path_twice = pay.replace(
        "\"path\": \"/v1/accounts/a1/payments\",",
        "\"path\": \"/admin\", \"path\": \"/v1/accounts/a1/payments\",",
    );
    assert_ne!(path_twice, pay);
    for target in ["/v1/decide", "/v1/data/payments"] {
        let body = if target == "/v1/decide" {
            path_twice.clone()
        } else {
            format!("{{\"input\": {path_twice}}}")
        };
        let reply = post_json(&sidecar, target, body.as_bytes());
        assert_eq!(reply.status, 400, "{target}: {}", reply.text());
        let message = reply.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.starts_with("invalid JSON: duplicate key `path` at line"),
            "{target}: {message}"
        );
    }
}

/// F3/F14: the HTTP listener reads up to 272 header lines (the engine's 256 fields and room
/// for a gateway's own), so a forward-auth request over the engine's limit is denied with
/// its reason; more lines than that are refused unread with 431.
#[test]
fn header_lines_past_the_limits_are_denied_or_refused() {
    let sidecar = Sidecar::start(&gateway_fixture(), &["--forward-auth", "envoy"]);
    let names: Vec<String> = (0..300).map(|i| format!("x-h{i}")).collect();
    let lines = |count: usize| -> Vec<(&str, &str)> {
        let mut headers: Vec<(&str, &str)> = vec![("X-Service", "spiffe://corp/docs-editor")];
        headers.extend(names.iter().take(count).map(|n| (n.as_str(), "v")));
        headers
    };
    let reply = sidecar.http("GET", "/v1/authz/docs/handbook", &lines(200), b"");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = sidecar.http("GET", "/v1/authz/docs/handbook", &lines(260), b"");
    assert_eq!(reply.status, 401, "{}", reply.text());
    let reply = sidecar.http("GET", "/v1/authz/docs/handbook", &lines(300), b"");
    assert_eq!(reply.status, 431, "{}", reply.text());
    let metrics = sidecar.http("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("rampart_errors_total{door=\"forward_auth\",kind=\"decision\"} 1"),
        "{metrics}"
    );
}
