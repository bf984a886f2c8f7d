//! The gateway's rules: a fixed number per action, in slots (see the module doc), then
//! the global rules of `gateway-global` ([`super::global`]), and the hints that steer
//! requests towards allow rules (and, for global rules, towards block lists).

use super::{
    action_name, resource_type_of, GatewayShape, Population, ADMIN_GROUP, CLASSES, CLEARANCE_GROUP,
};
use crate::gen::model::{Cond, Effect, Rule, Uid};
use crate::gen::prng::SplitMix64;

/// What a request must look like for an allow rule to apply: used to steer requests.
#[derive(Debug, Clone)]
pub(super) enum Hint {
    /// A member of the group.
    Member(String),
    /// The owner of the resource.
    Owner,
    /// A service of the group, with mTLS, from `10.NET.0.0/16`.
    Service { group: String, net: usize },
    /// An admin with MFA over TLS 1.3.
    Admin,
    /// This principal (a blocked user).
    Principal(Uid),
    /// This source address (inside a blocked network).
    Ip(String),
}

/// Hints per action (index = action), and hints of the global rules (any action).
pub(super) struct Hints {
    pub(super) per_action: Vec<Vec<Hint>>,
    pub(super) global: Vec<Hint>,
}

/// The rules, and the hints of their allow rules (and block lists).
///
/// Per-action slots: 0 role-based, 1 ownership, then random allow templates up to the
/// last fifth of the action's slots, which holds deny templates (so five rules per action
/// are four allows and one deny, as in `gateway`; a hundred are 80 and 20).
pub(super) fn rules(
    shape: &GatewayShape,
    population: &Population,
    rng: &mut SplitMix64,
) -> (Vec<Rule>, Hints) {
    let mut rules = Vec::with_capacity(shape.rules);
    let mut hints = Hints {
        per_action: vec![Vec::new(); shape.actions],
        global: Vec::new(),
    };
    let [roots, mids, leaves] = &population.groups_by_level;
    let upper: Vec<&String> = roots.iter().chain(mids.iter()).collect();
    let per_action = shape.rules_per_action();
    let deny_from = per_action - per_action / 5;
    for r in 0..shape.rules.saturating_sub(shape.global_rules) {
        let action = r % shape.actions;
        let slot = r / shape.actions;
        let name = action_name(action);
        let res_type = format!("Res{}", resource_type_of(shape, action));
        let mut rule = Rule {
            id: format!("r{r}"),
            effect: Effect::Allow,
            actions: Some(vec![name.clone()]),
            resource_type: Some(res_type),
            principal_type: Some("User".into()),
            when: Vec::new(),
        };
        let scope = Cond::HasScope(name);
        let template = match slot {
            0 => 0,
            1 => 1,
            s if s < deny_from => 2 + rng.below(4),
            _ => 6 + rng.below(4),
        };
        let (when, hint) = match template {
            0 | 5 => {
                let pool: Vec<&String> = if template == 0 {
                    upper.clone()
                } else {
                    leaves.iter().collect()
                };
                let group = rng.pick(&pool).map_or_else(String::new, |g| g.to_string());
                let hint = Hint::Member(group.clone());
                (vec![Cond::InGroup(group), scope], Some(hint))
            }
            1 => (vec![Cond::Owner, scope], Some(Hint::Owner)),
            2 => {
                let group = rng.pick(roots).cloned().unwrap_or_default();
                let restricted = Cond::ResourceIs("classification".into(), CLASSES[2].into());
                let when = vec![
                    Cond::InGroup(group.clone()),
                    Cond::SameDept,
                    restricted.negated(),
                    scope,
                ];
                (when, Some(Hint::Member(group)))
            }
            3 => {
                let group = rng.pick(mids).cloned().unwrap_or_default();
                let net = rng.below(16);
                rule.principal_type = Some("Service".into());
                let when = vec![
                    Cond::Mtls,
                    Cond::IpIn(format!("10.{net}.0.0/16")),
                    Cond::InGroup(group.clone()),
                ];
                (when, Some(Hint::Service { group, net }))
            }
            4 => {
                let when = vec![
                    Cond::InGroup(ADMIN_GROUP.into()),
                    Cond::Mfa,
                    Cond::TlsAtLeast(3),
                ];
                (when, Some(Hint::Admin))
            }
            6 => {
                rule.effect = Effect::Deny;
                let when = vec![
                    Cond::ResourceIs("classification".into(), CLASSES[2].into()),
                    Cond::InGroup(CLEARANCE_GROUP.into()).negated(),
                ];
                (when, None)
            }
            7 => {
                rule.effect = Effect::Require(Cond::TlsAtLeast(2));
                rule.resource_type = None;
                rule.principal_type = None;
                (Vec::new(), None)
            }
            8 => {
                rule.effect = Effect::Deny;
                (vec![Cond::PrincipalFlag("blocked".into())], None)
            }
            _ => {
                rule.effect = Effect::Deny;
                rule.principal_type = None;
                let when = vec![
                    Cond::ResourceIs("classification".into(), CLASSES[1].into()),
                    Cond::IpIn("10.0.0.0/8".into()).negated(),
                ];
                (when, None)
            }
        };
        rule.when = when;
        if let (Some(hint), Some(list)) = (hint, hints.per_action.get_mut(action)) {
            list.push(hint);
        }
        rules.push(rule);
    }
    super::global::rules(shape, population, rng, &mut rules, &mut hints);
    (rules, hints)
}
