//! Building the [`SchemaInfo`]: names first (so declarations may refer to each other in
//! any order and across files), then `context { }` extensions, then attribute types,
//! parents, variants and action scopes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use rampart_engine::bundle::{ActionId, TypeId};

use super::{unknown_action, unknown_entity_type, ActionInfo, EntityInfo, EnumInfo, SchemaInfo};
use crate::ast::{self, AttrDecl, TypeExpr, TypeExprKind};
use crate::check::builtins::{
    self, ANONYMOUS, ANONYMOUS_NAME, AUTH_METHOD, AUTH_METHOD_NAME, AUTH_METHOD_VARIANTS,
};
use crate::check::types::{FieldTy, RecordTy, Type};
use crate::check::{duplicate, with_suggestion, FileId, Loc, Program};
use crate::diagnostics::Diagnostic;

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
    /// `type NAME = …` declarations, their expansions once resolved, and the names being
    /// expanded (a name met again while expanding it is a cycle).
    aliases: HashMap<String, (FileId, &'p TypeExpr)>,
    alias_types: HashMap<String, Type>,
    expanding: Vec<String>,
}

impl<'p> Builder<'p> {
    fn new(program: &'p Program) -> Self {
        let anonymous = EntityInfo {
            name: ANONYMOUS_NAME.to_owned(),
            attrs: Rc::default(),
            parents: Vec::new(),
            tags: None,
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
            aliases: HashMap::new(),
            alias_types: HashMap::new(),
            expanding: Vec::new(),
        }
    }

    fn error(&mut self, file: FileId, diag: Diagnostic) {
        self.diags.push(self.program.in_file(file, diag));
    }

    /// Pass 1: names.
    fn declare(&mut self, file: FileId, decl: &'p ast::SchemaDecl) {
        match decl {
            ast::SchemaDecl::Type(t) => {
                if self.declare_type_name(file, &t.name) {
                    self.aliases.insert(t.name.name.clone(), (file, &t.ty));
                }
                self.slots.push(Vec::new());
            }
            ast::SchemaDecl::Entity(e) => {
                if self.declare_type_name(file, &e.name) {
                    let id = to_u32(self.schema.entities.len());
                    self.schema.entity_ids.insert(e.name.name.clone(), id);
                    self.schema.entities.push(EntityInfo {
                        name: e.name.name.clone(),
                        attrs: Rc::default(),
                        parents: Vec::new(),
                        tags: None,
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
                        groups: Vec::new(),
                        members: Vec::new(),
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
        if builtins::is_builtin_type_name(text) {
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
            ast::SchemaDecl::Type(t) => {
                // Expanded here too, so an alias no declaration uses is still checked.
                if self.aliases.contains_key(&t.name.name) {
                    self.resolve_alias(file, &t.name);
                }
            }
            ast::SchemaDecl::Entity(e) => {
                let attrs = Rc::new(self.resolve_attrs(file, &e.attrs, "attribute"));
                let parents = self.resolve_entity_list(file, &e.parents);
                let tags = e.tags.as_ref().map(|t| self.resolve_type(file, t));
                for id in ids {
                    if let Some(info) = self.schema.entities.get_mut(id as usize) {
                        info.attrs = attrs.clone();
                        info.parents = parents.clone();
                        info.tags = tags.clone();
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
                let mut groups = Vec::new();
                for group in &a.groups {
                    match self.schema.action_id(&group.value) {
                        Some(id) if !groups.contains(&id) => groups.push(id),
                        Some(_) => {}
                        None => {
                            let mut diag = unknown_action(&self.schema, &group.value, group.span);
                            if diag.help_text().is_none() {
                                diag = diag.with_help(format!(
                                    "declare the group as an action: `action \"{}\"`",
                                    group.value
                                ));
                            }
                            self.error(file, diag);
                        }
                    }
                }
                for id in ids {
                    if let Some(info) = self.schema.actions.get_mut(id as usize) {
                        info.resources = resources.clone();
                        info.principals = principals.clone();
                        info.context = context.clone();
                        info.groups = groups.clone();
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
                if self.aliases.contains_key(&name.name) {
                    return self.resolve_alias(file, name);
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

    /// The members of every action group, transitively; a group that contains itself is
    /// E010, reported once per cycle at the declaration that closes it.
    fn compute_group_members(&mut self) {
        let count = self.schema.actions.len();
        let mut members: Vec<Vec<ActionId>> = vec![Vec::new(); count];
        for (action, info) in self.schema.actions.iter().enumerate() {
            let Ok(action) = ActionId::try_from(action) else {
                continue;
            };
            // Every group above `action`: each gets it as a member.
            let mut seen = BTreeSet::new();
            let mut stack = info.groups.clone();
            while let Some(group) = stack.pop() {
                if !seen.insert(group) {
                    continue;
                }
                if let Some(above) = self.schema.actions.get(group as usize) {
                    stack.extend(above.groups.iter().copied());
                }
            }
            if seen.contains(&action) {
                let loc = self.action_locs.get(&info.name).copied();
                let diag = Diagnostic::error(
                    "E010",
                    format!("action `{}` is in a group that contains it", info.name),
                )
                .with_help("action groups form a hierarchy: an action cannot be in itself, directly or through other groups");
                self.diags.push(match loc {
                    Some(loc) => self
                        .program
                        .in_file(loc.file, diag.with_label(loc.span, "in a cycle of groups")),
                    None => diag,
                });
                continue;
            }
            for group in seen {
                if let Some(list) = members.get_mut(group as usize) {
                    list.push(action);
                }
            }
        }
        for (info, list) in self.schema.actions.iter_mut().zip(members) {
            info.members = list;
        }
    }

    /// The type a `type` declaration names, expanded once; a declaration that reaches
    /// itself is E004 (reported where the cycle closes) and expands to an error.
    fn resolve_alias(&mut self, use_file: FileId, name: &ast::Ident) -> Type {
        if let Some(ty) = self.alias_types.get(&name.name) {
            return ty.clone();
        }
        let Some(&(file, ty)) = self.aliases.get(&name.name) else {
            return Type::Error;
        };
        if self.expanding.contains(&name.name) {
            let mut cycle = self.expanding.clone();
            cycle.push(name.name.clone());
            let diag = Diagnostic::error(
                "E004",
                format!("type `{}` is defined in terms of itself", name.name),
            )
            .with_label(name.span, "refers back to the type being defined")
            .with_help(format!(
                "a type cannot contain itself ({}); an entity type can: `entity Node {{ next?: Node }}`",
                cycle.join(" → ")
            ));
            self.error(use_file, diag);
            self.alias_types.insert(name.name.clone(), Type::Error);
            return Type::Error;
        }
        self.expanding.push(name.name.clone());
        let resolved = self.resolve_type(file, ty);
        self.expanding.pop();
        self.alias_types
            .entry(name.name.clone())
            .or_insert(resolved)
            .clone()
    }

    fn finish(mut self, diags: &mut Vec<Diagnostic>) -> SchemaInfo {
        compute_ancestors(&mut self.schema);
        self.compute_group_members();
        diags.append(&mut self.diags);
        self.schema
    }
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
