//! Where each comment goes: at the end of the line of the import/item/declaration it trails
//! (when code preceded it on its line and that code ended the anchor), else before the first
//! anchor that ends after it (a comment inside an item moves before that item; inside a
//! schema block before the next declaration), else at the end of the file.

use std::collections::HashMap;

use crate::ast::{Comment, File, Item};

/// A place in the formatted output comments attach to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Anchor {
    Package,
    Import(usize),
    Item(usize),
    /// A declaration of the schema block that is item `.0`.
    Decl(usize, usize),
    /// The end of the schema block that is item `.0` (before its `}`).
    SchemaEnd(usize),
    /// The end of the file.
    End,
}

/// Comments grouped by where they are printed.
#[derive(Default)]
pub(super) struct Placement<'a> {
    before: HashMap<Anchor, Vec<&'a Comment>>,
    trailing: HashMap<Anchor, &'a Comment>,
}

impl<'a> Placement<'a> {
    /// The comments printed on their own lines before `anchor`, in source order.
    pub fn before(&self, anchor: Anchor) -> &[&'a Comment] {
        self.before.get(&anchor).map_or(&[], Vec::as_slice)
    }

    /// The comment printed at the end of `anchor`'s last line.
    pub fn trailing(&self, anchor: Anchor) -> Option<&'a Comment> {
        self.trailing.get(&anchor).copied()
    }
}

struct Span3 {
    anchor: Anchor,
    start: u32,
    end: u32,
}

/// Decides where every comment of `file` goes.
pub(super) fn place(file: &File) -> Placement<'_> {
    let mut top = vec![Span3 {
        anchor: Anchor::Package,
        start: file.package.span.start,
        end: file.package.span.end,
    }];
    for (i, import) in file.imports.iter().enumerate() {
        top.push(Span3 {
            anchor: Anchor::Import(i),
            start: import.span.start,
            end: import.span.end,
        });
    }
    let mut decls: HashMap<usize, Vec<Span3>> = HashMap::new();
    for (i, item) in file.items.iter().enumerate() {
        let span = item.span();
        top.push(Span3 {
            anchor: Anchor::Item(i),
            start: span.start,
            end: span.end,
        });
        if let Item::Schema(schema) = item {
            let spans = schema
                .decls
                .iter()
                .enumerate()
                .map(|(j, d)| {
                    let s = decl_span(d);
                    Span3 {
                        anchor: Anchor::Decl(i, j),
                        start: s.start,
                        end: s.end,
                    }
                })
                .collect();
            decls.insert(i, spans);
        }
    }
    let mut placement = Placement::default();
    for comment in &file.comments {
        let trailed = comment.code_before.and_then(|code_end| {
            top.iter()
                .chain(decls.values().flatten())
                .find(|a| a.end == code_end && a.end <= comment.span.start)
                .map(|a| a.anchor)
                .filter(|a| !placement.trailing.contains_key(a))
        });
        if let Some(anchor) = trailed {
            placement.trailing.insert(anchor, comment);
            continue;
        }
        let anchor = match top.iter().find(|a| a.end > comment.span.start) {
            None => Anchor::End,
            Some(Span3 {
                anchor: Anchor::Item(i),
                start,
                ..
            }) if *start < comment.span.start && decls.contains_key(i) => decls
                .get(i)
                .and_then(|ds| ds.iter().find(|d| d.end > comment.span.start))
                .map_or(Anchor::SchemaEnd(*i), |d| d.anchor),
            Some(a) => a.anchor,
        };
        placement.before.entry(anchor).or_default().push(comment);
    }
    placement
}

fn decl_span(decl: &crate::ast::SchemaDecl) -> crate::ast::Span {
    use crate::ast::SchemaDecl;
    match decl {
        SchemaDecl::Entity(d) => d.span,
        SchemaDecl::Enum(d) => d.span,
        SchemaDecl::Action(d) => d.span,
        SchemaDecl::Context(d) => d.span,
    }
}
