//! `import P with { name: value }`: parsing, formatting, overriding a package's consts
//! for the whole policy set, and E024.

mod common;

use common::{compile_files, compile_src, errors, ok, rendered, single_error};
use rampart_engine::Engine;
use rampart_lang::{format_file, parse, SourceFile};
use serde_json::json;

const SCHEMA: &str = "schema {\n  entity User\n  entity Doc\n  action \"read\" on Doc for User\n}\n\n@id(\"read\")\nallow \"read\" on Doc for User when context.auth.method == jwt\n";

fn policy(imports: &str) -> String {
    format!("package p\n\n{imports}\n\n{SCHEMA}")
}

/// A JWT request over TLS 1.2 whose token lives `hours` hours.
fn request(hours: u32) -> serde_json::Value {
    json!({
        "principal": {"type": "User", "id": "alice"},
        "action": "read",
        "resource": {"type": "Doc", "id": "d1"},
        "context": {
            "auth": {"method": "jwt", "subject": "alice",
                     "issued_at": "2026-01-01T00:00:00Z",
                     "expires_at": format!("2026-01-01T{hours:02}:00:00Z")},
            "tls": {"version": "tls1.2"}
        }
    })
}

/// The effect and deciding rules of a request against a compiled source.
fn decide(src: &str, request: &serde_json::Value) -> (bool, Vec<String>) {
    let c = ok(src);
    let Some(bundle) = c.bundle else {
        panic!("no bundle")
    };
    let engine = Engine::new(bundle).unwrap_or_else(|e| panic!("engine: {e}"));
    let entities = engine.empty_entities();
    let request = engine
        .request_from_value(request)
        .unwrap_or_else(|e| panic!("request: {e}"));
    let decision = engine.decide(&request, &entities);
    (decision.is_allow(), decision.rules.clone())
}

#[test]
fn parses_with_and_without_alias_and_formats_canonically() {
    let src = "package p\nimport std.zerotrust   with {max_token_lifetime:1h,min_tls : tls1.3,}\nimport std.pci_dss as pci with { idle_timeout: 10m }\nimport std.hipaa\n";
    let file = parse(&SourceFile::in_memory("p.rampart", src)).unwrap_or_else(|d| panic!("{d:?}"));
    let [zt, pci, hipaa] = file.imports.as_slice() else {
        panic!("{:?}", file.imports)
    };
    let names: Vec<&str> = zt.params.iter().map(|p| p.name.name.as_str()).collect();
    assert_eq!(names, ["max_token_lifetime", "min_tls"]);
    assert_eq!(pci.local_name(), "pci");
    assert_eq!(pci.params.len(), 1);
    assert!(hipaa.params.is_empty());
    let formatted = format_file(&file);
    assert_eq!(
        formatted,
        "package p\n\nimport std.zerotrust with { max_token_lifetime: 1h, min_tls: tls1.3 }\nimport std.pci_dss as pci with { idle_timeout: 10m }\nimport std.hipaa\n"
    );
    let again =
        parse(&SourceFile::in_memory("p.rampart", &formatted)).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(again, file);
    assert_eq!(format_file(&again), formatted);
}

#[test]
fn long_with_clauses_break_one_parameter_per_line() {
    let src = "package p\nimport std.owasp_api as owasp with { ssrf_allowed_hosts: [\"api.partner.example\", \"hooks.example.org\"], quota_window: 2m }\n";
    let file = parse(&SourceFile::in_memory("p.rampart", src)).unwrap_or_else(|d| panic!("{d:?}"));
    let formatted = format_file(&file);
    assert_eq!(
        formatted,
        "package p\n\nimport std.owasp_api as owasp with {\n  ssrf_allowed_hosts: [\"api.partner.example\", \"hooks.example.org\"],\n  quota_window: 2m,\n}\n"
    );
    let again =
        parse(&SourceFile::in_memory("p.rampart", &formatted)).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(again, file);
}

#[test]
fn with_is_not_reserved_elsewhere() {
    ok("package p\nconst with = 1\nconst w = with + 1\n");
}

#[test]
fn an_override_changes_decisions() {
    // A 2-hour token passes the default (24 h) and is denied under a 1-hour limit.
    let defaults = policy("import std.zerotrust");
    assert_eq!(
        decide(&defaults, &request(2)),
        (true, vec!["read".to_owned()])
    );
    let strict = policy("import std.zerotrust with { max_token_lifetime: 1h }");
    assert_eq!(
        decide(&strict, &request(2)),
        (false, vec!["std.zerotrust.token-lifetime".to_owned()])
    );
    // The TLS floor: TLS 1.2 is refused once the floor is TLS 1.3.
    let tls13 = policy("import std.zerotrust as zt with { min_tls: tls1.3 }");
    assert_eq!(
        decide(&tls13, &request(1)),
        (false, vec!["std.zerotrust.tls-min".to_owned()])
    );
}

#[test]
fn the_override_is_seen_through_the_alias_and_by_other_files() {
    let main = policy("import std.zerotrust as zt with { max_token_lifetime: 1h }\n\nconst twice = zt.max_token_lifetime * 2");
    let other = "package q\nimport std.zerotrust\nconst mine = zerotrust.max_token_lifetime\n";
    let c = compile_files(&[("a.rampart", &main), ("b.rampart", other)]);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
}

#[test]
fn an_override_may_use_the_importers_consts() {
    let src =
        policy("import std.zerotrust with { max_token_lifetime: session }\n\nconst session = 30m");
    let c = compile_src(&src);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    assert_eq!(
        decide(&src, &request(1)),
        (false, vec!["std.zerotrust.token-lifetime".to_owned()])
    );
}

#[test]
fn e024_unknown_parameter_suggests_a_const() {
    let d = single_error(
        &policy("import std.zerotrust with { max_token_lifetim: 1h }"),
        "E024",
    );
    let text = d.render_plain();
    assert!(
        text.contains("`std.zerotrust` has no const `max_token_lifetim`"),
        "{text}"
    );
    assert!(
        text.contains("did you mean `max_token_lifetime`?"),
        "{text}"
    );
}

#[test]
fn e024_wrong_type() {
    let d = single_error(
        &policy("import std.zerotrust with { min_tls: \"1.3\" }"),
        "E024",
    );
    let text = d.render_plain();
    assert!(
        text.contains("`min_tls` is TlsVersion, found String"),
        "{text}"
    );
}

#[test]
fn e024_value_that_is_not_constant() {
    let d = single_error(
        &policy("import std.zerotrust with { min_tls: context.tls.version }"),
        "E024",
    );
    assert!(d
        .render_plain()
        .contains("a parameter cannot use `context`"));
}

#[test]
fn e024_conflicting_overrides_name_both() {
    let a = policy("import std.zerotrust with { max_token_lifetime: 1h }");
    let b = "package q\nimport std.zerotrust with { max_token_lifetime: 2h }\n";
    let c = compile_files(&[("a.rampart", &a), ("b.rampart", b)]);
    let errs = errors(&c);
    assert_eq!(errs.len(), 1, "{}", rendered(&c));
    let text = rendered(&c);
    assert!(text.contains("E024"), "{text}");
    assert!(
        text.contains("conflicting values for `max_token_lifetime`: `1h` and `2h`"),
        "{text}"
    );
    assert!(text.contains("a.rampart` at line"), "{text}");
    // The same value twice is fine.
    let b_same = "package q\nimport std.zerotrust with { max_token_lifetime: 60m }\n";
    let c = compile_files(&[("a.rampart", &a), ("b.rampart", b_same)]);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
}

#[test]
fn e024_parameter_given_twice() {
    let d = single_error(
        &policy("import std.zerotrust with { min_tls: tls1.3, min_tls: tls1.2 }"),
        "E024",
    );
    assert!(d.render_plain().contains("given twice"));
}

#[test]
fn e024_is_explained() {
    let docs = rampart_lang::check::docs::error_docs("E024").unwrap_or_default();
    assert!(docs.starts_with("invalid import parameter"));
}
