//! Schema blocks and their declarations: `head { a, b }` on one line when it fits, else
//! one attribute per line with a trailing comma; record types inside break the same way.

use super::doc::{bracketed, text, Doc};
use super::expr::{quote, record_key};
use super::items::{names, string_list};
use super::WIDTH;
use crate::ast::*;

/// A schema block without comments (with comments, the caller interleaves them).
pub(super) fn schema_lines(schema: &Schema) -> Vec<String> {
    if schema.decls.is_empty() {
        return vec!["schema {}".to_owned()];
    }
    let mut lines = vec!["schema {".to_owned()];
    for decl in &schema.decls {
        for line in decl_lines(decl, WIDTH - 2) {
            lines.extend(line.lines().map(|l| format!("  {l}")));
        }
    }
    lines.push("}".to_owned());
    lines
}

/// The lines of one schema declaration, for a line of `width` columns.
pub(super) fn decl_lines(decl: &SchemaDecl, width: usize) -> Vec<String> {
    let doc = match decl {
        SchemaDecl::Entity(e) => {
            let head = format!("entity {}", e.name.name);
            let tail = if e.parents.is_empty() {
                String::new()
            } else {
                format!(" in [{}]", names(&e.parents))
            };
            let decl = if e.attrs.is_empty() {
                text(format!("{head}{tail}"))
            } else {
                braced(&head, attr_items(&e.attrs), &tail)
            };
            match &e.tags {
                Some(tags) => Doc::Concat(vec![decl, text(" tags "), type_expr(tags)]),
                None => decl,
            }
        }
        SchemaDecl::Enum(e) => {
            let variants = e.variants.iter().map(|v| text(v.name.clone())).collect();
            braced(&format!("enum {}", e.name.name), variants, "")
        }
        SchemaDecl::Action(a) => {
            let mut head = String::new();
            if !a.groups.is_empty() {
                let groups: Vec<String> = a.groups.iter().map(|g| quote(&g.value)).collect();
                head.push_str(" in ");
                if groups.len() > 1 {
                    head.push_str(&format!("[{}]", groups.join(", ")));
                } else {
                    head.push_str(&groups.join(", "));
                }
            }
            if !a.resources.is_empty() {
                head.push_str(" on ");
                head.push_str(&names(&a.resources));
            }
            if !a.principals.is_empty() {
                head.push_str(" for ");
                head.push_str(&names(&a.principals));
            }
            let mut parts = vec![text("action "), string_list(&a.names), text(head)];
            if !a.context.is_empty() {
                // `context` stays on the action's line: on the next it is a declaration.
                parts.push(braced(" context", attr_items(&a.context), ""));
            }
            Doc::Concat(parts)
        }
        SchemaDecl::Context(c) => braced("context", attr_items(&c.attrs), ""),
        SchemaDecl::Type(t) => Doc::Concat(vec![
            text(format!("type {} = ", t.name.name)),
            type_expr(&t.ty),
        ]),
    };
    vec![doc.render(width)]
}

/// `head { a, b }tail` on one line when it fits, else one item per line.
fn braced(head: &str, items: Vec<Doc>, tail: &str) -> Doc {
    Doc::Concat(vec![
        text(format!("{head} ")),
        bracketed("{", items, "}", true),
        text(tail),
    ])
}

fn attr_items(attrs: &[AttrDecl]) -> Vec<Doc> {
    attrs.iter().map(attr).collect()
}

fn attr(a: &AttrDecl) -> Doc {
    let optional = if a.optional { "?" } else { "" };
    Doc::Concat(vec![
        text(format!("{}{optional}: ", record_key(&a.name.name))),
        type_expr(&a.ty),
    ])
}

fn type_expr(t: &TypeExpr) -> Doc {
    match &t.kind {
        TypeExprKind::Named(name) => text(name.name.clone()),
        TypeExprKind::Set(inner) => Doc::Concat(vec![text("Set<"), type_expr(inner), text(">")]),
        TypeExprKind::Map(inner) => Doc::Concat(vec![text("Map<"), type_expr(inner), text(">")]),
        TypeExprKind::Record(attrs) => bracketed("{", attr_items(attrs), "}", true),
    }
}
