//! Constant folding over the IR: an operation whose operands are all constants becomes a
//! constant, with the engine's semantics (checked arithmetic, `has_scope`, globs).
//!
//! Only folds that cannot change what a request sees are done: `false and x` folds, but
//! `x and false` does not (evaluating `x` could be an error, which must stay visible);
//! entity hierarchy (`in` on entities) needs entity data and is never folded.

use std::sync::Arc;

use rampart_engine::bundle::{BinaryOp, Expr, Glob, Sym};
use rampart_engine::{EntityUid, Record, Value};

/// Why a constant operation has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoldError {
    /// Int arithmetic out of the 64-bit range.
    Overflow,
}

fn konst(e: &Expr) -> Option<&Value> {
    match e {
        Expr::Const(v) => Some(v),
        _ => None,
    }
}

pub fn not(x: Expr) -> Expr {
    match x {
        Expr::Const(Value::Bool(b)) => Expr::Const(Value::Bool(!b)),
        other => Expr::Not(Box::new(other)),
    }
}

pub fn neg(x: Expr) -> Result<Expr, FoldError> {
    match x {
        Expr::Const(Value::Int(n)) => n
            .checked_neg()
            .map(|n| Expr::Const(Value::Int(n)))
            .ok_or(FoldError::Overflow),
        Expr::Const(Value::Duration(n)) => n
            .checked_neg()
            .map(|n| Expr::Const(Value::Duration(n)))
            .ok_or(FoldError::Overflow),
        Expr::Const(Value::Decimal(n)) => n
            .checked_neg()
            .map(|n| Expr::Const(Value::Decimal(n)))
            .ok_or(FoldError::Overflow),
        other => Ok(Expr::Neg(Box::new(other))),
    }
}

/// `l and r`, short-circuit: only a constant left side folds.
pub fn and(l: Expr, r: Expr) -> Expr {
    match l {
        Expr::Const(Value::Bool(false)) => Expr::Const(Value::Bool(false)),
        Expr::Const(Value::Bool(true)) => r,
        l => Expr::And(Box::new(l), Box::new(r)),
    }
}

/// `l or r`, short-circuit: only a constant left side folds.
pub fn or(l: Expr, r: Expr) -> Expr {
    match l {
        Expr::Const(Value::Bool(true)) => Expr::Const(Value::Bool(true)),
        Expr::Const(Value::Bool(false)) => r,
        l => Expr::Or(Box::new(l), Box::new(r)),
    }
}

/// A set literal: constant when every element is.
pub fn set(items: Vec<Expr>) -> Expr {
    if items.iter().all(|e| konst(e).is_some()) {
        let values = items
            .into_iter()
            .filter_map(|e| {
                if let Expr::Const(v) = e {
                    Some(v)
                } else {
                    None
                }
            })
            .collect();
        return Expr::Const(Value::set(values));
    }
    Expr::Set(items)
}

/// A record literal: constant when every field is; fields sorted by symbol.
pub fn record(mut fields: Vec<(Sym, Expr)>) -> Expr {
    fields.sort_by_key(|(s, _)| *s);
    if fields.iter().all(|(_, e)| konst(e).is_some()) {
        let values: Vec<(Sym, Value)> = fields
            .into_iter()
            .filter_map(|(s, e)| {
                if let Expr::Const(v) = e {
                    Some((s, v))
                } else {
                    None
                }
            })
            .collect();
        return Expr::Const(Value::Record(Arc::new(Record::new(values))));
    }
    Expr::Record(fields)
}

pub fn attr(base: Expr, sym: Sym) -> Expr {
    if let Expr::Const(Value::Record(r)) = &base {
        if let Some(v) = r.get(sym) {
            return Expr::Const(v.clone());
        }
    }
    Expr::Attr(Box::new(base), sym)
}

pub fn index(base: Expr, key: &str) -> Expr {
    if let Expr::Const(Value::Map(m)) = &base {
        if let Some(v) = m.get(key) {
            return Expr::Const(v.clone());
        }
    }
    Expr::Index(Box::new(base), key.to_owned())
}

/// `base has name`; `sym` is the name's symbol when the base is a record.
pub fn has(base: Expr, name: &str, sym: Option<Sym>) -> Expr {
    match (&base, sym) {
        (Expr::Const(Value::Record(r)), Some(sym)) => {
            Expr::Const(Value::Bool(r.get(sym).is_some()))
        }
        (Expr::Const(Value::Record(_)), None) => Expr::Const(Value::Bool(false)),
        (Expr::Const(Value::Map(m)), _) => Expr::Const(Value::Bool(m.contains_key(name))),
        _ => Expr::Has(Box::new(base), name.to_owned()),
    }
}

pub fn entity_ctor(ty: u32, id: Expr) -> Expr {
    if let Expr::Const(Value::String(s)) = &id {
        return Expr::Const(Value::Entity(EntityUid { ty, id: s.clone() }));
    }
    Expr::EntityCtor(ty, Box::new(id))
}

/// `t.time_of_day`, `d.hours`, …: folded when `base` is constant.
pub fn time_part(base: Expr, part: rampart_engine::bundle::TimePart) -> Expr {
    if let Expr::Const(value) = &base {
        if let Some(v) = part.of(value) {
            return Expr::Const(v);
        }
    }
    Expr::TimePart(Box::new(base), part)
}

pub fn like(x: Expr, glob: Glob) -> Expr {
    if let Expr::Const(Value::String(s)) = &x {
        return Expr::Const(Value::Bool(glob_matches(&glob, s)));
    }
    Expr::Like(Box::new(x), glob)
}

pub fn matches(x: Expr, pattern: &str, regex: Option<&regex::Regex>) -> Expr {
    if let (Expr::Const(Value::String(s)), Some(re)) = (&x, regex) {
        return Expr::Const(Value::Bool(re.is_match(s)));
    }
    Expr::Matches(Box::new(x), pattern.to_owned())
}

/// A binary operation (not `and`/`or`): folded when both sides are constants and the
/// result does not depend on entity data.
pub fn binary(op: BinaryOp, l: Expr, r: Expr) -> Result<Expr, FoldError> {
    if let (Some(a), Some(b)) = (konst(&l), konst(&r)) {
        if let Some(v) = eval(op, a, b)? {
            return Ok(Expr::Const(v));
        }
    }
    Ok(Expr::Binary(op, Box::new(l), Box::new(r)))
}

fn eval(op: BinaryOp, a: &Value, b: &Value) -> Result<Option<Value>, FoldError> {
    use Value as V;
    let bool_of = |x: bool| Ok(Some(V::Bool(x)));
    match op {
        BinaryOp::Eq => bool_of(a == b),
        BinaryOp::Ne => bool_of(a != b),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ord = match (a, b) {
                (V::Int(x), V::Int(y))
                | (V::Duration(x), V::Duration(y))
                | (V::Timestamp(x), V::Timestamp(y))
                | (V::Decimal(x), V::Decimal(y)) => x.cmp(y),
                (V::Tls(x), V::Tls(y)) => x.cmp(y),
                _ => return Ok(None),
            };
            bool_of(match op {
                BinaryOp::Lt => ord.is_lt(),
                BinaryOp::Le => ord.is_le(),
                BinaryOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => arith(op, a, b),
        BinaryOp::In => match (a, b) {
            (V::Entity(_), _) => Ok(None),
            (V::Ip(x), V::Ip(y)) => bool_of(y.contains(x)),
            (V::Ip(x), V::Set(items)) => {
                bool_of(items.iter().any(|i| matches!(i, V::Ip(y) if y.contains(x))))
            }
            (x, V::Set(items)) => bool_of(items.contains(x)),
            _ => Ok(None),
        },
        BinaryOp::Contains => match (a, b) {
            (V::Set(items), x) => bool_of(items.contains(x)),
            (V::String(s), V::String(t)) => bool_of(s.contains(&**t)),
            _ => Ok(None),
        },
        BinaryOp::ContainsAny => match (a, b) {
            (V::Set(x), V::Set(y)) => bool_of(y.iter().any(|v| x.contains(v))),
            _ => Ok(None),
        },
        BinaryOp::ContainsAll => match (a, b) {
            (V::Set(x), V::Set(y)) => bool_of(y.iter().all(|v| x.contains(v))),
            _ => Ok(None),
        },
        BinaryOp::HasScope => match (a, b) {
            (V::Set(granted), V::String(wanted)) => bool_of(has_scope(granted, wanted)),
            _ => Ok(None),
        },
    }
}

fn arith(op: BinaryOp, a: &Value, b: &Value) -> Result<Option<Value>, FoldError> {
    use Value as V;
    let checked = |r: Option<i64>| r.ok_or(FoldError::Overflow);
    Ok(Some(match (op, a, b) {
        (BinaryOp::Add, V::Int(x), V::Int(y)) => V::Int(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, V::Int(x), V::Int(y)) => V::Int(checked(x.checked_sub(*y))?),
        (BinaryOp::Mul, V::Int(x), V::Int(y)) => V::Int(checked(x.checked_mul(*y))?),
        (BinaryOp::Add, V::Decimal(x), V::Decimal(y)) => V::Decimal(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, V::Decimal(x), V::Decimal(y)) => V::Decimal(checked(x.checked_sub(*y))?),
        (BinaryOp::Add, V::Duration(x), V::Duration(y)) => V::Duration(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, V::Duration(x), V::Duration(y)) => V::Duration(checked(x.checked_sub(*y))?),
        (BinaryOp::Mul, V::Duration(x), V::Int(y)) => V::Duration(checked(x.checked_mul(*y))?),
        (BinaryOp::Add, V::Timestamp(x), V::Duration(y)) => {
            V::Timestamp(checked(x.checked_add(*y))?)
        }
        (BinaryOp::Sub, V::Timestamp(x), V::Duration(y)) => {
            V::Timestamp(checked(x.checked_sub(*y))?)
        }
        (BinaryOp::Sub, V::Timestamp(x), V::Timestamp(y)) => {
            V::Duration(checked(x.checked_sub(*y))?)
        }
        _ => return Ok(None),
    }))
}

/// OAuth scope match: an exact grant, or a granted `P:*` (non-empty `P`) covering `P:…`.
pub fn has_scope(granted: &[Value], wanted: &str) -> bool {
    granted.iter().any(|g| match g {
        Value::String(g) => {
            if **g == *wanted {
                return true;
            }
            match g.strip_suffix('*') {
                Some(prefix) if prefix.len() > 1 && prefix.ends_with(':') => {
                    wanted.starts_with(prefix)
                }
                _ => false,
            }
        }
        _ => false,
    })
}

/// Splits a `like` pattern into the literal pieces between `*` wildcards (`\*` is a star).
pub fn glob(pattern: &str) -> Glob {
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                push_char(&mut pieces, '*');
            }
            '*' => pieces.push(String::new()),
            c => push_char(&mut pieces, c),
        }
    }
    Glob { pieces }
}

fn push_char(pieces: &mut [String], c: char) {
    if let Some(last) = pieces.last_mut() {
        last.push(c);
    }
}

/// Whether the whole of `text` matches the glob.
pub fn glob_matches(glob: &Glob, text: &str) -> bool {
    let pieces = &glob.pieces;
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return text.is_empty();
    };
    if pieces.len() == 1 {
        return text == first;
    }
    let Some(mut rest) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let middle = pieces.get(1..pieces.len() - 1).unwrap_or(&[]);
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(at) => rest = rest.get(at + piece.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<Value> {
        items.iter().map(|s| Value::string(s)).collect()
    }

    #[test]
    fn has_scope_follows_the_spec() {
        assert!(has_scope(&strings(&["docs:read"]), "docs:read"));
        assert!(!has_scope(&strings(&["docs:read"]), "docs:readonly"));
        assert!(has_scope(&strings(&["docs:*"]), "docs:write"));
        assert!(!has_scope(&strings(&["*"]), "docs:write"));
        assert!(!has_scope(&strings(&[":*"]), ":x"));
    }

    #[test]
    fn globs_match_whole_strings() {
        let g = glob("spiffe://partners/*");
        assert!(glob_matches(&g, "spiffe://partners/acme"));
        assert!(!glob_matches(&g, "spiffe://internal/x"));
        let star = glob(r"a\*b");
        assert_eq!(star.pieces, vec!["a*b".to_owned()]);
        assert!(glob_matches(&star, "a*b"));
        assert!(!glob_matches(&glob("a*a"), "a"));
        assert!(glob_matches(&glob("*x*"), "abxcd"));
    }

    #[test]
    fn folds_constants_and_keeps_errors_visible() {
        let one = Expr::Const(Value::Int(1));
        let max = Expr::Const(Value::Int(i64::MAX));
        assert_eq!(
            binary(BinaryOp::Add, max, one.clone()),
            Err(FoldError::Overflow)
        );
        assert_eq!(
            binary(BinaryOp::Lt, one.clone(), Expr::Const(Value::Int(2))),
            Ok(Expr::Const(Value::Bool(true)))
        );
        let x_and_false = and(Expr::Principal, Expr::Const(Value::Bool(false)));
        assert!(matches!(x_and_false, Expr::And(..)));
        assert_eq!(
            and(Expr::Const(Value::Bool(false)), Expr::Principal),
            Expr::Const(Value::Bool(false))
        );
        let ip = |s: &str| Value::Ip(s.parse().unwrap_or_else(|_| panic!("{s}")));
        let inside = binary(
            BinaryOp::In,
            Expr::Const(ip("10.1.2.3/32")),
            Expr::Const(ip("10.0.0.0/8")),
        );
        assert_eq!(inside, Ok(Expr::Const(Value::Bool(true))));
    }
}
