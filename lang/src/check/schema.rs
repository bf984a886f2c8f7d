//! The merged schema: every `schema { }` block of the program (all files, all packages,
//! the imported stdlib) declares into one namespace of entity types, enums and actions.

mod build;

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use rampart_engine::bundle::{self as ir, ActionId, EnumId, TypeId};

use super::symbols::Symbols;
use super::types::{RecordTy, Type, TypeNames};
use super::with_suggestion;
use crate::ast;
use crate::diagnostics::Diagnostic;

/// A declared entity type.
#[derive(Debug)]
pub struct EntityInfo {
    pub name: String,
    pub attrs: Rc<RecordTy>,
    pub parents: Vec<TypeId>,
    /// The type of the entity's tags (`tags String`); `None`: it has none.
    pub tags: Option<Type>,
    /// Every type an entity of this type may have as a transitive ancestor.
    pub ancestors: BTreeSet<TypeId>,
}

/// A declared enum.
#[derive(Debug)]
pub struct EnumInfo {
    pub name: String,
    pub variants: Vec<String>,
}

/// A declared action.
#[derive(Debug)]
pub struct ActionInfo {
    pub name: String,
    /// `None`: any resource type.
    pub resources: Option<Vec<TypeId>>,
    /// `None`: any principal type.
    pub principals: Option<Vec<TypeId>>,
    pub context: Rc<RecordTy>,
    /// The groups this action is directly in (`action "view" in "read-only"`).
    pub groups: Vec<ActionId>,
    /// Every action in this group, directly or through other groups (empty for an action
    /// that is no group): what a rule naming the group covers besides the group itself.
    pub members: Vec<ActionId>,
}

/// The schema of the whole program.
#[derive(Debug)]
pub struct SchemaInfo {
    pub entities: Vec<EntityInfo>,
    pub enums: Vec<EnumInfo>,
    pub actions: Vec<ActionInfo>,
    /// The type of `context`: builtin fields plus `context { }` extensions.
    pub context: Rc<RecordTy>,
    entity_ids: HashMap<String, TypeId>,
    enum_ids: HashMap<String, EnumId>,
    action_ids: HashMap<String, ActionId>,
}

impl TypeNames for SchemaInfo {
    fn entity_name(&self, id: TypeId) -> &str {
        self.entities
            .get(id as usize)
            .map_or("?", |e| e.name.as_str())
    }
    fn enum_name(&self, id: EnumId) -> &str {
        self.enums.get(id as usize).map_or("?", |e| e.name.as_str())
    }
}

impl SchemaInfo {
    pub fn entity_id(&self, name: &str) -> Option<TypeId> {
        self.entity_ids.get(name).copied()
    }
    pub fn enum_id(&self, name: &str) -> Option<EnumId> {
        self.enum_ids.get(name).copied()
    }
    pub fn action_id(&self, name: &str) -> Option<ActionId> {
        self.action_ids.get(name).copied()
    }
    pub fn entity(&self, id: TypeId) -> Option<&EntityInfo> {
        self.entities.get(id as usize)
    }
    pub fn action(&self, id: ActionId) -> Option<&ActionInfo> {
        self.actions.get(id as usize)
    }
    pub fn enum_info(&self, id: EnumId) -> Option<&EnumInfo> {
        self.enums.get(id as usize)
    }
    pub fn variant_index(&self, id: EnumId, name: &str) -> Option<u32> {
        let info = self.enums.get(id as usize)?;
        info.variants
            .iter()
            .position(|v| v == name)
            .and_then(|i| u32::try_from(i).ok())
    }
    pub fn describe(&self, ty: &Type) -> String {
        ty.describe(self)
    }
    /// Names of every entity type, `Anonymous` included.
    pub fn entity_names(&self) -> impl Iterator<Item = &str> {
        self.entities.iter().map(|e| e.name.as_str())
    }
    pub fn action_names(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(|a| a.name.as_str())
    }
    /// Every declared entity type except `Anonymous`.
    pub fn declared_entity_ids(&self) -> Vec<TypeId> {
        (1..self.entities.len())
            .filter_map(|i| TypeId::try_from(i).ok())
            .collect()
    }
    /// Whether `child` may be `parent` or have it as an ancestor.
    pub fn may_be_in(&self, child: TypeId, parent: TypeId) -> bool {
        child == parent
            || self
                .entity(child)
                .is_some_and(|e| e.ancestors.contains(&parent))
    }

    /// The engine's schema.
    pub fn to_ir(&self, symbols: &mut Symbols) -> ir::Schema {
        let context = self.context.to_ir(symbols);
        ir::Schema {
            entity_types: self
                .entities
                .iter()
                .map(|e| ir::EntityType {
                    name: e.name.clone(),
                    attrs: e.attrs.to_ir(symbols),
                    parents: e.parents.clone(),
                    tags: e.tags.as_ref().map(|t| t.to_ir(symbols)),
                })
                .collect(),
            enums: self
                .enums
                .iter()
                .map(|e| ir::EnumType {
                    name: e.name.clone(),
                    variants: e.variants.clone(),
                })
                .collect(),
            actions: self
                .actions
                .iter()
                .map(|a| ir::ActionType {
                    name: a.name.clone(),
                    resources: a.resources.clone(),
                    principals: a.principals.clone(),
                    context: a.context.to_ir(symbols),
                })
                .collect(),
            context,
        }
    }
}

pub use build::build;

/// E004 for a name used where an entity type is expected.
pub fn unknown_entity_type(schema: &SchemaInfo, name: &ast::Ident) -> Diagnostic {
    if schema.enum_id(&name.name).is_some() {
        return Diagnostic::error(
            "E004",
            format!("`{}` is an enum, not an entity type", name.name),
        )
        .with_label(name.span, "expected an entity type");
    }
    let base = Diagnostic::error("E004", format!("unknown entity type `{}`", name.name))
        .with_label(name.span, "not a declared entity type");
    with_suggestion(
        base,
        &name.name,
        schema.entity_names(),
        Some("declare it in a `schema { entity … }` block".into()),
    )
}

/// E007 for an action name that is not declared.
pub fn unknown_action(schema: &SchemaInfo, name: &str, span: crate::ast::Span) -> Diagnostic {
    let base = Diagnostic::error("E007", format!("unknown action `{name}`"))
        .with_label(span, "not declared in the schema");
    with_suggestion(
        base,
        name,
        schema.action_names(),
        Some("declare it in a `schema { action \"…\" }` block".into()),
    )
}
