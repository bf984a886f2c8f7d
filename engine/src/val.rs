//! What evaluation works on: [`Val`], a value borrowed wherever one already exists (the
//! bundle's constants, the request's context, the entity data) and owned only when
//! computed; and the request's principal and resource as [`Subject`]s, looked up in the
//! entity data at most once per decision. Borrowing is what keeps deciding free of
//! allocation and of reference-count traffic shared between threads.

use std::cell::OnceCell;
use std::ops::Deref;
use std::sync::Arc;

use crate::bundle::TypeId;
use crate::entities::{Entity, EntityStore};
use crate::eval::{EvalError, EvalResult};
use crate::value::{EntityUid, Value};

/// A value that is borrowed when it already exists somewhere, owned when it was computed.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Ref(&'a Value),
    Owned(Value),
}

impl Deref for Val<'_> {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            Val::Ref(value) => value,
            Val::Owned(value) => value,
        }
    }
}

impl Val<'_> {
    /// The value itself, cloned if borrowed (cheap: values share their contents).
    pub(crate) fn into_owned(self) -> Value {
        match self {
            Val::Ref(value) => value.clone(),
            Val::Owned(value) => value,
        }
    }
}

/// The principal or the resource of a request, looked up in the entity data at most once.
#[derive(Debug)]
pub(crate) enum Subject<'a> {
    /// Not known here (while mapping the principal, while routing); the message says so.
    Unknown(&'static str),
    /// Named by the request; resolved on first use.
    Uid(&'a EntityUid, OnceCell<Resolved<'a>>),
    Resolved(Resolved<'a>),
}

/// An entity reference and its entity, if the data defines it.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    /// `Value::Entity`: the store's own value when the entity is defined.
    pub value: Val<'a>,
    pub entity: Option<&'a Entity>,
}

impl<'a> Resolved<'a> {
    fn of_uid(entities: &'a EntityStore, uid: &EntityUid) -> Self {
        match entities.get(uid) {
            Some(entity) => Resolved {
                value: Val::Ref(&entity.value),
                entity: Some(entity),
            },
            None => Resolved {
                value: Val::Owned(Value::Entity(uid.clone())),
                entity: None,
            },
        }
    }

    /// `Type::{id}`: the defined entity, else a reference to a missing one.
    pub(crate) fn of_id(entities: &'a EntityStore, ty: TypeId, id: &Arc<str>) -> Self {
        match entities.find(ty, id) {
            Some(entity) => Resolved {
                value: Val::Ref(&entity.value),
                entity: Some(entity),
            },
            None => Resolved {
                value: Val::Owned(Value::Entity(EntityUid {
                    ty,
                    id: Arc::clone(id),
                })),
                entity: None,
            },
        }
    }

    /// A reference that is known not to be in the data.
    pub(crate) fn missing(value: &'a Value) -> Self {
        Resolved {
            value: Val::Ref(value),
            entity: None,
        }
    }

    pub(crate) fn uid(&self) -> Option<&EntityUid> {
        match &*self.value {
            Value::Entity(uid) => Some(uid),
            _ => None,
        }
    }
}

impl<'a> Subject<'a> {
    pub(crate) fn uid(&self) -> Option<&EntityUid> {
        match self {
            Subject::Unknown(_) => None,
            Subject::Uid(uid, _) => Some(uid),
            Subject::Resolved(resolved) => resolved.uid(),
        }
    }

    /// The entity type (0, `Anonymous`, while unknown).
    pub(crate) fn type_id(&self) -> TypeId {
        self.uid().map_or(0, |uid| uid.ty)
    }

    pub(crate) fn resolve(&self, entities: &'a EntityStore) -> EvalResult<&Resolved<'a>> {
        match self {
            Subject::Unknown(message) => Err(EvalError::Static(message)),
            Subject::Uid(uid, cell) => Ok(cell.get_or_init(|| Resolved::of_uid(entities, uid))),
            Subject::Resolved(resolved) => Ok(resolved),
        }
    }
}

/// Picks a part of a value, keeping it borrowed when the value was.
pub(crate) fn project<'c, E>(
    target: Val<'c>,
    pick: impl for<'v> FnOnce(&'v Value) -> Result<Option<&'v Value>, E>,
) -> Result<Option<Val<'c>>, E> {
    match target {
        Val::Ref(value) => pick(value).map(|found| found.map(Val::Ref)),
        Val::Owned(value) => pick(&value).map(|found| found.cloned().map(Val::Owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_values_stay_borrowed() {
        let value = Value::Int(3);
        assert!(matches!(
            project(Val::Ref(&value), |v| Ok::<_, ()>(Some(v))),
            Ok(Some(Val::Ref(_)))
        ));
        assert!(matches!(
            project(Val::Owned(value.clone()), |v| Ok::<_, ()>(Some(v))),
            Ok(Some(Val::Owned(Value::Int(3))))
        ));
    }
}
