//! Expression typing and lowering: names, attributes, literals, sets and records.
//! Operators are in [`super::ops`].

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use rampart_engine::bundle::{EnumId, Expr, PackageId};
use rampart_engine::{EntityUid, Value};

use super::builtins::VARIABLES;
use super::consts::ConstTable;
use super::fold;
use super::schema::{unknown_entity_type, SchemaInfo};
use super::symbols::Symbols;
use super::types::{conforms, join, FieldTy, RecordTy, Type};
use super::{with_suggestion, FileId, Program};
use crate::ast::{self, ExprKind, Ident, Literal, Span, StrLit};
use crate::diagnostics::Diagnostic;

/// Deepest expression nesting accepted (spec: 64 levels).
pub const MAX_DEPTH: usize = 64;

/// Where an expression is written: decides which names it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Rule,
    Obligation,
    Const,
    Route,
    Mapping,
    TestData,
}

/// What an expression may refer to.
#[derive(Clone, Debug)]
pub struct Env {
    pub place: Place,
    /// `None`: `principal` is not available here.
    pub principal: Option<Type>,
    pub resource: Option<Type>,
    pub context: Option<Type>,
    /// Route path parameters, in template order.
    pub params: Vec<String>,
}

impl Env {
    /// A rule or obligation condition.
    pub fn request(place: Place, principal: Type, resource: Type, context: Type) -> Env {
        Env {
            place,
            principal: Some(principal),
            resource: Some(resource),
            context: Some(context),
            params: Vec::new(),
        }
    }
    /// Consts and test data: literals and consts only.
    pub fn constant(place: Place) -> Env {
        Env {
            place,
            principal: None,
            resource: None,
            context: None,
            params: Vec::new(),
        }
    }
    pub fn route(params: Vec<String>) -> Env {
        Env {
            params,
            ..Env::constant(Place::Route)
        }
    }
    pub fn mapping(context: Type) -> Env {
        Env {
            context: Some(context),
            ..Env::constant(Place::Mapping)
        }
    }
    fn has_request(&self) -> bool {
        matches!(self.place, Place::Rule | Place::Obligation | Place::Mapping)
    }
}

/// A checked expression: its type and its compiled form.
#[derive(Clone, Debug)]
pub struct Typed {
    pub ty: Type,
    pub ir: Expr,
}

impl Typed {
    pub fn new(ty: Type, ir: Expr) -> Typed {
        Typed { ty, ir }
    }
    /// An expression that already has a diagnostic.
    pub fn error() -> Typed {
        Typed {
            ty: Type::Error,
            ir: Expr::Const(Value::Bool(false)),
        }
    }
    fn value(ty: Type, v: Value) -> Typed {
        Typed {
            ty,
            ir: Expr::Const(v),
        }
    }
}

/// Checks expressions of one file in one environment.
pub struct ExprCx<'a> {
    pub program: &'a Program,
    pub schema: &'a SchemaInfo,
    pub consts: &'a ConstTable,
    pub file: FileId,
    pub package: PackageId,
    pub symbols: &'a mut Symbols,
    pub diags: &'a mut Vec<Diagnostic>,
    pub env: &'a Env,
    depth: usize,
    too_deep: bool,
}

impl<'a> ExprCx<'a> {
    #[allow(
        clippy::too_many_arguments,
        reason = "a context struct built in one place per item kind"
    )]
    pub fn new(
        program: &'a Program,
        schema: &'a SchemaInfo,
        consts: &'a ConstTable,
        file: FileId,
        symbols: &'a mut Symbols,
        diags: &'a mut Vec<Diagnostic>,
        env: &'a Env,
    ) -> Self {
        let package = program.file(file).map_or(0, |f| f.package);
        Self {
            program,
            schema,
            consts,
            file,
            package,
            symbols,
            diags,
            env,
            depth: 0,
            too_deep: false,
        }
    }

    pub fn report(&mut self, diag: Diagnostic) {
        self.diags.push(self.program.in_file(self.file, diag));
    }

    pub fn describe(&self, ty: &Type) -> String {
        self.schema.describe(ty)
    }

    /// E006 `type mismatch: expected X, found Y` at `span`.
    pub fn mismatch(&mut self, span: Span, expected: &str, found: &Type, help: Option<&str>) {
        let found = self.describe(found);
        let diag = Diagnostic::error(
            "E006",
            format!("type mismatch: expected {expected}, found {found}"),
        )
        .with_label(span, format!("this is {found}"));
        let diag = match help {
            Some(h) => diag.with_help(h.to_owned()),
            None => diag,
        };
        self.report(diag);
    }

    /// The value, or an error (E006) when its type does not conform to `expected`.
    pub fn expect(&mut self, typed: Typed, expected: &Type, span: Span) -> Typed {
        if conforms(&typed.ty, expected) {
            return typed;
        }
        let want = self.describe(expected);
        self.mismatch(span, &want, &typed.ty, None);
        Typed {
            ty: Type::Error,
            ir: typed.ir,
        }
    }

    /// A condition: a Bool expression.
    pub fn condition(&mut self, e: &ast::Expr) -> Expr {
        let typed = self.check(e, Some(&Type::Bool));
        self.expect(typed, &Type::Bool, e.span).ir
    }

    /// Types and lowers one expression. `expected` is a hint (it resolves bare enum
    /// variants and types empty sets); callers that need a type check it with [`Self::expect`].
    pub fn check(&mut self, e: &ast::Expr, expected: Option<&Type>) -> Typed {
        if self.depth >= MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                let diag = Diagnostic::error("E018", format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
                    .with_label(e.span, "too deep")
                    .with_help("split it into consts or smaller conditions; long `or` chains read better as `x in [a, b, c]`");
                self.report(diag);
            }
            return Typed::error();
        }
        self.depth += 1;
        let out = self.check_kind(e, expected);
        self.depth -= 1;
        out
    }

    fn check_kind(&mut self, e: &ast::Expr, expected: Option<&Type>) -> Typed {
        match &e.kind {
            ExprKind::Lit(lit) => literal(lit),
            ExprKind::Var(id) => self.var(id, expected),
            ExprKind::Attr(base, name) => self.attr(base, name),
            ExprKind::Index(base, key) => self.index(base, key),
            ExprKind::Has { expr, attr, .. } => self.has(expr, attr),
            ExprKind::EntityRef { ty, id } => match self.entity_type(ty) {
                Some(t) => Typed::value(
                    Type::entity(t),
                    Value::Entity(EntityUid {
                        ty: t,
                        id: Arc::from(id.value.as_str()),
                    }),
                ),
                None => Typed::error(),
            },
            ExprKind::EntityCtor { ty, id } => {
                let t = self.entity_type(ty);
                let id_typed = self.check(id, Some(&Type::String));
                let id_typed = self.expect(id_typed, &Type::String, id.span);
                match t {
                    Some(t) => Typed::new(Type::entity(t), fold::entity_ctor(t, id_typed.ir)),
                    None => Typed::error(),
                }
            }
            ExprKind::Set(items) => self.set(items, expected),
            ExprKind::Record(fields) => self.record(e, fields, expected),
            ExprKind::Unary(op, x) => self.unary(*op, x),
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r),
            ExprKind::Like(x, pattern) => self.like(x, pattern),
            ExprKind::Matches(x, pattern) => self.matches(x, pattern),
        }
    }

    pub fn entity_type(&mut self, name: &Ident) -> Option<u32> {
        let found = self.schema.entity_id(&name.name);
        if found.is_none() {
            let diag = unknown_entity_type(self.schema, name);
            self.report(diag);
        }
        found
    }

    /// Whether a bare name denotes a value without help from the expected type.
    pub fn is_value_name(&self, name: &str) -> bool {
        VARIABLES.contains(&name)
            || self.env.params.iter().any(|p| p == name)
            || self.consts.get(self.package, name).is_some()
    }

    /// Whether the expression's meaning depends on the type expected for it: a bare name
    /// that is not a variable or const (an enum variant), or a set of such names.
    pub fn needs_hint(&self, e: &ast::Expr) -> bool {
        match &e.kind {
            ExprKind::Var(id) => !self.is_value_name(&id.name),
            ExprKind::Set(items) => items.iter().all(|i| self.needs_hint(i)),
            _ => false,
        }
    }

    fn var(&mut self, id: &Ident, expected: Option<&Type>) -> Typed {
        let name = id.name.as_str();
        if let Some(Type::Enum(enum_id)) = expected {
            if let Some(index) = self.schema.variant_index(*enum_id, name) {
                return Typed::value(Type::Enum(*enum_id), Value::Enum(*enum_id, index));
            }
        }
        match name {
            "principal" => {
                return self.request_var(id, self.env.principal.clone(), Expr::Principal)
            }
            "resource" => return self.request_var(id, self.env.resource.clone(), Expr::Resource),
            "context" => return self.request_var(id, self.env.context.clone(), Expr::Context),
            "action" => {
                let ty = self.env.has_request().then_some(Type::String);
                return self.request_var(id, ty, Expr::Action);
            }
            "now" => {
                let ty = self.env.has_request().then_some(Type::Timestamp);
                return self.request_var(id, ty, Expr::Now);
            }
            _ => {}
        }
        if let Some(index) = self.env.params.iter().position(|p| p == name) {
            return Typed::new(
                Type::String,
                Expr::Param(u32::try_from(index).unwrap_or(u32::MAX)),
            );
        }
        if let Some(entry) = self.consts.get(self.package, name) {
            return match &entry.value {
                Some((ty, v)) => Typed::value(ty.clone(), v.clone()),
                None => Typed::error(),
            };
        }
        if let Some(Type::Enum(enum_id)) = expected {
            self.unknown_variant(*enum_id, id);
            return Typed::error();
        }
        if let Some(found) = self.unique_variant(id) {
            return found;
        }
        self.unknown_name(id);
        Typed::error()
    }

    fn request_var(&mut self, id: &Ident, ty: Option<Type>, ir: Expr) -> Typed {
        match ty {
            Some(ty) => Typed::new(ty, ir),
            None => {
                let diag = self.unavailable(id);
                self.report(diag);
                Typed::error()
            }
        }
    }

    /// A request variable used where there is no request.
    fn unavailable(&self, id: &Ident) -> Diagnostic {
        let name = &id.name;
        match self.env.place {
            Place::Const => Diagnostic::error("E014", format!("a const cannot use `{name}`"))
                .with_label(id.span, "not a constant")
                .with_help("consts are computed before any request: use literals and other consts"),
            Place::Route => {
                Diagnostic::error("E015", format!("a route resource cannot use `{name}`"))
                    .with_label(id.span, "not a path parameter")
                    .with_help("build the resource from the path parameters, e.g. `Account::{id}`")
            }
            Place::TestData => Diagnostic::error("E020", format!("test data cannot use `{name}`"))
                .with_label(id.span, "not a constant")
                .with_help("write the value itself, e.g. `User::\"alice\"`"),
            Place::Mapping => Diagnostic::error(
                "E003",
                format!("`{name}` is not available in a principal mapping"),
            )
            .with_label(id.span, "not known yet")
            .with_help("a mapping computes the principal from `context`"),
            Place::Rule | Place::Obligation => {
                Diagnostic::error("E003", format!("`{name}` is not available here"))
                    .with_label(id.span, "not available")
            }
        }
    }

    fn unknown_variant(&mut self, enum_id: EnumId, id: &Ident) {
        let Some(info) = self.schema.enum_info(enum_id) else {
            return;
        };
        let base = Diagnostic::error(
            "E011",
            format!("unknown variant `{}` of enum `{}`", id.name, info.name),
        )
        .with_label(id.span, format!("not a variant of `{}`", info.name));
        let all = format!("`{}` has: {}", info.name, info.variants.join(", "));
        let diag = with_suggestion(
            base,
            &id.name,
            info.variants.iter().map(String::as_str),
            Some(all),
        );
        self.report(diag);
    }

    /// A bare name that is a variant of exactly one enum (when no type is expected).
    fn unique_variant(&mut self, id: &Ident) -> Option<Typed> {
        let owners: Vec<(EnumId, u32)> = (0..self.schema.enums.len())
            .filter_map(|i| {
                let e = EnumId::try_from(i).ok()?;
                Some((e, self.schema.variant_index(e, &id.name)?))
            })
            .collect();
        match owners.as_slice() {
            [] => None,
            [(e, index)] => Some(Typed::value(Type::Enum(*e), Value::Enum(*e, *index))),
            _ => {
                let names: Vec<String> = owners
                    .iter()
                    .map(|(e, _)| {
                        format!(
                            "`{}.{}`",
                            self.schema.enum_info(*e).map_or("?", |i| &i.name),
                            id.name
                        )
                    })
                    .collect();
                let diag = Diagnostic::error("E003", format!("ambiguous name `{}`", id.name))
                    .with_label(id.span, "a variant of several enums")
                    .with_help(format!("qualify it: {}", names.join(" or ")));
                self.report(diag);
                Some(Typed::error())
            }
        }
    }

    fn unknown_name(&mut self, id: &Ident) {
        if self.env.place == Place::Route {
            let base = Diagnostic::error("E015", format!("unknown path parameter `{}`", id.name))
                .with_label(id.span, "not a parameter of the path template");
            let params = if self.env.params.is_empty() {
                "the path template has no parameters".to_owned()
            } else {
                format!("the path template has: {}", self.env.params.join(", "))
            };
            let diag = with_suggestion(
                base,
                &id.name,
                self.env.params.iter().map(String::as_str),
                Some(params),
            );
            self.report(diag);
            return;
        }
        let file = self.program.file(self.file);
        if file.is_some_and(|f| f.aliases.contains_key(&id.name)) {
            let diag =
                Diagnostic::error("E003", format!("`{}` is a package, not a value", id.name))
                    .with_label(id.span, "an imported package")
                    .with_help(format!("refer to one of its consts: `{}.NAME`", id.name));
            self.report(diag);
            return;
        }
        let mut candidates: Vec<String> = VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        candidates.extend(self.env.params.iter().cloned());
        candidates.extend(self.consts.names(self.package).map(str::to_owned));
        for e in &self.schema.enums {
            candidates.extend(e.variants.iter().cloned());
        }
        let base = Diagnostic::error("E003", format!("unknown name `{}`", id.name))
            .with_label(id.span, "not a variable, const or enum variant");
        let diag = with_suggestion(
            base,
            &id.name,
            candidates.iter().map(String::as_str),
            Some("names are `principal`, `resource`, `action`, `context`, `now`, consts and enum variants".into()),
        );
        self.report(diag);
    }

    /// `base.name`: an attribute, or `alias.const`, or `Enum.variant`.
    fn attr(&mut self, base: &ast::Expr, name: &Ident) -> Typed {
        if let ExprKind::Var(b) = &base.kind {
            if !self.is_value_name(&b.name) {
                let alias = self
                    .program
                    .file(self.file)
                    .and_then(|f| f.aliases.get(&b.name).copied());
                if let Some(pkg) = alias {
                    return self.package_const(pkg, b, name);
                }
                if let Some(enum_id) = self.schema.enum_id(&b.name) {
                    return match self.schema.variant_index(enum_id, &name.name) {
                        Some(index) => {
                            Typed::value(Type::Enum(enum_id), Value::Enum(enum_id, index))
                        }
                        None => {
                            self.unknown_variant(enum_id, name);
                            Typed::error()
                        }
                    };
                }
            }
        }
        let base_typed = self.check(base, None);
        self.attr_of(base, base_typed, name)
    }

    fn package_const(&mut self, pkg: PackageId, alias: &Ident, name: &Ident) -> Typed {
        if let Some(entry) = self.consts.get(pkg, &name.name) {
            return match &entry.value {
                Some((ty, v)) => Typed::value(ty.clone(), v.clone()),
                None => Typed::error(),
            };
        }
        let package = self.program.packages.name(pkg).to_owned();
        let base = Diagnostic::error(
            "E003",
            format!("package `{package}` has no const `{}`", name.name),
        )
        .with_label(name.span, format!("not a const of `{}`", alias.name));
        let names: Vec<&str> = self.consts.names(pkg).collect();
        let diag = with_suggestion(base, &name.name, names, None);
        self.report(diag);
        Typed::error()
    }

    /// Reads attribute `name` of a value of type `base.ty`.
    pub fn attr_of(&mut self, base_expr: &ast::Expr, base: Typed, name: &Ident) -> Typed {
        match &base.ty {
            Type::Error => Typed::error(),
            Type::Any => Typed::new(Type::Any, fold::index(base.ir, &name.name)),
            Type::Map(elem) => Typed::new((**elem).clone(), fold::index(base.ir, &name.name)),
            Type::Record(record) => match record.get(&name.name) {
                Some(field) => {
                    let sym = self.symbols.intern(&name.name);
                    Typed::new(field.ty.clone(), fold::attr(base.ir, sym))
                }
                None => {
                    let what = path_text(base_expr).unwrap_or_else(|| "this record".to_owned());
                    let base_diag = Diagnostic::error(
                        "E005",
                        format!("unknown attribute `{}` of `{what}`", name.name),
                    )
                    .with_label(name.span, format!("not a field of `{what}`"));
                    let fields = format!("`{what}` has: {}", field_list(record));
                    let diag = with_suggestion(
                        base_diag,
                        &name.name,
                        record.fields.keys().map(String::as_str),
                        Some(fields),
                    );
                    self.report(diag);
                    Typed::error()
                }
            },
            Type::Entity(ids) => self.entity_attr(base_expr, base.ir, &ids.clone(), name),
            other => {
                let other = other.clone();
                self.mismatch(
                    base_expr.span,
                    "an entity or a record",
                    &other,
                    Some(&format!("`.{}` reads an attribute", name.name)),
                );
                Typed::error()
            }
        }
    }

    fn entity_attr(&mut self, base_expr: &ast::Expr, ir: Expr, ids: &[u32], name: &Ident) -> Typed {
        let what = path_text(base_expr).unwrap_or_else(|| "this entity".to_owned());
        if ids.is_empty() {
            let diag = Diagnostic::error(
                "E005",
                format!(
                    "unknown attribute `{}`: the type of `{what}` is not known",
                    name.name
                ),
            )
            .with_label(base_expr.span, "may be an entity of any type")
            .with_help("narrow the rule's scope with `on TYPE` or `for TYPE`");
            self.report(diag);
            return Typed::error();
        }
        let mut found: Vec<&FieldTy> = Vec::new();
        let mut lacking: Vec<u32> = Vec::new();
        for id in ids {
            match self
                .schema
                .entity(*id)
                .and_then(|e| e.attrs.get(&name.name))
            {
                Some(f) => found.push(f),
                None => lacking.push(*id),
            }
        }
        if found.is_empty() {
            let type_name = self.describe(&Type::Entity(ids.to_vec()));
            let base = Diagnostic::error(
                "E005",
                format!("unknown attribute `{}` of `{type_name}`", name.name),
            )
            .with_label(name.span, format!("`{type_name}` has no such attribute"));
            let mut candidates: Vec<&str> = Vec::new();
            for id in ids {
                if let Some(e) = self.schema.entity(*id) {
                    candidates.extend(e.attrs.fields.keys().map(String::as_str));
                }
            }
            let diag = with_suggestion(base, &name.name, candidates, None);
            self.report(diag);
            return Typed::error();
        }
        if let Some(first_lacking) = lacking.first() {
            let lacking_name = self
                .schema
                .entity(*first_lacking)
                .map_or("?", |e| e.name.as_str())
                .to_owned();
            let having: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|i| !lacking.contains(i))
                .collect();
            let having = self.describe(&Type::Entity(having));
            let diag = Diagnostic::error(
                "E005",
                format!("`{lacking_name}` has no attribute `{}`", name.name),
            )
            .with_label(
                name.span,
                format!("`{what}` may be of type `{lacking_name}` here"),
            )
            .with_help(format!(
                "only `{having}` has it: narrow the rule's scope, e.g. `for {having}`"
            ));
            self.report(diag);
            return Typed::error();
        }
        let mut ty = found.first().map_or(Type::Error, |f| f.ty.clone());
        for f in found.iter().skip(1) {
            match join(&ty, &f.ty) {
                Some(t) => ty = t,
                None => {
                    let diag = Diagnostic::error(
                        "E006",
                        format!(
                            "attribute `{}` has different types on the types of `{what}`",
                            name.name
                        ),
                    )
                    .with_label(name.span, "types differ")
                    .with_help("narrow the rule's scope to one type");
                    self.report(diag);
                    return Typed::error();
                }
            }
        }
        let sym = self.symbols.intern(&name.name);
        Typed::new(ty, fold::attr(ir, sym))
    }

    fn index(&mut self, base: &ast::Expr, key: &StrLit) -> Typed {
        let typed = self.check(base, None);
        match &typed.ty {
            Type::Record(_) | Type::Entity(_) => {
                let name = Ident {
                    name: key.value.clone(),
                    span: key.span,
                };
                self.attr_of(base, typed, &name)
            }
            Type::Map(elem) => Typed::new((**elem).clone(), fold::index(typed.ir, &key.value)),
            Type::Any => Typed::new(Type::Any, fold::index(typed.ir, &key.value)),
            Type::Error => Typed::error(),
            other => {
                let other = other.clone();
                self.mismatch(base.span, "a map, an entity or a record", &other, None);
                Typed::error()
            }
        }
    }

    fn has(&mut self, base: &ast::Expr, attr: &StrLit) -> Typed {
        let typed = self.check(base, None);
        let what = path_text(base).unwrap_or_else(|| "this value".to_owned());
        let known = match &typed.ty {
            Type::Record(r) => {
                let known = r.fields.contains_key(&attr.value);
                if !known {
                    let candidates: Vec<&str> = r.fields.keys().map(String::as_str).collect();
                    self.unknown_has(attr, &what, candidates);
                    return Typed::error();
                }
                true
            }
            Type::Entity(ids) if !ids.is_empty() => {
                let ids = ids.clone();
                let attrs: Vec<&str> = ids
                    .iter()
                    .filter_map(|i| self.schema.entity(*i))
                    .flat_map(|e| e.attrs.fields.keys().map(String::as_str))
                    .collect();
                if !attrs.contains(&attr.value.as_str()) {
                    let attrs: Vec<String> = attrs.iter().map(|s| (*s).to_owned()).collect();
                    self.unknown_has(attr, &what, attrs.iter().map(String::as_str).collect());
                    return Typed::error();
                }
                true
            }
            Type::Entity(_) | Type::Map(_) | Type::Any => false,
            Type::Error => return Typed::new(Type::Bool, Expr::Const(Value::Bool(false))),
            other => {
                let other = other.clone();
                self.mismatch(
                    base.span,
                    "an entity, a record or a map",
                    &other,
                    Some("`has` tests whether an attribute is present"),
                );
                return Typed::error();
            }
        };
        let sym = known.then(|| self.symbols.intern(&attr.value));
        Typed::new(Type::Bool, fold::has(typed.ir, &attr.value, sym))
    }

    fn unknown_has(&mut self, attr: &StrLit, what: &str, candidates: Vec<&str>) {
        let base = Diagnostic::error(
            "E005",
            format!("unknown attribute `{}` of `{what}`", attr.value),
        )
        .with_label(attr.span, "never present: not declared");
        let diag = with_suggestion(base, &attr.value, candidates, None);
        self.report(diag);
    }

    fn set(&mut self, items: &[ast::Expr], expected: Option<&Type>) -> Typed {
        let hint = expected.and_then(Type::set_elem).cloned();
        let mut elem: Option<Type> = None;
        let mut irs = Vec::with_capacity(items.len());
        for item in items {
            let item_hint = elem.clone().or_else(|| hint.clone());
            let typed = self.check(item, item_hint.as_ref());
            irs.push(typed.ir);
            elem = match elem {
                None => Some(typed.ty),
                Some(so_far) => match join(&so_far, &typed.ty) {
                    Some(t) => Some(t),
                    None => {
                        let want = self.describe(&so_far);
                        self.mismatch(
                            item.span,
                            &want,
                            &typed.ty,
                            Some("the elements of a set all have one type"),
                        );
                        Some(Type::Error)
                    }
                },
            };
        }
        let elem = elem.or(hint).unwrap_or(Type::Error);
        Typed::new(Type::set_of(elem), fold::set(irs))
    }

    fn record(
        &mut self,
        e: &ast::Expr,
        fields: &[(StrLit, ast::Expr)],
        expected: Option<&Type>,
    ) -> Typed {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (key, _) in fields {
            if let Some(first) = seen.get(key.value.as_str()) {
                let diag = Diagnostic::error("E010", format!("duplicate field `{}`", key.value))
                    .with_label(key.span, "declared again here")
                    .with_secondary(*first, "first declared here");
                self.report(diag);
            } else {
                seen.insert(&key.value, key.span);
            }
        }
        match expected {
            Some(Type::Map(elem)) => self.map_literal(e, fields, elem),
            Some(Type::Record(record)) if self.env.place == Place::TestData => {
                self.partial_record(fields, record)
            }
            _ => {
                let hint = match expected {
                    Some(Type::Record(r)) => Some(r.clone()),
                    _ => None,
                };
                let mut types = BTreeMap::new();
                let mut irs = Vec::new();
                for (key, value) in fields {
                    let field_hint = hint
                        .as_ref()
                        .and_then(|r| r.get(&key.value))
                        .map(|f| f.ty.clone());
                    let typed = self.check(value, field_hint.as_ref());
                    types.insert(key.value.clone(), FieldTy::new(typed.ty, false));
                    irs.push((self.symbols.intern(&key.value), typed.ir));
                }
                Typed::new(
                    Type::Record(Rc::new(RecordTy { fields: types })),
                    fold::record(irs),
                )
            }
        }
    }

    /// A record literal where a `Map<T>` is expected: constant string-keyed data.
    fn map_literal(&mut self, e: &ast::Expr, fields: &[(StrLit, ast::Expr)], elem: &Type) -> Typed {
        let mut map = BTreeMap::new();
        let mut constant = true;
        for (key, value) in fields {
            let typed = self.check(value, Some(elem));
            let typed = self.expect(typed, elem, value.span);
            match typed.ir {
                Expr::Const(v) => {
                    map.insert(Arc::from(key.value.as_str()), v);
                }
                _ => constant = false,
            }
        }
        if !constant {
            let diag = Diagnostic::error("E006", "a map literal must be constant")
                .with_label(e.span, "uses values known only at request time")
                .with_help("compare single keys instead: `m[\"key\"] == value`");
            self.report(diag);
            return Typed::error();
        }
        Typed::value(Type::Map(Box::new(elem.clone())), Value::Map(Arc::new(map)))
    }

    /// A record literal in test data: a subset of the expected fields, each of its type.
    fn partial_record(&mut self, fields: &[(StrLit, ast::Expr)], record: &Rc<RecordTy>) -> Typed {
        let mut irs = Vec::new();
        for (key, value) in fields {
            let Some(field) = record.get(&key.value) else {
                let base = Diagnostic::error("E005", format!("unknown field `{}`", key.value))
                    .with_label(key.span, "not declared in the schema");
                let all = format!("the fields are: {}", field_list(record));
                let diag = with_suggestion(
                    base,
                    &key.value,
                    record.fields.keys().map(String::as_str),
                    Some(all),
                );
                self.report(diag);
                continue;
            };
            let typed = self.check(value, Some(&field.ty));
            let typed = self.expect(typed, &field.ty, value.span);
            irs.push((self.symbols.intern(&key.value), typed.ir));
        }
        Typed::new(Type::Record(record.clone()), fold::record(irs))
    }

    fn like(&mut self, x: &ast::Expr, pattern: &StrLit) -> Typed {
        let typed = self.check(x, Some(&Type::String));
        let typed = self.expect(typed, &Type::String, x.span);
        Typed::new(Type::Bool, fold::like(typed.ir, fold::glob(&pattern.value)))
    }

    fn matches(&mut self, x: &ast::Expr, pattern: &StrLit) -> Typed {
        let typed = self.check(x, Some(&Type::String));
        let typed = self.expect(typed, &Type::String, x.span);
        let regex = regex::RegexBuilder::new(&pattern.value)
            .size_limit(1 << 20)
            .build();
        match regex {
            Ok(re) => Typed::new(
                Type::Bool,
                fold::matches(typed.ir, &pattern.value, Some(&re)),
            ),
            Err(err) => {
                let detail = regex_error_line(&err);
                let diag = Diagnostic::error("E012", format!("invalid regex `{}`", pattern.value))
                    .with_label(pattern.span, detail)
                    .with_help("patterns use Rust regex syntax (https://docs.rs/regex); a match is not anchored, add `^…$` to match the whole string");
                self.report(diag);
                Typed::error()
            }
        }
    }
}

/// The most useful line of a regex error.
fn regex_error_line(err: &regex::Error) -> String {
    let text = err.to_string();
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .unwrap_or(text.lines().next().unwrap_or(""));
    line.trim().trim_start_matches("error:").trim().to_owned()
}

fn field_list(record: &RecordTy) -> String {
    let names: Vec<&str> = record.fields.keys().map(String::as_str).collect();
    if names.is_empty() {
        "no fields".to_owned()
    } else {
        names.join(", ")
    }
}

/// `context.auth`-style text of a variable path, for messages.
pub fn path_text(e: &ast::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Var(id) => Some(id.name.clone()),
        ExprKind::Attr(base, name) => Some(format!("{}.{}", path_text(base)?, name.name)),
        _ => None,
    }
}

/// The type and constant of a literal.
pub fn literal(lit: &Literal) -> Typed {
    match lit {
        Literal::Bool(b) => Typed::value(Type::Bool, Value::Bool(*b)),
        Literal::Int(n) => Typed::value(Type::Int, Value::Int(*n)),
        Literal::String(s) => Typed::value(Type::String, Value::string(s)),
        Literal::Ip(net) => Typed::value(Type::Ip, Value::Ip(*net)),
        Literal::Duration(ms) => Typed::value(Type::Duration, Value::Duration(*ms)),
        Literal::Timestamp(ms) => Typed::value(Type::Timestamp, Value::Timestamp(*ms)),
        Literal::Tls(v) => Typed::value(Type::Tls, Value::Tls(*v)),
    }
}
