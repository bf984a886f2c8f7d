//! Selecting the rules (or obligations) a request can concern, by action and resource type.
//!
//! A [`ScopeIndex`] keeps, for every action, the items whose scope names that action (or any
//! action), split by resource type: one list per resource type some scope names, plus a list
//! for the other types (items whose scope allows any resource). Every list is in bundle
//! order, so a decision walks exactly the candidates, in order, without sorting or merging.
//! The principal type is checked per candidate ([`principal_in_scope`]): it is cheap and
//! keeping it out of the key keeps the index small.

use std::collections::HashMap;

use crate::bundle::{ActionId, Scope, TypeId};

/// Rules or obligations by action × resource type.
#[derive(Debug, Default)]
pub(crate) struct ScopeIndex {
    by_action: Vec<ActionBucket>,
}

#[derive(Debug, Default)]
struct ActionBucket {
    /// Items for a resource type some scope of this action names.
    by_resource: HashMap<TypeId, Vec<u32>>,
    /// Items whose scope allows any resource type (for every other type).
    any_resource: Vec<u32>,
}

impl ScopeIndex {
    /// Indexes `scopes` (item `i` is the `i`-th scope) for a schema with `action_count` actions.
    /// Out-of-range action ids are ignored (the bundle checker refuses them earlier).
    pub(crate) fn build<'a>(
        scopes: impl Iterator<Item = &'a Scope> + Clone,
        action_count: usize,
    ) -> Self {
        let mut by_action: Vec<ActionBucket> =
            (0..action_count).map(|_| ActionBucket::default()).collect();
        let actions_of = |scope: &'a Scope| -> Vec<usize> {
            match &scope.actions {
                Some(ids) => ids
                    .iter()
                    .filter_map(|a| usize::try_from(*a).ok())
                    .collect(),
                None => (0..action_count).collect(),
            }
        };
        // First pass: the resource types each action's scopes name, so that items with
        // "any resource" can be added to those lists in the second pass, in order.
        for scope in scopes.clone() {
            for action in actions_of(scope) {
                if let (Some(bucket), Some(types)) = (by_action.get_mut(action), &scope.resources) {
                    for ty in types {
                        bucket.by_resource.entry(*ty).or_default();
                    }
                }
            }
        }
        for (item, scope) in scopes.enumerate() {
            let Ok(item) = u32::try_from(item) else { break };
            for action in actions_of(scope) {
                let Some(bucket) = by_action.get_mut(action) else {
                    continue;
                };
                match &scope.resources {
                    Some(types) => {
                        for ty in types {
                            let list = bucket.by_resource.entry(*ty).or_default();
                            if list.last() != Some(&item) {
                                list.push(item);
                            }
                        }
                    }
                    None => {
                        bucket.any_resource.push(item);
                        bucket
                            .by_resource
                            .values_mut()
                            .for_each(|list| list.push(item));
                    }
                }
            }
        }
        Self { by_action }
    }

    /// The items whose action and resource scope cover `action` on a `resource` type, in
    /// bundle order.
    pub(crate) fn select(&self, action: ActionId, resource: TypeId) -> &[u32] {
        let Some(bucket) = usize::try_from(action)
            .ok()
            .and_then(|a| self.by_action.get(a))
        else {
            return &[];
        };
        bucket
            .by_resource
            .get(&resource)
            .unwrap_or(&bucket.any_resource)
    }
}

/// Whether a scope covers a principal type. `None` means every type, except that an `allow`
/// rule without `for` does not cover `Anonymous` (type 0): anonymous requests are allowed
/// only by rules that name `Anonymous`.
pub(crate) fn principal_in_scope(scope: &Scope, is_allow: bool, principal: TypeId) -> bool {
    match &scope.principals {
        Some(types) => types.contains(&principal),
        None => !(is_allow && principal == 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(actions: Option<Vec<u32>>, resources: Option<Vec<u32>>) -> Scope {
        Scope {
            actions,
            resources,
            principals: None,
        }
    }

    #[test]
    fn selects_by_action_and_resource_in_bundle_order() {
        let scopes = [
            scope(Some(vec![0]), Some(vec![1])), // 0: action 0 on type 1
            scope(None, None),                   // 1: anything
            scope(Some(vec![1]), None),          // 2: action 1, any resource
            scope(Some(vec![0, 1]), Some(vec![2, 1])), // 3
            scope(Some(vec![7]), None),          // 4: out of range, ignored
        ];
        let index = ScopeIndex::build(scopes.iter(), 2);
        assert_eq!(index.select(0, 1), &[0, 1, 3]);
        assert_eq!(index.select(0, 2), &[1, 3]);
        assert_eq!(index.select(0, 5), &[1]);
        assert_eq!(index.select(1, 1), &[1, 2, 3]);
        assert_eq!(index.select(1, 9), &[1, 2]);
        assert!(index.select(2, 1).is_empty());
    }

    #[test]
    fn allow_without_principals_excludes_anonymous() {
        let any = Scope::default();
        assert!(!principal_in_scope(&any, true, 0));
        assert!(principal_in_scope(&any, false, 0));
        assert!(principal_in_scope(&any, true, 3));
        let anonymous = Scope {
            principals: Some(vec![0]),
            ..Scope::default()
        };
        assert!(principal_in_scope(&anonymous, true, 0));
        assert!(!principal_in_scope(&anonymous, true, 1));
    }
}
