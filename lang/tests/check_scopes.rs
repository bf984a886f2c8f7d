//! Scopes: impossible combinations (E008) and the types of `principal`/`resource` they give.

mod common;

use common::{ok, single_error, with_schema};
use rampart_engine::bundle::Scope;

#[test]
fn e008_resource_type_not_declared_for_the_action() {
    let d = single_error(
        &with_schema("allow \"payments:write\" on User when principal.mfa"),
        "E008",
    );
    assert_eq!(
        d.message(),
        "impossible scope: action `payments:write` is not declared on `User`"
    );
    assert!(
        d.help_text()
            .is_some_and(|h| h.contains("`payments:write` is declared on `Account`")),
        "{:?}",
        d.help_text()
    );
}

#[test]
fn e008_principal_type_not_declared_for_the_action() {
    let d = single_error(
        &with_schema(
            "allow \"payments:write\" on Account for Account when resource.encrypted_at_rest",
        ),
        "E008",
    );
    assert_eq!(
        d.message(),
        "impossible scope: action `payments:write` is not declared for `Account`"
    );
    assert!(
        d.help_text()
            .is_some_and(|h| h.contains("`User`, `Service`")),
        "{:?}",
        d.help_text()
    );
    let d = single_error(
        &with_schema("deny \"payments:write\" for Anonymous"),
        "E008",
    );
    assert_eq!(
        d.message(),
        "impossible scope: action `payments:write` is not declared for `Anonymous`"
    );
}

#[test]
fn e008_wildcard_actions_need_one_action_on_the_type() {
    let src =
        "package p\nschema {\n  entity A\n  entity B\n  action \"a:read\" on A\n}\ndeny * on B\n";
    let d = single_error(src, "E008");
    assert_eq!(
        d.message(),
        "impossible scope: no action is declared on `B`"
    );
}

#[test]
fn scoped_types_come_from_the_written_types_or_the_actions() {
    // `for User, Service` → `User | Service`: `spiffe_id` is only on Service.
    let d = single_error(
        &with_schema("deny * on Account for User, Service when principal.spiffe_id == \"x\""),
        "E005",
    );
    assert_eq!(d.message(), "`User` has no attribute `spiffe_id`");
    // Omitted `on`: the resources of the actions (`Account`).
    ok(&with_schema(
        "allow \"payments:read\" for User when resource.owner == principal",
    ));
    // `health:read` is declared on any resource: `resource` may be any type.
    let d = single_error(
        &with_schema("allow \"health:read\" for User when resource.owner == principal"),
        "E005",
    );
    assert!(
        d.message().contains("has no attribute `owner`"),
        "{}",
        d.message()
    );
}

#[test]
fn anonymous_counts_only_where_the_spec_says() {
    // allow without `for`: every declared type except Anonymous.
    let allow = with_schema("allow \"health:read\" when principal.department == \"x\"");
    let d = single_error(&allow, "E005");
    assert!(!d.message().contains("Anonymous"), "{}", d.message());
    // deny without `for` on an action open to any principal: Anonymous too.
    let deny = with_schema(
        "deny \"health:read\" for User, Group, Service, Account when principal has roles",
    );
    ok(&deny);
    let d = single_error(
        &with_schema("deny \"health:read\" when principal.spiffe_id == \"x\""),
        "E005",
    );
    assert!(d.message().starts_with('`'), "{}", d.message());
    // An explicit `for Anonymous` is allowed where the action is open to any principal.
    ok(&with_schema("allow \"health:read\" for Anonymous"));
}

#[test]
fn require_for_types_scopes_principals_only() {
    let compiled = ok(&with_schema("require principal.mfa for User"));
    let Some(bundle) = compiled.bundle else {
        panic!("bundle")
    };
    let Some(rule) = bundle.rules.first() else {
        panic!("rule")
    };
    let user = bundle
        .schema
        .entity_types
        .iter()
        .position(|t| t.name == "User")
        .map(|i| i as u32);
    assert_eq!(
        rule.scope,
        Scope {
            actions: None,
            resources: None,
            principals: user.map(|u| vec![u]),
            ..Scope::default()
        }
    );
}

#[test]
fn action_specific_context_fields_are_visible_to_rules_of_that_action() {
    let src = "package p\nschema {\n  entity U\n  action \"pay\" on U for U context { amount: Int }\n  action \"read\" on U for U\n}\n\
               allow \"pay\" when context.amount < 100 and principal == resource\n";
    ok(src);
    let src = "package p\nschema {\n  entity U\n  action \"pay\" on U for U context { amount: Int }\n  action \"read\" on U for U\n}\n\
               allow \"pay\", \"read\" when context.amount < 100 and principal == resource\n";
    let d = single_error(src, "E005");
    assert_eq!(d.message(), "unknown attribute `amount` of `context`");
}

#[test]
fn schema_context_extensions_are_typed() {
    let src = with_schema("schema { context { tenant: String, region?: String } }\nallow \"payments:read\" on Account for User when context.tenant == \"acme\" and principal.mfa");
    ok(&src);
}

/// Scope heads: the entities are resolved into the scope, `TYPES in E` keeps the types,
/// `* in E` covers the types that can be in `E` (its own included), and the variable has
/// those types in the conditions.
#[test]
fn scope_heads_resolve_to_entities_and_types() {
    use rampart_engine::bundle::HeadOp;
    let src = "package p\nschema {\n  entity Group in [Group]\n  entity User { mfa: Bool } in [Group]\n  entity Service in [Group]\n  entity Folder\n  entity Doc in [Folder]\n  action \"read\" on Doc, Folder for User, Service, Group\n}\n\
               allow \"read\" on Doc in Folder::\"f\" for User in Group::\"g\" when principal.mfa\n\
               allow \"read\" for * in Group::\"g\"\n\
               deny \"read\" on Doc::\"d\" for User::\"a\", Service::\"s\"\n\
               require principal.mfa for User in Group::\"g\"\n";
    let compiled = ok(src);
    let bundle = compiled.bundle.expect("bundle");
    let ty = |name: &str| {
        bundle
            .schema
            .entity_types
            .iter()
            .position(|t| t.name == name)
            .map(|i| i as u32)
            .expect("type")
    };
    let [typed, any, eq, require] = &bundle.rules[..] else {
        panic!("four rules")
    };
    let head = |h: &Option<rampart_engine::bundle::Head>| {
        h.as_ref().map(|h| {
            (
                h.op,
                h.entities
                    .iter()
                    .map(|e| (e.ty, e.id.to_string()))
                    .collect::<Vec<_>>(),
            )
        })
    };
    assert_eq!(typed.scope.principals, Some(vec![ty("User")]));
    assert_eq!(typed.scope.resources, Some(vec![ty("Doc")]));
    assert_eq!(
        head(&typed.scope.principal_head),
        Some((HeadOp::In, vec![(ty("Group"), "g".into())]))
    );
    assert_eq!(
        head(&typed.scope.resource_head),
        Some((HeadOp::In, vec![(ty("Folder"), "f".into())]))
    );
    // `* in Group`: every type that can be in a Group, Group included.
    assert_eq!(
        any.scope.principals,
        Some(vec![ty("Group"), ty("User"), ty("Service")])
    );
    assert_eq!(eq.scope.principals, Some(vec![ty("User"), ty("Service")]));
    assert_eq!(
        head(&eq.scope.principal_head),
        Some((
            HeadOp::Eq,
            vec![(ty("User"), "a".into()), (ty("Service"), "s".into())]
        ))
    );
    assert_eq!(
        head(&eq.scope.resource_head),
        Some((HeadOp::Eq, vec![(ty("Doc"), "d".into())]))
    );
    assert_eq!(require.scope.actions, None);
    assert!(require.scope.principal_head.is_some());
    // Under `* in Group`, `principal` may be a Service, which has no `mfa`.
    let with_attr = src.replace(
        "allow \"read\" for * in Group::\"g\"\n",
        "allow \"read\" for * in Group::\"g\" when principal.mfa\n",
    );
    single_error(&with_attr, "E005");
}

/// An impossible `in` head is E006 for each type that can never be in the entity's type.
#[test]
fn e006_a_type_that_can_never_be_in_the_head_entity() {
    let src = "package p\nschema {\n  entity Group\n  entity User in [Group]\n  entity Doc\n  action \"read\" on Doc for User, Doc\n}\n\
               allow \"read\" for Doc in Group::\"g\"\n";
    let d = single_error(src, "E006");
    assert_eq!(d.message(), "type mismatch: `Doc` can never be in `Group`");
    let src = src.replace("for Doc in Group", "for Unknown in Group");
    single_error(&src, "E004");
}
