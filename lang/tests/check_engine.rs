//! Compiled bundles and test cases run through the engine as the CLI runs them.

mod common;

use common::{compile_src, errors, rendered, with_schema};
use rampart_engine::Engine;
use rampart_lang::{Compiled, TestCase};

fn engine(c: &Compiled) -> Engine {
    let Some(bundle) = c.bundle.clone() else {
        panic!("no bundle:\n{}", rendered(c))
    };
    Engine::new(bundle).unwrap_or_else(|e| panic!("engine: {e}"))
}

/// Runs one test case the way `rampart test` does; `Err` says what differed.
fn run(engine: &Engine, test: &TestCase) -> Result<(), String> {
    let entities = engine
        .entities_from_values(&test.inline_entities)
        .map_err(|e| format!("entities: {e}"))?;
    let request = engine
        .request_from_value(&test.request)
        .map_err(|e| format!("request: {e}"))?;
    let decision = engine.decide(&request, &entities);
    if decision.is_allow() != test.expect_allow {
        return Err(format!("{}: got {decision:?}", test.name));
    }
    if let Some(rules) = &test.expect_rules {
        let (mut want, mut got) = (rules.clone(), decision.rules.clone());
        want.sort();
        got.sort();
        if want != got {
            return Err(format!("{}: rules {got:?}, want {want:?}", test.name));
        }
    }
    Ok(())
}

#[test]
fn compiled_tests_pass_through_the_engine() {
    let src = with_schema(
        r#"
route GET "/v1/accounts/{id}" => "payments:read" on Account::{id}
principal User::{context.auth.subject} when context.auth.method in [jwt, oidc]

@id("read")
allow "payments:read" on Account for User
  when context.auth.scopes has_scope "payments:read" and resource.owner == principal

@id("pci-at-rest")
deny * on Account when resource.classification in [pci, phi] and not resource.encrypted_at_rest

@id("tls")
require context.tls.version >= tls1.2 for *

test "owner reads" {
  request principal User::"alice" action "payments:read" resource Account::"a1"
    context { auth: { scopes: ["payments:*"] }, tls: { version: tls1.3 } }
  entity User::"alice" { roles: [], mfa: true, department: "fin" }
  entity Account::"a1" { owner: User::"alice", classification: internal, encrypted_at_rest: true, tags: [] }
  expect allow by ["read"]
}

test "unencrypted pci data is denied" {
  request principal User::"alice" action "payments:read" resource Account::"a1"
    context { auth: { scopes: ["payments:read"] }, tls: { version: tls1.3 } }
  entity User::"alice" { roles: [], mfa: true, department: "fin" }
  entity Account::"a1" { owner: User::"alice", classification: pci, encrypted_at_rest: false, tags: [] }
  expect deny by ["pci-at-rest"]
}

test "old tls is denied" {
  request principal User::"alice" action "payments:read" resource Account::"a1"
    context { auth: { scopes: ["payments:read"] }, tls: { version: tls1.1 } }
  entity User::"alice" { roles: [], mfa: true, department: "fin" }
  entity Account::"a1" { owner: User::"alice", classification: internal, encrypted_at_rest: true, tags: [] }
  expect deny by ["tls"]
}

test "http request mapped to a jwt user" {
  request GET "/v1/accounts/a1"
    context { auth: { method: jwt, subject: "alice", scopes: ["payments:read"] }, tls: { version: tls1.2 } }
  entity User::"alice" { roles: [], mfa: true, department: "fin" }
  entity Account::"a1" { owner: User::"alice", classification: public, encrypted_at_rest: true, tags: [] }
  expect allow by ["read"]
}
"#,
    );
    let compiled = compile_src(&src);
    assert!(errors(&compiled).is_empty(), "{}", rendered(&compiled));
    let engine = engine(&compiled);
    assert_eq!(compiled.tests.len(), 4);
    let failures: Vec<String> = compiled
        .tests
        .iter()
        .filter_map(|t| run(&engine, t).err())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn bundles_survive_serialization() {
    let compiled = compile_src(&with_schema(
        "deny * on Account when resource.classification in [pci, phi]\nobligation rate_limit 5 per 1s on \"payments:write\"",
    ));
    let Some(bundle) = compiled.bundle else {
        panic!("{}", rendered(&compiled))
    };
    let text = serde_json::to_string(&bundle).unwrap_or_else(|e| panic!("{e}"));
    let back: rampart_engine::Bundle =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, bundle);
    assert!(Engine::new(back).is_ok());
}
