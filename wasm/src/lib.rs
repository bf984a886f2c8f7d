//! Rampart's engine as a WebAssembly module with a plain, versioned ABI.
//!
//! **Key design decision:** the host talks to the module in JSON through its exported
//! memory, with no imports and no bindings generator: `rampart_alloc` a block, write the
//! request JSON into it, call `rampart_decide(ptr, len)`, read the decision JSON at the
//! returned `(ptr << 32) | len`, and `rampart_free` both. The policy is not compiled into
//! this crate: the CLI joins a bundle (and entities) to the prebuilt module
//! (`rampart build --target wasm`, see `rampart-wasm-embed`), and the module reads it on
//! first use. Any host with a wasm runtime can drive it: wasmtime, Node, a browser.
//!
//! - [`Runtime`]: the policy an instance holds and every operation on bytes (safe Rust,
//!   shared with other modules built on the engine).
//! - `abi`: the exports, and the registry of blocks that makes every pointer from the
//!   host checked: bad input, wrong pointers or lengths and calls before a bundle is
//!   present answer a deny with the error listed, never a trap. The only `unsafe` code of
//!   the crate lives there.
//!
//! The ABI is described in `docs/wasm.md`.

mod abi;
mod runtime;

pub use runtime::{MemoryInfo, Runtime, ABI_VERSION};
