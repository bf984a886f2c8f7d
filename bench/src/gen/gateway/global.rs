//! The global rules of `gateway-global`: rules on `*` or on about ten actions, which an
//! index keyed on the action alone hands to many requests.
//!
//! Out of every 250 global rules: on `*`, 100 (an mTLS requirement for services, a TLS
//! floor, 50 blocked users, 2 blocked groups, 40 blocked networks, 4 admin-all groups and
//! 2 break-glass groups with MFA over TLS 1.3); on the ten actions of one API namespace,
//! 80 (40 namespace-admin groups, 40 users blocked from one API); on ten actions drawn at
//! random, 70 (3 TLS 1.3 floors, 3 internal-only APIs, 2 MFA requirements, 30 partner
//! service allow-lists, 32 groups denied without MFA). Smaller counts keep the proportions.

use super::rules::{Hint, Hints};
use super::{action_name, resource_type_of, GatewayShape, Population, OPS_PER_NAMESPACE};
use crate::gen::model::{Cond, Effect, Rule, Uid};
use crate::gen::prng::SplitMix64;

/// The kinds of global rules with their share of every 250.
const KINDS: [(Kind, usize); 14] = [
    (Kind::MtlsForServices, 1),
    (Kind::TlsFloor, 1),
    (Kind::BlockedUser, 50),
    (Kind::BlockedGroup, 2),
    (Kind::BlockedNetwork, 40),
    (Kind::AdminAll, 4),
    (Kind::BreakGlass, 2),
    (Kind::NamespaceAdmin, 40),
    (Kind::NamespaceBlockedUser, 40),
    (Kind::Tls13Floor, 3),
    (Kind::InternalOnly, 3),
    (Kind::MfaRequired, 2),
    (Kind::PartnerServices, 30),
    (Kind::GroupNeedsMfa, 32),
];

/// The sum of the shares in [`KINDS`].
const PER: usize = 250;

/// How many actions a rule on "about ten actions" drawn at random names.
const DRAWN_ACTIONS: usize = 10;

/// The external network the request stream draws from; a quarter of it is blocked.
pub(super) const EXTERNAL_NET: &str = "203.0.113";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MtlsForServices,
    TlsFloor,
    BlockedUser,
    BlockedGroup,
    BlockedNetwork,
    AdminAll,
    BreakGlass,
    NamespaceAdmin,
    NamespaceBlockedUser,
    Tls13Floor,
    InternalOnly,
    MfaRequired,
    PartnerServices,
    GroupNeedsMfa,
}

/// The kind of global rule `index` of `count`: the shares of [`KINDS`], in order.
fn kind_of(index: usize, count: usize) -> Kind {
    let position = index * PER / count.max(1);
    let mut end = 0;
    for (kind, share) in KINDS {
        end += share;
        if position < end {
            return kind;
        }
    }
    Kind::GroupNeedsMfa
}

/// Appends `shape.global_rules` global rules to `rules` (ids continue the numbering) and
/// their hints to `hints`.
pub(super) fn rules(
    shape: &GatewayShape,
    population: &Population,
    rng: &mut SplitMix64,
    rules: &mut Vec<Rule>,
    hints: &mut Hints,
) {
    let [_, mids, leaves] = &population.groups_by_level;
    let namespaces = shape.actions.div_ceil(OPS_PER_NAMESPACE).max(1);
    let mut networks = 0usize;
    for index in 0..shape.global_rules {
        let kind = kind_of(index, shape.global_rules);
        let mut rule = Rule {
            id: format!("r{}", rules.len()),
            effect: Effect::Deny,
            actions: None,
            resource_type: None,
            principal_type: None,
            when: Vec::new(),
        };
        match kind {
            Kind::MtlsForServices => {
                rule.effect = Effect::Require(Cond::Mtls);
                rule.principal_type = Some("Service".into());
            }
            Kind::TlsFloor => rule.effect = Effect::Require(Cond::TlsAtLeast(2)),
            Kind::BlockedUser => {
                let user = pick_user(population, rng);
                rule.principal_type = Some("User".into());
                rule.when = vec![Cond::PrincipalIs(user.clone())];
                hints.global.push(Hint::Principal(user));
            }
            Kind::BlockedGroup => {
                let group = pick(leaves, rng);
                rule.when = vec![Cond::InGroup(group.clone())];
                hints.global.push(Hint::Member(group));
            }
            Kind::BlockedNetwork => {
                // Every fifth lies in the external network requests come from (eight /29s
                // cover a quarter of it); the others are never seen, as in real lists.
                let network = if networks.is_multiple_of(5) {
                    let base = (networks / 5 % 32) * 8;
                    let host = base + rng.below(8);
                    hints
                        .global
                        .push(Hint::Ip(format!("{EXTERNAL_NET}.{host}")));
                    format!("{EXTERNAL_NET}.{base}/29")
                } else {
                    format!("198.{}.{}.0/24", 18 + rng.below(2), rng.below(256))
                };
                networks += 1;
                rule.when = vec![Cond::IpIn(network)];
            }
            Kind::AdminAll => {
                let group = pick(leaves, rng);
                rule.effect = Effect::Allow;
                rule.principal_type = Some("User".into());
                rule.when = vec![Cond::InGroup(group.clone())];
                hints.global.push(Hint::Member(group));
            }
            Kind::BreakGlass => {
                let group = pick(mids, rng);
                rule.effect = Effect::Allow;
                rule.principal_type = Some("User".into());
                rule.when = vec![Cond::InGroup(group), Cond::Mfa, Cond::TlsAtLeast(3)];
            }
            Kind::NamespaceAdmin | Kind::NamespaceBlockedUser => {
                let namespace = rng.below(namespaces);
                let first = namespace * OPS_PER_NAMESPACE;
                let actions: Vec<usize> =
                    (first..(first + OPS_PER_NAMESPACE).min(shape.actions)).collect();
                rule.resource_type = Some(format!("Res{}", resource_type_of(shape, first)));
                rule.principal_type = Some("User".into());
                if kind == Kind::NamespaceAdmin {
                    let group = pick(leaves, rng);
                    rule.effect = Effect::Allow;
                    rule.when = vec![Cond::InGroup(group.clone())];
                    for action in &actions {
                        if let Some(list) = hints.per_action.get_mut(*action) {
                            list.push(Hint::Member(group.clone()));
                        }
                    }
                } else {
                    let user = pick_user(population, rng);
                    rule.when = vec![Cond::PrincipalIs(user)];
                }
                rule.actions = Some(actions.into_iter().map(action_name).collect());
            }
            Kind::Tls13Floor
            | Kind::InternalOnly
            | Kind::MfaRequired
            | Kind::PartnerServices
            | Kind::GroupNeedsMfa => {
                let actions = draw_actions(shape.actions, rng);
                match kind {
                    Kind::Tls13Floor => rule.effect = Effect::Require(Cond::TlsAtLeast(3)),
                    Kind::InternalOnly => {
                        rule.effect = Effect::Require(Cond::IpIn("10.0.0.0/8".into()));
                    }
                    Kind::MfaRequired => {
                        rule.effect = Effect::Require(Cond::Mfa);
                        rule.principal_type = Some("User".into());
                    }
                    Kind::PartnerServices => {
                        let group = pick(mids, rng);
                        let net = rng.below(16);
                        rule.effect = Effect::Allow;
                        rule.principal_type = Some("Service".into());
                        rule.when = vec![
                            Cond::Mtls,
                            Cond::IpIn(format!("10.{net}.0.0/16")),
                            Cond::InGroup(group.clone()),
                        ];
                        for action in &actions {
                            if let Some(list) = hints.per_action.get_mut(*action) {
                                list.push(Hint::Service {
                                    group: group.clone(),
                                    net,
                                });
                            }
                        }
                    }
                    _ => {
                        rule.when = vec![Cond::InGroup(pick(leaves, rng)), Cond::Mfa.negated()];
                    }
                }
                rule.actions = Some(actions.into_iter().map(action_name).collect());
            }
        }
        rules.push(rule);
    }
}

fn pick(groups: &[String], rng: &mut SplitMix64) -> String {
    rng.pick(groups).cloned().unwrap_or_default()
}

fn pick_user(population: &Population, rng: &mut SplitMix64) -> Uid {
    rng.pick(&population.users)
        .cloned()
        .unwrap_or_else(|| Uid::new("User", "u0"))
}

/// Up to [`DRAWN_ACTIONS`] distinct actions drawn at random, in ascending order.
fn draw_actions(actions: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut drawn: Vec<usize> = (0..DRAWN_ACTIONS).map(|_| rng.below(actions)).collect();
    drawn.sort_unstable();
    drawn.dedup();
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_shares() {
        let count = |kind: Kind, n: usize| (0..n).filter(|i| kind_of(*i, n) == kind).count();
        assert_eq!(KINDS.iter().map(|(_, s)| s).sum::<usize>(), PER);
        for (kind, share) in KINDS {
            assert_eq!(count(kind, PER), share, "{kind:?}");
        }
        assert_eq!(count(Kind::BlockedUser, 500), 100);
    }
}
