//! `test "name" { … }` blocks: the request, its `headers`/`context` on lines of their own
//! when the request does not fit, entities and the expectation.

use super::doc::{bracketed, text, Doc};
use super::expr::{expr_doc, prec, quote};
use super::items::string_set;
use super::WIDTH;
use crate::ast::*;

/// `test "name" {`
pub(super) fn head(t: &Test) -> String {
    format!("test {} {{", quote(&t.name.value))
}

/// The lines of a test's body, without their indentation of two columns: the request,
/// the entities and the expectation (each may hold line breaks).
pub(super) fn body(t: &Test) -> Vec<String> {
    let mut body = vec![request(&t.request)];
    body.extend(t.entities.iter().map(entities));
    let mut expect = vec![text(format!(
        "expect {}",
        if t.expect.allow { "allow" } else { "deny" }
    ))];
    if let Some(rules) = &t.expect.rules {
        expect.push(text(" by "));
        expect.push(string_set(rules));
    }
    body.push(Doc::Concat(expect));
    body.iter().map(|doc| doc.render(WIDTH - 2)).collect()
}

/// The lines of a test block without comments.
pub(super) fn test_lines(t: &Test) -> Vec<String> {
    let mut lines = vec![head(t)];
    for line in body(t) {
        lines.extend(line.lines().map(|l| format!("  {l}")));
    }
    lines.push("}".to_owned());
    lines
}

/// `entities "file"` or `entity U attrs in [parents]`.
fn entities(source: &TestEntities) -> Doc {
    match source {
        TestEntities::File(path) => text(format!("entities {}", quote(&path.value))),
        TestEntities::Inline {
            uid,
            attrs,
            parents,
            ..
        } => {
            let mut parts = vec![text("entity "), expr_doc(uid, prec::POSTFIX)];
            if let Some(attrs) = attrs {
                parts.push(text(" "));
                // `entity U ["k"]` would read as the index `U["k"]`.
                let min = if matches!(attrs.kind, ExprKind::Set(_)) {
                    prec::PRIMARY + 1
                } else {
                    prec::POSTFIX
                };
                parts.push(expr_doc(attrs, min));
            }
            if !parents.is_empty() {
                parts.push(text(" in "));
                let parents = parents.iter().map(|p| expr_doc(p, prec::POSTFIX)).collect();
                parts.push(bracketed("[", parents, "]", false));
            }
            Doc::Concat(parts)
        }
    }
}

/// `request …` on one line when it fits; else `headers` and `context` on lines of their
/// own (and the parts of the request itself, when even they do not fit).
fn request(request: &TestRequest) -> Doc {
    let clause = |keyword: &str, e: &Option<Expr>| {
        e.as_ref().map(|e| {
            Doc::Concat(vec![
                text(format!("{keyword} ")),
                expr_doc(e, prec::POSTFIX),
            ])
        })
    };
    let (head, extra) = match request {
        TestRequest::Parts {
            principal,
            action,
            resource,
            context,
            ..
        } => {
            let mut parts = Vec::new();
            if let Some(p) = clause("principal", principal) {
                parts.push(p);
            }
            parts.push(text(format!("action {}", quote(&action.value))));
            parts.push(Doc::Concat(vec![
                text("resource "),
                expr_doc(resource, prec::POSTFIX),
            ]));
            (parts, vec![clause("context", context)])
        }
        TestRequest::Http {
            method,
            path,
            principal,
            headers,
            context,
            ..
        } => {
            let mut parts = vec![text(format!("{} {}", method.name, quote(&path.value)))];
            if let Some(p) = clause("principal", principal) {
                parts.push(p);
            }
            (
                parts,
                vec![clause("headers", headers), clause("context", context)],
            )
        }
    };
    let mut head_parts = Vec::new();
    for part in head {
        head_parts.push(Doc::Line);
        head_parts.push(part);
    }
    let mut extra_parts = Vec::new();
    for part in extra.into_iter().flatten() {
        extra_parts.push(Doc::Line);
        extra_parts.push(part);
    }
    Doc::Group(vec![
        Doc::Group(vec![text("request"), Doc::Nest(2, head_parts)]),
        Doc::Nest(2, extra_parts),
    ])
}
