//! The filter's configuration: which bundle decides, with which entities, and which
//! package decides which route.
//!
//! Plugin configuration (Envoy: `config.configuration`), JSON, every field optional:
//!
//! ```json
//! {"bundle": {…bundle file…}, "entities": […entity JSON…],
//!  "package": "gateway", "route_packages": {"status-route": "status"},
//!  "rate_limits": "deny"}
//! ```
//!
//! `bundle` and `entities` may also be given as JSON text (a string), and in the VM
//! configuration (Envoy: `vm_config.configuration`, `{"bundle": …, "entities": …}`),
//! which every plugin sharing the VM sees. Each is taken from the plugin configuration,
//! else from the VM configuration, else from what `rampart build --target proxy-wasm`
//! embedded in the module. A configuration that does not load leaves the filter denying
//! every request (fail closed); unknown fields are errors, so a typo cannot drop a setting.

use std::collections::BTreeMap;
use std::fmt;

use rampart_engine::{Engine, EntityStore};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::embedded::Embedded;

/// The deepest JSON nesting read here; bundles check their own, tighter, depth.
const MAX_CONFIG_DEPTH: usize = 512;

/// A loaded configuration: the engine, its entities and the package choice.
pub struct Policy {
    pub engine: Engine,
    pub entities: EntityStore,
    /// The package deciding routes not named in `route_packages`; `None`: every package.
    pub package: Option<String>,
    /// Route name (Envoy's `xds.route_name`) → the package deciding it.
    pub route_packages: BTreeMap<String, String>,
    /// What an allow with `rate_limit` obligations becomes.
    pub rate_limits: RateLimits,
    /// What is odd but not wrong in the configuration (a package the bundle lacks).
    pub warnings: Vec<String>,
}

/// What the filter does with `rate_limit` obligations, which it does not enforce itself
/// (the sidecar does; inside Envoy each worker runs a VM of its own).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RateLimits {
    /// An allow that carries one is denied: an obligation the enforcer cannot carry out
    /// must not be dropped (fail closed).
    #[default]
    Deny,
    /// They are left to another filter (Envoy's `local_ratelimit`, say); the allow stands.
    NotEnforced,
}

impl Policy {
    /// The package deciding a request on `route` (the route's name, when the host has one).
    pub fn package_for(&self, route: Option<&str>) -> Option<&str> {
        route
            .and_then(|r| self.route_packages.get(r))
            .or(self.package.as_ref())
            .map(String::as_str)
    }
}

/// Where a piece of configuration came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Plugin,
    Vm,
    Embedded,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Plugin => "plugin configuration",
            Origin::Vm => "VM configuration",
            Origin::Embedded => "bundle embedded in the module",
        })
    }
}

/// Why a configuration does not load. Every one of them makes the filter deny.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the {origin} is not valid: {detail}")]
    Invalid { origin: Origin, detail: String },
    #[error(
        "no bundle: give `bundle` in the plugin or VM configuration, or embed one with \
         `rampart build DIR --target proxy-wasm`"
    )]
    NoBundle,
    #[error("the bundle of the {origin} does not load: {detail}")]
    Bundle { origin: Origin, detail: String },
    #[error("the entities of the {origin} do not load: {detail}")]
    Entities { origin: Origin, detail: String },
}

/// The configuration texts the host and the module hold.
pub struct Sources<'a> {
    /// The plugin configuration, if any.
    pub plugin: Option<&'a [u8]>,
    /// The VM configuration, if any.
    pub vm: Option<&'a [u8]>,
    /// What is embedded in the module, or why it cannot be read.
    pub embedded: Result<Embedded, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PluginJson<'a> {
    #[serde(borrow)]
    bundle: Option<&'a RawValue>,
    #[serde(borrow)]
    entities: Option<&'a RawValue>,
    package: Option<String>,
    #[serde(default)]
    route_packages: BTreeMap<String, String>,
    #[serde(default)]
    rate_limits: RateLimits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VmJson<'a> {
    #[serde(borrow)]
    bundle: Option<&'a RawValue>,
    #[serde(borrow)]
    entities: Option<&'a RawValue>,
}

/// Loads the policy the sources describe.
pub fn load(sources: &Sources<'_>) -> Result<Policy, ConfigError> {
    let plugin: PluginJson<'_> = parse(sources.plugin, Origin::Plugin)?;
    let vm: VmJson<'_> = parse(sources.vm, Origin::Vm)?;
    let embedded = sources
        .embedded
        .as_ref()
        .map_err(|detail| ConfigError::Invalid {
            origin: Origin::Embedded,
            detail: detail.clone(),
        })?;

    let bundle = [
        (plugin.bundle.map(document), Origin::Plugin),
        (vm.bundle.map(document), Origin::Vm),
        (embedded.bundle.clone().map(Ok), Origin::Embedded),
    ];
    let (text, origin) = pick(bundle)?.ok_or(ConfigError::NoBundle)?;
    let engine = Engine::from_bundle_json(&text).map_err(|e| ConfigError::Bundle {
        origin,
        detail: e.to_string(),
    })?;

    let entities = [
        (plugin.entities.map(document), Origin::Plugin),
        (vm.entities.map(document), Origin::Vm),
        (embedded.entities.clone().map(Ok), Origin::Embedded),
    ];
    let entities = match pick(entities)? {
        Some((text, origin)) => engine
            .load_entities(&text)
            .map_err(|e| ConfigError::Entities {
                origin,
                detail: e.to_string(),
            })?,
        None => engine.empty_entities(),
    };

    // A package the bundle does not have is not an error here: as with the sidecar, the
    // requests it should decide are denied (the engine names the package). It is reported.
    let mut warnings = Vec::new();
    let named = plugin.package.iter().map(|name| (name, "package")).chain(
        plugin
            .route_packages
            .values()
            .map(|name| (name, "route_packages")),
    );
    for (name, field) in named {
        if engine.package_id(name).is_none() {
            warnings.push(format!(
                "`{field}` names package `{name}`, which the bundle does not have: \
                 the requests it decides are denied"
            ));
        }
    }
    Ok(Policy {
        engine,
        entities,
        package: plugin.package,
        route_packages: plugin.route_packages,
        rate_limits: plugin.rate_limits,
        warnings,
    })
}

/// The first source that has the document, with where it came from.
fn pick(
    candidates: [(Option<Result<String, String>>, Origin); 3],
) -> Result<Option<(String, Origin)>, ConfigError> {
    for (candidate, origin) in candidates {
        match candidate {
            Some(Ok(text)) => return Ok(Some((text, origin))),
            Some(Err(detail)) => return Err(ConfigError::Invalid { origin, detail }),
            None => {}
        }
    }
    Ok(None)
}

/// A document given inline: a JSON value as it is, or JSON text in a string.
fn document(raw: &RawValue) -> Result<String, String> {
    let text = raw.get();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).map_err(|e| e.to_string());
    }
    Ok(text.to_owned())
}

/// Parses a configuration text; an absent or blank one is the default (`{}`).
fn parse<'a, T: Deserialize<'a> + Default>(
    bytes: Option<&'a [u8]>,
    origin: Origin,
) -> Result<T, ConfigError> {
    let invalid = |detail: String| ConfigError::Invalid { origin, detail };
    let Some(bytes) = bytes.filter(|b| !b.trim_ascii().is_empty()) else {
        return Ok(T::default());
    };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
    let depth = rampart_engine::json_depth(text);
    if depth > MAX_CONFIG_DEPTH {
        return Err(invalid(format!(
            "nesting too deep ({depth} levels, the limit is {MAX_CONFIG_DEPTH})"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // The depth was bounded above, so serde's own limit (128, below a bundle's) can go.
    deserializer.disable_recursion_limit();
    T::deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
