//! Writes a [`Model`] as one Rego module, its entities as the `data` document, and
//! requests as `input`.
//!
//! Every rule adds its id to `permit` or `forbid`; `allow` holds when some permit and no
//! forbid does: the same default-deny, deny-overrides decision as Rampart and Cedar.
//! Group membership is read from `data.ancestors[id]`, the transitive closure computed
//! when the data is generated, which is what Cedar and Rampart compute when they load
//! entities (Rego has no entity hierarchy of its own).

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};

use super::cedar::tls_number;
use super::model::{scope_wildcard, AttrValue, Cond, Effect, Model, RequestSpec, Rule};

/// The package of the generated module.
pub const PACKAGE: &str = "bench";

/// The rule a decision evaluates.
pub const ALLOW_RULE: &str = "data.bench.allow";

/// Rules per module: keeps every module under regorus's default limit of 1 MiB per policy.
const RULES_PER_MODULE: usize = 2_000;

/// The modules, `(file name, text)`: `main.rego` with `allow` and the helpers, then the
/// rules in `rules-NNN.rego` chunks. All declare the same package, so their `permit` and
/// `forbid` rules merge.
pub fn modules(model: &Model) -> Vec<(String, String)> {
    let header = format!("package {PACKAGE}\n\nimport rego.v1\n\n");
    let mut modules = vec![(
        "main.rego".to_string(),
        header.clone() + &main_module(model),
    )];
    for (n, chunk) in model.rules.chunks(RULES_PER_MODULE).enumerate() {
        let mut text = header.clone();
        for rule in chunk {
            write_rule(&mut text, rule);
        }
        modules.push((format!("rules-{n:03}.rego"), text));
    }
    modules
}

/// `allow` and the scope helper.
fn main_module(model: &Model) -> String {
    let mut out = String::from("default allow := false\n\n");
    let has_forbid = model.rules.iter().any(|r| r.effect != Effect::Allow);
    if has_forbid {
        out.push_str("allow if {\n\tcount(forbid) == 0\n\tcount(permit) > 0\n}\n\n");
    } else {
        out.push_str("allow if count(permit) > 0\n\n");
    }
    out.push_str(SCOPE_HELPER);
    out
}

/// The scope helper every module whose rules test scopes declares.
pub(super) const SCOPE_HELPER: &str = "scope_ok(scope, _) if scope in input.context.scopes\n\n\
                                       scope_ok(_, wildcard) if wildcard in input.context.scopes\n";

fn write_rule(out: &mut String, rule: &Rule) {
    write_rule_in(out, rule, None);
}

/// Writes one rule into `permit`/`forbid`, or, with a `route`, into `permit_ROUTE`/
/// `forbid_ROUTE` without the test of `input.action` (the routed form, whose rule is
/// chosen by the action).
pub(super) fn write_rule_in(out: &mut String, rule: &Rule, route: Option<&str>) {
    let set = if rule.effect == Effect::Allow {
        "permit"
    } else {
        "forbid"
    };
    match route {
        Some(route) => {
            let _ = writeln!(out, "{set}_{route} contains {:?} if {{", rule.id);
        }
        None => {
            let _ = writeln!(out, "{set} contains {:?} if {{", rule.id);
        }
    }
    match rule.actions.as_deref() {
        _ if route.is_some() => {}
        None => {}
        Some([one]) => {
            let _ = writeln!(out, "\tinput.action == {one:?}");
        }
        Some(many) => {
            let quoted: Vec<String> = many.iter().map(|a| format!("{a:?}")).collect();
            let _ = writeln!(out, "\tinput.action in {{{}}}", quoted.join(", "));
        }
    }
    if let Some(ty) = &rule.resource_type {
        let _ = writeln!(out, "\tinput.resource.type == {ty:?}");
    }
    if let Some(ty) = &rule.principal_type {
        let _ = writeln!(out, "\tinput.principal.type == {ty:?}");
    }
    for c in &rule.when {
        let _ = writeln!(out, "\t{}", cond(c));
    }
    if let Effect::Require(required) = &rule.effect {
        let _ = writeln!(out, "\t{}", cond(&required.clone().negated()));
    }
    out.push_str("}\n\n");
}

const PRINCIPAL: &str = "data.entities[input.principal.id]";
const RESOURCE: &str = "data.entities[input.resource.id]";
const ANCESTORS: &str = "data.ancestors[input.principal.id]";

/// A condition as one Rego expression (so `not` applies to it directly).
fn cond(c: &Cond) -> String {
    match c {
        Cond::InGroup(group) => format!("{ANCESTORS}[{group:?}]"),
        Cond::InResourceGroup(attr) => format!("{ANCESTORS}[{RESOURCE}.{attr}]"),
        Cond::Owner => format!("{RESOURCE}.owner == input.principal.id"),
        Cond::SameDept => format!("{PRINCIPAL}.dept == {RESOURCE}.dept"),
        Cond::SameAttr(attr) => format!("{RESOURCE}.{attr} == {PRINCIPAL}.{attr}"),
        // The type too: `{"type": T, "id": I}` equals the input's principal object.
        Cond::PrincipalIs(uid) => format!(
            "input.principal == {{\"type\": {:?}, \"id\": {:?}}}",
            uid.ty, uid.id
        ),
        Cond::ResourceIs(attr, value) => format!("{RESOURCE}.{attr} == {value:?}"),
        Cond::ResourceFlag(attr) => format!("{RESOURCE}.{attr} == true"),
        Cond::PrincipalFlag(attr) => format!("{PRINCIPAL}.{attr} == true"),
        Cond::HasScope(scope) => format!("scope_ok({scope:?}, {:?})", scope_wildcard(scope)),
        Cond::Mfa => "input.context.mfa == true".to_string(),
        Cond::Mtls => "input.context.mtls == true".to_string(),
        Cond::IpIn(cidr) => format!("net.cidr_contains({cidr:?}, input.context.ip)"),
        Cond::TlsAtLeast(minor) => format!("input.context.tls >= {}", tls_number(*minor)),
        Cond::Not(inner) => format!("not {}", cond(inner)),
    }
}

/// The `data` document: `entities` (attributes by id; entity-valued attributes hold the
/// id) and `ancestors` (for every entity with parents, `{ancestor id: true}`).
pub fn data_json(model: &Model) -> String {
    let entities: Map<String, Json> = model
        .entities
        .iter()
        .map(|entity| {
            let attrs: Map<String, Json> = entity
                .attrs
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        AttrValue::String(s) => Json::from(s.as_str()),
                        AttrValue::Bool(b) => Json::from(*b),
                        AttrValue::Entity(uid) => Json::from(uid.id.as_str()),
                    };
                    (name.clone(), value)
                })
                .collect();
            (entity.uid.id.clone(), Json::Object(attrs))
        })
        .collect();
    let ancestors: Map<String, Json> = model
        .ancestors()
        .into_iter()
        .map(|(id, groups)| {
            let set: Map<String, Json> = groups
                .into_iter()
                .map(|g| (g.to_string(), Json::Bool(true)))
                .collect();
            (id.to_string(), Json::Object(set))
        })
        .collect();
    json!({"entities": entities, "ancestors": ancestors}).to_string()
}

/// The request as Rego `input`.
pub fn input_json(request: &RequestSpec) -> Json {
    json!({
        "principal": {"type": request.principal.ty, "id": request.principal.id},
        "action": request.action,
        "resource": {"type": request.resource.ty, "id": request.resource.id},
        "context": {
            "scopes": request.scopes,
            "mfa": request.mfa,
            "mtls": request.mtls,
            "ip": request.ip,
            "tls": tls_number(request.tls_minor),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_rule_sets_are_split_into_modules_of_one_package() {
        let rule = |i: usize| Rule {
            id: format!("r{i}"),
            effect: Effect::Allow,
            actions: None,
            resource_type: None,
            principal_type: None,
            when: vec![Cond::Mfa],
        };
        let model = Model {
            rules: (0..4_001).map(rule).collect(),
            ..Model::default()
        };
        let modules = modules(&model);
        let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "main.rego",
                "rules-000.rego",
                "rules-001.rego",
                "rules-002.rego"
            ]
        );
        assert!(modules
            .iter()
            .all(|(_, text)| text.starts_with("package bench\n")));
        assert!(modules[0].1.contains("allow if count(permit) > 0"));
        assert!(modules[3].1.contains("permit contains \"r4000\""));
    }

    #[test]
    fn rule_body_lists_scope_then_conditions() {
        let rule = Rule {
            id: "r9".into(),
            effect: Effect::Require(Cond::TlsAtLeast(2)),
            actions: Some(vec!["api1:op2".into()]),
            resource_type: Some("Res1".into()),
            principal_type: None,
            when: vec![Cond::InGroup("g0-1".into()).negated()],
        };
        let mut out = String::new();
        write_rule(&mut out, &rule);
        assert_eq!(
            out,
            "forbid contains \"r9\" if {\n\tinput.action == \"api1:op2\"\n\
             \tinput.resource.type == \"Res1\"\n\
             \tnot data.ancestors[input.principal.id][\"g0-1\"]\n\
             \tnot input.context.tls >= 12\n}\n\n"
        );
    }
}
