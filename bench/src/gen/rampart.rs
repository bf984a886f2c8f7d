//! Writes a [`Model`] as Rampart policy files and requests.

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use super::model::{ActionGroup, AttrType, Cond, Effect, EntityType, Model, RequestSpec, Rule};

/// The package every generated file declares.
pub const PACKAGE: &str = "bench";

/// Rules per file: keeps every file well under Rampart's 4 MiB limit.
const RULES_PER_FILE: usize = 5_000;

/// The policy files, `rules-NNN.rampart` chunks and `schema.rampart`, as
/// `(file name, text)`, sorted by name.
pub fn policy_files(model: &Model) -> Vec<(String, String)> {
    let mut files = vec![("schema.rampart".to_string(), schema_text(model))];
    for (n, chunk) in model.rules.chunks(RULES_PER_FILE).enumerate() {
        let mut text = format!("package {PACKAGE}\n\n");
        for rule in chunk {
            write_rule(&mut text, model, rule);
        }
        files.push((format!("rules-{n:03}.rampart"), text));
    }
    files.sort();
    files
}

fn schema_text(model: &Model) -> String {
    let mut out = format!("package {PACKAGE}\n\nschema {{\n");
    for ty in &model.schema.entity_types {
        write_entity_type(&mut out, ty);
    }
    for group in &model.schema.actions {
        write_action_group(&mut out, group);
    }
    out.push_str("}\n");
    out
}

fn write_entity_type(out: &mut String, ty: &EntityType) {
    let _ = write!(out, "  entity {}", ty.name);
    if !ty.attrs.is_empty() {
        let attrs: Vec<String> = ty
            .attrs
            .iter()
            .map(|(name, ty)| {
                let ty = match ty {
                    AttrType::String => "String",
                    AttrType::Bool => "Bool",
                    AttrType::Entity(name) => name.as_str(),
                };
                format!("{name}: {ty}")
            })
            .collect();
        let _ = write!(out, " {{ {} }}", attrs.join(", "));
    }
    if !ty.parent_types.is_empty() {
        let _ = write!(out, " in [{}]", ty.parent_types.join(", "));
    }
    out.push('\n');
}

fn write_action_group(out: &mut String, group: &ActionGroup) {
    let _ = write!(out, "  action {}", quoted_list(&group.names));
    if !group.resource_types.is_empty() {
        let _ = write!(out, " on {}", group.resource_types.join(", "));
    }
    if !group.principal_types.is_empty() {
        let _ = write!(out, " for {}", group.principal_types.join(", "));
    }
    out.push('\n');
}

fn quoted_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    quoted.join(", ")
}

fn write_rule(out: &mut String, model: &Model, rule: &Rule) {
    let _ = writeln!(out, "@id({:?})", rule.id);
    let actions = match &rule.actions {
        Some(names) => quoted_list(names),
        None => "*".to_string(),
    };
    let scope_types = |out: &mut String| {
        if let Some(ty) = &rule.resource_type {
            let _ = write!(out, " on {ty}");
        }
        if let Some(ty) = &rule.principal_type {
            let _ = write!(out, " for {ty}");
        }
    };
    match &rule.effect {
        Effect::Allow | Effect::Deny => {
            let kind = if rule.effect == Effect::Allow {
                "allow"
            } else {
                "deny"
            };
            let _ = write!(out, "{kind} {actions}");
            scope_types(out);
        }
        Effect::Require(required) => {
            let _ = write!(out, "require {} for ", cond(required));
            match (&rule.actions, &rule.resource_type, &rule.principal_type) {
                (None, None, None) => out.push('*'),
                (None, None, Some(principal)) => out.push_str(principal),
                (None, Some(resource), _) => {
                    // `require C for TYPES` scopes principals only: list the actions.
                    let names: Vec<String> = model
                        .actions_on(resource)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    out.push_str(&quoted_list(&names));
                    scope_types(out);
                }
                (Some(_), _, _) => {
                    out.push_str(&actions);
                    scope_types(out);
                }
            }
        }
    }
    if !rule.when.is_empty() {
        let conds: Vec<String> = rule.when.iter().map(cond).collect();
        let _ = write!(out, "\n  when {}", conds.join(" and "));
    }
    out.push_str("\n\n");
}

/// A condition in Rampart syntax.
fn cond(c: &Cond) -> String {
    match c {
        Cond::InGroup(group) => format!("principal in Group::{group:?}"),
        Cond::InResourceGroup(attr) => format!("principal in resource.{attr}"),
        Cond::Owner => "resource.owner == principal".to_string(),
        Cond::SameDept => "principal.dept == resource.dept".to_string(),
        Cond::SameAttr(attr) => format!("resource.{attr} == principal.{attr}"),
        Cond::PrincipalIs(uid) => format!("principal == {}::{:?}", uid.ty, uid.id),
        Cond::ResourceIs(attr, value) => format!("resource.{attr} == {value:?}"),
        Cond::ResourceFlag(attr) => format!("resource.{attr}"),
        Cond::PrincipalFlag(attr) => format!("principal.{attr}"),
        Cond::HasScope(scope) => format!("context.auth.scopes has_scope {scope:?}"),
        Cond::Mfa => "context.auth.mfa".to_string(),
        Cond::Mtls => "context.tls.mtls".to_string(),
        Cond::IpIn(cidr) => format!("context.source.ip in {cidr}"),
        Cond::TlsAtLeast(minor) => format!("context.tls.version >= tls1.{minor}"),
        Cond::Not(inner) => format!("not ({})", cond(inner)),
    }
}

/// A request in Rampart's request JSON.
pub fn request_json(request: &RequestSpec) -> Json {
    json!({
        "principal": {"type": request.principal.ty, "id": request.principal.id},
        "action": request.action,
        "resource": {"type": request.resource.ty, "id": request.resource.id},
        "context": {
            "auth": {"scopes": request.scopes, "mfa": request.mfa},
            "tls": {"version": format!("1.{}", request.tls_minor), "mtls": request.mtls},
            "source": {"ip": request.ip},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::model::Uid;

    #[test]
    fn writes_scopes_and_conditions() {
        let model = Model::default();
        let rule = Rule {
            id: "r1".into(),
            effect: Effect::Allow,
            actions: Some(vec!["api0:op1".into()]),
            resource_type: Some("Res0".into()),
            principal_type: Some("User".into()),
            when: vec![
                Cond::InGroup("g0-1".into()),
                Cond::IpIn("10.0.0.0/8".into()).negated(),
            ],
        };
        let mut text = String::new();
        write_rule(&mut text, &model, &rule);
        assert_eq!(
            text,
            "@id(\"r1\")\nallow \"api0:op1\" on Res0 for User\n  when principal in \
             Group::\"g0-1\" and not (context.source.ip in 10.0.0.0/8)\n\n"
        );
    }

    #[test]
    fn require_for_any() {
        let rule = Rule {
            id: "t".into(),
            effect: Effect::Require(Cond::TlsAtLeast(2)),
            actions: None,
            resource_type: None,
            principal_type: None,
            when: Vec::new(),
        };
        let mut text = String::new();
        write_rule(&mut text, &Model::default(), &rule);
        assert!(text.contains("require context.tls.version >= tls1.2 for *\n"));
    }

    #[test]
    fn request_has_every_context_field() {
        let request = RequestSpec {
            principal: Uid::new("User", "u1"),
            action: "read".into(),
            resource: Uid::new("Doc", "d1"),
            scopes: vec!["docs:*".into()],
            mfa: true,
            mtls: false,
            ip: "10.1.2.3".into(),
            tls_minor: 3,
        };
        let json = request_json(&request);
        assert_eq!(json["context"]["tls"]["version"], "1.3");
        assert_eq!(json["context"]["source"]["ip"], "10.1.2.3");
    }
}
