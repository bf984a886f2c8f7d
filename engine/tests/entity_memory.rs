//! What an ancestor link costs: a layered group DAG with thousands of users is loaded under
//! a byte-counting allocator (one test in this binary, so nothing else allocates at the
//! same time), and the bytes the store keeps and the peak while loading are divided by the
//! number of (entity, ancestor) links, counted independently of the engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
// The counting allocator is the one `unsafe impl` of this test binary.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use rampart_engine::EntityUid;

struct ByteCounter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// two atomics, which never allocate.
unsafe impl GlobalAlloc for ByteCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: ByteCounter = ByteCounter;

const WIDTH: usize = 64;
const LAYERS: usize = 16;
const FAN_IN: usize = 3;
const USERS: usize = 4000;

/// The parents (in the layer above) of group `i` of a layer, or of user `i`.
fn parents_of(i: usize) -> impl Iterator<Item = usize> {
    (0..FAN_IN).map(move |j| (i * 7 + j * 13 + j * j) % WIDTH)
}

/// The entity JSON of the DAG and its number of (entity, ancestor) links.
fn dag() -> (String, usize) {
    let group = |layer: usize, i: usize| format!("Group::\\\"l{layer}g{i}\\\"");
    let mut items = Vec::new();
    // ancestors[i]: the ancestors of group i of the current layer, as (layer, index).
    let mut above: Vec<BTreeSet<(usize, usize)>> = vec![BTreeSet::new(); WIDTH];
    let mut links = 0;
    for layer in 0..LAYERS {
        let mut current = Vec::with_capacity(WIDTH);
        for i in 0..WIDTH {
            let mut mine = BTreeSet::new();
            let mut parents = Vec::new();
            if layer > 0 {
                for p in parents_of(i) {
                    mine.insert((layer - 1, p));
                    mine.extend(above[p].iter().copied());
                    parents.push(format!("\"{}\"", group(layer - 1, p)));
                }
            }
            links += mine.len();
            items.push(format!(
                "{{\"uid\": \"{}\", \"parents\": [{}]}}",
                group(layer, i),
                parents.join(", ")
            ));
            current.push(mine);
        }
        above = current;
    }
    for u in 0..USERS {
        let mut mine = BTreeSet::new();
        let mut parents = Vec::new();
        for p in parents_of(u) {
            mine.insert((LAYERS - 1, p));
            mine.extend(above[p].iter().copied());
            parents.push(format!("\"{}\"", group(LAYERS - 1, p)));
        }
        links += mine.len();
        items.push(format!(
            "{{\"uid\": \"User::\\\"u{u}\\\"\", \"attrs\": {{\"roles\": [], \"mfa\": true, \
             \"department\": \"d\"}}, \"parents\": [{}]}}",
            parents.join(", ")
        ));
    }
    (format!("[{}]", items.join(",\n")), links)
}

#[test]
fn an_ancestor_link_costs_a_few_bytes() {
    let mut p = standard();
    p.rule(R::allow("a"));
    let engine = p.engine();
    let (json, links) = dag();
    assert!(links > 1_000_000, "{links} links");

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let store = engine.load_entities(&json).expect("the DAG loads");
    let kept = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!(
        "{} entities, {links} ancestor links, {} bytes of JSON: the store keeps {kept} bytes \
         ({:.1} per link), the peak while loading was {peak} bytes ({:.1} per link)",
        store.len(),
        json.len(),
        kept as f64 / links as f64,
        peak as f64 / links as f64,
    );
    // The data is what the test built: the deepest user is in the top layer's groups.
    let uid = |ty: &str, id: &str| EntityUid {
        ty: engine.entity_type_id(ty).unwrap(),
        id: id.into(),
    };
    assert_eq!(store.len(), WIDTH * LAYERS + USERS);
    assert!(store.contains(&uid("User", "u0")));

    // A link is a 4-byte number; the rest (uids, attributes, parents, indexes) is per
    // entity. The DAG has about 600 links per entity, so 8 bytes per link leaves room for
    // all of it, and the peak may be twice that.
    assert!(kept < links * 8, "kept {kept} bytes for {links} links");
    assert!(peak < links * 16, "peak {peak} bytes for {links} links");
}
