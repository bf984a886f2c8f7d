//! `test` blocks: compiled to requests in the JSON form `rampart eval` reads (E020 for
//! tests that cannot run).

mod common;

use common::{compile_src, errors, ok, rendered, single_error, with_schema, write_dir};
use rampart_lang::{compile, PolicySet};
use serde_json::json;

const RULE: &str = "@id(\"read\")\nallow \"payments:read\" on Account for User when principal.mfa";

fn with_test(test: &str) -> String {
    with_schema(&format!("{RULE}\n{test}"))
}

#[test]
fn parts_requests_convert_literals_to_their_json_forms() {
    let src = with_test(
        "test \"t\" {\n\
           request principal User::\"alice\" action \"payments:read\" resource Account::\"a1\"\n\
             context { auth: { method: jwt, scopes: [\"payments:read\"], expires_at: 2026-01-01T00:00:00Z },\n\
                       tls: { version: tls1.2 }, source: { ip: 10.1.2.3 }, time: 2026-01-01T00:00:00.250Z }\n\
           expect allow\n\
         }",
    );
    let c = ok(&src);
    let [test] = c.tests.as_slice() else {
        panic!("{:?}", c.tests)
    };
    assert_eq!(test.file, "policy.rampart");
    assert_eq!(test.line, 15);
    assert!(test.expect_allow);
    assert_eq!(test.expect_rules, None);
    assert_eq!(
        test.request,
        json!({
            "principal": {"type": "User", "id": "alice"},
            "action": "payments:read",
            "resource": {"type": "Account", "id": "a1"},
            "context": {
                "auth": {"method": "jwt", "scopes": ["payments:read"], "expires_at": "2026-01-01T00:00:00Z"},
                "tls": {"version": "tls1.2"},
                "source": {"ip": "10.1.2.3"},
                "time": "2026-01-01T00:00:00.250Z"
            }
        })
    );
}

#[test]
fn http_requests_and_inline_entities() {
    let src = with_test(
        "test \"h\" {\n\
           request GET \"/v1/accounts/a1\" headers { \"x-api-key\": \"k\" } context { tls: { mtls: true } }\n\
           entity User::\"bob\" { roles: [\"x\"], mfa: true, department: \"fin\" } in [Group::\"g\"]\n\
           expect deny by [\"read\"]\n\
         }",
    );
    let c = ok(&src);
    let [test] = c.tests.as_slice() else {
        panic!("{:?}", c.tests)
    };
    assert_eq!(
        test.request,
        json!({"http": {"method": "GET", "path": "/v1/accounts/a1", "headers": {"x-api-key": "k"}}, "context": {"tls": {"mtls": true}}})
    );
    assert_eq!(
        test.inline_entities,
        vec![json!({
            "uid": {"type": "User", "id": "bob"},
            "attrs": {"roles": ["x"], "mfa": true, "department": "fin"},
            "parents": [{"type": "Group", "id": "g"}]
        })]
    );
    assert!(!test.expect_allow);
    assert_eq!(test.expect_rules, Some(vec!["read".to_owned()]));
    assert!(test.entity_files.is_empty());
}

#[test]
fn e020_expect_by_unknown_rule_id() {
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" expect deny by [\"raed\"] }"),
        "E020",
    );
    assert_eq!(d.message(), "no rule has id `raed`");
    assert_eq!(d.help_text(), Some("did you mean `read`?"));
}

#[test]
fn e020_missing_entities_file() {
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" entities \"nope/entities.json\" expect deny }"),
        "E020",
    );
    assert_eq!(
        d.message(),
        "entities file `nope/entities.json` does not exist"
    );
}

#[test]
fn entities_files_resolve_relative_to_the_policy_file() {
    let policy =
        with_test("test \"t\" { request GET \"/x\" entities \"data/e.json\" expect deny }");
    let dir = write_dir(
        "entities-relative",
        &[("sub/p.rampart", &policy), ("sub/data/e.json", "[]")],
    );
    let c = compile(&PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}")));
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    let [test] = c.tests.as_slice() else {
        panic!("{:?}", c.tests)
    };
    assert_eq!(test.file, "sub/p.rampart");
    assert_eq!(test.entity_files, vec![dir.join("sub").join("data/e.json")]);
}

#[test]
fn e020_inline_entity_lacking_required_attributes() {
    let d = single_error(
        &with_test(
            "test \"t\" { request GET \"/x\" entity User::\"bob\" { mfa: true } expect deny }",
        ),
        "E020",
    );
    assert_eq!(
        d.message(),
        "entity `User::\"bob\"` lacks required attributes: department, roles"
    );
}

#[test]
fn test_data_is_type_checked_against_the_schema() {
    let d = single_error(
        &with_test(
            "test \"t\" { request GET \"/x\" context { tls: { version: \"1.3\" } } expect deny }",
        ),
        "E006",
    );
    assert_eq!(
        d.message(),
        "type mismatch: expected TlsVersion, found String"
    );
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" context { tls: { mtl: true } } expect deny }"),
        "E005",
    );
    assert_eq!(d.message(), "unknown field `mtl`");
    assert_eq!(d.help_text(), Some("did you mean `mtls`?"));
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" entity User::\"b\" { roles: [], mfa: 1, department: \"x\" } expect deny }"),
        "E006",
    );
    assert_eq!(d.message(), "type mismatch: expected Bool, found Int");
    let d = single_error(
        &with_test(
            "test \"t\" { request GET \"/x\" entity Group::\"g\" in [User::\"u\"] expect deny }",
        ),
        "E006",
    );
    assert_eq!(d.message(), "type mismatch: expected no parent, found User");
    let d = single_error(
        &with_test(
            "test \"t\" { request action \"payments:raed\" resource Account::\"a\" expect deny }",
        ),
        "E007",
    );
    assert_eq!(d.message(), "unknown action `payments:raed`");
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" context { time: now } expect deny }"),
        "E020",
    );
    assert_eq!(d.message(), "test data cannot use `now`");
}

#[test]
fn e020_duplicate_test_names_in_a_file() {
    let d = single_error(
        &with_test("test \"t\" { request GET \"/x\" expect deny }\ntest \"t\" { request GET \"/y\" expect deny }"),
        "E020",
    );
    assert_eq!(d.message(), "duplicate test name `t`");
}

#[test]
fn action_context_fields_are_accepted_in_test_context() {
    let src = "package p\nschema {\n  entity U\n  action \"pay\" on U for U context { amount: Int }\n}\n\
               allow \"pay\" when context.amount < 100 and principal == resource\n\
               test \"t\" { request principal U::\"a\" action \"pay\" resource U::\"a\" context { amount: 5 } expect allow }\n";
    let c = compile_src(src);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    assert_eq!(
        c.tests.first().map(|t| t.request["context"].clone()),
        Some(json!({"amount": 5}))
    );
}
