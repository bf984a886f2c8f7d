//! Property tests: arbitrary request JSON, entity files and corrupted bundles never make the
//! engine panic, and a request whose deny/require rules failed is never allowed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use proptest::prelude::*;
use rampart_engine::bundle::RuleKind;
use rampart_engine::{Decision, Effect, Engine, TlsVersion};
use serde_json::{json, Map, Value as Json};

const KEYS: &[&str] = &[
    "auth",
    "tls",
    "source",
    "request",
    "time",
    "scopes",
    "method",
    "version",
    "mtls",
    "ip",
    "port",
    "claims",
    "headers",
    "subject",
    "peer",
    "expires_at",
    "issued_at",
    "mfa",
    "type",
    "id",
    "__entity",
    "__extn",
    "fn",
    "arg",
    "roles",
    "department",
    "nick",
    "owner",
    "classification",
    "encrypted",
    "x",
];

const STRINGS: &[&str] = &[
    "User::\"alice\"",
    "User::\"bob\"",
    "Account::\"a1\"",
    "Group::\"finance\"",
    "Service::\"s\"",
    "Nope::\"x\"",
    "read",
    "write",
    "admin",
    "Action::\"read\"",
    "1.2",
    "tls1.3",
    "TLSv1.0",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "::ffff:10.0.0.1",
    "1h30m",
    "0s",
    "2026-01-01T00:00:00Z",
    "jwt",
    "none",
    "GET",
    "post",
    "/v1/accounts/a1",
    "/files/a/b",
    "/v1/accounts/%zz",
    "main",
    "other",
    "",
    "*",
    "a:*",
    "x:read",
    "pci",
    "ip",
    "alice",
];

fn leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        (-3i64..3).prop_map(Json::from),
        (-1e3f64..1e3).prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(Json::from),
        "\\PC{0,10}".prop_map(Json::from),
    ]
}

fn object_of(value: impl Strategy<Value = Json>) -> impl Strategy<Value = Json> {
    prop::collection::vec((prop::sample::select(KEYS), value), 0..5).prop_map(|fields| {
        Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

fn any_json() -> impl Strategy<Value = Json> {
    leaf().prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            object_of(inner)
        ]
    })
}

/// Mostly well-formed contexts (so rules run), sometimes anything.
fn context() -> impl Strategy<Value = Json> {
    let scopes =
        prop::collection::vec(prop::sample::select(&["x:read", "x:*", "*", "y"][..]), 0..3);
    let auth = (prop::sample::select(&["jwt", "none", "oidc"][..]), prop::option::of(prop::sample::select(&["alice", "bob", "ghost"][..])), scopes, -4i64..6, leaf())
        .prop_map(|(method, subject, scopes, level, x)| json!({"method": method, "subject": subject, "scopes": scopes, "claims": {"level": level, "x": x}}));
    let tls = (
        prop::option::weighted(0.9, prop::sample::select(&["1.0", "1.2", "TLSv1.3"][..])),
        any::<bool>(),
        prop::option::of(prop::sample::select(&["spiffe://a", "x"][..])),
    )
        .prop_map(|(version, mtls, peer)| json!({"version": version, "mtls": mtls, "peer": peer}));
    let time = prop::option::of(prop::sample::select(
        &["2026-01-01T00:00:00Z", "2019-01-01T00:00:00Z"][..],
    ));
    prop_oneof![
        4 => (auth, tls, time).prop_map(|(auth, tls, time)| json!({"auth": auth, "tls": tls, "time": time, "request": {"headers": {"X-A": "b"}}})),
        1 => any_json(),
        1 => object_of(any_json()).prop_map(|c| json!({"auth": {"claims": c}})),
    ]
}

fn mostly(valid: &'static [&'static str]) -> impl Strategy<Value = Json> {
    prop_oneof![18 => prop::sample::select(valid).prop_map(Json::from), 1 => prop::sample::select(STRINGS).prop_map(Json::from), 1 => any_json()]
}

fn request() -> impl Strategy<Value = Json> {
    let principal = prop::option::of(mostly(&[
        "User::\"alice\"",
        "User::\"bob\"",
        "Service::\"s\"",
        "User::\"ghost\"",
    ]));
    let parts = (
        mostly(&["read", "write", "admin"]),
        mostly(&[
            "Account::\"a1\"",
            "Account::\"a2\"",
            "Account::\"zz\"",
            "Group::\"finance\"",
        ]),
    )
        .prop_map(|(action, resource)| json!({"action": action, "resource": resource}));
    let http = (mostly(&["GET", "POST", "DELETE"]), mostly(&["/v1/accounts/a1", "/v1/accounts/a2", "/files/a/b", "/v1/accounts/%zz", "/nothing"]), prop::option::of(object_of(leaf())))
        .prop_map(|(method, path, headers)| json!({"http": {"method": method, "path": path, "headers": headers}}));
    let shape = prop_oneof![12 => parts, 4 => http, 1 => object_of(any_json())];
    let package = prop_oneof![
        6 => Just(None),
        2 => prop::sample::select(&["main", "other"][..]).prop_map(|p| Some(Json::from(p))),
        1 => prop_oneof![Just(Json::from("nope")), leaf()].prop_map(Some),
    ];
    (
        shape,
        principal,
        prop::option::weighted(0.9, context()),
        package,
        prop::bool::weighted(0.05),
    )
        .prop_map(|(shape, principal, context, package, junk)| {
            let mut object = match shape {
                Json::Object(object) => object,
                _ => Map::new(),
            };
            for (key, value) in [
                ("principal", principal),
                ("context", context),
                ("package", package),
            ] {
                if let Some(value) = value {
                    object.insert(key.into(), value);
                }
            }
            if junk {
                object.insert("junk".into(), json!(1));
            }
            Json::Object(object)
        })
}

/// The standard entities plus random ones, or random ones only.
fn entity_files() -> impl Strategy<Value = Vec<Json>> {
    let standard: Vec<Json> = serde_json::from_str(ENTITIES).unwrap();
    let plus_random = standard.clone();
    prop_oneof![
        2 => Just(standard),
        1 => random_entities().prop_map(move |random| plus_random.iter().cloned().chain(random).collect()),
        1 => random_entities(),
    ]
}

fn random_entities() -> impl Strategy<Value = Vec<Json>> {
    let uid = prop_oneof![4 => prop::sample::select(STRINGS).prop_map(Json::from), 1 => any_json()];
    let user_attrs = (prop::collection::vec(prop::sample::select(STRINGS), 0..3), any::<bool>(), leaf(), prop::option::of(prop::sample::select(&["evil", "nice"][..])))
        .prop_map(|(roles, mfa, dept, nick)| json!({"roles": roles, "mfa": mfa, "department": dept, "nick": nick}));
    let attrs = prop_oneof![3 => user_attrs, 1 => object_of(any_json()), 1 => Just(json!({}))];
    let entity = (
        uid.clone(),
        prop::option::of(attrs),
        prop::option::of(prop::collection::vec(uid, 0..3)),
    )
        .prop_map(|(uid, attrs, parents)| json!({"uid": uid, "attrs": attrs, "parents": parents}));
    prop::collection::vec(entity, 0..4)
}

/// Rules that can fail in many ways, so failures in deny/require rules are common.
fn engine() -> Engine {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    )
    .route(None, "/files/{rest*}", "write", ctor("Account", param(0)));
    p.principal_mapping(
        "User",
        ctx("auth.subject"),
        &[ctx("auth.method").eq(variant("AuthMethod", "jwt"))],
    );
    p.rule(R::require("tls-min", ctx("tls.version").ge(tls(TlsVersion::Tls12))).package("other"))
        .rule(R::deny("claims").when(ctx("auth.claims").index("level").mul(int(2)).gt(int(5))))
        .rule(
            R::deny("nick")
                .on(&["Account"])
                .when(principal().has("nick"))
                .when(principal().dot("nick").eq(s("evil"))),
        )
        .rule(
            R::deny("owner-mfa")
                .on(&["Account"])
                .unless(resource().dot("owner").dot("mfa")),
        )
        .rule(R::require("peer", ctx("tls.peer").like("spiffe://*")).for_(&["Service"]))
        .rule(R::allow("scoped").when(ctx("auth.scopes").has_scope(s("x:read"))))
        .rule(R::allow("member").when(principal().is_in(uid("Group", "finance"))))
        .rule(
            R::allow("anon")
                .for_(&["Anonymous"])
                .when(now().gt(ts("2020-01-01T00:00:00Z"))),
        )
        .rule(R::allow("everyone").package("other"));
    p.obligation(O::new(
        "key",
        OK::RateLimit(1, 1000, ctx("auth.claims").index("x")),
    ))
    .obligation(O::new(
        "hdr",
        OK::RequestHeader("x-user".into(), principal()),
    ));
    p.engine()
}

fn check_invariants(engine: &Engine, decision: &Decision) {
    let deny_ids: Vec<&str> = engine
        .bundle()
        .rules
        .iter()
        .filter(|r| r.kind != RuleKind::Allow)
        .map(|r| r.id.as_str())
        .collect();
    let allow_ids: Vec<&str> = engine
        .bundle()
        .rules
        .iter()
        .filter(|r| r.kind == RuleKind::Allow)
        .map(|r| r.id.as_str())
        .collect();
    let deny_failed = decision
        .errors
        .iter()
        .any(|e| e.rule.as_deref().is_some_and(|r| deny_ids.contains(&r)));
    let input_failed = decision.errors.iter().any(|e| e.rule.is_none());
    let obligation_failed = decision
        .errors
        .iter()
        .any(|e| e.rule.as_deref().is_some_and(|r| r == "key" || r == "hdr"));
    if deny_failed || input_failed || obligation_failed {
        assert_eq!(decision.decision, Effect::Deny, "{decision:?}");
    }
    match decision.decision {
        Effect::Allow => {
            assert!(!decision.rules.is_empty());
            assert!(
                decision
                    .rules
                    .iter()
                    .all(|r| allow_ids.contains(&r.as_str())),
                "{decision:?}"
            );
        }
        Effect::Deny => {
            assert!(
                decision
                    .rules
                    .iter()
                    .all(|r| deny_ids.contains(&r.as_str())),
                "{decision:?}"
            );
            assert!(decision.obligations.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_and_entities_never_panic_nor_allow_on_deny_errors(request in request(), files in entity_files()) {
        let engine = engine();
        let entities = engine.entities_from_values(&files).unwrap_or_else(|_| engine.empty_entities());
        let text = request.to_string();
        let decision = engine.decide_json(&text, &entities);
        check_invariants(&engine, &decision);
        if let Ok(parsed) = engine.parse_request(&text) {
            let (explained, explanation) = engine.explain(&parsed, &entities);
            prop_assert_eq!(&explained, &decision);
            prop_assert!(serde_json::to_string(&explanation).is_ok());
        }
        // Entity data as text, including the same items wrapped oddly.
        let _ = engine.load_entities(&json!(files).to_string());
        let _ = engine.load_entities(&text);
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in "\\PC{0,64}", value in any_json()) {
        let engine = engine();
        let entities = engine.empty_entities();
        check_invariants(&engine, &engine.decide_json(&text, &entities));
        check_invariants(&engine, &engine.decide_json(&value.to_string(), &entities));
        let _ = engine.load_entities(&text);
        let _ = engine.load_entities(&value.to_string());
        let _ = Engine::from_bundle_json(&text);
    }

    #[test]
    fn corrupted_bundles_are_refused_or_decide_without_panicking(position in any::<prop::sample::Index>(), replacement in prop_oneof![any::<u32>().prop_map(i64::from), 0i64..12, -2i64..0], request in request()) {
        let mut bundle: Json = serde_json::from_str(&engine().bundle().to_json()).unwrap();
        let mut numbers: Vec<&mut Json> = Vec::new();
        collect_numbers(&mut bundle, &mut numbers);
        let target = position.index(numbers.len());
        *numbers[target] = json!(replacement);
        if let Ok(engine) = Engine::from_bundle_json(&bundle.to_string()) {
            let decision = engine.decide_json(&request.to_string(), &engine.empty_entities());
            check_invariants(&engine, &decision);
        }
    }
}

fn collect_numbers<'j>(json: &'j mut Json, out: &mut Vec<&'j mut Json>) {
    match json {
        Json::Number(_) => out.push(json),
        Json::Array(items) => items.iter_mut().for_each(|i| collect_numbers(i, out)),
        Json::Object(map) => map.values_mut().for_each(|v| collect_numbers(v, out)),
        _ => {}
    }
}

/// Guards the generators: they must reach allows, and failures inside deny rules, often
/// enough for the properties above to mean something.
#[test]
fn generators_reach_interesting_decisions() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let engine = engine();
    let mut runner = TestRunner::deterministic();
    let (mut parsed, mut allowed, mut deny_rule_failed) = (0, 0, 0);
    for _ in 0..400 {
        let request = request()
            .new_tree(&mut runner)
            .unwrap()
            .current()
            .to_string();
        let files = entity_files().new_tree(&mut runner).unwrap().current();
        let entities = engine
            .entities_from_values(&files)
            .unwrap_or_else(|_| engine.empty_entities());
        let decision = engine.decide_json(&request, &entities);
        parsed += usize::from(engine.parse_request(&request).is_ok());
        allowed += usize::from(decision.is_allow());
        deny_rule_failed += usize::from(decision.errors.iter().any(|e| {
            matches!(
                e.rule.as_deref(),
                Some("tls-min" | "claims" | "owner-mfa" | "peer")
            )
        }));
    }
    assert!(
        parsed > 80 && allowed > 4 && deny_rule_failed > 40,
        "parsed {parsed}, allowed {allowed}, deny rules failed {deny_rule_failed}"
    );
}
