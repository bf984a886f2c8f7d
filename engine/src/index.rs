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
//!
//! A second level splits a list whose rules carry a discriminating key
//! ([`crate::discriminant`]): rules keyed by an entity (`principal in Group::"g"`), rules
//! keyed by a value at a path (`resource.kind == "invoice"`), grouped by path and by the
//! constant's type, and the rest, always candidates. [`ScopeIndex::select_keyed`] merges
//! the always-list with the keyed lists the request matches: those of the principal and of
//! its ancestors (looking up whichever of the two sets is smaller in the other), and for
//! each path the list of the request's value there, or every rule on the path when that
//! value is missing, fails or has another type. Each rule is in one list of a level, so
//! the merge yields each candidate once, in bundle order, from at most [`MAX_LISTS`]
//! lists held on the stack; a request that would need more gets the whole list.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::bundle::{ActionId, Head, HeadOp, Scope, TypeId};
use crate::discriminant::{Discriminator, TypeClass};
use crate::eval::EvalContext;
use crate::head::Side;
use crate::ops::same_type;
use crate::program::{NodeId, Span};
use crate::value::{EntityUid, Value};

/// In a key, "a type no scope of the bucket names".
const OTHER: TypeId = TypeId::MAX;
/// In a key's principal, "every item, whatever its principal scope" (explanations).
const ALL: TypeId = TypeId::MAX - 1;
/// In a key, "this list has no second level".
const NO_LEVEL: u32 = u32::MAX;
/// The most lists one request's candidates are merged from.
pub(crate) const MAX_LISTS: usize = 16;
/// Lists shorter than this are not split: the merge would cost more than it saves.
const MIN_LEVEL_LEN: usize = 8;

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
    /// Index into [`ScopeIndex::levels`], or [`NO_LEVEL`].
    level: u32,
}

/// The second level of one list: its entries split by discriminating key.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// Entries without a key, in [`ScopeIndex::entries`].
    always: Span,
    /// Keys in [`ScopeIndex::entity_keys`], sorted by hash: rules whose `when` starts with
    /// `principal in E` (or `== E`).
    entities: Span,
    /// Keys in [`ScopeIndex::entity_keys`] of rules filed under their scope head, by
    /// [`HeadTable`].
    heads: [Span; HEAD_TABLES],
    /// Groups in [`ScopeIndex::groups`].
    groups: Span,
}

/// The head tables of a level: the principal's or the resource's, with `in` (the entity
/// and its ancestors are looked up) or `==` (the entity alone).
const HEAD_TABLES: usize = 4;

/// Which head table a rule is filed in.
fn head_table(side: Side, op: HeadOp) -> usize {
    match (side, op) {
        (Side::Principal, HeadOp::In) => 0,
        (Side::Principal, HeadOp::Eq) => 1,
        (Side::Resource, HeadOp::In) => 2,
        (Side::Resource, HeadOp::Eq) => 3,
    }
}

/// A key of a level, its hash first: lookups binary-search the hashes (one contiguous
/// array) and compare a key only on a hash match, instead of following every compared
/// key's text through the heap.
type Keyed<K> = (u64, K, Span);

/// The hash of a key; deterministic (the index is built and read in one process).
fn hash_of<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// The list of `key` in a table sorted by hash.
fn find<K: Hash + PartialEq>(table: &[Keyed<K>], key: &K) -> Option<Span> {
    let hash = hash_of(key);
    let start = table.partition_point(|(h, _, _)| *h < hash);
    table
        .get(start..)?
        .iter()
        .take_while(|(h, _, _)| *h == hash)
        .find(|(_, k, _)| k == key)
        .map(|(_, _, span)| *span)
}

/// Sorts keyed lists by hash (then key, so the order does not depend on the input's).
fn by_hash<K: Hash + Ord>(keys: Vec<(K, Span)>) -> Vec<Keyed<K>> {
    let mut out: Vec<Keyed<K>> = keys
        .into_iter()
        .map(|(key, span)| (hash_of(&key), key, span))
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    out
}

/// The rules of a level keyed on one path, with constants of one type class.
#[derive(Debug)]
struct Group {
    /// Reads the path for a request.
    probe: NodeId,
    /// One of the constants: a request value of another class makes `==` fail.
    sample: Value,
    /// Keys in [`ScopeIndex::value_keys`], sorted by hash.
    values: Span,
    /// Every rule of the group, in [`ScopeIndex::entries`].
    any: Span,
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
    /// Second levels of lists (see the module's documentation).
    levels: Vec<Level>,
    entity_keys: Vec<Keyed<EntityUid>>,
    groups: Vec<Group>,
    value_keys: Vec<Keyed<Value>>,
}

/// What the index needs of an item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexItem<'a> {
    pub scope: &'a Scope,
    /// `allow` rules without `for` do not cover `Anonymous`.
    pub is_allow: bool,
    /// Where the engine keeps the item's compiled form.
    pub slot: u32,
    /// The item's discriminating key, if it has one (rules only).
    pub key: Option<&'a Discriminator>,
}

impl IndexItem<'_> {
    /// The head a rule is filed under in a second level: the principal's, else the
    /// resource's. An `in` head of several entities is not a key (the request could match
    /// more than one of them, and a rule must be in one list of a level).
    fn head(&self) -> Option<(Side, &Head)> {
        [
            (Side::Principal, self.scope.principal_head.as_ref()),
            (Side::Resource, self.scope.resource_head.as_ref()),
        ]
        .into_iter()
        .find_map(|(side, head)| {
            let head = head?;
            let keyed = head.op == HeadOp::Eq || head.entities.len() == 1;
            (keyed && !head.entities.is_empty()).then_some((side, head))
        })
    }
}

/// The candidates of one request: disjoint lists merged in bundle order, as slots. The
/// lists (runs of the index's entries) live on the stack, so selecting allocates nothing.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'i> {
    entries: &'i [Entry],
    /// The runs in use, `start..end` of `entries`, none of them empty.
    lists: [(u32, u32); MAX_LISTS],
    len: usize,
}

impl<'i> Candidates<'i> {
    fn new(entries: &'i [Entry]) -> Self {
        Candidates {
            entries,
            lists: [(0, 0); MAX_LISTS],
            len: 0,
        }
    }

    /// Adds a run of the entries; `false` if there is no room.
    fn push(&mut self, list: Span) -> bool {
        let range = list.range();
        if range.is_empty() {
            return true;
        }
        let (Ok(start), Ok(end)) = (u32::try_from(range.start), u32::try_from(range.end)) else {
            return false;
        };
        match self.lists.get_mut(self.len) {
            Some(slot) => {
                *slot = (start, end);
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    fn entry(&self, at: u32) -> Option<&'i Entry> {
        self.entries.get(usize::try_from(at).ok()?)
    }
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let live = self.lists.get(..self.len)?;
        let mut best: Option<(usize, &Entry)> = None;
        for (i, (start, _)) in live.iter().enumerate() {
            if let Some(entry) = self.entry(*start) {
                if best.is_none_or(|(_, first)| entry.order < first.order) {
                    best = Some((i, entry));
                }
            }
        }
        let (i, first) = best?;
        let slot = first.slot;
        let list = self.lists.get_mut(i)?;
        list.0 = list.0.saturating_add(1);
        if list.0 >= list.1 {
            // Keep the live lists first: move the last one into the emptied place.
            let last = self.len.saturating_sub(1);
            self.lists.swap(i, last);
            self.len = last;
        }
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.lists.get(..self.len).unwrap_or_default().iter().fold(
            0usize,
            |sum, (start, end)| {
                let run = usize::try_from(end.saturating_sub(*start)).unwrap_or(0);
                sum.saturating_add(run)
            },
        );
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
            levels: Vec::new(),
            entity_keys: Vec::new(),
            groups: Vec::new(),
            value_keys: Vec::new(),
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
            levels: builder.levels,
            entity_keys: builder.entity_keys,
            groups: builder.groups,
            value_keys: builder.value_keys,
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
        self.candidates(action, resource, principal, None)
    }

    /// [`ScopeIndex::select`], without the items whose discriminating key the request does
    /// not match: those could not apply, fail or change anything.
    pub(crate) fn select_keyed<'i>(
        &'i self,
        action: ActionId,
        resource: TypeId,
        principal: TypeId,
        cx: &EvalContext<'_>,
    ) -> Candidates<'i> {
        self.candidates(action, resource, principal, Some(cx))
    }

    /// The items covering `action` on a `resource` type, whatever their principal scope.
    pub(crate) fn select_all(&self, action: ActionId, resource: TypeId) -> Candidates<'_> {
        self.candidates(action, resource, ALL, None)
    }

    /// An upper bound on the number of candidates of any request.
    pub(crate) fn max_candidates(&self) -> usize {
        self.max_candidates
    }

    fn candidates<'i>(
        &'i self,
        action: ActionId,
        resource: TypeId,
        principal: TypeId,
        cx: Option<&EvalContext<'_>>,
    ) -> Candidates<'i> {
        let mut candidates = Candidates::new(&self.entries);
        let Some(bucket) = usize::try_from(action)
            .ok()
            .and_then(|a| self.by_action.get(a))
        else {
            return candidates;
        };
        for (bucket, room) in [(*bucket, MAX_LISTS - 1), (self.any_action, MAX_LISTS)] {
            let Some(key) = self.key(bucket, resource, principal) else {
                continue;
            };
            let level = usize::try_from(key.level)
                .ok()
                .and_then(|l| self.levels.get(l));
            let mark = candidates.len;
            let split = match (level, cx) {
                (Some(level), Some(cx)) => self.level_lists(level, cx, &mut candidates, room),
                _ => false,
            };
            if !split {
                candidates.len = mark;
                candidates.push(key.entries);
            }
        }
        candidates
    }

    /// The key of a bucket for a resource type and a principal type (or [`ALL`]).
    fn key(&self, bucket: Span, resource: TypeId, principal: TypeId) -> Option<&Key> {
        let keys = self.keys.get(bucket.range()).unwrap_or_default();
        // The resource type's keys if the bucket names it, else those of every other type.
        let named = keys.iter().any(|k| k.resource == resource);
        let resource = if named { resource } else { OTHER };
        let mut found = None;
        for key in keys.iter().filter(|k| k.resource == resource) {
            if key.principal == principal {
                return Some(key);
            }
            if key.principal == OTHER && principal != ALL {
                found = Some(key);
            }
        }
        found
    }

    /// Adds the lists of `level` that the request matches, using at most `room` lists in
    /// all; `false` (some lists added) if that is not enough or the principal is not an
    /// entity: the caller then takes the whole list.
    fn level_lists<'i>(
        &'i self,
        level: &Level,
        cx: &EvalContext<'_>,
        out: &mut Candidates<'i>,
        room: usize,
    ) -> bool {
        let push = |out: &mut Candidates<'i>, span: Span| out.len < room && out.push(span);
        if !push(out, level.always) {
            return false;
        }
        let keys = self.entity_table(level.entities);
        if !keys.is_empty() {
            // `principal in E` and `principal == E` are false without failing only when
            // the principal is an entity.
            let Some(uid) = cx.principal.uid() else {
                return false;
            };
            if !self.entity_lists(keys, uid, true, cx, &mut |span| push(out, span)) {
                return false;
            }
        }
        // A head never fails: a request entity that is not known matches none of them.
        for (table, span) in level.heads.iter().enumerate() {
            let keys = self.entity_table(*span);
            let subject = if table < 2 {
                &cx.principal
            } else {
                &cx.resource
            };
            let (Some(uid), false) = (subject.uid(), keys.is_empty()) else {
                continue;
            };
            let ancestors = table % 2 == 0;
            if !self.entity_lists(keys, uid, ancestors, cx, &mut |span| push(out, span)) {
                return false;
            }
        }
        for group in self.groups.get(level.groups.range()).unwrap_or_default() {
            let list = match cx.eval(group.probe) {
                Ok(value) if same_type(&value, &group.sample) => {
                    let values = self
                        .value_keys
                        .get(group.values.range())
                        .unwrap_or_default();
                    find::<Value>(values, &value).unwrap_or_default()
                }
                // `==` fails for every rule of the group: they are all candidates.
                _ => group.any,
            };
            if !push(out, list) {
                return false;
            }
        }
        true
    }
}

impl ScopeIndex {
    fn entity_table(&self, span: Span) -> &[Keyed<EntityUid>] {
        self.entity_keys.get(span.range()).unwrap_or_default()
    }

    /// Adds, through `push`, the lists of `keys` filed under `uid` and, with `ancestors`,
    /// under each of its ancestors, looking up whichever of the two sets is smaller in the
    /// other; `false` when `push` runs out of room.
    fn entity_lists(
        &self,
        keys: &[Keyed<EntityUid>],
        uid: &EntityUid,
        ancestors: bool,
        cx: &EvalContext<'_>,
        push: &mut dyn FnMut(Span) -> bool,
    ) -> bool {
        if let Some(span) = find(keys, uid) {
            if !push(span) {
                return false;
            }
        }
        let Some(entity) = cx.entity_of(uid).filter(|_| ancestors) else {
            return true;
        };
        // Ancestors never include the entity itself here: it was matched above.
        if cx.entities.ancestor_count(entity) <= keys.len() {
            for ancestor in cx.entities.ancestors(entity) {
                if ancestor == uid {
                    continue;
                }
                if let Some(span) = find(keys, ancestor) {
                    if !push(span) {
                        return false;
                    }
                }
            }
        } else {
            for (_, key, span) in keys {
                if key != uid && cx.entities.has_ancestor(entity, key) && !push(*span) {
                    return false;
                }
            }
        }
        true
    }
}

struct Builder<'b, 'a> {
    items: &'b [IndexItem<'a>],
    keys: Vec<Key>,
    entries: Vec<Entry>,
    /// The longest principal list built so far.
    longest: usize,
    levels: Vec<Level>,
    entity_keys: Vec<Keyed<EntityUid>>,
    groups: Vec<Group>,
    value_keys: Vec<Keyed<Value>>,
}

/// A group of a level being built: its probe, a constant, and its entries by constant.
type GroupBuild = (NodeId, Value, BTreeMap<Value, Vec<Entry>>, Vec<Entry>);

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
            let level = builder.level(entries);
            builder.keys.push(Key {
                resource,
                principal,
                entries,
                level,
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
            level: NO_LEVEL,
        });
        let other = self.list(members, |item| item.scope.principals.is_none());
        push(self, OTHER, other);
    }

    /// Builds the second level of a list if it is long enough and has keyed items;
    /// returns its index or [`NO_LEVEL`].
    fn level(&mut self, list: Span) -> u32 {
        let entries: Vec<Entry> = self.entries.get(list.range()).unwrap_or_default().to_vec();
        if entries.len() < MIN_LEVEL_LEN {
            return NO_LEVEL;
        }
        let mut always = Vec::new();
        let mut by_entity: BTreeMap<EntityUid, Vec<Entry>> = BTreeMap::new();
        let mut by_head: [BTreeMap<EntityUid, Vec<Entry>>; HEAD_TABLES] = Default::default();
        let mut by_path: BTreeMap<(&crate::discriminant::Path, TypeClass), GroupBuild> =
            BTreeMap::new();
        for entry in entries {
            let item = usize::try_from(entry.order)
                .ok()
                .and_then(|i| self.items.get(i));
            if let Some((side, head)) = item.and_then(IndexItem::head) {
                let table = by_head.get_mut(head_table(side, head.op));
                if let Some(table) = table {
                    for uid in &head.entities {
                        let list = table.entry(uid.clone()).or_default();
                        // An entity listed twice files the rule once.
                        if list.last() != Some(&entry) {
                            list.push(entry);
                        }
                    }
                }
                continue;
            }
            match item.and_then(|item| item.key) {
                None => always.push(entry),
                Some(Discriminator::Principal(uid)) => {
                    by_entity.entry(uid.clone()).or_default().push(entry);
                }
                Some(Discriminator::Equals { path, probe, value }) => {
                    let group = by_path
                        .entry((path, TypeClass::of(value)))
                        .or_insert_with(|| (*probe, value.clone(), BTreeMap::new(), Vec::new()));
                    group.2.entry(value.clone()).or_default().push(entry);
                    group.3.push(entry);
                }
            }
        }
        if by_entity.is_empty() && by_path.is_empty() && by_head.iter().all(BTreeMap::is_empty) {
            return NO_LEVEL;
        }
        let Ok(index) = u32::try_from(self.levels.len()) else {
            return NO_LEVEL;
        };
        let always = self.append(&always);
        let entities = self.entity_table(by_entity);
        let heads = by_head.map(|table| self.entity_table(table));
        let start = self.groups.len();
        for (probe, sample, by_value, any) in by_path.into_values() {
            let values_start = self.value_keys.len();
            let lists: Vec<(Value, Span)> = by_value
                .into_iter()
                .map(|(value, list)| (value, self.append(&list)))
                .collect();
            self.value_keys.extend(by_hash(lists));
            let values = Span::between(values_start, self.value_keys.len()).unwrap_or_default();
            let any = self.append(&any);
            self.groups.push(Group {
                probe,
                sample,
                values,
                any,
            });
        }
        let groups = Span::between(start, self.groups.len()).unwrap_or_default();
        self.levels.push(Level {
            always,
            entities,
            heads,
            groups,
        });
        index
    }

    /// Appends one table of entity keys (each with its list), in hash order; its span.
    fn entity_table(&mut self, table: BTreeMap<EntityUid, Vec<Entry>>) -> Span {
        let start = self.entity_keys.len();
        let lists: Vec<(EntityUid, Span)> = table
            .into_iter()
            .map(|(uid, list)| (uid, self.append(&list)))
            .collect();
        self.entity_keys.extend(by_hash(lists));
        Span::between(start, self.entity_keys.len()).unwrap_or_default()
    }

    fn append(&mut self, list: &[Entry]) -> Span {
        let start = self.entries.len();
        self.entries.extend_from_slice(list);
        Span::between(start, self.entries.len()).unwrap_or_default()
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
            ..Scope::default()
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
                key: None,
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
