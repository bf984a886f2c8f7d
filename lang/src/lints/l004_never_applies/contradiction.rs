//! Contradictory conditions: conjuncts of a compiled condition that no request can make
//! hold together.
//!
//! Each conjunct assumed to hold (or to fail) becomes a list of [`Fact`]s: the conjunct
//! itself as a literal (`X` holds, `X` fails), and constraints on *terms* (side-effect-free
//! paths such as `principal.level` or `context.auth.method`) compared with constants. Two
//! facts conflict when they are `X` and `not X` for structurally equal `X`, or constrain the
//! same term in incompatible ways (`t == a` and `t == b`, `t > 5` and `t < 3`, …). The check
//! is pairwise and conservative: anything it does not understand (an `or` that must hold,
//! non-constant sides, values of different types) yields no fact, so no conflict.

use std::cmp::Ordering;

use rampart_engine::bundle::{BinaryOp, Expr};
use rampart_engine::Value;

use crate::ast::Span;

/// The clause a conjunct was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Clause {
    When,
    Unless,
    Require,
}

/// One conjunct of a clause: where it was written, its text and its compiled form.
#[derive(Clone, Copy, Debug)]
pub(super) struct Part<'a> {
    pub clause: Clause,
    pub span: Span,
    pub text: &'a str,
    pub expr: &'a Expr,
}

/// Two parts that cannot both be as assumed. `first` comes before `second` in the order
/// they were assumed; they are the same part when it contradicts itself (`single`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Conflict<'a> {
    pub first: Part<'a>,
    pub second: Part<'a>,
    pub single: bool,
}

/// Conjuncts assumed to hold or to fail, and what that says about the request.
#[derive(Clone, Debug, Default)]
pub(super) struct Assumptions<'a> {
    parts: Vec<Part<'a>>,
    facts: Vec<Fact<'a>>,
}

impl<'a> Assumptions<'a> {
    /// Assumes `part` holds (`holds`) or fails (`!holds`).
    pub fn assume(&mut self, part: Part<'a>, holds: bool) {
        let index = self.parts.len();
        self.parts.push(part);
        collect(part.expr, holds, index, &mut self.facts);
    }

    /// The first pair of assumptions that cannot both be true, by the position of the
    /// later one.
    pub fn conflict(&self) -> Option<Conflict<'a>> {
        self.facts.iter().enumerate().find_map(|(j, later)| {
            let earlier = self.facts[..=j].iter().find(|f| conflicts(f, later))?;
            Some(Conflict {
                first: *self.parts.get(earlier.part)?,
                second: *self.parts.get(later.part)?,
                single: earlier.part == later.part,
            })
        })
    }
}

/// Something an assumed conjunct says, with the index of its part.
#[derive(Clone, Debug)]
struct Fact<'a> {
    part: usize,
    kind: FactKind<'a>,
}

#[derive(Clone, Debug)]
enum FactKind<'a> {
    /// The part can never be as assumed (a constant of the other truth value).
    Impossible,
    /// `expr` evaluates to `holds`.
    Literal { expr: &'a Expr, holds: bool },
    /// A constraint on the value of a term.
    Term {
        term: &'a Expr,
        constraint: Constraint,
    },
}

/// What a term's value must be. Set constraints hold only sets whose membership is plain
/// equality (see [`equality_member`]).
#[derive(Clone, Debug)]
enum Constraint {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    /// `t > v` (strict) or `t >= v`, for ordered values.
    Lower(Bound),
    /// `t < v` (strict) or `t <= v`, for ordered values.
    Upper(Bound),
}

#[derive(Clone, Debug)]
struct Bound {
    value: Value,
    strict: bool,
}

/// Adds the facts of `expr` evaluating to `holds`: `and` that holds and `or` that fails
/// split into their operands, `not` flips, anything else is an atom.
fn collect<'a>(expr: &'a Expr, holds: bool, part: usize, out: &mut Vec<Fact<'a>>) {
    let mut stack = vec![(expr, holds)];
    while let Some((e, holds)) = stack.pop() {
        match e {
            Expr::And(l, r) if holds => {
                stack.push((r, true));
                stack.push((l, true));
            }
            Expr::Or(l, r) if !holds => {
                stack.push((r, false));
                stack.push((l, false));
            }
            Expr::Not(inner) => stack.push((inner, !holds)),
            _ => atom(e, holds, part, out),
        }
    }
}

fn atom<'a>(expr: &'a Expr, holds: bool, part: usize, out: &mut Vec<Fact<'a>>) {
    let mut push = |kind| out.push(Fact { part, kind });
    if let Expr::Const(Value::Bool(value)) = expr {
        if *value != holds {
            push(FactKind::Impossible);
        }
        return;
    }
    push(FactKind::Literal { expr, holds });
    if is_term(expr) {
        let constraint = Constraint::Eq(Value::Bool(holds));
        push(FactKind::Term {
            term: expr,
            constraint,
        });
    } else if let Some((term, constraint)) = comparison(expr, holds) {
        push(FactKind::Term { term, constraint });
    }
}

/// A side-effect-free path: the request's parts, route parameters, attribute and index
/// access on them.
fn is_term(expr: &Expr) -> bool {
    let mut e = expr;
    loop {
        match e {
            Expr::Principal
            | Expr::Resource
            | Expr::Context
            | Expr::Action
            | Expr::Now
            | Expr::Param(_) => return true,
            Expr::Attr(inner, _) | Expr::Index(inner, _) => e = inner,
            _ => return false,
        }
    }
}

/// A term compared with a constant, evaluating to `holds`, as a constraint on the term.
fn comparison(expr: &Expr, holds: bool) -> Option<(&Expr, Constraint)> {
    let Expr::Binary(op, left, right) = expr else {
        return None;
    };
    let (term, op, value) = match (&**left, &**right) {
        (t, Expr::Const(v)) if is_term(t) => (t, *op, v),
        (Expr::Const(v), t) if is_term(t) => (t, flipped(*op)?, v),
        _ => return None,
    };
    if op == BinaryOp::In {
        let set = equality_set(value)?;
        return Some((
            term,
            if holds {
                Constraint::In(set)
            } else {
                Constraint::NotIn(set)
            },
        ));
    }
    let op = if holds { op } else { negated(op)? };
    let bound = |strict| {
        ordered(value).then(|| Bound {
            value: value.clone(),
            strict,
        })
    };
    let constraint = match op {
        BinaryOp::Eq => Constraint::Eq(value.clone()),
        BinaryOp::Ne => Constraint::Ne(value.clone()),
        BinaryOp::Gt => Constraint::Lower(bound(true)?),
        BinaryOp::Ge => Constraint::Lower(bound(false)?),
        BinaryOp::Lt => Constraint::Upper(bound(true)?),
        BinaryOp::Le => Constraint::Upper(bound(false)?),
        _ => return None,
    };
    Some((term, constraint))
}

/// `c op t` as `t op' c`; `None` for operators that are not comparisons.
fn flipped(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq | BinaryOp::Ne => op,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        _ => return None,
    })
}

/// The comparison that holds exactly when `op` fails (both are errors on the same values).
fn negated(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Ne,
        BinaryOp::Ne => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::Ge,
        BinaryOp::Le => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::Le,
        BinaryOp::Ge => BinaryOp::Lt,
        _ => return None,
    })
}

/// Values ordered by `<` (ints, decimals, durations, timestamps, TLS versions).
fn ordered(value: &Value) -> bool {
    matches!(
        value,
        Value::Int(_)
            | Value::Decimal(_)
            | Value::Duration(_)
            | Value::Timestamp(_)
            | Value::Tls(_)
    )
}

/// Whether `t in [.., value, ..]` is plain equality with `value`: not an address (CIDR
/// containment) nor an entity (hierarchy), nor a compound value.
fn equality_member(value: &Value) -> bool {
    matches!(
        value,
        Value::Bool(_)
            | Value::Int(_)
            | Value::String(_)
            | Value::Duration(_)
            | Value::Timestamp(_)
            | Value::Decimal(_)
            | Value::Tls(_)
            | Value::Enum(..)
    )
}

/// The members of a non-empty constant set of one type whose membership is plain equality.
fn equality_set(value: &Value) -> Option<Vec<Value>> {
    let Value::Set(items) = value else {
        return None;
    };
    let first = items.first()?;
    let uniform = items
        .iter()
        .all(|v| equality_member(v) && same_type(first, v));
    uniform.then(|| items.to_vec())
}

/// Values of one type, as the engine compares them (enums of the same enum).
fn same_type(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Enum(x, _), Value::Enum(y, _)) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// Whether two facts cannot both be true.
fn conflicts(a: &Fact<'_>, b: &Fact<'_>) -> bool {
    match (&a.kind, &b.kind) {
        (FactKind::Impossible, _) | (_, FactKind::Impossible) => a.part == b.part,
        (FactKind::Literal { expr: x, holds: hx }, FactKind::Literal { expr: y, holds: hy }) => {
            hx != hy && x == y
        }
        (
            FactKind::Term {
                term: t,
                constraint: c,
            },
            FactKind::Term {
                term: u,
                constraint: d,
            },
        ) => t == u && (incompatible(c, d) || incompatible(d, c)),
        _ => false,
    }
}

/// Whether a term can satisfy `c` and `d` at once (checked in one orientation).
fn incompatible(c: &Constraint, d: &Constraint) -> bool {
    use Constraint::{Eq, In, Lower, Ne, NotIn, Upper};
    match (c, d) {
        (Eq(x), Eq(y)) => same_type(x, y) && x != y,
        (Eq(x), Ne(y)) => x == y,
        (Eq(x), In(set)) => member_of_type(x, set) && !set.contains(x),
        (Eq(x), NotIn(set)) => member_of_type(x, set) && set.contains(x),
        (Eq(x), Lower(b)) => below(x, b),
        (Eq(x), Upper(b)) => above(x, b),
        (In(s), In(t)) => same_set_type(s, t) && s.iter().all(|v| !t.contains(v)),
        (In(s), Ne(y)) => s.iter().all(|v| v == y),
        (In(s), NotIn(t)) => same_set_type(s, t) && s.iter().all(|v| t.contains(v)),
        (In(s), Lower(b)) => s.iter().all(|v| below(v, b)),
        (In(s), Upper(b)) => s.iter().all(|v| above(v, b)),
        (Lower(lo), Upper(hi)) => empty_interval(lo, hi),
        _ => false,
    }
}

/// `value` has the type of the members of `set` (sets of [`equality_set`] are non-empty
/// and of one type) and is compared by equality.
fn member_of_type(value: &Value, set: &[Value]) -> bool {
    equality_member(value) && set.first().is_some_and(|f| same_type(f, value))
}

/// Two sets of [`equality_set`] of the same member type.
fn same_set_type(s: &[Value], t: &[Value]) -> bool {
    matches!((s.first(), t.first()), (Some(a), Some(b)) if same_type(a, b))
}

/// `value` of the bound's type fails `t > b` / `t >= b`.
fn below(value: &Value, b: &Bound) -> bool {
    same_type(value, &b.value)
        && match value.cmp(&b.value) {
            Ordering::Less => true,
            Ordering::Equal => b.strict,
            Ordering::Greater => false,
        }
}

/// `value` of the bound's type fails `t < b` / `t <= b`.
fn above(value: &Value, b: &Bound) -> bool {
    same_type(value, &b.value)
        && match value.cmp(&b.value) {
            Ordering::Greater => true,
            Ordering::Equal => b.strict,
            Ordering::Less => false,
        }
}

/// No value lies above `lo` and below `hi`. Integers are discrete: `t > 5 and t < 6` is
/// empty.
fn empty_interval(lo: &Bound, hi: &Bound) -> bool {
    if !same_type(&lo.value, &hi.value) {
        return false;
    }
    if let (Value::Int(a), Value::Int(b)) = (&lo.value, &hi.value) {
        let least = if lo.strict {
            a.checked_add(1)
        } else {
            Some(*a)
        };
        let most = if hi.strict {
            b.checked_sub(1)
        } else {
            Some(*b)
        };
        return match (least, most) {
            (Some(least), Some(most)) => least > most,
            // `t > i64::MAX` or `t < i64::MIN`: no integer at all.
            _ => true,
        };
    }
    match lo.value.cmp(&hi.value) {
        Ordering::Greater => true,
        Ordering::Equal => lo.strict || hi.strict,
        Ordering::Less => false,
    }
}
