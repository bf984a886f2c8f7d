//! A counting global allocator: the report binary installs it to count heap allocations
//! per decision.
//!
//! Counting is off by default and switched on only around a measured block
//! ([`count_allocations`]), so the rest of the run (and the thread-scaling measurement)
//! pays one relaxed atomic load per allocation and no shared-counter contention.
//!
//! ```
//! use rampart_bench::alloc::{count_allocations, is_installed, CountingAllocator};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     assert!(is_installed());
//!     let (v, allocations) = count_allocations(|| vec![1, 2, 3]);
//!     assert_eq!((v.len(), allocations), (3, 1));
//!     let (_, none) = count_allocations(|| 1 + 1);
//!     assert_eq!(none, 0);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls while
/// counting is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

#[inline]
fn note_allocation() {
    if ENABLED.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// The one unsafe block of the crate: a global allocator is an `unsafe impl` by definition.
// Every method forwards to `System` with the caller's arguments unchanged, so the caller's
// guarantees are exactly the ones `System` needs.
#[allow(unsafe_code, reason = "a global allocator must be an unsafe impl")]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` with counting on and returns its result and the number of allocations made
/// meanwhile, by any thread. Not meant to be nested or run from two threads at once.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ENABLED.store(true, Ordering::SeqCst);
    let result = f();
    ENABLED.store(false, Ordering::SeqCst);
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    (result, after.wrapping_sub(before))
}

/// Whether [`CountingAllocator`] is the global allocator of this program (an allocation
/// made while counting is seen).
pub fn is_installed() -> bool {
    let (_, seen) = count_allocations(|| std::hint::black_box(Box::new(7_u64)));
    seen > 0
}
