//! The checker's types: what an expression can be, named in the policy language's words.
//!
//! These are richer than the engine's [`Ty`]: an entity type can be a *union* (the type of
//! `principal` in a rule `for User, Service`), and [`Type::Error`] marks an expression that
//! already produced a diagnostic so that its uses stay silent (no cascades).

use std::collections::BTreeMap;
use std::rc::Rc;

use rampart_engine::bundle::{EnumId, FieldType, RecordType, Ty, TypeId};
use rampart_engine::Value;

use super::symbols::Symbols;

/// A value type as the checker sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Bool,
    Int,
    String,
    Ip,
    Duration,
    Timestamp,
    /// Fixed-point, four digits after the point (Cedar's `decimal`).
    Decimal,
    Tls,
    Enum(EnumId),
    /// An entity of one of these types (sorted, deduplicated). Empty: an entity of any type.
    Entity(Vec<TypeId>),
    Set(Box<Type>),
    Record(Rc<RecordTy>),
    /// String keys chosen by the data.
    Map(Box<Type>),
    /// Anything JSON can say; checked at run time.
    Any,
    /// The type of an expression that already has an error: accepted everywhere, silently.
    Error,
}

/// A record type with fields by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordTy {
    pub fields: BTreeMap<String, FieldTy>,
}

/// One field of a record type.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldTy {
    pub ty: Type,
    pub optional: bool,
    /// The value used when request data leaves the field out (builtin context only).
    pub default: Option<FieldDefault>,
}

/// How an absent builtin context field is filled.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldDefault {
    Value(Value),
    /// A record holding the defaults of its own fields (`auth`, `tls`, …).
    RecordOfDefaults,
}

impl FieldTy {
    pub fn new(ty: Type, optional: bool) -> Self {
        Self {
            ty,
            optional,
            default: None,
        }
    }
}

/// Names of declared types, for printing types.
pub trait TypeNames {
    fn entity_name(&self, id: TypeId) -> &str;
    fn enum_name(&self, id: EnumId) -> &str;
}

impl Type {
    /// A single entity type.
    pub fn entity(id: TypeId) -> Type {
        Type::Entity(vec![id])
    }

    /// An entity of any of `ids` (sorted and deduplicated here).
    pub fn entity_union(mut ids: Vec<TypeId>) -> Type {
        ids.sort_unstable();
        ids.dedup();
        Type::Entity(ids)
    }

    pub fn set_of(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    /// `Error` or `Any`: nothing can be said statically.
    pub fn is_open(&self) -> bool {
        matches!(self, Type::Error | Type::Any)
    }

    /// The element type of a set type.
    pub fn set_elem(&self) -> Option<&Type> {
        match self {
            Type::Set(elem) => Some(elem),
            _ => None,
        }
    }

    /// The type as the policy language writes it: `Set<String>`, `TlsVersion`, `User | Service`.
    pub fn describe(&self, names: &dyn TypeNames) -> String {
        match self {
            Type::Bool => "Bool".into(),
            Type::Int => "Int".into(),
            Type::String => "String".into(),
            Type::Ip => "Ip".into(),
            Type::Duration => "Duration".into(),
            Type::Timestamp => "Timestamp".into(),
            Type::Decimal => "Decimal".into(),
            Type::Tls => "TlsVersion".into(),
            Type::Enum(id) => names.enum_name(*id).to_owned(),
            Type::Entity(ids) if ids.is_empty() => "entity".into(),
            Type::Entity(ids) => {
                let parts: Vec<&str> = ids.iter().map(|id| names.entity_name(*id)).collect();
                parts.join(" | ")
            }
            Type::Set(elem) => format!("Set<{}>", elem.describe(names)),
            Type::Map(elem) => format!("Map<{}>", elem.describe(names)),
            Type::Record(record) => {
                let fields: Vec<String> = record
                    .fields
                    .iter()
                    .map(|(name, f)| {
                        let q = if f.optional { "?" } else { "" };
                        format!("{name}{q}: {}", f.ty.describe(names))
                    })
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            Type::Any => "Any".into(),
            Type::Error => "?".into(),
        }
    }

    /// The engine's type for this one.
    pub fn to_ir(&self, symbols: &mut Symbols) -> Ty {
        match self {
            Type::Bool => Ty::Bool,
            Type::Int => Ty::Int,
            Type::String => Ty::String,
            Type::Ip => Ty::Ip,
            Type::Duration => Ty::Duration,
            Type::Timestamp => Ty::Timestamp,
            Type::Decimal => Ty::Decimal,
            Type::Tls => Ty::Tls,
            Type::Enum(id) => Ty::Enum(*id),
            Type::Entity(ids) => match ids.as_slice() {
                [one] => Ty::Entity(*one),
                _ => Ty::AnyEntity,
            },
            Type::Set(elem) => Ty::Set(Box::new(elem.to_ir(symbols))),
            Type::Map(elem) => Ty::Map(Box::new(elem.to_ir(symbols))),
            Type::Record(record) => Ty::Record(Box::new(record.to_ir(symbols))),
            Type::Any | Type::Error => Ty::Any,
        }
    }
}

impl RecordTy {
    pub fn get(&self, name: &str) -> Option<&FieldTy> {
        self.fields.get(name)
    }

    /// The engine's record type: fields sorted by symbol, defaults resolved.
    pub fn to_ir(&self, symbols: &mut Symbols) -> RecordType {
        let mut fields: Vec<FieldType> = self
            .fields
            .iter()
            .map(|(name, field)| {
                let default = match &field.default {
                    None => None,
                    Some(FieldDefault::Value(v)) => Some(v.clone()),
                    Some(FieldDefault::RecordOfDefaults) => {
                        Some(record_of_defaults(&field.ty, symbols))
                    }
                };
                FieldType {
                    name: symbols.intern(name),
                    ty: field.ty.to_ir(symbols),
                    optional: field.optional,
                    default,
                }
            })
            .collect();
        fields.sort_by_key(|f| f.name);
        RecordType { fields }
    }
}

/// The record value made of the defaults of a record type's fields.
fn record_of_defaults(ty: &Type, symbols: &mut Symbols) -> Value {
    let mut fields = Vec::new();
    if let Type::Record(record) = ty {
        for (name, field) in &record.fields {
            let value = match &field.default {
                Some(FieldDefault::Value(v)) => v.clone(),
                Some(FieldDefault::RecordOfDefaults) => record_of_defaults(&field.ty, symbols),
                None => continue,
            };
            fields.push((symbols.intern(name), value));
        }
    }
    Value::Record(std::sync::Arc::new(rampart_engine::Record::new(fields)))
}

/// The common type of two values that may share a set, a record field or a comparison:
/// `None` when they cannot. Entity types join into their union.
pub fn join(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Error, other) | (other, Type::Error) => Some(other.clone()),
        (Type::Any, other) | (other, Type::Any) => Some(other.clone()),
        (Type::Entity(x), Type::Entity(y)) => {
            if x.is_empty() || y.is_empty() {
                return Some(Type::Entity(Vec::new()));
            }
            Some(Type::entity_union(x.iter().chain(y).copied().collect()))
        }
        (Type::Set(x), Type::Set(y)) => join(x, y).map(Type::set_of),
        (Type::Map(x), Type::Map(y)) => join(x, y).map(|t| Type::Map(Box::new(t))),
        (Type::Record(x), Type::Record(y)) => {
            if x.fields.len() != y.fields.len() {
                return None;
            }
            let mut fields = BTreeMap::new();
            for ((xn, xf), (yn, yf)) in x.fields.iter().zip(&y.fields) {
                if xn != yn {
                    return None;
                }
                let ty = join(&xf.ty, &yf.ty)?;
                fields.insert(xn.clone(), FieldTy::new(ty, xf.optional || yf.optional));
            }
            Some(Type::Record(Rc::new(RecordTy { fields })))
        }
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}

/// Whether `==` between the two types can ever be true: they join, and entity types overlap.
pub fn comparable(a: &Type, b: &Type) -> bool {
    if let (Type::Entity(x), Type::Entity(y)) = (a, b) {
        return x.is_empty() || y.is_empty() || x.iter().any(|t| y.contains(t));
    }
    join(a, b).is_some()
}

/// Whether a value of type `actual` may be used where `expected` is wanted.
pub fn conforms(actual: &Type, expected: &Type) -> bool {
    match (actual, expected) {
        (Type::Error | Type::Any, _) | (_, Type::Error | Type::Any) => true,
        (Type::Entity(a), Type::Entity(e)) => {
            e.is_empty() || (!a.is_empty() && a.iter().all(|t| e.contains(t)))
        }
        (Type::Set(a), Type::Set(e)) | (Type::Map(a), Type::Map(e)) => conforms(a, e),
        (Type::Record(a), Type::Record(e)) => {
            a.fields.iter().all(|(name, af)| {
                e.fields
                    .get(name)
                    .is_some_and(|ef| conforms(&af.ty, &ef.ty))
            }) && e
                .fields
                .iter()
                .all(|(name, ef)| ef.optional || a.fields.contains_key(name))
        }
        (a, e) => a == e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl TypeNames for Names {
        fn entity_name(&self, id: TypeId) -> &str {
            ["Anonymous", "User", "Service"]
                .get(id as usize)
                .copied()
                .unwrap_or("?")
        }
        fn enum_name(&self, _: EnumId) -> &str {
            "Class"
        }
    }

    #[test]
    fn describes_types_in_policy_words() {
        assert_eq!(Type::set_of(Type::String).describe(&Names), "Set<String>");
        assert_eq!(Type::Tls.describe(&Names), "TlsVersion");
        assert_eq!(
            Type::entity_union(vec![2, 1]).describe(&Names),
            "User | Service"
        );
        assert_eq!(Type::Map(Box::new(Type::Any)).describe(&Names), "Map<Any>");
    }

    #[test]
    fn joins_entities_into_unions_and_rejects_mismatches() {
        assert_eq!(
            join(&Type::entity(1), &Type::entity(2)),
            Some(Type::entity_union(vec![1, 2]))
        );
        assert_eq!(join(&Type::Int, &Type::String), None);
        assert_eq!(
            join(&Type::set_of(Type::Error), &Type::set_of(Type::Int)),
            Some(Type::set_of(Type::Int))
        );
        assert!(!comparable(&Type::entity(1), &Type::entity(2)));
        assert!(comparable(
            &Type::entity(1),
            &Type::entity_union(vec![1, 2])
        ));
    }

    #[test]
    fn conformance_checks_entity_subsets() {
        assert!(conforms(&Type::entity(1), &Type::entity_union(vec![1, 2])));
        assert!(!conforms(&Type::entity_union(vec![1, 2]), &Type::entity(1)));
        assert!(conforms(
            &Type::set_of(Type::Error),
            &Type::set_of(Type::String)
        ));
    }
}
