//! A structured request (via `arbitrary`, drawn from the names of the payments example)
//! against the payments policy, decided every way there is: `decide`, `decide_into`,
//! `decide_effect`, `explain`, `decide_json` of its text, the same after a bundle JSON
//! round-trip (`Bundle` → JSON → `Engine::from_bundle_json`), and the wasm runtime.
//! Invariants: one decision (effect, rules, reasons, errors, obligations, controls) for
//! all of them, byte for byte for the wasm runtime; the explanation lists every deciding
//! rule as applied; fail closed.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rampart_engine::{Decision, TraceOutcome};
use rampart_fuzz::{
    assert_input_error, assert_well_formed, payments, payments_bundle, payments_round_trip,
    PAYMENTS_ENTITIES,
};
use rampart_wasm::Runtime;
use serde_json::{json, Map, Value as Json};

const TYPES: [&str; 5] = ["User", "Service", "Account", "Group", "Class"];
const IDS: [&str; 12] = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "a1",
    "a2",
    "a3",
    "a4",
    "finance",
    "spiffe://internal/reconciler",
    "spiffe://partners/ledger",
];
const ACTIONS: [&str; 3] = ["payments:read", "payments:write", "payments:delete"];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "get", "DELETE"];
const AUTH_METHODS: [&str; 6] = ["jwt", "oidc", "none", "mtls", "api_key", "oauth2"];
const SCOPES: [&str; 5] = ["payments:read", "payments:write", "pci:read", "openid", ""];
const TLS_VERSIONS: [&str; 6] = ["1.3", "1.2", "1.1", "TLSv1.3", "tls1.2", "1.0"];
const IPS: [&str; 4] = ["203.0.113.7", "10.0.0.1", "::1", "not-an-ip"];
const ISSUERS: [&str; 2] = ["https://idp.bank.example", "https://evil.example"];

/// A name from a pool, or any text.
#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Raw(String),
}

impl Pick {
    fn of(&self, pool: &[&str]) -> Json {
        match self {
            Pick::Known(i) => json!(pool[usize::from(*i) % pool.len()]),
            Pick::Raw(text) => json!(text),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Uid {
    ty: Pick,
    id: Pick,
    /// The `Type::"id"` text form instead of the object.
    as_text: bool,
}

impl Uid {
    fn to_json(&self) -> Json {
        let (ty, id) = (self.ty.of(&TYPES), self.id.of(&IDS));
        if self.as_text {
            let (ty, id) = (ty.as_str().unwrap_or(""), id.as_str().unwrap_or(""));
            json!(format!("{ty}::{}", Json::from(id)))
        } else {
            json!({"type": ty, "id": id})
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Shape {
    Direct {
        principal: Option<Uid>,
        action: Pick,
        resource: Uid,
    },
    Http {
        method: Pick,
        account: Pick,
        pay: bool,
        query: Option<String>,
        host: Option<String>,
        headers: Vec<(String, String)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Auth {
    method: Option<Pick>,
    subject: Option<Pick>,
    issuer: Option<Pick>,
    scopes: Vec<Pick>,
    scopes_as_text: bool,
    issued_at: Option<i64>,
    expires_at: Option<i64>,
}

#[derive(Arbitrary, Debug)]
struct Tls {
    version: Option<Pick>,
    mtls: Option<bool>,
    peer: Option<Pick>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    shape: Shape,
    auth: Option<Auth>,
    tls: Option<Tls>,
    source_ip: Option<Pick>,
    time: Option<i64>,
    extra: Option<(String, i64)>,
}

fn insert(map: &mut Map<String, Json>, key: &str, value: Option<Json>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

impl Input {
    fn to_json(&self) -> Json {
        let mut request = Map::new();
        match &self.shape {
            Shape::Direct {
                principal,
                action,
                resource,
            } => {
                insert(
                    &mut request,
                    "principal",
                    principal.as_ref().map(Uid::to_json),
                );
                request.insert("action".into(), action.of(&ACTIONS));
                request.insert("resource".into(), resource.to_json());
            }
            Shape::Http {
                method,
                account,
                pay,
                query,
                host,
                headers,
            } => {
                let account = account.of(&IDS);
                let mut path = format!("/v1/accounts/{}", account.as_str().unwrap_or(""));
                if *pay {
                    path.push_str("/payments");
                }
                if let Some(query) = query {
                    path.push('?');
                    path.push_str(query);
                }
                let headers: Map<String, Json> =
                    headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                let mut http = Map::new();
                http.insert("method".into(), method.of(&METHODS));
                http.insert("path".into(), json!(path));
                insert(&mut http, "host", host.as_ref().map(|h| json!(h)));
                http.insert("headers".into(), Json::Object(headers));
                request.insert("http".into(), Json::Object(http));
            }
        }
        let mut context = Map::new();
        if let Some(auth) = &self.auth {
            let mut map = Map::new();
            insert(
                &mut map,
                "method",
                auth.method.as_ref().map(|m| m.of(&AUTH_METHODS)),
            );
            insert(
                &mut map,
                "subject",
                auth.subject.as_ref().map(|s| s.of(&IDS)),
            );
            insert(
                &mut map,
                "issuer",
                auth.issuer.as_ref().map(|i| i.of(&ISSUERS)),
            );
            let scopes: Vec<Json> = auth.scopes.iter().map(|s| s.of(&SCOPES)).collect();
            let scopes = if auth.scopes_as_text {
                let words: Vec<&str> = scopes.iter().filter_map(Json::as_str).collect();
                json!(words.join(" "))
            } else {
                Json::Array(scopes)
            };
            map.insert("scopes".into(), scopes);
            insert(&mut map, "issued_at", auth.issued_at.map(Json::from));
            insert(&mut map, "expires_at", auth.expires_at.map(Json::from));
            context.insert("auth".into(), Json::Object(map));
        }
        if let Some(tls) = &self.tls {
            let mut map = Map::new();
            insert(
                &mut map,
                "version",
                tls.version.as_ref().map(|v| v.of(&TLS_VERSIONS)),
            );
            insert(&mut map, "mtls", tls.mtls.map(Json::from));
            insert(&mut map, "peer", tls.peer.as_ref().map(|p| p.of(&IDS)));
            context.insert("tls".into(), Json::Object(map));
        }
        if let Some(ip) = &self.source_ip {
            context.insert("source".into(), json!({"ip": ip.of(&IPS)}));
        }
        insert(&mut context, "time", self.time.map(Json::from));
        if let Some((key, value)) = &self.extra {
            context.insert(key.clone(), json!(value));
        }
        request.insert("context".into(), Json::Object(context));
        Json::Object(request)
    }
}

/// The instant the wasm runtime fills `context.time` with, when the request has none.
const NOW_MS: i64 = 1_767_225_600_000;

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new({
        let mut runtime = Runtime::empty("not loaded");
        let bundle = serde_json::to_vec(payments_bundle()).unwrap_or_default();
        let status = runtime.load_bundle(&bundle, Some(PAYMENTS_ENTITIES.as_bytes()));
        assert!(status.starts_with("{\"ok\":true"), "the runtime did not load: {status}");
        runtime
    });
}

fuzz_target!(|input: Input| {
    let text = input.to_json().to_string();
    let (engine, entities) = payments();
    let (again, again_entities) = payments_round_trip();
    let one_call = engine.decide_json(&text, entities);
    assert_eq!(
        again.decide_json(&text, again_entities),
        one_call,
        "the bundle JSON round-trip changed the decision of {text}"
    );
    let answer = RUNTIME.with(|r| r.borrow_mut().decide(text.as_bytes(), Some(NOW_MS)));
    let Ok(mut request) = engine.parse_request(&text) else {
        assert_input_error(&one_call, "unreadable request");
        assert_eq!(
            answer,
            one_call.to_json(),
            "the wasm runtime differs on {text}"
        );
        return;
    };
    let decision = engine.decide(&request, entities);
    assert_well_formed(&decision, engine.bundle(), "request");
    assert_eq!(
        one_call, decision,
        "decide_json differs from decide on {text}"
    );
    let mut buffer = engine.decision_buffer();
    let view = engine.decide_into(&request, entities, &mut buffer);
    assert_eq!(
        view.to_decision(),
        decision,
        "decide_into differs on {text}"
    );
    assert_eq!(engine.decide_effect(&request, entities), decision.decision);
    let (explained, explanation) = engine.explain(&request, entities);
    assert_eq!(explained, decision, "explain differs on {text}");
    for rule in &decision.rules {
        assert!(
            explanation
                .rules
                .iter()
                .any(|t| &t.id == rule && t.outcome != TraceOutcome::NotApplied),
            "the explanation does not show deciding rule `{rule}` applied: {explanation:?}"
        );
    }
    engine.fill_time(&mut request, NOW_MS);
    let timed: Decision = engine.decide(&request, entities);
    assert_eq!(
        answer,
        timed.to_json(),
        "the wasm runtime differs on {text}"
    );
});
