//! Rule and obligation scopes: which actions, resource types and principal types they
//! cover (E007, E008), and from that the types of `principal`, `resource` and `context`
//! inside their conditions.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use rampart_engine::bundle::{self as ir, ActionId, TypeId};
use rampart_engine::value::EntityUid;

use super::builtins::ANONYMOUS;
use super::ops::never_in;
use super::schema::{unknown_action, unknown_entity_type, ActionInfo, SchemaInfo};
use super::types::{join, FieldTy, RecordTy, Type};
use crate::ast::{self, HeadOp, Ident, ScopeList};
use crate::diagnostics::Diagnostic;

/// What kind of item a scope belongs to: decides what an omitted principal covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeRole {
    /// Omitted principal: every type except `Anonymous`.
    Allow,
    /// Omitted principal: every type.
    DenyOrRequire,
    /// Obligations apply to allow decisions: `Anonymous` only when some allow names it.
    Obligation { anonymous_allowed: bool },
}

/// A resolved scope.
#[derive(Debug)]
pub struct ResolvedScope {
    pub ir: ir::Scope,
    pub principal: Type,
    pub resource: Type,
    pub context: Type,
}

/// Resolves a scope, reporting unknown actions and types and impossible combinations.
pub fn resolve(
    schema: &SchemaInfo,
    scope: &ast::Scope,
    role: ScopeRole,
    diags: &mut Vec<Diagnostic>,
) -> ResolvedScope {
    let mut poisoned = false;
    let actions: Option<Vec<ActionId>> = match &scope.actions {
        None | Some(ScopeList::Any) => None,
        Some(ScopeList::List(names)) => {
            let mut ids = Vec::new();
            for name in names {
                match schema.action_id(&name.value) {
                    Some(id) => {
                        // A group covers itself and every action in it (Cedar's
                        // `action in Action::"group"`), as index keys.
                        let members = schema.action(id).map(|a| a.members.as_slice());
                        for id in std::iter::once(id).chain(members.into_iter().flatten().copied())
                        {
                            if !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                    }
                    None => {
                        diags.push(unknown_action(schema, &name.value, name.span));
                        poisoned = true;
                    }
                }
            }
            Some(ids)
        }
    };
    let mut resources = type_list(schema, scope.resources.as_ref(), diags, &mut poisoned);
    let mut principals = type_list(schema, scope.principals.as_ref(), diags, &mut poisoned);
    let resource_head = head(
        schema,
        scope.resource_head.as_ref(),
        scope.resources.as_ref(),
        &mut resources,
        diags,
        &mut poisoned,
    );
    let principal_head = head(
        schema,
        scope.principal_head.as_ref(),
        scope.principals.as_ref(),
        &mut principals,
        diags,
        &mut poisoned,
    );

    let candidates: Vec<ActionId> = match &actions {
        Some(ids) => ids.clone(),
        None => (0..schema.actions.len())
            .filter_map(|i| ActionId::try_from(i).ok())
            .collect(),
    };
    let explicit_actions = actions.is_some();
    for (name, id) in written(schema, scope.resources.as_ref()) {
        if !candidates.is_empty()
            && !candidates
                .iter()
                .any(|a| allows_resource(schema.action(*a), id))
        {
            diags.push(impossible(
                schema,
                &candidates,
                explicit_actions,
                name,
                Side::Resource,
            ));
        }
    }
    for (name, id) in written(schema, scope.principals.as_ref()) {
        if !candidates.is_empty()
            && !candidates
                .iter()
                .any(|a| allows_principal(schema.action(*a), id))
        {
            diags.push(impossible(
                schema,
                &candidates,
                explicit_actions,
                name,
                Side::Principal,
            ));
        }
    }

    let effective: Vec<&ActionInfo> = candidates
        .iter()
        .filter_map(|a| schema.action(*a))
        .filter(|a| {
            resources
                .as_ref()
                .is_none_or(|rs| rs.iter().any(|r| allows_resource(Some(a), *r)))
        })
        .filter(|a| {
            principals
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| allows_principal(Some(a), *p)))
        })
        .collect();
    let no_actions = schema.actions.is_empty();
    let all_types = schema.declared_entity_ids();
    let include_anonymous = match role {
        ScopeRole::Allow => false,
        ScopeRole::DenyOrRequire => true,
        ScopeRole::Obligation { anonymous_allowed } => anonymous_allowed,
    };

    // `* in E` covers every type that can be in `E`; in the conditions, only those the
    // effective actions declare (as for an omitted scope).
    let declared = |ids: &[TypeId], allows: fn(Option<&ActionInfo>, TypeId) -> bool| {
        let kept: Vec<TypeId> = ids
            .iter()
            .copied()
            .filter(|t| no_actions || effective.iter().any(|a| allows(Some(a), *t)))
            .collect();
        if kept.is_empty() {
            ids.to_vec()
        } else {
            kept
        }
    };
    let principal = match &principals {
        Some(ids) if is_any(scope.principals.as_ref()) => {
            Type::entity_union(declared(ids, allows_principal))
        }
        Some(ids) => Type::entity_union(ids.clone()),
        None if poisoned => Type::Error,
        None if no_actions => union_with_anonymous(all_types.clone(), include_anonymous),
        None if effective.is_empty() => Type::Error,
        None => {
            let mut ids = Vec::new();
            for a in &effective {
                match &a.principals {
                    Some(ps) => ids.extend(ps.iter().copied()),
                    None => ids.extend(union_ids(all_types.clone(), include_anonymous)),
                }
            }
            if !include_anonymous {
                ids.retain(|t| *t != ANONYMOUS);
            }
            Type::entity_union(ids)
        }
    };
    let resource = match &resources {
        Some(ids) if is_any(scope.resources.as_ref()) => {
            Type::entity_union(declared(ids, allows_resource))
        }
        Some(ids) => Type::entity_union(ids.clone()),
        None if poisoned => Type::Error,
        None if no_actions => Type::entity_union(all_types.clone()),
        None if effective.is_empty() => Type::Error,
        None => {
            let mut ids = Vec::new();
            for a in &effective {
                match &a.resources {
                    Some(rs) => ids.extend(rs.iter().copied()),
                    None => ids.extend(all_types.iter().copied()),
                }
            }
            Type::entity_union(ids)
        }
    };
    let context = if poisoned {
        Type::Error
    } else {
        context_type(schema, &effective)
    };
    ResolvedScope {
        ir: ir::Scope {
            actions,
            resources,
            principals,
            resource_head,
            principal_head,
        },
        principal,
        resource,
        context,
    }
}

fn union_ids(mut ids: Vec<TypeId>, anonymous: bool) -> Vec<TypeId> {
    if anonymous {
        ids.push(ANONYMOUS);
    }
    ids
}

fn union_with_anonymous(ids: Vec<TypeId>, anonymous: bool) -> Type {
    Type::entity_union(union_ids(ids, anonymous))
}

/// Resolves a scope head. The entities' types must exist (E004; for `==` the type list is
/// made of them and reports them); in `TYPES in E`, each written type must be able to be
/// in `E` (E006); `* in E` covers the types that can be, `E`'s own included, and sets
/// `types` to them. `None` when there is no head or it does not resolve.
fn head(
    schema: &SchemaInfo,
    head: Option<&ast::ScopeHead>,
    written: Option<&ScopeList<Ident>>,
    types: &mut Option<Vec<TypeId>>,
    diags: &mut Vec<Diagnostic>,
    poisoned: &mut bool,
) -> Option<ir::Head> {
    let head = head?;
    let mut entities = Vec::new();
    for entity in &head.entities {
        match schema.entity_id(&entity.ty.name) {
            Some(ty) => entities.push(EntityUid {
                ty,
                id: Arc::from(entity.id.value.as_str()),
            }),
            None => {
                // `==` lists its entities' types, already reported by the type list.
                if head.op == HeadOp::In {
                    diags.push(unknown_entity_type(schema, &entity.ty));
                }
                *poisoned = true;
            }
        }
    }
    if entities.len() != head.entities.len() {
        return None;
    }
    if head.op == HeadOp::In {
        let (Some(group), Some(lit)) = (entities.first(), head.entities.first()) else {
            return None;
        };
        match written {
            Some(ScopeList::List(names)) => {
                let mut possible = true;
                for name in names {
                    let Some(ty) = schema.entity_id(&name.name) else {
                        continue;
                    };
                    if !schema.may_be_in(ty, group.ty) {
                        diags.push(never_in(schema, &[ty], &name.name, &lit.ty.name, lit.span));
                        possible = false;
                    }
                }
                if !possible {
                    *poisoned = true;
                    return None;
                }
            }
            _ => {
                let mut ids: Vec<TypeId> = (0..schema.entities.len())
                    .filter_map(|i| TypeId::try_from(i).ok())
                    .filter(|ty| schema.may_be_in(*ty, group.ty))
                    .collect();
                ids.sort_unstable();
                *types = Some(ids);
            }
        }
    }
    let op = match head.op {
        HeadOp::Eq => ir::HeadOp::Eq,
        HeadOp::In => ir::HeadOp::In,
    };
    Some(ir::Head { op, entities })
}

/// Entity types written in a scope; `None` for `*` or omitted.
fn type_list(
    schema: &SchemaInfo,
    list: Option<&ScopeList<Ident>>,
    diags: &mut Vec<Diagnostic>,
    poisoned: &mut bool,
) -> Option<Vec<TypeId>> {
    let Some(ScopeList::List(names)) = list else {
        return None;
    };
    let mut ids = Vec::new();
    for name in names {
        match schema.entity_id(&name.name) {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => {
                diags.push(unknown_entity_type(schema, name));
                *poisoned = true;
            }
        }
    }
    Some(ids)
}

/// The written names paired with their resolved ids (unknown names skipped).
fn written<'s>(
    schema: &SchemaInfo,
    list: Option<&'s ScopeList<Ident>>,
) -> Vec<(&'s Ident, TypeId)> {
    let Some(ScopeList::List(names)) = list else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|n| schema.entity_id(&n.name).map(|id| (n, id)))
        .collect()
}

/// Whether a scope part is written `*` (with a head, the types are then computed).
fn is_any(list: Option<&ScopeList<Ident>>) -> bool {
    matches!(list, Some(ScopeList::Any))
}

fn allows_resource(action: Option<&ActionInfo>, ty: TypeId) -> bool {
    action.is_some_and(|a| a.resources.as_ref().is_none_or(|rs| rs.contains(&ty)))
}

fn allows_principal(action: Option<&ActionInfo>, ty: TypeId) -> bool {
    action.is_some_and(|a| a.principals.as_ref().is_none_or(|ps| ps.contains(&ty)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Resource,
    Principal,
}

/// E008: a written type that none of the scope's actions is declared with.
fn impossible(
    schema: &SchemaInfo,
    actions: &[ActionId],
    explicit: bool,
    name: &Ident,
    side: Side,
) -> Diagnostic {
    let (prep, role) = match side {
        Side::Resource => ("on", "resource"),
        Side::Principal => ("for", "principal"),
    };
    let declared = |a: &ActionInfo| -> String {
        let list = match side {
            Side::Resource => &a.resources,
            Side::Principal => &a.principals,
        };
        let names: Vec<String> = list
            .iter()
            .flatten()
            .filter_map(|t| schema.entity(*t))
            .map(|e| format!("`{}`", e.name))
            .collect();
        format!("`{}` is declared {prep} {}", a.name, names.join(", "))
    };
    let infos: Vec<&ActionInfo> = actions.iter().filter_map(|a| schema.action(*a)).collect();
    let message = match (explicit, infos.as_slice()) {
        (true, [one]) => format!(
            "impossible scope: action `{}` is not declared {prep} `{}`",
            one.name, name.name
        ),
        (true, _) => format!(
            "impossible scope: none of the rule's actions is declared {prep} `{}`",
            name.name
        ),
        (false, _) => format!(
            "impossible scope: no action is declared {prep} `{}`",
            name.name
        ),
    };
    let helps: Vec<String> = infos.iter().take(3).map(|a| declared(a)).collect();
    Diagnostic::error("E008", message)
        .with_label(name.span, format!("never the {role} of these actions"))
        .with_help(format!("{}; the rule could never apply", helps.join("; ")))
}

/// The context type: the schema's, plus the fields every effective action adds.
fn context_type(schema: &SchemaInfo, effective: &[&ActionInfo]) -> Type {
    let Some((first, rest)) = effective.split_first() else {
        return Type::Record(schema.context.clone());
    };
    let mut extra: BTreeMap<String, FieldTy> = first.context.fields.clone();
    for a in rest {
        extra.retain(|name, field| {
            a.context
                .get(name)
                .is_some_and(|other| join(&field.ty, &other.ty).as_ref() == Some(&field.ty))
        });
    }
    if extra.is_empty() {
        return Type::Record(schema.context.clone());
    }
    let mut fields = schema.context.fields.clone();
    for (name, field) in extra {
        fields.entry(name).or_insert(field);
    }
    Type::Record(Rc::new(RecordTy { fields }))
}
