//! Joining data to a prebuilt Rampart wasm module, and reading it back inside.
//!
//! **Key design decision:** the engine module is compiled once, with the workspace, and a
//! policy is *joined* to it later without a Rust toolchain. The module imports two
//! functions, `rampart_embed.rampart_payload_len` and `rampart_embed.rampart_payload_copy`;
//! `join::join` (feature `join`) replaces those imports with definitions that read a passive
//! data segment holding the [`Payload`], so the joined module is self-contained and has no
//! imports of ours. Inside the module, [`embedded_payload`] calls them.
//!
//! - [`Payload`]: named entries (`bundle`, `entities`, or any other a module knows).
//! - [`embedded_payload`]: inside a wasm module, the joined payload's bytes.
//! - `join::join` / `join::inspect` (feature `join`): the host side, on
//!   `wasmparser` + `wasm-encoder`.
//! - `build::WasmPackageBuild` (feature `build`): for build scripts that carry a module.
//!
//! The format and the joining steps are described in `docs/wasm.md` ("How a bundle is
//! joined to the engine module").

mod payload;
mod reader;

#[cfg(feature = "build")]
pub mod build;
#[cfg(feature = "join")]
pub mod join;

pub use payload::{Payload, PayloadError, BUNDLE, ENTITIES, FORMAT_VERSION, MAGIC};
pub use reader::embedded_payload;
