//! The gateway's request stream: about half the requests are steered towards one of the
//! action's allow rules (a member of its group, the owner of the resource, a service on
//! its network, an admin with MFA), the rest are random; contexts vary scopes, MFA, mTLS,
//! source address and TLS version.

use super::rules::{Hint, Hints};
use super::{action_name, resource_type_of, GatewayShape, Population, ADMIN_GROUP};
use crate::gen::model::{scope_wildcard, RequestSpec, Uid};
use crate::gen::prng::SplitMix64;

/// The share of requests steered towards a global rule (a blocked user or network, an
/// admin-all group), when there are global rules.
const GLOBAL_HINT_PERCENT: u32 = 20;

pub(super) fn request(
    shape: &GatewayShape,
    hints: &Hints,
    population: &Population,
    rng: &mut SplitMix64,
) -> RequestSpec {
    let action = rng.below(shape.actions);
    let resources = &population.resources[resource_type_of(shape, action)];
    let (mut resource, _) = resources[rng.below(resources.len())].clone();
    let random_user =
        |rng: &mut SplitMix64| population.users[rng.below(population.users.len())].clone();
    let mut principal = if rng.chance(88) {
        random_user(rng)
    } else {
        population.services[rng.below(population.services.len())].clone()
    };
    let mut ip = if rng.chance(80) {
        format!("10.{}.{}.{}", rng.below(16), rng.below(256), rng.below(256))
    } else {
        format!("203.0.113.{}", rng.below(256))
    };
    let mut mfa = rng.chance(50);
    let mut mtls = if principal.ty == "Service" {
        rng.chance(90)
    } else {
        rng.chance(15)
    };
    let mut tls_minor = match rng.below(100) {
        0..=64 => 3,
        65..=94 => 2,
        _ => 1,
    };
    let member_of = |group: &str, services_only: bool, rng: &mut SplitMix64| {
        let members: Vec<&Uid> = population
            .members
            .get(group)
            .into_iter()
            .flatten()
            .filter(|m| !services_only || m.ty == "Service")
            .collect();
        rng.pick(&members).map(|m| (*m).clone())
    };
    let mut hint = if rng.chance(55) {
        hints
            .per_action
            .get(action)
            .and_then(|h| rng.pick(h))
            .cloned()
    } else {
        None
    };
    if !hints.global.is_empty() && rng.chance(GLOBAL_HINT_PERCENT) {
        hint = rng.pick(&hints.global).cloned();
    }
    match hint {
        Some(Hint::Member(group)) => {
            principal = member_of(&group, false, rng).unwrap_or_else(|| random_user(rng));
        }
        Some(Hint::Owner) => {
            let (owned, owner) = resources[rng.below(resources.len())].clone();
            resource = owned;
            principal = owner;
        }
        Some(Hint::Service { group, net }) => {
            if let Some(service) = member_of(&group, true, rng) {
                principal = service;
            }
            ip = format!("10.{net}.{}.{}", rng.below(256), rng.below(256));
            mtls = true;
        }
        Some(Hint::Admin) => {
            principal = member_of(ADMIN_GROUP, false, rng).unwrap_or_else(|| random_user(rng));
            mfa = true;
            tls_minor = 3;
        }
        Some(Hint::Principal(uid)) => principal = uid,
        Some(Hint::Ip(address)) => ip = address,
        None => {}
    }
    let name = action_name(action);
    let mut scopes = Vec::new();
    if rng.chance(75) {
        scopes.push(name.clone());
    }
    if rng.chance(10) {
        scopes.push(scope_wildcard(&name));
    }
    for _ in 0..rng.below(3) {
        scopes.push(action_name(rng.below(shape.actions)));
    }
    RequestSpec {
        principal,
        action: name,
        resource,
        scopes,
        mfa,
        mtls,
        ip,
        tls_minor,
    }
}
