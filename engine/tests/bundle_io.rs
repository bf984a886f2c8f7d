//! The bundle file: roundtrip, refusing other formats and versions, and refusing bundles
//! whose ids, regexes or depths the engine cannot trust.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::bundle::{Expr, ObligationKind, Segment, BUNDLE_VERSION};
use rampart_engine::{Bundle, Engine, LoadError, TlsVersion};
use serde_json::json;

/// A bundle using every construct the IR has.
fn rich() -> Builder {
    let mut p = standard();
    p.action_context("write", "amount", rampart_engine::bundle::Ty::Int, false);
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    )
    .route(None, "/files/{rest*}", "read", ctor("Account", param(0)));
    p.principal_mapping(
        "User",
        ctx("auth.subject"),
        &[ctx("auth.method").eq(variant("AuthMethod", "jwt"))],
    );
    p.rule(
        R::require("tls", ctx("tls.version").ge(tls(TlsVersion::Tls12)))
            .reason("tls")
            .control("pci/4.2.1"),
    )
    .rule(
        R::allow("a")
            .actions(&["read"])
            .on(&["Account"])
            .for_(&["User"])
            .when(
                ctx("auth.scopes")
                    .has_scope(s("x:read"))
                    .and(principal().is_in(set(vec![uid("Group", "g"), resource().dot("owner")]))),
            )
            .when(ctx("source.ip").is_in(set(vec![ip("10.0.0.0/8"), ip("2001:db8::/32")])))
            .unless(
                principal()
                    .dot("department")
                    .like("ops*")
                    .or(principal().dot("department").matches("^x$")),
            )
            .when(
                record(vec![("d", dur("1h")), ("t", ts("2026-01-01T00:00:00Z"))])
                    .has("d")
                    .not()
                    .not(),
            ),
    )
    .rule(
        R::deny("d").when(
            ctx("auth.claims")
                .index("lvl")
                .mul(int(2))
                .sub(int(1))
                .neg()
                .lt(int(0)),
        ),
    );
    p.obligation(O::new("m", OK::Mask(vec!["a".into()])))
        .obligation(O::new("r", OK::RateLimit(10, 60_000, principal())))
        .obligation(
            O::new("h", OK::ResponseHeader("x".into(), s("y"))).with(|r| r.unless(b(false))),
        );
    p
}

#[test]
fn to_json_and_from_json_roundtrip() {
    let bundle = rich().build();
    let text = bundle.to_json();
    let back = Bundle::from_json(&text).unwrap();
    assert_eq!(back, bundle);
    assert_eq!(back.to_json(), text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["format"], "rampart-bundle");
    assert_eq!(value["version"], BUNDLE_VERSION);
    // The engine decides the same with the reloaded bundle.
    let direct = Engine::new(bundle).unwrap();
    let loaded = Engine::from_bundle_json(&text).unwrap();
    let entities = direct.load_entities(ENTITIES).unwrap();
    let loaded_entities = loaded.load_entities(ENTITIES).unwrap();
    for request in [
        req(
            "read",
            json!({"tls": {"version": "1.3"}, "source": {"ip": "10.1.1.1"}, "auth": {"scopes": ["x:*"]}}),
        ),
        req("read", json!({})),
        json!({"http": {"method": "GET", "path": "/v1/accounts/a1"}, "context": {"auth": {"method": "jwt", "subject": "alice"}}}),
    ] {
        let r = request.to_string();
        assert_eq!(
            direct.decide_json(&r, &entities),
            loaded.decide_json(&r, &loaded_entities)
        );
    }
}

#[test]
fn other_versions_and_formats_are_refused() {
    let mut value: serde_json::Value = serde_json::from_str(&rich().build().to_json()).unwrap();
    value["version"] = json!(BUNDLE_VERSION + 1);
    let error = Bundle::from_json(&value.to_string()).unwrap_err();
    assert!(matches!(error, LoadError::Version(ref v) if v.found() == BUNDLE_VERSION + 1));
    assert_eq!(
        error.to_string(),
        format!("bundle version {} is not supported: this engine reads version {BUNDLE_VERSION}; rebuild the bundle with `rampart build`", BUNDLE_VERSION + 1)
    );
    // The version is checked before the rest of the shape.
    let error =
        Bundle::from_json(r#"{"format": "rampart-bundle", "version": 99, "rules": "whatever"}"#)
            .unwrap_err();
    assert!(matches!(error, LoadError::Version(_)));
    let error = Bundle::from_json(r#"{"format": "opa", "version": 1}"#).unwrap_err();
    assert_eq!(error.to_string(), "not a rampart bundle: format is `opa`");
    assert!(matches!(
        Bundle::from_json("not json"),
        Err(LoadError::Json(_))
    ));
    assert!(matches!(
        Bundle::from_json(r#"{"format": "rampart-bundle", "version": 1}"#),
        Err(LoadError::Json(_))
    ));
    let mut bundle = rich().build();
    bundle.version = 0;
    assert!(matches!(Engine::new(bundle), Err(LoadError::Version(_))));
}

fn invalid(change: impl FnOnce(&mut Bundle)) -> String {
    let mut bundle = rich().build();
    change(&mut bundle);
    match Engine::new(bundle) {
        Err(LoadError::Invalid(e)) => e.to_string(),
        other => panic!("expected an invalid bundle, got {other:?}"),
    }
}

#[test]
fn inconsistent_bundles_are_refused() {
    assert_eq!(
        invalid(|b| b.rules[1].scope.actions = Some(vec![42])),
        "invalid bundle: rule `a`: action index 42 is out of range"
    );
    assert_eq!(
        invalid(|b| b.rules[1].package = 9),
        "invalid bundle: rule `a`: package index 9 is out of range"
    );
    assert_eq!(
        invalid(|b| b.rules[0]
            .when
            .conjuncts
            .push(rampart_engine::bundle::Conjunct {
                expr: Expr::Attr(Box::new(Expr::Context), 999),
                text: "x".into()
            })),
        "invalid bundle: rule `tls`: symbol index 999 is out of range"
    );
    assert_eq!(invalid(|b| b.rules[0].require = None), "invalid bundle: rule `tls`: only `require` rules, and all of them, carry a required condition");
    assert_eq!(
        invalid(|b| b.rules[2].when.conjuncts[0].expr =
            Expr::Matches(Box::new(Expr::Action), "(".into()))
        .split(": ")
        .take(3)
        .collect::<Vec<_>>(),
        ["invalid bundle", "rule `d`", "invalid regex `(`"]
    );
    assert_eq!(
        invalid(|b| b.rules[2].when.conjuncts[0].expr = Expr::Param(0)),
        "invalid bundle: rule `d`: a path parameter outside a route"
    );
    assert_eq!(
        invalid(|b| b.routes[0].segments.push(Segment::Param(5))),
        "invalid bundle: route `/v1/accounts/{id}`: path parameter index 5 is out of range"
    );
    assert_eq!(
        invalid(|b| b.routes[1].segments.insert(0, Segment::Rest(0))),
        "invalid bundle: route `/files/{rest*}`: a `{name*}` segment must come last"
    );
    assert_eq!(
        invalid(|b| b.schema.entity_types[0].name = "Nobody".into()),
        "invalid bundle: schema: entity type 0 must be `Anonymous`"
    );
    assert_eq!(
        invalid(|b| b.schema.entity_types[2].parents.push(77)),
        "invalid bundle: entity type `User`: entity type index 77 is out of range"
    );
    assert_eq!(
        invalid(|b| b.principals[0].entity_type = 50),
        "invalid bundle: principal mapping 0: entity type index 50 is out of range"
    );
    assert_eq!(
        invalid(|b| {
            if let ObligationKind::RateLimit { per_ms, .. } = &mut b.obligations[1].kind {
                *per_ms = 1500;
            }
        }),
        "invalid bundle: obligation `r`: a rate-limit period must be a positive whole number of seconds"
    );
    assert_eq!(
        invalid(|b| b.packages[0].imports.push(3)),
        "invalid bundle: packages[0]: package index 3 is out of range"
    );
}

/// `x or x or … or true`, `depth` levels deep.
fn or_chain(depth: usize) -> E {
    (0..depth).fold(b(true), |e, _| b(false).or(e))
}

#[test]
fn deep_expressions_load_and_evaluate_up_to_the_limit() {
    let mut p = standard();
    p.rule(R::allow("deep").when(or_chain(120)));
    let text = p.build().to_json();
    // Run on a small stack (like a wasm module's or a worker thread's) to catch recursion.
    let decision = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let engine = Engine::from_bundle_json(&text).unwrap();
            engine.decide_json(
                &req("read", json!({})).to_string(),
                &engine.empty_entities(),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(decision.rules, ["deep"]);

    let mut p = standard();
    p.rule(R::allow("too-deep").when(or_chain(200)));
    let error = Engine::new(p.build()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid bundle: rule `too-deep`: expression nesting deeper than 128"
    );
    let error = Bundle::from_json(&p.build().to_json()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("bundle is not valid: nesting too deep"),
        "{error}"
    );
}

#[test]
fn loading_normalises_constant_sets() {
    let mut p = standard();
    p.rule(R::allow("a").when(s("b").is_in(E::Lit(rampart_engine::Value::string("placeholder")))));
    let mut bundle = p.build();
    // A set written unsorted and with duplicates, as a hand-edited file might have it.
    let unsorted = rampart_engine::Value::Set(std::sync::Arc::from(vec![
        rampart_engine::Value::string("c"),
        rampart_engine::Value::string("b"),
        rampart_engine::Value::string("c"),
    ]));
    if let Expr::Binary(_, _, right) = &mut bundle.rules[0].when.conjuncts[0].expr {
        **right = Expr::Const(unsorted);
    }
    let engine = Engine::new(bundle).unwrap();
    let d = engine.decide_json(
        &req("read", json!({})).to_string(),
        &engine.empty_entities(),
    );
    assert!(
        d.is_allow(),
        "membership uses binary search on the normalised set"
    );
}
