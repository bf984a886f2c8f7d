//! The merged schema: every `schema { }` block of the program (all files, all packages,
//! the imported stdlib) declares into one namespace of entity types, enums and actions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use rampart_engine::bundle::{self as ir, ActionId, EnumId, TypeId};

use super::builtins::{
    self, ANONYMOUS, ANONYMOUS_NAME, AUTH_METHOD, AUTH_METHOD_NAME, AUTH_METHOD_VARIANTS,
};
use super::symbols::Symbols;
use super::types::{FieldTy, RecordTy, Type, TypeNames};
use super::{duplicate, with_suggestion, FileId, Loc, Program};
use crate::ast::{self, AttrDecl, TypeExpr, TypeExprKind};
use crate::diagnostics::Diagnostic;

/// A declared entity type.
#[derive(Debug)]
pub struct EntityInfo {
    pub name: String,
    pub attrs: Rc<RecordTy>,
    pub parents: Vec<TypeId>,
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

/// Builds the schema from every schema block of the program.
pub fn build(program: &Program, diags: &mut Vec<Diagnostic>) -> SchemaInfo {
    let mut builder = Builder::new(program);
    let blocks: Vec<(FileId, &ast::Schema)> = program
        .files
        .iter()
        .enumerate()
        .flat_map(|(id, f)| {
            f.ast.items.iter().filter_map(move |item| match item {
                ast::Item::Schema(s) => Some((id, s)),
                _ => None,
            })
        })
        .collect();
    for (file, block) in &blocks {
        for decl in &block.decls {
            builder.declare(*file, decl);
        }
    }
    for (file, block) in &blocks {
        for decl in &block.decls {
            if let ast::SchemaDecl::Context(ctx) = decl {
                builder.extend_context(*file, ctx);
            }
        }
    }
    for (file, block) in &blocks {
        for decl in &block.decls {
            builder.resolve(*file, decl);
        }
    }
    builder.finish(diags)
}

struct Builder<'p> {
    program: &'p Program,
    schema: SchemaInfo,
    diags: Vec<Diagnostic>,
    type_locs: HashMap<String, Loc>,
    action_locs: HashMap<String, Loc>,
    context_locs: HashMap<String, Loc>,
    /// The ids each declaration got in the declare pass, in declaration order (the
    /// resolve pass walks the declarations in the same order).
    slots: Vec<Vec<u32>>,
    next_slot: usize,
}

impl<'p> Builder<'p> {
    fn new(program: &'p Program) -> Self {
        let anonymous = EntityInfo {
            name: ANONYMOUS_NAME.to_owned(),
            attrs: Rc::default(),
            parents: Vec::new(),
            ancestors: BTreeSet::new(),
        };
        let auth_method = EnumInfo {
            name: AUTH_METHOD_NAME.to_owned(),
            variants: AUTH_METHOD_VARIANTS
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
        };
        let schema = SchemaInfo {
            entities: vec![anonymous],
            enums: vec![auth_method],
            actions: Vec::new(),
            context: Rc::new(builtins::builtin_context()),
            entity_ids: HashMap::from([(ANONYMOUS_NAME.to_owned(), ANONYMOUS)]),
            enum_ids: HashMap::from([(AUTH_METHOD_NAME.to_owned(), AUTH_METHOD)]),
            action_ids: HashMap::new(),
        };
        Self {
            program,
            schema,
            diags: Vec::new(),
            type_locs: HashMap::new(),
            action_locs: HashMap::new(),
            context_locs: HashMap::new(),
            slots: Vec::new(),
            next_slot: 0,
        }
    }

    fn error(&mut self, file: FileId, diag: Diagnostic) {
        self.diags.push(self.program.in_file(file, diag));
    }

    /// Pass 1: names.
    fn declare(&mut self, file: FileId, decl: &ast::SchemaDecl) {
        match decl {
            ast::SchemaDecl::Entity(e) => {
                if self.declare_type_name(file, &e.name) {
                    let id = to_u32(self.schema.entities.len());
                    self.schema.entity_ids.insert(e.name.name.clone(), id);
                    self.schema.entities.push(EntityInfo {
                        name: e.name.name.clone(),
                        attrs: Rc::default(),
                        parents: Vec::new(),
                        ancestors: BTreeSet::new(),
                    });
                    self.slots.push(vec![id]);
                } else {
                    self.slots.push(Vec::new());
                }
            }
            ast::SchemaDecl::Enum(e) => {
                if self.declare_type_name(file, &e.name) {
                    let id = to_u32(self.schema.enums.len());
                    self.schema.enum_ids.insert(e.name.name.clone(), id);
                    self.schema.enums.push(EnumInfo {
                        name: e.name.name.clone(),
                        variants: Vec::new(),
                    });
                    self.slots.push(vec![id]);
                } else {
                    self.slots.push(Vec::new());
                }
            }
            ast::SchemaDecl::Action(a) => {
                let mut ids = Vec::new();
                for name in &a.names {
                    let here = Loc {
                        file,
                        span: name.span,
                    };
                    if let Some(first) = self.action_locs.get(&name.value) {
                        let msg = format!("duplicate action `{}`", name.value);
                        self.diags
                            .push(duplicate(self.program, "E010", msg, here, *first));
                        continue;
                    }
                    self.action_locs.insert(name.value.clone(), here);
                    let id = to_u32(self.schema.actions.len());
                    self.schema.action_ids.insert(name.value.clone(), id);
                    self.schema.actions.push(ActionInfo {
                        name: name.value.clone(),
                        resources: None,
                        principals: None,
                        context: Rc::default(),
                    });
                    ids.push(id);
                }
                self.slots.push(ids);
            }
            ast::SchemaDecl::Context(_) => self.slots.push(Vec::new()),
        }
    }

    /// Records a type name; `false` (with E010) when it is taken.
    fn declare_type_name(&mut self, file: FileId, name: &ast::Ident) -> bool {
        let text = name.name.as_str();
        let builtin = builtins::SCALAR_TYPE_NAMES.contains(&text)
            || matches!(text, "Set" | "Map" | "Any")
            || text == ANONYMOUS_NAME
            || text == AUTH_METHOD_NAME;
        if builtin {
            let diag = Diagnostic::error("E010", format!("`{text}` is a builtin type"))
                .with_label(name.span, "cannot be declared again")
                .with_help("choose another name");
            self.error(file, diag);
            return false;
        }
        let here = Loc {
            file,
            span: name.span,
        };
        if let Some(first) = self.type_locs.get(text) {
            self.diags.push(duplicate(
                self.program,
                "E010",
                format!("duplicate type `{text}`"),
                here,
                *first,
            ));
            return false;
        }
        self.type_locs.insert(text.to_owned(), here);
        true
    }

    /// Pass 2: `context { }` extensions (before actions, whose context fields may not
    /// repeat them).
    fn extend_context(&mut self, file: FileId, ctx: &ast::ContextDecl) {
        let mut fields = self.schema.context.fields.clone();
        for attr in &ctx.attrs {
            let here = Loc {
                file,
                span: attr.name.span,
            };
            if fields.contains_key(&attr.name.name) {
                let diag = match self.context_locs.get(&attr.name.name) {
                    Some(first) => duplicate(
                        self.program,
                        "E010",
                        format!("duplicate context field `{}`", attr.name.name),
                        here,
                        *first,
                    ),
                    None => self.program.in_file(
                        file,
                        Diagnostic::error(
                            "E010",
                            format!("duplicate context field `{}`", attr.name.name),
                        )
                        .with_label(attr.name.span, "a builtin context field has this name")
                        .with_help(
                            "the builtin context has `auth`, `tls`, `source`, `request` and `time`",
                        ),
                    ),
                };
                self.diags.push(diag);
                continue;
            }
            self.context_locs.insert(attr.name.name.clone(), here);
            let ty = self.resolve_type(file, &attr.ty);
            fields.insert(attr.name.name.clone(), FieldTy::new(ty, attr.optional));
        }
        self.schema.context = Rc::new(RecordTy { fields });
    }

    /// Pass 3: attribute types, parents, variants, action scopes.
    fn resolve(&mut self, file: FileId, decl: &ast::SchemaDecl) {
        let ids = self.slots.get(self.next_slot).cloned().unwrap_or_default();
        self.next_slot += 1;
        match decl {
            ast::SchemaDecl::Entity(e) => {
                let attrs = Rc::new(self.resolve_attrs(file, &e.attrs, "attribute"));
                let parents = self.resolve_entity_list(file, &e.parents);
                for id in ids {
                    if let Some(info) = self.schema.entities.get_mut(id as usize) {
                        info.attrs = attrs.clone();
                        info.parents = parents.clone();
                    }
                }
            }
            ast::SchemaDecl::Enum(e) => {
                let mut seen: HashMap<&str, Loc> = HashMap::new();
                let mut variants = Vec::new();
                for v in &e.variants {
                    let here = Loc { file, span: v.span };
                    if let Some(first) = seen.get(v.name.as_str()) {
                        let msg =
                            format!("duplicate variant `{}` in enum `{}`", v.name, e.name.name);
                        self.diags
                            .push(duplicate(self.program, "E010", msg, here, *first));
                        continue;
                    }
                    seen.insert(&v.name, here);
                    variants.push(v.name.clone());
                }
                for id in ids {
                    if let Some(info) = self.schema.enums.get_mut(id as usize) {
                        info.variants = variants.clone();
                    }
                }
            }
            ast::SchemaDecl::Action(a) => {
                let resources =
                    (!a.resources.is_empty()).then(|| self.resolve_entity_list(file, &a.resources));
                let principals = (!a.principals.is_empty())
                    .then(|| self.resolve_entity_list(file, &a.principals));
                let own = self.resolve_attrs(file, &a.context, "context field");
                for attr in &a.context {
                    if self.schema.context.fields.contains_key(&attr.name.name) {
                        let diag = Diagnostic::error(
                            "E010",
                            format!("duplicate context field `{}`", attr.name.name),
                        )
                        .with_label(attr.name.span, "the request context already has this field")
                        .with_help(
                            "an action's context adds fields; it cannot redeclare context fields",
                        );
                        self.error(file, diag);
                    }
                }
                let context = Rc::new(own);
                for id in ids {
                    if let Some(info) = self.schema.actions.get_mut(id as usize) {
                        info.resources = resources.clone();
                        info.principals = principals.clone();
                        info.context = context.clone();
                    }
                }
            }
            ast::SchemaDecl::Context(_) => {}
        }
    }

    fn resolve_attrs(&mut self, file: FileId, attrs: &[AttrDecl], what: &str) -> RecordTy {
        let mut fields = BTreeMap::new();
        let mut seen: HashMap<&str, Loc> = HashMap::new();
        for attr in attrs {
            let here = Loc {
                file,
                span: attr.name.span,
            };
            if let Some(first) = seen.get(attr.name.name.as_str()) {
                let msg = format!("duplicate {what} `{}`", attr.name.name);
                self.diags
                    .push(duplicate(self.program, "E010", msg, here, *first));
                continue;
            }
            seen.insert(&attr.name.name, here);
            let ty = self.resolve_type(file, &attr.ty);
            fields.insert(attr.name.name.clone(), FieldTy::new(ty, attr.optional));
        }
        RecordTy { fields }
    }

    fn resolve_entity_list(&mut self, file: FileId, names: &[ast::Ident]) -> Vec<TypeId> {
        let mut ids = Vec::new();
        for name in names {
            if let Some(id) = self.entity_type(file, name) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    fn entity_type(&mut self, file: FileId, name: &ast::Ident) -> Option<TypeId> {
        if let Some(id) = self.schema.entity_id(&name.name) {
            return Some(id);
        }
        let diag = unknown_entity_type(&self.schema, name);
        self.error(file, diag);
        None
    }

    fn resolve_type(&mut self, file: FileId, ty: &TypeExpr) -> Type {
        match &ty.kind {
            TypeExprKind::Set(elem) => Type::set_of(self.resolve_type(file, elem)),
            TypeExprKind::Map(elem) => Type::Map(Box::new(self.resolve_type(file, elem))),
            TypeExprKind::Record(attrs) => {
                Type::Record(Rc::new(self.resolve_attrs(file, attrs, "field")))
            }
            TypeExprKind::Named(name) => {
                if let Some(t) = builtins::scalar_type(&name.name) {
                    return t;
                }
                if let Some(id) = self.schema.entity_id(&name.name) {
                    return Type::entity(id);
                }
                if let Some(id) = self.schema.enum_id(&name.name) {
                    return Type::Enum(id);
                }
                let diag = if matches!(name.name.as_str(), "Set" | "Map") {
                    Diagnostic::error("E004", format!("`{}` needs an element type", name.name))
                        .with_label(name.span, "missing `<T>`")
                        .with_help(format!(
                            "write `{}<String>` or another element type",
                            name.name
                        ))
                } else {
                    let base = Diagnostic::error("E004", format!("unknown type `{}`", name.name))
                        .with_label(name.span, "not a builtin or declared type");
                    match builtins::type_alias(&name.name) {
                        Some(real) => base.with_help(format!("did you mean `{real}`?")),
                        None => {
                            let mut candidates: Vec<&str> = builtins::SCALAR_TYPE_NAMES.to_vec();
                            candidates.extend(self.schema.entity_names());
                            candidates.extend(self.schema.enums.iter().map(|e| e.name.as_str()));
                            with_suggestion(base, &name.name, candidates, None)
                        }
                    }
                };
                self.error(file, diag);
                Type::Error
            }
        }
    }

    fn finish(mut self, diags: &mut Vec<Diagnostic>) -> SchemaInfo {
        compute_ancestors(&mut self.schema);
        diags.append(&mut self.diags);
        self.schema
    }
}

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

fn compute_ancestors(schema: &mut SchemaInfo) {
    let parents: Vec<Vec<TypeId>> = schema.entities.iter().map(|e| e.parents.clone()).collect();
    for (id, info) in schema.entities.iter_mut().enumerate() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<TypeId> = parents.get(id).cloned().unwrap_or_default();
        while let Some(p) = stack.pop() {
            if seen.insert(p) {
                stack.extend(parents.get(p as usize).into_iter().flatten().copied());
            }
        }
        info.ancestors = seen;
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
