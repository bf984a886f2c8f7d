//! Arbitrary method, URI and header sets (structured, via `arbitrary`) → the sidecar's
//! forward-auth door (`/v1/authz`). Invariants: no panic; the status is the decision of the
//! request the door maps (decided by the engine on its own): 200 exactly when it allows,
//! else 401 (no authentication) or 403, always with the decision id.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use rampart_engine::gateway::{is_unauthenticated, DECISION_ID_HEADER};
use rampart_fuzz::{assert_well_formed, new_payments, payments};
use rampart_sidecar::fuzzing::Doors;

/// Header names gateways send, and the ones the door reads.
const NAMES: [&str; 14] = [
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-original-method",
    "x-original-uri",
    "host",
    "authorization",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
    "content-type",
    "cookie",
    "x-api-key",
    "traceparent",
];

/// Values that reach the payments routes and mappings.
const VALUES: [&str; 12] = [
    "GET",
    "POST",
    "/v1/accounts/a1",
    "/v1/accounts/a2/payments",
    "/v1/accounts/%2e%2e/a1",
    "/v1/accounts/a1?x=1",
    "api.bank.example",
    "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln",
    "application/json",
    "203.0.113.7",
    "",
    " ",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The `--forward-auth` mode: nginx, traefik, apisix, envoy or off.
    mode: u8,
    method: Text,
    uri: Text,
    headers: Vec<(Name, Text)>,
}

fn bytes(text: &Text) -> &[u8] {
    match text {
        Text::Known(i) => VALUES[usize::from(*i) % VALUES.len()].as_bytes(),
        Text::Raw(raw) => raw,
    }
}

const MODES: [&str; 5] = ["nginx", "traefik", "apisix", "envoy", "off"];

fn doors(mode: u8) -> &'static Doors {
    static DOORS: [OnceLock<Doors>; 5] = [const { OnceLock::new() }; 5];
    let index = usize::from(mode) % MODES.len();
    DOORS[index].get_or_init(|| {
        let (engine, entities) = new_payments();
        let mode = MODES[index].parse().expect("a forward-auth mode");
        Doors::new(engine, entities).with_forward_auth(mode)
    })
}

fuzz_target!(|input: Input| {
    // What hyper would hand the door: a valid method, URI and header names and values.
    let method = Method::from_bytes(bytes(&input.method)).unwrap_or(Method::GET);
    let mut uri_text = b"/v1/authz".to_vec();
    uri_text.extend_from_slice(bytes(&input.uri));
    let uri = Uri::try_from(uri_text).unwrap_or_else(|_| Uri::from_static("/v1/authz"));
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = match name {
            Name::Known(i) => HeaderName::from_static(NAMES[usize::from(*i) % NAMES.len()]),
            Name::Other(name) => match HeaderName::from_bytes(name.as_bytes()) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        let Ok(value) = HeaderValue::from_bytes(bytes(value)) else {
            continue;
        };
        headers.append(name, value);
    }

    let doors = doors(input.mode);
    let response = doors.forward_auth(&method, &uri, &headers);
    let request = match doors.forward_auth_request(&method, &uri, &headers) {
        Ok(request) => request,
        Err(_) => {
            // The mode's headers are missing or repeated: refused, 403, with a decision id.
            assert_eq!(
                response.status().as_u16(),
                403,
                "a refused request answered otherwise"
            );
            assert!(response.headers().contains_key(DECISION_ID_HEADER));
            return;
        }
    };
    let (engine, entities) = payments();
    let decision = match engine.request_from_value(&request) {
        Ok(mut parsed) => {
            engine.fill_time(&mut parsed, rampart_fuzz::now_ms());
            engine.decide(&parsed, entities)
        }
        Err(error) => rampart_engine::Decision::error(error.to_string()),
    };
    assert_well_formed(&decision, engine.bundle(), "forward-auth request");
    let expected = if decision.is_allow() {
        200
    } else if is_unauthenticated(&request) {
        401
    } else {
        403
    };
    assert_eq!(
        response.status().as_u16(),
        expected,
        "forward-auth answered otherwise than the engine decided {request}: {decision:?}"
    );
    assert!(
        response.headers().contains_key(DECISION_ID_HEADER),
        "a forward-auth answer without a decision id"
    );
});
