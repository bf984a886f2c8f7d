//! Scope heads: rules about entities, not only types (`for User in Group::"admins"`,
//! `on Doc::"d"`, Cedar's `principal in E` and `resource == E` scopes).
//!
//! A head is part of the scope: a request whose principal (or resource) does not match it
//! is outside the rule, which then neither applies nor fails, whatever its conditions.
//! The rule index files a rule under its head's entities ([`crate::index`]), so a request
//! gets the rules of its own entity and ancestors as candidates; the decision procedure
//! still checks every candidate's head here, so what the index selects is an optimisation,
//! never a decision.

use crate::bundle::{Head, HeadOp, Scope};
use crate::engine::Engine;
use crate::eval::EvalContext;
use crate::val::Subject;

/// Which request entity a head is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Principal,
    Resource,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Principal => "principal",
            Side::Resource => "resource",
        }
    }
}

/// The first head of `scope` the request does not match (principal first), if any.
pub(crate) fn mismatch<'s>(scope: &'s Scope, cx: &EvalContext<'_>) -> Option<(Side, &'s Head)> {
    let heads = [
        (Side::Principal, &scope.principal_head, &cx.principal),
        (Side::Resource, &scope.resource_head, &cx.resource),
    ];
    heads.into_iter().find_map(|(side, head, subject)| {
        let head = head.as_ref()?;
        (!matches(head, subject, cx)).then_some((side, head))
    })
}

/// Whether the request's principal matches a head (query plans know the principal).
pub(crate) fn principal_matches(head: &Head, cx: &EvalContext<'_>) -> bool {
    matches(head, &cx.principal, cx)
}

/// Whether a request entity matches a head: it is one of the head's entities or, for
/// `in`, a descendant of one. An entity missing from the data has no ancestors; a subject
/// that is not known (or not an entity) matches nothing.
fn matches<'a>(head: &Head, subject: &Subject<'a>, cx: &EvalContext<'a>) -> bool {
    let Some(uid) = subject.uid() else {
        return false;
    };
    if head.entities.iter().any(|e| e == uid) {
        return true;
    }
    if head.op == HeadOp::Eq {
        return false;
    }
    let entity = subject
        .resolve(cx.entities)
        .ok()
        .and_then(|resolved| resolved.entity);
    entity.is_some_and(|entity| {
        head.entities
            .iter()
            .any(|group| cx.entities.has_ancestor(entity, group))
    })
}

/// Why a request is outside a head, for explanations: ``principal `User::"bob"` is not in
/// `Group::"admins"` ``.
pub(crate) fn describe(engine: &Engine, side: Side, head: &Head, cx: &EvalContext<'_>) -> String {
    let subject = match side {
        Side::Principal => &cx.principal,
        Side::Resource => &cx.resource,
    };
    let who = subject
        .uid()
        .map_or_else(|| String::from("unknown"), |uid| engine.uid_to_string(uid));
    let entities: Vec<String> = head
        .entities
        .iter()
        .map(|uid| format!("`{}`", engine.uid_to_string(uid)))
        .collect();
    let relation = match head.op {
        HeadOp::Eq => "is not",
        HeadOp::In => "is not in",
    };
    let alternatives = if entities.len() > 1 { "any of " } else { "" };
    format!(
        "{} `{who}` {relation} {alternatives}{}: outside the rule's scope",
        side.name(),
        entities.join(", ")
    )
}
