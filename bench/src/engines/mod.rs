//! One adapter per engine. Each loads a [`Workload`] (policy text and entities in its own
//! language), prepares the request stream in its own request form (not timed), and
//! decides prepared requests to allow or deny.
//!
//! [`Decider`] is the object-safe face the agreement check and the report use:
//! `decide(i)` is the timed path (allow or deny only), `decide_e2e(i)` the end-to-end one
//! (request JSON text in, decision out), `answer(i)` adds the evaluation errors the engine
//! reported, for the agreement check.
//!
//! Each adapter file also holds its engine's request JSON text (`request_text`), prepared
//! at load for the end-to-end mode, so that another adapter of the same engine reuses it.
//!
//! [`floor::FloorDecider`] is no engine: a hash-map lookup of the answer precomputed per
//! request, the limit any engine could reach.

pub mod cedar;
pub mod cedar_sliced;
pub mod floor;
pub mod rampart;
pub mod regorus;
pub mod regorus_routed;

use std::sync::Arc;
use std::time::Duration;

use crate::error::BenchError;
use crate::gen::Workload;

/// The engines compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Rampart,
    /// Cedar with the policy set sliced by scope at load (see [`cedar_sliced`]).
    CedarSliced,
    /// Cedar with the whole policy set on every decision.
    Cedar,
    /// regorus with a package per action, routed on the request's action (see
    /// [`regorus_routed`]).
    RegorusRouted,
    /// regorus with one package whose rules each test `input.action`: no rule index.
    Regorus,
    /// The limit: a lookup of the precomputed answer ([`floor`]).
    Floor,
}

impl EngineKind {
    /// Every engine, in report order.
    pub const ALL: [EngineKind; 6] = [
        EngineKind::Rampart,
        EngineKind::CedarSliced,
        EngineKind::Cedar,
        EngineKind::RegorusRouted,
        EngineKind::Regorus,
        EngineKind::Floor,
    ];

    /// The engine's name in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Rampart => "rampart",
            EngineKind::CedarSliced => "cedar-sliced",
            EngineKind::Cedar => "cedar",
            EngineKind::RegorusRouted => "regorus-routed",
            EngineKind::Regorus => "regorus",
            EngineKind::Floor => "floor",
        }
    }

    /// The engine's name in the report's tables: says how the plain regorus form
    /// differs from the routed one.
    pub fn label(self) -> &'static str {
        match self {
            EngineKind::Regorus => "regorus (no rule index)",
            other => other.name(),
        }
    }

    /// The engine of a name, `None` when unknown.
    pub fn from_name(name: &str) -> Option<EngineKind> {
        EngineKind::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// What an engine said about one request, with details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub allow: bool,
    /// Evaluation errors the engine reported (none are expected on generated workloads).
    pub errors: Vec<String>,
    /// The ids of the rules that decided, sorted: the applying allow rules of an allow,
    /// the applying deny (and failed require) rules of a deny, none for a default deny.
    /// `None` when the engine does not say.
    pub rules: Option<Vec<String>>,
}

/// How long loading took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadTimes {
    /// Policy text to a decision-ready form: Rampart compile (source → bundle), Cedar
    /// parse, regorus `add_policy`.
    pub compile: Duration,
    /// Everything else before the first decision: Rampart `Engine::new` and entity
    /// loading, Cedar entity parsing, regorus `add_data`.
    pub load: Duration,
}

/// A loaded engine with its prepared request stream.
pub trait Decider {
    /// The engine.
    fn kind(&self) -> EngineKind;
    /// The number of prepared requests.
    fn len(&self) -> usize;
    /// Whether the stream is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Decides request `index` (taken modulo [`Decider::len`]): the timed path.
    fn decide(&mut self, index: usize) -> bool;
    /// End-to-end: request `index` as a gateway receives it (JSON text prepared at load in
    /// this engine's own request JSON form, not timed) parsed into the engine's request and
    /// decided; the parse is inside the timed region. A text that does not parse is denied.
    fn decide_e2e(&mut self, index: usize) -> bool;
    /// Decides request `index` and reports the engine's evaluation errors.
    fn answer(&mut self, index: usize) -> Answer;
    /// How long loading took.
    fn load_times(&self) -> LoadTimes;
    /// A decision function several threads may call at once, for engines that decide
    /// through a shared reference; `None` otherwise.
    fn concurrent(&self) -> Option<ConcurrentDecide> {
        None
    }
}

/// Decides request `index` (modulo the stream length); callable from many threads.
pub type ConcurrentDecide = Arc<dyn Fn(usize) -> bool + Send + Sync>;

/// Loads `workload` into `kind` and prepares its requests.
pub fn load(kind: EngineKind, workload: &Workload) -> Result<Box<dyn Decider>, BenchError> {
    let decider: Box<dyn Decider> = match kind {
        EngineKind::Rampart => Box::new(rampart::RampartDecider::load(workload)?),
        EngineKind::CedarSliced => Box::new(cedar_sliced::CedarSlicedDecider::load(workload)?),
        EngineKind::Cedar => Box::new(cedar::CedarDecider::load(workload)?),
        EngineKind::RegorusRouted => {
            Box::new(regorus_routed::RegorusRoutedDecider::load(workload)?)
        }
        EngineKind::Regorus => Box::new(regorus::RegorusDecider::load(workload)?),
        EngineKind::Floor => Box::new(floor::FloorDecider::load(workload)?),
    };
    Ok(decider)
}

/// `index` modulo `len`, for cycling through a stream (`0` for an empty one).
pub(crate) fn wrap(index: usize, len: usize) -> usize {
    index.checked_rem(len).unwrap_or(0)
}
