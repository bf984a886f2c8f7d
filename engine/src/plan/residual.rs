//! The residual condition of a plan: what is left of the policies once the principal, the
//! action and the context are known and only the resource is not.
//!
//! A [`Cond`] is a small boolean tree over one resource of the plan's type: its id, its
//! attributes (by path, `["address", "city"]` for `resource.address.city`) and its ancestors.
//! Everything else was folded while planning. Its semantics are two-valued: an atom that
//! reads an attribute the resource does not have is **false** (and its negation true); the
//! planner adds the [`Cond::Has`] guards that make this match the decision procedure, where
//! reading an absent attribute is an error.
//!
//! Values are [`Value`]s of the engine; [`Cond::to_json`] writes them in the form entity
//! data is written in (strings, numbers, booleans, `{"type": T, "id": I}` for entities,
//! `"1h30m"` for durations, RFC 3339 for timestamps, variant names for enums, text for IP
//! networks and TLS versions), so an adapter reads a value with the attribute's schema type.

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use crate::bundle::{Glob, Schema};
use crate::entities::EntityStore;
use crate::value::{EntityUid, Value};

/// An attribute path from the resource: `resource.address.city` is `["address", "city"]`.
pub type AttrPath = Vec<String>;

/// A comparison of an attribute with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator as written in the JSON form and in policies: `==`, `<`, …
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn from_symbol(symbol: &str) -> Option<CmpOp> {
        Some(match symbol {
            "==" => CmpOp::Eq,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }
}

/// A condition over one resource. See the module documentation for its semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `true` or `false`.
    Const(bool),
    /// Every condition holds (an empty `And` is true).
    And(Vec<Cond>),
    /// Some condition holds (an empty `Or` is false).
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// The resource has the attribute at this path (every record on the way included).
    Has(AttrPath),
    /// `resource.PATH OP value`. Only integers, durations, timestamps and TLS versions are
    /// ordered; `Eq` compares any scalar or entity reference.
    Compare {
        op: CmpOp,
        path: AttrPath,
        value: Value,
    },
    /// The attribute equals one of the values: `resource.status in ["open", "held"]`.
    OneOf {
        path: AttrPath,
        values: Vec<Value>,
    },
    /// The resource's id is one of these (`resource == Doc::"d"`; `principal in resource`).
    IdIn(Vec<String>),
    /// The resource is this entity or one of its descendants: `resource in Folder::"f"`.
    InEntity(EntityUid),
    /// A set-valued attribute holds the value.
    Contains {
        path: AttrPath,
        value: Value,
    },
    /// A set-valued attribute holds at least one of the values.
    ContainsAny {
        path: AttrPath,
        values: Vec<Value>,
    },
    /// A set-valued attribute holds every one of the values.
    ContainsAll {
        path: AttrPath,
        values: Vec<Value>,
    },
    /// A string attribute matches a `like` pattern: the literal `pieces` in order, with
    /// anything (possibly nothing) between them; the first piece is a prefix and the last a
    /// suffix of the whole string.
    Like {
        path: AttrPath,
        pieces: Vec<String>,
    },
}

/// A resource as a plan's residual sees it.
pub trait ResourceView {
    /// The resource's id.
    fn id(&self) -> &str;
    /// The attribute at `path`, `None` if the resource or a record on the way lacks it.
    fn attr(&self, path: &[String]) -> Option<&Value>;
    /// Whether the resource is `entity` or a descendant of it.
    fn is_in(&self, entity: &EntityUid) -> bool;
}

impl Cond {
    pub(crate) const TRUE: Cond = Cond::Const(true);
    pub(crate) const FALSE: Cond = Cond::Const(false);

    /// The number of nodes of the condition (saturating).
    pub fn size(&self) -> usize {
        match self {
            Cond::And(items) | Cond::Or(items) => {
                items.iter().fold(1usize, |n, c| n.saturating_add(c.size()))
            }
            Cond::Not(inner) => inner.size().saturating_add(1),
            _ => 1,
        }
    }

    /// Calls `visit` on this condition and every condition inside it, parents first.
    pub fn walk(&self, visit: &mut impl FnMut(&Cond)) {
        visit(self);
        match self {
            Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| c.walk(visit)),
            Cond::Not(inner) => inner.walk(visit),
            _ => {}
        }
    }

    /// Evaluates the condition against one resource.
    pub fn eval(&self, resource: &impl ResourceView) -> bool {
        match self {
            Cond::Const(b) => *b,
            Cond::And(items) => items.iter().all(|c| c.eval(resource)),
            Cond::Or(items) => items.iter().any(|c| c.eval(resource)),
            Cond::Not(inner) => !inner.eval(resource),
            Cond::Has(path) => resource.attr(path).is_some(),
            Cond::Compare { op, path, value } => resource
                .attr(path)
                .is_some_and(|found| compare(*op, found, value)),
            Cond::OneOf { path, values } => resource
                .attr(path)
                .is_some_and(|found| values.contains(found)),
            Cond::IdIn(ids) => ids.iter().any(|id| id == resource.id()),
            Cond::InEntity(entity) => resource.is_in(entity),
            Cond::Contains { path, value } => {
                set_of(resource.attr(path)).is_some_and(|items| items.contains(value))
            }
            Cond::ContainsAny { path, values } => set_of(resource.attr(path))
                .is_some_and(|items| values.iter().any(|v| items.contains(v))),
            Cond::ContainsAll { path, values } => set_of(resource.attr(path))
                .is_some_and(|items| values.iter().all(|v| items.contains(v))),
            Cond::Like { path, pieces } => match resource.attr(path) {
                Some(Value::String(text)) => crate::ops::glob_matches(
                    &Glob {
                        pieces: pieces.clone(),
                    },
                    text,
                ),
                _ => false,
            },
        }
    }

    /// The JSON form (see `docs/plan.md`).
    pub fn to_json(&self, schema: &Schema) -> Json {
        let values =
            |values: &[Value]| -> Json { values.iter().map(|v| value_json(schema, v)).collect() };
        match self {
            Cond::Const(true) => json!({"op": "true"}),
            Cond::Const(false) => json!({"op": "false"}),
            Cond::And(items) => {
                json!({"op": "and", "args": items.iter().map(|c| c.to_json(schema)).collect::<Vec<_>>()})
            }
            Cond::Or(items) => {
                json!({"op": "or", "args": items.iter().map(|c| c.to_json(schema)).collect::<Vec<_>>()})
            }
            Cond::Not(inner) => json!({"op": "not", "arg": inner.to_json(schema)}),
            Cond::Has(path) => json!({"op": "has", "path": path}),
            Cond::Compare { op, path, value } => {
                json!({"op": op.symbol(), "path": path, "value": value_json(schema, value)})
            }
            Cond::OneOf { path, values: v } => {
                json!({"op": "in", "path": path, "values": values(v)})
            }
            Cond::IdIn(ids) => json!({"op": "id_in", "ids": ids}),
            Cond::InEntity(uid) => json!({"op": "in_entity", "entity": uid_json(schema, uid)}),
            Cond::Contains { path, value } => {
                json!({"op": "contains", "path": path, "value": value_json(schema, value)})
            }
            Cond::ContainsAny { path, values: v } => {
                json!({"op": "contains_any", "path": path, "values": values(v)})
            }
            Cond::ContainsAll { path, values: v } => {
                json!({"op": "contains_all", "path": path, "values": values(v)})
            }
            Cond::Like { path, pieces } => json!({"op": "like", "path": path, "pieces": pieces}),
        }
    }

    /// A readable form, in the policy language's syntax (`resource.owner == User::"alice"`).
    pub fn to_text(&self, schema: &Schema, symbols: &[String]) -> String {
        let mut out = String::new();
        self.write_text(&mut out, schema, symbols, false);
        out
    }

    fn write_text(&self, out: &mut String, schema: &Schema, symbols: &[String], nested: bool) {
        let literal = |v: &Value| crate::display::value_literal(schema, symbols, v);
        let list = |values: &[Value]| {
            let items: Vec<String> = values.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        };
        let path = |p: &AttrPath| format!("resource.{}", p.join("."));
        match self {
            Cond::Const(b) => out.push_str(if *b { "true" } else { "false" }),
            Cond::And(items) | Cond::Or(items) if items.is_empty() => {
                out.push_str(if matches!(self, Cond::And(_)) {
                    "true"
                } else {
                    "false"
                });
            }
            Cond::And(items) | Cond::Or(items) => {
                let joiner = if matches!(self, Cond::And(_)) {
                    " and "
                } else {
                    " or "
                };
                if nested {
                    out.push('(');
                }
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    item.write_text(out, schema, symbols, true);
                }
                if nested {
                    out.push(')');
                }
            }
            Cond::Not(inner) => {
                // `not` binds tighter than a comparison: `not (resource.a == 1)`.
                let atom = !matches!(**inner, Cond::And(_) | Cond::Or(_));
                out.push_str(if atom { "not (" } else { "not " });
                inner.write_text(out, schema, symbols, true);
                if atom {
                    out.push(')');
                }
            }
            Cond::Has(p) => {
                let (last, init) = p
                    .split_last()
                    .map_or(("", &[][..]), |(l, i)| (l.as_str(), i));
                let target = if init.is_empty() {
                    "resource".to_string()
                } else {
                    path(&init.to_vec())
                };
                let _ = write!(out, "{target} has {last}");
            }
            Cond::Compare { op, path: p, value } => {
                let _ = write!(out, "{} {} {}", path(p), op.symbol(), literal(value));
            }
            Cond::OneOf { path: p, values } => {
                let _ = write!(out, "{} in {}", path(p), list(values));
            }
            Cond::IdIn(ids) => {
                let quoted: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
                let _ = write!(out, "resource.id in [{}]", quoted.join(", "));
            }
            Cond::InEntity(uid) => {
                let _ = write!(
                    out,
                    "resource in {}",
                    crate::display::uid_literal(schema, uid)
                );
            }
            Cond::Contains { path: p, value } => {
                let _ = write!(out, "{}.contains({})", path(p), literal(value));
            }
            Cond::ContainsAny { path: p, values } => {
                let _ = write!(out, "{}.contains_any({})", path(p), list(values));
            }
            Cond::ContainsAll { path: p, values } => {
                let _ = write!(out, "{}.contains_all({})", path(p), list(values));
            }
            Cond::Like { path: p, pieces } => {
                let pattern: Vec<String> = pieces
                    .iter()
                    .map(|piece| piece.replace('*', "\\*"))
                    .collect();
                let _ = write!(out, "{} like {:?}", path(p), pattern.join("*"));
            }
        }
    }

    /// Reads the JSON form back, with values typed by `read_value` (an adapter knows the
    /// attribute's type; tests use the engine's reader).
    pub fn from_json(
        json: &Json,
        read_value: &mut impl FnMut(&[String], &Json) -> Result<Value, String>,
    ) -> Result<Cond, String> {
        let Some(object) = json.as_object() else {
            return Err("a condition must be an object".into());
        };
        let op = object
            .get("op")
            .and_then(Json::as_str)
            .ok_or("a condition needs a string `op`")?;
        let field = |name: &str| object.get(name).ok_or(format!("`{op}` needs `{name}`"));
        let path = || -> Result<AttrPath, String> {
            field("path")?
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .ok_or(format!("`{op}`: `path` must be an array of strings"))
        };
        let args = |name: &str, read_value: &mut dyn FnMut(&Json) -> Result<Cond, String>| {
            field(name)?
                .as_array()
                .ok_or(format!("`{op}`: `{name}` must be an array"))?
                .iter()
                .map(read_value)
                .collect::<Result<Vec<_>, _>>()
        };
        match op {
            "true" => Ok(Cond::Const(true)),
            "false" => Ok(Cond::Const(false)),
            "and" | "or" => {
                let items = args("args", &mut |j| Cond::from_json(j, read_value))?;
                Ok(if op == "and" {
                    Cond::And(items)
                } else {
                    Cond::Or(items)
                })
            }
            "not" => Ok(Cond::Not(Box::new(Cond::from_json(
                field("arg")?,
                read_value,
            )?))),
            "has" => Ok(Cond::Has(path()?)),
            "in" | "contains_any" | "contains_all" => {
                let path = path()?;
                let values = field("values")?
                    .as_array()
                    .ok_or(format!("`{op}`: `values` must be an array"))?
                    .iter()
                    .map(|v| read_value(&path, v))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    "in" => Cond::OneOf { path, values },
                    "contains_any" => Cond::ContainsAny { path, values },
                    _ => Cond::ContainsAll { path, values },
                })
            }
            "contains" => {
                let path = path()?;
                let value = read_value(&path, field("value")?)?;
                Ok(Cond::Contains { path, value })
            }
            "id_in" => field("ids")?
                .as_array()
                .and_then(|ids| ids.iter().map(|i| i.as_str().map(str::to_string)).collect())
                .map(Cond::IdIn)
                .ok_or("`id_in`: `ids` must be an array of strings".into()),
            "in_entity" => match read_value(&[], field("entity")?)? {
                Value::Entity(uid) => Ok(Cond::InEntity(uid)),
                other => Err(format!(
                    "`in_entity` needs an entity, found {}",
                    other.kind()
                )),
            },
            "like" => {
                let pieces = field("pieces")?
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|i| i.as_str().map(str::to_string))
                            .collect()
                    })
                    .ok_or("`like`: `pieces` must be an array of strings")?;
                Ok(Cond::Like {
                    path: path()?,
                    pieces,
                })
            }
            symbol => match CmpOp::from_symbol(symbol) {
                Some(op) => {
                    let path = path()?;
                    let value = read_value(&path, field("value")?)?;
                    Ok(Cond::Compare { op, path, value })
                }
                None => Err(format!("unknown condition `{symbol}`")),
            },
        }
    }
}

fn set_of(value: Option<&Value>) -> Option<&[Value]> {
    match value {
        Some(Value::Set(items)) => Some(items),
        _ => None,
    }
}

/// `found OP value` as the decision procedure compares them; a type mismatch is false
/// (the planner never builds one).
fn compare(op: CmpOp, found: &Value, value: &Value) -> bool {
    use std::cmp::Ordering;
    if op == CmpOp::Eq {
        return crate::ops::same_type(found, value) && found == value;
    }
    let ordering = match (found, value) {
        (Value::Int(a), Value::Int(b))
        | (Value::Duration(a), Value::Duration(b))
        | (Value::Timestamp(a), Value::Timestamp(b))
        | (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
        (Value::Tls(a), Value::Tls(b)) => a.cmp(b),
        _ => return false,
    };
    match op {
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Eq => ordering == Ordering::Equal,
    }
}

/// An entity reference as entity data writes it.
pub(crate) fn uid_json(schema: &Schema, uid: &EntityUid) -> Json {
    json!({"type": crate::display::type_name(schema, uid.ty), "id": &*uid.id})
}

/// A value in the form entity data is written in.
pub fn value_json(schema: &Schema, value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => Json::from(*n),
        Value::String(s) => Json::String(s.to_string()),
        Value::Ip(net) => Json::String(net.to_string()),
        Value::Duration(ms) => Json::String(crate::time::format_duration(*ms)),
        Value::Timestamp(ms) => Json::String(crate::time::format_timestamp(*ms)),
        Value::Decimal(n) => Json::String(crate::decimal::format_decimal(*n)),
        Value::Tls(v) => Json::String(v.literal().to_string()),
        Value::Enum(id, variant) => {
            Json::String(crate::display::variant_name(schema, *id, *variant).to_string())
        }
        Value::Entity(uid) => uid_json(schema, uid),
        Value::Set(items) => items.iter().map(|v| value_json(schema, v)).collect(),
        // Records and maps never appear in a residual's atoms.
        Value::Record(_) | Value::Map(_) => Json::Null,
    }
}

/// A resource read from an [`EntityStore`]: what `decide` would see of it.
pub struct StoredResource<'s> {
    pub(crate) store: &'s EntityStore,
    pub(crate) entity: &'s crate::entities::Entity,
    pub(crate) symbols: &'s crate::engine::NameMap<crate::bundle::Sym>,
}

impl ResourceView for StoredResource<'_> {
    fn id(&self) -> &str {
        &self.entity.uid.id
    }

    fn attr(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.entity.attrs.get(*self.symbols.get(first)?)?;
        for name in rest {
            let Value::Record(record) = value else {
                return None;
            };
            value = record.get(*self.symbols.get(name)?)?;
        }
        Some(value)
    }

    fn is_in(&self, entity: &EntityUid) -> bool {
        self.entity.uid == *entity || self.store.has_ancestor(self.entity, entity)
    }
}
