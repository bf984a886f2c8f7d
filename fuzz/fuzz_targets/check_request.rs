//! Bytes as an Envoy `CheckRequest` protobuf → the sidecar's ext_authz door (the typed
//! mapping `Authorization/Check` runs), with bearer tokens verified against the test-only
//! JWKS. Invariants: no panic; the answer is the decision of the door's reference mapping
//! (the request JSON, decided as `/v1/decide` would: same effect and rules); an allow is
//! gRPC OK with an `ok_response` and fails closed, a deny a `denied_response` with
//! 401, 403 or 429 and a JSON body.
#![no_main]

use std::sync::OnceLock;

use envoy_types::ext_authz::v3::pb::{CheckRequest, HttpResponse};
use envoy_types::pb::google::protobuf::{value::Kind, Timestamp};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use rampart_engine::Effect;
use rampart_fuzz::{assert_well_formed, new_payments, repo_root, seeds, MAX_INPUT_BYTES};
use rampart_sidecar::fuzzing::Doors;
use rampart_sidecar::JwtConfig;

fn doors() -> &'static Doors {
    static DOORS: OnceLock<Doors> = OnceLock::new();
    DOORS.get_or_init(|| {
        let (engine, entities) = new_payments();
        let config = JwtConfig {
            issuers: vec![seeds::ISSUER.to_owned()],
            audiences: vec![seeds::AUDIENCE.to_owned()],
            ..JwtConfig::new(repo_root().join("cli/tests/fixtures/jwt/jwks.json"))
        };
        match Doors::new(engine, entities).with_jwks(config) {
            Ok(doors) => doors,
            Err(error) => panic!("the fixture JWKS does not load: {error}"),
        }
    })
}

fuzz_target!(
    init: seeds::write_if_asked("check_request"),
    |data: &[u8]| {
        if data.len() > MAX_INPUT_BYTES {
            return;
        }
        // Bytes that are not a CheckRequest never reach the door: tonic refuses them.
        let Ok(mut check) = CheckRequest::decode(data) else { return };
        // Both mappings then decide at the same instant.
        if let Some(request) = check.attributes.as_mut().and_then(|a| a.request.as_mut()) {
            request.time.get_or_insert(Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            });
        }
        let doors = doors();
        let response = doors.check(&check);
        let reference = doors.check_as_json(&check);
        assert_well_formed(&reference, rampart_fuzz::payments_bundle(), "ext_authz reference mapping");

        let metadata = response.dynamic_metadata.as_ref().map(|m| &m.fields);
        let field = |name: &str| metadata.and_then(|f| f.get(name)).and_then(|v| v.kind.as_ref());
        let effect = match field("decision") {
            Some(Kind::StringValue(effect)) => effect.as_str(),
            other => panic!("no decision in the dynamic metadata: {other:?}"),
        };
        let rules: Vec<&str> = match field("rules") {
            Some(Kind::ListValue(list)) => list
                .values
                .iter()
                .map(|v| match &v.kind {
                    Some(Kind::StringValue(rule)) => rule.as_str(),
                    other => panic!("a rule that is not a string: {other:?}"),
                })
                .collect(),
            other => panic!("no rules in the dynamic metadata: {other:?}"),
        };
        let expected = match reference.decision {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        };
        assert_eq!(
            (effect, rules.as_slice()),
            (expected, reference.rules.iter().map(String::as_str).collect::<Vec<_>>().as_slice()),
            "the typed door and the reference mapping disagree on {check:?}: {reference:?}"
        );

        let code = response.status.as_ref().map(|s| s.code);
        match (&response.http_response, effect) {
            (Some(HttpResponse::OkResponse(_)), "allow") => {
                assert_eq!(code, Some(0), "an allow that is not gRPC OK");
            }
            (Some(HttpResponse::DeniedResponse(denied)), "deny") => {
                assert!(
                    matches!(code, Some(7 | 8 | 16)),
                    "a deny with gRPC status {code:?}"
                );
                let status = denied.status.as_ref().map(|s| s.code);
                assert!(
                    matches!(status, Some(401 | 403 | 429)),
                    "a deny with HTTP status {status:?}"
                );
                if let Err(error) = serde_json::from_str::<serde_json::Value>(&denied.body) {
                    panic!("a deny body that is not JSON ({error}): {}", denied.body);
                }
            }
            (answer, effect) => panic!("a {effect} answered {answer:?}"),
        }
    }
);
