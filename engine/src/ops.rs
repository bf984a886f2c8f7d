//! Binary and unary operators over values: comparison, checked arithmetic, `in` (set
//! membership, CIDR containment, entity hierarchy), `contains*` and `has_scope`.

use std::cmp::Ordering;

use crate::bundle::BinaryOp;
use crate::entities::EntityStore;
use crate::eval::{EvalError, EvalResult};
use crate::value::Value;

/// Applies a binary operator. Type mismatches (possible only through untyped data such as
/// claims) and overflows are errors.
pub(crate) fn binary(
    op: BinaryOp,
    left: &Value,
    right: &Value,
    entities: &EntityStore,
) -> EvalResult {
    match op {
        BinaryOp::Eq => equal(left, right).map(Value::Bool),
        BinaryOp::Ne => equal(left, right).map(|eq| Value::Bool(!eq)),
        BinaryOp::Lt => compare(left, right, "<").map(|o| Value::Bool(o == Ordering::Less)),
        BinaryOp::Le => compare(left, right, "<=").map(|o| Value::Bool(o != Ordering::Greater)),
        BinaryOp::Gt => compare(left, right, ">").map(|o| Value::Bool(o == Ordering::Greater)),
        BinaryOp::Ge => compare(left, right, ">=").map(|o| Value::Bool(o != Ordering::Less)),
        BinaryOp::In => is_in(left, right, entities).map(Value::Bool),
        BinaryOp::Contains => contains(left, right).map(Value::Bool),
        BinaryOp::ContainsAny => {
            let (set, items) = (
                set_operand(left, "contains_any")?,
                set_operand(right, "contains_any")?,
            );
            Ok(Value::Bool(
                items.iter().any(|item| set.binary_search(item).is_ok()),
            ))
        }
        BinaryOp::ContainsAll => {
            let (set, items) = (
                set_operand(left, "contains_all")?,
                set_operand(right, "contains_all")?,
            );
            Ok(Value::Bool(
                items.iter().all(|item| set.binary_search(item).is_ok()),
            ))
        }
        BinaryOp::HasScope => has_scope(left, right).map(Value::Bool),
        BinaryOp::Add => add(left, right),
        BinaryOp::Sub => subtract(left, right),
        BinaryOp::Mul => multiply(left, right),
    }
}

/// `-x` for integers and durations, checked.
pub(crate) fn negate(value: Value) -> EvalResult {
    match value {
        Value::Int(n) => n.checked_neg().map(Value::Int).ok_or_else(overflow),
        Value::Duration(ms) => ms.checked_neg().map(Value::Duration).ok_or_else(overflow),
        other => Err(EvalError::new(format!(
            "`-` needs an int or a duration, found {}",
            other.kind()
        ))),
    }
}

fn same_type(left: &Value, right: &Value) -> bool {
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
        | (Value::Timestamp(a), Value::Timestamp(b)) => Ok(a.cmp(b)),
        (Value::Tls(a), Value::Tls(b)) => Ok(a.cmp(b)),
        _ => Err(mismatch(op, left, right)),
    }
}

fn is_in(left: &Value, right: &Value, entities: &EntityStore) -> EvalResult<bool> {
    match (left, right) {
        (Value::Ip(inner), Value::Ip(outer)) => Ok(outer.contains(inner)),
        (Value::Entity(child), Value::Entity(ancestor)) => Ok(entities.is_in(child, ancestor)),
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
                Value::Entity(ancestor) => Ok(found || entities.is_in(child, ancestor)),
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
    EvalError::new("arithmetic overflow")
}

fn add(left: &Value, right: &Value) -> EvalResult {
    let sum = |a: i64, b: i64| a.checked_add(b).ok_or_else(overflow);
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => sum(*a, *b).map(Value::Int),
        (Value::Duration(a), Value::Duration(b)) => sum(*a, *b).map(Value::Duration),
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
}
