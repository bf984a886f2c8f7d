//! End to end with a real NGINX (Debian's 1.22, `auth_request`) in front of the sidecar's
//! forward-auth endpoint, driven by `examples/nginx/nginx.conf` (only the ports are
//! changed). nginx runs from a scratch folder of its own (pid, temp paths), no service.
//!
//! The peers come from `scripts/e2e-setup.sh`; run with
//! `cargo test -p rampart-cli --test e2e_nginx -- --ignored`. A missing peer fails the test
//! with a message naming it.

mod e2e_support;
mod serve_support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_support::{
    example, example_script, free_port, now_s, peer, template, wait_until, EchoUpstream, Process,
};
use serde_json::json;
use serve_support::{gateway_fixture, http_request, Reply, Scratch, Sidecar};

const DOCS_EDITOR: &str = "spiffe://corp/docs-editor";

/// nginx on the example config, listening on a free loopback port.
struct Nginx {
    process: Process,
    addr: SocketAddr,
}

impl Nginx {
    fn start(dir: &std::path::Path, sidecar_http: SocketAddr, upstream: &EchoUpstream) -> Nginx {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let config = template(
            &example("nginx/nginx.conf"),
            &[
                ("127.0.0.1:8000", addr.to_string()),
                ("127.0.0.1:8181", sidecar_http.to_string()),
                ("127.0.0.1:8080", upstream.addr.to_string()),
            ],
        );
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx's temp folder");
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let log = dir.join("nginx.log");
        let log_file = std::fs::File::create(&log).expect("create nginx's log");
        let mut process = Process::spawn_terminated(
            "nginx",
            Command::new(peer("nginx"))
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(log_file),
        );
        wait_until("nginx to listen", Duration::from_secs(20), || {
            process.assert_running(&log);
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        Nginx { process, addr }
    }

    fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        let reply = http_request(self.addr, method, target, headers, b"");
        // nginx must still be running after each request.
        assert!(
            matches!(self.process.child.try_wait(), Ok(None)),
            "nginx exited"
        );
        reply
    }
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn nginx_auth_request_asks_the_sidecar() {
    let scratch = Scratch::new("e2e-nginx");
    // A demo identity provider: a request with a token it signed is authenticated, so a
    // deny of it is a 403 rather than a 401.
    let idp = scratch.0.join("idp").display().to_string();
    example_script("envoy/demo-idp.sh", &["keys".into(), idp.clone()]);
    let claims = json!({"sub": "billing-bot", "iat": now_s(), "exp": now_s() + 600});
    let token = example_script(
        "envoy/demo-idp.sh",
        &["token".into(), idp, claims.to_string()],
    );
    let jwks = scratch.0.join("idp/jwks.json").display().to_string();
    let sidecar = Sidecar::start(
        &gateway_fixture(),
        &["--jwks", &jwks, "--forward-auth", "nginx"],
    );
    let upstream = EchoUpstream::start();
    let mut nginx = Nginx::start(&scratch.0, sidecar.http, &upstream);

    // Allow: the upstream is reached with the request_header obligation; the
    // response_header obligation and the decision id reach the client.
    let reply = nginx.request("GET", "/docs/handbook?v=1", &[("x-service", DOCS_EDITOR)]);
    assert_eq!(reply.status, 200, "{reply:?}");
    let seen = reply.json();
    assert_eq!(seen["target"], "/docs/handbook?v=1");
    assert_eq!(seen["headers"]["x-rampart-team"], "docs", "{seen}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");
    assert_eq!(
        reply.header("x-rampart-decision-id").map(str::len),
        Some(32),
        "{reply:?}"
    );

    // The original method travels in X-Original-Method (the subrequest itself is a GET):
    // a PUT is decided as a write, which needs a change ticket.
    let reply = nginx.request(
        "PUT",
        "/docs/handbook",
        &[("x-service", DOCS_EDITOR), ("x-change-ticket", "CHG-1")],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["method"], "PUT");

    // Deny without a token: 401 with the sidecar's WWW-Authenticate (the x-service header
    // names a principal but does not authenticate it); the upstream is not reached.
    let hits = upstream.hits();
    for (method, target, headers) in [
        ("GET", "/docs/handbook", vec![]),
        ("PUT", "/docs/handbook", vec![("x-service", DOCS_EDITOR)]),
        (
            "GET",
            "/docs/handbook",
            vec![("x-service", "spiffe://corp/billing")],
        ),
    ] {
        let reply = nginx.request(method, target, &headers);
        assert_eq!(
            reply.status, 401,
            "{method} {target} {headers:?}: {reply:?}"
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"rampart\"")
        );
    }

    // Deny of an authenticated request: 403 (the example config's @rampart_denied keeps
    // it a 403 when the sidecar sent no Retry-After).
    let bearer = format!("Bearer {token}");
    let reply = nginx.request(
        "GET",
        "/docs/handbook",
        &[
            ("x-service", "spiffe://corp/billing"),
            ("authorization", &bearer),
        ],
    );
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(reply.header("retry-after").is_none(), "{reply:?}");
    assert_eq!(
        upstream.hits(),
        hits,
        "a denied request reached the upstream"
    );
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn nginx_turns_an_exhausted_rate_limit_into_429() {
    let scratch = Scratch::new("e2e-nginx-rate");
    // `limited`: anyone may read /limited/{id}, twice a minute (one shared bucket).
    let policy = serve_support::repo().join("cli/tests/fixtures/ratelimit");
    let sidecar = Sidecar::start(&policy, &["--forward-auth", "nginx"]);
    let upstream = EchoUpstream::start();
    let mut nginx = Nginx::start(&scratch.0, sidecar.http, &upstream);

    for _ in 0..2 {
        let reply = nginx.request("GET", "/limited/a", &[]);
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // The sidecar answers nginx 403 with Retry-After (auth_request would make a 429 a
    // 500); the example config turns that back into 429.
    let reply = nginx.request("GET", "/limited/a", &[]);
    assert_eq!(reply.status, 429, "{reply:?}");
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no retry-after: {reply:?}"));
    assert!((1..=60).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(upstream.hits(), 2);
}

/// F1: behind NGINX, a client's own forwarding headers never choose what is authorized
/// (before the fix, `X-Forwarded-Uri`/`-Method` turned a denied request into an allowed
/// one and the upstream served it).
#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn nginx_ignores_forwarding_headers_a_client_sends() {
    let scratch = Scratch::new("e2e-nginx-spoof");
    let sidecar = Sidecar::start(&gateway_fixture(), &["--forward-auth", "nginx"]);
    let upstream = EchoUpstream::start();
    let mut nginx = Nginx::start(&scratch.0, sidecar.http, &upstream);
    let frozen = [("x-service", DOCS_EDITOR), ("x-change-ticket", "CHG-1")];
    // The frozen document cannot be written...
    let reply = nginx.request("PUT", "/docs/handbook?frozen=1", &frozen);
    assert_eq!(reply.status, 401, "{reply:?}");
    // ...however the client dresses the request up as a read of something else.
    for spoof in [
        vec![
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/docs/handbook"),
        ],
        vec![
            ("x-original-method", "GET"),
            ("x-original-uri", "/docs/handbook"),
        ],
        vec![
            ("x-forwarded-host", "internal"),
            ("x-original-host", "internal"),
        ],
        vec![
            ("x-original-uri", "/docs/handbook"),
            ("x-original-uri", "/docs/handbook"),
        ],
    ] {
        let mut headers = frozen.to_vec();
        headers.extend(spoof.iter().copied());
        let reply = nginx.request("PUT", "/docs/handbook?frozen=1", &headers);
        assert_eq!(reply.status, 401, "{spoof:?}: {reply:?}");
    }
    assert_eq!(upstream.hits(), 0, "a denied request reached the upstream");
    // The same headers on an allowed request change nothing either: still allowed.
    let reply = nginx.request(
        "GET",
        "/docs/handbook",
        &[
            ("x-service", DOCS_EDITOR),
            ("x-forwarded-uri", "/status"),
            ("x-original-method", "DELETE"),
        ],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["target"], "/docs/handbook");
}

/// F2: behind NGINX, no spelling of a denied path is allowed (`//admin`, `/%61dmin`,
/// `/x/../admin`, `;` parameters, escaped slashes), and the upstream is never reached.
#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn nginx_denies_every_spelling_of_a_denied_path() {
    let scratch = Scratch::new("e2e-nginx-paths");
    let policy = serve_support::repo().join("cli/tests/fixtures/paths");
    let sidecar = Sidecar::start(&policy, &["--forward-auth", "nginx"]);
    let upstream = EchoUpstream::start();
    let mut nginx = Nginx::start(&scratch.0, sidecar.http, &upstream);
    let reply = nginx.request("GET", "/docs/index.html", &[]);
    assert_eq!(reply.status, 200, "{reply:?}");
    let hits = upstream.hits();
    for &target in e2e_support::DENIED_PATH_SPELLINGS {
        let reply = nginx.request("GET", target, &[]);
        assert!(
            reply.status == 401 || reply.status == 403 || reply.status == 400,
            "{target}: {reply:?}"
        );
    }
    assert_eq!(upstream.hits(), hits, "a denied path reached the upstream");
}

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn nginx_fails_closed_when_the_sidecar_is_down() {
    let scratch = Scratch::new("e2e-nginx-down");
    let upstream = EchoUpstream::start();
    let nowhere: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("an address");
    let mut nginx = Nginx::start(&scratch.0, nowhere, &upstream);
    let reply = nginx.request("GET", "/docs/handbook", &[("x-service", DOCS_EDITOR)]);
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(
        upstream.hits(),
        0,
        "the upstream was reached without a decision"
    );
}
