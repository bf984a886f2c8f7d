//! Entity data: the [`EntityStore`] and reading it from Cedar's entity JSON.
//!
//! Entities are read against the bundle's schema (attributes typed, parents of declared
//! parent types) and their transitive ancestors are computed once at load, so `e in g` is a
//! scan of a few numbers (a binary search for long runs). Every uid is numbered (`u32`); the ancestors of all entities are one flat
//! array of numbers, each entity holding the span of its own, so a link costs 4 bytes. References to entities missing from the data are allowed: such an entity
//! has no attributes and no parents.

use std::collections::HashMap;

use compact_str::CompactString;
use foldhash::fast::RandomState;

use serde_json::value::RawValue;
use serde_json::Value as Json;

use crate::bundle::TypeId;
use crate::display::{self, type_name};
use crate::engine::Engine;
use crate::error::{CycleError, DataError, DuplicateEntityError, EntityError, SyntaxError};
use crate::json::{json_excerpt, ReadError, Reader};
use crate::value::{EntityUid, Record, Value};

/// The most (entity, ancestor) pairs a store precomputes: a bound on memory for
/// pathological hierarchies (a chain of `n` groups has `n²/2` pairs).
const MAX_ANCESTOR_LINKS: usize = 20_000_000;

/// Up to this many ancestors, `e in g` looks `g`'s number up and scans `e`'s run; past it,
/// a binary search of the run by uid.
const SHORT_RUN: usize = 16;

/// Entity data for deciding: attributes and ancestors by uid. Built by
/// [`Engine::load_entities`] for that engine's schema.
///
/// Lookups take a type id and a borrowed id (`&str`), so deciding never builds or clones
/// an [`EntityUid`]; each entity also holds its own `Value::Entity`, which evaluation lends
/// out instead of cloning the id (no reference-count traffic shared between threads).
#[derive(Debug, Clone, Default)]
pub struct EntityStore {
    /// The entities of the data, in the order given.
    entities: Vec<Entity>,
    /// By entity type id: the index of every known id of that type. Entities of the data
    /// are `< entities.len()`; parents the data names without defining are numbered
    /// `>= entities.len()` (no attributes, no parents).
    /// Ids of up to 24 bytes sit in the table itself, so a lookup touches no other memory
    /// to compare them.
    by_type: Vec<HashMap<CompactString, u32, RandomState>>,
    /// Every numbered uid (entities, then undefined parents), by number.
    uids: Vec<EntityUid>,
    /// The transitive ancestors of every entity, as numbers of `uids`, entity after entity;
    /// each entity's run is sorted by uid ([`Entity::ancestors`]).
    ancestors: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub uid: EntityUid,
    /// `Value::Entity(uid)`, lent to expressions that name this entity.
    pub value: Value,
    /// Held inline: reading an attribute is one hop from the entity to its fields.
    pub attrs: Record,
    /// Tags (`e.get_tag(k)`), sorted by key; empty, and no allocation, for an entity
    /// without tags.
    tags: Tags,
    /// Where this entity's ancestors are in the store's flat array: `e in g` scans that run
    /// for `g`'s number, or binary-searches it by uid when it is long.
    ancestors: Span,
}

/// An entity's tags, sorted by key (an empty boxed slice allocates nothing).
type Tags = Box<[(Box<str>, Value)]>;

/// A run of the store's ancestor array.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Entity {
    /// The value of tag `key`, if the entity has it.
    pub(crate) fn tag(&self, key: &str) -> Option<&Value> {
        self.tags
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .and_then(|i| self.tags.get(i))
            .map(|(_, value)| value)
    }
}

impl EntityStore {
    /// The number of entities.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether the data has an entity with this uid.
    pub fn contains(&self, uid: &EntityUid) -> bool {
        self.get(uid).is_some()
    }

    pub(crate) fn get(&self, uid: &EntityUid) -> Option<&Entity> {
        self.find(uid.ty, &uid.id)
    }

    /// The entity of type `ty` with id `id`, if the data defines it.
    pub(crate) fn find(&self, ty: TypeId, id: &str) -> Option<&Entity> {
        let index = usize::try_from(self.number(ty, id)?).ok()?;
        self.entities.get(index)
    }

    /// The number of a known uid (an entity or an undefined parent).
    fn number(&self, ty: TypeId, id: &str) -> Option<u32> {
        let ids = self.by_type.get(usize::try_from(ty).ok()?)?;
        ids.get(id).copied()
    }

    /// Numbers `uid` if it is new; returns its number.
    fn number_or_insert(&mut self, uid: &EntityUid) -> Option<u32> {
        if let Some(known) = self.number(uid.ty, &uid.id) {
            return Some(known);
        }
        let next = u32::try_from(self.uids.len()).ok()?;
        let ty = usize::try_from(uid.ty).ok()?;
        if self.by_type.len() <= ty {
            self.by_type
                .resize_with(ty.checked_add(1)?, HashMap::default);
        }
        self.by_type
            .get_mut(ty)?
            .insert(CompactString::from(&*uid.id), next);
        self.uids.push(uid.clone());
        Some(next)
    }

    /// Whether `ancestor` is a transitive parent of `entity` (not the entity itself).
    pub(crate) fn has_ancestor(&self, entity: &Entity, ancestor: &EntityUid) -> bool {
        let run = self.run(entity.ancestors);
        if run.len() <= SHORT_RUN {
            // Most entities have a few ancestors: one lookup of the ancestor's number, then
            // a scan of a few integers, instead of comparing ids at every step of a search.
            return self
                .number(ancestor.ty, &ancestor.id)
                .is_some_and(|number| run.contains(&number));
        }
        run.binary_search_by(|number| {
            let uid = usize::try_from(*number).ok().and_then(|n| self.uids.get(n));
            uid.cmp(&Some(ancestor))
        })
        .is_ok()
    }

    /// How many transitive ancestors an entity has.
    pub(crate) fn ancestor_count(&self, entity: &Entity) -> usize {
        self.run(entity.ancestors).len()
    }

    /// The transitive ancestors of an entity, sorted by uid.
    pub(crate) fn ancestors<'s>(
        &'s self,
        entity: &Entity,
    ) -> impl Iterator<Item = &'s EntityUid> + 's {
        self.run(entity.ancestors)
            .iter()
            .filter_map(|number| self.uids.get(usize::try_from(*number).ok()?))
    }

    /// The ancestor numbers of a span (empty if it is out of range, which it never is).
    fn run(&self, span: Span) -> &[u32] {
        let start = usize::try_from(span.start).unwrap_or(usize::MAX);
        let end = usize::try_from(span.len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .unwrap_or(usize::MAX);
        self.ancestors.get(start..end).unwrap_or_default()
    }
}

impl Engine {
    /// An empty store: every entity reference has no attributes and no parents.
    pub fn empty_entities(&self) -> EntityStore {
        EntityStore::default()
    }

    /// Reads a Cedar entity JSON array: `[{"uid": …, "attrs": {…}, "parents": […]}]`.
    pub fn load_entities(&self, json: &str) -> Result<EntityStore, EntityError> {
        // Each entity is parsed into a JSON tree of its own and dropped once read: the
        // memory left after loading is the store's, not the high-water mark of a tree of
        // the whole document (which the allocator keeps).
        let items: Vec<&RawValue> = match serde_json::from_str(json) {
            Ok(items) => items,
            Err(error) => {
                return Err(match serde_json::from_str::<Json>(json) {
                    Ok(other) => DataError::new(
                        "entities",
                        format!("expected an array, found `{}`", json_excerpt(&other)),
                    )
                    .into(),
                    Err(_) => SyntaxError::new("entity data", error.to_string()).into(),
                });
            }
        };
        let mut store = EntityStore::default();
        let mut parents = Vec::with_capacity(items.len());
        for (index, raw) in items.iter().enumerate() {
            let item = crate::strict_json::from_str(raw.get())
                .map_err(|e| SyntaxError::new("entity data", e.to_string()))?;
            self.add_entity(&mut store, &mut parents, index, &item)?;
        }
        drop(items);
        compute_ancestors(self, &mut store, parents, MAX_ANCESTOR_LINKS)?;
        Ok(store)
    }

    /// Builds a store from entity objects (callers concatenate several files and inline
    /// entities). Checks types, attributes, parents, duplicates and cycles.
    pub fn entities_from_values(&self, items: &[Json]) -> Result<EntityStore, EntityError> {
        let mut store = EntityStore::default();
        let mut parents = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            self.add_entity(&mut store, &mut parents, index, item)?;
        }
        compute_ancestors(self, &mut store, parents, MAX_ANCESTOR_LINKS)?;
        Ok(store)
    }

    /// Reads entity `index` of the data and adds it to `store`, and its parents to
    /// `parents` (ancestors come later, from those).
    fn add_entity(
        &self,
        store: &mut EntityStore,
        parents: &mut Vec<Vec<EntityUid>>,
        index: usize,
        item: &Json,
    ) -> Result<(), EntityError> {
        let (entity, its_parents) = self.read_entity(index, item)?;
        if store.get(&entity.uid).is_some() {
            return Err(DuplicateEntityError::new(self.uid_to_string(&entity.uid)).into());
        }
        if store.number_or_insert(&entity.uid).is_none() {
            return Err(DataError::new("entities", "too many entities").into());
        }
        store.entities.push(entity);
        parents.push(its_parents);
        Ok(())
    }

    /// An entity and its parents.
    fn read_entity(
        &self,
        index: usize,
        item: &Json,
    ) -> Result<(Entity, Vec<EntityUid>), EntityError> {
        let at_index = |path: &str, message: String| {
            DataError::new(format!("entities[{index}]{path}"), message)
        };
        let Some(object) = item.as_object() else {
            return Err(at_index(
                "",
                format!("expected an entity object, found `{}`", json_excerpt(item)),
            )
            .into());
        };
        if let Some(key) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "uid" | "attrs" | "parents" | "tags"))
        {
            return Err(at_index(
                "",
                format!("unknown field `{}`", display::truncate(key, 60)),
            )
            .into());
        }
        let uid_json = object
            .get("uid")
            .ok_or_else(|| at_index(".uid", String::from("missing required field")))?;
        let uid = Reader::new(self, "uid")
            .entity(uid_json, None)
            .map_err(|e| at_index(&format!(".{}", e.path), e.message))?;
        let name = self.uid_to_string(&uid);
        let in_entity = |e: ReadError| -> EntityError {
            DataError::new(format!("entity `{name}` {}", e.path), e.message).into()
        };
        let schema = &self.bundle.schema;
        let Some(entity_type) = usize::try_from(uid.ty)
            .ok()
            .and_then(|t| schema.entity_types.get(t))
        else {
            return Err(in_entity(
                Reader::new(self, "uid").error("unknown entity type"),
            ));
        };
        let mut reader = Reader::new(self, "attrs");
        let attrs = match object.get("attrs") {
            None | Some(Json::Null) => reader.record(None, &entity_type.attrs),
            Some(Json::Object(attrs)) => reader.record(Some(attrs), &entity_type.attrs),
            Some(other) => Err(reader.error(format!(
                "expected an object, found `{}`",
                json_excerpt(other)
            ))),
        }
        .map_err(in_entity)?;
        let tags = self
            .read_tags(object.get("tags"), entity_type)
            .map_err(in_entity)?;
        let mut parents = Vec::new();
        let reader = Reader::new(self, "parents");
        match object.get("parents") {
            None | Some(Json::Null) => {}
            Some(Json::Array(items)) => {
                for (i, parent) in items.iter().enumerate() {
                    let mut element = Reader::new(self, &format!("parents[{i}]"));
                    let parent = element.entity(parent, None).map_err(in_entity)?;
                    let allowed = usize::try_from(uid.ty)
                        .ok()
                        .and_then(|i| self.parent_types.get(i))
                        .is_some_and(|types| types.binary_search(&parent.ty).is_ok());
                    if !allowed {
                        element = Reader::new(self, &format!("parents[{i}]"));
                        let allowed: Vec<String> = entity_type
                            .parents
                            .iter()
                            .map(|t| format!("`{}`", type_name(schema, *t)))
                            .collect();
                        let allowed = if allowed.is_empty() {
                            String::from("the schema declares no parent types for it")
                        } else {
                            format!(
                                "the schema allows {} and their ancestor types",
                                allowed.join(", ")
                            )
                        };
                        return Err(in_entity(element.error(format!(
                            "an entity of type `{}` cannot have a parent of type `{}`: {allowed}",
                            entity_type.name,
                            type_name(schema, parent.ty)
                        ))));
                    }
                    parents.push(parent);
                }
            }
            Some(other) => {
                return Err(in_entity(reader.error(format!(
                    "expected an array, found `{}`",
                    json_excerpt(other)
                ))))
            }
        }
        let entity = Entity {
            value: Value::Entity(uid.clone()),
            uid,
            attrs,
            tags,
            ancestors: Span::default(),
        };
        Ok((entity, parents))
    }

    /// An entity's `"tags": {"key": value, …}`, each value of the type's tag type; tags on
    /// a type that declares none are an error (an empty object is no tags).
    fn read_tags(
        &self,
        json: Option<&Json>,
        entity_type: &crate::bundle::EntityType,
    ) -> Result<Tags, ReadError> {
        let mut reader = Reader::new(self, "tags");
        let object = match json {
            None | Some(Json::Null) => return Ok(Box::default()),
            Some(Json::Object(object)) if object.is_empty() => return Ok(Box::default()),
            Some(Json::Object(object)) => object,
            Some(other) => {
                return Err(reader.error(format!(
                    "expected an object, found `{}`",
                    json_excerpt(other)
                )))
            }
        };
        let Some(ty) = &entity_type.tags else {
            return Err(reader.error(format!(
                "the schema declares no tags for entity type `{}`",
                entity_type.name
            )));
        };
        let mut tags: Vec<(Box<str>, Value)> = Vec::with_capacity(object.len());
        for (key, item) in object {
            let value = reader.field(key, |r| r.nested(|r| r.value(item, ty)))?;
            tags.push((Box::from(key.as_str()), value));
        }
        // Keys of a JSON object are distinct; sorted for lookups by binary search.
        tags.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        Ok(tags.into_boxed_slice())
    }
}

/// Fills every entity's transitive ancestors from its `parents` (one list per entity, in
/// order); a cycle is an error. Parents missing from the data get a number too (they are
/// ancestors, with none of their own). Iterative depth-first search: entity data can nest
/// deeper than the stack allows recursion. An entity's ancestors are gathered once, without
/// repeats (a stamp per uid), and appended to the store's flat array, so memory is 4 bytes
/// a link however many parents share them.
fn compute_ancestors(
    engine: &Engine,
    store: &mut EntityStore,
    parent_uids: Vec<Vec<EntityUid>>,
    budget: usize,
) -> Result<(), EntityError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    // Number the parents that are not in the data, and resolve every parent to a number.
    let mut parents: Vec<Vec<u32>> = Vec::with_capacity(parent_uids.len());
    for list in parent_uids {
        let mut numbers = Vec::with_capacity(list.len());
        for parent in &list {
            let number = store
                .number_or_insert(parent)
                .ok_or_else(|| DataError::new("entities", "too many entities"))?;
            numbers.push(number);
        }
        parents.push(numbers);
    }
    let count = store.entities.len();
    let mut marks = vec![Mark::New; count];
    let mut spans = vec![Span::default(); count];
    let mut flat: Vec<u32> = Vec::new();
    // The ancestors of the entity being finished, and for each uid the last entity (plus
    // one) that gathered it: no repeats, whatever the parents share.
    let mut gathered: Vec<u32> = Vec::new();
    let mut stamps: Vec<usize> = vec![0; store.uids.len()];
    let as_index = |i: u32| usize::try_from(i).unwrap_or(usize::MAX);
    let mut links: usize = 0;
    for start in 0..count {
        if marks.get(start) != Some(&Mark::New) {
            continue;
        }
        // (entity, next parent position to visit)
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        if let Some(mark) = marks.get_mut(start) {
            *mark = Mark::Open;
        }
        while let Some(top) = stack.last_mut() {
            let (entity, position) = *top;
            top.1 = position.saturating_add(1);
            let parent = parents
                .get(entity)
                .and_then(|p| p.get(position))
                .map(|p| as_index(*p));
            match parent {
                // Parents outside the data (index >= count) have no ancestors of their own.
                Some(parent) if parent >= count => {}
                Some(parent) => match marks.get(parent).copied() {
                    Some(Mark::New) => {
                        if let Some(mark) = marks.get_mut(parent) {
                            *mark = Mark::Open;
                        }
                        stack.push((parent, 0));
                    }
                    Some(Mark::Open) => {
                        let from = stack.iter().position(|(e, _)| *e == parent).unwrap_or(0);
                        let name = |e: usize| {
                            store
                                .entities
                                .get(e)
                                .map(|e| engine.uid_to_string(&e.uid))
                                .unwrap_or_default()
                        };
                        let mut path: Vec<String> = stack
                            .get(from..)
                            .unwrap_or_default()
                            .iter()
                            .map(|(e, _)| name(*e))
                            .collect();
                        path.push(name(parent));
                        return Err(CycleError::new(path).into());
                    }
                    _ => {}
                },
                // All parents visited: this entity's ancestors are its parents and theirs.
                None => {
                    gathered.clear();
                    let stamp = entity.saturating_add(1);
                    let mut gather = |number: u32| {
                        if let Some(seen) = stamps.get_mut(as_index(number)) {
                            if *seen != stamp {
                                *seen = stamp;
                                gathered.push(number);
                            }
                        }
                    };
                    for parent in parents.get(entity).map(Vec::as_slice).unwrap_or_default() {
                        gather(*parent);
                        let inherited =
                            spans.get(as_index(*parent)).map_or(Span::default(), |s| *s);
                        let start = as_index(inherited.start);
                        let end = start.saturating_add(as_index(inherited.len));
                        for number in flat.get(start..end).unwrap_or_default() {
                            gather(*number);
                        }
                    }
                    links = links.saturating_add(gathered.len());
                    if links > budget {
                        let message = format!(
                            "the entity hierarchy is too large (more than {budget} ancestor links)"
                        );
                        return Err(DataError::new("entities", message).into());
                    }
                    // The budget keeps every offset and length within u32.
                    let span = Span {
                        start: u32::try_from(flat.len()).unwrap_or(u32::MAX),
                        len: u32::try_from(gathered.len()).unwrap_or(u32::MAX),
                    };
                    flat.extend_from_slice(&gathered);
                    if let Some(slot) = spans.get_mut(entity) {
                        *slot = span;
                    }
                    if let Some(mark) = marks.get_mut(entity) {
                        *mark = Mark::Done;
                    }
                    stack.pop();
                }
            }
        }
    }
    drop(stamps);
    flat.shrink_to_fit();
    let uids = &store.uids;
    let uid_of = |number: &u32| usize::try_from(*number).ok().and_then(|n| uids.get(n));
    for (entity, span) in store.entities.iter_mut().zip(spans) {
        let start = as_index(span.start);
        let end = start.saturating_add(as_index(span.len));
        if let Some(run) = flat.get_mut(start..end) {
            run.sort_unstable_by(|a, b| uid_of(a).cmp(&uid_of(b)));
        }
        entity.ancestors = span;
    }
    store.ancestors = flat;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bundle::{
        Bundle, EntityType, RecordType, Schema, ANONYMOUS_TYPE, BUNDLE_FORMAT, BUNDLE_VERSION,
    };

    fn engine() -> Engine {
        let group = EntityType {
            name: "G".into(),
            attrs: RecordType::default(),
            parents: vec![1],
            tags: None,
        };
        let anonymous = EntityType {
            name: ANONYMOUS_TYPE.into(),
            attrs: RecordType::default(),
            parents: vec![],
            tags: None,
        };
        let bundle = Bundle {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            revision: String::new(),
            symbols: vec![],
            schema: Schema {
                entity_types: vec![anonymous, group],
                enums: vec![],
                actions: vec![],
                context: RecordType::default(),
            },
            packages: vec![],
            rules: vec![],
            obligations: vec![],
            routes: vec![],
            principals: vec![],
        };
        match Engine::new(bundle) {
            Ok(engine) => engine,
            Err(e) => unreachable!("{e}"),
        }
    }

    fn chain(n: usize) -> Vec<Json> {
        (0..n)
            .map(|i| {
                let parents: Vec<String> = (i > 0)
                    .then(|| format!("G::\"{}\"", i.saturating_sub(1)))
                    .into_iter()
                    .collect();
                serde_json::json!({"uid": format!("G::\"{i}\""), "parents": parents})
            })
            .collect()
    }

    #[test]
    fn the_ancestor_budget_bounds_memory() {
        let engine = engine();
        let items = chain(100);
        let mut store = EntityStore::default();
        let mut parents = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Ok((entity, its_parents)) = engine.read_entity(i, item) else {
                unreachable!()
            };
            assert_eq!(store.number_or_insert(&entity.uid), u32::try_from(i).ok());
            store.entities.push(entity);
            parents.push(its_parents);
        }
        let mut small = store.clone();
        let error = compute_ancestors(&engine, &mut small, parents.clone(), 1000)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("entities: the entity hierarchy is too large (more than 1000 ancestor links)")
        );
        assert!(compute_ancestors(&engine, &mut store, parents, 100 * 100).is_ok());
        let top = EntityUid {
            ty: 1,
            id: Arc::from("0"),
        };
        let bottom = EntityUid {
            ty: 1,
            id: Arc::from("99"),
        };
        let is_in = |child: &EntityUid, ancestor: &EntityUid| {
            store
                .get(child)
                .is_some_and(|entity| store.has_ancestor(entity, ancestor))
        };
        assert!(is_in(&bottom, &top));
        assert!(!is_in(&top, &bottom));
        // Runs on both sides of SHORT_RUN: the scan of numbers and the binary search by uid
        // answer alike, for present, absent and unknown ancestors.
        let uid = |id: &str| EntityUid {
            ty: 1,
            id: Arc::from(id),
        };
        for child in [3, SHORT_RUN, SHORT_RUN + 1, 60] {
            let child_uid = uid(&child.to_string());
            for ancestor in 0..100 {
                assert_eq!(
                    is_in(&child_uid, &uid(&ancestor.to_string())),
                    ancestor < child,
                    "{child} in {ancestor}"
                );
            }
            assert!(!is_in(&child_uid, &uid("not-an-entity")));
        }
    }
}
