#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
//! Rampart's decision engine.
//!
//! **Key design decision:** the engine never sees policy text. It loads a [`Bundle`]: the
//! compiled, name-resolved, indexed form of a policy set that `rampart-lang` produces, and
//! decides requests against it and an [`EntityStore`]. That keeps this crate free of the
//! parser, small enough for `wasm32-unknown-unknown`, and fast: everything that does not
//! depend on the request was done at build time.
//!
//! ```text
//! Bundle (IR) ──Engine::new──▶ Engine ──decide(Request, EntityStore)──▶ Decision
//! ```
//!
//! Semantics (fixed): default deny; any applying `deny`/`require` beats every `allow`; an
//! evaluation error makes a deny/require apply and an allow not apply (fail closed); every
//! error is listed in the [`Decision`].
//!
//! Deciding: [`Engine::decide`] returns an owned [`Decision`]. On a hot path use
//! [`Engine::decide_into`] with a reused [`DecisionBuffer`] (the same decision, read through
//! a [`DecisionView`]) or [`Engine::decide_effect`]: both make no heap allocation unless an
//! evaluation error occurs. An [`Engine`] is `Send + Sync` and deciding takes no lock.
//!
//! Code map: [`engine`](Engine) loads and checks a bundle (`load`), compiles its expressions
//! into a flat program (`program`) and builds the rule index (`index`) and router (`route`);
//! `json` reads typed request and entity data; `request` and `entities` build [`Request`]
//! and [`EntityStore`]; `decide` runs the decision procedure over `eval`/`ops` (on borrowed
//! values, `val`), recording into a `buffer` or, for `explain`, a trace of every rule.
//! [`gateway`] is the enforcement side every gateway door shares (the sidecar's and the
//! proxy-wasm filter): HTTP facts → request JSON, decision → header obligations or the
//! deny's status and body.
//!
//! Architecture invariant: nothing here panics on any bundle, request or entity data; the
//! crate denies `unwrap`, `expect`, indexing, `panic!` and unchecked arithmetic.

pub mod bundle;
pub mod decimal;
pub mod decision;
pub mod gateway;
pub mod plan;
pub mod strict_json;
pub mod time;
pub mod value;

mod buffer;
mod decide;
mod discriminant;
mod display;
mod engine;
mod entities;
mod error;
mod eval;
mod explain;
mod forms;
mod head;
mod index;
mod json;
mod load;
mod ops;
mod program;
mod request;
mod route;
mod val;

pub use buffer::{DecisionBuffer, DecisionView};
pub use bundle::Bundle;
pub use decision::{Decision, DecisionError, Effect, ObligationOut};
pub use engine::Engine;
pub use entities::EntityStore;
pub use error::{
    BundleJsonError, CycleError, DataError, DuplicateEntityError, EntityError, FormatError,
    InvalidBundleError, LoadError, NoRouteError, RequestError, SyntaxError, TooLargeError,
    VersionError,
};
pub use explain::{explained_json, Explanation, RuleTrace, TraceKind, TraceOutcome};
pub use load::json_depth;
pub use request::{Request, MAX_REQUEST_BYTES};
pub use value::{EntityUid, Record, TlsVersion, Value};
