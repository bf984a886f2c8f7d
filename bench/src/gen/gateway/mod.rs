//! The `gateway` workload and its `gateway-global` and `scale-*` variants: an API
//! gateway's policy set.
//!
//! Actions are `apiN:opM` (ten operations per API namespace); all operations of a
//! namespace act on one of the resource types `Res0…`. Each action gets the same number of
//! per-action rules (`rules / actions`, rounded up), in slots: slot 0 is role-based (group
//! membership and the action's scope), slot 1 ownership, then a random allow template
//! (department, service network with mTLS and CIDR, admin with MFA and TLS 1.3) up to the
//! last fifth of the slots, which get a deny template (restricted data without clearance,
//! a TLS floor, blocked users, internal data from outside the corporate network). With
//! five rules per action (`gateway`) that is slots 2–3 allow and slot 4 deny. Groups form
//! a three-level hierarchy (4 roots → 16 → 64 leaves); users and services sit in leaves.
//!
//! `gateway-global` adds global rules on `*` or on about ten actions (the `global`
//! module): authentication and TLS requirements, block lists of users, groups and
//! networks, IP allow-lists, admin-all and namespace-admin groups.
//!
//! Requests: half are steered towards one of the action's allow rules (a member of its
//! group, the owner of the resource…), the rest are random; with global rules, a fifth
//! are then steered towards one of those (a blocked user or network, an admin-all group).
//! Contexts vary scopes, MFA, mTLS, source address and TLS version. So both allow and deny
//! paths are exercised.

mod global;
mod requests;
mod rules;

use super::model::{ActionGroup, AttrType, AttrValue, Entity, EntityType, Model, Schema, Uid};
use super::prng::SplitMix64;

/// The size of a gateway-shaped workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayShape {
    pub rules: usize,
    /// Of `rules`, how many are global: on `*` or on about ten actions (block lists,
    /// admin-all, authentication and TLS requirements); the others are per-action rules.
    pub global_rules: usize,
    pub actions: usize,
    pub resource_types: usize,
    /// Total entities: groups, users, services and resources.
    pub entities: usize,
    pub requests: usize,
}

impl GatewayShape {
    /// The issue's `gateway`: 1,000 rules over 200 actions and 20 resource types, 10,000
    /// entities.
    pub fn gateway(requests: usize) -> Self {
        GatewayShape {
            rules: 1_000,
            global_rules: 0,
            actions: 200,
            resource_types: 20,
            entities: 10_000,
            requests,
        }
    }

    /// `gateway-global`: 1,000 rules of which 250 are global (100 on `*`, 150 on ten
    /// actions each), the other 750 five per action over 150 actions and 15 resource types;
    /// 10,000 entities.
    pub fn gateway_global(requests: usize) -> Self {
        GatewayShape {
            rules: 1_000,
            global_rules: 250,
            actions: 150,
            resource_types: 15,
            entities: 10_000,
            requests,
        }
    }

    /// The gateway shape with `rules` rules over `actions` actions (`rules / actions` per
    /// action); 20 resource types and 10,000 entities as in `gateway`.
    pub fn scale(rules: usize, actions: usize, requests: usize) -> Self {
        GatewayShape {
            rules,
            actions: actions.max(1),
            ..GatewayShape::gateway(requests)
        }
    }

    /// Per-action rules of each action, rounded up.
    pub fn rules_per_action(&self) -> usize {
        self.rules
            .saturating_sub(self.global_rules)
            .div_ceil(self.actions.max(1))
    }
}

pub(super) const OPS_PER_NAMESPACE: usize = 10;
pub(super) const ROOTS: usize = 4;
pub(super) const FANOUT: usize = 4;
pub(super) const DEPTS: usize = 10;
pub(super) const CLEARANCE_GROUP: &str = "g1-0";
pub(super) const ADMIN_GROUP: &str = "g0-0";
pub(super) const CLASSES: [&str; 3] = ["public", "internal", "restricted"];

/// The generated population, kept to steer requests.
pub(super) struct Population {
    pub(super) groups_by_level: [Vec<String>; 3],
    /// For each group id, its direct and indirect members (users and services).
    pub(super) members: std::collections::HashMap<String, Vec<Uid>>,
    pub(super) users: Vec<Uid>,
    pub(super) services: Vec<Uid>,
    /// Resources per type, with their owners.
    pub(super) resources: Vec<Vec<(Uid, Uid)>>,
}

/// Builds the model of `shape` from `seed`. Zero actions or resource types count as one.
pub fn model(shape: &GatewayShape, seed: u64) -> Model {
    let shape = &GatewayShape {
        actions: shape.actions.max(1),
        resource_types: shape.resource_types.max(1),
        ..*shape
    };
    let mut rng = SplitMix64::new(seed);
    let (entities, population) = entities(shape, &mut rng);
    let (rules, hints) = rules::rules(shape, &population, &mut rng);
    let mut model = Model {
        schema: schema(shape),
        entities,
        rules,
        requests: Vec::new(),
    };
    model.requests = (0..shape.requests)
        .map(|_| requests::request(shape, &hints, &population, &mut rng))
        .collect();
    model
}

pub(super) fn action_name(action: usize) -> String {
    format!(
        "api{}:op{}",
        action / OPS_PER_NAMESPACE,
        action % OPS_PER_NAMESPACE
    )
}

pub(super) fn resource_type_of(shape: &GatewayShape, action: usize) -> usize {
    (action / OPS_PER_NAMESPACE) % shape.resource_types.max(1)
}

fn schema(shape: &GatewayShape) -> Schema {
    let attr = |name: &str, ty: AttrType| (name.to_string(), ty);
    let mut entity_types = vec![
        EntityType {
            name: "Group".into(),
            attrs: Vec::new(),
            parent_types: vec!["Group".into()],
        },
        EntityType {
            name: "User".into(),
            attrs: vec![
                attr("dept", AttrType::String),
                attr("blocked", AttrType::Bool),
            ],
            parent_types: vec!["Group".into()],
        },
        EntityType {
            name: "Service".into(),
            attrs: Vec::new(),
            parent_types: vec!["Group".into()],
        },
    ];
    let mut actions = Vec::new();
    for t in 0..shape.resource_types {
        entity_types.push(EntityType {
            name: format!("Res{t}"),
            attrs: vec![
                attr("owner", AttrType::Entity("User".into())),
                attr("dept", AttrType::String),
                attr("classification", AttrType::String),
            ],
            parent_types: Vec::new(),
        });
        let names: Vec<String> = (0..shape.actions)
            .filter(|a| resource_type_of(shape, *a) == t)
            .map(action_name)
            .collect();
        if !names.is_empty() {
            actions.push(ActionGroup {
                names,
                resource_types: vec![format!("Res{t}")],
                principal_types: vec!["User".into(), "Service".into()],
            });
        }
    }
    Schema {
        entity_types,
        actions,
    }
}

fn entities(shape: &GatewayShape, rng: &mut SplitMix64) -> (Vec<Entity>, Population) {
    let mut out = Vec::with_capacity(shape.entities);
    let mut groups_by_level: [Vec<String>; 3] = Default::default();
    let mut parent_of = std::collections::HashMap::new();
    for (level, ids) in groups_by_level.iter_mut().enumerate() {
        let count = ROOTS * FANOUT.pow(level as u32);
        for i in 0..count {
            let id = format!("g{level}-{i}");
            let parents = match level {
                0 => Vec::new(),
                _ => vec![format!("g{}-{}", level - 1, i / FANOUT)],
            };
            if let Some(parent) = parents.first() {
                parent_of.insert(id.clone(), parent.clone());
            }
            out.push(Entity {
                uid: Uid::new("Group", id.clone()),
                attrs: Vec::new(),
                parents: parents.into_iter().map(|p| Uid::new("Group", p)).collect(),
            });
            ids.push(id);
        }
    }
    let groups = out.len();
    let users_count = (shape.entities / 5).max(1);
    let services_count = (shape.entities / 200).max(2);
    let resources_count = shape
        .entities
        .saturating_sub(groups + users_count + services_count)
        .max(shape.resource_types);
    let mut members: std::collections::HashMap<String, Vec<Uid>> = Default::default();
    let mut add_member = |uid: &Uid, leaf: &str| {
        let mut group = Some(leaf.to_string());
        while let Some(g) = group {
            members.entry(g.clone()).or_default().push(uid.clone());
            group = parent_of.get(&g).cloned();
        }
    };
    let leaves = &groups_by_level[2];
    let mut users = Vec::with_capacity(users_count);
    for i in 0..users_count {
        let uid = Uid::new("User", format!("u{i}"));
        let mut parents: Vec<String> = vec![leaves[rng.below(leaves.len())].clone()];
        if rng.chance(30) {
            let second = leaves[rng.below(leaves.len())].clone();
            if !parents.contains(&second) {
                parents.push(second);
            }
        }
        for leaf in &parents {
            add_member(&uid, leaf);
        }
        out.push(Entity {
            uid: uid.clone(),
            attrs: vec![
                (
                    "dept".into(),
                    AttrValue::String(format!("d{}", rng.below(DEPTS))),
                ),
                ("blocked".into(), AttrValue::Bool(rng.chance(2))),
            ],
            parents: parents.into_iter().map(|p| Uid::new("Group", p)).collect(),
        });
        users.push(uid);
    }
    let mut services = Vec::with_capacity(services_count);
    for i in 0..services_count {
        let uid = Uid::new("Service", format!("s{i}"));
        let leaf = leaves[rng.below(leaves.len())].clone();
        add_member(&uid, &leaf);
        out.push(Entity {
            uid: uid.clone(),
            attrs: Vec::new(),
            parents: vec![Uid::new("Group", leaf)],
        });
        services.push(uid);
    }
    let mut resources = vec![Vec::new(); shape.resource_types];
    for i in 0..resources_count {
        let t = i % shape.resource_types.max(1);
        let uid = Uid::new(
            format!("Res{t}"),
            format!("r{t}-{}", i / shape.resource_types),
        );
        let owner = users[rng.below(users.len())].clone();
        let class = match rng.below(100) {
            0..=49 => CLASSES[0],
            50..=84 => CLASSES[1],
            _ => CLASSES[2],
        };
        out.push(Entity {
            uid: uid.clone(),
            attrs: vec![
                ("owner".into(), AttrValue::Entity(owner.clone())),
                (
                    "dept".into(),
                    AttrValue::String(format!("d{}", rng.below(DEPTS))),
                ),
                ("classification".into(), AttrValue::String(class.into())),
            ],
            parents: Vec::new(),
        });
        resources[t].push((uid, owner));
    }
    let population = Population {
        groups_by_level,
        members,
        users,
        services,
        resources,
    };
    (out, population)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_shapes_still_generate() {
        let shape = GatewayShape {
            rules: 3,
            global_rules: 0,
            actions: 0,
            resource_types: 0,
            entities: 0,
            requests: 5,
        };
        let model = model(&shape, 1);
        assert_eq!((model.rules.len(), model.requests.len()), (3, 5));
    }

    #[test]
    fn gateway_sizes_match_the_issue() {
        let model = model(&GatewayShape::gateway(50), 3);
        assert_eq!(model.rules.len(), 1_000);
        assert_eq!(model.entities.len(), 10_000);
        assert_eq!(model.requests.len(), 50);
        let actions: usize = model.schema.actions.iter().map(|g| g.names.len()).sum();
        assert_eq!(actions, 200);
        assert_eq!(model.schema.actions.len(), 20);
        assert!(model.ids_unique());
        // Depth 3: a leaf's ancestors are a mid and a root.
        assert_eq!(model.ancestors()["g2-5"], vec!["g0-0", "g1-1"]);
    }

    use crate::gen::model::{Cond, Effect};

    #[test]
    fn rules_include_denies_and_every_template_kind() {
        let model = model(&GatewayShape::scale(2_000, 400, 0), 5);
        let denies = model
            .rules
            .iter()
            .filter(|r| r.effect != Effect::Allow)
            .count();
        assert_eq!(denies, 400);
        let has = |c: &dyn Fn(&Cond) -> bool| model.rules.iter().any(|r| r.when.iter().any(c));
        assert!(has(&|c| matches!(c, Cond::IpIn(_))));
        assert!(has(&|c| matches!(c, Cond::SameDept)));
        assert!(model
            .rules
            .iter()
            .any(|r| matches!(r.effect, Effect::Require(_))));
    }
}
