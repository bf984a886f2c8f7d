//! Discriminating keys: the conjunct of a rule's `when` that the second level of the rule
//! index files the rule under (see [`crate::index`]).
//!
//! A rule may be left out of a request's candidates only if evaluating it could not have
//! changed the decision, its deciding rules, obligations or errors. A rule's `when` is
//! evaluated conjunct by conjunct, left to right (`a and b` inside a conjunct likewise);
//! the first false conjunct makes the rule not apply (no effect), the first failing one
//! makes it an error (reported; a failing deny applies). So a rule is filed under a
//! conjunct only when:
//!
//! - the conjunct is *required*: a top-level conjunct of `when`, or the operand of a chain
//!   of `and`s that is one (never under `or` or `not`, never in `unless` or a required
//!   condition);
//! - every conjunct evaluated before it cannot fail (a boolean constant, `context has f`,
//!   `resource has a`), so when the key does not match, the rule's verdict is "`when` is
//!   false" and nothing else;
//! - the conjunct itself is false, not an error, whenever the key does not match. For
//!   `principal in Type::"id"` and `principal == Type::"id"` that holds whenever the
//!   principal is an entity, which the index checks per request; for `PATH == constant`
//!   (`resource.a`, `principal.a`, `context.f`, and further `.b` of those) the index reads
//!   the path's value for the request and keeps every rule on that path when the value is
//!   missing, fails, or has another type than the constant (then `==` fails too). A
//!   path read as a condition, `PATH` or `not PATH`, is keyed as `PATH == true` (or
//!   `false`): it is false exactly when the value is the other boolean and fails when the
//!   value is not a boolean.
//!
//! The first conjunct of that form wins; scanning stops at the first conjunct that might
//! fail.

use std::ops::ControlFlow;

use crate::bundle::{BinaryOp, EnumId, Sym};
use crate::program::{Node, NodeId, Program};
use crate::value::{EntityUid, Value};

/// What a rule is filed under in the second level of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Discriminator {
    /// `principal in E` or `principal == E`: candidates when `E` is the principal or one
    /// of its ancestors.
    Principal(EntityUid),
    /// `path == value`: candidates when the request's value at `path` is `value`, or
    /// cannot be compared with it.
    Equals {
        path: Path,
        /// A node that reads `path` (the rule's own left operand).
        probe: NodeId,
        value: Value,
    },
}

/// Where a value is read from: a request variable and the attributes under it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Path {
    base: Base,
    attrs: Vec<Sym>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Base {
    Principal,
    Resource,
    Context,
}

/// Values `==` compares without failing are of one class (the same kind; enums of the
/// same enum type). Rules on one path are grouped by the class of their constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TypeClass(u8, EnumId);

impl TypeClass {
    pub(crate) fn of(value: &Value) -> TypeClass {
        let kind = match value {
            Value::Bool(_) => 0,
            Value::Int(_) => 1,
            Value::String(_) => 2,
            Value::Ip(_) => 3,
            Value::Duration(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Tls(_) => 6,
            Value::Enum(id, _) => return TypeClass(7, *id),
            Value::Entity(_) => 8,
            Value::Set(_) => 9,
            Value::Record(_) => 10,
            Value::Map(_) => 11,
            Value::Decimal(_) => 12,
        };
        TypeClass(kind, 0)
    }
}

/// The discriminating key of a condition given as its conjuncts, if it has one.
pub(crate) fn discriminator(program: &Program, when: &[NodeId]) -> Option<Discriminator> {
    let mut found = None;
    for &conjunct in when {
        if scan(program, conjunct, &mut found).is_break() {
            break;
        }
    }
    found
}

/// Walks a required conjunct in evaluation order: `Continue` past operands that cannot
/// fail, `Break` at the key (stored in `found`) or at the first operand that might fail.
fn scan(program: &Program, at: NodeId, found: &mut Option<Discriminator>) -> ControlFlow<()> {
    let Some(node) = program.node(at) else {
        return ControlFlow::Break(());
    };
    if let Node::And(left, right) = node {
        scan(program, left, found)?;
        return scan(program, right, found);
    }
    if let Some(key) = key_of(program, at, node) {
        *found = Some(key);
        return ControlFlow::Break(());
    }
    if cannot_fail(program, node) {
        ControlFlow::Continue(())
    } else {
        ControlFlow::Break(())
    }
}

/// The key of one conjunct (`node`, at `at`), if it has a discriminating form.
fn key_of(program: &Program, at: NodeId, node: Node) -> Option<Discriminator> {
    // A path read as a condition, bare or under `not`, is `PATH == true` (or `false`):
    // true or false exactly when the value is a boolean, failing otherwise.
    let flag = |probe: NodeId, value: bool| {
        Some(Discriminator::Equals {
            path: path_of(program, probe)?,
            probe,
            value: Value::Bool(value),
        })
    };
    let (op, left, constant) = match node {
        Node::BinaryConst(op, left, constant) => (op, left, constant),
        Node::Not(inner) => return flag(inner, false),
        _ => return flag(at, true),
    };
    let constant = program.constant(constant)?;
    let left_node = program.node(left)?;
    match (op, left_node, constant) {
        (BinaryOp::In | BinaryOp::Eq, Node::Principal, Value::Entity(uid)) => {
            Some(Discriminator::Principal(uid.clone()))
        }
        (BinaryOp::Eq, _, value) => Some(Discriminator::Equals {
            path: path_of(program, left)?,
            probe: left,
            value: value.clone(),
        }),
        _ => None,
    }
}

/// The path a node reads, if it is a chain of attributes on a request variable.
fn path_of(program: &Program, at: NodeId) -> Option<Path> {
    let (base, sym) = match program.node(at)? {
        Node::PrincipalAttr(sym) => (Base::Principal, sym),
        Node::ResourceAttr(sym) => (Base::Resource, sym),
        Node::ContextField(sym) => (Base::Context, sym),
        Node::Attr(inner, sym) => {
            let mut path = path_of(program, inner)?;
            path.attrs.push(sym);
            return Some(path);
        }
        _ => return None,
    };
    Some(Path {
        base,
        attrs: vec![sym],
    })
}

/// Conjuncts that evaluate to a boolean without failing in any decision.
fn cannot_fail(program: &Program, node: Node) -> bool {
    match node {
        Node::Const(index) => matches!(program.constant(index), Some(Value::Bool(_))),
        // The context is always known while deciding.
        Node::ContextHas(_) => true,
        // The resource is always an entity; `has` on an entity does not fail.
        Node::Has(inner, _) => matches!(program.node(inner), Some(Node::Resource)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bundle::{Condition, Conjunct, Expr};
    use crate::program::{Compiler, RegexTable};

    /// A key, spelled out: the entity, or the path and the constant.
    type Found = Option<(Option<EntityUid>, Option<(Path, Value)>)>;

    fn group(id: &str) -> Expr {
        Expr::Const(Value::Entity(EntityUid {
            ty: 2,
            id: Arc::from(id),
        }))
    }

    fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary(op, Box::new(left), Box::new(right))
    }

    fn attr(base: Expr, sym: Sym) -> Expr {
        Expr::Attr(Box::new(base), sym)
    }

    fn text(value: &str) -> Expr {
        Expr::Const(Value::string(value))
    }

    /// The key of a `when` made of `conjuncts`, with the key's path spelled out.
    fn key(conjuncts: Vec<Expr>) -> Found {
        let symbols = crate::engine::NameMap::default();
        let mut compiler = Compiler::new(&symbols, RegexTable::default());
        let condition = Condition {
            conjuncts: conjuncts
                .into_iter()
                .map(|expr| Conjunct {
                    expr,
                    text: String::new(),
                })
                .collect(),
        };
        let span = compiler.condition(&condition).ok()?;
        let program = compiler.finish();
        match discriminator(&program, program.conjuncts(span))? {
            Discriminator::Principal(uid) => Some((Some(uid), None)),
            Discriminator::Equals { path, probe, value } => {
                assert_eq!(path_of(&program, probe).as_ref(), Some(&path));
                Some((None, Some((path, value))))
            }
        }
    }

    fn entity(id: &str) -> Found {
        Some((
            Some(EntityUid {
                ty: 2,
                id: Arc::from(id),
            }),
            None,
        ))
    }

    fn equals(base: Base, attrs: &[Sym], value: Value) -> Found {
        let path = Path {
            base,
            attrs: attrs.to_vec(),
        };
        Some((None, Some((path, value))))
    }

    #[test]
    fn principal_membership_and_equality_are_keys() {
        let is_in = bin(BinaryOp::In, Expr::Principal, group("t17"));
        let tenant = bin(
            BinaryOp::Eq,
            attr(Expr::Resource, 0),
            attr(Expr::Principal, 0),
        );
        let kind = bin(BinaryOp::Eq, attr(Expr::Resource, 1), text("invoice"));
        assert_eq!(
            key(vec![is_in.clone(), tenant.clone(), kind.clone()]),
            entity("t17")
        );
        let eq = bin(BinaryOp::Eq, Expr::Principal, group("alice"));
        assert_eq!(key(vec![eq]), entity("alice"));
        // `principal in` a set, or `!=`, is not a key.
        let ne = bin(BinaryOp::Ne, Expr::Principal, group("alice"));
        assert_eq!(key(vec![ne]), None);
    }

    #[test]
    fn equality_with_a_constant_is_a_key_on_its_path() {
        let kind = bin(BinaryOp::Eq, attr(Expr::Resource, 1), text("invoice"));
        assert_eq!(
            key(vec![kind]),
            equals(Base::Resource, &[1], Value::string("invoice"))
        );
        let level = bin(
            BinaryOp::Eq,
            attr(attr(Expr::Context, 3), 4),
            Expr::Const(Value::Int(2)),
        );
        assert_eq!(
            key(vec![level]),
            equals(Base::Context, &[3, 4], Value::Int(2))
        );
        let plan = bin(BinaryOp::Eq, attr(Expr::Principal, 5), text("gold"));
        assert_eq!(
            key(vec![plan]),
            equals(Base::Principal, &[5], Value::string("gold"))
        );
        // Not a path on a request variable, or not `==`.
        let action = bin(BinaryOp::Eq, Expr::Action, text("read"));
        assert_eq!(key(vec![action]), None);
        let ne = bin(BinaryOp::Ne, attr(Expr::Resource, 1), text("invoice"));
        assert_eq!(key(vec![ne]), None);
    }

    #[test]
    fn a_path_read_as_a_condition_is_a_key_on_a_boolean() {
        let blocked = attr(Expr::Principal, 2);
        assert_eq!(
            key(vec![blocked.clone()]),
            equals(Base::Principal, &[2], Value::Bool(true))
        );
        let mtls = attr(attr(Expr::Context, 3), 6);
        assert_eq!(
            key(vec![Expr::Not(Box::new(mtls))]),
            equals(Base::Context, &[3, 6], Value::Bool(false))
        );
        // Not a path: no key; `not not p` is not a key either.
        assert_eq!(key(vec![Expr::Principal]), None);
        let twice = Expr::Not(Box::new(Expr::Not(Box::new(blocked))));
        assert_eq!(key(vec![twice]), None);
        assert_eq!(key(vec![Expr::Not(Box::new(Expr::Context))]), None);
    }

    #[test]
    fn only_required_conjuncts_after_infallible_ones_are_keys() {
        let is_in = || bin(BinaryOp::In, Expr::Principal, group("g"));
        let kind = || bin(BinaryOp::Eq, attr(Expr::Resource, 1), text("x"));
        let fallible = || {
            bin(
                BinaryOp::Eq,
                attr(Expr::Resource, 0),
                attr(Expr::Principal, 0),
            )
        };
        // Under `or` or `not`: no key.
        let or = Expr::Or(Box::new(is_in()), Box::new(kind()));
        assert_eq!(key(vec![or]), None);
        assert_eq!(key(vec![Expr::Not(Box::new(is_in()))]), None);
        // After a conjunct that may fail: no key (the rule could report an error).
        assert_eq!(key(vec![fallible(), is_in()]), None);
        assert_eq!(key(vec![fallible(), kind()]), None);
        // The first key wins, even if a later one is more selective.
        assert_eq!(
            key(vec![kind(), is_in()]),
            equals(Base::Resource, &[1], Value::string("x"))
        );
        // After conjuncts that cannot fail, and inside a chain of `and`s.
        let has = Expr::Has(Box::new(Expr::Resource), "a".into());
        let context_has = Expr::Has(Box::new(Expr::Context), "a".into());
        let yes = Expr::Const(Value::Bool(true));
        let chain = Expr::And(Box::new(has), Box::new(is_in()));
        assert_eq!(key(vec![yes, context_has, chain]), entity("g"));
        // `principal has` is not known not to fail; nor is a non-boolean constant.
        let principal_has = Expr::Has(Box::new(Expr::Principal), "a".into());
        assert_eq!(key(vec![principal_has, is_in()]), None);
        assert_eq!(key(vec![Expr::Const(Value::Int(1)), is_in()]), None);
        assert_eq!(key(vec![]), None);
    }
}
