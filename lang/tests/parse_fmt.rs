//! Parser and formatter: the documented examples parse, formatting is canonical and
//! idempotent, errors are located and worded for people, deep input is rejected.

mod parse_fmt {
    pub mod ast_gen;
    mod props;
}

use rampart_lang::ast::{
    self, BinOp, ExprKind, Item, Literal, RuleKind, SchemaDecl, ScopeList, TestRequest,
};
use rampart_lang::diagnostics::{Diagnostic, SourceFile};
use rampart_lang::fmt::{format_expr, format_rule_body};
use rampart_lang::{format_file, format_source, parse};

const LANGUAGE_EXAMPLE: &str = include_str!("parse_fmt/language_example.rampart");
const SPEC_EXAMPLES: &str = include_str!("parse_fmt/spec_examples.rampart");

fn parse_ok(text: &str) -> ast::File {
    match parse(&SourceFile::in_memory("test.rampart", text)) {
        Ok(file) => file,
        Err(d) => panic!("parse failed:\n{}", d.render_plain()),
    }
}

fn parse_err(text: &str) -> Diagnostic {
    match parse(&SourceFile::in_memory("test.rampart", text)) {
        Ok(file) => panic!("expected an error, got {file:#?}"),
        Err(d) => d,
    }
}

fn fmt(text: &str) -> String {
    format_file(&parse_ok(text))
}

/// The tree without comments (whose `code_before` offsets change when formatting moves them).
fn without_comments(mut file: ast::File) -> ast::File {
    file.comments.clear();
    file
}

/// `parse(fmt(x)) == parse(x)`, `fmt(fmt(x)) == fmt(x)`, and comments survive in order.
pub fn assert_round_trip(text: &str) {
    let first = parse_ok(text);
    let formatted = format_file(&first);
    let second = parse_ok(&formatted);
    let texts = |f: &ast::File| {
        f.comments
            .iter()
            .map(|c| c.text.trim_end().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(&first),
        texts(&second),
        "comments changed:\n{formatted}"
    );
    assert_eq!(
        format_file(&second),
        formatted,
        "formatting is not idempotent"
    );
    assert_eq!(
        without_comments(first),
        without_comments(second),
        "tree changed by formatting:\n{formatted}"
    );
}

/// The only condition of the first rule of `package a\n{rule}`.
fn condition(text: &str) -> ast::Expr {
    let file = parse_ok(&format!("package a\nallow * when {text}"));
    match file.items.into_iter().next() {
        Some(Item::Rule(ast::Rule { when: Some(e), .. })) => e,
        other => panic!("no rule: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Documented examples
// ---------------------------------------------------------------------------------------

#[test]
fn language_md_example_parses_and_round_trips() {
    let file = parse_ok(LANGUAGE_EXAMPLE);
    assert_eq!(file.package.dotted(), "payments");
    assert_eq!(file.imports.len(), 2);
    assert_eq!(file.imports[1].local_name(), "pci");
    assert_eq!(file.items.len(), 12);
    assert_eq!(file.comments.len(), 3);
    assert_round_trip(LANGUAGE_EXAMPLE);
}

#[test]
fn language_md_example_formats_like_the_design() {
    let formatted = fmt(LANGUAGE_EXAMPLE);
    let expected_rule = r#"@id("pay-write")
@control("pci-dss-4.0/7.2.1", "owasp-api-2023/API5")
allow "payments:write" on Account for User
  when  context.auth.scopes has_scope "payments:write"
    and (resource.owner == principal or principal in Group::"finance")
    and context.tls.mtls
  unless principal.mfa == false
"#;
    assert!(formatted.contains(expected_rule), "{formatted}");
    let expected_test = r#"test "owner with scope and mTLS can pay" {
  request principal User::"alice" action "payments:write" resource Account::"a1"
    context { auth: { scopes: ["payments:write"] }, tls: { version: tls1.3, mtls: true } }
  entities "testdata/accounts.json"
  expect allow by ["pay-write"]
}
"#;
    assert!(formatted.contains(expected_test), "{formatted}");
    assert!(formatted.contains(
        "route GET \"/v1/accounts/{id}\" => \"payments:read\" on Account::{id}\nroute POST"
    ));
    assert!(formatted.starts_with(
        "package payments\n\nimport std.zerotrust // stdlib packs are ordinary packages\n"
    ));
}

#[test]
fn spec_examples_parse_and_round_trip() {
    let file = parse_ok(SPEC_EXAMPLES);
    assert_eq!(file.package.dotted(), "payments.core");
    assert_round_trip(SPEC_EXAMPLES);
}

#[test]
fn schema_declarations_have_their_shape() {
    let file = parse_ok(SPEC_EXAMPLES);
    let Some(Item::Schema(schema)) = file.items.first() else {
        panic!("no schema")
    };
    let decls = &schema.decls;
    let SchemaDecl::Entity(user) = &decls[0] else {
        panic!()
    };
    assert_eq!(user.attrs.len(), 3);
    assert!(user.attrs[2].optional);
    assert!(
        matches!(&user.attrs[0].ty.kind, ast::TypeExprKind::Set(inner) if matches!(&inner.kind, ast::TypeExprKind::Named(n) if n.name == "String"))
    );
    assert_eq!(user.parents[0].name, "Group");
    let SchemaDecl::Entity(team) = &decls[2] else {
        panic!()
    };
    assert_eq!(team.parents[0].name, "Group");
    let SchemaDecl::Enum(class) = &decls[3] else {
        panic!()
    };
    assert_eq!(class.variants.len(), 5);
    let SchemaDecl::Action(read) = &decls[4] else {
        panic!()
    };
    assert_eq!(read.names.len(), 2);
    assert_eq!(read.resources.len(), 2);
    assert_eq!(read.principals.len(), 2);
    assert_eq!(read.context.len(), 1);
    // `context { … }` on the line after an action is a declaration of its own.
    let SchemaDecl::Action(health) = &decls[5] else {
        panic!()
    };
    assert!(health.context.is_empty());
    let SchemaDecl::Context(context) = &decls[6] else {
        panic!("{:?}", decls[6])
    };
    assert_eq!(context.attrs.len(), 2);
    assert_eq!(decls.len(), 7);
}

#[test]
fn action_context_on_the_same_line_belongs_to_the_action() {
    let file = parse_ok("package a\nschema {\n  action \"x\" on A\n    context { a: Int }\n  action \"y\" context { b: Int }\n}");
    let Some(Item::Schema(schema)) = file.items.first() else {
        panic!()
    };
    assert!(
        matches!(&schema.decls[..], [SchemaDecl::Action(x), SchemaDecl::Context(_), SchemaDecl::Action(y)]
        if x.context.is_empty() && y.context.len() == 1)
    );
}

#[test]
fn rules_have_their_scopes() {
    let file = parse_ok(SPEC_EXAMPLES);
    let rules: Vec<&ast::Rule> = file
        .items
        .iter()
        .filter_map(|i| if let Item::Rule(r) = i { Some(r) } else { None })
        .collect();
    let allow_anon = rules[0];
    assert_eq!(allow_anon.annotations[0].args[0].value, "r1");
    assert_eq!(allow_anon.scope.actions, Some(ScopeList::Any));
    assert!(allow_anon.scope.resources.is_none());
    let allow_two = rules[2];
    assert!(matches!(&allow_two.scope.resources, Some(ScopeList::List(t)) if t.len() == 2));
    let require_all = rules[4];
    assert_eq!(require_all.kind, RuleKind::Require);
    assert_eq!(require_all.scope.actions, Some(ScopeList::Any));
    let require_types = rules[6];
    assert!(require_types.scope.actions.is_none());
    assert!(matches!(&require_types.scope.principals, Some(ScopeList::List(t)) if t.len() == 2));
    assert_eq!(
        rules[5].reason.as_ref().map(|r| r.value.as_str()),
        Some("mfa required")
    );
}

#[test]
fn obligations_and_tests_have_their_shape() {
    let file = parse_ok(SPEC_EXAMPLES);
    let obligations: Vec<&ast::Obligation> = file
        .items
        .iter()
        .filter_map(|i| {
            if let Item::Obligation(o) = i {
                Some(o)
            } else {
                None
            }
        })
        .collect();
    assert!(
        matches!(&obligations[1].kind, ast::ObligationKind::RateLimit { limit: 100, by: None, per, .. }
        if per.kind == ExprKind::Lit(Literal::Duration(60_000)))
    );
    let limited = &obligations[2];
    assert!(matches!(&limited.scope.actions, Some(ScopeList::List(a)) if a[0].value == "a:write"));
    assert!(matches!(&limited.scope.resources, Some(ScopeList::List(t)) if t[0].name == "Account"));
    assert!(matches!(&limited.scope.principals, Some(ScopeList::List(t)) if t[0].name == "User"));
    let tests: Vec<&ast::Test> = file
        .items
        .iter()
        .filter_map(|i| if let Item::Test(t) = i { Some(t) } else { None })
        .collect();
    assert_eq!(tests[0].entities.len(), 4);
    assert!(
        matches!(&tests[0].entities[2], ast::TestEntities::Inline { attrs: Some(_), parents, .. } if parents.len() == 1)
    );
    assert!(tests[0].expect.allow);
    assert!(
        matches!(&tests[1].request, TestRequest::Http { method, headers: Some(_), context: Some(_), principal: None, .. } if method.name == "GET")
    );
    assert!(matches!(
        &tests[2].request,
        TestRequest::Parts {
            principal: None,
            context: None,
            ..
        }
    ));
    assert_eq!(tests[2].expect.rules, Some(vec![]));
}

// ---------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------

#[test]
fn precedence_follows_the_spec() {
    let cases = [
        ("a or b and c", "a or b and c"),
        ("(a or b) and c", "(a or b) and c"),
        ("not a == b", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("not (a and b)", "not (a and b)"),
        ("a + b * c == d - -e", "a + b * c == d - -e"),
        ("(a + b) * c", "(a + b) * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a and (b and c)", "a and (b and c)"),
        ("-a.b", "-a.b"),
        ("(-a).b", "(-a).b"),
        ("x.contains(y) == true", "x.contains(y) == true"),
        ("x.contains(y)", "x contains y"),
        ("(x has y) == false", "(x has y) == false"),
        ("(a + 1).contains_any([1])", "a + 1 contains_any [1]"),
        (
            "((a + 1) contains_all [1]) == b",
            "(a + 1 contains_all [1]) == b",
        ),
        ("a.b.contains_all([1]) != b", "a.b.contains_all([1]) != b"),
        ("(5).x", "(5).x"),
        ("(10.0.0.1).x", "(10.0.0.1).x"),
        ("not not a", "not not a"),
        ("- -1", "--1"),
        ("a in [1, 2] or b", "a in [1, 2] or b"),
    ];
    for (input, expected) in cases {
        let e = condition(input);
        assert_eq!(format_expr(&e), expected, "for {input}");
        assert_eq!(condition(&format_expr(&e)), e, "re-parse of {input}");
    }
}

#[test]
fn method_forms_are_the_infix_nodes() {
    for (method, op) in [
        ("contains", BinOp::Contains),
        ("contains_any", BinOp::ContainsAny),
        ("contains_all", BinOp::ContainsAll),
    ] {
        assert_eq!(
            condition(&format!("s.{method}(x)")),
            condition(&format!("s {method} x"))
        );
        assert!(
            matches!(condition(&format!("s.{method}(x)")).kind, ExprKind::Binary(o, _, _) if o == op)
        );
    }
}

#[test]
fn a_method_call_needs_its_parenthesis_right_after_the_name() {
    let file = parse_ok("package a\ntest \"t\" {\n  request action \"a\" resource R::\"r\"\n  entity U::\"u\".contains (x)\n  expect deny\n}");
    let Some(Item::Test(test)) = file.items.first() else {
        panic!()
    };
    assert!(
        matches!(&test.entities[0], ast::TestEntities::Inline { uid, attrs: Some(attrs), .. }
        if matches!(&uid.kind, ExprKind::Attr(_, name) if name.name == "contains")
            && matches!(&attrs.kind, ExprKind::Var(v) if v.name == "x"))
    );
    assert!(matches!(
        condition("s.contains(x)").kind,
        ExprKind::Binary(BinOp::Contains, _, _)
    ));
}

#[test]
fn spans_cover_exactly_the_written_text() {
    let text = "package a\n@id(\"r\")\nallow * when x   // why\n  unless y.z  \n\nconst k = 1 + 2 // sum\n";
    let file = parse_ok(text);
    let slice = |span: ast::Span| &text[span.range()];
    let Some(Item::Rule(rule)) = file.items.first() else {
        panic!()
    };
    assert_eq!(slice(rule.span), "allow * when x   // why\n  unless y.z");
    assert_eq!(rule.unless.as_ref().map(|e| slice(e.span)), Some("y.z"));
    assert_eq!(slice(rule.annotations[0].span), "@id(\"r\")");
    let Some(Item::Const(k)) = file.items.get(1) else {
        panic!()
    };
    assert_eq!(slice(k.span), "const k = 1 + 2");
    assert_eq!(slice(k.value.span), "1 + 2");
    assert_eq!(file.comments[1].code_before, Some(k.span.end));
}

#[test]
fn has_keeps_the_written_form() {
    assert!(
        matches!(condition("p has name").kind, ExprKind::Has { quoted: false, ref attr, .. } if attr.value == "name")
    );
    assert!(
        matches!(condition("p has \"x-y\"").kind, ExprKind::Has { quoted: true, ref attr, .. } if attr.value == "x-y")
    );
    assert_eq!(format_expr(&condition("p has \"name\"")), "p has \"name\"");
}

#[test]
fn literals_are_canonical() {
    let cases = [
        ("90m", "1h30m"),
        ("1h90m", "2h30m"),
        ("0ms", "0s"),
        ("1500ms", "1s500ms"),
        ("90d", "90d"),
        ("2026-01-01T10:00:00.250+02:00", "2026-01-01T08:00:00.250Z"),
        ("2026-01-01t00:00:00z", "2026-01-01T00:00:00Z"),
        ("10.0.0.1/32", "10.0.0.1"),
        ("2001:DB8:0:0::1/128", "2001:db8::1"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("007", "7"),
        ("12.50", "12.5"),
        ("007.0000", "7.0"),
        ("0.0001", "0.0001"),
        ("\"a\\u{41}\\n\\\"\"", "\"aA\\n\\\"\""),
        ("\"\\u{7}\"", "\"\\u{7}\""),
        (
            "{ \"a\": 1, \"b-c\": 2, in: 3 }",
            "{ a: 1, \"b-c\": 2, in: 3 }",
        ),
        ("Face::\"x\"", "Face::\"x\""),
        ("Dead::{a}", "Dead::{a}"),
        ("Face :: \"x\"", "Face::\"x\""),
    ];
    for (input, expected) in cases {
        assert_eq!(format_expr(&condition(input)), expected, "for {input}");
    }
    assert!(matches!(
        condition("fe80::1").kind,
        ExprKind::Lit(Literal::Ip(_))
    ));
    assert!(matches!(
        condition("Face::\"x\"").kind,
        ExprKind::EntityRef { .. }
    ));
    assert!(matches!(
        condition("9223372036854775807").kind,
        ExprKind::Lit(Literal::Int(i64::MAX))
    ));
}

/// Issue 11 (Trojan Source): `fmt` once turned `"\u{202e}"` into the raw character. Every
/// character a reviewer cannot see stays (or becomes) an escape; visible text stays as is.
#[test]
fn invisible_characters_stay_escaped() {
    for c in [
        '\u{202e}',
        '\u{2066}',
        '\u{2069}',
        '\u{200e}',
        '\u{61c}',
        '\u{200b}',
        '\u{200d}',
        '\u{2060}',
        '\u{feff}',
        '\u{ad}',
        '\u{e0041}',
        '\u{0}',
        '\u{1b}',
        '\u{85}',
        '\u{2028}',
        '\u{fffe}',
        '\u{10ffff}',
        '\u{3164}',
    ] {
        let escaped = format!("\"a\\u{{{:x}}}b\"", u32::from(c));
        assert_eq!(format_expr(&condition(&escaped)), escaped, "escaped {c:?}");
        let raw = format!("\"a{c}b\"");
        if c != '\u{0}' {
            assert_eq!(format_expr(&condition(&raw)), escaped, "raw {c:?}");
        }
    }
    let visible = "\"caf\u{e9} \u{4e2d}\u{6587} \u{1f600} a\u{301}\"";
    assert_eq!(format_expr(&condition(visible)), visible);
}

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

#[test]
fn formats_a_small_file_canonically() {
    let input = "package  a.b\nimport std.x as   y\n@id( \"r\" )\n@flag()\nallow [\"x\"]on[A]for[B,C]when a&&b";
    assert_eq!(parse_err(input).code(), "E001");
    let input = "// header\npackage  a.b\nimport std.x as   y\nimport c\n@id( \"r\" )\n@flag()\nallow [\"x\"]on[A]for[B,C]when a and b // trailing\n\n\n\nconst   k=1\nconst j = k\n// the end";
    let expected = "// header\npackage a.b\n\nimport std.x as y\nimport c\n\n@id(\"r\")\n@flag\nallow \"x\" on A for B, C when a and b // trailing\n\nconst k = 1\nconst j = k\n\n// the end\n";
    assert_eq!(fmt(input), expected);
    assert_round_trip(input);
}

#[test]
fn long_rules_break_into_clauses() {
    let long = "x".repeat(40);
    let input =
        format!("package a\ndeny * unless {long} or {long} when {long} == {long} reason \"r\"");
    // Clauses come in any order; the formatter writes `when` first.
    let reordered = format!(
        "package a\n\ndeny *\n  when {long} == {long}\n  unless {long} or {long}\n  reason \"r\"\n"
    );
    assert_eq!(fmt(&input), reordered);
    let input =
        format!("package a\ndeny * when {long} == {long} unless {long} or {long} reason \"r\"");
    let expected = format!(
        "package a\n\ndeny *\n  when {long} == {long}\n  unless {long} or {long}\n  reason \"r\"\n"
    );
    assert_eq!(fmt(&input), expected);
    let input =
        format!("package a\nobligation remove_header \"x\" unless {long} and {long} and {long}");
    let expected = format!("package a\n\nobligation remove_header \"x\"\n  unless {long}\n    and {long}\n    and {long}\n");
    assert_eq!(fmt(&input), expected);
}

#[test]
fn long_schema_declarations_break_per_attribute() {
    let attrs: Vec<String> = (0..8).map(|i| format!("attribute_{i}: String")).collect();
    let input = format!(
        "package a\nschema {{ entity E {{ {} }} in [G] }}",
        attrs.join(", ")
    );
    let formatted = fmt(&input);
    assert!(
        formatted.contains("  entity E {\n    attribute_0: String,\n"),
        "{formatted}"
    );
    assert!(
        formatted.contains("    attribute_7: String,\n  } in [G]\n}"),
        "{formatted}"
    );
    assert_round_trip(&input);
}

#[test]
fn comments_are_kept_next_to_their_code() {
    let input = "package a // the package\n// about the schema\nschema { // opening\n  // user\n  entity User // trailing\n  // dangling\n}\n\nallow * // on the head\n  when x // inside the rule\n  unless y\n// last\n";
    let expected = "package a // the package\n\n// about the schema\nschema {\n  // opening\n  // user\n  entity User // trailing\n  // dangling\n}\n\n// on the head\n// inside the rule\nallow * when x unless y\n\n// last\n";
    assert_eq!(fmt(input), expected);
    assert_round_trip(input);
    // Comment markers inside strings are not comments.
    let file = parse_ok("package a\nconst x = \"http://example.com\" // real");
    assert_eq!(file.comments.len(), 1);
    assert_eq!(file.comments[0].text, " real");
}

#[test]
fn blank_lines_between_items_and_comments_are_kept() {
    let input = "// header\n\n\npackage a\n\n\n// k1\nconst k = 1\n\n// k2\nconst j = 2\nconst i = 3\n\nroute GET \"/a\" => \"a\" on A::{x}\nroute GET \"/b\" => \"b\" on A::{x}\n\n\nroute GET \"/c\" => \"c\" on A::{x}\n@id(\"r\")\n\nallow *\n\n  // inside\n  when x\nschema {\n\n  entity A\n\n\n  // b\n  entity B\n  entity C\n\n}\n";
    let expected = "// header\n\npackage a\n\n// k1\nconst k = 1\n\n// k2\nconst j = 2\nconst i = 3\n\nroute GET \"/a\" => \"a\" on A::{x}\nroute GET \"/b\" => \"b\" on A::{x}\n\nroute GET \"/c\" => \"c\" on A::{x}\n\n// inside\n@id(\"r\")\nallow * when x\n\nschema {\n  entity A\n\n  // b\n  entity B\n  entity C\n}\n";
    assert_eq!(fmt(input), expected);
    assert_round_trip(input);
    // A comment moved out of an item stays next to it; the item's blank line goes first.
    let input = "package a\nallow *\n\ntest \"t\" { request action \"a\" // why\n  resource R::\"r\"\n  expect deny // the rule denies\n}\n";
    let expected = "package a\n\nallow *\n\ntest \"t\" {\n  // why\n  request action \"a\" resource R::\"r\"\n  expect deny // the rule denies\n}\n";
    assert_eq!(fmt(input), expected);
    assert_round_trip(input);
}

#[test]
fn every_construct_breaks_to_fit_the_width() {
    let input = r#"package a
import std.x with { names: ["documents:read", "documents:write", "documents:share", "documents:delete"] }
const scopes = ["documents:read", "documents:write", "documents:share", "documents:delete", "admin:all"]
@control("pci-dss-4.0/4.2.1", "pci-dss-4.0/12.3.3", "owasp-api-2023/API8", "nist-800-207/ZT-2", "soc2/CC6.1")
deny * when (context.request has query and context.request.query matches "(?i)(^|&)(access_token|api_key)=") or (context.request has path and context.request.path matches "(?i)[?&](access_token|api_key)=")
require context.source has ip and context.source.ip in principal.tenant.allowed_networks for User, Client when principal.tenant.ip_allowlist
obligation request_header "x-break-glass-reason" = context.break_glass_reason on "records:emergency_read"
route POST "/v1/patients/{patient}/records/{id}/emergency" => "records:emergency_read" on Record::{id}
schema { context { owasp_api?: { object_owner?: String, object_tenant?: String, write_properties?: Set<String>, outbound_host?: String } } }
test "t" {
  request principal User::"alice" action "read" resource Doc::"d1" context { auth: { method: jwt, subject: "alice", scopes: ["documents:read", "documents:write", "documents:share"], issued_at: 2026-01-01T09:00:00Z }, tls: { version: tls1.3 }, time: 2026-01-01T10:00:00Z }
  expect deny by ["std.gdpr.transport-encryption", "std.gdpr.authn-required", "std.gdpr.no-wildcard-scope"]
}
"#;
    let expected = r#"package a

import std.x with {
  names: ["documents:read", "documents:write", "documents:share", "documents:delete"],
}

const scopes = [
  "documents:read",
  "documents:write",
  "documents:share",
  "documents:delete",
  "admin:all",
]

@control(
  "pci-dss-4.0/4.2.1",
  "pci-dss-4.0/12.3.3",
  "owasp-api-2023/API8",
  "nist-800-207/ZT-2",
  "soc2/CC6.1",
)
deny *
  when (context.request has query
      and context.request.query matches "(?i)(^|&)(access_token|api_key)=")
    or (context.request has path and context.request.path matches "(?i)[?&](access_token|api_key)=")

require context.source has ip and context.source.ip in principal.tenant.allowed_networks
  for User, Client
  when principal.tenant.ip_allowlist

obligation request_header "x-break-glass-reason" = context.break_glass_reason
  on "records:emergency_read"

route POST "/v1/patients/{patient}/records/{id}/emergency"
  => "records:emergency_read" on Record::{id}

schema {
  context {
    owasp_api?: {
      object_owner?: String,
      object_tenant?: String,
      write_properties?: Set<String>,
      outbound_host?: String,
    },
  }
}

test "t" {
  request principal User::"alice" action "read" resource Doc::"d1"
    context {
      auth: {
        method: jwt,
        subject: "alice",
        scopes: ["documents:read", "documents:write", "documents:share"],
        issued_at: 2026-01-01T09:00:00Z,
      },
      tls: { version: tls1.3 },
      time: 2026-01-01T10:00:00Z,
    }
  expect deny by [
    "std.gdpr.transport-encryption",
    "std.gdpr.authn-required",
    "std.gdpr.no-wildcard-scope",
  ]
}
"#;
    let formatted = fmt(input);
    assert_eq!(formatted, expected);
    assert!(formatted.lines().all(|l| l.chars().count() <= 100));
    assert_round_trip(input);
    // Only a token that cannot break may exceed the width.
    let long = format!("package a\nconst k = \"{}\"\n", "x".repeat(120));
    assert_eq!(fmt(&long), long.replace("package a\n", "package a\n\n"));
}

#[test]
fn rule_bodies_and_expressions_print_on_one_line() {
    let file = parse_ok(LANGUAGE_EXAMPLE);
    let rule = file.items.iter().find_map(|i| match i {
        Item::Rule(r) if r.kind == RuleKind::Allow => Some(r),
        _ => None,
    });
    let body = format_rule_body(rule.expect("an allow rule"));
    assert_eq!(
        body,
        "allow \"payments:write\" on Account for User when context.auth.scopes has_scope \"payments:write\" and (resource.owner == principal or principal in Group::\"finance\") and context.tls.mtls unless principal.mfa == false"
    );
}

#[test]
fn format_source_reports_errors() {
    let ok = format_source(&SourceFile::in_memory("a.rampart", "package a allow *"));
    assert_eq!(ok.ok().as_deref(), Some("package a\n\nallow *\n"));
    let err = format_source(&SourceFile::in_memory("a.rampart", "package a allow"));
    assert_eq!(err.err().map(|d| d.code()), Some("E001"));
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// The primary label's text.
fn label(d: &Diagnostic) -> String {
    d.labels()
        .iter()
        .find(|l| l.primary)
        .map(|l| l.text.clone())
        .unwrap_or_default()
}

#[test]
fn syntax_errors_say_what_was_expected() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "package a\nallow \"x\" when",
            "E001",
            "expected an expression after this",
        ),
        ("package a\nallow x", "E001", "expected an action list"),
        (
            "package a\nschema { entity User { a: } }",
            "E001",
            "expected a type or `{`",
        ),
        (
            "package a\nconst x = {a: 1,,}",
            "E001",
            "expected a field or `}`",
        ),
        ("package a\nfoo", "E001", "expected `import` or an item"),
        (
            "package a\nroute GOT \"/\" => \"a\" on A::{id}",
            "E001",
            "expected an HTTP method",
        ),
        (
            "package a\nallow \"x\" when a = b",
            "E001",
            "expected `when`, `unless`, `reason`, an item or an operator",
        ),
        ("allow *", "E019", "expected `package`"),
    ];
    for (input, code, expected) in cases {
        let d = parse_err(input);
        assert_eq!(
            (d.code(), label(&d).as_str()),
            (code, expected),
            "for {input:?}"
        );
        assert!(d.file().is_some());
    }
    let d = parse_err("package a\nallow \"x\" when a = b");
    assert_eq!(d.message(), "unexpected `=`");
    assert_eq!(d.help_text(), Some("compare with `==`"));
    let span = d.primary_span().map(|s| s.range());
    assert_eq!(span, Some(27..28));
}

#[test]
fn expression_errors_are_specific() {
    assert_eq!(
        parse_err("package a\nconst x = a == b == c").message(),
        "comparison operators do not chain"
    );
    assert_eq!(
        parse_err("package a\nconst x = a == not b").message(),
        "`not` is not allowed here"
    );
    assert_eq!(
        parse_err("package a\nconst x = \"abc").message(),
        "unterminated string"
    );
    assert_eq!(
        parse_err("package a\nconst x = \"a\\qb\"").message(),
        "unknown escape `\\q` in string"
    );
}

#[test]
fn invalid_literals_are_e013() {
    for literal in [
        "300.0.0.1",
        "10.0.0.0/33",
        "2001:db8::/129",
        "1:2:3::4::5",
        "99999999999999999999",
        "5min",
        "1.23456",
        "1.5.2",
        "922337203685477.5808",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-01-01",
        "2026-01-01T25:00:00Z",
        "tls1.4",
        "\"\\u{110000}\"",
        "9999999999999999999d",
    ] {
        let d = parse_err(&format!("package a\nconst x = {literal}"));
        assert_eq!(d.code(), "E013", "for {literal}: {}", d.message());
        assert!(
            d.message().contains('`') || d.message().contains("escape"),
            "{}",
            d.message()
        );
    }
    let d = parse_err("package a\nobligation rate_limit 99999999999999999999 per 1s");
    assert_eq!(d.code(), "E013");
}

#[test]
fn messages_never_show_grammar_rule_names() {
    let inputs = [
        "package a\nschema { entity }",
        "package a\nschema { action }",
        "package a\ntest \"t\" { request action \"a\" resource R::\"x\" }",
        "package a\nobligation",
        "package a\nobligation mask",
        "package a\nrequire x for",
        "package a\n@",
        "package a\nconst = 1",
        "package a\nimport",
        "package",
        "package a\nconst x = a.",
        "package a\nconst x = [1,",
        "package a\nallow * when a has",
        "package a\nprincipal",
    ];
    for input in inputs {
        let d = parse_err(input);
        let text = format!(
            "{} {} {}",
            d.message(),
            label(&d),
            d.help_text().unwrap_or("")
        );
        let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        for word in words {
            let raw = [
                "expr",
                "ident",
                "ident_any",
                "EOI",
                "SOI",
                "named",
                "term",
                "primary",
                "keyword",
            ]
            .contains(&word)
                || ["kw_", "op_"].iter().any(|p| word.starts_with(p))
                || [
                    "_decl", "_lit", "_tail", "_expr", "_block", "_list", "_clause",
                ]
                .iter()
                .any(|s| word.ends_with(s));
            assert!(!raw, "{input:?} → {text}");
        }
        assert!(!label(&d).is_empty(), "{input:?} has no label");
    }
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

fn code_of(text: &str) -> Option<&'static str> {
    parse(&SourceFile::in_memory("deep.rampart", text))
        .err()
        .map(|d| d.code())
}

#[test]
fn nesting_up_to_64_is_accepted() {
    let parens = format!("package a\nconst x = {}1{}", "(".repeat(63), ")".repeat(63));
    assert_eq!(code_of(&parens), None);
    let sets = format!("package a\nconst x = {}1{}", "[".repeat(63), "]".repeat(63));
    assert_eq!(code_of(&sets), None);
    let nots = format!("package a\nconst x = {}a", "not ".repeat(63));
    assert_eq!(code_of(&nots), None);
    let chain = format!("package a\nconst x = a{}", " and a".repeat(63));
    assert_eq!(code_of(&chain), None);
    let types = format!(
        "package a\nschema {{ context {{ a: {}Int{} }} }}",
        "Set<".repeat(60),
        ">".repeat(60)
    );
    assert_eq!(code_of(&types), None);
    assert_round_trip(&sets);
    assert_round_trip(&nots);
}

#[test]
fn deeper_nesting_is_e018() {
    let deep = [
        format!("package a\nconst x = {}1{}", "(".repeat(65), ")".repeat(65)),
        format!(
            "package a\nconst x = {}1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("package a\nconst x = {}1", "[".repeat(100_000)),
        format!("package a\nconst x = {}a", "not ".repeat(64)),
        format!("package a\nconst x = {}a", "not ".repeat(10_000)),
        format!("package a\nconst x = {}a", "-".repeat(10_000)),
        format!("package a\nconst x = a{}", " or a".repeat(10_000)),
        format!("package a\nconst x = a{}", ".b".repeat(10_000)),
        format!("package a\nconst x = a{}", "[\"k\"]".repeat(100)),
        format!(
            "package a\nschema {{ context {{ a: {}Int{} }} }}",
            "Set<".repeat(70),
            ">".repeat(70)
        ),
        format!(
            "package a\nschema {{ context {{ {}Int{} }} }}",
            "a: {".repeat(70),
            "}".repeat(70)
        ),
    ];
    for text in &deep {
        assert_eq!(
            code_of(text),
            Some("E018"),
            "for {}…",
            &text[..40.min(text.len())]
        );
    }
}

#[test]
fn huge_files_are_e017() {
    let text = format!("package a\n{}", "//".repeat(2_200_000));
    assert_eq!(code_of(&text), Some("E017"));
}
