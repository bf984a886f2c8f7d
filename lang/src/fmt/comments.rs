//! Where each comment goes: at the end of the line of the import/item/declaration it trails
//! (when code preceded it on its line and that code ended the anchor), else before the first
//! anchor that ends after it (a comment inside an item moves before that item; inside a
//! schema block before the next declaration), else at the end of the file.

use std::collections::{HashMap, HashSet};

use crate::ast::{Comment, File, Item, Span, Test, TestEntities, TestRequest};

/// A place in the formatted output comments attach to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Anchor {
    Package,
    Import(usize),
    Item(usize),
    /// A line inside the block that is item `.0`: a schema declaration, or the request,
    /// an entities line or the expectation of a test.
    Decl(usize, usize),
    /// The end of the schema or test block that is item `.0` (before its `}`).
    SchemaEnd(usize),
    /// The end of the file.
    End,
}

/// A comment printed on its own line.
#[derive(Clone, Copy)]
pub(super) struct OwnLine<'a> {
    pub comment: &'a Comment,
    /// Whether a blank line goes before it: where the author left one, never inside an
    /// item (a comment moved out of an item takes the item's blank line, if any).
    pub blank_before: bool,
    /// Whether it was written inside its anchor (and moves before it).
    pub inside: bool,
}

/// Comments grouped by where they are printed, and the blank lines the author left.
#[derive(Default)]
pub(super) struct Placement<'a> {
    before: HashMap<Anchor, Vec<OwnLine<'a>>>,
    trailing: HashMap<Anchor, &'a Comment>,
    blank_before: HashSet<Anchor>,
}

impl<'a> Placement<'a> {
    /// The comments printed on their own lines before `anchor`, in source order.
    pub fn before(&self, anchor: Anchor) -> &[OwnLine<'a>] {
        self.before.get(&anchor).map_or(&[], Vec::as_slice)
    }

    /// Whether the author left a blank line right before `anchor` (after its comments).
    pub fn blank_before(&self, anchor: Anchor) -> bool {
        self.blank_before.contains(&anchor)
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
            start: item_start(item),
            end: span.end,
        });
        let inner: Vec<Span> = match item {
            Item::Schema(schema) => schema.decls.iter().map(decl_span).collect(),
            Item::Test(test) => test_line_spans(test),
            _ => continue,
        };
        let spans = inner
            .into_iter()
            .enumerate()
            .map(|(j, s)| Span3 {
                anchor: Anchor::Decl(i, j),
                start: s.start,
                end: s.end,
            })
            .collect();
        decls.insert(i, spans);
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
        let (anchor, start) = match top.iter().find(|a| a.end > comment.span.start) {
            None => (Anchor::End, u32::MAX),
            Some(Span3 {
                anchor: Anchor::Item(i),
                start,
                ..
            }) if *start < comment.span.start && decls.contains_key(i) => decls
                .get(i)
                .and_then(|ds| ds.iter().find(|d| d.end > comment.span.start))
                .map_or((Anchor::SchemaEnd(*i), u32::MAX), |d| (d.anchor, d.start)),
            Some(a) => (a.anchor, a.start),
        };
        // A comment written inside its anchor moves before it, without its blank lines.
        let inside = start < comment.span.start;
        placement.before.entry(anchor).or_default().push(OwnLine {
            comment,
            blank_before: !inside && file.blank_lines.before(comment.span.start),
            inside,
        });
    }
    // Where code or a comment ends, to find what precedes each anchor (whose span may
    // start after its keyword, like a test's request).
    let mut ends: Vec<u32> = top
        .iter()
        .chain(decls.values().flatten())
        .map(|a| a.end)
        .chain(file.comments.iter().map(|c| c.span.end))
        .collect();
    ends.sort_unstable();
    for a in top.iter().chain(decls.values().flatten()) {
        let from = ends
            .partition_point(|&e| e <= a.start)
            .checked_sub(1)
            .and_then(|i| ends.get(i))
            .copied()
            .unwrap_or(0);
        let blank = file.blank_lines.within(from, a.start);
        // Comments moved out of the anchor stay next to it: the blank line goes before them.
        let moved = placement
            .before
            .get_mut(&a.anchor)
            .and_then(|comments| comments.iter_mut().find(|c| c.inside));
        match moved {
            Some(first_moved) => first_moved.blank_before = blank,
            None if blank => {
                placement.blank_before.insert(a.anchor);
            }
            None => {}
        }
    }
    placement
}

/// Where an item starts in the source: at its first annotation, if any.
fn item_start(item: &Item) -> u32 {
    let annotations = match item {
        Item::Const(x) => &x.annotations,
        Item::Route(x) => &x.annotations,
        Item::Principal(x) => &x.annotations,
        Item::Rule(x) => &x.annotations,
        Item::Obligation(x) => &x.annotations,
        Item::Schema(_) | Item::Test(_) => return item.span().start,
    };
    annotations
        .first()
        .map_or(item.span().start, |a| a.span.start.min(item.span().start))
}

/// The spans of a test's lines: its request, entities lines and expectation.
fn test_line_spans(test: &Test) -> Vec<Span> {
    let request = match &test.request {
        TestRequest::Parts { span, .. } | TestRequest::Http { span, .. } => *span,
    };
    let mut spans = vec![request];
    spans.extend(test.entities.iter().map(|e| match e {
        TestEntities::File(path) => path.span,
        TestEntities::Inline { span, .. } => *span,
    }));
    spans.push(test.expect.span);
    spans
}

fn decl_span(decl: &crate::ast::SchemaDecl) -> Span {
    use crate::ast::SchemaDecl;
    match decl {
        SchemaDecl::Entity(d) => d.span,
        SchemaDecl::Enum(d) => d.span,
        SchemaDecl::Action(d) => d.span,
        SchemaDecl::Context(d) => d.span,
        SchemaDecl::Type(d) => d.span,
    }
}
