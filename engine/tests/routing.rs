//! Raw HTTP requests: routes turn method and path into action and resource.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::{Engine, RequestError};
use serde_json::json;

/// Routes of every kind; a catch-all allow that reports action and resource through the
/// deciding rule ids (one allow per action × resource id we test).
fn engine() -> Engine {
    let mut p = standard();
    p.entity_type("File", &[]);
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    )
    .route(
        Some("POST"),
        "/v1/accounts/{id}/payments",
        "write",
        ctor("Account", param(0)),
    )
    .route(
        Some("GET"),
        "/v1/accounts/me",
        "admin",
        uid("Account", "me"),
    )
    .route(
        None,
        "/v1/accounts/{id}",
        "write",
        ctor("Account", param(0)),
    )
    .route(
        Some("GET"),
        "/files/{path*}",
        "read",
        ctor("File", param(0)),
    )
    .route(
        Some("GET"),
        "/files/special/{name}",
        "admin",
        ctor("File", param(0)),
    )
    .route(Some("GET"), "/", "read", uid("Account", "root"))
    .route(
        Some("GET"),
        "/v2/{org}/{id}",
        "read",
        ctor("Account", param(1)),
    );
    p.rule(R::allow("anon").for_(&["Anonymous"]));
    p.engine()
}

fn routed(
    engine: &Engine,
    method: &str,
    path: &str,
) -> Result<(String, String, Option<String>), RequestError> {
    let request = engine.request_from_value(&json!({"http": {"method": method, "path": path}}))?;
    let (_, explanation) = engine.explain(&request, &engine.empty_entities());
    Ok((explanation.action, explanation.resource, explanation.route))
}

fn ok(engine: &Engine, method: &str, path: &str) -> (String, String) {
    let (action, resource, _) = routed(engine, method, path).unwrap();
    (action, resource)
}

fn pair(action: &str, resource: &str) -> (String, String) {
    (action.to_string(), resource.to_string())
}

#[test]
fn params_are_bound_and_percent_decoded() {
    let e = engine();
    assert_eq!(
        ok(&e, "GET", "/v1/accounts/a1"),
        pair("read", "Account::\"a1\"")
    );
    assert_eq!(
        ok(&e, "GET", "/v1/accounts/a%201%C3%A9"),
        pair("read", "Account::\"a 1é\"")
    );
    // Paths are canonical before routing (engine::gateway::path): other spellings of a
    // path route alike, and an escaped `/` is refused rather than guessed at.
    for spelling in [
        "//v1/accounts/a1",
        "/v1/./accounts/a1",
        "/v1/x/../accounts/%61%31",
    ] {
        assert_eq!(
            ok(&e, "GET", spelling),
            pair("read", "Account::\"a1\""),
            "{spelling}"
        );
    }
    let error = routed(&e, "GET", "/v1/accounts/a%2Fx").unwrap_err();
    assert!(error.to_string().contains("`%2F` is refused"), "{error}");
    assert_eq!(
        ok(&e, "POST", "/v1/accounts/a1/payments?x=1"),
        pair("write", "Account::\"a1\"")
    );
    assert_eq!(
        ok(&e, "GET", "/v2/acme/a9"),
        pair("read", "Account::\"a9\"")
    );
    let (_, _, route) = routed(&e, "GET", "/v1/accounts/a1").unwrap();
    assert_eq!(route.as_deref(), Some("GET /v1/accounts/{id}"));
}

#[test]
fn literal_beats_param_beats_rest() {
    let e = engine();
    assert_eq!(
        ok(&e, "GET", "/v1/accounts/me"),
        pair("admin", "Account::\"me\"")
    );
    assert_eq!(
        ok(&e, "GET", "/files/special/x"),
        pair("admin", "File::\"x\"")
    );
    assert_eq!(
        ok(&e, "GET", "/files/special/x/y"),
        pair("read", "File::\"special/x/y\""),
        "backtracks to rest"
    );
    assert_eq!(
        ok(&e, "GET", "/files/a/b/c.txt"),
        pair("read", "File::\"a/b/c.txt\"")
    );
    assert_eq!(ok(&e, "GET", "/files/a%20b"), pair("read", "File::\"a b\""));
    assert_eq!(ok(&e, "GET", "/"), pair("read", "Account::\"root\""));
    assert_eq!(ok(&e, "GET", "/?q=1"), pair("read", "Account::\"root\""));
}

#[test]
fn method_specific_beats_any_method() {
    let e = engine();
    assert_eq!(
        ok(&e, "GET", "/v1/accounts/a1"),
        pair("read", "Account::\"a1\"")
    );
    assert_eq!(
        ok(&e, "get", "/v1/accounts/a1"),
        pair("read", "Account::\"a1\""),
        "methods are case-insensitive"
    );
    assert_eq!(
        ok(&e, "DELETE", "/v1/accounts/a1"),
        pair("write", "Account::\"a1\""),
        "falls back to `*`"
    );
    let (_, _, route) = routed(&e, "PUT", "/v1/accounts/a1").unwrap();
    assert_eq!(route.as_deref(), Some("* /v1/accounts/{id}"));
}

#[test]
fn no_route_is_a_deny_with_an_error() {
    let e = engine();
    for (method, path) in [
        ("GET", "/x"),
        ("POST", "/v1/accounts/a1/x"),
        ("GET", "/files"),
        ("GET", "/files/"),
        ("GET", "/v1/accounts/a1/"),
        ("GET", "/v1/accounts/a1//"),
    ] {
        let error = routed(&e, method, path).unwrap_err();
        assert!(
            matches!(error, RequestError::NoRoute(_)),
            "{method} {path}: {error}"
        );
    }
    // Through the JSON door the reading error becomes a deny:
    let d = e.decide_json(
        r#"{"http": {"method": "GET", "path": "/x?y=1"}}"#,
        &e.empty_entities(),
    );
    assert!(!d.is_allow());
    assert_eq!(d.errors[0].message, "no route matches GET /x");
    assert_eq!(d.errors[0].rule, None);
}

#[test]
fn bad_percent_encoding_is_an_error() {
    let e = engine();
    let error = routed(&e, "GET", "/v1/accounts/%zz").unwrap_err();
    assert_eq!(
        error.to_string(),
        "http.path: `/v1/accounts/%zz`: invalid percent-encoding"
    );
}

#[test]
fn http_fills_the_request_context() {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    );
    p.rule(
        R::allow("a")
            .for_(&["Anonymous"])
            .when(ctx("request.method").eq(s("GET")))
            .when(ctx("request.path").eq(s("/v1/accounts/a1")))
            .when(ctx("request.host").eq(s("api")))
            .when(ctx("request.headers").index("x-api-key").eq(s("k")))
            .when(ctx("request.headers").index("accept").eq(s("a, b"))),
    );
    let engine = p.engine();
    let request = json!({"http": {"method": "get", "path": "/v1/accounts/a1?x=1", "host": "api",
        "headers": {"X-Api-Key": "k", "Accept": ["a", "b"]}}});
    let d = decide(&engine, &engine.empty_entities(), request);
    assert!(d.is_allow(), "{d:?}");
}

/// `context.request.query`: the query string of the `http` target, without `?`; absent when
/// the target has none (even when the context gave one: path and query go together).
#[test]
fn http_fills_the_query_string() {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    );
    let anonymous = |id: &str| R::allow(id).for_(&["Anonymous"]);
    let query_is = |text: &str| {
        ctx("request")
            .has("query")
            .and(ctx("request.query").eq(s(text)))
    };
    p.rule(anonymous("token-query").when(query_is("access_token=abc&x=1")))
        .rule(anonymous("empty-query").when(query_is("")))
        .rule(anonymous("no-query").when(ctx("request").has("query").not()))
        .rule(anonymous("path-without-query").when(ctx("request.path").eq(s("/v1/accounts/a1"))));
    let engine = p.engine();
    let entities = engine.empty_entities();
    let rules = |request: serde_json::Value| {
        let d = decide(&engine, &entities, request);
        assert!(d.errors.is_empty(), "{d:?}");
        d.rules
    };
    let http = |path: &str| json!({"http": {"method": "GET", "path": path}});
    assert_eq!(
        rules(http("/v1/accounts/a1?access_token=abc&x=1")),
        ["token-query", "path-without-query"]
    );
    assert_eq!(
        rules(http("/v1/accounts/a1?")),
        ["empty-query", "path-without-query"]
    );
    assert_eq!(
        rules(http("/v1/accounts/a1")),
        ["no-query", "path-without-query"]
    );
    // A fragment is never sent to a server: a target with `#` is refused (denied).
    for target in ["/v1/accounts/a1?a=1#frag", "/v1/accounts/a1#a=1"] {
        let d = decide(&engine, &entities, http(target));
        assert!(!d.is_allow(), "{target}");
        assert!(d.errors[0].message.contains("`#fragment`"), "{d:?}");
    }
    // The `http` target decides: a query the context gave does not survive a target without one.
    let mut overridden = http("/v1/accounts/a1");
    overridden["context"] = json!({"request": {"query": "access_token=abc&x=1"}});
    assert_eq!(rules(overridden), ["no-query", "path-without-query"]);
}

/// Without an `http` part, `context.request.query` is whatever the context gives.
#[test]
fn parts_requests_take_the_query_from_the_context() {
    let mut p = standard();
    p.rule(R::allow("token-query").when(ctx("request.query").like("*access_token=*")))
        .rule(R::allow("no-query").when(ctx("request").has("query").not()));
    let engine = p.engine();
    let entities = entities(&engine);
    let given = decide(
        &engine,
        &entities,
        req("read", json!({"request": {"query": "access_token=abc"}})),
    );
    assert_eq!(given.rules, ["token-query"], "{given:?}");
    let absent = decide(&engine, &entities, req("read", json!({})));
    assert_eq!(absent.rules, ["no-query"], "{absent:?}");
    let wrong = decide(
        &engine,
        &entities,
        req("read", json!({"request": {"query": 5}})),
    );
    assert!(!wrong.is_allow());
    assert!(
        wrong
            .errors
            .iter()
            .any(|e| e.message.contains("context.request.query")),
        "{wrong:?}"
    );
}

#[test]
fn routes_follow_package_selection() {
    let mut p = standard();
    p.package_id("other");
    p.route_in(
        "other",
        Some("GET"),
        "/a/{id}",
        "admin",
        ctor("Account", param(0)),
    )
    .route(Some("GET"), "/a/{id}", "read", ctor("Account", param(0)));
    p.rule(R::allow("anon").for_(&["Anonymous"]));
    let engine = p.engine();
    let action = |package: Option<&str>| {
        let mut r = json!({"http": {"method": "GET", "path": "/a/1"}});
        if let Some(package) = package {
            r["package"] = json!(package);
        }
        let request = engine.request_from_value(&r).unwrap();
        engine.explain(&request, &engine.empty_entities()).1.action
    };
    assert_eq!(action(None), "admin", "first in bundle order");
    assert_eq!(action(Some("main")), "read");
    assert_eq!(action(Some("other")), "admin");
}

#[test]
fn http_and_parts_do_not_mix() {
    let e = engine();
    let error = e
        .request_from_value(&json!({"http": {"method": "GET", "path": "/"}, "action": "read"}))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "action: cannot be given with `http`: the route decides it"
    );
    let error = e
        .request_from_value(&json!({"http": {"path": "/"}}))
        .unwrap_err();
    assert_eq!(error.to_string(), "http.method: missing required field");
    let error = e
        .request_from_value(&json!({"http": {"method": "GET", "path": "/", "body": ""}}))
        .unwrap_err();
    assert_eq!(error.to_string(), "http: unknown field `body`");
    let error = e
        .request_from_value(&json!({"http": {"method": "GET", "path": "/", "headers": {"a": 1}}}))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "http.headers[\"a\"]: expected a string, found `1`"
    );
}
