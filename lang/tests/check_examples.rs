//! Every example of the language design compiles, and compiles to what it says.

mod common;

use common::{errors, rendered, write_dir};
use rampart_engine::bundle::{Expr, RuleKind, Segment};
use rampart_lang::{compile, PolicySet};

/// The full example file of LANGUAGE.md.
const PAYMENTS: &str = r#"package payments

import std.zerotrust          // stdlib packs are ordinary packages
import std.pci_dss as pci

schema {
  entity User    { roles: Set<String>, mfa: Bool, department: String } in [Group]
  entity Group
  entity Service { spiffe_id: String }
  entity Account { owner: User, classification: Class, encrypted_at_rest: Bool }
  enum Class { public, internal, confidential, pci, phi }

  action "payments:read", "payments:write" on Account for User, Service
}

// Gateways send raw HTTP; routes map it to action + resource (compiled to one router).
route GET  "/v1/accounts/{id}"          => "payments:read"  on Account::{id}
route POST "/v1/accounts/{id}/payments" => "payments:write" on Account::{id}

// Who is calling, when the request does not say: first match wins.
principal Service::{context.tls.peer}     when context.tls.mtls
principal User::{context.auth.subject}    when context.auth.method in [jwt, oidc]

@id("tls-min")
@control("pci-dss-4.0/4.2.1", "owasp-api-2023/API8")
require context.tls.version >= tls1.2 for *
  reason "TLS 1.2 or newer is required"

@id("pay-write")
@control("pci-dss-4.0/7.2.1", "owasp-api-2023/API5")
allow "payments:write" on Account for User
  when  context.auth.scopes has_scope "payments:write"
    and (resource.owner == principal or principal in Group::"finance")
    and context.tls.mtls
  unless principal.mfa == false

@id("pci-at-rest")
deny * on Account
  when resource.classification in [pci, phi] and not resource.encrypted_at_rest
  reason "classified data must be encrypted at rest"

@id("short-tokens")
require context.auth.expires_at - context.auth.issued_at <= 1h
  for Service when principal.spiffe_id like "spiffe://partners/*"

@id("mask-pan")
obligation mask ["card.pan", "card.cvv"] on Account
  unless context.auth.scopes has_scope "pci:read"

@id("write-rate")
obligation rate_limit 100 per 1m by principal on "payments:write"

test "owner with scope and mTLS can pay" {
  request principal User::"alice" action "payments:write" resource Account::"a1"
    context { auth: { scopes: ["payments:write"] }, tls: { version: tls1.3, mtls: true } }
  entities "testdata/accounts.json"
  expect allow by ["pay-write"]
}
"#;

const ACCOUNTS: &str = r#"[
  {"uid": {"type": "User", "id": "alice"}, "attrs": {"roles": [], "mfa": true, "department": "fin"}, "parents": []},
  {"uid": {"type": "Account", "id": "a1"}, "attrs": {"owner": {"type": "User", "id": "alice"}, "classification": "internal", "encrypted_at_rest": true}, "parents": []}
]"#;

#[test]
fn the_language_example_compiles() {
    let dir = write_dir(
        "language-example",
        &[
            ("payments.rampart", PAYMENTS),
            ("testdata/accounts.json", ACCOUNTS),
        ],
    );
    let set = PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let compiled = compile(&set);
    assert!(errors(&compiled).is_empty(), "{}", rendered(&compiled));
    let Some(bundle) = compiled.bundle else {
        panic!("no bundle")
    };

    // Packages: payments plus exactly the two imported stdlib packs.
    let names: Vec<&str> = bundle.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["payments", "std.zerotrust", "std.pci_dss"]);
    assert_eq!(
        bundle.packages.first().map(|p| p.imports.clone()),
        Some(vec![1, 2])
    );

    // Builtins are where the IR says.
    assert_eq!(
        bundle.schema.entity_types.first().map(|t| t.name.as_str()),
        Some("Anonymous")
    );
    assert_eq!(
        bundle.schema.enums.first().map(|e| e.name.as_str()),
        Some("AuthMethod")
    );

    let rule = |id: &str| {
        bundle
            .rules
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("rule {id}"))
    };
    let pay = rule("pay-write");
    assert_eq!(pay.kind, RuleKind::Allow);
    assert_eq!(
        pay.controls,
        vec![
            "pci-dss-4.0/7.2.1".to_owned(),
            "owasp-api-2023/API5".to_owned()
        ]
    );
    let texts: Vec<&str> = pay.when.conjuncts.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "context.auth.scopes has_scope \"payments:write\"",
            "resource.owner == principal or principal in Group::\"finance\"",
            "context.tls.mtls"
        ]
    );
    assert!(pay.unless.is_some());
    assert_eq!(
        pay.source.as_ref().map(|s| s.file.as_str()),
        Some("payments.rampart")
    );

    // `[pci, phi]` folded to a constant set of the enum's variants.
    let pci = rule("pci-at-rest");
    let Some(first) = pci.when.conjuncts.first() else {
        panic!("conjuncts")
    };
    let Expr::Binary(_, _, right) = &first.expr else {
        panic!("{:?}", first.expr)
    };
    assert!(
        matches!(**right, Expr::Const(rampart_engine::Value::Set(_))),
        "{right:?}"
    );

    assert_eq!(bundle.routes.len(), 2);
    let Some(route) = bundle.routes.get(1) else {
        panic!("routes")
    };
    assert_eq!(route.method.as_deref(), Some("POST"));
    assert_eq!(route.segments.get(2), Some(&Segment::Param(0)));
    assert_eq!(route.params, vec!["id".to_owned()]);
    assert_eq!(bundle.principals.len(), 2);
    assert_eq!(
        bundle.obligations.iter().filter(|o| o.package == 0).count(),
        2
    );
    let ids: Vec<&str> = bundle.rules.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&"std.zerotrust.tls-min"), "{ids:?}");

    let [test] = compiled.tests.as_slice() else {
        panic!("{:?}", compiled.tests)
    };
    assert_eq!(test.name, "owner with scope and mTLS can pay");
    assert!(test.expect_allow);
    assert_eq!(test.expect_rules, Some(vec!["pay-write".to_owned()]));
    assert_eq!(test.entity_files, vec![dir.join("testdata/accounts.json")]);
    assert_eq!(
        test.request,
        serde_json::json!({
            "principal": {"type": "User", "id": "alice"},
            "action": "payments:write",
            "resource": {"type": "Account", "id": "a1"},
            "context": {"auth": {"scopes": ["payments:write"]}, "tls": {"mtls": true, "version": "tls1.3"}}
        })
    );
}

/// The example's only finding is true: nothing allows `payments:read`, so its route
/// always denies (L009).
#[test]
fn the_language_example_warns_only_about_its_unused_read_route() {
    let dir = write_dir(
        "language-example-lints",
        &[
            ("payments.rampart", PAYMENTS),
            ("testdata/accounts.json", ACCOUNTS),
        ],
    );
    let compiled = compile(&PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}")));
    let found: Vec<(&str, &str)> = compiled
        .diagnostics
        .iter()
        .map(|d| (d.code(), d.message()))
        .collect();
    assert_eq!(found.len(), 1, "{}", rendered(&compiled));
    assert_eq!(found[0].0, "L009", "{}", rendered(&compiled));
    assert!(
        found[0].1.contains("GET /v1/accounts/{id}"),
        "{}",
        rendered(&compiled)
    );
}

#[test]
fn every_stdlib_package_compiles_on_its_own() {
    for (name, _) in rampart_lang::stdlib_packages() {
        let src = format!("package user\nimport {name}\n");
        let compiled = common::compile_src(&src);
        assert!(
            errors(&compiled).is_empty(),
            "{name}:\n{}",
            rendered(&compiled)
        );
    }
    let names: Vec<&str> = rampart_lang::stdlib_packages()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert!(names.contains(&"std.zerotrust"), "{names:?}");
    assert!(names.contains(&"std.pci_dss"), "{names:?}");
}
