//! Inside the module: reading the payload the joiner embedded.
//!
//! The module imports two functions from `rampart_embed`; `join::join` (feature `join`)
//! removes these imports and defines them: `rampart_payload_len() -> i32` returns the
//! payload's length and `rampart_payload_copy(dst: i32)` copies it (`memory.init` from a
//! passive data segment) to `dst`. A module that was never joined still has the two
//! imports, so no host can instantiate it by mistake without a payload.
//!
//! The `unsafe` here is the FFI of those two calls; it is the only `unsafe` in this crate.
#![allow(unsafe_code, reason = "calls the two functions the joiner defines")]

/// The embedded payload's bytes (empty when the module was joined with an empty
/// payload), or `None` when memory for it cannot be had.
///
/// Outside `wasm32` there is no embedded payload: this returns an empty vector.
pub fn embedded_payload() -> Option<Vec<u8>> {
    let len = usize::try_from(imported::len()).ok()?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).ok()?;
    if len > 0 {
        imported::copy_into(&mut bytes, len);
    }
    Some(bytes)
}

#[cfg(target_arch = "wasm32")]
mod imported {
    #[link(wasm_import_module = "rampart_embed")]
    extern "C" {
        fn rampart_payload_len() -> u32;
        fn rampart_payload_copy(dst: *mut u8);
    }

    /// The payload's length in bytes.
    pub fn len() -> u32 {
        // SAFETY: the joiner defines this import as `i32.const LEN`; it reads and writes
        // nothing.
        unsafe { rampart_payload_len() }
    }

    /// Copies the payload into `bytes`, whose capacity is at least `len` (the payload's
    /// length) and whose length is 0; afterwards its length is `len`.
    pub fn copy_into(bytes: &mut Vec<u8>, len: usize) {
        if bytes.capacity() < len || !bytes.is_empty() {
            return;
        }
        // SAFETY: the joiner defines this import as `memory.init` of exactly `len` bytes
        // (the value `rampart_payload_len` returns) at `dst`; `bytes` owns at least `len`
        // bytes of capacity there, so the copy stays inside its allocation, and after it
        // the first `len` bytes are initialized.
        unsafe {
            rampart_payload_copy(bytes.as_mut_ptr());
            bytes.set_len(len);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imported {
    pub fn len() -> u32 {
        0
    }

    pub fn copy_into(_bytes: &mut [u8], _len: usize) {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn outside_wasm_the_payload_is_empty() {
        assert_eq!(super::embedded_payload(), Some(Vec::new()));
    }
}
