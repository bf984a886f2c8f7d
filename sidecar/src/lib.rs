//! The decision sidecar behind `rampart serve`: gateways ask, the engine decides.
//!
//! **Key design decision:** every door maps what its protocol carries straight to the
//! engine's request JSON (the same shape `rampart eval` reads) and decides it through
//! [`Engine::decide`](rampart_engine::Engine::decide) on the current [`Policy`] snapshot,
//! which lives in an [`ArcSwap`](arc_swap::ArcSwap) so a reload can replace it while
//! requests in flight finish on the old one. A door never evaluates on its own, and anything
//! that goes wrong on the way (bad input, an internal error, a panic) answers deny.
//!
//! ```text
//! gRPC  envoy.service.auth.v3.Authorization/Check ─┐
//! gRPC  grpc.health.v1.Health                      │
//! HTTP  POST /v1/decide    (request JSON)          ├─▶ State::decide ─▶ Engine::decide
//! HTTP  * /v1/authz        (forward-auth)          │        │
//! HTTP  POST /v1/data/…    (OPA-shaped)            ┘        ├─▶ metrics (GET /metrics)
//!                                                           └─▶ decision log (JSON lines)
//! ```
//!
//! Code map: `server` binds the listeners and runs them until shutdown; `state` holds the
//! policy snapshot and decides; `ext_authz` is the Envoy door, `http` the HTTP doors with
//! `forward_auth` and `opa` beside it; `metrics` and `decision_log` record what happened.

mod decision_log;
mod enforce;
mod ext_authz;
mod forward_auth;
mod http;
mod metrics;
mod opa;
mod server;
mod state;

pub use server::{serve, Config, Ready, ServeError, Sidecar};
pub use state::Policy;

/// The largest HTTP request body any endpoint reads; larger bodies answer 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The largest gRPC message the sidecar decodes.
pub const MAX_GRPC_MESSAGE_BYTES: usize = 4 << 20;
