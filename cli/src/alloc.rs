//! The global allocator of the `rampart` binary: mimalloc, wrapped so that it can count
//! allocations for `rampart bench`'s allocations per decision. Counting is off unless a
//! benchmark turns it on; when off, the cost is one relaxed atomic load per allocation.
//!
//! mimalloc rather than the system allocator because `rampart serve` allocates on every
//! request: its per-thread free lists make the sidecar's allocations cheaper than glibc's
//! `malloc` (see docs/performance.md, "Sidecar under load"). Only this binary uses it; the
//! engine, the sidecar library and the wasm modules leave the allocator to their users.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mimalloc::MiMalloc;

/// The allocator every allocation is forwarded to.
static INNER: MiMalloc = MiMalloc;

/// Forwards to mimalloc, counting allocations while [`count_allocations`] runs.
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to mimalloc unchanged; counting only reads and writes
// atomics.
#[allow(
    unsafe_code,
    reason = "a GlobalAlloc must be an unsafe impl; it only forwards to mimalloc"
)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's layout, as the trait requires.
        unsafe { INNER.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { INNER.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by mimalloc through this allocator with `layout`.
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by mimalloc through this allocator with `layout`.
        unsafe { INNER.dealloc(ptr, layout) }
    }
}

fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts the allocations (including reallocations) made while `f` runs, on all threads.
pub fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let out = f();
    COUNTING.store(false, Ordering::Relaxed);
    (
        out,
        ALLOCATIONS.load(Ordering::Relaxed).saturating_sub(before),
    )
}
