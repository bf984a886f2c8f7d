//! Reading request JSON and entity JSON: accepted forms and the errors for bad data.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use rampart_engine::bundle::Ty;
use rampart_engine::{EntityError, EntityUid, RequestError, Value, MAX_REQUEST_BYTES};
use serde_json::json;
use std::sync::Arc;

fn request_error(request: serde_json::Value) -> String {
    let mut p = standard();
    p.action_context("write", "amount", Ty::Int, false);
    p.context_field("tenant", Ty::String, true);
    p.rule(R::allow("a"));
    let engine = p.engine();
    let error = engine.request_from_value(&request).unwrap_err().to_string();
    // Every such request is a deny listing the same message.
    let d = engine.decide_json(&request.to_string(), &engine.empty_entities());
    assert!(!d.is_allow());
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].message, error);
    error
}

fn with_context(context: serde_json::Value) -> String {
    request_error(req("read", context))
}

#[test]
fn request_context_errors_name_the_field() {
    assert_eq!(
        with_context(json!({"tls": {"version": "1.9"}})),
        "context.tls.version: expected a TLS version, found `\"1.9\"`"
    );
    assert_eq!(
        with_context(json!({"tls": {"mtls": "yes"}})),
        "context.tls.mtls: expected a boolean, found `\"yes\"`"
    );
    assert_eq!(
        with_context(json!({"tls": {"bogus": 1}})),
        "context.tls: unknown field `bogus`"
    );
    assert_eq!(
        with_context(json!({"bogus": 1})),
        "context: unknown field `bogus`"
    );
    assert_eq!(
        with_context(json!({"source": {"ip": "10.0.0.300"}})),
        "context.source.ip: expected an IP address or CIDR range, found `\"10.0.0.300\"`"
    );
    assert_eq!(
        with_context(json!({"source": {"port": 1.5}})),
        "context.source.port: expected an integer, found `1.5`"
    );
    assert_eq!(with_context(json!({"auth": {"method": "password"}})), "context.auth.method: expected one of `none`, `api_key`, `jwt`, `oauth2`, `oidc`, `mtls`, found `\"password\"`");
    assert_eq!(
        with_context(json!({"auth": {"scopes": [1]}})),
        "context.auth.scopes[0]: expected a string, found `1`"
    );
    assert_eq!(with_context(json!({"auth": {"expires_at": "tomorrow"}})), "context.auth.expires_at: expected a timestamp: RFC 3339 (`2026-01-01T10:00:00Z`), a date (`2026-01-01`) or epoch seconds, found `\"tomorrow\"`");
    assert_eq!(
        with_context(json!({"auth": {"claims": {"x": 1.5}}})),
        "context.auth.claims.x: expected an integer, found `1.5`"
    );
    assert_eq!(
        with_context(json!({"auth": {"claims": {"a b": [null]}}})),
        "context.auth.claims[\"a b\"][0]: expected a value, found `null`"
    );
    assert_eq!(
        with_context(json!({"request": {"headers": {"x": 1}}})),
        "context.request.headers.x: expected a string, found `1`"
    );
    assert_eq!(
        with_context(json!("ctx")),
        "context: expected an object, found `\"ctx\"`"
    );
    assert_eq!(
        with_context(json!({"tenant": 5})),
        "context.tenant: expected a string, found `5`"
    );
}

#[test]
fn action_context_fields_are_typed_and_required() {
    assert_eq!(
        request_error(req("write", json!({}))),
        "context.amount: missing required field"
    );
    assert_eq!(
        request_error(req("write", json!({"amount": "5"}))),
        "context.amount: expected an integer, found `\"5\"`"
    );
    assert_eq!(
        request_error(req("read", json!({"amount": 5}))),
        "context: unknown field `amount`",
        "only on its action"
    );
}

#[test]
fn request_shape_errors() {
    assert_eq!(
        request_error(json!([])),
        "request: expected an object, found `[]`"
    );
    assert_eq!(
        request_error(json!({"action": "read", "resource": "Account::\"a\"", "x": 1})),
        "request: unknown field `x`"
    );
    assert_eq!(
        request_error(json!({"resource": "Account::\"a\""})),
        "action: missing required field"
    );
    assert_eq!(
        request_error(json!({"action": "read"})),
        "resource: missing required field"
    );
    assert_eq!(
        request_error(json!({"action": "fly", "resource": "Account::\"a\""})),
        "action: unknown action `fly`"
    );
    assert_eq!(
        request_error(json!({"action": 3, "resource": "Account::\"a\""})),
        "action: expected an action name, found `3`"
    );
    assert_eq!(
        request_error(json!({"action": "read", "resource": "Acct::\"a\""})),
        "resource: unknown entity type `Acct`"
    );
    assert_eq!(
        request_error(json!({"action": "read", "resource": "a1"})),
        "resource: expected an entity (`Type::\"id\"` or {\"type\": …, \"id\": …}), found `\"a1\"`"
    );
    assert_eq!(
        request_error(json!({"principal": 7, "action": "read", "resource": "Account::\"a\""}))
            .split(':')
            .next(),
        Some("principal")
    );
    assert_eq!(
        request_error(json!({"package": 1, "action": "read", "resource": "Account::\"a\""})),
        "package: expected a package name, found `1`"
    );
}

#[test]
fn request_syntax_size_and_depth_limits() {
    let mut p = standard();
    p.rule(R::allow("a"));
    let engine = p.engine();
    let e = engine.empty_entities();
    assert!(matches!(
        engine.parse_request("{"),
        Err(RequestError::Syntax(_))
    ));
    assert!(engine.decide_json("{", &e).errors[0]
        .message
        .starts_with("request is not valid JSON: "));
    let huge = format!("{{\"action\": \"read\", \"resource\": \"Account::\\\"a\\\"\", \"context\": {{\"tenant\": \"{}\"}}}}", "x".repeat(MAX_REQUEST_BYTES));
    assert!(matches!(
        engine.parse_request(&huge),
        Err(RequestError::TooLarge(_))
    ));
    // Deep claims: more than 64 levels is refused with a message, never a stack overflow.
    let mut deep = json!("leaf");
    for _ in 0..70 {
        deep = json!([deep]);
    }
    let error = engine
        .request_from_value(&req("read", json!({"auth": {"claims": {"d": deep}}})))
        .unwrap_err()
        .to_string();
    assert!(error.ends_with("nesting deeper than 64 levels"), "{error}");
}

#[test]
fn request_forms_that_are_accepted() {
    let mut p = standard();
    p.rule(
        R::allow("a")
            .when(action().eq(s("read")))
            .when(principal().eq(uid("User", "al\"ice"))),
    );
    let engine = p.engine();
    let e = engine.empty_entities();
    for action in [
        json!("read"),
        json!("Action::\"read\""),
        json!({"type": "Action", "id": "read"}),
        json!({"__entity": {"type": "Action", "id": "read"}}),
    ] {
        for principal in [
            json!("User::\"al\\\"ice\""),
            json!({"type": "User", "id": "al\"ice"}),
            json!({"__entity": {"type": "User", "id": "al\"ice"}}),
        ] {
            let r = json!({"principal": principal, "action": action, "resource": {"type": "Account", "id": "a"}, "package": null, "context": null});
            assert!(decide(&engine, &e, r.clone()).is_allow(), "{r}");
        }
    }
    let request = engine.parse_request(r#"{"principal": "User::\"x\"", "action": "read", "resource": "Account::\"a\"", "context": {"auth": {"scopes": "a  b"}, "tls": {"version": "tls1.2"}}}"#).unwrap();
    assert_eq!(
        request.principal,
        Some(EntityUid {
            ty: engine.entity_type_id("User").unwrap(),
            id: Arc::from("x")
        })
    );
    assert_eq!(
        engine.uid_to_string(request.principal.as_ref().unwrap()),
        "User::\"x\""
    );
    assert_eq!(
        engine.uid_to_string(&EntityUid {
            ty: 1,
            id: Arc::from("a\"\\\n")
        }),
        "Group::\"a\\\"\\\\\\n\""
    );
    let auth = engine
        .bundle()
        .symbols
        .iter()
        .position(|s| s == "auth")
        .unwrap() as u32;
    let Some(Value::Record(auth)) = request.context.get(auth) else {
        panic!()
    };
    let scopes = engine
        .bundle()
        .symbols
        .iter()
        .position(|s| s == "scopes")
        .unwrap() as u32;
    assert_eq!(
        auth.get(scopes),
        Some(&Value::set(vec![Value::string("a"), Value::string("b")]))
    );
}

fn entity_error(json: serde_json::Value) -> EntityError {
    let engine = standard().engine();
    engine.load_entities(&json.to_string()).unwrap_err()
}

#[test]
fn entity_forms_load() {
    let engine = standard().engine();
    let store = entities(&engine);
    assert_eq!(store.len(), 6);
    assert!(!store.is_empty());
    assert!(store.contains(&EntityUid {
        ty: engine.entity_type_id("User").unwrap(),
        id: Arc::from("bob")
    }));
    assert!(engine.load_entities("[]").unwrap().is_empty());
    let parsed: Vec<serde_json::Value> = serde_json::from_str(ENTITIES).unwrap();
    assert_eq!(engine.entities_from_values(&parsed).unwrap().len(), 6);
}

#[test]
fn entity_errors_name_the_entity_and_field() {
    let user =
        |attrs: serde_json::Value| json!([{"uid": {"type": "User", "id": "u"}, "attrs": attrs}]);
    let full = json!({"roles": [], "mfa": true, "department": "d"});
    assert_eq!(
        entity_error(user(json!({"roles": [], "mfa": "yes", "department": "d"}))).to_string(),
        "entity `User::\"u\"` attrs.mfa: expected a boolean, found `\"yes\"`"
    );
    assert_eq!(
        entity_error(user(json!({"roles": [], "department": "d"}))).to_string(),
        "entity `User::\"u\"` attrs.mfa: missing required field"
    );
    let mut extra = full.clone();
    extra["age"] = json!(3);
    assert_eq!(
        entity_error(user(extra)).to_string(),
        "entity `User::\"u\"` attrs: unknown field `age`"
    );
    assert_eq!(
        entity_error(json!([{"uid": "Account::\"a\"", "attrs": {"owner": "Group::\"g\"", "classification": "pci", "encrypted": true}}])).to_string(),
        "entity `Account::\"a\"` attrs.owner: expected an entity of type `User`, found `Group::\"g\"`"
    );
    assert_eq!(
        entity_error(json!([{"uid": "Nope::\"a\""}])).to_string(),
        "entities[0].uid: unknown entity type `Nope`"
    );
    assert_eq!(
        entity_error(json!([{"attrs": {}}])).to_string(),
        "entities[0].uid: missing required field"
    );
    assert_eq!(
        entity_error(json!([{"uid": "Group::\"g\"", "extra": {}}])).to_string(),
        "entities[0]: unknown field `extra`"
    );
    assert_eq!(
        entity_error(json!([1])).to_string(),
        "entities[0]: expected an entity object, found `1`"
    );
    assert_eq!(
        entity_error(json!({})).to_string(),
        "entities: expected an array, found `{}`"
    );
    assert!(matches!(
        standard().engine().load_entities("[{"),
        Err(EntityError::Syntax(_))
    ));
    let mut with_parent = user(full.clone());
    with_parent[0]["parents"] = json!(["Account::\"a\""]);
    assert_eq!(
        entity_error(with_parent).to_string(),
        "entity `User::\"u\"` parents[0]: an entity of type `User` cannot have a parent of type `Account`: the schema allows `Group` and their ancestor types"
    );
    let mut bad_parents = user(full);
    bad_parents[0]["parents"] = json!("Group::\"g\"");
    assert_eq!(
        entity_error(bad_parents).to_string(),
        "entity `User::\"u\"` parents: expected an array, found `\"Group::\\\"g\\\"\"`"
    );
}

#[test]
fn duplicate_uids_and_cycles_are_refused() {
    let error =
        entity_error(json!([{"uid": "Group::\"g\""}, {"uid": {"type": "Group", "id": "g"}}]));
    assert!(matches!(error, EntityError::Duplicate(_)));
    assert_eq!(error.to_string(), "duplicate entity `Group::\"g\"`");
    let error = entity_error(json!([
        {"uid": "Group::\"a\"", "parents": ["Group::\"b\""]},
        {"uid": "Group::\"b\"", "parents": ["Group::\"c\""]},
        {"uid": "Group::\"c\"", "parents": ["Group::\"a\""]},
    ]));
    assert!(matches!(error, EntityError::Cycle(_)));
    assert_eq!(error.to_string(), "cycle in entity parents: `Group::\"a\"` -> `Group::\"b\"` -> `Group::\"c\"` -> `Group::\"a\"`");
    let error = entity_error(json!([{"uid": "Group::\"self\"", "parents": ["Group::\"self\""]}]));
    assert!(matches!(error, EntityError::Cycle(_)));
}

#[test]
fn ancestors_are_transitive_and_deep_chains_load() {
    let mut p = standard();
    p.rule(R::allow("a").when(principal().is_in(uid("Group", "g0"))));
    let engine = p.engine();
    // A chain of 1,500 groups: no recursion, no stack overflow.
    let mut items = vec![
        json!({"uid": "User::\"u\"", "attrs": {"roles": [], "mfa": true, "department": "d"}, "parents": ["Group::\"g1499\""]}),
    ];
    for i in 0..1500 {
        let parents = if i == 0 {
            json!([])
        } else {
            json!([format!("Group::\"g{}\"", i - 1)])
        };
        items.push(json!({"uid": format!("Group::\"g{i}\""), "parents": parents}));
    }
    let store = engine.entities_from_values(&items).unwrap();
    let d = decide(
        &engine,
        &store,
        json!({"principal": "User::\"u\"", "action": "read", "resource": "Account::\"x\""}),
    );
    assert!(d.is_allow());
    // Parents that are not in the data are fine and still count as ancestors.
    let store = engine
        .load_entities(r#"[{"uid": "Group::\"x\"", "parents": ["Group::\"g0\""]}]"#)
        .unwrap();
    let d = decide(
        &engine,
        &store,
        json!({"principal": "User::\"u\"", "action": "read", "resource": "Account::\"x\""}),
    );
    assert!(!d.is_allow(), "u is not in the data, so it has no parents");
    let group_member =
        json!({"principal": "Group::\"x\"", "action": "read", "resource": "Account::\"x\""});
    assert!(decide(&engine, &store, group_member).is_allow());
}

#[test]
fn entities_of_optional_and_nested_types() {
    let mut p = Builder::new();
    let rec = p.record_type(&[("a", Ty::Int, false, None), ("b", Ty::String, true, None)]);
    p.entity_type(
        "Thing",
        &[
            ("r", Ty::Record(Box::new(rec)), false),
            ("m", Ty::Map(Box::new(Ty::Int)), true),
            ("any", Ty::AnyEntity, true),
            ("d", Ty::Duration, true),
        ],
    );
    let engine = p.engine();
    let ok = engine.load_entities(r#"[{"uid": "Thing::\"t\"", "attrs": {"r": {"a": 1}, "m": {"x": 2}, "any": "Thing::\"u\"", "d": "1h30m"}}]"#);
    assert_eq!(ok.unwrap().len(), 1);
    let error = engine
        .load_entities(r#"[{"uid": "Thing::\"t\"", "attrs": {"r": {}}}]"#)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "entity `Thing::\"t\"` attrs.r.a: missing required field"
    );
    let error = engine
        .load_entities(r#"[{"uid": "Thing::\"t\"", "attrs": {"r": {"a": 1}, "d": "forever"}}]"#)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "entity `Thing::\"t\"` attrs.d: expected a duration like `1h30m` or `-5h` (digits and a unit, d h m s or ms, per piece), found `\"forever\"`"
    );
}

/// Finding F17: serde_json keeps the last of repeated keys, so a component in front that
/// keeps the first saw another request than the engine decided. Every repeated key, at
/// any depth, is now a syntax error naming it: a deny, never a choice.
#[test]
fn repeated_keys_are_refused_in_requests_and_entity_data() {
    let mut p = standard();
    p.rule(R::allow("a"));
    let engine = p.engine();
    let e = engine.empty_entities();
    for (text, key) in [
        (
            r#"{"action": "read", "resource": "Account::\"a\"", "action": "write"}"#,
            "action",
        ),
        (
            r#"{"http": {"method": "GET", "path": "/admin", "path": "/"}}"#,
            "path",
        ),
        (
            r#"{"action": "read", "resource": "Account::\"a\"", "context": {"auth": {"claims": {"r": [{"x": 1, "\u0078": 2}]}}}}"#,
            "x",
        ),
    ] {
        let error = engine.parse_request(text).unwrap_err();
        assert!(matches!(error, RequestError::Syntax(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "request is not valid JSON: duplicate key `{key}` at line 1"
            )),
            "{message}"
        );
        let decision = engine.decide_json(text, &e);
        assert!(!decision.is_allow());
        assert_eq!(decision.errors[0].message, message);
    }
    let error = engine
        .load_entities(
            r#"[{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [], "uid": {"type": "User", "id": "root"}}]"#,
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("duplicate key `uid` at line 1"), "{error}");
}

/// Cedar's JSON forms of durations and datetimes, and negative durations, read as the same
/// values as Rampart's own forms; what is still refused says why.
#[test]
fn cedar_extension_forms_and_negative_durations_read_as_rampart_values() {
    let mut p = standard();
    p.context_field("d", Ty::Duration, true);
    p.context_field("t", Ty::Timestamp, true);
    p.context_field("x", Ty::Any, true);
    p.rule(R::allow("a"));
    let engine = p.engine();
    let symbol = |name: &str| {
        engine
            .bundle()
            .symbols
            .iter()
            .position(|s| s == name)
            .unwrap() as u32
    };
    let read = |field: &str, value: serde_json::Value| -> Result<Value, String> {
        let request = engine
            .request_from_value(&req("read", json!({ field: value })))
            .map_err(|e| e.to_string())?;
        Ok(request.context.get(symbol(field)).unwrap().clone())
    };
    let hour = 3_600_000;
    assert_eq!(read("d", json!("-5h")), Ok(Value::Duration(-5 * hour)));
    assert_eq!(
        read("d", json!("-1h30m")),
        Ok(Value::Duration(-3 * hour / 2))
    );
    let extn = |f: &str, arg: &str| json!({"__extn": {"fn": f, "arg": arg}});
    assert_eq!(
        read("d", extn("duration", "-5h")),
        Ok(Value::Duration(-5 * hour))
    );
    let day = read("t", json!("2024-10-10T00:00:00Z")).unwrap();
    assert_eq!(read("t", json!("2024-10-10")), Ok(day.clone()));
    assert_eq!(read("t", extn("datetime", "2024-10-10")), Ok(day));
    assert_eq!(
        read("t", extn("datetime", "2024-10-10T10:00:00-0500")),
        read("t", json!("2024-10-10T15:00:00Z"))
    );
    // Untyped data (claims) takes every extension Rampart has a type for.
    assert_eq!(
        read("x", extn("duration", "-5h")),
        Ok(Value::Duration(-5 * hour))
    );
    assert_eq!(
        read("x", extn("datetime", "2024-10-10")),
        read("t", json!("2024-10-10"))
    );
    assert!(matches!(
        read("x", extn("ip", "10.0.0.1")),
        Ok(Value::Ip(_))
    ));
    assert_eq!(
        read("x", extn("decimal", "-1.25")),
        Ok(Value::Decimal(-12_500))
    );

    // Refused, each with its reason.
    let error = read("d", json!("5h-")).unwrap_err();
    assert!(error.contains("`-5h`"), "{error}");
    assert!(
        read("d", extn("datetime", "5h")).is_err(),
        "the wrong function"
    );
    // Cedar's computed `offset` form: a datetime moved by a duration.
    let offset = json!({"__extn": {"fn": "offset", "args": [
        extn("datetime", "2024-10-10"), extn("duration", "-1h")
    ]}});
    assert_eq!(
        read("t", offset.clone()),
        read("t", json!("2024-10-09T23:00:00Z"))
    );
    assert_eq!(read("x", offset), read("t", json!("2024-10-09T23:00:00Z")));
    let overflow = json!({"__extn": {"fn": "offset", "args": [
        json!(9_200_000_000_000_000i64), extn("duration", "90000000000000000ms")
    ]}});
    assert!(read("t", overflow).is_err(), "an overflow is refused");
    let one_arg = json!({"__extn": {"fn": "offset", "args": [extn("datetime", "2024-10-10")]}});
    assert!(read("t", one_arg).is_err());
    // Nested offsets are read, to a bounded depth (a value built in memory has no parser
    // limit): 20 levels are refused with an error.
    let nest = |levels: usize| {
        let mut v = extn("datetime", "2024-10-10");
        for _ in 0..levels {
            v = json!({"__extn": {"fn": "offset", "args": [v, extn("duration", "1h")]}});
        }
        v
    };
    assert_eq!(read("t", nest(3)), read("t", json!("2024-10-10T03:00:00Z")));
    let error = read("t", nest(20)).unwrap_err();
    assert!(error.contains("nested more than"), "{error}");
    let error = read("x", extn("decimal", "1.25000")).unwrap_err();
    assert!(error.contains("at most four digits"), "{error}");
    let error = read("x", extn("unknownFn", "1")).unwrap_err();
    assert!(
        error.contains("unknown extension function `unknownFn`"),
        "{error}"
    );
    let error = read("t", json!("2024-10-10T10:00:00+05")).unwrap_err();
    assert!(error.contains("a date (`2026-01-01`)"), "{error}");
}

/// The standard schema with tags: `Account` tags are strings, `Group` tags anything JSON
/// says; a rule allows reading an account whose tag named by `context.key` is `"open"`, and
/// a deny reads the principal's `status` tag unguarded.
fn tagged() -> rampart_engine::Engine {
    let mut p = standard();
    p.tags("Account", Ty::String);
    p.tags("User", Ty::String);
    p.tags("Group", Ty::Any);
    p.context_field("key", Ty::String, true);
    p.rule(
        R::allow("open-tag")
            .actions(&["read"])
            .when(resource().has_tag(ctx("key")))
            .when(resource().get_tag(ctx("key")).eq(s("open"))),
    );
    p.rule(
        R::deny("suspended")
            .actions(&["write"])
            .when(principal().get_tag(s("status")).eq(s("suspended"))),
    );
    p.rule(R::allow("writers").actions(&["write"]));
    p.engine()
}

#[test]
fn entity_tags_are_typed_and_read_apart_from_attributes() {
    let engine = tagged();
    let data = json!([
        {"uid": "User::\"alice\"", "attrs": {"roles": [], "mfa": true, "department": "eng"},
         "tags": {"status": "active", "mfa": "a tag, not the attribute"}},
        {"uid": "User::\"bob\"", "attrs": {"roles": [], "mfa": false, "department": "ops"}},
        {"uid": "Account::\"a1\"", "attrs": {"owner": "User::\"alice\"", "classification": "pci", "encrypted": true},
         "tags": {"region": "open", "tier": "closed", "": "open"}},
        {"uid": "Group::\"g\"", "tags": {"any": [1, {"nested": true}]}}
    ]);
    let store = engine.load_entities(&data.to_string()).unwrap();
    let decide_with = |principal: &str, action: &str, resource: &str, key: &str| {
        let request = json!({"principal": principal, "action": action, "resource": resource,
                             "context": {"key": key}});
        engine.decide_json(&request.to_string(), &store)
    };
    let read = |key: &str| decide_with("User::\"alice\"", "read", "Account::\"a1\"", key);
    assert!(read("region").is_allow());
    assert!(read("").is_allow());
    let closed = read("tier");
    assert!(!closed.is_allow() && closed.errors.is_empty());
    // An absent tag: has_tag is false, so the guarded read never errs.
    let absent = read("mfa");
    assert!(!absent.is_allow() && absent.errors.is_empty());
    // An account missing from the data has no tags.
    let missing = decide_with("User::\"alice\"", "read", "Account::\"ghost\"", "region");
    assert!(!missing.is_allow() && missing.errors.is_empty());
    // The unguarded read: present, absent, and on an entity missing from the data.
    assert!(decide_with("User::\"alice\"", "write", "Account::\"a1\"", "k").is_allow());
    for (principal, message) in [
        (
            "User::\"bob\"",
            "entity `User::\"bob\"` has no tag `status`",
        ),
        (
            "User::\"nobody\"",
            "entity `User::\"nobody\"` does not exist",
        ),
    ] {
        let d = decide_with(principal, "write", "Account::\"a1\"", "k");
        assert!(!d.is_allow(), "{principal}: fails closed");
        assert_eq!(d.rules, vec!["suspended".to_owned()]);
        assert!(
            d.errors.iter().any(|e| e.message.contains(message)),
            "{:?}",
            d.errors
        );
    }
}

#[test]
fn entity_tag_errors_name_the_entity_and_tag() {
    let engine = tagged();
    let error = |json: serde_json::Value| {
        engine
            .load_entities(&json.to_string())
            .unwrap_err()
            .to_string()
    };
    let account = |tags: serde_json::Value| json!([{"uid": "Account::\"a\"", "attrs": {"owner": "User::\"u\"", "classification": "pci", "encrypted": true}, "tags": tags}]);
    assert_eq!(
        error(account(json!({"k": 1}))),
        "entity `Account::\"a\"` tags.k: expected a string, found `1`"
    );
    assert_eq!(
        error(account(json!({"a-b": null}))),
        "entity `Account::\"a\"` tags[\"a-b\"]: expected a string, found `null`"
    );
    assert_eq!(
        error(account(json!(["k"]))),
        "entity `Account::\"a\"` tags: expected an object, found `[\"k\"]`"
    );
    // A type without tags: non-empty tags are refused, empty ones (and null) are no tags.
    let service = |tags: serde_json::Value| json!([{"uid": "Service::\"s\"", "attrs": {"spiffe_id": "x"}, "tags": tags}]);
    assert_eq!(
        error(service(json!({"k": "v"}))),
        "entity `Service::\"s\"` tags: the schema declares no tags for entity type `Service`"
    );
    assert!(engine
        .load_entities(&service(json!({})).to_string())
        .is_ok());
    assert!(engine
        .load_entities(&service(json!(null)).to_string())
        .is_ok());
}

#[test]
fn hostile_tags_are_bounded() {
    let engine = tagged();
    // Many tags load (memory grows with the input, which the doors bound) and are found.
    let tags: serde_json::Map<String, serde_json::Value> = (0..50_000)
        .map(|i| (format!("t{i}"), json!("open")))
        .collect();
    let data = json!([{"uid": "Account::\"a\"", "attrs": {"owner": "User::\"u\"", "classification": "pci", "encrypted": true}, "tags": tags}]);
    let store = engine.load_entities(&data.to_string()).unwrap();
    let request = json!({"principal": "User::\"u\"", "action": "read", "resource": "Account::\"a\"", "context": {"key": "t49999"}});
    assert!(engine.decide_json(&request.to_string(), &store).is_allow());
    // Deeply nested tag values: the data depth limit, or the JSON parser's, refuses them.
    for depth in [100, 100_000] {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let data = format!(r#"[{{"uid": "Group::\"g\"", "tags": {{"deep": {deep}}}}}]"#);
        let error = engine.load_entities(&data).unwrap_err().to_string();
        assert!(
            error.contains("nesting deeper than 64 levels") || error.contains("recursion limit"),
            "{depth}: {error}"
        );
    }
}
