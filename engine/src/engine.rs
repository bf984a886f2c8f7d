//! The [`Engine`]: a checked bundle plus everything derived from it once, at load time.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::bundle::{ActionId, Bundle, PackageId, RecordType, Sym, TypeId};
use crate::display;
use crate::error::LoadError;
use crate::index::ScopeIndex;
use crate::load::check_bundle;
use crate::route::Router;
use crate::value::EntityUid;

/// A loaded policy set, ready to decide requests.
///
/// Immutable after [`Engine::new`]; `Send + Sync`, so one engine is shared (in an `Arc`)
/// by every thread that decides. Entity data is separate ([`crate::EntityStore`]) so that
/// it can be reloaded on its own.
#[derive(Debug)]
pub struct Engine {
    pub(crate) bundle: Bundle,
    pub(crate) names: Names,
    pub(crate) rule_index: ScopeIndex,
    pub(crate) obligation_index: ScopeIndex,
    pub(crate) router: Router,
    /// `matches` patterns, compiled.
    pub(crate) regexes: HashMap<String, Regex>,
    /// For each package, which packages a request naming it evaluates (itself and its
    /// transitive imports), indexed by package id.
    pub(crate) package_closure: Vec<Vec<bool>>,
    /// For each action, the full type of `context`: the bundle's context fields plus the
    /// action's own, sorted by symbol.
    pub(crate) context_types: Vec<RecordType>,
}

/// Lookup tables from names in request and entity data to the bundle's ids.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub symbols: HashMap<String, Sym>,
    pub types: HashMap<String, TypeId>,
    pub actions: HashMap<String, ActionId>,
    /// Action names as shared strings: the value of `action` in expressions.
    pub action_names: Vec<Arc<str>>,
    pub packages: HashMap<String, PackageId>,
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
    pub query: Option<Sym>,
    pub host: Option<Sym>,
    pub headers: Option<Sym>,
}

impl Engine {
    /// Loads a bundle: checks its format, version and internal consistency, compiles its
    /// regexes, and builds the rule index, the router and the name lookup tables.
    pub fn new(mut bundle: Bundle) -> Result<Engine, LoadError> {
        let regexes = check_bundle(&mut bundle)?;
        let names = Names::build(&bundle);
        let action_count = bundle.schema.actions.len();
        let rule_index = ScopeIndex::build(bundle.rules.iter().map(|r| &r.scope), action_count);
        let obligation_index =
            ScopeIndex::build(bundle.obligations.iter().map(|o| &o.scope), action_count);
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
        Ok(Engine {
            bundle,
            names,
            rule_index,
            obligation_index,
            router,
            regexes,
            package_closure,
            context_types,
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

    /// The name of an action, shared.
    pub(crate) fn action_name(&self, action: ActionId) -> Arc<str> {
        usize::try_from(action)
            .ok()
            .and_then(|a| self.names.action_names.get(a))
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    pub(crate) fn symbol_name(&self, sym: Sym) -> &str {
        display::symbol_name(&self.bundle.symbols, sym)
    }
}

impl Names {
    fn build(bundle: &Bundle) -> Self {
        let index_map = |names: Vec<&str>| -> HashMap<String, u32> {
            let mut map = HashMap::with_capacity(names.len());
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
            action_names: schema
                .actions
                .iter()
                .map(|a| Arc::from(a.name.as_str()))
                .collect(),
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
