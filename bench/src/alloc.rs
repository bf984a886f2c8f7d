//! A counting global allocator: the report binary installs it to count heap allocations
//! per decision and, in the memory probe, the live heap bytes of a loaded engine.
//!
//! Both are off by default: counting is switched on only around a measured block
//! ([`count_allocations`]), live-byte tracking only in the memory probe's process
//! ([`track_live_bytes`]), so the rest of the run (and the thread-scaling measurement)
//! pays one relaxed atomic load per allocation and no shared-counter contention.
//!
//! ```
//! use rampart_bench::alloc::{
//!     count_allocations, is_installed, live_bytes, track_live_bytes, CountingAllocator,
//! };
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
//!
//!     track_live_bytes();
//!     let before = live_bytes();
//!     let kept = vec![0_u8; 4096];
//!     assert!(live_bytes() >= before + 4096);
//!     drop(kept);
//!     assert!(live_bytes() < before + 4096);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};

/// What the allocator records: a set of the `COUNT` and `LIVE` bits.
static MODE: AtomicU8 = AtomicU8::new(0);
/// Count allocations ([`count_allocations`]).
const COUNT: u8 = 1;
/// Track live bytes ([`track_live_bytes`]).
const LIVE: u8 = 2;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed since live tracking started (negative if more was
/// freed than allocated since then: memory allocated before).
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls while
/// counting is on, and the bytes allocated minus freed while live tracking is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

fn signed(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// An allocation of `grown` more bytes (negative: fewer) happened.
#[inline]
fn note_allocation(grown: i64) {
    let mode = MODE.load(Ordering::Relaxed);
    if mode == 0 {
        return;
    }
    if mode & COUNT != 0 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
    if mode & LIVE != 0 {
        LIVE_BYTES.fetch_add(grown, Ordering::Relaxed);
    }
}

#[inline]
fn note_free(bytes: usize) {
    if MODE.load(Ordering::Relaxed) & LIVE != 0 {
        LIVE_BYTES.fetch_sub(signed(bytes), Ordering::Relaxed);
    }
}

// The one unsafe block of the crate: a global allocator is an `unsafe impl` by definition.
// Every method forwards to `System` with the caller's arguments unchanged, so the caller's
// guarantees are exactly the ones `System` needs.
#[allow(unsafe_code, reason = "a global allocator must be an unsafe impl")]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(signed(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(signed(layout.size()));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(signed(new_size).saturating_sub(signed(layout.size())));
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` with counting on and returns its result and the number of allocations made
/// meanwhile, by any thread. Not meant to be nested or run from two threads at once.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    MODE.fetch_or(COUNT, Ordering::SeqCst);
    let result = f();
    MODE.fetch_and(!COUNT, Ordering::SeqCst);
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    (result, after.wrapping_sub(before))
}

/// Starts tracking live heap bytes (allocated minus freed, by any thread) from now on, for
/// the rest of the process: the memory probe calls it first thing. A relaxed atomic add
/// per allocation and per free, so the timed runs never switch it on.
pub fn track_live_bytes() {
    MODE.fetch_or(LIVE, Ordering::SeqCst);
}

/// Heap bytes allocated and not yet freed since [`track_live_bytes`] was called (0 if it
/// was not, or if more was freed than allocated since: blocks allocated before).
pub fn live_bytes() -> u64 {
    u64::try_from(LIVE_BYTES.load(Ordering::SeqCst)).unwrap_or(0)
}

/// Whether [`CountingAllocator`] is the global allocator of this program (an allocation
/// made while counting is seen).
pub fn is_installed() -> bool {
    let (_, seen) = count_allocations(|| std::hint::black_box(Box::new(7_u64)));
    seen > 0
}
