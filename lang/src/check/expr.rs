//! Expression typing and lowering: names, attributes, literals, sets and records.
//! Operators are in [`super::ops`].

use std::sync::Arc;

use rampart_engine::bundle::{Expr, PackageId, TypeId};
use rampart_engine::{EntityUid, Value};

use super::builtins::VARIABLES;
use super::consts::ConstTable;
use super::fold;
use super::schema::{unknown_entity_type, SchemaInfo};
use super::symbols::Symbols;
use super::types::{conforms, join, Type};
use super::{FileId, Program};
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
    /// The value of an import parameter (`import P with { name: value }`).
    ImportParam,
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
    pub(super) fn has_request(&self) -> bool {
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
    pub(super) fn value(ty: Type, v: Value) -> Typed {
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
    /// The types of `principal` and `resource` narrowed by `is` in an `and` chain (over
    /// the environment's).
    pub(super) narrowed: (Option<Type>, Option<Type>),
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
            narrowed: (None, None),
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
            ExprKind::Is(x, ty) => self.is_type(x, ty),
            ExprKind::Tag(op, x, k) => self.tag(*op, x, k),
            ExprKind::If(c, a, b) => self.if_then_else(c, a, b, expected),
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

    /// `if c then a else b`: `c` a condition, the branches of one type (the result's). In
    /// the `then` branch, `principal is T` or `resource is T` in `c` narrows the variable.
    fn if_then_else(
        &mut self,
        c: &ast::Expr,
        a: &ast::Expr,
        b: &ast::Expr,
        expected: Option<&Type>,
    ) -> Typed {
        let condition = self.condition(c);
        let saved = self.narrowed.clone();
        let conjuncts = match &c.kind {
            ExprKind::Binary(ast::BinOp::And, l, r) => {
                super::ops::chain_operands(ast::BinOp::And, l, r)
            }
            _ => vec![c],
        };
        for conjunct in conjuncts {
            self.narrow_after(conjunct);
        }
        let then = self.check(a, expected);
        self.narrowed = saved;
        let otherwise = self.check(b, expected.or(Some(&then.ty)));
        let ty = match join(&then.ty, &otherwise.ty) {
            Some(ty) => ty,
            None => {
                let want = self.describe(&then.ty);
                self.mismatch(
                    b.span,
                    &want,
                    &otherwise.ty,
                    Some("both branches of `if … then … else` have one type"),
                );
                Type::Error
            }
        };
        match condition {
            Expr::Const(Value::Bool(true)) => Typed::new(ty, then.ir),
            Expr::Const(Value::Bool(false)) => Typed::new(ty, otherwise.ir),
            condition => Typed::new(
                ty,
                Expr::If(
                    Box::new(condition),
                    Box::new(then.ir),
                    Box::new(otherwise.ir),
                ),
            ),
        }
    }

    /// `x is T`: `x` is an entity, `T` an entity type it may be (E006 when it never is).
    fn is_type(&mut self, x: &ast::Expr, ty: &Ident) -> Typed {
        let typed = self.check(x, None);
        let Some(t) = self.entity_type(ty) else {
            return Typed::error();
        };
        match &typed.ty {
            Type::Entity(ids) if !ids.is_empty() && !ids.contains(&t) => {
                let found = self.describe(&typed.ty);
                let diag = Diagnostic::error(
                    "E006",
                    format!("type mismatch: `{found}` is never a `{}`", ty.name),
                )
                .with_label(
                    ty.span,
                    format!("`{}` is not among the types of this value", ty.name),
                )
                .with_help(format!(
                    "here the value is `{found}`; widen the rule's scope if `{}` should be covered",
                    ty.name
                ));
                self.report(diag);
                Typed::error()
            }
            Type::Entity(_) => Typed::new(Type::Bool, Expr::Is(Box::new(typed.ir), t)),
            Type::Error => Typed::error(),
            other => {
                let other = other.clone();
                self.mismatch(x.span, "an entity", &other, None);
                Typed::error()
            }
        }
    }

    /// After `principal is T` or `resource is T` in an `and` chain, the rest of the chain
    /// sees that variable as a `T` (its attributes are those of `T`). After `principal has
    /// a` (or `resource has a`), it sees the variable as the types of its union that declare
    /// `a`: the chain only goes on for an entity that has the attribute, so one of those.
    pub(crate) fn narrow_after(&mut self, e: &ast::Expr) {
        let (target, test) = match &e.kind {
            ExprKind::Is(target, ty) => match self.schema.entity_id(&ty.name) {
                Some(t) => (target, Narrowing::Is(t)),
                None => return,
            },
            ExprKind::Has { expr, attr, .. } => (expr, Narrowing::Has(attr.value.as_str())),
            _ => return,
        };
        let ExprKind::Var(var) = &target.kind else {
            return;
        };
        let (current, slot) = match var.name.as_str() {
            "principal" => (
                self.narrowed
                    .0
                    .clone()
                    .or_else(|| self.env.principal.clone()),
                &mut self.narrowed.0,
            ),
            "resource" => (
                self.narrowed
                    .1
                    .clone()
                    .or_else(|| self.env.resource.clone()),
                &mut self.narrowed.1,
            ),
            _ => return,
        };
        let Some(Type::Entity(ids)) = current else {
            return;
        };
        match test {
            Narrowing::Is(t) => {
                if ids.is_empty() || ids.contains(&t) {
                    *slot = Some(Type::entity(t));
                }
            }
            Narrowing::Has(attr) => {
                // An open union (any entity) stays open: its types are not listed.
                let declaring: Vec<TypeId> = ids
                    .iter()
                    .copied()
                    .filter(|id| {
                        self.schema
                            .entity(*id)
                            .is_some_and(|info| info.attrs.fields.contains_key(attr))
                    })
                    .collect();
                if !declaring.is_empty() && declaring.len() < ids.len() {
                    *slot = Some(Type::Entity(declaring));
                }
            }
        }
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
        Literal::Decimal(n) => Typed::value(Type::Decimal, Value::Decimal(*n)),
        Literal::Tls(v) => Typed::value(Type::Tls, Value::Tls(*v)),
    }
}

/// What a conjunct of an `and` chain tells about `principal` or `resource`.
enum Narrowing<'a> {
    /// `e is T`
    Is(TypeId),
    /// `e has a`
    Has(&'a str),
}
