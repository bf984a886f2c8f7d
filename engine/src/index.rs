//! The scope index: which rules (or obligations) a request must evaluate.
//!
//! Built once per bundle. Items whose scope names actions are filed under each named
//! action; items for any action are filed once, in a shared bucket, so a rule for `*` costs
//! one entry per type combination instead of one per action. Within a bucket, items are
//! split by resource type (each type some scope of the bucket names, plus every other type)
//! and then by principal type (each named type, `Anonymous` always, plus every other type).
//!
//! The layout is flat, so a lookup touches three short arrays: the action's span of keys,
//! its keys (sorted by resource then principal type, a few of them), and the list the
//! matching key points to. A decision merges the action's list with the shared bucket's in
//! bundle order. Its cost depends on how many items cover the request, not on the size of
//! the bundle.
//!
//! Every list is in bundle order and stores, for each item, its bundle index (the merge
//! order) and its slot in the engine's compiled tables.

use crate::bundle::{ActionId, Scope, TypeId};
use crate::program::Span;

/// In a key, "a type no scope of the bucket names".
const OTHER: TypeId = TypeId::MAX;
/// In a key's principal, "every item, whatever its principal scope" (explanations).
const ALL: TypeId = TypeId::MAX - 1;

/// One indexed item: its bundle order and where its compiled form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    order: u32,
    slot: u32,
}

/// A list of a bucket, by resource type and principal type (or [`OTHER`], [`ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    resource: TypeId,
    principal: TypeId,
    entries: Span,
}

/// Rules or obligations by action × resource type × principal type.
#[derive(Debug, Default)]
pub(crate) struct ScopeIndex {
    /// For each action, its keys.
    by_action: Vec<Span>,
    /// The keys of items whose scope covers every action.
    any_action: Span,
    /// Every bucket's keys, sorted within a bucket.
    keys: Vec<Key>,
    /// Every list, one after the other.
    entries: Vec<Entry>,
    /// The longest candidate list a request can get.
    max_candidates: usize,
}

/// What the index needs of an item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexItem<'a> {
    pub scope: &'a Scope,
    /// `allow` rules without `for` do not cover `Anonymous`.
    pub is_allow: bool,
    /// Where the engine keeps the item's compiled form.
    pub slot: u32,
}

/// The candidates of one request: two lists merged in bundle order, as slots.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'i> {
    specific: &'i [Entry],
    shared: &'i [Entry],
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let take_specific = match (self.specific.first(), self.shared.first()) {
            (Some(a), Some(b)) => a.order <= b.order,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let list = if take_specific {
            &mut self.specific
        } else {
            &mut self.shared
        };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(first.slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.specific.len().saturating_add(self.shared.len());
        (len, Some(len))
    }
}

impl ScopeIndex {
    /// Indexes `items` (item `i` has bundle order `i`) for a schema with `action_count`
    /// actions. Out-of-range action ids are ignored (the bundle checker refuses them).
    pub(crate) fn build(items: &[IndexItem<'_>], action_count: usize) -> Self {
        let mut per_action: Vec<Vec<u32>> = vec![Vec::new(); action_count];
        let mut any_action: Vec<u32> = Vec::new();
        for (order, item) in items.iter().enumerate() {
            let Ok(order) = u32::try_from(order) else {
                break;
            };
            match &item.scope.actions {
                Some(actions) => {
                    for action in actions {
                        let list = usize::try_from(*action)
                            .ok()
                            .and_then(|a| per_action.get_mut(a));
                        if let Some(list) = list {
                            if list.last() != Some(&order) {
                                list.push(order);
                            }
                        }
                    }
                }
                None => any_action.push(order),
            }
        }
        let mut builder = Builder {
            items,
            keys: Vec::new(),
            entries: Vec::new(),
            longest: 0,
        };
        let by_action: Vec<Span> = per_action
            .iter()
            .map(|members| builder.bucket(members))
            .collect();
        let longest_specific = builder.longest;
        builder.longest = 0;
        let any_action = builder.bucket(&any_action);
        ScopeIndex {
            by_action,
            any_action,
            max_candidates: longest_specific.saturating_add(builder.longest),
            keys: builder.keys,
            entries: builder.entries,
        }
    }

    /// The items covering `action` on a `resource` type for a `principal` type, in bundle
    /// order.
    pub(crate) fn select(
        &self,
        action: ActionId,
        resource: TypeId,
        principal: TypeId,
    ) -> Candidates<'_> {
        self.candidates(action, resource, principal)
    }

    /// The items covering `action` on a `resource` type, whatever their principal scope.
    pub(crate) fn select_all(&self, action: ActionId, resource: TypeId) -> Candidates<'_> {
        self.candidates(action, resource, ALL)
    }

    /// An upper bound on the number of candidates of any request.
    pub(crate) fn max_candidates(&self) -> usize {
        self.max_candidates
    }

    fn candidates(&self, action: ActionId, resource: TypeId, principal: TypeId) -> Candidates<'_> {
        let Some(bucket) = usize::try_from(action)
            .ok()
            .and_then(|a| self.by_action.get(a))
        else {
            return Candidates {
                specific: &[],
                shared: &[],
            };
        };
        Candidates {
            specific: self.list(*bucket, resource, principal),
            shared: self.list(self.any_action, resource, principal),
        }
    }

    /// The list of a bucket for a resource type and a principal type (or [`ALL`]).
    fn list(&self, bucket: Span, resource: TypeId, principal: TypeId) -> &[Entry] {
        let keys = self.keys.get(bucket.range()).unwrap_or_default();
        // The resource type's keys if the bucket names it, else those of every other type.
        let named = keys.iter().any(|k| k.resource == resource);
        let resource = if named { resource } else { OTHER };
        let mut found = None;
        for key in keys.iter().filter(|k| k.resource == resource) {
            if key.principal == principal {
                found = Some(key.entries);
                break;
            }
            if key.principal == OTHER && principal != ALL {
                found = Some(key.entries);
            }
        }
        found
            .and_then(|span| self.entries.get(span.range()))
            .unwrap_or_default()
    }
}

struct Builder<'b, 'a> {
    items: &'b [IndexItem<'a>],
    keys: Vec<Key>,
    entries: Vec<Entry>,
    /// The longest principal list built so far.
    longest: usize,
}

impl Builder<'_, '_> {
    fn item(&self, order: u32) -> Option<&IndexItem<'_>> {
        self.items.get(usize::try_from(order).ok()?)
    }

    /// Appends a list of the `members` that `keep` accepts; returns its span.
    fn list(&mut self, members: &[u32], keep: impl Fn(&IndexItem<'_>) -> bool) -> Span {
        let start = self.entries.len();
        for &order in members {
            if let Some(item) = self.item(order).filter(|item| keep(item)) {
                let entry = Entry {
                    order,
                    slot: item.slot,
                };
                self.entries.push(entry);
            }
        }
        Span::between(start, self.entries.len()).unwrap_or_default()
    }

    /// Files a bucket's members under its keys; returns the span of its keys.
    fn bucket(&mut self, members: &[u32]) -> Span {
        let start = self.keys.len();
        let mut named: Vec<TypeId> = members
            .iter()
            .filter_map(|&order| self.item(order)?.scope.resources.as_ref())
            .flatten()
            .copied()
            .filter(|ty| *ty < ALL)
            .collect();
        named.sort_unstable();
        named.dedup();
        for ty in named {
            let covered: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&order| {
                    self.item(order)
                        .is_some_and(|item| match &item.scope.resources {
                            Some(types) => types.contains(&ty),
                            None => true,
                        })
                })
                .collect();
            self.resource_keys(ty, &covered);
        }
        let any_resource: Vec<u32> = members
            .iter()
            .copied()
            .filter(|&order| {
                self.item(order)
                    .is_some_and(|item| item.scope.resources.is_none())
            })
            .collect();
        if !any_resource.is_empty() {
            self.resource_keys(OTHER, &any_resource);
        }
        Span::between(start, self.keys.len()).unwrap_or_default()
    }

    /// The keys of one resource type (or [`OTHER`]): by named principal type (and
    /// `Anonymous`), [`ALL`], then [`OTHER`]; in that order, which sorts them.
    fn resource_keys(&mut self, resource: TypeId, members: &[u32]) {
        let mut named: Vec<TypeId> = members
            .iter()
            .filter_map(|&order| self.item(order)?.scope.principals.as_ref())
            .flatten()
            .copied()
            .filter(|ty| *ty < ALL)
            .chain([0])
            .collect();
        named.sort_unstable();
        named.dedup();
        let push = |builder: &mut Self, principal: TypeId, entries: Span| {
            builder.longest = builder.longest.max(entries.range().len());
            builder.keys.push(Key {
                resource,
                principal,
                entries,
            });
        };
        for ty in named {
            let entries = self.list(members, |item| {
                principal_in_scope(item.scope, item.is_allow, ty)
            });
            push(self, ty, entries);
        }
        let all = self.list(members, |_| true);
        self.keys.push(Key {
            resource,
            principal: ALL,
            entries: all,
        });
        let other = self.list(members, |item| item.scope.principals.is_none());
        push(self, OTHER, other);
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

    fn scope(
        actions: Option<Vec<u32>>,
        resources: Option<Vec<u32>>,
        principals: Option<Vec<u32>>,
    ) -> Scope {
        Scope {
            actions,
            resources,
            principals,
        }
    }

    fn index(scopes: &[(Scope, bool)], actions: usize) -> ScopeIndex {
        let items: Vec<IndexItem<'_>> = scopes
            .iter()
            .enumerate()
            .map(|(i, (scope, is_allow))| IndexItem {
                scope,
                is_allow: *is_allow,
                // Slots differ from bundle order, to check both are kept.
                slot: u32::try_from(i).unwrap_or(0).saturating_add(100),
            })
            .collect();
        ScopeIndex::build(&items, actions)
    }

    fn slots(candidates: Candidates<'_>) -> Vec<u32> {
        candidates.map(|slot| slot.saturating_sub(100)).collect()
    }

    #[test]
    fn selects_by_action_and_resource_in_bundle_order() {
        let scopes = [
            (scope(Some(vec![0]), Some(vec![1]), None), false), // 0: action 0 on type 1
            (scope(None, None, None), false),                   // 1: anything
            (scope(Some(vec![1]), None, None), false),          // 2: action 1, any resource
            (scope(Some(vec![0, 1]), Some(vec![2, 1]), None), false), // 3
            (scope(Some(vec![7]), None, None), false),          // 4: out of range, ignored
            (scope(None, Some(vec![2]), None), false),          // 5: any action, type 2
        ];
        let index = index(&scopes, 2);
        assert_eq!(slots(index.select(0, 1, 3)), [0, 1, 3]);
        assert_eq!(slots(index.select(0, 2, 3)), [1, 3, 5]);
        assert_eq!(slots(index.select(0, 5, 3)), [1]);
        assert_eq!(slots(index.select(1, 1, 3)), [1, 2, 3]);
        assert_eq!(slots(index.select(1, 9, 3)), [1, 2]);
        assert!(slots(index.select(2, 1, 3)).is_empty());
        assert_eq!(slots(index.select_all(0, 2)), [1, 3, 5]);
        assert!(index.max_candidates() >= 3);
    }

    #[test]
    fn selects_by_principal_type() {
        let scopes = [
            (scope(Some(vec![0]), None, Some(vec![1])), true), // 0: allow for type 1
            (scope(Some(vec![0]), None, None), true),          // 1: allow, any but Anonymous
            (scope(Some(vec![0]), None, None), false),         // 2: deny, any
            (scope(Some(vec![0]), None, Some(vec![0])), true), // 3: allow for Anonymous
            (scope(None, None, Some(vec![2])), false),         // 4: any action, type 2
        ];
        let index = index(&scopes, 1);
        assert_eq!(slots(index.select(0, 5, 1)), [0, 1, 2]);
        assert_eq!(slots(index.select(0, 5, 0)), [2, 3]);
        assert_eq!(slots(index.select(0, 5, 2)), [1, 2, 4]);
        assert_eq!(slots(index.select(0, 5, 9)), [1, 2]);
        assert_eq!(slots(index.select_all(0, 5)), [0, 1, 2, 3, 4]);
        assert_eq!(index.max_candidates(), 4);
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
