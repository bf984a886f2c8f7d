//! Evaluating compiled expressions against one request.
//!
//! [`EvalContext`] holds what expressions can name (principal, action, resource, context,
//! route parameters) and the entity data. Evaluation works on [`Val`]s: a value borrowed
//! from the bundle, the request or the entity data whenever one exists, so reading
//! `context.tls.version`, `resource.owner` or a constant copies nothing and touches no
//! reference count; only computed values (booleans, sums, built sets) are owned.
//!
//! Evaluation is total: every failure is an [`EvalError`] the decision procedure turns into
//! fail-closed outcomes. `and`/`or` short-circuit left to right, so an error in a branch not
//! reached is not an error. Recursion is bounded by the expression depth the bundle checker
//! enforces.

use std::cell::{Cell, OnceCell};
use std::sync::Arc;

use crate::bundle::{ActionId, BinaryOp, Sym};
use crate::display::{node_path, uid_literal};
use crate::engine::Engine;
use crate::entities::{Entity, EntityStore};
use crate::ops::{self, glob_matches};
use crate::program::{Node, NodeId};
use crate::request::Request;
use crate::val::{project, Resolved, Subject, Val};
use crate::value::{EntityUid, Record, Value};

/// A name in an error: an interned symbol, or a key written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    Sym(Sym),
    /// Index into the program's keys.
    Key(u32),
}

/// Why an expression has no value: an absent attribute, a missing entity, a type mismatch
/// in data, an overflow…
///
/// The common cases keep what they are about and are written out only by
/// [`EvalError::message`], so an error that is met and then discarded (a principal
/// mapping that does not apply, an allow rule when only the effect is wanted) costs no
/// allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EvalError {
    Static(&'static str),
    Message(String),
    /// `target` (`None`: `context`) has no field or key `name`.
    Absent {
        target: Option<NodeId>,
        name: Name,
    },
    /// The entity is not in the data.
    NoEntity(EntityUid),
    /// The entity has no such attribute.
    NoAttribute(EntityUid, Name),
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvalError::Message(message.into())
    }

    /// The error as a lowercase message.
    pub(crate) fn message(&self, engine: &Engine) -> String {
        let program = &engine.program;
        let bundle = &engine.bundle;
        let name = |name: &Name| -> String {
            match name {
                Name::Sym(sym) => engine.symbol_name(*sym).to_string(),
                Name::Key(key) => program.key(*key).map_or("?".into(), |k| k.name.to_string()),
            }
        };
        let uid = |uid: &EntityUid| uid_literal(&bundle.schema, uid);
        match self {
            EvalError::Static(message) => (*message).to_string(),
            EvalError::Message(message) => message.clone(),
            EvalError::Absent { target, name: n } => {
                let path = match target {
                    None => Some(String::from("context")),
                    Some(target) => node_path(program, &bundle.symbols, *target),
                };
                match path {
                    Some(path) => format!("`{path}` has no `{}`", name(n)),
                    None => format!("no field `{}`", name(n)),
                }
            }
            EvalError::NoEntity(entity) => format!("entity `{}` does not exist", uid(entity)),
            EvalError::NoAttribute(entity, n) => {
                format!("entity `{}` has no attribute `{}`", uid(entity), name(n))
            }
        }
    }
}

pub(crate) type EvalResult<T = Value> = Result<T, EvalError>;

/// How a boolean is used, for the message when it is not one.
#[derive(Debug, Clone, Copy)]
enum BoolUse {
    Condition,
    Operand(&'static str),
    Not,
}

impl BoolUse {
    fn error(self, found: &Value) -> EvalError {
        let kind = found.kind();
        EvalError::new(match self {
            BoolUse::Condition => format!("expected a boolean condition, found {kind}"),
            BoolUse::Operand(op) => format!("`{op}` needs booleans, found {kind}"),
            BoolUse::Not => format!("`not` needs a boolean, found {kind}"),
        })
    }
}

/// What the expressions of one request see.
pub(crate) struct EvalContext<'a> {
    pub engine: &'a Engine,
    pub entities: &'a EntityStore,
    pub principal: Subject<'a>,
    pub action: ActionId,
    pub resource: Subject<'a>,
    /// `None` while routing.
    pub context: Option<&'a Arc<Record>>,
    /// Route path parameters (only while routing).
    pub params: &'a [Arc<str>],
    /// The truth of shared conjuncts evaluated so far.
    pub memo: Memo,
}

/// The truth of conjuncts that several conditions share (equal expressions compile to one
/// node), kept for one decision so that rules repeating a condition evaluate it once: a
/// small direct-mapped table, where a collision forgets the older entry. Failures are not
/// kept (evaluating again fails alike).
#[derive(Debug, Default)]
pub(crate) struct Memo([Cell<u64>; MEMO_SLOTS]);

const MEMO_SLOTS: usize = 16;

impl Memo {
    fn slot(&self, node: NodeId) -> Option<&Cell<u64>> {
        // Fibonacci hashing: the top four bits of the product.
        let index = usize::try_from(node.wrapping_mul(0x9E37_79B9) >> 28).unwrap_or(0);
        self.0.get(index)
    }

    /// The kept truth of `node`, if any. An entry is the node, a "kept" bit and the truth.
    pub(crate) fn get(&self, node: NodeId) -> Option<bool> {
        let entry = self.slot(node)?.get();
        (entry >> 2 == u64::from(node) && entry & 2 != 0).then_some(entry & 1 != 0)
    }

    pub(crate) fn set(&self, node: NodeId, truth: bool) {
        if let Some(cell) = self.slot(node) {
            cell.set(u64::from(node) << 2 | 2 | u64::from(truth));
        }
    }
}

const MALFORMED: &str = "malformed compiled expression";
const PRINCIPAL_UNKNOWN: &str = "`principal` is not known while mapping the principal";
const RESOURCE_UNKNOWN: &str = "`resource` is not known while routing";
const CONTEXT_UNKNOWN: &str = "`context` is not known while routing";

impl<'a> EvalContext<'a> {
    /// The context of deciding `request`; a principal the request does not name is unknown
    /// until the mappings have run.
    pub(crate) fn for_request(
        engine: &'a Engine,
        entities: &'a EntityStore,
        request: &'a Request,
    ) -> Self {
        EvalContext {
            engine,
            entities,
            principal: match &request.principal {
                Some(uid) => Subject::Uid(uid, OnceCell::new()),
                None => Subject::Unknown(PRINCIPAL_UNKNOWN),
            },
            action: request.action,
            resource: Subject::Uid(&request.resource, OnceCell::new()),
            context: Some(&request.context),
            params: &[],
            memo: Memo::default(),
        }
    }

    /// The context of building a route's resource from its path parameters.
    pub(crate) fn for_route(
        engine: &'a Engine,
        entities: &'a EntityStore,
        action: ActionId,
        params: &'a [Arc<str>],
    ) -> Self {
        EvalContext {
            engine,
            entities,
            principal: Subject::Unknown(PRINCIPAL_UNKNOWN),
            action,
            resource: Subject::Unknown(RESOURCE_UNKNOWN),
            context: None,
            params,
            memo: Memo::default(),
        }
    }

    /// Evaluates a condition conjunct: it must be a boolean.
    pub(crate) fn truth(&self, at: NodeId) -> EvalResult<bool> {
        self.boolean(at, BoolUse::Condition)
    }

    /// Evaluates a condition conjunct that other conditions share: once per decision.
    pub(crate) fn shared_truth(&self, at: NodeId) -> EvalResult<bool> {
        if let Some(truth) = self.memo.get(at) {
            return Ok(truth);
        }
        let truth = self.truth(at)?;
        self.memo.set(at, truth);
        Ok(truth)
    }

    pub(crate) fn eval(&self, at: NodeId) -> EvalResult<Val<'_>> {
        self.eval_node(self.node(at)?)
    }

    // The `Err` built only when needed (here and in `eval_node`): an `EvalError` built and
    // dropped on every node cost about 100 instructions per decision on `gateway`.
    fn node(&self, at: NodeId) -> EvalResult<Node> {
        let Some(node) = self.engine.program.node(at) else {
            return Err(EvalError::Static(MALFORMED));
        };
        Ok(node)
    }

    fn boolean(&self, at: NodeId, usage: BoolUse) -> EvalResult<bool> {
        let node = self.node(at)?;
        if let Some(result) = self.boolean_node(node) {
            return result;
        }
        match &*self.eval_node(node)? {
            Value::Bool(b) => Ok(*b),
            other => Err(usage.error(other)),
        }
    }

    /// Nodes whose value is always a boolean, evaluated without building a `Value`;
    /// `None` for the other nodes.
    fn boolean_node(&self, node: Node) -> Option<EvalResult<bool>> {
        let program = &self.engine.program;
        Some(match node {
            Node::Not(inner) => self.boolean(inner, BoolUse::Not).map(|b| !b),
            Node::And(left, right) => self
                .boolean(left, BoolUse::Operand("and"))
                .and_then(|l| Ok(l && self.boolean(right, BoolUse::Operand("and"))?)),
            Node::Or(left, right) => self
                .boolean(left, BoolUse::Operand("or"))
                .and_then(|l| Ok(l || self.boolean(right, BoolUse::Operand("or"))?)),
            Node::Binary(op, left, right) if is_test(op) => self.eval(left).and_then(|left| {
                let right = self.eval(right)?;
                ops::test(op, &left, &right, self)
            }),
            Node::BinaryConst(op, left, constant) if is_test(op) => {
                let right = program.constant(constant)?;
                if let (BinaryOp::In, Some(Node::Principal), Value::Entity(group)) =
                    (op, program.node(left), right)
                {
                    if let Some(truth) = self.principal_in(group) {
                        return Some(truth);
                    }
                }
                self.eval(left)
                    .and_then(|left| ops::test(op, &left, right, self))
            }
            Node::Has(inner, key) => {
                let key = program.key(key)?;
                self.eval(inner)
                    .and_then(|target| self.has(&target, key.sym, &key.name))
            }
            Node::ContextHas(key) => {
                let sym = program.key(key)?.sym;
                self.context_record()
                    .map(|record| sym.is_some_and(|sym| record.get(sym).is_some()))
            }
            Node::Is(inner, ty) => self.is_type(inner, ty),
            Node::HasTag(entity, key) => self.has_tag(entity, key),
            Node::Like(inner, glob) => {
                let glob = program.glob(glob)?;
                self.eval(inner).and_then(|text| match &*text {
                    Value::String(text) => Ok(glob_matches(glob, text)),
                    other => Err(EvalError::new(format!(
                        "`like` needs a string, found {}",
                        other.kind()
                    ))),
                })
            }
            Node::Matches(inner, regex) => {
                let regex = program.regex(regex)?;
                self.eval(inner).and_then(|text| match &*text {
                    Value::String(text) => Ok(regex.is_match(text)),
                    other => Err(EvalError::new(format!(
                        "`matches` needs a string, found {}",
                        other.kind()
                    ))),
                })
            }
            _ => return None,
        })
    }

    /// Any node; boolean ones through [`Self::boolean_node`].
    /// `e is T`, out of [`Self::boolean_node`]'s frame (deep `and`/`or` chains recurse
    /// through it).
    #[inline(never)]
    fn is_type(&self, inner: NodeId, ty: crate::bundle::TypeId) -> EvalResult<bool> {
        self.eval(inner).and_then(|value| match &*value {
            Value::Entity(uid) => Ok(uid.ty == ty),
            other => Err(EvalError::new(format!(
                "`is` needs an entity, found {}",
                other.kind()
            ))),
        })
    }

    /// `e.has_tag(k)`, out of [`Self::boolean_node`]'s frame: false for an entity missing
    /// from the data (as `has`).
    #[inline(never)]
    fn has_tag(&self, entity: NodeId, key: NodeId) -> EvalResult<bool> {
        let target = self.eval(entity)?;
        let key = self.eval(key)?;
        let (uid, key) = tag_operands(&target, &key, "has_tag")?;
        Ok(self
            .entity_of(uid)
            .is_some_and(|entity| entity.tag(key).is_some()))
    }

    /// `e.get_tag(k)`: an error for a missing entity or tag.
    fn get_tag(&self, entity: NodeId, key: NodeId) -> EvalResult<Val<'_>> {
        let target = self.eval(entity)?;
        let key = self.eval(key)?;
        let (uid, key) = tag_operands(&target, &key, "get_tag")?;
        let Some(entity) = self.entity_of(uid) else {
            return Err(EvalError::NoEntity(uid.clone()));
        };
        match entity.tag(key) {
            Some(value) => Ok(Val::Ref(value)),
            None => Err(EvalError::new(format!(
                "entity `{}` has no tag `{}`",
                crate::display::uid_literal(&self.engine.bundle.schema, uid),
                crate::display::truncate(key, 60)
            ))),
        }
    }

    /// Time parts, `if` and tag reads, out of [`Self::eval_node`]'s frame (each arm there
    /// adds to the stack every nesting level takes).
    #[inline(never)]
    fn eval_rarer(&self, node: Node) -> EvalResult<Val<'_>> {
        let program = &self.engine.program;
        match node {
            Node::TimePart(inner, part) => self.eval(inner).and_then(|value| {
                part.of(&value).map(Val::Owned).ok_or_else(|| {
                    EvalError::new(format!(
                        "`.{}` needs a timestamp or a duration, found {}",
                        part.name(),
                        value.kind()
                    ))
                })
            }),
            // Only the branch chosen is evaluated (its errors only count when chosen).
            Node::If(c, branches) => {
                let Some((a, b)) = program.branches(branches) else {
                    return Err(EvalError::Static(MALFORMED));
                };
                if self.boolean(c, BoolUse::Operand("if"))? {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            Node::GetTag(entity, key) => self.get_tag(entity, key),
            _ => Err(EvalError::Static(MALFORMED)),
        }
    }

    fn eval_node(&self, node: Node) -> EvalResult<Val<'_>> {
        let program = &self.engine.program;
        match node {
            Node::TimePart(..) | Node::If(..) | Node::GetTag(..) => self.eval_rarer(node),
            Node::Const(index) => match program.constant(index) {
                Some(value) => Ok(Val::Ref(value)),
                None => Err(EvalError::Static(MALFORMED)),
            },
            Node::Principal => self
                .principal
                .resolve(self.entities)
                .map(|p| Val::Ref(&p.value)),
            Node::Resource => self
                .resource
                .resolve(self.entities)
                .map(|r| Val::Ref(&r.value)),
            Node::Action => self
                .engine
                .action_value(self.action)
                .map(Val::Ref)
                .ok_or(EvalError::Static("unknown action")),
            Node::Context => self
                .context
                .map(|record| Val::Owned(Value::Record(Arc::clone(record))))
                .ok_or(EvalError::Static(CONTEXT_UNKNOWN)),
            Node::Now => self.now(),
            Node::Param(index) => usize::try_from(index)
                .ok()
                .and_then(|i| self.params.get(i))
                .map(|p| Val::Owned(Value::String(Arc::clone(p))))
                .ok_or(EvalError::Static("path parameters exist only in routes")),
            Node::ContextField(sym) => {
                let record = self.context_record()?;
                match record.get(sym) {
                    Some(value) => Ok(Val::Ref(value)),
                    None => Err(EvalError::Absent {
                        target: None,
                        name: Name::Sym(sym),
                    }),
                }
            }
            Node::ContextKey(index) => {
                let key = self.key(index)?;
                let record = self.context_record()?;
                match key.sym.and_then(|sym| record.get(sym)) {
                    Some(value) => Ok(Val::Ref(value)),
                    None => Err(EvalError::Absent {
                        target: None,
                        name: Name::Key(index),
                    }),
                }
            }
            Node::PrincipalAttr(sym) => self.subject_attr(&self.principal, sym),
            Node::ResourceAttr(sym) => self.subject_attr(&self.resource, sym),
            Node::Attr(inner, sym) => {
                let target = self.eval(inner)?;
                let name = self.engine.symbol_name(sym);
                self.member(target, Some(sym), (name, Name::Sym(sym)), inner)
            }
            Node::Index(inner, index) => {
                let key = self.key(index)?;
                let target = self.eval(inner)?;
                self.member(target, key.sym, (&key.name, Name::Key(index)), inner)
            }
            Node::EntityCtor(ty, inner) => match &*self.eval(inner)? {
                Value::String(id) => Ok(Resolved::of_id(self.entities, ty, id).value),
                other => Err(EvalError::new(format!(
                    "an entity id must be a string, found {}",
                    other.kind()
                ))),
            },
            Node::Set(span) => {
                let values = program
                    .list(span)
                    .iter()
                    .map(|item| self.eval(*item).map(Val::into_owned))
                    .collect::<EvalResult<Vec<_>>>()?;
                Ok(Val::Owned(Value::set(values)))
            }
            Node::Record(span) => {
                let values = program
                    .record_fields(span)
                    .iter()
                    .map(|(sym, item)| Ok((*sym, self.eval(*item)?.into_owned())))
                    .collect::<EvalResult<Vec<_>>>()?;
                Ok(Val::Owned(Value::Record(Arc::new(Record::new(values)))))
            }
            Node::Neg(inner) => ops::negate(&*self.eval(inner)?).map(Val::Owned),
            Node::Binary(op, left, right) if !is_test(op) => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                ops::arithmetic(op, &left, &right).map(Val::Owned)
            }
            Node::BinaryConst(op, left, constant) if !is_test(op) => {
                let left = self.eval(left)?;
                let right = program
                    .constant(constant)
                    .ok_or(EvalError::Static(MALFORMED))?;
                ops::arithmetic(op, &left, right).map(Val::Owned)
            }
            Node::Binary(..)
            | Node::BinaryConst(..)
            | Node::Not(_)
            | Node::And(..)
            | Node::Or(..)
            | Node::Has(..)
            | Node::ContextHas(_)
            | Node::Like(..)
            | Node::Is(..)
            | Node::HasTag(..)
            | Node::Matches(..) => self
                .boolean_node(node)
                .unwrap_or(Err(EvalError::Static(MALFORMED)))
                .map(|b| Val::Owned(Value::Bool(b))),
        }
    }

    fn key(&self, key: u32) -> EvalResult<&crate::program::Key> {
        let Some(key) = self.engine.program.key(key) else {
            return Err(EvalError::Static(MALFORMED));
        };
        Ok(key)
    }

    fn context_record(&self) -> EvalResult<&Record> {
        let Some(record) = self.context else {
            return Err(EvalError::Static(CONTEXT_UNKNOWN));
        };
        Ok(record)
    }

    fn now(&self) -> EvalResult<Val<'_>> {
        let time = self
            .context
            .zip(self.engine.names.well_known.time)
            .and_then(|(context, sym)| context.get(sym));
        match time {
            Some(value @ Value::Timestamp(_)) => Ok(Val::Ref(value)),
            _ => Err(EvalError::Static(
                "`now` is not known: the request has no `context.time`",
            )),
        }
    }

    /// `target.name` / `target["name"]`: a record field, a map entry or an entity attribute.
    fn member<'c>(
        &'c self,
        target: Val<'c>,
        sym: Option<Sym>,
        (name, error_name): (&str, Name),
        inner: NodeId,
    ) -> EvalResult<Val<'c>> {
        if let Value::Entity(uid) = &*target {
            return self.entity_attr(uid, sym, error_name).map(Val::Ref);
        }
        let found = project(target, |value| match value {
            Value::Record(record) => Ok(sym.and_then(|sym| record.get(sym))),
            Value::Map(map) => Ok(map.get(name)),
            other => Err(other.kind()),
        });
        match found {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(EvalError::Absent {
                target: Some(inner),
                name: error_name,
            }),
            Err(kind) => Err(EvalError::new(format!("cannot read `{name}` of a {kind}"))),
        }
    }

    /// `principal.name` or `resource.name`.
    fn subject_attr(&self, subject: &Subject<'a>, sym: Sym) -> EvalResult<Val<'_>> {
        let resolved = subject.resolve(self.entities)?;
        match (&*resolved.value, resolved.entity) {
            (_, Some(entity)) => entity
                .attrs
                .get(sym)
                .map(Val::Ref)
                .ok_or_else(|| self.no_attribute(resolved, sym)),
            (Value::Entity(uid), None) => Err(EvalError::NoEntity(uid.clone())),
            (other, None) => Err(EvalError::new(format!(
                "cannot read `{}` of a {}",
                self.engine.symbol_name(sym),
                other.kind()
            ))),
        }
    }

    fn no_attribute(&self, resolved: &Resolved<'_>, sym: Sym) -> EvalError {
        match resolved.uid() {
            Some(uid) => EvalError::NoAttribute(uid.clone(), Name::Sym(sym)),
            None => EvalError::Static(MALFORMED),
        }
    }

    /// The entity a reference names, through the request's principal and resource first
    /// (looked up once per decision), then the entity data.
    pub(crate) fn entity_of(&self, uid: &EntityUid) -> Option<&'a Entity> {
        for subject in [&self.principal, &self.resource] {
            if subject.uid() == Some(uid) {
                return subject.resolve(self.entities).ok().and_then(|r| r.entity);
            }
        }
        self.entities.get(uid)
    }

    /// `principal in E` for an entity literal `E`, when the principal is an entity: what
    /// [`ops::test`] answers through [`EvalContext::entity_in`], without comparing the
    /// principal's id with the request's subjects to find its entity again. `None` (the
    /// general path decides, and reports) when the principal is not known or not an entity.
    fn principal_in(&self, group: &EntityUid) -> Option<EvalResult<bool>> {
        let resolved = self.principal.resolve(self.entities).ok()?;
        let uid = resolved.uid()?;
        Some(Ok(uid == group
            || resolved.entity.is_some_and(|entity| {
                self.entities.has_ancestor(entity, group)
            })))
    }

    /// `child in ancestor` for entities: the same entity or a transitive parent.
    pub(crate) fn entity_in(&self, child: &EntityUid, ancestor: &EntityUid) -> bool {
        child == ancestor
            || self
                .entity_of(child)
                .is_some_and(|entity| self.entities.has_ancestor(entity, ancestor))
    }

    /// An attribute of an entity, or an error for a missing entity or attribute.
    fn entity_attr(&self, uid: &EntityUid, sym: Option<Sym>, name: Name) -> EvalResult<&'a Value> {
        let Some(entity) = self.entity_of(uid) else {
            return Err(EvalError::NoEntity(uid.clone()));
        };
        sym.and_then(|sym| entity.attrs.get(sym))
            .ok_or_else(|| EvalError::NoAttribute(uid.clone(), name))
    }

    fn has(&self, target: &Value, sym: Option<Sym>, name: &str) -> EvalResult<bool> {
        match target {
            Value::Record(record) => Ok(sym.is_some_and(|sym| record.get(sym).is_some())),
            Value::Map(map) => Ok(map.contains_key(name)),
            Value::Entity(uid) => Ok(self
                .entity_of(uid)
                .zip(sym)
                .is_some_and(|(entity, sym)| entity.attrs.get(sym).is_some())),
            other => Err(EvalError::new(format!(
                "`has` needs a record, entity or map, found {}",
                other.kind()
            ))),
        }
    }
}

/// The entity and the key of a tag read: an entity and a string.
fn tag_operands<'v>(
    target: &'v Value,
    key: &'v Value,
    method: &str,
) -> EvalResult<(&'v EntityUid, &'v str)> {
    match (target, key) {
        (Value::Entity(uid), Value::String(key)) => Ok((uid, key)),
        (Value::Entity(_), other) => Err(EvalError::new(format!(
            "`{method}` needs a string key, found {}",
            other.kind()
        ))),
        (other, _) => Err(EvalError::new(format!(
            "`{method}` needs an entity, found {}",
            other.kind()
        ))),
    }
}

/// Whether a binary operator yields a boolean (comparisons, membership, scopes).
fn is_test(op: BinaryOp) -> bool {
    !matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul)
}
