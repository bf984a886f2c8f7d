//! The [`Engine`]: a checked bundle plus everything derived from it once, at load time.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::{
    ActionId, Bundle, Obligation, ObligationKind, PackageId, RecordType, Rule, RuleKind, Scope,
    Sym, TypeId,
};
use crate::discriminant::{discriminator, Discriminator};
use crate::display;
use crate::error::LoadError;
use crate::index::{IndexItem, ScopeIndex};
use crate::load::check_bundle;
use crate::program::{
    CompiledMapping, CompiledObligation, CompiledRule, Compiler, NodeId, Program, Span,
};
use crate::route::Router;
use crate::value::{EntityUid, Value};

/// A loaded policy set, ready to decide requests.
///
/// Immutable after [`Engine::new`]; `Send + Sync`, so one engine is shared (in an `Arc`)
/// by every thread that decides, without locks: deciding only reads it. Entity data is
/// separate ([`crate::EntityStore`]) so that it can be reloaded on its own.
#[derive(Debug)]
pub struct Engine {
    pub(crate) bundle: Bundle,
    pub(crate) names: Names,
    /// Every expression of the bundle, compiled.
    pub(crate) program: Program,
    /// Rules, compiled, in slot order (grouped by first action; see [`layout`]).
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) obligations: Vec<CompiledObligation>,
    pub(crate) mappings: Vec<CompiledMapping>,
    /// The resource expression of each route, by route index.
    pub(crate) route_resources: Vec<NodeId>,
    pub(crate) rule_index: ScopeIndex,
    pub(crate) obligation_index: ScopeIndex,
    pub(crate) router: Router,
    /// For each package, which packages a request naming it evaluates (itself and its
    /// transitive imports), indexed by package id.
    pub(crate) package_closure: Vec<Vec<bool>>,
    /// For each action, the full type of `context`: the bundle's context fields plus the
    /// action's own, sorted by symbol.
    pub(crate) context_types: Vec<RecordType>,
    /// The value of `action` for each action: its name, as a String value.
    pub(crate) action_values: Vec<Value>,
    /// `Anonymous::""`, the principal of requests no mapping names.
    pub(crate) anonymous: Value,
    pub(crate) anonymous_id: Arc<str>,
    /// For each entity type, the types its entities may have as parents: the declared
    /// parent types and their ancestors (sorted), as Cedar accepts data.
    pub(crate) parent_types: Vec<Vec<TypeId>>,
}

/// A table from names to ids, read on every request (foldhash: seeded per process, much
/// cheaper than SipHash on short names).
pub(crate) type NameMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Lookup tables from names in request and entity data to the bundle's ids.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub symbols: NameMap<Sym>,
    pub types: NameMap<TypeId>,
    pub actions: NameMap<ActionId>,
    pub packages: NameMap<PackageId>,
    pub well_known: WellKnown,
}

/// Symbols of builtin context fields the engine fills or reads itself. `None` when the
/// bundle does not use that name at all.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WellKnown {
    pub time: Option<Sym>,
    pub request: Option<Sym>,
    pub method: Option<Sym>,
    pub path: Option<Sym>,
    pub raw_path: Option<Sym>,
    pub query: Option<Sym>,
    pub host: Option<Sym>,
    pub headers: Option<Sym>,
}

impl Engine {
    /// Loads a bundle: checks its format, version and internal consistency, compiles its
    /// regexes and expressions, and builds the rule index, the router and the name lookup
    /// tables.
    pub fn new(mut bundle: Bundle) -> Result<Engine, LoadError> {
        let regexes = check_bundle(&mut bundle)?;
        let names = Names::build(&bundle);
        let mut compiler = Compiler::new(&names.symbols, regexes);
        let action_count = bundle.schema.actions.len();

        let rule_slots = layout(bundle.rules.iter().map(|r| &r.scope));
        let mut rules = Vec::with_capacity(bundle.rules.len());
        for &bundle_index in &rule_slots.order {
            let Some(rule) = item(&bundle.rules, bundle_index) else {
                continue;
            };
            let when = compiler.condition(&rule.when)?;
            let unless = rule
                .unless
                .as_ref()
                .map(|c| compiler.condition(c))
                .transpose()?;
            let require = rule
                .require
                .as_ref()
                .map(|c| compiler.condition(c))
                .transpose()?;
            rules.push(
                CompiledRule::new(
                    bundle_index,
                    rule.kind,
                    rule.package,
                    [Some(when), unless, require],
                )?
                .with_head(rule.scope.has_head()),
            );
        }
        let obligation_slots = layout(bundle.obligations.iter().map(|o| &o.scope));
        let mut obligations = Vec::with_capacity(bundle.obligations.len());
        for &bundle_index in &obligation_slots.order {
            let Some(obligation) = item(&bundle.obligations, bundle_index) else {
                continue;
            };
            let value = compiler.obligation_value(&obligation.kind)?;
            let what = match obligation.kind {
                ObligationKind::RateLimit { .. } => "a rate-limit key",
                _ => crate::decide::HEADER_VALUE,
            };
            obligations.push(CompiledObligation {
                bundle_index,
                package: obligation.package,
                when: compiler.condition(&obligation.when)?,
                unless: obligation
                    .unless
                    .as_ref()
                    .map(|c| compiler.condition(c))
                    .transpose()?,
                has_head: obligation.scope.has_head(),
                value: value.map(|node| (node, what)),
            });
        }
        let mappings = bundle
            .principals
            .iter()
            .map(|mapping| {
                Ok(CompiledMapping {
                    entity_type: mapping.entity_type,
                    id: compiler.expr(&mapping.id)?,
                    when: compiler.condition(&mapping.when)?,
                    package: mapping.package,
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let route_resources = bundle
            .routes
            .iter()
            .map(|route| compiler.expr(&route.resource))
            .collect::<Result<Vec<_>, LoadError>>()?;
        let mut program = compiler.finish();
        let runs: Vec<(Option<&[ActionId]>, Span)> = rules
            .iter()
            .map(|rule| {
                let actions =
                    item(&bundle.rules, rule.bundle_index).and_then(|r| r.scope.actions.as_deref());
                (actions, rule.conjuncts())
            })
            .collect();
        program.mark_shared(&runs);

        let rule_keys: Vec<Option<Discriminator>> = rule_slots
            .slot_of
            .iter()
            .map(|slot| {
                let rule = usize::try_from(*slot).ok().and_then(|s| rules.get(s))?;
                discriminator(&program, program.conjuncts(rule.when()))
            })
            .collect();
        let rule_items: Vec<IndexItem<'_>> = bundle
            .rules
            .iter()
            .zip(&rule_slots.slot_of)
            .zip(&rule_keys)
            .map(|((rule, slot), key)| IndexItem {
                scope: &rule.scope,
                is_allow: rule.kind == RuleKind::Allow,
                slot: *slot,
                key: key.as_ref(),
            })
            .collect();
        let rule_index = ScopeIndex::build(&rule_items, action_count);
        let obligation_items: Vec<IndexItem<'_>> = bundle
            .obligations
            .iter()
            .zip(&obligation_slots.slot_of)
            .map(|(obligation, slot)| IndexItem {
                scope: &obligation.scope,
                is_allow: false,
                slot: *slot,
                key: None,
            })
            .collect();
        let obligation_index = ScopeIndex::build(&obligation_items, action_count);
        drop((rule_items, obligation_items));
        drop(rule_keys);

        let router = Router::build(&bundle.routes);
        let package_closure = package_closure(&bundle);
        let context_types = bundle
            .schema
            .actions
            .iter()
            .map(|action| {
                let mut fields = bundle.schema.context.fields.clone();
                for field in &action.context.fields {
                    fields.retain(|f| f.name != field.name);
                    fields.push(field.clone());
                }
                fields.sort_by_key(|f| f.name);
                RecordType { fields }
            })
            .collect();
        let action_values = bundle
            .schema
            .actions
            .iter()
            .map(|a| Value::string(&a.name))
            .collect();
        let anonymous_id: Arc<str> = Arc::from("");
        let parent_types = ancestor_types(&bundle.schema.entity_types);
        Ok(Engine {
            parent_types,
            names,
            program,
            rules,
            obligations,
            mappings,
            route_resources,
            rule_index,
            obligation_index,
            router,
            package_closure,
            context_types,
            action_values,
            anonymous: Value::Entity(EntityUid {
                ty: 0,
                id: Arc::clone(&anonymous_id),
            }),
            anonymous_id,
            bundle,
        })
    }

    /// Reads a bundle file ([`Bundle::from_json`]) and loads it.
    pub fn from_bundle_json(text: &str) -> Result<Engine, LoadError> {
        Engine::new(Bundle::from_json(text)?)
    }

    /// The loaded bundle (normalised: record types sorted by symbol, constant sets sorted).
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// `User::"alice"`: the id is escaped like a string literal.
    pub fn uid_to_string(&self, uid: &EntityUid) -> String {
        display::uid_literal(&self.bundle.schema, uid)
    }

    /// The id of an entity type by name.
    pub fn entity_type_id(&self, name: &str) -> Option<TypeId> {
        self.names.types.get(name).copied()
    }

    /// The id of an action by name.
    pub fn action_id(&self, name: &str) -> Option<ActionId> {
        self.names.actions.get(name).copied()
    }

    /// The id of a package by dotted name.
    pub fn package_id(&self, name: &str) -> Option<PackageId> {
        self.names.packages.get(name).copied()
    }

    /// Whether a request restricted to `package` (if any) evaluates items of `item_package`.
    pub(crate) fn package_selected(
        &self,
        package: Option<PackageId>,
        item_package: PackageId,
    ) -> bool {
        let Some(package) = package else { return true };
        let closure = usize::try_from(package)
            .ok()
            .and_then(|p| self.package_closure.get(p));
        let item = usize::try_from(item_package).ok();
        closure
            .zip(item)
            .and_then(|(c, i)| c.get(i).copied())
            .unwrap_or(false)
    }

    /// The name of an action.
    pub(crate) fn action_name(&self, action: ActionId) -> &str {
        match self.action_value(action) {
            Some(Value::String(name)) => name,
            _ => "?",
        }
    }

    /// The value of `action` in expressions: the action's name.
    pub(crate) fn action_value(&self, action: ActionId) -> Option<&Value> {
        self.action_values.get(usize::try_from(action).ok()?)
    }

    pub(crate) fn symbol_name(&self, sym: Sym) -> &str {
        display::symbol_name(&self.bundle.symbols, sym)
    }

    pub(crate) fn compiled_rule(&self, slot: u32) -> Option<&CompiledRule> {
        self.rules.get(usize::try_from(slot).ok()?)
    }

    pub(crate) fn compiled_obligation(&self, slot: u32) -> Option<&CompiledObligation> {
        self.obligations.get(usize::try_from(slot).ok()?)
    }

    /// The bundle's rule at a compiled slot.
    pub(crate) fn bundle_rule(&self, slot: u32) -> Option<&Rule> {
        self.bundle_rule_of(self.compiled_rule(slot)?)
    }

    pub(crate) fn bundle_rule_of(&self, rule: &CompiledRule) -> Option<&Rule> {
        item(&self.bundle.rules, rule.bundle_index)
    }

    /// The bundle's obligation at a compiled slot.
    pub(crate) fn bundle_obligation(&self, slot: u32) -> Option<&Obligation> {
        self.bundle_obligation_of(self.compiled_obligation(slot)?)
    }

    pub(crate) fn bundle_obligation_of(
        &self,
        obligation: &CompiledObligation,
    ) -> Option<&Obligation> {
        item(&self.bundle.obligations, obligation.bundle_index)
    }
}

fn item<T>(items: &[T], index: u32) -> Option<&T> {
    items.get(usize::try_from(index).ok()?)
}

/// Where rules (or obligations) go in the compiled tables.
struct Layout {
    /// Bundle indexes, in slot order.
    order: Vec<u32>,
    /// The slot of each bundle index.
    slot_of: Vec<u32>,
}

/// Orders items by their first action, then bundle order: the items a request selects
/// (those of one action) sit next to each other, and so does their compiled code.
fn layout<'a>(scopes: impl Iterator<Item = &'a Scope>) -> Layout {
    let mut keyed: Vec<(u32, u32)> = scopes
        .zip(0u32..)
        .map(|(scope, index)| {
            let first_action = scope
                .actions
                .as_ref()
                .and_then(|actions| actions.iter().min().copied())
                .unwrap_or(u32::MAX);
            (first_action, index)
        })
        .collect();
    keyed.sort_unstable();
    let order: Vec<u32> = keyed.into_iter().map(|(_, index)| index).collect();
    let mut slot_of = vec![0; order.len()];
    for (slot, index) in (0u32..).zip(&order) {
        if let Some(entry) = usize::try_from(*index)
            .ok()
            .and_then(|i| slot_of.get_mut(i))
        {
            *entry = slot;
        }
    }
    Layout { order, slot_of }
}

impl Names {
    fn build(bundle: &Bundle) -> Self {
        let index_map = |names: Vec<&str>| -> NameMap<u32> {
            let mut map = NameMap::with_capacity_and_hasher(names.len(), Default::default());
            for (i, name) in names.into_iter().enumerate() {
                if let Ok(i) = u32::try_from(i) {
                    // The first declaration of a name wins.
                    map.entry(name.to_string()).or_insert(i);
                }
            }
            map
        };
        let symbols = index_map(bundle.symbols.iter().map(String::as_str).collect());
        let schema = &bundle.schema;
        let well_known = WellKnown {
            time: symbols.get("time").copied(),
            request: symbols.get("request").copied(),
            method: symbols.get("method").copied(),
            path: symbols.get("path").copied(),
            raw_path: symbols.get("raw_path").copied(),
            query: symbols.get("query").copied(),
            host: symbols.get("host").copied(),
            headers: symbols.get("headers").copied(),
        };
        Names {
            types: index_map(
                schema
                    .entity_types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect(),
            ),
            actions: index_map(schema.actions.iter().map(|a| a.name.as_str()).collect()),
            packages: index_map(bundle.packages.iter().map(|p| p.name.as_str()).collect()),
            symbols,
            well_known,
        }
    }
}

/// For every package, the set of packages it reaches through imports (itself included).
fn package_closure(bundle: &Bundle) -> Vec<Vec<bool>> {
    let count = bundle.packages.len();
    (0..count)
        .map(|start| {
            let mut reached = vec![false; count];
            let mut stack = vec![start];
            while let Some(package) = stack.pop() {
                match reached.get_mut(package) {
                    Some(seen) if !*seen => *seen = true,
                    _ => continue,
                }
                let imports = bundle
                    .packages
                    .get(package)
                    .map(|p| p.imports.as_slice())
                    .unwrap_or_default();
                stack.extend(imports.iter().filter_map(|i| usize::try_from(*i).ok()));
            }
            reached
        })
        .collect()
}

/// Every type reachable from each type's declared parent types (the type graph may have
/// cycles: `entity Team in Team`), sorted for a binary search.
fn ancestor_types(entities: &[crate::bundle::EntityType]) -> Vec<Vec<TypeId>> {
    entities
        .iter()
        .map(|entity| {
            let mut seen: std::collections::BTreeSet<TypeId> = std::collections::BTreeSet::new();
            let mut stack: Vec<TypeId> = entity.parents.clone();
            while let Some(ty) = stack.pop() {
                if seen.insert(ty) {
                    if let Some(next) = usize::try_from(ty).ok().and_then(|i| entities.get(i)) {
                        stack.extend(next.parents.iter().copied());
                    }
                }
            }
            seen.into_iter().collect()
        })
        .collect()
}
