//! Item-level checks: rule ids (E009), consts (E014), routes (E015), obligations (E016),
//! package lines (E019).

mod common;

use common::{compile_files, errors, ok, rendered, single_error, with_schema};
use rampart_engine::bundle::{Expr, ObligationKind};
use rampart_engine::Value;

#[test]
fn e009_duplicate_rule_ids_point_at_the_first() {
    let src = with_schema(
        "@id(\"pay\")\nallow \"payments:read\" on Account for User when principal.mfa\n\
         @id(\"pay\")\nallow \"payments:write\" on Account for User when principal.mfa",
    );
    let d = single_error(&src, "E009");
    assert_eq!(d.message(), "duplicate rule id `pay`");
    assert!(d
        .labels()
        .iter()
        .any(|l| !l.primary && l.text == "first declared here"));
    let d = single_error(
        &with_schema("@id(\"a\", \"b\")\ndeny * on Account when resource.encrypted_at_rest"),
        "E009",
    );
    assert_eq!(d.message(), "invalid rule id");
}

#[test]
fn e009_ids_are_unique_across_packages() {
    let c = compile_files(&[
        (
            "a.rampart",
            "package a\nschema { action \"x\" }\n@id(\"same\")\ndeny \"x\" when context.tls.mtls\n",
        ),
        (
            "b.rampart",
            "package b\n@id(\"same\")\ndeny \"x\" when context.tls.mtls\n",
        ),
    ]);
    let codes: Vec<&str> = errors(&c).iter().map(|d| d.code()).collect();
    assert_eq!(codes, vec!["E009"], "{}", rendered(&c));
}

#[test]
fn generated_ids_hash_the_rule_and_number_repeats() {
    let src = with_schema(
        "deny * on Account when not resource.encrypted_at_rest\n\
         deny * on Account when not resource.encrypted_at_rest\n\
         @id(\"mine\")\nallow \"payments:read\" on Account for User when principal.mfa",
    );
    let c = ok(&src);
    let Some(bundle) = c.bundle else {
        panic!("bundle")
    };
    let ids: Vec<&str> = bundle.rules.iter().map(|r| r.id.as_str()).collect();
    let [first, second, mine] = ids.as_slice() else {
        panic!("{ids:?}")
    };
    assert!(
        first.starts_with("payments.deny-") && first.len() == "payments.deny-".len() + 8,
        "{first}"
    );
    assert_eq!(*second, format!("{first}-2"));
    assert_eq!(*mine, "mine");
    // The id depends on the formatted rule only: spacing and annotations do not change it.
    let respaced = with_schema(
        "@severity(\"high\")\ndeny   *   on Account\n   when not   resource.encrypted_at_rest",
    );
    let c2 = ok(&respaced);
    assert_eq!(
        c2.bundle
            .and_then(|b| b.rules.first().map(|r| r.id.clone()))
            .as_deref(),
        Some(*first)
    );
}

#[test]
fn annotations_become_controls_and_metadata() {
    let src = with_schema(
        "@id(\"x\")\n@control(\"pci-dss/3.5.1\", \"hipaa/164.312(a)(2)(iv)\")\n@control(\"pci-dss/3.5.1\", \"soc2/CC6.1\")\n@severity(\"high\")\n\
         deny * on Account when not resource.encrypted_at_rest reason \"encrypt it\"",
    );
    let Some(bundle) = ok(&src).bundle else {
        panic!("bundle")
    };
    let Some(rule) = bundle.rules.first() else {
        panic!("rule")
    };
    assert_eq!(
        rule.controls,
        vec!["pci-dss/3.5.1", "hipaa/164.312(a)(2)(iv)", "soc2/CC6.1"]
    );
    assert_eq!(
        rule.annotations.get("severity"),
        Some(&vec!["high".to_owned()])
    );
    assert_eq!(rule.reason.as_deref(), Some("encrypt it"));
}

#[test]
fn e014_const_cycles_and_non_constant_consts() {
    let d = single_error("package p\nconst a = b\nconst b = a\n", "E014");
    assert_eq!(d.message(), "const `a` is part of a dependency cycle");
    assert_eq!(d.help_text(), Some("cycle: a → b → a"));
    let d = single_error("package p\nconst a = [a]\n", "E014");
    assert_eq!(d.message(), "const `a` refers to itself");
    let d = single_error("package p\nconst t = context.tls.mtls\n", "E014");
    assert_eq!(d.message(), "a const cannot use `context`");
}

#[test]
fn consts_are_folded_and_inlined() {
    let src = with_schema(
        "const nets = [10.0.0.0/8, 192.168.0.0/16]\nconst limit = 2 * 60\n\
         deny * on Account when context.source.ip in nets or limit > 100",
    );
    let Some(bundle) = ok(&src).bundle else {
        panic!("bundle")
    };
    let Some(rule) = bundle.rules.first() else {
        panic!("rule")
    };
    let Some(conjunct) = rule.when.conjuncts.first() else {
        panic!("conjunct")
    };
    // `limit > 100` folds to `true`, and `x or true` keeps `x` (it may be an error).
    let Expr::Or(left, right) = &conjunct.expr else {
        panic!("{:?}", conjunct.expr)
    };
    assert_eq!(**right, Expr::Const(Value::Bool(true)));
    let Expr::Binary(_, _, nets) = &**left else {
        panic!("{left:?}")
    };
    assert!(
        matches!(&**nets, Expr::Const(Value::Set(items)) if items.len() == 2),
        "{nets:?}"
    );
}

#[test]
fn e015_route_errors() {
    let cases = [
        (
            "route GET \"/v1/accounts/{id}\" => \"payments:read\" on Account::{idd}",
            "unknown path parameter `idd`",
        ),
        (
            "route GET \"v1/accounts\" => \"payments:read\" on Account::\"a\"",
            "invalid path template `v1/accounts`",
        ),
        (
            "route GET \"/v1/{rest*}/x\" => \"payments:read\" on Account::{rest}",
            "invalid path template `/v1/{rest*}/x`",
        ),
        (
            "route GET \"/v1/users/{id}\" => \"payments:read\" on User::{id}",
            "action `payments:read` is not declared on `User`",
        ),
        (
            "route GET \"/v1/{id}\" => \"payments:read\" on Account::{context.tls.peer}",
            "a route resource cannot use `context`",
        ),
    ];
    for (route, message) in cases {
        let d = single_error(&with_schema(route), "E015");
        assert_eq!(d.message(), message, "{route}");
    }
    let d = single_error(
        &with_schema("route GET \"/v1/accounts/{id}\" => \"payments:read\" on Account::{idd}"),
        "E015",
    );
    assert_eq!(d.help_text(), Some("did you mean `id`?"));
    let dup = with_schema(
        "route GET \"/v1/{id}\" => \"payments:read\" on Account::{id}\nroute GET \"/v1/{x}\" => \"payments:read\" on Account::{x}",
    );
    assert_eq!(
        single_error(&dup, "E015").message(),
        "duplicate route `GET /v1/{x}`"
    );
}

#[test]
fn routes_compile_to_segments_and_params() {
    let src =
        with_schema("route * \"/files/{owner}/{path*}\" => \"health:read\" on Account::{owner}");
    let Some(bundle) = ok(&src).bundle else {
        panic!("bundle")
    };
    let Some(route) = bundle.routes.first() else {
        panic!("route")
    };
    assert_eq!(route.method, None);
    assert_eq!(route.params, vec!["owner", "path"]);
    assert_eq!(route.template, "/files/{owner}/{path*}");
    assert!(
        matches!(&route.resource, Expr::EntityCtor(_, id) if **id == Expr::Param(0)),
        "{:?}",
        route.resource
    );
}

#[test]
fn e016_obligation_errors() {
    let cases = [
        (
            "obligation rate_limit 10 per 500ms",
            "invalid rate limit period: 500ms is not a whole number of seconds",
        ),
        ("obligation rate_limit 0 per 1m", "rate limit of zero"),
        (
            "obligation request_header \"x user\" = \"a\"",
            "invalid header name `x user`",
        ),
        ("obligation remove_header \"\"", "invalid header name ``"),
        (
            "obligation request_header \"x-roles\" = principal.roles for User",
            "a header value must be a single value, found Set<String>",
        ),
        (
            "obligation mask [\"card..pan\"]",
            "invalid mask field `card..pan`",
        ),
    ];
    for (obligation, message) in cases {
        let d = single_error(&with_schema(obligation), "E016");
        assert_eq!(d.message(), message, "{obligation}");
    }
}

#[test]
fn obligations_compile() {
    let src = with_schema(
        "@control(\"pci-dss-4.0/3.4.1\")\nobligation mask [\"card.pan\"] on Account unless context.auth.scopes has_scope \"pci:read\"\n\
         obligation rate_limit 100 per 1m on \"payments:write\"\n\
         obligation request_header \"x-user\" = principal.department on \"payments:read\" for User",
    );
    let Some(bundle) = ok(&src).bundle else {
        panic!("bundle")
    };
    let kinds: Vec<&ObligationKind> = bundle.obligations.iter().map(|o| &o.kind).collect();
    assert!(
        matches!(kinds.first(), Some(ObligationKind::Mask { fields }) if fields == &vec!["card.pan".to_owned()])
    );
    assert!(matches!(
        kinds.get(1),
        Some(ObligationKind::RateLimit {
            limit: 100,
            per_ms: 60_000,
            key: Expr::Principal
        })
    ));
    assert!(
        matches!(kinds.get(2), Some(ObligationKind::RequestHeader { name, .. }) if name == "x-user")
    );
    let ids: Vec<&str> = bundle.obligations.iter().map(|o| o.id.as_str()).collect();
    assert!(
        ids.iter().all(|id| id.starts_with("payments.obligation-")),
        "{ids:?}"
    );
    assert_eq!(
        bundle.obligations.first().map(|o| o.controls.clone()),
        Some(vec!["pci-dss-4.0/3.4.1".to_owned()])
    );
}

#[test]
fn principal_mappings_compile() {
    let src = with_schema(
        "principal Service::{context.tls.peer} when context.tls.mtls\nprincipal User::\"guest\"",
    );
    let Some(bundle) = ok(&src).bundle else {
        panic!("bundle")
    };
    let [service, guest] = bundle.principals.as_slice() else {
        panic!("{:?}", bundle.principals)
    };
    assert_eq!(service.when.conjuncts.len(), 1);
    assert_eq!(guest.id, Expr::Const(Value::string("guest")));
    let d = single_error(
        &with_schema("principal User::{principal.department}"),
        "E003",
    );
    assert_eq!(
        d.message(),
        "`principal` is not available in a principal mapping"
    );
}

#[test]
fn e019_missing_package_line() {
    let d = single_error("// just a comment\nschema { entity User }\n", "E019");
    assert_eq!(d.message(), "missing `package` line");
}

#[test]
fn diagnostics_are_sorted_by_file_then_position() {
    let c = compile_files(&[
        ("b.rampart", "package b\nconst y = nope2\nconst x = nope1\n"),
        ("a.rampart", "package a\nconst z = nope3\n"),
    ]);
    let order: Vec<(String, String)> = c
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.file().map(|f| f.name().to_owned()).unwrap_or_default(),
                d.message().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("a.rampart".to_owned(), "unknown name `nope3`".to_owned()),
            ("b.rampart".to_owned(), "unknown name `nope2`".to_owned()),
            ("b.rampart".to_owned(), "unknown name `nope1`".to_owned()),
        ]
    );
}
