//! Outside gRPC clients against `rampart serve`: grpcio with the message types of
//! envoy-data-plane calling Envoy's `Authorization/Check` (`scripts/e2e/ext_authz_client.py`),
//! and grpcurl calling `grpc.health.v1.Health/Check`, listing services by reflection and
//! calling `rampart.v1.Decisions/Decide`.
//!
//! The peers come from `scripts/e2e-setup.sh` (into `target/e2e/`); run with
//! `cargo test -p rampart-cli --test e2e_grpc_clients -- --ignored`. A missing peer fails
//! the test with a message naming it.

mod e2e_support;
mod serve_support;

use std::process::Command;

use e2e_support::{installed, peer, run_bounded};
use serde_json::{json, Value};
use serve_support::{gateway_fixture, Sidecar};

#[test]
#[ignore = "needs scripts/e2e-setup.sh"]
fn outside_grpc_clients_grpcio_and_grpcurl() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let grpc = sidecar.grpc.to_string();

    // grpcio with envoy-data-plane's message types: allow, 403 and 401.
    let script = serve_support::repo().join("scripts/e2e/ext_authz_client.py");
    let output = run_bounded(
        "ext_authz_client.py",
        Command::new(peer("python")).arg(script).arg(&grpc),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let case = |name: &str| -> &Value {
        results
            .iter()
            .find(|r| r["case"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {results:?}"))
    };
    assert_eq!(case("allow")["code"], 0);
    assert_eq!(case("allow")["headers"], json!({"x-rampart-team": "docs"}));
    assert_eq!(case("allow")["headers_to_remove"], json!(["authorization"]));
    assert_eq!(case("deny-team")["code"], 7); // PERMISSION_DENIED
    assert_eq!(case("deny-team")["http_status"], 403);
    assert_eq!(case("deny-team")["body"]["decision"], "deny");
    assert_eq!(case("deny-anonymous")["code"], 16); // UNAUTHENTICATED
    assert_eq!(case("deny-anonymous")["http_status"], 401);

    // grpcurl: grpc.health.v1 (descriptors from grpcio-health-checking, no reflection).
    let protoset = installed("health.protoset");
    for service in ["", "envoy.service.auth.v3.Authorization"] {
        let request = json!({ "service": service }).to_string();
        let output = run_bounded(
            "grpcurl",
            Command::new(peer("grpcurl"))
                .args(["-plaintext", "-max-time", "10", "-protoset"])
                .arg(&protoset)
                .args(["-d", &request, &grpc, "grpc.health.v1.Health/Check"]),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_str(&stdout).expect("grpcurl prints JSON");
        assert_eq!(answer, json!({"status": "SERVING"}), "{service}");
    }

    // grpcurl through server reflection (v1alpha, the only one grpcurl 1.8 speaks): the
    // services, and Rampart's own decision API.
    let grpcurl = |args: &[&str]| -> String {
        let output = run_bounded(
            "grpcurl",
            Command::new(peer("grpcurl"))
                .args(["-plaintext", "-max-time", "10"])
                .args(args),
        );
        assert!(
            output.status.success(),
            "grpcurl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let services = grpcurl(&[&grpc, "list"]);
    for service in ["grpc.health.v1.Health", "rampart.v1.Decisions"] {
        assert!(
            services.lines().any(|l| l == service),
            "{service} not in:\n{services}"
        );
    }
    let request = json!({"http": {"method": "GET", "path": "/status"}}).to_string();
    let answer: Value = serde_json::from_str(&grpcurl(&[
        "-d",
        &request,
        &grpc,
        "rampart.v1.Decisions/Decide",
    ]))
    .expect("grpcurl prints JSON");
    assert_eq!(answer["decision"]["effect"], "EFFECT_ALLOW", "{answer}");
    assert_eq!(
        answer["decision"]["rules"],
        json!(["status-public"]),
        "{answer}"
    );
}
