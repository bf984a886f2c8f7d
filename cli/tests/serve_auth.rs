//! `rampart serve --jwks`: bearer tokens verified into `context.auth`, and `rate_limit`
//! obligations enforced with 429 and `retry-after`, through forward-auth, Envoy ext_authz
//! and the decision API; the token of a query plan call names its caller. Tokens are signed
//! with the test-only keys of `fixtures/jwt`.

mod serve_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use serve_support::{Reply, Scratch, Sidecar};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn jwks() -> String {
    fixtures().join("jwt/jwks.json").display().to_string()
}

/// `rampart serve` on the docs policy, verifying tokens of `https://idp.test` for `docs`.
fn start(extra: &[&str]) -> Sidecar {
    let jwks = jwks();
    let mut args = vec![
        "--jwks",
        jwks.as_str(),
        "--jwt-issuer",
        "https://idp.test",
        "--jwt-audience",
        "docs",
    ];
    // Forward-auth requests below are in Traefik's shape, unless a test says otherwise.
    if !extra.contains(&"--forward-auth") {
        args.extend_from_slice(&["--forward-auth", "traefik"]);
    }
    args.extend_from_slice(extra);
    Sidecar::start(&fixtures().join("auth"), &args)
}

fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// Claims valid now for `subject` with `scope`.
fn claims(subject: &str, scope: &str) -> Value {
    let now = now();
    json!({"iss": "https://idp.test", "aud": "docs", "sub": subject, "scope": scope,
           "iat": now - 5, "exp": now + 600})
}

fn token(algorithm: Algorithm, claims: &Value) -> String {
    let read = |name: &str| std::fs::read(fixtures().join("jwt").join(name)).expect("read a key");
    let (key, kid) = match algorithm {
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(&read("TEST-ONLY-rsa-private.pem")),
            "test-rsa",
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(&read("TEST-ONLY-ec-private.pem")),
            "test-ec",
        ),
        Algorithm::HS256 => (Ok(EncodingKey::from_secret(b"shared secret")), "test-rsa"),
        _ => (
            EncodingKey::from_ed_pem(&read("TEST-ONLY-ed25519-private.pem")),
            "test-ed25519",
        ),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.expect("a test key")).expect("sign a token")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A forward-auth request in Traefik's shape, with an optional `Authorization` header.
fn forward(sidecar: &Sidecar, method: &str, uri: &str, authorization: Option<&str>) -> Reply {
    let mut headers = vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)];
    if let Some(value) = authorization {
        headers.push(("Authorization", value));
    }
    sidecar.http("GET", "/v1/authz", &headers, b"")
}

async fn check(sidecar: &Sidecar, method: &str, path: &str, authorization: &str) -> CheckResponse {
    let mut headers: HashMap<String, String> = HashMap::new();
    headers.insert(":method".into(), method.into());
    headers.insert(":path".into(), path.into());
    headers.insert("authorization".into(), authorization.into());
    let request = CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    host: "api.local".into(),
                    headers,
                    ..HttpRequest::default()
                }),
            }),
            ..AttributeContext::default()
        }),
    };
    let mut client = AuthorizationClient::connect(format!("http://{}", sidecar.grpc))
        .await
        .expect("connect to the gRPC listener");
    client
        .check(request)
        .await
        .expect("Check answers")
        .into_inner()
}

/// The gRPC status, the HTTP status of a denial (200 for an ok_response) and its headers.
fn outcome(response: &CheckResponse) -> (i32, i32, HashMap<String, String>) {
    let code = response.status.as_ref().map_or(-1, |s| s.code);
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => {
            let headers = ok
                .headers
                .iter()
                .filter_map(|h| h.header.as_ref())
                .map(|h| (h.key.clone(), h.value.clone()))
                .collect();
            (code, 200, headers)
        }
        Some(HttpResponse::DeniedResponse(denied)) => {
            let headers = denied
                .headers
                .iter()
                .filter_map(|h| h.header.as_ref())
                .map(|h| (h.key.clone(), h.value.clone()))
                .collect();
            (code, denied.status.as_ref().map_or(0, |s| s.code), headers)
        }
        other => panic!("no http_response: {other:?}"),
    }
}

fn metric(sidecar: &Sidecar, line_start: &str) -> u64 {
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in the metrics:\n{text}"))
}

#[test]
fn verified_tokens_fill_context_auth_through_forward_auth() {
    let sidecar = start(&[]);
    // A valid token with the scope: allowed, the subject is the principal.
    let alice = token(Algorithm::RS256, &claims("alice", "openid docs:read"));
    let reply = forward(&sidecar, "GET", "/docs/d1", Some(&bearer(&alice)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-user"), Some("alice"));

    // Authenticated but without the scope: 403, no challenge.
    let reply = forward(&sidecar, "PUT", "/docs/d1", Some(&bearer(&alice)));
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), None);

    // Tokens that do not verify are not errors: the caller is anonymous, hence 401.
    let mut expired = claims("alice", "docs:read");
    expired["exp"] = json!(now() - 3600);
    let mut other_audience = claims("alice", "docs:read");
    other_audience["aud"] = json!("billing");
    let mut other_issuer = claims("alice", "docs:read");
    other_issuer["iss"] = json!("https://evil.test");
    // `{"alg":"none"}` over the claims of a real token, without a signature.
    let real = token(Algorithm::EdDSA, &claims("alice", "docs:read"));
    let payload = real.split('.').nth(1).unwrap_or_default();
    let unsigned = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let refused = [
        token(Algorithm::EdDSA, &expired),
        token(Algorithm::EdDSA, &other_audience),
        token(Algorithm::EdDSA, &other_issuer),
        token(Algorithm::HS256, &claims("alice", "docs:read")),
        unsigned,
        "not-a-token".to_owned(),
    ];
    for token in &refused {
        let reply = forward(&sidecar, "GET", "/docs/d1", Some(&bearer(token)));
        assert_eq!(reply.status, 401, "{token:.30}: {}", reply.text());
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"rampart\"")
        );
    }
    let reply = forward(&sidecar, "GET", "/docs/d1", None);
    assert_eq!(reply.status, 401);

    assert_eq!(metric(&sidecar, "rampart_jwt_verified_total "), 2);
    for (reason, count) in [
        ("expired", 1),
        ("audience", 1),
        ("issuer", 1),
        ("algorithm", 2),
        ("malformed", 1),
    ] {
        let line = format!("rampart_jwt_invalid_total{{reason=\"{reason}\"}} ");
        assert_eq!(metric(&sidecar, &line), count, "{reason}");
    }
}

/// A query plan's caller is named by the bearer token of the plan call itself (HTTP
/// header, gRPC metadata), verified as at every door; a token that does not verify plans
/// for an unauthenticated caller, as `/v1/decide` decides for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tokens_name_the_caller_of_a_plan() {
    use rampart_sidecar::proto::rampart::v1::decisions_client::DecisionsClient;
    use rampart_sidecar::proto::rampart::v1::{PlanDecision, PlanRequest};

    let sidecar = start(&[]);
    let read_plan = json!({"action": "docs:read", "resource": {"type": "Doc"}});
    let plan = |authorization: Option<&str>| -> Value {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        let reply = sidecar.http(
            "POST",
            "/v1/plan",
            &headers,
            read_plan.to_string().as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    };
    let eve = bearer(&token(Algorithm::EdDSA, &claims("eve", "docs:read")));
    let planned = plan(Some(&eve));
    assert_eq!(planned["decision"], "always", "{planned}");
    assert_eq!(planned["principal"], json!({"type": "User", "id": "eve"}));
    assert_eq!(planned["rules"], json!(["read"]));
    // The same token in the body of /v1/decide allows.
    let request = json!({"http": {"method": "GET", "path": "/docs/d1",
                                  "headers": {"Authorization": eve}}});
    let reply = sidecar.http("POST", "/v1/decide", &[], request.to_string().as_bytes());
    assert_eq!(reply.json()["decision"], "allow");

    let invalid_before = metric(&sidecar, "rampart_jwt_invalid_total{reason=\"malformed\"}");
    for authorization in [None, Some("Bearer x.y.z")] {
        let planned = plan(authorization);
        assert_eq!(planned["decision"], "never", "{authorization:?}: {planned}");
        // No mapping applies: the engine's anonymous principal.
        assert_eq!(planned["principal"]["type"], "Anonymous", "{planned}");
    }
    assert_eq!(
        metric(&sidecar, "rampart_jwt_invalid_total{reason=\"malformed\"}"),
        invalid_before + 1
    );

    // Over gRPC the token is in the call's metadata.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", sidecar.grpc))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect to the gRPC listener");
    let mut client = DecisionsClient::new(channel);
    let message = PlanRequest {
        action: "docs:read".into(),
        resource_type: "Doc".into(),
        ..PlanRequest::default()
    };
    let mut call = tonic::Request::new(message.clone());
    call.metadata_mut()
        .insert("authorization", eve.parse().expect("ASCII"));
    let response = client.plan(call).await.expect("a plan").into_inner();
    assert_eq!(response.decision(), PlanDecision::Always);
    assert_eq!(response.principal.map(|p| p.id).as_deref(), Some("eve"));
    let response = client.plan(message).await.expect("a plan").into_inner();
    assert_eq!(response.decision(), PlanDecision::Never);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tokens_fill_context_auth_through_ext_authz_and_decide() {
    let sidecar = start(&[]);
    let mut gold = claims("bob", "docs:write");
    gold["tier"] = json!("gold");
    let response = check(
        &sidecar,
        "PUT",
        "/docs/d2",
        &bearer(&token(Algorithm::ES256, &gold)),
    )
    .await;
    let (code, status, headers) = outcome(&response);
    assert_eq!((code, status), (0, 200), "{response:?}");
    assert_eq!(headers.get("x-user").map(String::as_str), Some("bob"));

    // The claim decides: a silver token is authenticated and refused (403).
    gold["tier"] = json!("silver");
    let silver = bearer(&token(Algorithm::ES256, &gold));
    let (code, status, _) = outcome(&check(&sidecar, "PUT", "/docs/d2", &silver).await);
    assert_eq!((code, status), (7, 403));

    let (code, status, headers) =
        outcome(&check(&sidecar, "PUT", "/docs/d2", "Bearer x.y.z").await);
    assert_eq!((code, status), (16, 401));
    assert!(headers.contains_key("www-authenticate"));

    // The decision API verifies the token of a raw-HTTP request...
    let eve = token(Algorithm::EdDSA, &claims("eve", "docs:read"));
    let request = json!({"http": {"method": "GET", "path": "/docs/d1",
                                  "headers": {"Authorization": bearer(&eve)}}});
    let reply = sidecar.http("POST", "/v1/decide", &[], request.to_string().as_bytes());
    let decision = reply.json();
    assert_eq!(decision["decision"], "allow", "{decision}");
    assert_eq!(decision["rules"], json!(["read"]));
    // ...and keeps the `context.auth` a caller states itself.
    let stated = json!({"http": {"method": "GET", "path": "/docs/d1",
                                 "headers": {"authorization": bearer(&eve)}},
                        "context": {"auth": {"method": "api_key"}}});
    let reply = sidecar.http("POST", "/v1/decide", &[], stated.to_string().as_bytes());
    assert_eq!(reply.json()["decision"], "deny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_rate_limits_answer_429_with_retry_after() {
    let sidecar = start(&[]);
    let carol = bearer(&token(Algorithm::RS256, &claims("carol", "docs:read")));
    // `read-rate`: 2 per minute per principal.
    for _ in 0..2 {
        let reply = forward(&sidecar, "GET", "/docs/d1", Some(&carol));
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let reply = forward(&sidecar, "GET", "/docs/d1", Some(&carol));
    assert_eq!(reply.status, 429, "{}", reply.text());
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a retry-after in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = reply.json();
    assert_eq!(body["rules"], json!(["read-rate"]));
    assert_eq!(body["retry_after_s"], json!(retry_after));
    assert_eq!(body["reasons"], json!(["rate limit of 2 per 1m exceeded"]));

    // NGINX's auth_request only passes 401 and 403: in NGINX mode an exhausted limit is a
    // 403 with retry-after.
    let behind_nginx = start(&["--forward-auth", "nginx"]);
    let nginx = || {
        behind_nginx.http(
            "GET",
            "/v1/authz",
            &[
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/docs/d1"),
                ("Authorization", &carol),
            ],
            b"",
        )
    };
    for _ in 0..2 {
        assert_eq!(nginx().status, 200);
    }
    let limited = nginx();
    assert_eq!(limited.status, 403);
    assert!(limited.header("retry-after").is_some());

    // Envoy gets a denied_response with 429.
    let response = check(&sidecar, "GET", "/docs/d2", &carol).await;
    let (code, status, headers) = outcome(&response);
    assert_eq!((code, status), (8, 429), "{response:?}");
    assert!(headers.contains_key("retry-after"));

    // The decision API answers 200 with the deny and what was exhausted.
    let request = json!({"http": {"method": "GET", "path": "/docs/d1",
                                  "headers": {"authorization": carol}}});
    let decision = sidecar
        .http("POST", "/v1/decide", &[], request.to_string().as_bytes())
        .json();
    assert_eq!(decision["decision"], "deny");
    assert_eq!(decision["rate_limited"]["rule"], "read-rate");
    assert_eq!(decision["rate_limited"]["limit"], 2);
    assert_eq!(decision["rate_limited"]["per_s"], 60);

    // Kong's OPA plugin reads `status` and `headers` of a denied result.
    let input = json!({"input": {"http": {"method": "GET", "path": "/docs/d1",
                                          "headers": {"authorization": carol}}}});
    let result = sidecar
        .http("POST", "/v1/data/docs", &[], input.to_string().as_bytes())
        .json();
    assert_eq!(result["result"]["allow"], false, "{result}");
    assert_eq!(result["result"]["status"], 429);
    assert!(result["result"]["headers"]["retry-after"].is_string());

    // Other callers have buckets of their own.
    let dave = bearer(&token(Algorithm::RS256, &claims("dave", "docs:read")));
    assert_eq!(
        forward(&sidecar, "GET", "/docs/d1", Some(&dave)).status,
        200
    );

    assert_eq!(
        metric(
            &sidecar,
            "rampart_rate_limited_total{door=\"forward_auth\"} "
        ),
        1
    );
    assert_eq!(
        metric(
            &behind_nginx,
            "rampart_rate_limited_total{door=\"forward_auth\"} "
        ),
        1
    );
    assert_eq!(
        metric(&sidecar, "rampart_rate_limited_total{door=\"ext_authz\"} "),
        1
    );
}

#[test]
fn zero_rate_limit_keys_leave_limits_unenforced() {
    let sidecar = start(&["--rate-limit-keys", "0"]);
    let carol = bearer(&token(Algorithm::RS256, &claims("carol", "docs:read")));
    for _ in 0..4 {
        assert_eq!(
            forward(&sidecar, "GET", "/docs/d1", Some(&carol)).status,
            200
        );
    }
}

/// Runs `rampart serve` expecting it to fail before serving: exit code and standard error.
fn fails_to_start(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("serve")
        .arg(fixtures().join("auth"))
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rampart serve");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_broken_key_set_or_leeway_stops_the_start() {
    let scratch = Scratch::new("jwks");
    let broken = scratch.0.join("jwks.json");
    std::fs::write(
        &broken,
        r#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}"#,
    )
    .expect("write the key set");
    let broken = broken.display().to_string();
    let (code, stderr) = fails_to_start(&["--jwks", &broken]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`x` has 1 bytes, expected 32"), "{stderr}");

    let missing = scratch.0.join("missing.json").display().to_string();
    let (code, stderr) = fails_to_start(&["--jwks", &missing]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read the key set"), "{stderr}");

    let jwks = jwks();
    let (code, stderr) = fails_to_start(&["--jwks", &jwks, "--jwt-leeway", "10m"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("more than the 5m allowed"), "{stderr}");

    let (code, stderr) = fails_to_start(&["--jwt-issuer", "https://idp.test"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--jwks"), "{stderr}");
}

/// `rampart serve` on the docs policy verifying with `jwks` (a copy the test may change),
/// reloaded only on request, rate limits off.
fn start_with_key_set(jwks: &Path) -> Sidecar {
    let jwks = jwks.display().to_string();
    Sidecar::start(
        &fixtures().join("auth"),
        &[
            "--jwks",
            jwks.as_str(),
            "--jwt-issuer",
            "https://idp.test",
            "--jwt-audience",
            "docs",
            "--no-watch",
            "--rate-limit-keys",
            "0",
            "--forward-auth",
            "traefik",
        ],
    )
}

fn reload(sidecar: &Sidecar) -> (u16, Value) {
    let reply = sidecar.http("POST", "/v1/reload", &[], b"");
    (reply.status, reply.json())
}

#[test]
fn a_key_withdrawn_from_the_key_set_stops_verifying_after_a_reload() {
    let scratch = Scratch::new("jwks-revoke");
    let path = scratch.0.join("jwks.json");
    let all = std::fs::read_to_string(jwks()).expect("read the key set");
    std::fs::write(&path, &all).expect("copy the key set");
    let sidecar = start_with_key_set(&path);
    let alice = bearer(&token(Algorithm::RS256, &claims("alice", "docs:read")));
    let read = |sidecar: &Sidecar| forward(sidecar, "GET", "/docs/d1", Some(&alice)).status;
    assert_eq!(read(&sidecar), 200);

    // Every key re-marked for encryption: a valid set with no signing key revokes them all.
    let mut enc: Value = serde_json::from_str(&all).expect("the key set is JSON");
    for key in enc["keys"].as_array_mut().expect("keys") {
        key["use"] = json!("enc");
    }
    std::fs::write(&path, enc.to_string()).expect("write the key set");
    let (status, answer) = reload(&sidecar);
    assert_eq!(
        (status, &answer["jwks"]),
        (200, &json!({"keys": 0})),
        "{answer}"
    );
    assert_eq!(read(&sidecar), 401);
    let unknown = "rampart_jwt_invalid_total{reason=\"unknown_key\"}";
    assert_eq!(metric(&sidecar, unknown), 1);

    // The set restored, then emptied: `{"keys": []}` revokes too.
    std::fs::write(&path, &all).expect("write the key set");
    assert_eq!(reload(&sidecar).0, 200);
    assert_eq!(read(&sidecar), 200);
    std::fs::write(&path, r#"{"keys": []}"#).expect("write the key set");
    assert_eq!(reload(&sidecar).1["jwks"], json!({"keys": 0}));
    assert_eq!(read(&sidecar), 401);

    // A key set that is deleted or does not parse is a failed reload: the keys last read
    // keep serving.
    std::fs::write(&path, &all).expect("write the key set");
    assert_eq!(reload(&sidecar).0, 200);
    std::fs::remove_file(&path).expect("delete the key set");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["jwks"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("cannot read the key set")),
        "{answer}"
    );
    assert_eq!(read(&sidecar), 200);
    std::fs::write(&path, "").expect("write the key set");
    assert_eq!(reload(&sidecar).0, 422);
    assert_eq!(read(&sidecar), 200);
    assert_eq!(
        metric(&sidecar, "rampart_reloads_total{result=\"failure\"}"),
        2
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_as_the_key_set_fails_the_reload_and_sigterm_still_stops_the_sidecar() {
    let scratch = Scratch::new("jwks-fifo");
    let path = scratch.0.join("jwks.json");
    std::fs::copy(jwks(), &path).expect("copy the key set");
    // Baseline: how long a sidecar with nothing stuck takes to stop, on this machine now.
    let mut idle = start_with_key_set(&path);
    let baseline = idle
        .terminate_within(Duration::from_secs(60))
        .expect("an idle sidecar stops on SIGTERM");

    let mut sidecar = start_with_key_set(&path);
    std::fs::remove_file(&path).expect("delete the key set");
    let made = Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    // Nobody ever writes the FIFO: a blocking read of it would never return.
    sidecar.signal("HUP");
    let (status, answer) = reload(&sidecar);
    assert_eq!(status, 422, "{answer}");
    let expected = format!("the key set `{}` is not a regular file", path.display());
    assert_eq!(answer["jwks"]["error"], expected.as_str(), "{answer}");
    let alice = bearer(&token(Algorithm::RS256, &claims("alice", "docs:read")));
    assert_eq!(
        forward(&sidecar, "GET", "/docs/d1", Some(&alice)).status,
        200
    );
    let limit = baseline + Duration::from_secs(10);
    let took = sidecar.terminate_within(limit);
    assert!(
        took.is_some(),
        "rampart serve did not stop within {limit:?} of SIGTERM (baseline {baseline:?})"
    );
}

/// Finding F18: `/v1/data` refused what Kong's and APISIX's OPA plugins send
/// (`request: unknown field`). Their documented inputs are now read as raw HTTP: the
/// bearer token in the headers verifies into `context.auth`, path and method pick the
/// route, the decoded query table goes back into the path, and each plugin finds the
/// fields it reads in the result.
#[test]
fn the_opa_plugins_of_kong_and_apisix_are_decided_from_their_own_inputs() {
    let sidecar = start(&[]);
    let post = |input: Value| {
        let reply = sidecar.http(
            "POST",
            "/v1/data/docs",
            &[("Content-Type", "application/json")],
            json!({ "input": input }).to_string().as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["result"].clone()
    };
    let kong = |path: &str, authorization: Option<&str>| {
        let mut headers = json!({"accept": "*/*", "x-forwarded-for": ["10.0.0.1", "10.0.0.2"]});
        if let Some(authorization) = authorization {
            headers["authorization"] = json!(authorization);
        }
        json!({"request": {"http": {
                  "host": "api.local", "port": "8000", "tls": {}, "method": "GET",
                  "scheme": "http", "path": path, "querystring": {"fields": "title", "raw": true},
                  "headers": headers}},
               "client_ip": "203.0.113.9",
               "service": {"name": "docs"}, "route": {"paths": ["/docs"]},
               "consumer": {"username": "kong-reader"}})
    };
    let apisix = |path: &str, authorization: Option<&str>| {
        let mut headers = json!({"user-agent": "curl/8", "host": "127.0.0.1:9080"});
        if let Some(authorization) = authorization {
            headers["authorization"] = json!(authorization);
        }
        json!({"type": "http",
               "request": {"scheme": "http", "path": path, "headers": headers, "query": {},
                           "port": 9080, "method": "GET", "host": "127.0.0.1"},
               "var": {"timestamp": 1_701_234_567, "server_addr": "127.0.0.1",
                       "server_port": "9080", "remote_port": "51234",
                       "remote_addr": "198.51.100.4"},
               "route": {"uri": "/docs/*"}})
    };
    let kong_token = bearer(&token(
        Algorithm::RS256,
        &claims("kong-reader", "docs:read"),
    ));
    let apisix_token = bearer(&token(
        Algorithm::ES256,
        &claims("apisix-reader", "docs:read"),
    ));

    let allowed = post(kong("/docs/d1", Some(&kong_token)));
    assert_eq!(allowed["allow"], true, "{allowed}");
    assert_eq!(allowed["rules"], json!(["read"]));
    assert_eq!(allowed["headers"]["x-user"], "kong-reader", "{allowed}");
    let allowed = post(apisix("/docs/d1", Some(&apisix_token)));
    assert_eq!(allowed["allow"], true, "{allowed}");
    assert_eq!(allowed.get("status_code"), None);

    // Without a token: 401 for both; APISIX reads `status_code` and `reason`.
    let denied = post(kong("/docs/d1", None));
    assert_eq!(
        (&denied["allow"], &denied["status"]),
        (&json!(false), &json!(401))
    );
    let denied = post(apisix("/docs/d1", None));
    assert_eq!(denied["allow"], false);
    assert_eq!(
        (&denied["status"], &denied["status_code"]),
        (&json!(401), &json!(401))
    );
    assert!(denied["reason"].is_string(), "{denied}");
    // A path no route maps is a deny, token or not.
    assert_eq!(post(kong("/admin", Some(&kong_token)))["allow"], false);

    // A plugin input whose values have the wrong type is a 400 naming the field.
    let reply = sidecar.http(
        "POST",
        "/v1/data/docs",
        &[],
        json!({"input": {"request": {"http": {"method": "GET", "path": "/docs/d1",
                                              "querystring": {"a": 1}}}}})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["message"],
        "`input.request.http.querystring` values must be strings, `true` or arrays of them"
    );
}
