//! The `multi-tenant` workload: a SaaS document store shared by about a hundred tenants.
//!
//! Ten actions on one resource type (`Doc`), one rule per tenant and action, so about a
//! hundred rules per action, all on the same action, resource type and principal type: an
//! index on those alone hands every request a hundred rules. Each rule is conditioned on
//! the tenant's group (`principal in Group::"tenant-k"`, through a team group) and on the
//! document: `resource.tenant == principal.tenant`, and by template nothing more, a kind
//! (`resource.kind == "sheet"`), ownership, the `shared` flag, or (a tenth of the rules)
//! a `deny` of locked documents.
//!
//! Requests: 80% on the three busiest actions (`read`, `list`, `write`); 85% on a document
//! of the principal's own tenant, a quarter of those on one the principal owns; one user
//! in twenty is also a member of a second tenant.

use super::model::{
    ActionGroup, AttrType, AttrValue, Cond, Effect, Entity, EntityType, Model, RequestSpec, Rule,
    Schema, Uid,
};
use super::prng::SplitMix64;

/// The actions, the three busiest first.
pub const ACTIONS: [&str; 10] = [
    "read", "list", "write", "comment", "share", "download", "delete", "export", "approve",
    "archive",
];

/// How many of [`ACTIONS`] (from the front) take [`BUSY_PERCENT`] of the traffic.
pub const BUSY_ACTIONS: usize = 3;

/// The share of requests on the busiest actions.
pub const BUSY_PERCENT: u32 = 80;

const KINDS: [&str; 5] = ["doc", "sheet", "slide", "report", "contract"];
const TEAMS_PER_TENANT: usize = 2;
const RESOURCE_TYPE: &str = "Doc";

/// The size of a multi-tenant workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantShape {
    pub tenants: usize,
    pub users_per_tenant: usize,
    pub docs_per_tenant: usize,
    pub requests: usize,
}

impl TenantShape {
    /// The issue's `multi-tenant`: 100 tenants, so 1,000 rules (100 per action), and
    /// 10,000 entities (300 groups, 2,000 users, 7,700 documents).
    pub fn multi_tenant(requests: usize) -> Self {
        TenantShape {
            tenants: 100,
            users_per_tenant: 20,
            docs_per_tenant: 77,
            requests,
        }
    }

    /// One rule per tenant and action.
    pub fn rules(&self) -> usize {
        self.tenants * ACTIONS.len()
    }

    /// Groups (a tenant and its teams), users and documents.
    pub fn entities(&self) -> usize {
        self.tenants * (1 + TEAMS_PER_TENANT + self.users_per_tenant + self.docs_per_tenant)
    }
}

/// The generated population, kept to steer requests.
struct Population {
    /// Users of each tenant (home tenant).
    users: Vec<Vec<Uid>>,
    /// Documents of each tenant, with their owners.
    docs: Vec<Vec<(Uid, Uid)>>,
}

/// Builds the model of `shape` from `seed`. Zero tenants, users or documents count as one.
pub fn model(shape: &TenantShape, seed: u64) -> Model {
    let shape = &TenantShape {
        tenants: shape.tenants.max(1),
        users_per_tenant: shape.users_per_tenant.max(1),
        docs_per_tenant: shape.docs_per_tenant.max(1),
        requests: shape.requests,
    };
    let mut rng = SplitMix64::new(seed);
    let (entities, population) = entities(shape, &mut rng);
    let rules = rules(shape, &mut rng);
    let requests = (0..shape.requests)
        .map(|_| request(&population, &mut rng))
        .collect();
    Model {
        schema: schema(),
        entities,
        rules,
        requests,
    }
}

fn tenant_id(tenant: usize) -> String {
    format!("tenant-{tenant}")
}

fn schema() -> Schema {
    let attr = |name: &str, ty: AttrType| (name.to_string(), ty);
    Schema {
        entity_types: vec![
            EntityType {
                name: "Group".into(),
                attrs: Vec::new(),
                parent_types: vec!["Group".into()],
            },
            EntityType {
                name: "User".into(),
                attrs: vec![attr("tenant", AttrType::String)],
                parent_types: vec!["Group".into()],
            },
            EntityType {
                name: RESOURCE_TYPE.into(),
                attrs: vec![
                    attr("tenant", AttrType::String),
                    attr("kind", AttrType::String),
                    attr("owner", AttrType::Entity("User".into())),
                    attr("shared", AttrType::Bool),
                    attr("locked", AttrType::Bool),
                ],
                parent_types: Vec::new(),
            },
        ],
        actions: vec![ActionGroup {
            names: ACTIONS.iter().map(|a| a.to_string()).collect(),
            resource_types: vec![RESOURCE_TYPE.into()],
            principal_types: vec!["User".into()],
        }],
    }
}

fn entities(shape: &TenantShape, rng: &mut SplitMix64) -> (Vec<Entity>, Population) {
    let mut out = Vec::with_capacity(shape.entities());
    let group = |id: String, parents: Vec<Uid>| Entity {
        uid: Uid::new("Group", id),
        attrs: Vec::new(),
        parents,
    };
    for t in 0..shape.tenants {
        out.push(group(tenant_id(t), Vec::new()));
        for team in 0..TEAMS_PER_TENANT {
            let parent = Uid::new("Group", tenant_id(t));
            out.push(group(format!("{}-t{team}", tenant_id(t)), vec![parent]));
        }
    }
    let mut users = vec![Vec::new(); shape.tenants];
    for (t, list) in users.iter_mut().enumerate() {
        for i in 0..shape.users_per_tenant {
            let uid = Uid::new("User", format!("u{t}-{i}"));
            let team = format!("{}-t{}", tenant_id(t), rng.below(TEAMS_PER_TENANT));
            let mut parents = vec![Uid::new("Group", team)];
            if rng.chance(5) {
                let other = rng.below(shape.tenants);
                if other != t {
                    parents.push(Uid::new("Group", tenant_id(other)));
                }
            }
            out.push(Entity {
                uid: uid.clone(),
                attrs: vec![("tenant".into(), AttrValue::String(tenant_id(t)))],
                parents,
            });
            list.push(uid);
        }
    }
    let mut docs = vec![Vec::new(); shape.tenants];
    for (t, list) in docs.iter_mut().enumerate() {
        for i in 0..shape.docs_per_tenant {
            let uid = Uid::new(RESOURCE_TYPE, format!("d{t}-{i}"));
            let owner = users
                .get(t)
                .and_then(|u| rng.pick(u))
                .cloned()
                .unwrap_or_else(|| Uid::new("User", "u0-0"));
            let kind = rng.pick(&KINDS).copied().unwrap_or("doc");
            out.push(Entity {
                uid: uid.clone(),
                attrs: vec![
                    ("tenant".into(), AttrValue::String(tenant_id(t))),
                    ("kind".into(), AttrValue::String(kind.into())),
                    ("owner".into(), AttrValue::Entity(owner.clone())),
                    ("shared".into(), AttrValue::Bool(rng.chance(30))),
                    ("locked".into(), AttrValue::Bool(rng.chance(10))),
                ],
                parents: Vec::new(),
            });
            list.push((uid, owner));
        }
    }
    (out, Population { users, docs })
}

/// One rule per tenant and action, grouped by action (`r0…` are the tenants' `read`).
fn rules(shape: &TenantShape, rng: &mut SplitMix64) -> Vec<Rule> {
    let mut rules = Vec::with_capacity(shape.rules());
    for action in ACTIONS {
        for t in 0..shape.tenants {
            let mut when = vec![Cond::InGroup(tenant_id(t)), Cond::SameAttr("tenant".into())];
            let mut effect = Effect::Allow;
            match rng.below(100) {
                0..=34 => {}
                35..=54 => {
                    let kind = rng.pick(&KINDS).copied().unwrap_or("doc");
                    when.push(Cond::ResourceIs("kind".into(), kind.into()));
                }
                55..=74 => when.push(Cond::Owner),
                75..=89 => when.push(Cond::ResourceFlag("shared".into())),
                _ => {
                    effect = Effect::Deny;
                    when.push(Cond::ResourceFlag("locked".into()));
                }
            }
            rules.push(Rule {
                id: format!("r{}", rules.len()),
                effect,
                actions: Some(vec![action.to_string()]),
                resource_type: Some(RESOURCE_TYPE.into()),
                principal_type: Some("User".into()),
                when,
            });
        }
    }
    rules
}

fn request(population: &Population, rng: &mut SplitMix64) -> RequestSpec {
    let action = if rng.chance(BUSY_PERCENT) {
        rng.below(BUSY_ACTIONS)
    } else {
        BUSY_ACTIONS + rng.below(ACTIONS.len() - BUSY_ACTIONS)
    };
    let tenants = population.users.len();
    let home = rng.below(tenants);
    let principal = population
        .users
        .get(home)
        .and_then(|u| rng.pick(u))
        .cloned()
        .unwrap_or_else(|| Uid::new("User", "u0-0"));
    let own_tenant = rng.chance(85);
    let docs = population
        .docs
        .get(if own_tenant { home } else { rng.below(tenants) })
        .map(Vec::as_slice)
        .unwrap_or_default();
    let owned: Vec<&Uid> = docs
        .iter()
        .filter(|(_, owner)| *owner == principal)
        .map(|(doc, _)| doc)
        .collect();
    let resource = match rng.pick(&owned) {
        Some(doc) if own_tenant && rng.chance(25) => (*doc).clone(),
        _ => rng
            .pick(docs)
            .map(|(doc, _)| doc.clone())
            .unwrap_or_else(|| Uid::new(RESOURCE_TYPE, "d0-0")),
    };
    RequestSpec {
        principal,
        action: ACTIONS.get(action).copied().unwrap_or("read").to_string(),
        resource,
        scopes: Vec::new(),
        mfa: rng.chance(50),
        mtls: false,
        ip: format!("10.{}.{}.{}", rng.below(16), rng.below(256), rng.below(256)),
        tls_minor: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_issue() {
        let shape = TenantShape::multi_tenant(40);
        let model = model(&shape, 7);
        assert_eq!((model.rules.len(), shape.rules()), (1_000, 1_000));
        assert_eq!((model.entities.len(), shape.entities()), (10_000, 10_000));
        assert_eq!(model.requests.len(), 40);
        assert!(model.ids_unique());
        let ancestors = model.ancestors();
        assert!(
            ancestors["u3-0"].contains(&"tenant-3"),
            "{:?}",
            ancestors["u3-0"]
        );
    }

    #[test]
    fn degenerate_shapes_still_generate() {
        let shape = TenantShape {
            tenants: 0,
            users_per_tenant: 0,
            docs_per_tenant: 0,
            requests: 5,
        };
        let model = model(&shape, 1);
        assert_eq!((model.rules.len(), model.requests.len()), (10, 5));
    }
}
