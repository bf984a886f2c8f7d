//! Writes a [`Model`] as Cedar policies, and its entities in Cedar's entity JSON (which
//! Rampart reads too).
//!
//! Mapping: `allow` is `permit`; `deny` is `forbid … when`; `require C` is
//! `forbid … when {W} unless {C}`. The scope goes in the head, as Cedar recommends:
//! `principal is User`, `action == Action::"x"` or `action in [..]` for several actions,
//! `resource is T`, and a rule's first group membership as `principal in Group::"g"`
//! (`principal is User in Group::"g"` with a type), so a host can slice the set by scope. Scopes are a `Set<String>` in the context, and
//! `has_scope "ns:op"` becomes `scopes.contains("ns:op") || scopes.contains("ns:*")`, which
//! is exactly Rampart's rule for two-segment scopes. The TLS version `1.x` is the integer
//! `10 + x` (12, 13); the source address is an `ipaddr` value.

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};

use super::model::{scope_wildcard, AttrValue, Cond, Effect, Model, RequestSpec, Rule, Uid};

/// The whole policy set, one policy per rule, each annotated `@id`.
pub fn policies(model: &Model) -> String {
    let mut out = String::new();
    for rule in &model.rules {
        write_rule(&mut out, rule);
    }
    out
}

fn write_rule(out: &mut String, rule: &Rule) {
    let _ = writeln!(out, "@id({:?})", rule.id);
    let kind = if rule.effect == Effect::Allow {
        "permit"
    } else {
        "forbid"
    };
    // The first group membership moves into the head (`principal in Group::"g"`), as
    // Cedar recommends so that a host can slice the policy set: a scope constraint is a
    // conjunct of the policy's condition exactly like a `when` term.
    let group = rule.when.iter().position(|c| matches!(c, Cond::InGroup(_)));
    let in_group = group.and_then(|i| match rule.when.get(i) {
        Some(Cond::InGroup(g)) => Some(format!(" in Group::{g:?}")),
        _ => None,
    });
    let principal = match (&rule.principal_type, &in_group) {
        (Some(ty), Some(group)) => format!("principal is {ty}{group}"),
        (Some(ty), None) => format!("principal is {ty}"),
        (None, Some(group)) => format!("principal{group}"),
        (None, None) => "principal".to_string(),
    };
    let action = match rule.actions.as_deref() {
        None => "action".to_string(),
        Some([one]) => format!("action == Action::{one:?}"),
        Some(many) => {
            let uids: Vec<String> = many.iter().map(|a| format!("Action::{a:?}")).collect();
            format!("action in [{}]", uids.join(", "))
        }
    };
    let resource = match &rule.resource_type {
        Some(ty) => format!("resource is {ty}"),
        None => "resource".to_string(),
    };
    let _ = write!(out, "{kind} ({principal}, {action}, {resource})");
    let conds: Vec<String> = rule
        .when
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != group)
        .map(|(_, c)| cond(c))
        .collect();
    if !conds.is_empty() {
        let _ = write!(out, "\nwhen {{ {} }}", conds.join(" && "));
    }
    if let Effect::Require(required) = &rule.effect {
        let _ = write!(out, "\nunless {{ {} }}", cond(required));
    }
    out.push_str(";\n\n");
}

/// A condition in Cedar syntax.
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
        Cond::HasScope(scope) => format!(
            "(context.scopes.contains({scope:?}) || context.scopes.contains({:?}))",
            scope_wildcard(scope)
        ),
        Cond::Mfa => "context.mfa".to_string(),
        Cond::Mtls => "context.mtls".to_string(),
        Cond::IpIn(cidr) => format!("context.ip.isInRange(ip({cidr:?}))"),
        Cond::TlsAtLeast(minor) => format!("context.tls >= {}", tls_number(*minor)),
        Cond::Not(inner) => format!("!({})", cond(inner)),
    }
}

/// TLS `1.minor` as the integer both Cedar and Rego compare: 12, 13.
pub fn tls_number(minor: u8) -> i64 {
    10 + i64::from(minor)
}

fn uid_json(uid: &Uid) -> Json {
    json!({"type": uid.ty, "id": uid.id})
}

/// The entities in Cedar's entity JSON: `[{"uid", "attrs", "parents"}]`.
pub fn entities_json(model: &Model) -> String {
    let items: Vec<Json> = model
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
                        AttrValue::Entity(uid) => json!({"__entity": uid_json(uid)}),
                    };
                    (name.clone(), value)
                })
                .collect();
            let parents: Vec<Json> = entity.parents.iter().map(uid_json).collect();
            json!({"uid": uid_json(&entity.uid), "attrs": attrs, "parents": parents})
        })
        .collect();
    Json::Array(items).to_string()
}

/// The request's context as Cedar context JSON.
pub fn context_json(request: &RequestSpec) -> Json {
    json!({
        "scopes": request.scopes,
        "mfa": request.mfa,
        "mtls": request.mtls,
        "ip": {"__extn": {"fn": "ip", "arg": request.ip}},
        "tls": tls_number(request.tls_minor),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_is_forbid_unless() {
        let rule = Rule {
            id: "t".into(),
            effect: Effect::Require(Cond::TlsAtLeast(2)),
            actions: Some(vec!["a".into(), "b".into()]),
            resource_type: None,
            principal_type: None,
            when: vec![Cond::HasScope("api1:op2".into())],
        };
        let mut out = String::new();
        write_rule(&mut out, &rule);
        assert_eq!(
            out,
            "@id(\"t\")\nforbid (principal, action in [Action::\"a\", Action::\"b\"], resource)\n\
             when { (context.scopes.contains(\"api1:op2\") || context.scopes.contains(\"api1:*\")) }\n\
             unless { context.tls >= 12 };\n\n"
        );
    }

    #[test]
    fn group_membership_goes_in_the_head() {
        let rule = Rule {
            id: "g".into(),
            effect: Effect::Allow,
            actions: Some(vec!["a".into()]),
            resource_type: Some("Doc".into()),
            principal_type: Some("User".into()),
            when: vec![
                Cond::InGroup("g1".into()).negated(),
                Cond::InGroup("g2".into()),
                Cond::InGroup("g3".into()),
            ],
        };
        let mut out = String::new();
        write_rule(&mut out, &rule);
        assert_eq!(
            out,
            "@id(\"g\")\npermit (principal is User in Group::\"g2\", action == Action::\"a\", \
             resource is Doc)\nwhen { !(principal in Group::\"g1\") && principal in Group::\"g3\" };\n\n"
        );
        let untyped = Rule {
            principal_type: None,
            when: vec![Cond::InGroup("g2".into())],
            ..rule
        };
        let mut out = String::new();
        write_rule(&mut out, &untyped);
        assert!(
            out.contains("permit (principal in Group::\"g2\", action"),
            "{out}"
        );
        assert!(!out.contains("when"), "{out}");
    }

    #[test]
    fn negation_and_cidr() {
        let c = Cond::IpIn("10.0.0.0/8".into()).negated();
        assert_eq!(cond(&c), "!(context.ip.isInRange(ip(\"10.0.0.0/8\")))");
    }
}
