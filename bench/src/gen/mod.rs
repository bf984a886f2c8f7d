//! The workload generator: one logical model per workload ([`model`]), written in Rampart,
//! Cedar and Rego by the emitters, with one entity data set and one request stream.
//!
//! Everything is derived from a fixed seed and the workload's name, so every run emits
//! byte-identical workloads.

pub mod cedar;
pub mod files;
pub mod gateway;
pub mod model;
pub mod prng;
pub mod rampart;
pub mod rego;
pub mod rego_routed;
pub mod small;
pub mod tenant;

pub use gateway::GatewayShape;
pub use model::{Model, RequestSpec};
pub use tenant::TenantShape;

/// The workloads of the issue, in report order, then `scale-wide-100k` (the old scale
/// shape: five rules per action).
pub const WORKLOADS: [&str; 8] = [
    "small",
    "gateway",
    "gateway-global",
    "multi-tenant",
    "scale-1k",
    "scale-10k",
    "scale-100k",
    "scale-wide-100k",
];

/// The seed every workload derives from.
const SEED: u64 = 0x5241_4D50_4152_5421;

/// Request stream lengths of the full report; `--quick` uses fewer.
pub fn default_requests(name: &str) -> usize {
    match name {
        "small" | "gateway" | "gateway-global" | "multi-tenant" => 5_000,
        "scale-1k" => 2_000,
        // Cedar needs about 30 ms (10k rules) and 300 ms (100k) per decision, regorus
        // about 60 ms at 10k: the agreement pass decides the whole stream with each.
        "scale-10k" => 500,
        "scale-100k" => 200,
        _ => 100,
    }
}

/// Rules and entities of the named workload, without generating it.
pub fn size_of(name: &str) -> Option<(usize, usize)> {
    match name {
        "small" => Some((small::RULES, small::ENTITIES)),
        "multi-tenant" => {
            let shape = TenantShape::multi_tenant(0);
            Some((shape.rules(), shape.entities()))
        }
        _ => shape_of(name, 0).map(|s| (s.rules, s.entities)),
    }
}

/// The shape of a gateway-shaped workload, `None` for `small`, `multi-tenant` and unknown
/// names.
///
/// The `scale-*` sets grow by rules per action as well as by actions: 10 rules on each of
/// 100 actions, 32 (31.6) on 316, 100 on 1,000; `scale-wide-100k` keeps five per action
/// (20,000 actions).
pub fn shape_of(name: &str, requests: usize) -> Option<GatewayShape> {
    match name {
        "gateway" => Some(GatewayShape::gateway(requests)),
        "gateway-global" => Some(GatewayShape::gateway_global(requests)),
        "scale-1k" => Some(GatewayShape::scale(1_000, 100, requests)),
        "scale-10k" => Some(GatewayShape::scale(10_000, 316, requests)),
        "scale-100k" => Some(GatewayShape::scale(100_000, 1_000, requests)),
        "scale-wide-100k" => Some(GatewayShape::scale(100_000, 20_000, requests)),
        _ => None,
    }
}

/// One workload, written in every language.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub rules: usize,
    pub entities: usize,
    /// Rampart policy files, `(file name, text)`.
    pub rampart_files: Vec<(String, String)>,
    pub cedar_policies: String,
    /// Rego modules, `(file name, text)`, all of one package.
    pub rego_modules: Vec<(String, String)>,
    /// The routed Rego modules (a package per action), `(file name, text)`.
    pub rego_routed_modules: Vec<(String, String)>,
    /// Cedar entity JSON; Rampart reads the same text.
    pub entities_json: String,
    /// The same entities as Rego's `data` document.
    pub rego_data_json: String,
    pub requests: Vec<RequestSpec>,
}

impl Workload {
    /// Writes `model` in every language.
    pub fn from_model(name: &str, model: Model) -> Workload {
        Workload {
            name: name.to_string(),
            rules: model.rules.len(),
            entities: model.entities.len(),
            rampart_files: rampart::policy_files(&model),
            cedar_policies: cedar::policies(&model),
            rego_modules: rego::modules(&model),
            rego_routed_modules: rego_routed::modules(&model),
            entities_json: cedar::entities_json(&model),
            rego_data_json: rego::data_json(&model),
            requests: model.requests,
        }
    }

    /// A gateway-shaped workload of any size (tests use reduced ones).
    pub fn gateway_shaped(name: &str, shape: &GatewayShape) -> Workload {
        Workload::from_model(name, gateway::model(shape, seed_of(name)))
    }

    /// A multi-tenant workload of any size (tests use reduced ones).
    pub fn tenant_shaped(name: &str, shape: &TenantShape) -> Workload {
        Workload::from_model(name, tenant::model(shape, seed_of(name)))
    }
}

/// Generates the named workload with `requests` requests; `None` for an unknown name.
pub fn generate(name: &str, requests: usize) -> Option<Workload> {
    match name {
        "small" => {
            return Some(Workload::from_model(
                name,
                small::model(seed_of(name), requests),
            ))
        }
        "multi-tenant" => {
            let shape = TenantShape::multi_tenant(requests);
            return Some(Workload::tenant_shaped(name, &shape));
        }
        _ => {}
    }
    let shape = shape_of(name, requests)?;
    Some(Workload::gateway_shaped(name, &shape))
}

/// The seed of a workload: the fixed seed mixed with its name (FNV-1a).
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(SEED ^ 0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = generate("small", 20).map(|w| (w.cedar_policies, w.requests));
        let b = generate("small", 20).map(|w| (w.cedar_policies, w.requests));
        assert!(a.is_some());
        assert_eq!(a, b);
        assert!(generate("nope", 1).is_none());
    }

    #[test]
    fn every_name_has_a_size() {
        for name in WORKLOADS {
            assert!(default_requests(name) > 0);
            let gateway_shaped = !matches!(name, "small" | "multi-tenant");
            assert_eq!(shape_of(name, 1).is_some(), gateway_shaped);
            assert!(size_of(name).is_some());
        }
    }

    use std::collections::HashMap;

    use model::{Effect, Rule};

    fn model_of(name: &str, requests: usize) -> Model {
        match name {
            "multi-tenant" => tenant::model(&TenantShape::multi_tenant(requests), seed_of(name)),
            _ => match shape_of(name, requests) {
                Some(shape) => gateway::model(&shape, seed_of(name)),
                None => panic!("{name} is gateway-shaped"),
            },
        }
    }

    /// Rules naming exactly one action, counted per action and principal type.
    fn single_action_counts(rules: &[Rule]) -> HashMap<(&str, Option<&str>), usize> {
        let mut counts = HashMap::new();
        for rule in rules {
            if let Some([action]) = rule.actions.as_deref() {
                *counts
                    .entry((action.as_str(), rule.principal_type.as_deref()))
                    .or_default() += 1;
            }
        }
        counts
    }

    #[test]
    fn gateway_global_has_a_quarter_of_global_rules() {
        let model = model_of("gateway-global", 0);
        assert_eq!(model.rules.len(), 1_000);
        let any = model.rules.iter().filter(|r| r.actions.is_none()).count();
        let multi: Vec<usize> = model
            .rules
            .iter()
            .filter_map(|r| r.actions.as_ref().map(Vec::len))
            .filter(|n| *n > 1)
            .collect();
        assert_eq!((any, multi.len()), (100, 150));
        // "About ten actions": namespaces have ten, drawn lists up to ten.
        assert!(multi.iter().all(|n| (5..=10).contains(n)), "{multi:?}");
        // Block lists, admin-all and the authentication requirements are all there.
        let has = |f: &dyn Fn(&Rule) -> bool| model.rules.iter().any(f);
        assert!(has(&|r| r
            .when
            .iter()
            .any(|c| matches!(c, Cond::PrincipalIs(_)))));
        assert!(has(&|r| r.actions.is_none()
            && r.effect == Effect::Allow
            && r.when.len() == 1));
        assert!(has(&|r| r.effect == Effect::Require(Cond::Mtls)));
        // The other 750 rules are five per action, as in `gateway`.
        let counts = single_action_counts(&model.rules);
        let per_action: HashMap<&str, usize> =
            counts.iter().fold(HashMap::new(), |mut m, (k, n)| {
                *m.entry(k.0).or_default() += n;
                m
            });
        assert_eq!(per_action.len(), 150);
        assert!(per_action.values().all(|n| *n == 5));
    }

    use model::Cond;

    #[test]
    fn multi_tenant_has_a_hundred_rules_per_action_and_busy_actions() {
        let model = model_of("multi-tenant", 4_000);
        let counts = single_action_counts(&model.rules);
        assert_eq!(counts.len(), 10);
        assert!(counts
            .iter()
            .all(|((_, p), n)| *n == 100 && *p == Some("User")));
        let tenant_conditioned = model.rules.iter().all(|r| {
            matches!(r.when.first(), Some(Cond::InGroup(g)) if g.starts_with("tenant-"))
                && r.when.contains(&Cond::SameAttr("tenant".into()))
        });
        assert!(tenant_conditioned);
        let busy = &tenant::ACTIONS[..tenant::BUSY_ACTIONS];
        let on_busy = model
            .requests
            .iter()
            .filter(|r| busy.contains(&r.action.as_str()))
            .count();
        let percent = 100 * on_busy / model.requests.len();
        assert!(
            (77..=83).contains(&percent),
            "{percent}% on the busiest actions"
        );
    }

    #[test]
    fn scale_sets_grow_by_rules_per_action() {
        for (name, actions, most) in [
            ("scale-1k", 100, 10),
            ("scale-10k", 316, 32),
            ("scale-100k", 1_000, 100),
            ("scale-wide-100k", 20_000, 5),
        ] {
            let model = model_of(name, 0);
            let counts = single_action_counts(&model.rules);
            let per_action: HashMap<&str, usize> =
                counts.iter().fold(HashMap::new(), |mut m, (k, n)| {
                    *m.entry(k.0).or_default() += n;
                    m
                });
            assert_eq!(per_action.len(), actions, "{name}");
            assert_eq!(per_action.values().max(), Some(&most), "{name}");
            // Most of an action's rules share its principal type: an index on (action,
            // resource type, principal type) leaves them all.
            let busiest_user = counts
                .iter()
                .filter(|((_, p), _)| *p == Some("User"))
                .map(|(_, n)| *n)
                .max();
            assert!(busiest_user >= Some(most / 2), "{name}: {busiest_user:?}");
            let denies = model
                .rules
                .iter()
                .filter(|r| r.effect != Effect::Allow)
                .count();
            assert!(
                (15..=25).contains(&(100 * denies / model.rules.len())),
                "{name}"
            );
        }
    }
}
