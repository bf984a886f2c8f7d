//! A synthetic API-gateway policy set of any size, built directly as a bundle: actions
//! `apiN:opM` (ten per namespace, each namespace on one resource type `ResK`), five rules
//! per action (role, ownership, department, service network with mTLS and CIDR, and deny
//! templates: restricted data, TLS floor, blocked users), groups in three levels, users,
//! services and resources; plus a fixed-seed request stream that hits both allow and deny
//! paths. The shape follows the `gateway` workload of the benchmark crate, so the engine's
//! own tests and examples can measure it without the compiler.

use std::fmt::Write as _;

use rampart_engine::bundle::*;
use rampart_engine::{Engine, EntityStore, Request, TlsVersion};

use super::{ctx, ip, principal, resource, s, tls, uid, Builder, E};

/// Operations per API namespace.
const OPS: usize = 10;
/// Group hierarchy: 4 roots, 16 middle groups, 64 leaves.
const LEVELS: [usize; 3] = [4, 16, 64];

/// The size of a generated gateway.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub rules: usize,
    pub resource_types: usize,
    pub users: usize,
    pub services: usize,
    pub resources: usize,
    pub requests: usize,
}

impl Shape {
    /// Five rules per action, 20 resource types, 10,000 entities.
    pub fn gateway(rules: usize) -> Shape {
        Shape {
            rules,
            resource_types: 20,
            users: 2_000,
            services: 50,
            resources: 7_866,
            requests: 2_000,
        }
    }

    pub fn actions(&self) -> usize {
        (self.rules / 5).max(1)
    }
}

/// A generated workload: the engine, its entities and typed requests.
pub struct Workload {
    pub engine: Engine,
    pub entities: EntityStore,
    pub requests: Vec<Request>,
}

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn action_name(action: usize) -> String {
    format!("api{}:op{}", action / OPS, action % OPS)
}

fn resource_type_of(shape: &Shape, action: usize) -> usize {
    (action / OPS) % shape.resource_types
}

fn group(level: usize, index: usize) -> String {
    format!("g{level}-{index}")
}

/// The bundle of `shape`.
pub fn bundle(shape: &Shape, seed: u64) -> Bundle {
    let mut rng = Rng::new(seed);
    let mut b = Builder::new();
    b.entity_type("Group", &[]);
    b.entity_type(
        "User",
        &[("dept", Ty::String, false), ("blocked", Ty::Bool, false)],
    );
    b.entity_type("Service", &[]);
    let user = b.type_id("User");
    for t in 0..shape.resource_types {
        b.entity_type(
            &format!("Res{t}"),
            &[
                ("owner", Ty::Entity(user), false),
                ("dept", Ty::String, false),
                ("classification", Ty::String, false),
            ],
        );
    }
    b.parents("Group", &["Group"]);
    b.parents("User", &["Group"]);
    b.parents("Service", &["Group"]);
    let (user, service) = (b.type_id("User"), b.type_id("Service"));
    let first_resource = b.type_id("Res0");
    for a in 0..shape.actions() {
        b.bundle.schema.actions.push(ActionType {
            name: action_name(a),
            resources: Some(vec![first_resource + resource_type_of(shape, a) as u32]),
            principals: Some(vec![user, service]),
            context: RecordType::default(),
        });
    }
    let scopes = ctx("auth.scopes");
    for r in 0..shape.rules {
        let action = r % shape.actions();
        let slot = r / shape.actions();
        let name = action_name(action);
        let res_ty = first_resource + resource_type_of(shape, action) as u32;
        let template = match slot {
            0 => 0,
            1 => 1,
            2 | 3 => 2 + rng.below(3),
            _ => 5 + rng.below(3),
        };
        let (kind, principals, resources, when, require): (_, _, _, Vec<E>, Option<E>) =
            match template {
                0 => {
                    let level = rng.below(2);
                    let g = group(level, rng.below(LEVELS[level]));
                    let when = vec![
                        principal().is_in(uid("Group", &g)),
                        scopes.clone().has_scope(s(&name)),
                    ];
                    (
                        RuleKind::Allow,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
                1 => {
                    let when = vec![
                        resource().dot("owner").eq(principal()),
                        scopes.clone().has_scope(s(&name)),
                    ];
                    (
                        RuleKind::Allow,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
                2 => {
                    let g = group(0, rng.below(LEVELS[0]));
                    let when = vec![
                        principal().is_in(uid("Group", &g)),
                        principal().dot("dept").eq(resource().dot("dept")),
                        resource().dot("classification").eq(s("restricted")).not(),
                        scopes.clone().has_scope(s(&name)),
                    ];
                    (
                        RuleKind::Allow,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
                3 => {
                    let g = group(1, rng.below(LEVELS[1]));
                    let net = rng.below(16);
                    let when = vec![
                        ctx("tls.mtls"),
                        ctx("source.ip").is_in(ip(&format!("10.{net}.0.0/16"))),
                        principal().is_in(uid("Group", &g)),
                    ];
                    let principals = Some(vec![service]);
                    (RuleKind::Allow, principals, Some(vec![res_ty]), when, None)
                }
                4 => {
                    let when = vec![
                        principal().is_in(uid("Group", "g0-0")),
                        ctx("auth.mfa"),
                        ctx("tls.version").ge(tls(TlsVersion::Tls13)),
                    ];
                    (
                        RuleKind::Allow,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
                5 => {
                    let when = vec![
                        resource().dot("classification").eq(s("restricted")),
                        principal().is_in(uid("Group", "g1-0")).not(),
                    ];
                    (
                        RuleKind::Deny,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
                6 => {
                    let required = ctx("tls.version").ge(tls(TlsVersion::Tls12));
                    (RuleKind::Require, None, None, Vec::new(), Some(required))
                }
                _ => {
                    let when = vec![principal().dot("blocked")];
                    (
                        RuleKind::Deny,
                        Some(vec![user]),
                        Some(vec![res_ty]),
                        when,
                        None,
                    )
                }
            };
        let rule = Rule {
            id: format!("r{r}"),
            kind,
            package: 0,
            scope: Scope {
                actions: Some(vec![action as u32]),
                resources,
                principals,
                ..Scope::default()
            },
            when: b.condition(&when),
            unless: None,
            require: require.map(|c| b.condition(&[c])),
            reason: (kind != RuleKind::Allow).then(|| format!("rule {r} denies")),
            controls: Vec::new(),
            annotations: Default::default(),
            source: None,
        };
        b.bundle.rules.push(rule);
    }
    b.build()
}

/// Entity data of `shape` as JSON.
pub fn entities_json(shape: &Shape, seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0xE);
    let mut out = String::from("[");
    for (level, count) in LEVELS.iter().enumerate() {
        for i in 0..*count {
            let parents = match level {
                0 => String::new(),
                _ => format!("\"Group::\\\"{}\\\"\"", group(level - 1, i / 4)),
            };
            let _ = write!(
                out,
                "{{\"uid\":\"Group::\\\"{}\\\"\",\"parents\":[{parents}]}},",
                group(level, i)
            );
        }
    }
    for i in 0..shape.users {
        let leaf = group(2, rng.below(LEVELS[2]));
        let _ = write!(
            out,
            "{{\"uid\":\"User::\\\"u{i}\\\"\",\"attrs\":{{\"dept\":\"d{}\",\"blocked\":{}}},\
             \"parents\":[\"Group::\\\"{leaf}\\\"\"]}},",
            rng.below(10),
            rng.chance(2)
        );
    }
    for i in 0..shape.services {
        let leaf = group(2, rng.below(LEVELS[2]));
        let _ = write!(
            out,
            "{{\"uid\":\"Service::\\\"s{i}\\\"\",\"parents\":[\"Group::\\\"{leaf}\\\"\"]}},"
        );
    }
    for i in 0..shape.resources {
        let t = i % shape.resource_types;
        let class = match rng.below(100) {
            0..=49 => "public",
            50..=84 => "internal",
            _ => "restricted",
        };
        let _ = write!(
            out,
            "{{\"uid\":\"Res{t}::\\\"r{i}\\\"\",\"attrs\":{{\"owner\":\"User::\\\"u{}\\\"\",\
             \"dept\":\"d{}\",\"classification\":\"{class}\"}}}},",
            owner_of(shape, i),
            rng.below(10)
        );
    }
    out.pop();
    out.push(']');
    out
}

/// The owner of resource `i`: fixed, so requests can be steered to the ownership rule.
fn owner_of(shape: &Shape, i: usize) -> usize {
    (i * 7919) % shape.users
}

/// A request as JSON: `(principal, action, resource id, scopes, mfa, mtls, ip, tls minor)`.
#[allow(clippy::too_many_arguments)]
pub fn request_json(
    principal: &str,
    action: usize,
    resource_type: usize,
    resource: usize,
    scopes: &[String],
    mfa: bool,
    mtls: bool,
    ip: &str,
    tls_minor: u8,
) -> serde_json::Value {
    serde_json::json!({
        "principal": principal,
        "action": action_name(action),
        "resource": format!("Res{resource_type}::\"r{resource}\""),
        "context": {
            "auth": {"scopes": scopes, "mfa": mfa},
            "tls": {"version": format!("1.{tls_minor}"), "mtls": mtls},
            "source": {"ip": ip},
        }
    })
}

/// The fixed-seed request stream of `shape`: half steered to the ownership rule.
pub fn requests_json(shape: &Shape, seed: u64) -> Vec<serde_json::Value> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let per_type = shape.resources / shape.resource_types;
    (0..shape.requests)
        .map(|_| {
            let action = rng.below(shape.actions());
            let t = resource_type_of(shape, action);
            let resource = rng.below(per_type) * shape.resource_types + t;
            let principal = if rng.chance(50) {
                format!("User::\"u{}\"", owner_of(shape, resource))
            } else if rng.chance(88) {
                format!("User::\"u{}\"", rng.below(shape.users))
            } else {
                format!("Service::\"s{}\"", rng.below(shape.services))
            };
            let scopes = if rng.chance(80) {
                vec![action_name(action)]
            } else {
                vec![format!("api{}:*", action / OPS), "other:read".to_string()]
            };
            let ip = if rng.chance(80) {
                format!("10.{}.{}.{}", rng.below(16), rng.below(256), rng.below(256))
            } else {
                format!("203.0.113.{}", rng.below(256))
            };
            let tls_minor = match rng.below(100) {
                0..=64 => 3,
                65..=94 => 2,
                _ => 1,
            };
            request_json(
                &principal,
                action,
                t,
                resource,
                &scopes,
                rng.chance(50),
                rng.chance(30),
                &ip,
                tls_minor,
            )
        })
        .collect()
}

/// Builds the whole workload of `shape`.
pub fn workload(shape: &Shape, seed: u64) -> Workload {
    let engine = Engine::new(bundle(shape, seed)).expect("the gateway bundle loads");
    let entities = engine
        .load_entities(&entities_json(shape, seed))
        .expect("the gateway entities load");
    let requests = requests_json(shape, seed)
        .iter()
        .map(|json| {
            engine
                .request_from_value(json)
                .expect("gateway requests are valid")
        })
        .collect();
    Workload {
        engine,
        entities,
        requests,
    }
}
