//! Writes a [`Model`] as routed Rego: what an OPA expert writes so that only the rules
//! relevant to a request are evaluated, since regorus has no rule index.
//!
//! - One package per action, `rampart.actions.<action>` ([`package_of`] spells the action
//!   as an identifier), holding the rules that name the action. A rule naming several
//!   actions is written in the package of each: the package is chosen by the action, so
//!   the rule's own `input.action` test is left out.
//! - The rules naming no action (`*`) in one shared package, `rampart.global`, whose
//!   `permit` and `forbid` every action's `allow` reads too.
//! - The entry point: the host picks the rule `data.rampart.actions.<action>.allow` from
//!   the request's action (a hash lookup), or `data.rampart.global.allow` for an action
//!   no package names, and evaluates that one rule. regorus evaluates a rule lazily, with
//!   only the rules it reads, so a decision evaluates one action's rules and the global
//!   ones. (A data-driven entry point, `data.rampart.actions[input.action].allow`,
//!   evaluates every package under `data.rampart.actions` in regorus 0.14, so it is not
//!   used.)
//!
//! Rules, conditions, `data` and `input` are those of the single-package form
//! ([`super::rego`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Effect, Model, Rule};
use super::rego::{write_rule_in, SCOPE_HELPER};

/// The package of the rules every action shares.
pub const GLOBAL_PACKAGE: &str = "rampart.global";

/// The prefix of every action's package.
pub const ACTIONS_PREFIX: &str = "rampart.actions.";

/// The rule a request whose action has no package evaluates.
pub const GLOBAL_ALLOW: &str = "data.rampart.global.allow";

/// The identifier naming an action's package: `a_` then the action, with every byte other
/// than an ASCII letter or digit written `_XX` (hex). One-to-one, so [`action_of`] reads
/// it back.
pub fn package_of(action: &str) -> String {
    let mut out = String::with_capacity(action.len() + 8);
    out.push_str("a_");
    for byte in action.bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "_{byte:02X}");
        }
    }
    out
}

/// The action an identifier written by [`package_of`] names; `None` for any other text.
pub fn action_of(package: &str) -> Option<String> {
    let rest = package.strip_prefix("a_")?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut chars = rest.bytes();
    while let Some(byte) = chars.next() {
        if byte == b'_' {
            let hex = [chars.next()?, chars.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        } else if byte.is_ascii_alphanumeric() {
            bytes.push(byte);
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The modules, `(file name, text)`, in file name order: one `action-NNNNN.rego` per
/// action named by a rule or declared in the schema, then `global.rego`.
pub fn modules(model: &Model) -> Vec<(String, String)> {
    let mut global: Vec<&Rule> = Vec::new();
    let mut by_action: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for group in &model.schema.actions {
        for name in &group.names {
            by_action.entry(name.as_str()).or_default();
        }
    }
    for rule in &model.rules {
        match rule.actions.as_deref() {
            None => global.push(rule),
            Some(actions) => {
                for action in actions {
                    by_action.entry(action.as_str()).or_default().push(rule);
                }
            }
        }
    }
    let sets = |rules: &[&Rule]| {
        let forbid = rules.iter().any(|r| r.effect != Effect::Allow);
        let permit = rules.iter().any(|r| r.effect == Effect::Allow);
        (permit, forbid)
    };
    let (global_permit, global_forbid) = sets(&global);
    let mut out = Vec::with_capacity(by_action.len() + 1);
    for (n, (action, rules)) in by_action.iter().enumerate() {
        let mut text = format!(
            "package {ACTIONS_PREFIX}{}\n\nimport rego.v1\n\nimport data.rampart.global\n\n",
            package_of(action)
        );
        write_allow(&mut text, sets(rules), (global_permit, global_forbid));
        write_rules(&mut text, rules);
        out.push((format!("action-{n:05}.rego"), text));
    }
    let mut text = format!("package {GLOBAL_PACKAGE}\n\nimport rego.v1\n\n");
    write_allow(&mut text, (global_permit, global_forbid), (false, false));
    write_rules(&mut text, &global);
    out.push(("global.rego".to_string(), text));
    out
}

/// `allow`: no forbid (local or global) and some permit (local or global), with terms only
/// for the sets some rule defines (an undefined set would make the body undefined).
fn write_allow(out: &mut String, local: (bool, bool), global: (bool, bool)) {
    out.push_str("default allow := false\n\n");
    let (local_permit, local_forbid) = local;
    let (global_permit, global_forbid) = global;
    if !local_permit && !global_permit {
        return;
    }
    out.push_str("allow if {\n");
    if local_forbid {
        out.push_str("\tcount(forbid) == 0\n");
    }
    if global_forbid {
        out.push_str("\tcount(global.forbid) == 0\n");
    }
    out.push_str("\tpermitted\n}\n\n");
    if local_permit {
        out.push_str("permitted if count(permit) > 0\n\n");
    }
    if global_permit {
        out.push_str("permitted if count(global.permit) > 0\n\n");
    }
}

fn write_rules(out: &mut String, rules: &[&Rule]) {
    out.push_str(SCOPE_HELPER);
    out.push('\n');
    for rule in rules {
        write_rule_in(out, rule, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::model::Cond;

    #[test]
    fn package_names_are_identifiers_and_read_back() {
        for action in ["api3:op7", "a_b", "a:b", "read", "ü-x", ""] {
            let package = package_of(action);
            assert!(package
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert_eq!(action_of(&package).as_deref(), Some(action));
        }
        assert_ne!(package_of("a_b"), package_of("a:b"));
        assert_eq!(package_of("api3:op7"), "a_api3_3Aop7");
        assert_eq!(action_of("bench"), None);
        assert_eq!(action_of("a_x_4"), None);
    }

    #[test]
    fn rules_go_to_their_actions_packages_and_star_rules_to_the_shared_one() {
        let rule = |id: &str, effect, actions: Option<&[&str]>| Rule {
            id: id.into(),
            effect,
            actions: actions.map(|a| a.iter().map(|s| s.to_string()).collect()),
            resource_type: None,
            principal_type: None,
            when: vec![Cond::Mfa],
        };
        let model = Model {
            rules: vec![
                rule("one", Effect::Allow, Some(&["read"])),
                rule("two", Effect::Allow, Some(&["read", "write"])),
                rule("star", Effect::Deny, None),
            ],
            ..Model::default()
        };
        let modules = modules(&model);
        let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["action-00000.rego", "action-00001.rego", "global.rego"]
        );
        let (read, write, global) = (&modules[0].1, &modules[1].1, &modules[2].1);
        assert!(global.starts_with("package rampart.global\n"));
        assert!(global.contains("forbid contains \"star\""));
        assert!(!global.contains("allow if"), "{global}");
        assert!(read.starts_with("package rampart.actions.a_read\n"));
        assert!(read.contains("permit contains \"one\"") && read.contains("\"two\""));
        assert!(write.contains("permit contains \"two\"") && !write.contains("\"one\""));
        assert!(!read.contains("input.action"), "{read}");
        assert!(read.contains("\tcount(global.forbid) == 0\n"), "{read}");
        assert!(!read.contains("\tcount(forbid)"), "{read}");
        assert!(read.contains("permitted if count(permit) > 0"), "{read}");
        assert!(!read.contains("global.permit"), "{read}");
    }
}
