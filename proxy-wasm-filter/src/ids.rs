//! Decision ids in the sidecar's form: 32 hex digits, a per-VM prefix and a counter.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Hands out decision ids: unique within a VM and, through a prefix drawn from the start
/// time and the host's randomness (WASI `random_get`, through `RandomState`), across VMs
/// (Envoy runs one per worker thread) and restarts.
pub struct DecisionIds {
    prefix: u64,
    next: Cell<u64>,
}

impl DecisionIds {
    /// Ids for a VM started at `start_nanos` (nanoseconds since the Unix epoch).
    pub fn new(start_nanos: u64) -> DecisionIds {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(start_nanos);
        DecisionIds {
            prefix: rampart_engine::gateway::decision_id_prefix(hasher.finish() ^ start_nanos),
            next: Cell::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.next.get();
        self.next.set(n.wrapping_add(1));
        format!("{:016x}{n:016x}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_fixed_width_hex() {
        let ids = DecisionIds::new(1_795_804_325_856_064_000);
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a[..16], b[..16]);
        let other = DecisionIds::new(1_795_804_325_856_064_000);
        assert_ne!(other.next_id(), a, "two VMs started together share no ids");
    }
}
