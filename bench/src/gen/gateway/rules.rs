//! The gateway's rules: a fixed number per action, in slots (see the module doc), and for
//! every action the hints that steer requests towards its allow rules.

use super::{
    action_name, resource_type_of, GatewayShape, Population, ADMIN_GROUP, CLASSES, CLEARANCE_GROUP,
};
use crate::gen::model::{Cond, Effect, Rule};
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
}

/// The rules, and for every action the hints of its allow rules.
pub(super) fn rules(
    shape: &GatewayShape,
    population: &Population,
    rng: &mut SplitMix64,
) -> (Vec<Rule>, Vec<Vec<Hint>>) {
    let mut rules = Vec::with_capacity(shape.rules);
    let mut hints = vec![Vec::new(); shape.actions];
    let [roots, mids, leaves] = &population.groups_by_level;
    let upper: Vec<&String> = roots.iter().chain(mids.iter()).collect();
    for r in 0..shape.rules {
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
            2 | 3 => 2 + rng.below(4),
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
        if let (Some(hint), Some(list)) = (hint, hints.get_mut(action)) {
            list.push(hint);
        }
        rules.push(rule);
    }
    (rules, hints)
}
