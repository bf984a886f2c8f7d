//! The wasm engine modules the CLI carries, and joining a policy to them.
//!
//! `build.rs` builds the plain-ABI engine module (`rampart-wasm`, `wasm32-unknown-unknown`)
//! with the workspace and the binary embeds it, so that `rampart build --target wasm`
//! needs no Rust toolchain. Joining is `rampart-wasm-embed`'s (docs/wasm.md, "How a bundle
//! is joined to the engine module").

use rampart_wasm_embed::join::join;
use rampart_wasm_embed::{Payload, BUNDLE, ENTITIES};

use crate::exit::CliError;

/// The plain-ABI engine module (not joined), or why this binary was built without it.
#[cfg(not(rampart_no_engine_wasm))]
static PLAIN_ABI_ENGINE: Result<&[u8], &str> = Ok(include_bytes!(env!("RAMPART_ENGINE_WASM")));
#[cfg(rampart_no_engine_wasm)]
static PLAIN_ABI_ENGINE: Result<&[u8], &str> = Err(env!("RAMPART_ENGINE_WASM_MISSING"));

/// The proxy-wasm filter module (not joined; `wasm32-wasip1`), or why it is missing.
#[cfg(not(rampart_no_filter_wasm))]
static PROXY_WASM_FILTER: Result<&[u8], &str> = Ok(include_bytes!(env!("RAMPART_FILTER_WASM")));
#[cfg(rampart_no_filter_wasm)]
static PROXY_WASM_FILTER: Result<&[u8], &str> = Err(env!("RAMPART_FILTER_WASM_MISSING"));

/// The module, or an error saying how to build a `rampart` that carries it.
fn carried(
    module: Result<&'static [u8], &'static str>,
    target: &str,
) -> Result<&'static [u8], CliError> {
    module.map_err(|why| {
        CliError::Input(format!(
            "this rampart was built without the `{target}` module ({why}); install the target \
             with `rustup target add {triple}` and rebuild rampart (docs/wasm.md)",
            triple = if target == "wasm" {
                "wasm32-unknown-unknown"
            } else {
                "wasm32-wasip1"
            },
        ))
    })
}

/// The payload of a policy: the bundle JSON and, when given, the entity JSON.
pub fn policy_payload(bundle_json: &str, entity_json: Option<&str>) -> Result<Payload, CliError> {
    let mut payload = Payload::new();
    let too_large = |e: rampart_wasm_embed::PayloadError| CliError::Input(e.to_string());
    payload.insert(BUNDLE, bundle_json).map_err(too_large)?;
    if let Some(json) = entity_json {
        payload.insert(ENTITIES, json).map_err(too_large)?;
    }
    Ok(payload)
}

/// The plain-ABI module joined with a policy (`--target wasm`).
pub fn plain_abi_module(bundle_json: &str, entity_json: Option<&str>) -> Result<Vec<u8>, CliError> {
    let payload = policy_payload(bundle_json, entity_json)?;
    join(carried(PLAIN_ABI_ENGINE, "wasm")?, &payload.to_bytes())
        .map_err(|e| CliError::Input(format!("cannot join the policy to the engine module: {e}")))
}

/// The proxy-wasm filter joined with a policy (`--target proxy-wasm`).
pub fn proxy_wasm_filter(
    bundle_json: &str,
    entity_json: Option<&str>,
) -> Result<Vec<u8>, CliError> {
    let payload = policy_payload(bundle_json, entity_json)?;
    join(
        carried(PROXY_WASM_FILTER, "proxy-wasm")?,
        &payload.to_bytes(),
    )
    .map_err(|e| CliError::Input(format!("cannot join the policy to the filter module: {e}")))
}
