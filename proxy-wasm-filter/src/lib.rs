//! Rampart as a proxy-wasm filter (ABI 0.2.1, `wasm32-wasip1`): the engine decides inside
//! Envoy, with no sidecar and no network hop.
//!
//! **Key design decision:** the filter is a thin door. Every mapping that decides what the
//! client sees is the sidecar's own, from [`rampart_engine::gateway`]: the request facts
//! become the same raw-HTTP request JSON as an ext_authz `CheckRequest` does, and the
//! decision becomes the same header obligations or the same 401/403 with the same JSON
//! body. What is left here is reading facts from the host ([`facts`]), loading the
//! configuration ([`config`]) and the proxy-wasm glue (`host`, compiled for every target,
//! registered with the host only in the wasm module).
//!
//! ```text
//! on_http_request_headers ─ facts::read_facts ─▶ HttpFacts ─▶ request JSON ─▶ Engine::decide
//!        ▲                                                                         │
//!        └─ Continue (set/remove request headers) or send_http_response ◀─ Verdict ┘
//! ```
//!
//! The code that touches no host ([`facts`] through [`facts::RequestSource`], [`config`],
//! [`filter`]) is tested natively; the module is tested in a real Envoy
//! (`cli/tests/e2e_proxy_wasm.rs`).

pub mod config;
pub mod embedded;
pub mod facts;
pub mod filter;
pub mod host;
pub mod ids;

#[cfg(test)]
mod fake;

pub use ids::DecisionIds;

// The module's entry point: registers the root context with the host. Only in the wasm
// module, where the host calls `_initialize`; a native build has no host to register with.
#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_context_id| Box::new(host::Root::new()));
}}
