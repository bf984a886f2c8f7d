//! The Rampart adapter: compile the policy files to a bundle, load it and the entities,
//! read every request once, then decide with [`Engine::decide_into`]: the full decision
//! (effect and deciding rule ids, like Cedar's `Response`), into a reused buffer, which is
//! how a gateway embedding the engine decides. End to end, the request's JSON text
//! ([`request_text`]) is read with [`Engine::parse_request`] and decided the same way.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rampart_engine::{DecisionBuffer, Effect, Engine, EntityStore, Request};
use rampart_lang::{compile, PolicySet, SourceFile};

use super::{wrap, Answer, ConcurrentDecide, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::{rampart::request_json, RequestSpec, Workload};

/// A request as Rampart's request JSON text: what a gateway hands the engine end to end.
pub fn request_text(spec: &RequestSpec) -> String {
    request_json(spec).to_string()
}

/// The file the memory probe loads Rampart from: the compiled bundle, as `rampart build`
/// writes it and a deployed engine loads it.
pub const BUNDLE_FILE: &str = "rampart.bundle.json";

/// Rampart with a workload loaded. The engine, entities and requests are shared (`Arc`)
/// so that the thread-scaling measurement and the criterion benches can use them directly.
pub struct RampartDecider {
    engine: Arc<Engine>,
    entities: Arc<EntityStore>,
    requests: Arc<Vec<Request>>,
    /// The requests as JSON text, for the end-to-end mode.
    texts: Vec<String>,
    buffer: DecisionBuffer,
    times: LoadTimes,
}

impl RampartDecider {
    /// Compiles the workload's policy files (timed as compile), loads the bundle and the
    /// entities (timed as load) and reads the requests.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        let started = Instant::now();
        let engine = compile_engine(&workload.rampart_files)?;
        let compiled = started.elapsed();
        let loading = Instant::now();
        let engine = Engine::new(engine)
            .map_err(|e| BenchError::new(format!("rampart: cannot load the bundle: {e}")))?;
        let entities = engine
            .load_entities(&workload.entities_json)
            .map_err(|e| BenchError::new(format!("rampart: cannot load the entities: {e}")))?;
        let times = LoadTimes {
            compile: compiled,
            load: loading.elapsed(),
        };
        let requests = workload
            .requests
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                engine
                    .request_from_value(&request_json(spec))
                    .map_err(|e| BenchError::new(format!("rampart: cannot read request {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RampartDecider {
            buffer: engine.decision_buffer(),
            engine: Arc::new(engine),
            entities: Arc::new(entities),
            requests: Arc::new(requests),
            texts: workload.requests.iter().map(request_text).collect(),
            times,
        })
    }

    /// Writes the loaded bundle to `path` (JSON, as `rampart build` does).
    pub fn write_bundle(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.engine.bundle().to_json())
    }

    /// The loaded engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The loaded entities.
    pub fn entities(&self) -> &Arc<EntityStore> {
        &self.entities
    }

    /// The prepared requests.
    pub fn requests(&self) -> &Arc<Vec<Request>> {
        &self.requests
    }

    /// The requests as Rampart request JSON text ([`request_text`]).
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The load times.
    pub fn times(&self) -> LoadTimes {
        self.times
    }
}

thread_local! {
    /// Each measuring thread's decision buffer (grown on its first decisions).
    static BUFFER: RefCell<DecisionBuffer> = RefCell::new(DecisionBuffer::new());
}

/// Loads a bundle file's text and entities, as a deployed engine does (no compiler).
pub fn load_deployed(
    bundle_json: &str,
    entities_json: &str,
) -> Result<(Engine, EntityStore), BenchError> {
    let engine = Engine::from_bundle_json(bundle_json)
        .map_err(|e| BenchError::new(format!("rampart: cannot load the bundle: {e}")))?;
    let entities = engine
        .load_entities(entities_json)
        .map_err(|e| BenchError::new(format!("rampart: cannot load the entities: {e}")))?;
    Ok((engine, entities))
}

/// Compiles policy files (in memory) to a bundle; errors are rendered into the message.
pub fn compile_engine(files: &[(String, String)]) -> Result<rampart_engine::Bundle, BenchError> {
    let sources = files
        .iter()
        .map(|(name, text)| SourceFile::in_memory(name, text))
        .collect();
    let set = PolicySet::from_files(PathBuf::from("."), sources);
    let compiled = compile(&set);
    match compiled.bundle {
        Some(bundle) => Ok(bundle),
        None => {
            let errors: Vec<String> = compiled
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .take(3)
                .map(|d| d.render_plain())
                .collect();
            Err(BenchError::new(format!(
                "rampart: the generated policy does not compile:\n{}",
                errors.join("\n")
            )))
        }
    }
}

impl Decider for RampartDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::Rampart
    }

    fn len(&self) -> usize {
        self.requests.len()
    }

    fn decide(&mut self, index: usize) -> bool {
        match self.requests.get(wrap(index, self.requests.len())) {
            Some(request) => self
                .engine
                .decide_into(request, &self.entities, &mut self.buffer)
                .is_allow(),
            None => false,
        }
    }

    fn decide_e2e(&mut self, index: usize) -> bool {
        let Some(text) = self.texts.get(wrap(index, self.texts.len())) else {
            return false;
        };
        match self.engine.parse_request(text) {
            Ok(request) => self
                .engine
                .decide_into(&request, &self.entities, &mut self.buffer)
                .is_allow(),
            Err(_) => false,
        }
    }

    fn answer(&mut self, index: usize) -> Answer {
        let Some(request) = self.requests.get(wrap(index, self.requests.len())) else {
            return Answer {
                allow: false,
                errors: vec!["no such request".into()],
                rules: None,
            };
        };
        let decision = self.engine.decide(request, &self.entities);
        let mut rules = decision.rules.clone();
        rules.sort();
        Answer {
            allow: decision.is_allow(),
            errors: decision
                .errors
                .iter()
                .map(|e| match &e.rule {
                    Some(rule) => format!("{rule}: {}", e.message),
                    None => e.message.clone(),
                })
                .collect(),
            rules: Some(rules),
        }
    }

    fn load_times(&self) -> LoadTimes {
        self.times
    }

    fn concurrent(&self) -> Option<ConcurrentDecide> {
        let (engine, entities, requests) = (
            Arc::clone(&self.engine),
            Arc::clone(&self.entities),
            Arc::clone(&self.requests),
        );
        Some(Arc::new(move |index| {
            let Some(request) = requests.get(wrap(index, requests.len())) else {
                return false;
            };
            BUFFER.with(|buffer| match buffer.try_borrow_mut() {
                Ok(mut buffer) => engine
                    .decide_into(request, &entities, &mut buffer)
                    .is_allow(),
                Err(_) => engine.decide_effect(request, &entities) == Effect::Allow,
            })
        }))
    }
}
