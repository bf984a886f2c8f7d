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

pub use gateway::GatewayShape;
pub use model::{Model, RequestSpec};

/// The workloads of the issue, in report order.
pub const WORKLOADS: [&str; 5] = ["small", "gateway", "scale-1k", "scale-10k", "scale-100k"];

/// The seed every workload derives from.
const SEED: u64 = 0x5241_4D50_4152_5421;

/// Request stream lengths of the full report; `--quick` uses fewer.
pub fn default_requests(name: &str) -> usize {
    match name {
        "small" | "gateway" => 5_000,
        "scale-1k" => 2_000,
        // Cedar needs about 30 ms (10k rules) and 300 ms (100k) per decision, regorus
        // about 60 ms at 10k: the agreement pass decides the whole stream with each.
        "scale-10k" => 500,
        _ => 200,
    }
}

/// Rules and entities of the named workload, without generating it.
pub fn size_of(name: &str) -> Option<(usize, usize)> {
    match name {
        "small" => Some((small::RULES, small::ENTITIES)),
        _ => shape_of(name, 0).map(|s| (s.rules, s.entities)),
    }
}

/// The shape of a workload, `None` for `small` and unknown names.
pub fn shape_of(name: &str, requests: usize) -> Option<GatewayShape> {
    match name {
        "gateway" => Some(GatewayShape::gateway(requests)),
        "scale-1k" => Some(GatewayShape::scale(1_000, requests)),
        "scale-10k" => Some(GatewayShape::scale(10_000, requests)),
        "scale-100k" => Some(GatewayShape::scale(100_000, requests)),
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
}

/// Generates the named workload with `requests` requests; `None` for an unknown name.
pub fn generate(name: &str, requests: usize) -> Option<Workload> {
    if name == "small" {
        return Some(Workload::from_model(
            name,
            small::model(seed_of(name), requests),
        ));
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
            assert_eq!(shape_of(name, 1).is_some(), name != "small");
        }
    }
}
