//! Shared helpers of the wasm tests and benchmark: the engine module built with the
//! workspace, policy folders joined to it, and the native decisions to compare with.
//!
//! The wasmtime host itself lives in `tests/common/host.rs` (wasmtime is a
//! dev-dependency only); this library needs no wasm runtime.

use std::path::{Path, PathBuf};

use rampart_engine::{Engine, EntityStore};
use rampart_wasm_embed::join::join;
use rampart_wasm_embed::{Payload, BUNDLE, ENTITIES};

pub use rampart_tests::{subdirs, tests_dir, workspace_dir};

/// The path of the engine module this crate's build script built (or took from
/// `RAMPART_WASM_ENGINE`).
pub const ENGINE_MODULE_PATH: &str = env!("RAMPART_ENGINE_WASM");

/// The prebuilt engine module (not joined: it still imports the payload functions).
pub fn engine_module() -> Result<Vec<u8>, String> {
    std::fs::read(ENGINE_MODULE_PATH).map_err(|e| format!("{ENGINE_MODULE_PATH}: {e}"))
}

/// A policy folder compiled natively, with what the module needs of it.
pub struct Policy {
    pub engine: Engine,
    pub entities: EntityStore,
    /// The folder's `entities.json`, when present.
    pub entity_json: Option<String>,
}

impl Policy {
    /// Compiles `dir` and reads its `entities.json`.
    pub fn load(dir: &Path) -> Result<Policy, String> {
        let engine = rampart_tests::engine_for(dir)?;
        let path = dir.join("entities.json");
        let entity_json = if path.is_file() {
            Some(std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?)
        } else {
            None
        };
        let entities = rampart_tests::entities_for(&engine, dir)?;
        Ok(Policy {
            engine,
            entities,
            entity_json,
        })
    }

    /// The payload `rampart build --target wasm` joins: the bundle and the entities.
    pub fn payload(&self) -> Result<Payload, String> {
        let mut payload = Payload::new();
        payload
            .insert(BUNDLE, self.engine.bundle().to_json())
            .map_err(|e| e.to_string())?;
        if let Some(json) = &self.entity_json {
            payload
                .insert(ENTITIES, json.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        Ok(payload)
    }

    /// The engine module joined with this policy.
    pub fn joined_module(&self) -> Result<Vec<u8>, String> {
        join(&engine_module()?, &self.payload()?.to_bytes()).map_err(|e| e.to_string())
    }

    /// The native decision JSON for request JSON text: what the module must answer.
    pub fn native_decision(&self, request: &str) -> String {
        self.engine.decide_json(request, &self.entities).to_json()
    }
}

impl Policy {
    /// The native explained decision (`rampart eval --explain`'s JSON, compact) for request
    /// JSON text: what `rampart_explain` must answer.
    pub fn native_explanation(&self, request: &str) -> String {
        match self.engine.parse_request(request) {
            Ok(request) => {
                let (decision, explanation) = self.engine.explain(&request, &self.entities);
                rampart_engine::explained_json(&decision, &explanation).to_string()
            }
            Err(error) => rampart_engine::Decision::error(error.to_string()).to_json(),
        }
    }

    /// The native plan JSON (or plan error JSON) for plan request JSON text: what
    /// `rampart_plan` must answer.
    pub fn native_plan(&self, request: &str) -> String {
        let planned = self
            .engine
            .parse_plan_request(request)
            .map_err(rampart_engine::plan::PlanError::from)
            .and_then(|request| self.engine.plan(&request, &self.entities));
        match planned {
            Ok(plan) => plan.to_json(&self.engine).to_string(),
            Err(error) => error.to_json().to_string(),
        }
    }
}

/// A request made a plan request: its `resource` replaced by `{"type": T}` of the
/// resource's type (either form of entity reference), other requests unchanged.
pub fn as_plan_request(request: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(request) else {
        return request.to_owned();
    };
    let ty = match value.get("resource") {
        Some(serde_json::Value::Object(uid)) => uid.get("type").cloned(),
        Some(serde_json::Value::String(text)) => text
            .split_once("::")
            .map(|(ty, _)| serde_json::Value::String(ty.to_owned())),
        _ => None,
    };
    if let (Some(ty), Some(object)) = (ty, value.as_object_mut()) {
        object.insert("resource".into(), serde_json::json!({ "type": ty }));
    }
    value.to_string()
}

/// The request texts of a conformance case folder's `cases.json`, with case names.
pub fn conformance_requests(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let path = dir.join("cases.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cases
        .iter()
        .map(|case| {
            let name = case["name"].as_str().unwrap_or("?").to_owned();
            (name, case["request"].to_string())
        })
        .collect())
}

/// The conformance case folders (`tests/conformance/*`).
pub fn conformance_dirs() -> Vec<PathBuf> {
    subdirs(&tests_dir().join("conformance"))
}
