//! The blocks of memory handed to the host: inputs it asked for with `rampart_alloc` and
//! outputs (decision and status JSON) it must free with `rampart_free`.
//!
//! Every block is recorded by address, so a pointer from the host is only ever used
//! after it is found inside a live block: a wrong pointer, a wrong length, a double free
//! or a use after `rampart_reset` is an error the caller reports, never undefined
//! behaviour or a trap.

use std::collections::BTreeMap;
use std::ptr;

/// The largest block `rampart_alloc` hands out (512 MiB).
pub const MAX_BLOCK: usize = 512 << 20;

/// A live block: a boxed byte slice given up with `Box::into_raw`, owned by the
/// registry until it is freed.
#[derive(Debug)]
struct Block {
    /// The length the host sees (may be 0).
    len: usize,
    /// The length of the boxed slice (at least 1, so that every block has an address of
    /// its own).
    size: usize,
}

/// Why a range from the host cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// No live block holds `[address, address + len)`.
    NotAllocated,
}

/// The live blocks, by address.
#[derive(Debug, Default)]
pub struct Blocks {
    live: BTreeMap<usize, Block>,
    bytes: usize,
}

impl Blocks {
    /// A zeroed block of `len` bytes; `None` when `len` is over [`MAX_BLOCK`] or memory
    /// cannot be had.
    pub fn alloc(&mut self, len: usize) -> Option<usize> {
        if len > MAX_BLOCK {
            return None;
        }
        let size = len.max(1);
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(size).ok()?;
        bytes.resize(size, 0);
        Some(self.adopt(bytes, len))
    }

    /// Takes ownership of `bytes` as a block the host reads (an output); returns its
    /// address. `bytes` must not be empty.
    pub fn give(&mut self, bytes: Vec<u8>) -> usize {
        let len = bytes.len();
        let mut bytes = bytes;
        if bytes.is_empty() {
            bytes.push(0);
        }
        self.adopt(bytes, len)
    }

    fn adopt(&mut self, bytes: Vec<u8>, len: usize) -> usize {
        let size = bytes.len();
        let raw: *mut [u8] = Box::into_raw(bytes.into_boxed_slice());
        // Exposed, so that `slice_at` can turn the address back into a pointer.
        let address = raw.cast::<u8>().expose_provenance();
        self.live.insert(address, Block { len, size });
        self.bytes = self.bytes.saturating_add(len);
        address
    }

    /// The block holding `[address, address + len)`, as its start and host length.
    fn find(&self, address: usize, len: usize) -> Result<(usize, &Block), RangeError> {
        let (&start, block) = self
            .live
            .range(..=address)
            .next_back()
            .ok_or(RangeError::NotAllocated)?;
        let end = address.checked_add(len).ok_or(RangeError::NotAllocated)?;
        let block_end = start
            .checked_add(block.len)
            .ok_or(RangeError::NotAllocated)?;
        if end > block_end {
            return Err(RangeError::NotAllocated);
        }
        Ok((start, block))
    }

    /// The bytes at `[address, address + len)`, which must lie inside one live block.
    pub fn read(&self, address: usize, len: usize) -> Result<&[u8], RangeError> {
        if len == 0 {
            return Ok(&[]);
        }
        self.find(address, len)?;
        let start: *const u8 = ptr::with_exposed_provenance(address);
        // SAFETY: `[address, address + len)` lies inside a live block (checked just above):
        // memory this registry allocated as a boxed slice, still owned here (it was not
        // freed: freeing removes it from `live`) and fully initialized (zeroed at
        // allocation or written as an output). No Rust reference to it exists besides the
        // one returned here, which borrows `self`, so nothing can free or write the block
        // while it lives. The host writes into blocks only between calls.
        Ok(unsafe { std::slice::from_raw_parts(start, len) })
    }

    /// Frees the block that starts at `address` if its length is `len`; otherwise does
    /// nothing. Returns whether a block was freed.
    pub fn free(&mut self, address: usize, len: usize) -> bool {
        match self.live.get(&address) {
            Some(block) if block.len == len => {}
            _ => return false,
        }
        let Some(block) = self.live.remove(&address) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(block.len);
        release(address, block.size);
        true
    }

    /// Frees every live block.
    pub fn reset(&mut self) {
        for (address, block) in std::mem::take(&mut self.live) {
            release(address, block.size);
        }
        self.bytes = 0;
    }

    /// The lowest address of a live block.
    #[cfg(test)]
    pub fn first_address(&self) -> Option<usize> {
        self.live.keys().next().copied()
    }

    /// The number of live blocks and their bytes.
    pub fn live(&self) -> (usize, usize) {
        (self.live.len(), self.bytes)
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        self.reset();
    }
}

/// Drops the boxed slice of `size` bytes at `address`.
fn release(address: usize, size: usize) {
    let start: *mut u8 = ptr::with_exposed_provenance_mut(address);
    let raw = ptr::slice_from_raw_parts_mut(start, size);
    // SAFETY: `address` and `size` are those of a boxed slice given up with
    // `Box::into_raw` in `adopt` and just removed from `live`, so it is freed exactly once,
    // with the layout it was allocated with; no reference into it outlives this call
    // (`read` borrows the registry, which `free` and `reset` borrow mutably).
    drop(unsafe { Box::from_raw(raw) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocated_blocks_read_back_and_free_once() {
        let mut blocks = Blocks::default();
        let a = blocks.alloc(8).unwrap();
        assert_eq!(blocks.read(a, 8).unwrap(), &[0; 8]);
        assert_eq!(blocks.read(a + 2, 3).unwrap(), &[0; 3]);
        assert_eq!(blocks.live(), (1, 8));
        assert!(!blocks.free(a, 7), "a wrong length frees nothing");
        assert!(blocks.free(a, 8));
        assert!(!blocks.free(a, 8), "a second free does nothing");
        assert_eq!(blocks.read(a, 8), Err(RangeError::NotAllocated));
        assert_eq!(blocks.live(), (0, 0));
    }

    #[test]
    fn ranges_outside_live_blocks_are_refused() {
        let mut blocks = Blocks::default();
        let a = blocks.alloc(4).unwrap();
        assert_eq!(blocks.read(a, 5), Err(RangeError::NotAllocated));
        assert_eq!(blocks.read(a + 3, 2), Err(RangeError::NotAllocated));
        assert_eq!(
            blocks.read(a.wrapping_sub(1), 1),
            Err(RangeError::NotAllocated)
        );
        assert_eq!(blocks.read(usize::MAX, 1), Err(RangeError::NotAllocated));
        assert_eq!(
            blocks.read(12345, 0),
            Ok(&[][..]),
            "an empty range is empty anywhere"
        );
        assert!(!blocks.free(a + 1, 3), "only a block's start frees it");
    }

    #[test]
    fn zero_length_blocks_have_addresses_of_their_own() {
        let mut blocks = Blocks::default();
        let a = blocks.alloc(0).unwrap();
        let b = blocks.alloc(0).unwrap();
        assert_ne!(a, b);
        assert!(blocks.free(a, 0));
        assert!(blocks.free(b, 0));
    }

    #[test]
    fn outputs_are_blocks_and_reset_frees_everything() {
        let mut blocks = Blocks::default();
        let out = blocks.give(b"{\"decision\":\"deny\"}".to_vec());
        assert_eq!(blocks.read(out, 19).unwrap(), b"{\"decision\":\"deny\"}");
        blocks.alloc(100).unwrap();
        assert_eq!(blocks.live(), (2, 119));
        blocks.reset();
        assert_eq!(blocks.live(), (0, 0));
        assert_eq!(blocks.read(out, 1), Err(RangeError::NotAllocated));
    }

    #[test]
    fn oversized_requests_are_refused() {
        let mut blocks = Blocks::default();
        assert_eq!(blocks.alloc(MAX_BLOCK + 1), None);
    }
}
