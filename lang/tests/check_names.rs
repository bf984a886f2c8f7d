//! Name resolution: packages (E002), names (E003), types (E004), attributes (E005),
//! actions (E007), duplicates (E010), enum variants (E011).

mod common;

use common::{
    compile_files, compile_src, error_codes, errors, ok, rendered, single_error, with_imports,
    with_schema,
};

#[test]
fn e002_unknown_package_suggests_a_close_name() {
    let d = single_error("package p\nimport std.zerotrst\n", "E002");
    assert_eq!(d.message(), "unknown package `std.zerotrst`");
    assert_eq!(d.help_text(), Some("did you mean `std.zerotrust`?"));
    let d = single_error("package p\nimport billing\n", "E002");
    assert_eq!(d.message(), "unknown package `billing`");
}

#[test]
fn imports_resolve_to_packages_of_the_folder() {
    let c = compile_files(&[
        ("a.rampart", "package shared\nconst admins = [\"root\"]\n"),
        ("b.rampart", &with_imports("import shared as s", "allow \"payments:read\" on Account for User when principal.department in s.admins and principal.mfa")),
    ]);
    assert!(common::errors(&c).is_empty(), "{}", rendered(&c));
    let Some(bundle) = c.bundle else {
        panic!("bundle")
    };
    let names: Vec<&str> = bundle.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["shared", "payments"]);
    assert_eq!(
        bundle.packages.get(1).map(|p| p.imports.clone()),
        Some(vec![0])
    );
}

#[test]
fn only_imported_stdlib_packages_are_included() {
    let c = ok("package p\nimport std.zerotrust as zt\n");
    let Some(bundle) = c.bundle else {
        panic!("bundle")
    };
    let names: Vec<&str> = bundle.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["p", "std.zerotrust"]);
    assert!(bundle.rules.iter().all(|r| r.package == 1));
}

#[test]
fn e003_unknown_name_suggests_variables_and_consts() {
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account for User when principl.mfa"),
        "E003",
    );
    assert_eq!(d.message(), "unknown name `principl`");
    assert_eq!(d.help_text(), Some("did you mean `principal`?"));
    let d = single_error(&with_schema("const limit = 5\nallow \"payments:read\" on Account for User when principal.mfa and 3 < limt"), "E003");
    assert_eq!(d.help_text(), Some("did you mean `limit`?"));
}

#[test]
fn e003_package_consts_and_bare_aliases() {
    let src = "package p\nimport std.zerotrust as zt\nconst x = zt.no_such_const\n";
    let d = single_error(src, "E003");
    assert_eq!(
        d.message(),
        "package `std.zerotrust` has no const `no_such_const`"
    );
    let d = single_error(
        "package p\nimport std.zerotrust as zt\nconst x = zt\n",
        "E003",
    );
    assert_eq!(d.message(), "`zt` is a package, not a value");
    ok("package p\nimport std.zerotrust as zt\nconst nets = zt.private_networks\n");
}

#[test]
fn an_unknown_name_is_reported_once_and_its_uses_stay_silent() {
    let src = with_schema("allow \"payments:read\" on Account for User when nope.a.b == 3 and nope.c contains \"x\" and nope");
    assert_eq!(error_codes(&src), vec!["E003", "E003", "E003"]);
    let src = with_schema(
        "allow \"payments:read\" on Account for User when nope.a.b == 3 and nope.c.d > now",
    );
    assert_eq!(error_codes(&src), vec!["E003", "E003"]);
}

#[test]
fn e004_unknown_types() {
    let d = single_error(
        "package p\nschema { entity User { age: Integer } }\n",
        "E004",
    );
    assert_eq!(d.message(), "unknown type `Integer`");
    assert_eq!(d.help_text(), Some("did you mean `Int`?"));
    let d = single_error(
        "package p\nschema { entity User { name: Strng } }\n",
        "E004",
    );
    assert_eq!(d.help_text(), Some("did you mean `String`?"));
    let d = single_error(
        &with_schema("allow \"payments:read\" on Acount for User when principal.mfa"),
        "E004",
    );
    assert_eq!(d.message(), "unknown entity type `Acount`");
    assert_eq!(d.help_text(), Some("did you mean `Account`?"));
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account for User when principal in Grop::\"x\""),
        "E004",
    );
    assert_eq!(d.help_text(), Some("did you mean `Group`?"));
    let d = single_error(
        "package p\nschema { entity A in [Class] enum Class { a } }\n",
        "E004",
    );
    assert_eq!(d.message(), "`Class` is an enum, not an entity type");
    let d = single_error("package p\nschema { entity A { s: Set } }\n", "E004");
    assert_eq!(d.message(), "`Set` needs an element type");
}

#[test]
fn e005_unknown_attribute_suggests_attributes_of_the_type() {
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account for User when resource.ownr == principal"),
        "E005",
    );
    assert_eq!(d.message(), "unknown attribute `ownr` of `Account`");
    assert_eq!(d.help_text(), Some("did you mean `owner`?"));
    let d = single_error(
        &with_schema(
            "allow \"payments:read\" on Account for User when context.auth.scope has_scope \"x\"",
        ),
        "E005",
    );
    assert_eq!(d.message(), "unknown attribute `scope` of `context.auth`");
    assert_eq!(d.help_text(), Some("did you mean `scopes`?"));
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account for User when principal has mfaa"),
        "E005",
    );
    assert_eq!(d.help_text(), Some("did you mean `mfa`?"));
}

#[test]
fn e005_attribute_must_exist_on_every_type_of_the_scope() {
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account for User, Service when principal.mfa"),
        "E005",
    );
    assert_eq!(d.message(), "`Service` has no attribute `mfa`");
    assert!(
        d.help_text().is_some_and(|h| h.contains("for User")),
        "{:?}",
        d.help_text()
    );
    // Omitted `for`: the principal types come from the actions (`User | Service`).
    let d = single_error(
        &with_schema("allow \"payments:read\" on Account when principal.mfa"),
        "E005",
    );
    assert_eq!(d.message(), "`Service` has no attribute `mfa`");
    ok(&with_schema(
        "allow \"payments:read\" on Account for User when principal.mfa",
    ));
}

#[test]
fn e007_unknown_action_suggests_declared_actions() {
    let d = single_error(
        &with_schema("allow \"payments:wirte\" on Account for User when principal.mfa"),
        "E007",
    );
    assert_eq!(d.message(), "unknown action `payments:wirte`");
    assert_eq!(d.help_text(), Some("did you mean `payments:write`?"));
    let d = single_error(
        &with_schema("deny * when action == \"payments:raed\""),
        "E007",
    );
    assert_eq!(d.help_text(), Some("did you mean `payments:read`?"));
    let d = single_error(
        &with_schema("route GET \"/x\" => \"payments:reed\" on Account::\"a\""),
        "E007",
    );
    assert_eq!(d.message(), "unknown action `payments:reed`");
}

#[test]
fn an_unknown_action_does_not_cascade_into_the_condition() {
    let src =
        with_schema("allow \"nope\" when principal.whatever and context.whatever and resource.x");
    assert_eq!(error_codes(&src), vec!["E007"]);
}

#[test]
fn e010_duplicate_declarations_point_at_the_first() {
    let d = single_error(
        "package p\nschema {\n  entity User\n  entity User\n}\n",
        "E010",
    );
    assert_eq!(d.message(), "duplicate type `User`");
    assert!(d
        .labels()
        .iter()
        .any(|l| !l.primary && l.text == "first declared here"));
    let cases = [
        (
            "package p\nschema { enum C { a, b, a } }\n",
            "duplicate variant `a` in enum `C`",
        ),
        (
            "package p\nschema { action \"a\" action \"a\" }\n",
            "duplicate action `a`",
        ),
        (
            "package p\nschema { entity U { x: Int, x: Bool } }\n",
            "duplicate attribute `x`",
        ),
        (
            "package p\nconst a = 1\nconst a = 2\n",
            "duplicate const `a`",
        ),
        (
            "package p\nschema { context { tenant: String } context { tenant: String } }\n",
            "duplicate context field `tenant`",
        ),
        (
            "package p\nschema { context { auth: String } }\n",
            "duplicate context field `auth`",
        ),
        (
            "package p\nschema { entity String }\n",
            "`String` is a builtin type",
        ),
        (
            "package p\nschema { entity Anonymous }\n",
            "`Anonymous` is a builtin type",
        ),
        (
            "package p\nimport std.zerotrust as x\nimport std.pci_dss as x\n",
            "duplicate import name `x`",
        ),
        ("package p\nconst r = {a: 1, a: 2}\n", "duplicate field `a`"),
    ];
    for (src, message) in cases {
        assert_eq!(single_error(src, "E010").message(), message, "{src}");
    }
}

#[test]
fn e010_duplicates_across_files_name_the_first_file() {
    let c = compile_files(&[
        ("a.rampart", "package p\nschema { entity User }\n"),
        ("b.rampart", "package q\nschema { entity User }\n"),
    ]);
    let errs = common::errors(&c);
    assert_eq!(errs.len(), 1, "{}", rendered(&c));
    let Some(d) = errs.first() else {
        unreachable!()
    };
    assert_eq!(d.file().map(|f| f.name()), Some("b.rampart"));
    assert_eq!(
        d.help_text(),
        Some("the first declaration is in `a.rampart` at line 2")
    );
}

#[test]
fn e011_bare_variants_resolve_by_the_expected_enum() {
    ok(&with_schema(
        "deny * on Account when resource.classification in [pci, phi]",
    ));
    ok(&with_schema(
        "deny * on Account when resource.classification == Class.pci",
    ));
    ok(&with_schema(
        "deny * on Account when context.auth.method in [jwt, oidc]",
    ));
    let d = single_error(
        &with_schema("deny * on Account when resource.classification in [pci, phii]"),
        "E011",
    );
    assert_eq!(d.message(), "unknown variant `phii` of enum `Class`");
    assert_eq!(d.help_text(), Some("did you mean `phi`?"));
    let d = single_error(
        &with_schema("deny * on Account when context.auth.method == jwtt"),
        "E011",
    );
    assert_eq!(d.message(), "unknown variant `jwtt` of enum `AuthMethod`");
    let d = single_error(
        &with_schema("deny * on Account when resource.classification == Class.secret"),
        "E011",
    );
    assert_eq!(d.message(), "unknown variant `secret` of enum `Class`");
}

#[test]
fn an_import_alias_does_not_shadow_an_enum_variant() {
    ok(&with_imports(
        "import std.pci_dss as pci",
        "deny * on Account when resource.classification in [pci, phi]",
    ));
}

#[test]
fn variants_on_the_left_resolve_from_the_right() {
    ok(&with_schema(
        "deny * on Account when pci == resource.classification",
    ));
    ok(&with_schema(
        "deny * on Account when [pci, phi] contains resource.classification",
    ));
}

/// Issue 11: every unknown name was compared with every candidate for "did you mean":
/// 20,000 unknown names against 1,000 consts took 400 s. The work is bounded now: the same
/// policy with unknown names takes a small multiple of it with the names declared
/// (measured in the same run; the bound is generous).
#[test]
fn many_unknown_names_do_not_stall_suggestions() {
    let policy = |prefix: &str| {
        let consts: String = (0..1000)
            .map(|i| format!("const konstant_{i:04} = 1\n"))
            .collect();
        let refs: Vec<String> = (0..1000).map(|i| format!("{prefix}{i:03} == 1")).collect();
        let rule = format!(
            "allow \"docs:read\" on Doc for User when {}\n",
            refs.join(" or ")
        );
        format!(
            "package p\nschema {{\n  entity User\n  entity Doc\n  action \"docs:read\" on Doc for User\n}}\n{consts}{}",
            rule.repeat(4)
        )
    };
    let timed = |text: &str| {
        let started = std::time::Instant::now();
        let compiled = compile_src(text);
        (started.elapsed(), errors(&compiled).len())
    };
    let (known, known_errors) = timed(&policy("konstant_0"));
    let (unknown, unknown_errors) = timed(&policy("konstant_x"));
    assert_eq!((known_errors, unknown_errors), (0, 4000));
    assert!(
        unknown < known * 15,
        "unknown names took {unknown:?}, declared ones {known:?}"
    );
}
