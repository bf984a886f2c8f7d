//! Writes a [`Model`] as routed Rego: what an OPA expert writes so that only the rules
//! relevant to a request are evaluated, since regorus has no rule index.
//!
//! One package, `rampart.routed`, in which every action has rules of its own:
//! `permit_<route>` and `forbid_<route>` hold the rules that name the action (a rule naming
//! several actions is written for each), without their `input.action` test, and
//! `allow_<route>` decides (`<route>` is the action spelled as an identifier,
//! [`route_of`]). The rules on every action (`*`) are `permit_global`/`forbid_global`,
//! which every action's `allow_<route>` reads too; `allow_global` decides an action no rule
//! names. The host reads the routed actions once at load (the `routes` rule), and per
//! decision picks the rule `data.rampart.routed.allow_<route>` from the request's action (a
//! hash lookup) and evaluates that one rule: regorus evaluates a rule lazily, with only the
//! rules it reads.
//!
//! Why not a package per action: regorus 0.14 walks the list of loaded modules on every
//! reference to `data` (`ensure_module_evaluated`), so with one module per action each
//! `data.entities[…]` in a condition costs time linear in the number of actions. Why not a
//! data-driven entry point (`data.rampart.actions[input.action].allow`): regorus evaluates
//! every package under the indexed prefix.
//!
//! Rules, conditions, `data` and `input` are those of the single-package form
//! ([`super::rego`]); modules are cut at 2,000 rules to stay under regorus's 1 MiB limit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Effect, Model, Rule};
use super::rego::{write_rule_in, SCOPE_HELPER};

/// The package of the routed rules.
pub const PACKAGE: &str = "rampart.routed";

/// The rule listing the routed actions, which the host reads at load.
pub const ROUTES_RULE: &str = "data.rampart.routed.routes";

/// The rule a request whose action no rule names evaluates.
pub const GLOBAL_ALLOW: &str = "data.rampart.routed.allow_global";

/// The route of the rules every action shares.
pub const GLOBAL_ROUTE: &str = "global";

/// Rules per module, as in the single-package form.
const RULES_PER_MODULE: usize = 2_000;

/// The `allow` rule of an action's route.
pub fn allow_rule(action: &str) -> String {
    format!("data.{PACKAGE}.allow_{}", route_of(action))
}

/// The identifier naming an action's rules: `a_` then the action, with every byte other
/// than an ASCII letter or digit written `_XX` (hex). One-to-one (so never `global`), and
/// [`action_of`] reads it back.
pub fn route_of(action: &str) -> String {
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

/// The action an identifier written by [`route_of`] names; `None` for any other text.
pub fn action_of(route: &str) -> Option<String> {
    let rest = route.strip_prefix("a_")?;
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

/// The modules, `(file name, text)` in file name order, all of package `rampart.routed`:
/// `routed-000.rego` with the global rules, then the actions' rules, a new module every
/// 2,000 rules (an action's rules never straddle two modules), then `routed-routes.rego`
/// with `routes`.
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
        let permit = rules.iter().any(|r| r.effect == Effect::Allow);
        let forbid = rules.iter().any(|r| r.effect != Effect::Allow);
        (permit, forbid)
    };
    let global_sets = sets(&global);
    let header = format!("package {PACKAGE}\n\nimport rego.v1\n\n");
    // Several actions a line, lines under 800 columns: regorus refuses lines over 1,024
    // columns and files over 20,000 lines (scale-wide-100k has 20,000 actions).
    let mut routes = header.clone();
    routes.push_str("routes := {\n");
    let mut line = String::new();
    for action in by_action.keys() {
        let item = format!("{action:?},");
        if !line.is_empty() && line.len() + item.len() > 800 {
            let _ = writeln!(routes, "\t{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&item);
    }
    if !line.is_empty() {
        let _ = writeln!(routes, "\t{line}");
    }
    routes.push_str("}\n");
    let mut text = header.clone();
    text.push_str(SCOPE_HELPER);
    text.push('\n');
    write_allow(&mut text, GLOBAL_ROUTE, global_sets, (false, false));
    write_rules(&mut text, GLOBAL_ROUTE, &global);
    let mut out = Vec::new();
    let mut in_module = global.len();
    for (action, rules) in &by_action {
        if in_module > 0 && in_module + rules.len() > RULES_PER_MODULE {
            out.push((format!("routed-{:03}.rego", out.len()), text));
            text = header.clone();
            in_module = 0;
        }
        let route = route_of(action);
        write_allow(&mut text, &route, sets(rules), global_sets);
        write_rules(&mut text, &route, rules);
        in_module += rules.len();
    }
    out.push((format!("routed-{:03}.rego", out.len()), text));
    out.push(("routed-routes.rego".to_string(), routes));
    out
}

/// `allow_<route>`: no forbid (the route's or the global ones) and some permit, with terms
/// only for the sets some rule defines (an undefined set would make the body undefined).
fn write_allow(out: &mut String, route: &str, local: (bool, bool), global: (bool, bool)) {
    let _ = writeln!(out, "default allow_{route} := false\n");
    let (local_permit, local_forbid) = local;
    let (global_permit, global_forbid) = global;
    if !local_permit && !global_permit {
        return;
    }
    let _ = writeln!(out, "allow_{route} if {{");
    if local_forbid {
        let _ = writeln!(out, "\tcount(forbid_{route}) == 0");
    }
    if global_forbid {
        let _ = writeln!(out, "\tcount(forbid_{GLOBAL_ROUTE}) == 0");
    }
    let _ = writeln!(out, "\tpermitted_{route}\n}}\n");
    if local_permit {
        let _ = writeln!(out, "permitted_{route} if count(permit_{route}) > 0\n");
    }
    if global_permit && route != GLOBAL_ROUTE {
        let _ = writeln!(
            out,
            "permitted_{route} if count(permit_{GLOBAL_ROUTE}) > 0\n"
        );
    }
}

fn write_rules(out: &mut String, route: &str, rules: &[&Rule]) {
    for rule in rules {
        write_rule_in(out, rule, Some(route));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::model::Cond;

    #[test]
    fn twenty_thousand_routes_fit_regorus_limits() {
        let rules = (0..20_000)
            .map(|i| Rule {
                id: format!("r{i}"),
                effect: Effect::Allow,
                actions: Some(vec![format!("api{i}:op{i}")]),
                resource_type: None,
                principal_type: None,
                when: vec![Cond::Mfa],
            })
            .collect();
        let model = Model {
            rules,
            ..Model::default()
        };
        let modules = modules(&model);
        let Some((name, routes)) = modules.last() else {
            unreachable!("no modules")
        };
        assert_eq!(name, "routed-routes.rego");
        assert!(routes.lines().count() < 1_000);
        assert!(routes.lines().all(|l| l.len() <= 1_024));
        let mut engine = regorus::Engine::new();
        if let Err(error) = engine.add_policy(name.clone(), routes.clone()) {
            unreachable!("regorus refused the routes: {error}");
        }
    }

    #[test]
    fn routes_are_identifiers_and_read_back() {
        for action in ["api3:op7", "a_b", "a:b", "read", "ü-x", "", "global"] {
            let route = route_of(action);
            assert!(route
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert_ne!(route, GLOBAL_ROUTE);
            assert_eq!(action_of(&route).as_deref(), Some(action));
        }
        assert_ne!(route_of("a_b"), route_of("a:b"));
        assert_eq!(route_of("api3:op7"), "a_api3_3Aop7");
        assert_eq!(allow_rule("read"), "data.rampart.routed.allow_a_read");
        assert_eq!(action_of("global"), None);
        assert_eq!(action_of("a_x_4"), None);
    }

    #[test]
    fn rules_go_to_their_actions_routes_and_star_rules_to_the_global_one() {
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
        assert_eq!(modules.len(), 2);
        let text = &modules[0].1;
        assert!(text.starts_with("package rampart.routed\n"), "{text}");
        let routes = &modules[1];
        assert_eq!(routes.0, "routed-routes.rego");
        assert!(
            routes
                .1
                .ends_with("routes := {\n\t\"read\", \"write\",\n}\n"),
            "{}",
            routes.1
        );
        assert!(text.contains("forbid_global contains \"star\""), "{text}");
        assert!(
            text.contains("default allow_global := false\n\nforbid_global"),
            "{text}"
        );
        assert!(text.contains("permit_a_read contains \"one\""), "{text}");
        assert!(text.contains("permit_a_read contains \"two\""), "{text}");
        assert!(text.contains("permit_a_write contains \"two\""), "{text}");
        assert!(!text.contains("permit_a_write contains \"one\""), "{text}");
        assert!(!text.contains("input.action"), "{text}");
        assert!(
            text.contains("allow_a_read if {\n\tcount(forbid_global) == 0\n\tpermitted_a_read\n}"),
            "{text}"
        );
        assert!(!text.contains("permit_global"), "{text}");
    }

    #[test]
    fn large_sets_are_cut_between_actions() {
        let model = Model {
            rules: (0..4_500)
                .map(|i| Rule {
                    id: format!("r{i}"),
                    effect: Effect::Allow,
                    actions: Some(vec![format!("act{}", i / 3)]),
                    resource_type: None,
                    principal_type: None,
                    when: vec![Cond::Mfa],
                })
                .collect(),
            ..Model::default()
        };
        let modules = modules(&model);
        assert_eq!(modules.len(), 4);
        assert!(modules
            .iter()
            .all(|(_, text)| text.starts_with("package rampart.routed\n")));
        let mut names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            modules.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
        );
        // regorus refuses lines over 1,024 columns and modules over 1 MiB.
        for (name, text) in &modules {
            assert!(text.lines().all(|l| l.len() <= 1_024), "{name}");
            assert!(text.len() < 1 << 20, "{name}");
        }
    }
}
