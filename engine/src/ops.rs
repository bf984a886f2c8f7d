//! Binary and unary operators over values: comparison, checked arithmetic, `in` (set
//! membership, CIDR containment, entity hierarchy), `contains*` and `has_scope`.

use std::cmp::Ordering;

use crate::bundle::{BinaryOp, Glob};
use crate::eval::{EvalContext, EvalError, EvalResult};
use crate::value::Value;

/// Applies an operator that yields a boolean: comparisons, `in`, `contains*`, `has_scope`.
/// Type mismatches (possible only through untyped data such as claims) are errors.
/// Arithmetic operators are refused here (see [`arithmetic`]).
pub(crate) fn test(
    op: BinaryOp,
    left: &Value,
    right: &Value,
    cx: &EvalContext<'_>,
) -> EvalResult<bool> {
    match op {
        BinaryOp::Eq => equal(left, right),
        BinaryOp::Ne => equal(left, right).map(|eq| !eq),
        BinaryOp::Lt => compare(left, right, "<").map(|o| o == Ordering::Less),
        BinaryOp::Le => compare(left, right, "<=").map(|o| o != Ordering::Greater),
        BinaryOp::Gt => compare(left, right, ">").map(|o| o == Ordering::Greater),
        BinaryOp::Ge => compare(left, right, ">=").map(|o| o != Ordering::Less),
        BinaryOp::In => is_in(left, right, cx),
        BinaryOp::Contains => contains(left, right),
        BinaryOp::ContainsAny => {
            let (set, items) = (
                set_operand(left, "contains_any")?,
                set_operand(right, "contains_any")?,
            );
            Ok(items.iter().any(|item| set.binary_search(item).is_ok()))
        }
        BinaryOp::ContainsAll => {
            let (set, items) = (
                set_operand(left, "contains_all")?,
                set_operand(right, "contains_all")?,
            );
            Ok(items.iter().all(|item| set.binary_search(item).is_ok()))
        }
        BinaryOp::HasScope => has_scope(left, right),
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => Err(EvalError::Static(
            "an arithmetic operator where a boolean was expected",
        )),
    }
}

/// Applies `+`, `-` or `*`, checked; overflows are errors. Other operators are refused
/// here (see [`test`]).
pub(crate) fn arithmetic(op: BinaryOp, left: &Value, right: &Value) -> EvalResult<Value> {
    match op {
        BinaryOp::Add => add(left, right),
        BinaryOp::Sub => subtract(left, right),
        BinaryOp::Mul => multiply(left, right),
        _ => Err(EvalError::Static(
            "a boolean operator where a number was expected",
        )),
    }
}

/// `-x` for integers and durations, checked.
pub(crate) fn negate(value: &Value) -> EvalResult<Value> {
    match value {
        Value::Int(n) => n.checked_neg().map(Value::Int).ok_or_else(overflow),
        Value::Duration(ms) => ms.checked_neg().map(Value::Duration).ok_or_else(overflow),
        Value::Decimal(n) => n.checked_neg().map(Value::Decimal).ok_or_else(overflow),
        other => Err(EvalError::new(format!(
            "`-` needs an int, a duration or a decimal, found {}",
            other.kind()
        ))),
    }
}

/// Whether `==` compares these values (rather than failing on a type mismatch).
pub(crate) fn same_type(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Enum(a, _), Value::Enum(b, _)) => a == b,
        _ => std::mem::discriminant(left) == std::mem::discriminant(right),
    }
}

fn mismatch(op: &str, left: &Value, right: &Value) -> EvalError {
    EvalError::new(format!(
        "`{op}` cannot compare {} with {}",
        left.kind(),
        right.kind()
    ))
}

fn equal(left: &Value, right: &Value) -> EvalResult<bool> {
    if same_type(left, right) {
        Ok(left == right)
    } else {
        Err(mismatch("==", left, right))
    }
}

fn compare(left: &Value, right: &Value, op: &str) -> EvalResult<Ordering> {
    match (left, right) {
        (Value::Int(a), Value::Int(b))
        | (Value::Duration(a), Value::Duration(b))
        | (Value::Timestamp(a), Value::Timestamp(b))
        | (Value::Decimal(a), Value::Decimal(b)) => Ok(a.cmp(b)),
        (Value::Tls(a), Value::Tls(b)) => Ok(a.cmp(b)),
        _ => Err(mismatch(op, left, right)),
    }
}

fn is_in(left: &Value, right: &Value, cx: &EvalContext<'_>) -> EvalResult<bool> {
    match (left, right) {
        (Value::Ip(inner), Value::Ip(outer)) => Ok(outer.contains(inner)),
        (Value::Entity(child), Value::Entity(ancestor)) => Ok(cx.entity_in(child, ancestor)),
        (Value::Ip(inner), Value::Set(items)) => {
            items.iter().try_fold(false, |found, item| match item {
                Value::Ip(outer) => Ok(found || outer.contains(inner)),
                other => Err(EvalError::new(format!(
                    "`in` cannot test an ip against a set holding {}",
                    other.kind()
                ))),
            })
        }
        (Value::Entity(child), Value::Set(items)) => {
            items.iter().try_fold(false, |found, item| match item {
                Value::Entity(ancestor) => Ok(found || cx.entity_in(child, ancestor)),
                other => Err(EvalError::new(format!(
                    "`in` cannot test an entity against a set holding {}",
                    other.kind()
                ))),
            })
        }
        (item, Value::Set(items)) => Ok(items.binary_search(item).is_ok()),
        _ => Err(EvalError::new(format!(
            "`in` cannot test {} in {}",
            left.kind(),
            right.kind()
        ))),
    }
}

fn contains(left: &Value, right: &Value) -> EvalResult<bool> {
    match (left, right) {
        (Value::Set(items), item) => Ok(items.binary_search(item).is_ok()),
        (Value::String(text), Value::String(part)) => Ok(text.contains(&**part)),
        _ => Err(EvalError::new(format!(
            "`contains` cannot search {} in {}",
            right.kind(),
            left.kind()
        ))),
    }
}

fn set_operand<'v>(value: &'v Value, op: &str) -> EvalResult<&'v [Value]> {
    match value {
        Value::Set(items) => Ok(items),
        other => Err(EvalError::new(format!(
            "`{op}` needs sets, found {}",
            other.kind()
        ))),
    }
}

/// `granted has_scope wanted`: some granted scope equals `wanted`, or is `P:*` with a
/// non-empty `P` and `wanted` starts with `P:`. A bare `*` is not a wildcard.
fn has_scope(granted: &Value, wanted: &Value) -> EvalResult<bool> {
    let Value::String(wanted) = wanted else {
        return Err(EvalError::new(format!(
            "`has_scope` needs a string scope, found {}",
            wanted.kind()
        )));
    };
    let Value::Set(granted) = granted else {
        return Err(EvalError::new(format!(
            "`has_scope` needs a set of scopes, found {}",
            granted.kind()
        )));
    };
    granted.iter().try_fold(false, |found, scope| match scope {
        Value::String(scope) => Ok(found || scope_grants(scope, wanted)),
        other => Err(EvalError::new(format!(
            "`has_scope` needs a set of strings, found {} in it",
            other.kind()
        ))),
    })
}

fn scope_grants(granted: &str, wanted: &str) -> bool {
    if granted == wanted {
        return true;
    }
    // `P:*` covers `P:anything`; `prefix` keeps the colon: `P:`.
    match granted.strip_suffix('*') {
        Some(prefix) if prefix.len() > 1 && prefix.ends_with(':') => wanted.starts_with(prefix),
        _ => false,
    }
}

fn overflow() -> EvalError {
    EvalError::Static("arithmetic overflow")
}

fn add(left: &Value, right: &Value) -> EvalResult {
    let sum = |a: i64, b: i64| a.checked_add(b).ok_or_else(overflow);
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => sum(*a, *b).map(Value::Int),
        (Value::Duration(a), Value::Duration(b)) => sum(*a, *b).map(Value::Duration),
        (Value::Decimal(a), Value::Decimal(b)) => sum(*a, *b).map(Value::Decimal),
        (Value::Timestamp(t), Value::Duration(d)) | (Value::Duration(d), Value::Timestamp(t)) => {
            sum(*t, *d).map(Value::Timestamp)
        }
        _ => Err(EvalError::new(format!(
            "`+` cannot add {} and {}",
            left.kind(),
            right.kind()
        ))),
    }
}

fn subtract(left: &Value, right: &Value) -> EvalResult {
    let difference = |a: i64, b: i64| a.checked_sub(b).ok_or_else(overflow);
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => difference(*a, *b).map(Value::Int),
        (Value::Duration(a), Value::Duration(b)) => difference(*a, *b).map(Value::Duration),
        (Value::Decimal(a), Value::Decimal(b)) => difference(*a, *b).map(Value::Decimal),
        (Value::Timestamp(t), Value::Duration(d)) => difference(*t, *d).map(Value::Timestamp),
        (Value::Timestamp(a), Value::Timestamp(b)) => difference(*a, *b).map(Value::Duration),
        _ => Err(EvalError::new(format!(
            "`-` cannot subtract {} from {}",
            right.kind(),
            left.kind()
        ))),
    }
}

fn multiply(left: &Value, right: &Value) -> EvalResult {
    let product = |a: i64, b: i64| a.checked_mul(b).ok_or_else(overflow);
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => product(*a, *b).map(Value::Int),
        (Value::Duration(d), Value::Int(n)) | (Value::Int(n), Value::Duration(d)) => {
            product(*d, *n).map(Value::Duration)
        }
        _ => Err(EvalError::new(format!(
            "`*` cannot multiply {} by {}",
            left.kind(),
            right.kind()
        ))),
    }
}

/// Whole-string glob match: the pieces in order, the first at the start, the last at the
/// end, anything between consecutive pieces.
pub(crate) fn glob_matches(glob: &Glob, text: &str) -> bool {
    let Some((first, rest)) = glob.pieces.split_first() else {
        return text.is_empty();
    };
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for piece in middle {
        match remaining.find(piece.as_str()) {
            Some(at) => {
                remaining = remaining
                    .get(at.saturating_add(piece.len())..)
                    .unwrap_or_default()
            }
            None => return false,
        }
    }
    remaining.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_grants_follow_the_spec() {
        assert!(scope_grants("docs:read", "docs:read"));
        assert!(!scope_grants("docs:read", "docs:readonly"));
        assert!(scope_grants("docs:*", "docs:read"));
        assert!(scope_grants("docs:*", "docs:read:all"));
        assert!(!scope_grants("docs:*", "docsx:read"));
        assert!(!scope_grants("docs:*", "docs"));
        assert!(!scope_grants("*", "docs:read"));
        assert!(scope_grants("*", "*"));
        assert!(!scope_grants(":*", ":x"));
        assert!(scope_grants("a:b:*", "a:b:c"));
        assert!(!scope_grants("a:b:*", "a:c"));
    }

    fn glob(pieces: &[&str]) -> Glob {
        Glob {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn globs_match_whole_strings() {
        assert!(glob_matches(
            &glob(&["spiffe://partners/", ""]),
            "spiffe://partners/x"
        ));
        assert!(!glob_matches(
            &glob(&["spiffe://partners/", ""]),
            "spiffe://other/x"
        ));
        assert!(glob_matches(&glob(&["exact"]), "exact"));
        assert!(!glob_matches(&glob(&["exact"]), "exact!"));
        assert!(glob_matches(&glob(&["", "b", ""]), "abc"));
        assert!(glob_matches(&glob(&["a", "b", "c"]), "a-b-c"));
        assert!(!glob_matches(&glob(&["a", "b", "c"]), "a-c"));
        // The last piece must not overlap what the middle consumed.
        assert!(!glob_matches(&glob(&["a", "bc", "c"]), "abc"));
        assert!(glob_matches(&glob(&["a", "bc", "c"]), "abcc"));
        assert!(glob_matches(&glob(&["", ""]), ""));
        assert!(glob_matches(&glob(&["a*b"]), "a*b"));
        assert!(!glob_matches(&glob(&[]), "x"));
    }
}
