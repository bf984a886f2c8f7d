//! The compiled form of expressions: what the evaluator runs.
//!
//! [`Engine::new`](crate::Engine::new) lowers every expression of the bundle (rule and
//! obligation conditions, obligation values, principal mappings, route resources) into one
//! [`Program`]: a flat array of small [`Node`]s whose children are indexes into the same
//! array, with constants, keys, globs and regexes in side tables. Compared with walking the
//! bundle's `Expr` tree:
//!
//! - names that the tree keeps as text are resolved once: `e["key"]` and `e has key` carry
//!   the key's symbol, `matches` carries a regex id (no pattern lookup per evaluation);
//! - `context.field` reads the request's context record directly, `principal.attr` and
//!   `resource.attr` the request's entities, and `e OP constant` carries the constant;
//! - the nodes of one rule are contiguous, and rules are compiled in the order the index
//!   visits them (grouped by action), so a decision touches few cache lines even when the
//!   bundle holds 100,000 rules;
//! - a node is 12 bytes, so the compiled form of a large bundle stays small.
//!
//! Children are compiled before their parent, so every child index is lower than its
//! parent's; recursion depth is bounded by the bundle checker's expression depth limit.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;

use crate::bundle::{
    ActionId, BinaryOp, Condition, Expr, Glob, ObligationKind, PackageId, RuleKind, Sym, TypeId,
};
use crate::error::{InvalidBundleError, LoadError};
use crate::value::{EntityUid, Record, Value};

/// Index into [`Program::nodes`].
pub(crate) type NodeId = u32;

/// A run of entries in one of the program's tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(crate) fn range(self) -> Range<usize> {
        let start = usize::try_from(self.start).unwrap_or(usize::MAX);
        let len = usize::try_from(self.len).unwrap_or(0);
        start..start.saturating_add(len)
    }

    /// The span of the entries of a table from `start` to its current `end`.
    pub(crate) fn between(start: usize, end: usize) -> Option<Span> {
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(end.checked_sub(start)?).ok()?,
        })
    }
}

/// One node of compiled code. Operands are [`NodeId`]s; `u32` payloads index the
/// program's side tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    /// Index into [`Program::consts`].
    Const(u32),
    Principal,
    /// The action name, a String.
    Action,
    Resource,
    Context,
    Now,
    /// A route path parameter.
    Param(u32),
    /// `context.name`, read from the request's context record.
    ContextField(Sym),
    /// `context["key"]` for a key the bundle has a symbol for; index into [`Program::keys`].
    ContextKey(u32),
    /// `context has key`; index into [`Program::keys`].
    ContextHas(u32),
    /// `principal.name`: an attribute of the request's principal.
    PrincipalAttr(Sym),
    /// `resource.name`: an attribute of the request's resource.
    ResourceAttr(Sym),
    /// `e.name` on a record, a map or an entity.
    Attr(NodeId, Sym),
    /// `e["key"]`; index into [`Program::keys`].
    Index(NodeId, u32),
    /// `e has key`; index into [`Program::keys`].
    Has(NodeId, u32),
    EntityCtor(TypeId, NodeId),
    /// Elements in [`Program::lists`].
    Set(Span),
    /// Fields in [`Program::fields`], sorted by symbol.
    Record(Span),
    Not(NodeId),
    Neg(NodeId),
    And(NodeId, NodeId),
    Or(NodeId, NodeId),
    Binary(BinaryOp, NodeId, NodeId),
    /// `e OP constant`, the constant an index into [`Program::consts`]: most comparisons.
    BinaryConst(BinaryOp, NodeId, u32),
    /// Index into [`Program::globs`].
    Like(NodeId, u32),
    /// Index into [`Program::regexes`].
    Matches(NodeId, u32),
    /// `e is Type`
    Is(NodeId, TypeId),
    /// `e.time_of_day`, `d.hours`, …
    TimePart(NodeId, crate::bundle::TimePart),
    /// `if c then a else b`: the condition, and where `[a, b]` start in the lists (a node
    /// stays 12 bytes).
    If(NodeId, u32),
    /// `e.has_tag(k)`: the entity, then the key.
    HasTag(NodeId, NodeId),
    /// `e.get_tag(k)`: the entity, then the key.
    GetTag(NodeId, NodeId),
}

/// A key written as text (`e["key"]`, `e has key`), with its symbol when the bundle has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub name: Box<str>,
    pub sym: Option<Sym>,
}

/// Every compiled expression of a bundle.
#[derive(Debug, Default)]
pub(crate) struct Program {
    nodes: Vec<Node>,
    consts: Vec<Value>,
    keys: Vec<Key>,
    globs: Vec<Glob>,
    regexes: Vec<Regex>,
    /// Elements of [`Node::Set`]s.
    lists: Vec<NodeId>,
    /// Fields of [`Node::Record`]s.
    fields: Vec<(Sym, NodeId)>,
    /// The conjuncts of conditions ([`Span`]s of rules, obligations and mappings).
    conjuncts: Vec<NodeId>,
    /// For each entry of `conjuncts`: whether a decision may evaluate the same expression
    /// as a conjunct of another rule too (equal expressions compile to one node), so that
    /// it keeps its truth ([`crate::eval::Memo`]). See [`Program::mark_shared`].
    shared: Vec<bool>,
}

impl Program {
    pub(crate) fn node(&self, id: NodeId) -> Option<Node> {
        self.nodes.get(usize::try_from(id).ok()?).copied()
    }

    pub(crate) fn constant(&self, index: u32) -> Option<&Value> {
        self.consts.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn key(&self, index: u32) -> Option<&Key> {
        self.keys.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn glob(&self, index: u32) -> Option<&Glob> {
        self.globs.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn regex(&self, index: u32) -> Option<&Regex> {
        self.regexes.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn list(&self, span: Span) -> &[NodeId] {
        self.lists.get(span.range()).unwrap_or_default()
    }

    /// The `then` and `else` nodes of an [`Node::If`].
    pub(crate) fn branches(&self, start: u32) -> Option<(NodeId, NodeId)> {
        let start = usize::try_from(start).ok()?;
        match self.lists.get(start..start.checked_add(2)?)? {
            [a, b] => Some((*a, *b)),
            _ => None,
        }
    }

    pub(crate) fn record_fields(&self, span: Span) -> &[(Sym, NodeId)] {
        self.fields.get(span.range()).unwrap_or_default()
    }

    /// Whether evaluating `id` reads the request's resource (its id, type or attributes).
    /// Recursion is bounded by the bundle checker's expression depth limit.
    pub(crate) fn reads_resource(&self, id: NodeId) -> bool {
        let Some(node) = self.node(id) else {
            return false;
        };
        match node {
            Node::Resource | Node::ResourceAttr(_) => true,
            Node::Const(_)
            | Node::Principal
            | Node::Action
            | Node::Context
            | Node::Now
            | Node::Param(_)
            | Node::ContextField(_)
            | Node::ContextKey(_)
            | Node::ContextHas(_)
            | Node::PrincipalAttr(_) => false,
            Node::Attr(inner, _)
            | Node::Index(inner, _)
            | Node::Has(inner, _)
            | Node::EntityCtor(_, inner)
            | Node::Not(inner)
            | Node::Neg(inner)
            | Node::BinaryConst(_, inner, _)
            | Node::Like(inner, _)
            | Node::Is(inner, _)
            | Node::TimePart(inner, _)
            | Node::Matches(inner, _) => self.reads_resource(inner),
            Node::And(left, right)
            | Node::Or(left, right)
            | Node::Binary(_, left, right)
            | Node::HasTag(left, right)
            | Node::GetTag(left, right) => self.reads_resource(left) || self.reads_resource(right),
            Node::If(c, branches) => {
                self.reads_resource(c)
                    || self
                        .branches(branches)
                        .is_none_or(|(a, b)| self.reads_resource(a) || self.reads_resource(b))
            }
            Node::Set(span) => self
                .list(span)
                .iter()
                .any(|item| self.reads_resource(*item)),
            Node::Record(span) => self
                .record_fields(span)
                .iter()
                .any(|(_, item)| self.reads_resource(*item)),
        }
    }

    /// The conjuncts of a compiled condition, in order.
    pub(crate) fn conjuncts(&self, span: Span) -> &[NodeId] {
        self.conjuncts.get(span.range()).unwrap_or_default()
    }

    /// Marks the conjuncts of rules that another rule of one of their actions has too
    /// (a rule on every action shares with any rule). `rules`: each rule's actions (`None`:
    /// every action) and the run of its conjuncts. Marking only rules that can be
    /// candidates of one decision together keeps the cost of keeping a truth off
    /// conjuncts that could never be found again.
    pub(crate) fn mark_shared(&mut self, rules: &[(Option<&[ActionId]>, Span)]) {
        type Uses = HashMap<(ActionId, NodeId), u32, foldhash::fast::RandomState>;
        const EVERY: ActionId = ActionId::MAX;
        let mut uses = Uses::default();
        let mut total: HashMap<NodeId, u32, foldhash::fast::RandomState> = HashMap::default();
        for (actions, span) in rules {
            for node in self.conjuncts(*span) {
                let n = total.entry(*node).or_default();
                *n = n.saturating_add(1);
                for action in actions.unwrap_or(&[EVERY]) {
                    let n = uses.entry((*action, *node)).or_default();
                    *n = n.saturating_add(1);
                }
            }
        }
        let count = |action: ActionId, node: NodeId| uses.get(&(action, node)).copied();
        let mut shared = vec![false; self.conjuncts.len()];
        for (actions, span) in rules {
            let range = span.range();
            let flags = shared.get_mut(range.clone()).unwrap_or_default();
            let nodes = self.conjuncts.get(range).unwrap_or_default();
            for (flag, node) in flags.iter_mut().zip(nodes) {
                *flag = match actions {
                    None => total.get(node).is_some_and(|n| *n > 1),
                    Some(actions) => actions.iter().any(|action| {
                        let here = count(*action, *node).unwrap_or(0);
                        here.saturating_add(count(EVERY, *node).unwrap_or(0)) > 1
                    }),
                };
            }
        }
        self.shared = shared;
    }

    /// The conjuncts of a compiled condition, each with whether another rule of the
    /// decision may have it too.
    pub(crate) fn conjuncts_shared(&self, span: Span) -> impl Iterator<Item = (NodeId, bool)> + '_ {
        let shared = self.shared.get(span.range()).unwrap_or_default();
        self.conjuncts(span)
            .iter()
            .enumerate()
            .map(|(i, node)| (*node, shared.get(i).copied().unwrap_or(false)))
    }
}

/// A rule, compiled: what deciding needs, in 20 bytes. The conjuncts of `when`, `unless`
/// and the required condition are one run of [`Program::conjuncts`], in that order.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    /// Index of the rule in the bundle (its id, reason, controls and texts are there).
    pub bundle_index: u32,
    pub package: PackageId,
    first_conjunct: u32,
    /// Conjuncts of `when`, `unless` and the required condition.
    counts: [u16; 3],
    /// Bit 0: has `unless`; bit 1: has a required condition; bit 2: has a scope head
    /// (checked before the conditions, see [`crate::head`]).
    present: u8,
    pub kind: RuleKind,
}

impl CompiledRule {
    /// A rule whose conditions were compiled one after the other.
    pub(crate) fn new(
        bundle_index: u32,
        kind: RuleKind,
        package: PackageId,
        [when, unless, require]: [Option<Span>; 3],
    ) -> Result<Self, LoadError> {
        let when = when.unwrap_or_default();
        let mut next = when.start;
        let mut counts = [0u16; 3];
        let mut present = 0u8;
        for (i, span) in [Some(when), unless, require].into_iter().enumerate() {
            let Some(span) = span else { continue };
            let (Some(count), true) = (counts.get_mut(i), span.start == next) else {
                return Err(too_large());
            };
            *count = u16::try_from(span.len).map_err(|_| {
                LoadError::from(InvalidBundleError::new(
                    "bundle",
                    "a condition has more than 65535 conjuncts",
                ))
            })?;
            next = next.checked_add(span.len).ok_or_else(too_large)?;
            present |= match i {
                1 => 1,
                2 => 2,
                _ => 0,
            };
        }
        Ok(CompiledRule {
            bundle_index,
            package,
            first_conjunct: when.start,
            counts,
            present,
            kind,
        })
    }

    fn span(&self, clause: usize) -> Span {
        let before: u32 = self.counts.iter().take(clause).map(|c| u32::from(*c)).sum();
        let len = self.counts.get(clause).copied().unwrap_or(0);
        Span {
            start: self.first_conjunct.saturating_add(before),
            len: u32::from(len),
        }
    }

    pub(crate) fn when(&self) -> Span {
        self.span(0)
    }

    /// The conjuncts of `when`, `unless` and the required condition, in one run.
    pub(crate) fn conjuncts(&self) -> Span {
        let len: u32 = self.counts.iter().map(|c| u32::from(*c)).sum();
        Span {
            start: self.first_conjunct,
            len,
        }
    }

    pub(crate) fn unless(&self) -> Option<Span> {
        (self.present & 1 != 0).then(|| self.span(1))
    }

    pub(crate) fn require(&self) -> Option<Span> {
        (self.present & 2 != 0).then(|| self.span(2))
    }

    /// Marks the rule as having a scope head.
    pub(crate) fn with_head(mut self, has_head: bool) -> Self {
        if has_head {
            self.present |= 4;
        }
        self
    }

    /// Whether the rule's scope names entities (its bundle scope has a head).
    pub(crate) fn has_head(&self) -> bool {
        self.present & 4 != 0
    }
}

/// An obligation, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledObligation {
    pub bundle_index: u32,
    pub package: PackageId,
    pub when: Span,
    pub unless: Option<Span>,
    /// Whether its scope names entities (its bundle scope has a head).
    pub has_head: bool,
    /// The value to compute when it applies (rate-limit key, header value), and what it is
    /// called in messages.
    pub value: Option<(NodeId, &'static str)>,
}

/// A `principal` mapping, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledMapping {
    pub entity_type: TypeId,
    pub id: NodeId,
    pub when: Span,
    pub package: PackageId,
}

/// Regexes compiled by the bundle checker, by pattern.
#[derive(Debug, Default)]
pub(crate) struct RegexTable {
    pub ids: HashMap<String, u32>,
    pub compiled: Vec<Regex>,
}

/// Lowers bundle expressions into a [`Program`].
pub(crate) struct Compiler<'s> {
    program: Program,
    symbols: &'s crate::engine::NameMap<Sym>,
    regex_ids: HashMap<String, u32>,
    /// Constants already in the table, so equal constants share one entry.
    const_ids: HashMap<Value, u32>,
    /// Nodes already in the table, so equal expressions share one node.
    node_ids: HashMap<Node, NodeId, foldhash::fast::RandomState>,
    /// Keys already in the table, by name.
    key_ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl<'s> Compiler<'s> {
    /// A compiler resolving key names with `symbols` and patterns with `regexes`.
    pub(crate) fn new(symbols: &'s crate::engine::NameMap<Sym>, regexes: RegexTable) -> Self {
        Compiler {
            program: Program {
                regexes: regexes.compiled,
                ..Program::default()
            },
            symbols,
            regex_ids: regexes.ids,
            const_ids: HashMap::new(),
            node_ids: HashMap::default(),
            key_ids: HashMap::default(),
        }
    }

    pub(crate) fn finish(self) -> Program {
        self.program
    }

    /// Compiles a condition: its conjuncts' code, then the run of their roots.
    pub(crate) fn condition(&mut self, condition: &Condition) -> Result<Span, LoadError> {
        let roots = condition
            .conjuncts
            .iter()
            .map(|c| self.expr(&c.expr))
            .collect::<Result<Vec<_>, _>>()?;
        let start = self.program.conjuncts.len();
        self.program.conjuncts.extend(roots);
        Span::between(start, self.program.conjuncts.len()).ok_or_else(too_large)
    }

    /// The value expression of an obligation kind, if it has one.
    pub(crate) fn obligation_value(
        &mut self,
        kind: &ObligationKind,
    ) -> Result<Option<NodeId>, LoadError> {
        match kind {
            ObligationKind::RateLimit { key: value, .. }
            | ObligationKind::RequestHeader { value, .. }
            | ObligationKind::ResponseHeader { value, .. } => self.expr(value).map(Some),
            ObligationKind::Mask { .. } | ObligationKind::RemoveHeader { .. } => Ok(None),
        }
    }

    /// Compiles one expression; returns its root.
    /// `is`, time parts, `if` and tag reads, out of [`Self::expr`]'s frame: every arm there adds to
    /// the stack each nesting level takes (a debug build keeps every temporary), and deep
    /// `and`/`or` chains must load on a 1 MiB stack.
    #[inline(never)]
    fn rarer(&mut self, expr: &Expr) -> Result<Node, LoadError> {
        Ok(match expr {
            Expr::Is(inner, ty) => Node::Is(self.expr(inner)?, *ty),
            Expr::TimePart(inner, part) => Node::TimePart(self.expr(inner)?, *part),
            Expr::If(c, a, b) => {
                let condition = self.expr(c)?;
                let branches = [self.expr(a)?, self.expr(b)?];
                let start = u32::try_from(self.program.lists.len()).map_err(|_| too_large())?;
                self.program.lists.extend(branches);
                Node::If(condition, start)
            }
            Expr::HasTag(entity, key) => Node::HasTag(self.expr(entity)?, self.expr(key)?),
            Expr::GetTag(entity, key) => Node::GetTag(self.expr(entity)?, self.expr(key)?),
            _ => {
                return Err(InvalidBundleError::new(
                    "expressions",
                    "not an is, time part, if or tag read",
                )
                .into())
            }
        })
    }

    pub(crate) fn expr(&mut self, expr: &Expr) -> Result<NodeId, LoadError> {
        let node = match expr {
            Expr::Const(value) => Node::Const(self.constant(value)?),
            Expr::Principal => Node::Principal,
            Expr::Action => Node::Action,
            Expr::Resource => Node::Resource,
            Expr::Context => Node::Context,
            Expr::Now => Node::Now,
            Expr::Param(index) => Node::Param(*index),
            Expr::Attr(inner, sym) => match inner.as_ref() {
                Expr::Context => Node::ContextField(*sym),
                Expr::Principal => Node::PrincipalAttr(*sym),
                Expr::Resource => Node::ResourceAttr(*sym),
                _ => Node::Attr(self.expr(inner)?, *sym),
            },
            Expr::Index(inner, key) => {
                let known = self.symbols.contains_key(key.as_str());
                match inner.as_ref() {
                    Expr::Context if known => Node::ContextKey(self.key(key)?),
                    _ => {
                        let target = self.expr(inner)?;
                        Node::Index(target, self.key(key)?)
                    }
                }
            }
            Expr::Has(inner, key) => match inner.as_ref() {
                Expr::Context => Node::ContextHas(self.key(key)?),
                _ => {
                    let target = self.expr(inner)?;
                    Node::Has(target, self.key(key)?)
                }
            },
            Expr::EntityCtor(ty, inner) => Node::EntityCtor(*ty, self.expr(inner)?),
            Expr::Set(items) if items.iter().all(|item| matches!(item, Expr::Const(_))) => {
                let values = items.iter().filter_map(constant_value).cloned().collect();
                Node::Const(self.constant(&Value::set(values))?)
            }
            Expr::Record(fields)
                if fields
                    .iter()
                    .all(|(_, item)| matches!(item, Expr::Const(_))) =>
            {
                let values = fields
                    .iter()
                    .filter_map(|(sym, item)| Some((*sym, constant_value(item)?.clone())))
                    .collect();
                Node::Const(self.constant(&Value::Record(Arc::new(Record::new(values))))?)
            }
            Expr::Set(items) => {
                let ids = items
                    .iter()
                    .map(|item| self.expr(item))
                    .collect::<Result<Vec<_>, _>>()?;
                let start = self.program.lists.len();
                self.program.lists.extend(ids);
                Node::Set(Span::between(start, self.program.lists.len()).ok_or_else(too_large)?)
            }
            Expr::Record(fields) => {
                let ids = fields
                    .iter()
                    .map(|(sym, item)| Ok((*sym, self.expr(item)?)))
                    .collect::<Result<Vec<_>, LoadError>>()?;
                let start = self.program.fields.len();
                self.program.fields.extend(ids);
                let span = Span::between(start, self.program.fields.len()).ok_or_else(too_large)?;
                Node::Record(span)
            }
            Expr::Not(inner) => Node::Not(self.expr(inner)?),
            Expr::Neg(inner) => Node::Neg(self.expr(inner)?),
            Expr::And(left, right) => Node::And(self.expr(left)?, self.expr(right)?),
            Expr::Or(left, right) => Node::Or(self.expr(left)?, self.expr(right)?),
            Expr::Binary(op, left, right) => match right.as_ref() {
                Expr::Const(value) => {
                    let left = self.expr(left)?;
                    Node::BinaryConst(*op, left, self.constant(value)?)
                }
                _ => Node::Binary(*op, self.expr(left)?, self.expr(right)?),
            },
            Expr::Is(..)
            | Expr::TimePart(..)
            | Expr::If(..)
            | Expr::HasTag(..)
            | Expr::GetTag(..) => self.rarer(expr)?,
            Expr::Like(inner, glob) => {
                let target = self.expr(inner)?;
                Node::Like(target, push(&mut self.program.globs, glob.clone())?)
            }
            Expr::Matches(inner, pattern) => {
                let Some(regex) = self.regex_ids.get(pattern.as_str()).copied() else {
                    return Err(InvalidBundleError::new(
                        "regexes",
                        format!("regex `{pattern}` was not compiled"),
                    )
                    .into());
                };
                Node::Matches(self.expr(inner)?, regex)
            }
        };
        if let Some(id) = self.node_ids.get(&node) {
            return Ok(*id);
        }
        let id = push(&mut self.program.nodes, node)?;
        self.node_ids.insert(node, id);
        Ok(id)
    }

    /// The table entry of a constant: shared with equal constants, and allocated afresh
    /// so that the texts of rules compiled together sit together in memory.
    fn constant(&mut self, value: &Value) -> Result<u32, LoadError> {
        if let Some(index) = self.const_ids.get(value) {
            return Ok(*index);
        }
        let index = push(&mut self.program.consts, relocated(value))?;
        self.const_ids.insert(value.clone(), index);
        Ok(index)
    }

    fn key(&mut self, name: &str) -> Result<u32, LoadError> {
        if let Some(index) = self.key_ids.get(name) {
            return Ok(*index);
        }
        let key = Key {
            name: Box::from(name),
            sym: self.symbols.get(name).copied(),
        };
        let index = push(&mut self.program.keys, key)?;
        self.key_ids.insert(Box::from(name), index);
        Ok(index)
    }
}

fn constant_value(expr: &Expr) -> Option<&Value> {
    match expr {
        Expr::Const(value) => Some(value),
        _ => None,
    }
}

/// A deep copy of a value: equal, with its own allocations.
fn relocated(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(Arc::from(&**text)),
        Value::Entity(uid) => Value::Entity(EntityUid {
            ty: uid.ty,
            id: Arc::from(&*uid.id),
        }),
        Value::Set(items) => Value::Set(items.iter().map(relocated).collect()),
        Value::Record(record) => Value::Record(Arc::new(Record {
            fields: record
                .fields
                .iter()
                .map(|(sym, item)| (*sym, relocated(item)))
                .collect(),
        })),
        Value::Map(map) => Value::Map(Arc::new(
            map.iter()
                .map(|(key, item)| (Arc::from(&**key), relocated(item)))
                .collect(),
        )),
        Value::Bool(_)
        | Value::Int(_)
        | Value::Ip(_)
        | Value::Duration(_)
        | Value::Timestamp(_)
        | Value::Decimal(_)
        | Value::Tls(_)
        | Value::Enum(..) => value.clone(),
    }
}

/// Appends to a table; returns the new entry's index.
fn push<T>(table: &mut Vec<T>, item: T) -> Result<u32, LoadError> {
    let index = u32::try_from(table.len()).map_err(|_| too_large())?;
    table.push(item);
    Ok(index)
}

fn too_large() -> LoadError {
    InvalidBundleError::new("bundle", "too many expressions to compile").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Conjunct;

    #[test]
    fn nodes_and_rules_stay_small() {
        assert!(std::mem::size_of::<Node>() <= 12);
        assert!(std::mem::size_of::<CompiledRule>() <= 20);
    }

    #[test]
    fn a_rule_finds_its_clauses_in_one_run() {
        let span = |start, len| Some(Span { start, len });
        let rule = CompiledRule::new(7, RuleKind::Require, 0, [span(4, 2), None, span(6, 1)]);
        let rule = rule.ok();
        assert_eq!(rule.as_ref().map(CompiledRule::when), span(4, 2));
        assert_eq!(rule.as_ref().and_then(CompiledRule::unless), None);
        assert_eq!(rule.as_ref().and_then(CompiledRule::require), span(6, 1));
        // Clauses that are not one after the other are refused.
        let gap = CompiledRule::new(7, RuleKind::Deny, 0, [span(4, 2), span(7, 1), None]);
        assert!(gap.is_err());
    }

    #[test]
    fn children_come_first_and_context_fields_are_direct() {
        let symbols: crate::engine::NameMap<Sym> =
            [("tls".to_string(), 0), ("mtls".to_string(), 1)]
                .into_iter()
                .collect();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let expr = Expr::Attr(Box::new(Expr::Attr(Box::new(Expr::Context), 0)), 1);
        let condition = Condition {
            conjuncts: vec![Conjunct {
                expr: Expr::Index(Box::new(Expr::Context), "tls".into()),
                text: String::new(),
            }],
        };
        let root = compiler.expr(&expr).ok();
        let span = compiler.condition(&condition).ok();
        let program = compiler.finish();
        assert_eq!(root, Some(1));
        assert_eq!(program.node(0), Some(Node::ContextField(0)));
        assert_eq!(program.node(1), Some(Node::Attr(0, 1)));
        let roots = span.map(|s| program.conjuncts(s).to_vec());
        assert_eq!(roots, Some(vec![2]));
        assert_eq!(program.node(2), Some(Node::ContextKey(0)));
        assert_eq!(program.key(0).and_then(|k| k.sym), Some(0));
    }

    #[test]
    fn equal_expressions_share_a_node_and_are_marked_shared() {
        let symbols = crate::engine::NameMap::default();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let tls = || {
            Expr::Binary(
                BinaryOp::Ge,
                Box::new(Expr::Attr(Box::new(Expr::Context), 0)),
                Box::new(Expr::Const(Value::Int(12))),
            )
        };
        let other = Expr::Has(Box::new(Expr::Resource), "a".into());
        let condition = |exprs: Vec<Expr>| Condition {
            conjuncts: exprs
                .into_iter()
                .map(|expr| Conjunct {
                    expr,
                    text: String::new(),
                })
                .collect(),
        };
        let first = compiler.condition(&condition(vec![tls(), other.clone()]));
        let second = compiler.condition(&condition(vec![tls()]));
        let third = compiler.condition(&condition(vec![other]));
        let mut program = compiler.finish();
        let (Ok(first), Ok(second), Ok(third)) = (first, second, third) else {
            unreachable!("the conditions compile");
        };
        // Rules of actions 1 and 2, and of action 1; a rule of action 3 shares nothing.
        program.mark_shared(&[
            (Some(&[1, 2][..]), first),
            (Some(&[1][..]), second),
            (Some(&[3][..]), third),
        ]);
        let first: Vec<_> = program.conjuncts_shared(first).collect();
        let second: Vec<_> = program.conjuncts_shared(second).collect();
        assert_eq!(first.first(), second.first());
        assert_eq!(first.first().map(|c| c.1), Some(true));
        assert_eq!(first.get(1).map(|c| c.1), Some(false));
        // `context.0`, `>= 12`, `resource`, `has`: one node each.
        assert_eq!(program.nodes.len(), 4);
    }

    #[test]
    fn equal_constants_share_an_entry() {
        let symbols = crate::engine::NameMap::default();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let text = Expr::Const(Value::set(vec![Value::string("a"), Value::string("b")]));
        let first = compiler.expr(&text).ok();
        let second = compiler.expr(&text).ok();
        let other = compiler.expr(&Expr::Const(Value::Int(1))).ok();
        let program = compiler.finish();
        let constant = |node: Option<NodeId>| match node.and_then(|n| program.node(n)) {
            Some(Node::Const(index)) => Some(index),
            _ => None,
        };
        assert_eq!(constant(first), Some(0));
        assert_eq!(constant(second), Some(0));
        assert_eq!(constant(other), Some(1));
        assert_eq!(
            program.constant(0),
            Some(&Value::set(vec![Value::string("b"), Value::string("a")]))
        );
    }

    #[test]
    fn constant_sets_and_records_are_folded() {
        let symbols = crate::engine::NameMap::default();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let items = vec![Expr::Const(Value::Int(2)), Expr::Const(Value::Int(1))];
        let set = compiler.expr(&Expr::Set(items)).ok();
        let record = Expr::Record(vec![(3, Expr::Const(Value::Bool(true)))]);
        let record = compiler.expr(&record).ok();
        let mixed = Expr::Set(vec![Expr::Const(Value::Int(1)), Expr::Action]);
        let mixed = compiler.expr(&mixed).ok();
        let program = compiler.finish();
        let node = |id: Option<NodeId>| id.and_then(|n| program.node(n));
        assert_eq!(node(set), Some(Node::Const(0)));
        assert_eq!(
            program.constant(0),
            Some(&Value::set(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(node(record), Some(Node::Const(1)));
        assert!(matches!(node(mixed), Some(Node::Set(_))));
    }

    #[test]
    fn unknown_regexes_are_load_errors() {
        let symbols = crate::engine::NameMap::default();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let expr = Expr::Matches(Box::new(Expr::Action), "a+".into());
        assert!(compiler.expr(&expr).is_err());
    }
}
