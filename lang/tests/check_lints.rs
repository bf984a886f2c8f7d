//! Lints through the public API: messages, and when they run.

mod common;

use common::{compile_src, errors, rendered, with_imports, with_schema};
use rampart_lang::Severity;

/// The warnings of a source that must have no errors: (code, message).
fn warnings(src: &str) -> Vec<(String, String)> {
    let c = compile_src(src);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    c.diagnostics
        .iter()
        .inspect(|d| assert_eq!(d.severity(), Severity::Warning))
        .map(|d| (d.code().to_owned(), d.message().to_owned()))
        .collect()
}

fn one(code: &str, message: &str) -> Vec<(String, String)> {
    vec![(code.to_owned(), message.to_owned())]
}

/// `rest` after the shared schema, with `std.zerotrust` imported: its TLS and token-expiry
/// rules keep L007 and L008 quiet about the classified `Account` data of the schema.
fn guarded(rest: &str) -> String {
    with_imports("import std.zerotrust", rest)
}

#[test]
fn l001_allow_without_authentication() {
    let src = guarded("@id(\"open\")\nallow \"payments:read\" on Account");
    assert_eq!(
        warnings(&src),
        one("L001", "rule `open` allows without checking authentication")
    );
}

#[test]
fn l002_wildcard_action_in_allow() {
    let src = guarded("@id(\"all\")\nallow * on Account for User when principal.mfa");
    assert_eq!(
        warnings(&src),
        one("L002", "rule `all` allows every action")
    );
}

#[test]
fn l003_secret_literal() {
    let src = guarded(
        "@id(\"key\")\nallow \"payments:read\" on Account for User when principal.mfa and context.request.headers[\"authorization\"] == \"Bearer abc\"",
    );
    assert_eq!(
        warnings(&src),
        one("L003", "secret-like literal in policy text")
    );
}

#[test]
fn l004_never_applies() {
    let src = with_schema("const maintenance = false\n@id(\"m\")\ndeny * when maintenance");
    assert_eq!(warnings(&src), one("L004", "rule `m` can never apply"));
    let src = with_schema("@id(\"o\")\nobligation remove_header \"authorization\" when 1 > 2");
    assert_eq!(
        warnings(&src),
        one("L004", "obligation `o` can never apply")
    );
}

#[test]
fn l005_wildcard_scope() {
    let src = guarded("@id(\"w\")\nallow \"payments:read\" on Account for User when context.auth.scopes has_scope \"payments:*\"");
    assert_eq!(
        warnings(&src),
        one("L005", "rule `w` accepts the wildcard scope `payments:*`")
    );
}

#[test]
fn lints_do_not_run_when_there_are_errors() {
    let src = with_schema("allow \"payments:read\" on Account\nallow \"payments:read\" on Account for User when principal.mfaa");
    let c = compile_src(&src);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code()).collect();
    assert_eq!(codes, vec!["E005"]);
}

#[test]
fn lints_do_not_run_on_imported_stdlib_packages() {
    assert!(warnings("package p\nimport std.zerotrust\nimport std.pci_dss\n").is_empty());
}

#[test]
fn a_syntax_error_stops_the_run_without_echoes() {
    let c = common::compile_files(&[
        ("a.rampart", "package a\nallow when\n"),
        ("b.rampart", "package b\nconst x = nope\n"),
    ]);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code()).collect();
    assert_eq!(codes, vec!["E001"]);
    assert!(c.bundle.is_none());
}

#[test]
fn l009_route_without_rule() {
    let src = guarded(
        "route GET \"/v1/accounts/{id}\" => \"payments:write\" on Account::{id}\n@id(\"r\")\nallow \"payments:read\" on Account for User when principal.mfa",
    );
    assert_eq!(
        warnings(&src),
        one(
            "L009",
            "route `GET /v1/accounts/{id}` has no rule that can apply to it"
        )
    );
}

#[test]
fn l010_allow_without_control_reads_the_folder_rampart_toml() {
    let policy =
        guarded("@id(\"r\")\nallow \"payments:read\" on Account for User when principal.mfa");
    let toml = "[compliance]\nframeworks = [\"owasp-api-2023\"]\n";
    let dir = common::write_dir(
        "l010",
        &[("policy.rampart", &policy), ("rampart.toml", toml)],
    );
    let set = rampart_lang::PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let c = rampart_lang::compile(&set);
    let found: Vec<(&str, &str)> = c
        .diagnostics
        .iter()
        .map(|d| (d.code(), d.message()))
        .collect();
    assert_eq!(found, vec![("L010", "allow rule `r` names no `@control`")]);
    let without = common::write_dir("l010-none", &[("policy.rampart", &policy)]);
    let set = rampart_lang::PolicySet::load(&without).unwrap_or_else(|e| panic!("{e}"));
    assert!(rampart_lang::compile(&set).diagnostics.is_empty());
}

/// Issue 6's list of mistakes: one policy folder with each of them reports each lint code.
#[test]
fn every_listed_mistake_is_reported_with_its_code() {
    let policy = r#"package mistakes

schema {
  entity User { roles: Set<String> }
  entity Partner
  entity Account { classification: Class }
  enum Class { public, pci }
  action "payments:read", "payments:write", "payments:refund" on Account for User, Partner
  entity Report
  action "reports:read", "reports:export" on Report for User
}

principal Partner::{context.auth.subject} when context.auth.method == jwt

route POST "/v1/refunds/{id}" => "payments:refund" on Account::{id}

const maintenance = false

@id("open")
allow "payments:read" on Account                                            // L001, L007, L010
@id("everything")
allow * on Report for User when principal.roles contains "admin"            // L002
@id("key")
allow "payments:read" on Account for Partner when context.request.headers["x-api-key"] == "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
@id("frozen")
deny * when maintenance                                                     // L004
@id("wild")
allow "payments:write" on Account for Partner when context.auth.scopes has_scope "payments:*"
@id("no-writes")
deny "payments:write" on Account for User
@id("write")
allow "payments:write" on Account for User when principal.roles contains "writer"   // L006
"#;
    let toml = "[compliance]\nframeworks = [\"pci-dss-4.0\"]\n";
    let dir = common::write_dir(
        "mistakes",
        &[("policy.rampart", policy), ("rampart.toml", toml)],
    );
    let set = rampart_lang::PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let c = rampart_lang::compile(&set);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    let mut codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(
        codes,
        vec!["L001", "L002", "L003", "L004", "L005", "L006", "L007", "L008", "L009", "L010"],
        "{}",
        rendered(&c)
    );
}
