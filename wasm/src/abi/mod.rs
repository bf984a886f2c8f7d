//! The exported functions: the only place where the module meets raw pointers.
//!
//! Pointers and lengths are `i32` (wasm32 addresses, read as unsigned); a result is an
//! `i64` packing `(address << 32) | length` of a JSON text the host reads and then frees
//! with `rampart_free(address, length)`. Every pointer from the host is looked up in the
//! registry of live blocks ([`blocks::Blocks`]) before it is read, so no input can make
//! the module read outside memory it owns, free a block twice, or trap.
//!
//! State is one value behind a mutex: a module instance is single-threaded and no export
//! calls back into the host, so the lock is never contended.
#![allow(
    unsafe_code,
    reason = "the exports need #[no_mangle]; blocks.rs turns host addresses into slices"
)]
#![cfg_attr(
    not(all(target_arch = "wasm32", feature = "abi")),
    allow(dead_code, reason = "the exports are compiled for wasm32 only")
)]

pub mod blocks;

use std::sync::{Mutex, PoisonError};

use rampart_engine::Decision;

use crate::runtime::{MemoryInfo, Runtime};
use blocks::Blocks;

/// Everything an instance holds.
struct State {
    blocks: Blocks,
    /// Loaded from the embedded payload on first use.
    runtime: Option<Runtime>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Runs `f` on the instance's state, creating it on first use.
fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    let mut guard = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    let state = guard.get_or_insert_with(|| State {
        blocks: Blocks::default(),
        runtime: None,
    });
    f(state)
}

impl State {
    fn runtime(&mut self) -> &mut Runtime {
        self.runtime
            .get_or_insert_with(|| match rampart_wasm_embed::embedded_payload() {
                Some(bytes) => Runtime::from_payload(&bytes),
                None => Runtime::empty("cannot read the embedded payload: out of memory"),
            })
    }

    /// The live blocks, for `rampart_info`.
    fn memory(&self) -> MemoryInfo {
        let (live_blocks, live_bytes) = self.blocks.live();
        MemoryInfo {
            live_blocks,
            live_bytes,
        }
    }

    /// Hands `text` to the host as a block and packs its address and length.
    fn output(&mut self, text: String) -> i64 {
        let len = text.len();
        let address = self.blocks.give(text.into_bytes());
        pack(address, len)
    }

    /// Runs `f` on the input range, or answers `on_bad_range` (a decision or status JSON
    /// naming the problem).
    fn with_input(
        &mut self,
        ptr: i32,
        len: i32,
        what: &str,
        f: impl FnOnce(&mut Runtime, &[u8]) -> String,
        on_bad_range: impl FnOnce(String) -> String,
    ) -> i64 {
        let (address, length) = (address(ptr), address(len));
        // Initialize first: `blocks` is borrowed while the input is read.
        self.runtime();
        let text = match (self.blocks.read(address, length), self.runtime.as_mut()) {
            (Ok(input), Some(runtime)) => f(runtime, input),
            (Err(_), _) => on_bad_range(format!(
                "the {what} ({length} bytes at address {address}) is not inside a block from `rampart_alloc`"
            )),
            (Ok(_), None) => on_bad_range(String::from("the module state is unavailable")),
        };
        self.output(text)
    }
}

/// An `i32` from the host as a wasm32 address or length (unsigned).
fn address(value: i32) -> usize {
    usize::try_from(u32::from_ne_bytes(value.to_ne_bytes())).unwrap_or(usize::MAX)
}

/// `(address << 32) | length` as the `i64` the host receives.
fn pack(address: usize, len: usize) -> i64 {
    let address = u64::try_from(address).unwrap_or(0) & 0xffff_ffff;
    let len = u64::try_from(len).unwrap_or(0) & 0xffff_ffff;
    i64::from_ne_bytes(((address << 32) | len).to_ne_bytes())
}

fn error_decision(message: String) -> String {
    Decision::error(message).to_json()
}

fn error_plan(message: String) -> String {
    serde_json::json!({"error": message, "kind": "request"}).to_string()
}

fn error_status(message: String) -> String {
    serde_json::json!({"ok": false, "error": message}).to_string()
}

#[cfg(all(target_arch = "wasm32", feature = "abi"))]
mod exports {
    use super::*;
    use crate::runtime::ABI_VERSION;

    /// The ABI version (see `docs/wasm.md`); hosts check it before anything else.
    #[no_mangle]
    pub extern "C" fn rampart_abi_version() -> i32 {
        ABI_VERSION
    }

    /// A zeroed block of `len` bytes for the host to write an input into; 0 when `len` is
    /// negative, over 512 MiB, or memory cannot be had.
    #[no_mangle]
    pub extern "C" fn rampart_alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        with_state(|state| {
            state
                .blocks
                .alloc(len)
                .and_then(|address| u32::try_from(address).ok())
                .map_or(0, |address| i32::from_ne_bytes(address.to_ne_bytes()))
        })
    }

    /// Frees the block at `ptr` (from `rampart_alloc`, or a result) of length `len`; does
    /// nothing when no such block is live.
    #[no_mangle]
    pub extern "C" fn rampart_free(ptr: i32, len: i32) {
        with_state(|state| {
            state.blocks.free(address(ptr), address(len));
        });
    }

    /// Frees every block handed to the host (inputs and results not yet freed). Pointers
    /// the host still holds become invalid; the policy stays loaded.
    #[no_mangle]
    pub extern "C" fn rampart_reset() {
        with_state(|state| state.blocks.reset());
    }

    /// Decides the request JSON at `[ptr, ptr + len)`; returns the decision JSON.
    #[no_mangle]
    pub extern "C" fn rampart_decide(ptr: i32, len: i32) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.decide(input, None),
                error_decision,
            )
        })
    }

    /// `rampart_decide`, with `now_ms` (milliseconds since the Unix epoch) as
    /// `context.time` when the request carries none.
    #[no_mangle]
    pub extern "C" fn rampart_decide_at(ptr: i32, len: i32, now_ms: i64) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.decide(input, Some(now_ms)),
                error_decision,
            )
        })
    }

    /// Decides the request JSON at `[ptr, ptr + len)` and explains it: the decision JSON
    /// with an `explain` field (`rampart eval --explain`).
    #[no_mangle]
    pub extern "C" fn rampart_explain(ptr: i32, len: i32) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.explain(input, None),
                error_decision,
            )
        })
    }

    /// `rampart_explain`, with `now_ms` as `context.time` when the request carries none.
    #[no_mangle]
    pub extern "C" fn rampart_explain_at(ptr: i32, len: i32, now_ms: i64) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.explain(input, Some(now_ms)),
                error_decision,
            )
        })
    }

    /// Plans the plan request JSON at `[ptr, ptr + len)`: the plan JSON (`rampart plan`),
    /// or `{"error", "kind", …}`.
    #[no_mangle]
    pub extern "C" fn rampart_plan(ptr: i32, len: i32) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.plan(input, None),
                error_plan,
            )
        })
    }

    /// `rampart_plan`, with `now_ms` as `context.time` when the request carries none.
    #[no_mangle]
    pub extern "C" fn rampart_plan_at(ptr: i32, len: i32, now_ms: i64) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "request",
                |rt, input| rt.plan(input, Some(now_ms)),
                error_plan,
            )
        })
    }

    /// Replaces the entity data (a Cedar-format JSON array); returns a status JSON.
    #[no_mangle]
    pub extern "C" fn rampart_load_entities(ptr: i32, len: i32) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "entity data",
                |rt, input| rt.load_entities(input),
                error_status,
            )
        })
    }

    /// Replaces the bundle (the JSON `rampart build` writes); the current entity data is
    /// read again against it. Returns a status JSON.
    #[no_mangle]
    pub extern "C" fn rampart_load_bundle(ptr: i32, len: i32) -> i64 {
        with_state(|state| {
            state.with_input(
                ptr,
                len,
                "bundle",
                |rt, input| rt.load_bundle(input, None),
                error_status,
            )
        })
    }

    /// What is loaded, as JSON: ABI and engine versions, the bundle's revision and
    /// counts, the entity count, live blocks.
    #[no_mangle]
    pub extern "C" fn rampart_info() -> i64 {
        with_state(|state| {
            let memory = state.memory();
            let text = state.runtime().info(memory);
            state.output(text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_unsigned_and_results_pack_into_two_halves() {
        assert_eq!(address(-1), 0xffff_ffff);
        assert_eq!(address(16), 16);
        let packed = pack(0x1234, 0x56);
        assert_eq!(packed >> 32, 0x1234);
        assert_eq!(packed & 0xffff_ffff, 0x56);
        let high = pack(0xffff_fff0, 7);
        assert_eq!((high >> 32) & 0xffff_ffff, 0xffff_fff0);
        assert_eq!(high & 0xffff_ffff, 7);
    }

    #[test]
    fn inputs_outside_blocks_answer_an_error_decision() {
        let mut state = State {
            blocks: Blocks::default(),
            runtime: Some(Runtime::empty("no bundle")),
        };
        let packed = state.with_input(8, 4, "request", |_, _| unreachable!(), error_decision);
        let len = usize::try_from(packed & 0xffff_ffff).unwrap();
        // The output block is the only live block; read it back through the registry.
        let (blocks, _) = state.blocks.live();
        assert_eq!(blocks, 1);
        let address = state.blocks.first_address().unwrap();
        let text = state.blocks.read(address, len).unwrap().to_vec();
        let decision: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(decision["decision"], "deny");
        assert!(decision["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not inside a block from `rampart_alloc`"));
    }
}
