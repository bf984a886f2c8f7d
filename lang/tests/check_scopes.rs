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
            principals: user.map(|u| vec![u])
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
