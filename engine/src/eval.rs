//! Evaluating compiled expressions against one request.
//!
//! [`EvalContext`] holds what expressions can name (principal, action, resource, context,
//! route parameters) and the entity data. Evaluation is total: every failure is an
//! [`EvalError`] the decision procedure turns into fail-closed outcomes. `and`/`or`
//! short-circuit left to right, so an error in a branch not reached is not an error.
//! Recursion is bounded by the expression depth the bundle checker enforces.

use std::fmt;
use std::sync::Arc;

use crate::bundle::{ActionId, Expr, Glob};
use crate::display::{expr_path, uid_literal};
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::ops;
use crate::value::{EntityUid, Record, Value};

/// Why an expression has no value: an absent attribute, a missing entity, a type mismatch
/// in data, an overflow…
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EvalError {
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) type EvalResult<T = Value> = Result<T, EvalError>;

/// What the expressions of one request see.
#[derive(Clone, Copy)]
pub(crate) struct EvalContext<'a> {
    pub engine: &'a Engine,
    pub entities: &'a EntityStore,
    /// `None` while the principal is being mapped.
    pub principal: Option<&'a EntityUid>,
    pub action: ActionId,
    /// `None` while routing (a route's resource is being built).
    pub resource: Option<&'a EntityUid>,
    /// `None` while routing.
    pub context: Option<&'a Arc<Record>>,
    /// Route path parameters (only while routing).
    pub params: &'a [Arc<str>],
}

impl<'a> EvalContext<'a> {
    /// Evaluates a condition conjunct: it must be a boolean.
    pub(crate) fn truth(&self, expr: &Expr) -> EvalResult<bool> {
        match self.eval(expr)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::new(format!(
                "expected a boolean condition, found {}",
                other.kind()
            ))),
        }
    }

    pub(crate) fn eval(&self, expr: &Expr) -> EvalResult {
        match expr {
            Expr::Const(value) => Ok(value.clone()),
            Expr::Principal => self
                .principal
                .map(|uid| Value::Entity(uid.clone()))
                .ok_or_else(|| {
                    EvalError::new("`principal` is not known while mapping the principal")
                }),
            Expr::Action => Ok(Value::String(self.engine.action_name(self.action))),
            Expr::Resource => self
                .resource
                .map(|uid| Value::Entity(uid.clone()))
                .ok_or_else(|| EvalError::new("`resource` is not known while routing")),
            Expr::Context => self
                .context
                .map(|record| Value::Record(Arc::clone(record)))
                .ok_or_else(|| EvalError::new("`context` is not known while routing")),
            Expr::Now => self.now(),
            Expr::Param(index) => usize::try_from(*index)
                .ok()
                .and_then(|i| self.params.get(i))
                .map(|p| Value::String(Arc::clone(p)))
                .ok_or_else(|| EvalError::new("path parameters exist only in routes")),
            Expr::Attr(inner, sym) => {
                let target = self.eval(inner)?;
                let name = self.engine.symbol_name(*sym);
                match &target {
                    Value::Record(record) => record
                        .get(*sym)
                        .cloned()
                        .ok_or_else(|| self.absent(inner, name)),
                    Value::Map(map) => map
                        .get(name)
                        .cloned()
                        .ok_or_else(|| self.absent(inner, name)),
                    _ => self.entity_attr(&target, name),
                }
            }
            Expr::Index(inner, key) => {
                let target = self.eval(inner)?;
                match &target {
                    Value::Map(map) => map
                        .get(key.as_str())
                        .cloned()
                        .ok_or_else(|| self.absent(inner, key)),
                    Value::Record(record) => self
                        .engine
                        .names
                        .symbols
                        .get(key.as_str())
                        .and_then(|sym| record.get(*sym))
                        .cloned()
                        .ok_or_else(|| self.absent(inner, key)),
                    _ => self.entity_attr(&target, key),
                }
            }
            Expr::Has(inner, name) => self.has(&self.eval(inner)?, name).map(Value::Bool),
            Expr::EntityCtor(ty, inner) => match self.eval(inner)? {
                Value::String(id) => Ok(Value::Entity(EntityUid { ty: *ty, id })),
                other => Err(EvalError::new(format!(
                    "an entity id must be a string, found {}",
                    other.kind()
                ))),
            },
            Expr::Set(items) => {
                let values = items
                    .iter()
                    .map(|item| self.eval(item))
                    .collect::<EvalResult<Vec<_>>>()?;
                Ok(Value::set(values))
            }
            Expr::Record(fields) => {
                let values = fields
                    .iter()
                    .map(|(sym, item)| Ok((*sym, self.eval(item)?)))
                    .collect::<EvalResult<Vec<_>>>()?;
                Ok(Value::Record(Arc::new(Record::new(values))))
            }
            Expr::Not(inner) => match self.eval(inner)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => Err(EvalError::new(format!(
                    "`not` needs a boolean, found {}",
                    other.kind()
                ))),
            },
            Expr::Neg(inner) => ops::negate(self.eval(inner)?),
            Expr::And(left, right) => Ok(Value::Bool(
                self.operand(left, "and")? && self.operand(right, "and")?,
            )),
            Expr::Or(left, right) => Ok(Value::Bool(
                self.operand(left, "or")? || self.operand(right, "or")?,
            )),
            Expr::Binary(op, left, right) => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                ops::binary(*op, &left, &right, self.entities)
            }
            Expr::Like(inner, glob) => match self.eval(inner)? {
                Value::String(text) => Ok(Value::Bool(glob_matches(glob, &text))),
                other => Err(EvalError::new(format!(
                    "`like` needs a string, found {}",
                    other.kind()
                ))),
            },
            Expr::Matches(inner, pattern) => match self.eval(inner)? {
                Value::String(text) => match self.engine.regexes.get(pattern.as_str()) {
                    Some(regex) => Ok(Value::Bool(regex.is_match(&text))),
                    None => Err(EvalError::new(format!(
                        "regex `{pattern}` was not compiled"
                    ))),
                },
                other => Err(EvalError::new(format!(
                    "`matches` needs a string, found {}",
                    other.kind()
                ))),
            },
        }
    }

    fn operand(&self, expr: &Expr, op: &str) -> EvalResult<bool> {
        match self.eval(expr)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::new(format!(
                "`{op}` needs booleans, found {}",
                other.kind()
            ))),
        }
    }

    fn now(&self) -> EvalResult {
        let time = self
            .context
            .zip(self.engine.names.well_known.time)
            .and_then(|(context, sym)| context.get(sym));
        match time {
            Some(value @ Value::Timestamp(_)) => Ok(value.clone()),
            _ => Err(EvalError::new(
                "`now` is not known: the request has no `context.time`",
            )),
        }
    }

    /// An attribute of an entity value, or an error for a missing entity or attribute.
    fn entity_attr(&self, target: &Value, name: &str) -> EvalResult {
        let Value::Entity(uid) = target else {
            return Err(EvalError::new(format!(
                "cannot read `{name}` of a {}",
                target.kind()
            )));
        };
        let Some(entity) = self.entities.get(uid) else {
            return Err(EvalError::new(format!(
                "entity `{}` does not exist",
                self.uid(uid)
            )));
        };
        self.engine
            .names
            .symbols
            .get(name)
            .and_then(|sym| entity.attrs.get(*sym))
            .cloned()
            .ok_or_else(|| {
                EvalError::new(format!(
                    "entity `{}` has no attribute `{name}`",
                    self.uid(uid)
                ))
            })
    }

    fn has(&self, target: &Value, name: &str) -> EvalResult<bool> {
        let symbol = self.engine.names.symbols.get(name);
        match target {
            Value::Record(record) => Ok(symbol.is_some_and(|sym| record.get(*sym).is_some())),
            Value::Map(map) => Ok(map.contains_key(name)),
            Value::Entity(uid) => Ok(self
                .entities
                .get(uid)
                .zip(symbol)
                .is_some_and(|(entity, sym)| entity.attrs.get(*sym).is_some())),
            other => Err(EvalError::new(format!(
                "`has` needs a record, entity or map, found {}",
                other.kind()
            ))),
        }
    }

    fn absent(&self, target: &Expr, name: &str) -> EvalError {
        match expr_path(&self.engine.bundle.symbols, target) {
            Some(path) => EvalError::new(format!("`{path}` has no `{name}`")),
            None => EvalError::new(format!("no field `{name}`")),
        }
    }

    fn uid(&self, uid: &EntityUid) -> String {
        uid_literal(&self.engine.bundle.schema, uid)
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
