//! The entity-shrink guard: a reload may not take away more than a set share of the
//! entities serving now.
//!
//! Entity data often decides denies (`deny … when principal in Group::"suspended"`): an
//! entities file emptied by a failed export or a bad deploy would lift those denies in one
//! reload. A valid file that removes more than the allowed share is therefore refused like
//! a broken one; an operator who means it raises the limit (`--max-entity-shrink 100`) or
//! restarts the sidecar.

use rampart_engine::EntityStore;

/// The share of the entities serving now a reload may remove, in percent (100: any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityShrink {
    percent: u8,
}

impl EntityShrink {
    /// The default: a reload may remove at most half of the entities.
    pub const DEFAULT_PERCENT: u8 = 50;

    /// A guard allowing `percent` (at most 100) of the entities to go in one reload.
    pub fn new(percent: u8) -> EntityShrink {
        EntityShrink {
            percent: percent.min(100),
        }
    }

    /// The share allowed, in percent.
    pub fn percent(self) -> u8 {
        self.percent
    }

    /// `Err` with the reason when replacing `serving` by `loaded` removes more than the
    /// allowed share.
    pub fn check(self, serving: &EntityStore, loaded: &EntityStore) -> Result<(), String> {
        self.check_counts(serving.len(), loaded.len())
    }

    fn check_counts(self, serving: usize, loaded: usize) -> Result<(), String> {
        let removed = serving.saturating_sub(loaded);
        // removed / serving > percent / 100, in integers (no overflow on 64 bits).
        let wide = |n: usize| u128::try_from(n).unwrap_or(u128::MAX);
        let over = wide(removed).saturating_mul(100)
            > wide(serving).saturating_mul(u128::from(self.percent));
        if !over {
            return Ok(());
        }
        Err(format!(
            "the entities would shrink from {serving} to {loaded}, more than the {}% a reload \
             may remove (`--max-entity-shrink`); the old entities keep serving",
            self.percent
        ))
    }
}

impl Default for EntityShrink {
    fn default() -> EntityShrink {
        EntityShrink::new(EntityShrink::DEFAULT_PERCENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_may_remove_up_to_the_allowed_share() {
        let half = EntityShrink::default();
        assert!(half.check_counts(0, 0).is_ok());
        assert!(half.check_counts(10, 10_000).is_ok());
        assert!(half.check_counts(4000, 2000).is_ok());
        assert_eq!(
            half.check_counts(4000, 1999),
            Err(
                "the entities would shrink from 4000 to 1999, more than the 50% a reload may \
                 remove (`--max-entity-shrink`); the old entities keep serving"
                    .to_owned()
            )
        );
        assert!(half.check_counts(3, 0).is_err());
        assert!(half.check_counts(1, 0).is_err());
        assert!(EntityShrink::new(0).check_counts(5, 4).is_err());
        assert!(EntityShrink::new(0).check_counts(5, 5).is_ok());
        assert!(EntityShrink::new(100).check_counts(5000, 0).is_ok());
        assert!(EntityShrink::new(255).check_counts(usize::MAX, 0).is_ok());
        assert!(EntityShrink::new(99).check_counts(usize::MAX, 0).is_err());
    }
}
