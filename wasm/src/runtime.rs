//! The policy a module instance holds, and every operation of the ABI on bytes: no
//! pointers here, so this is plain safe Rust, tested natively.

use rampart_engine::plan::PlanError;
use rampart_engine::{Decision, DecisionBuffer, Engine, EntityStore, Request};
use rampart_wasm_embed::{Payload, BUNDLE, ENTITIES};
use serde::Serialize;

/// The version of the ABI this crate implements; `rampart_abi_version` returns it. It
/// changes only when an existing export changes meaning; new exports keep it.
pub const ABI_VERSION: i32 = 1;

/// A loaded bundle with its entities.
struct Loaded {
    engine: Engine,
    entities: EntityStore,
    /// The entity JSON the store was read from, kept to re-read it against a new bundle.
    entity_json: Option<String>,
    buffer: DecisionBuffer,
}

/// A bundle and its entity data, or why there is none.
pub struct Runtime {
    loaded: Option<Loaded>,
    /// Why no bundle is loaded (when `loaded` is `None`).
    missing: String,
}

/// The answer of a load: `{"ok": true, …counts}` or `{"ok": false, "error": "…"}`.
#[derive(Debug, Serialize)]
struct Status<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<usize>,
}

impl Status<'_> {
    fn failed(error: &str) -> String {
        to_json(&Status {
            ok: false,
            error: Some(error),
            rules: None,
            revision: None,
            entities: None,
        })
    }
}

/// What `rampart_info` reports.
#[derive(Debug, Serialize)]
struct Info<'a> {
    abi_version: i32,
    engine_version: &'static str,
    bundle: Option<BundleInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    entities: usize,
    memory: MemoryInfo,
}

#[derive(Debug, Serialize)]
struct BundleInfo<'a> {
    revision: &'a str,
    rules: usize,
    routes: usize,
}

/// The blocks handed to the host and not yet freed.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MemoryInfo {
    pub live_blocks: usize,
    pub live_bytes: usize,
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| String::from("{\"ok\":false}"))
}

impl Runtime {
    /// A runtime with no bundle; `why` says so in every decision.
    pub fn empty(why: impl Into<String>) -> Runtime {
        Runtime {
            loaded: None,
            missing: why.into(),
        }
    }

    /// The runtime of a joined payload: its `bundle` entry, and its `entities` entry when
    /// present. A payload that does not load leaves no bundle (decisions say why).
    pub fn from_payload(bytes: &[u8]) -> Runtime {
        let mut payload = match Payload::from_bytes(bytes) {
            Ok(payload) => payload,
            Err(error) => {
                return Runtime::empty(format!("the embedded payload is invalid: {error}"))
            }
        };
        let Some(bundle) = payload.take(BUNDLE) else {
            return Runtime::empty(
                "no policy bundle is loaded: join one with `rampart build --target wasm` or call `rampart_load_bundle`",
            );
        };
        let mut runtime = Runtime::empty("");
        let status = runtime.load_bundle(&bundle, payload.take(ENTITIES).as_deref());
        if runtime.loaded.is_none() {
            runtime.missing = format!("the embedded policy did not load: {status}");
        }
        runtime
    }

    /// Decides request JSON; `now_ms` (milliseconds since the Unix epoch) fills
    /// `context.time` when the request carries none. Always a decision JSON: bad input is
    /// a deny with the error listed.
    pub fn decide(&mut self, request: &[u8], now_ms: Option<i64>) -> String {
        let (loaded, request) = match self.request(request, now_ms) {
            Ok(read) => read,
            Err(error) => return Decision::error(error).to_json(),
        };
        loaded
            .engine
            .decide_into(&request, &loaded.entities, &mut loaded.buffer)
            .to_decision()
            .to_json()
    }

    /// Decides request JSON and explains it rule by rule: the decision JSON with an
    /// `explain` field, as `rampart eval --explain` prints it. A request that cannot be
    /// read answers the error decision alone (no `explain`), as there.
    pub fn explain(&mut self, request: &[u8], now_ms: Option<i64>) -> String {
        let (loaded, request) = match self.request(request, now_ms) {
            Ok(read) => read,
            Err(error) => return Decision::error(error).to_json(),
        };
        let (decision, explanation) = loaded.engine.explain(&request, &loaded.entities);
        rampart_engine::explained_json(&decision, &explanation).to_string()
    }

    /// Plans request JSON whose resource names only a type: the plan JSON of `rampart
    /// plan` and the sidecar's `POST /v1/plan`, or `{"error", "kind", …}` when there is no
    /// plan (`kind`: `request`, `unsupported`, `too_large`, or `policy` when no bundle is
    /// loaded).
    pub fn plan(&mut self, request: &[u8], now_ms: Option<i64>) -> String {
        let Some(loaded) = self.loaded.as_mut() else {
            return serde_json::json!({"error": self.missing, "kind": "policy"}).to_string();
        };
        let engine = &loaded.engine;
        let Ok(text) = std::str::from_utf8(request) else {
            return serde_json::json!({"error": "the request is not UTF-8 text", "kind": "request"})
                .to_string();
        };
        let mut parsed = match engine.parse_plan_request(text) {
            Ok(parsed) => parsed,
            Err(error) => return PlanError::Request(error).to_json().to_string(),
        };
        if let Some(now) = now_ms {
            engine.fill_plan_time(&mut parsed, now);
        }
        match engine.plan(&parsed, &loaded.entities) {
            Ok(plan) => plan.to_json(engine).to_string(),
            Err(error) => error.to_json().to_string(),
        }
    }

    /// The loaded policy and the request read from `bytes` (its time filled from
    /// `now_ms` when it carries none), or the error message of an unreadable request.
    fn request(
        &mut self,
        bytes: &[u8],
        now_ms: Option<i64>,
    ) -> Result<(&mut Loaded, Request), String> {
        let Some(loaded) = self.loaded.as_mut() else {
            return Err(self.missing.clone());
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(String::from("the request is not UTF-8 text"));
        };
        let mut request = loaded
            .engine
            .parse_request(text)
            .map_err(|error| error.to_string())?;
        if let Some(now) = now_ms {
            loaded.engine.fill_time(&mut request, now);
        }
        Ok((loaded, request))
    }

    /// Loads a bundle (its JSON text), replacing the current one; the entity data is read
    /// again against it (`entities`, or the current entity JSON when `None`). On an error
    /// nothing changes.
    pub fn load_bundle(&mut self, bundle: &[u8], entities: Option<&[u8]>) -> String {
        let Ok(text) = std::str::from_utf8(bundle) else {
            return Status::failed("the bundle is not UTF-8 text");
        };
        let engine = match Engine::from_bundle_json(text) {
            Ok(engine) => engine,
            Err(error) => return Status::failed(&error.to_string()),
        };
        let entity_json = match entities {
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Some(text.to_owned()),
                Err(_) => return Status::failed("the entity data is not UTF-8 text"),
            },
            None => self.loaded.as_mut().and_then(|l| l.entity_json.take()),
        };
        let store = match entity_json
            .as_deref()
            .map(|json| engine.load_entities(json))
        {
            None => Ok(engine.empty_entities()),
            Some(result) => result,
        };
        let entities = match store {
            Ok(store) => store,
            Err(error) => {
                // Give the entity JSON back to the bundle that keeps serving.
                if entities.is_none() {
                    if let Some(loaded) = self.loaded.as_mut() {
                        loaded.entity_json = entity_json;
                    }
                }
                return Status::failed(&format!(
                    "the entity data does not fit the bundle: {error}"
                ));
            }
        };
        let buffer = engine.decision_buffer();
        let loaded = self.loaded.insert(Loaded {
            engine,
            entities,
            entity_json,
            buffer,
        });
        let bundle = loaded.engine.bundle();
        to_json(&Status {
            ok: true,
            error: None,
            rules: Some(bundle.rules.len()),
            revision: Some(&bundle.revision),
            entities: Some(loaded.entities.len()),
        })
    }

    /// Replaces the entity data (a Cedar-format JSON array). On an error the current
    /// entities stay.
    pub fn load_entities(&mut self, json: &[u8]) -> String {
        let Some(loaded) = self.loaded.as_mut() else {
            return Status::failed(&self.missing);
        };
        let Ok(text) = std::str::from_utf8(json) else {
            return Status::failed("the entity data is not UTF-8 text");
        };
        match loaded.engine.load_entities(text) {
            Ok(store) => {
                loaded.entities = store;
                loaded.entity_json = Some(text.to_owned());
                to_json(&Status {
                    ok: true,
                    error: None,
                    rules: None,
                    revision: None,
                    entities: Some(loaded.entities.len()),
                })
            }
            Err(error) => Status::failed(&error.to_string()),
        }
    }

    /// What is loaded, as JSON; `memory` describes the blocks the host holds.
    pub fn info(&self, memory: MemoryInfo) -> String {
        let bundle = self.loaded.as_ref().map(|l| {
            let bundle = l.engine.bundle();
            BundleInfo {
                revision: &bundle.revision,
                rules: bundle.rules.len(),
                routes: bundle.routes.len(),
            }
        });
        to_json(&Info {
            abi_version: ABI_VERSION,
            engine_version: env!("CARGO_PKG_VERSION"),
            bundle,
            error: self.loaded.is_none().then_some(self.missing.as_str()),
            entities: self.loaded.as_ref().map_or(0, |l| l.entities.len()),
            memory,
        })
    }
}
