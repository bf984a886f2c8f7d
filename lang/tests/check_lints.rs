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
