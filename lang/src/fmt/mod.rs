//! Canonical formatting, like `rustfmt`: one layout for every tree, so formatting is
//! idempotent and `parse(format_file(ast)) == ast`.
//!
//! Layout: 2-space indentation, one blank line between items (consecutive routes, principal
//! mappings or consts without annotations stay together), and the author's blank lines
//! between items, comments and schema declarations (a run collapses to one; none is added
//! inside an item). Every line fits in [`WIDTH`] columns unless one token cannot break: a
//! rule, obligation or principal mapping that fits stays on one line; otherwise its head is
//! followed by `  when …`, `  unless …` and `  reason …` lines, and a `when`/`unless`
//! condition that still does not fit is split at its top-level `and`s (`  when  a` /
//! `    and b`). Sets, records, lists and long heads break one element per line with a
//! trailing comma, recursively (see the `doc` module). Parentheses are added exactly where
//! precedence needs them, and around the `and`s of an `or` broken over lines. Comments are
//! kept (see the `comments` module).

mod comments;
mod doc;
mod expr;

/// A string as a Rampart string literal, escaped as `rampart fmt` writes it.
pub use expr::quote as string_literal;
pub(crate) mod items;
mod schema;
mod test_block;

use crate::ast;
use crate::diagnostics::{Diagnostic, SourceFile};
use comments::{Anchor, Placement};

pub use expr::is_identifier;
pub use expr::{format_duration, format_expr, format_timestamp};
pub use items::format_rule_body;

/// Maximum line width the layout aims for.
pub const WIDTH: usize = 100;

/// Formats a parsed file canonically. The result ends with one line break.
pub fn format_file(file: &ast::File) -> String {
    let placement = comments::place(file);
    let mut out = Output {
        text: String::new(),
        placement,
    };
    let package = vec![format!("package {}", file.package.dotted())];
    out.block(Anchor::Package, package, Gap::None, 0);
    for (i, import) in file.imports.iter().enumerate() {
        let gap = if i == 0 { Gap::Blank } else { Gap::AsWritten };
        out.block(
            Anchor::Import(i),
            vec![import_doc(import).render(WIDTH)],
            gap,
            0,
        );
    }
    for (i, item) in file.items.iter().enumerate() {
        let grouped = i
            .checked_sub(1)
            .and_then(|p| file.items.get(p))
            .is_some_and(|prev| same_group(prev, item));
        let gap = if grouped { Gap::AsWritten } else { Gap::Blank };
        let lines = match item {
            ast::Item::Schema(schema) => out.schema(i, schema),
            ast::Item::Test(test) => {
                let body = test_block::body(test)
                    .into_iter()
                    .map(|line| vec![line])
                    .collect();
                out.inner_block(i, &test_block::head(test), body)
            }
            other => items::item_lines(other),
        };
        out.block(Anchor::Item(i), lines, gap, 0);
    }
    out.comments_before(Anchor::End, Gap::Blank, 0);
    out.text
}

/// Parses and formats a file.
pub fn format_source(file: &SourceFile) -> Result<String, Diagnostic> {
    crate::parser::parse(file).map(|f| format_file(&f))
}

/// What separates a block (an anchor and the comments before it) from what precedes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// Nothing: the block opens the file or a schema body.
    None,
    /// A blank line, always.
    Blank,
    /// A blank line where the author left one (runs of them collapse to one).
    AsWritten,
}

struct Output<'a> {
    text: String,
    placement: Placement<'a>,
}

impl Output<'_> {
    /// The comments before `anchor`, then its lines. `gap` separates the first of them
    /// from what precedes; the others keep the author's blank lines.
    fn block(&mut self, anchor: Anchor, lines: Vec<String>, gap: Gap, indent: usize) {
        let gap = self.comments_before(anchor, gap, indent);
        self.separate(gap, self.placement.blank_before(anchor));
        self.lines(anchor, lines, indent);
    }

    /// Writes the comments before `anchor`; returns the gap for what follows them.
    fn comments_before(&mut self, anchor: Anchor, mut gap: Gap, indent: usize) -> Gap {
        let comments = self.placement.before(anchor).to_vec();
        for own_line in comments {
            self.separate(gap, own_line.blank_before);
            gap = Gap::AsWritten;
            push_indent(&mut self.text, indent);
            self.text.push_str(&comment_text(own_line.comment));
            self.text.push('\n');
        }
        gap
    }

    fn separate(&mut self, gap: Gap, blank_in_source: bool) {
        if gap == Gap::Blank || (gap == Gap::AsWritten && blank_in_source) {
            self.text.push('\n');
        }
    }

    /// Writes the lines of an anchor (a line may hold line breaks), with its trailing
    /// comment on the last line.
    fn lines(&mut self, anchor: Anchor, lines: Vec<String>, indent: usize) {
        let lines: Vec<&str> = lines.iter().flat_map(|l| l.split('\n')).collect();
        let count = lines.len();
        for (n, line) in lines.into_iter().enumerate() {
            if !line.is_empty() {
                push_indent(&mut self.text, indent);
            }
            self.text.push_str(line);
            if n + 1 == count {
                if let Some(comment) = self.placement.trailing(anchor) {
                    self.text.push(' ');
                    self.text.push_str(&comment_text(comment));
                }
            }
            self.text.push('\n');
        }
    }

    /// A schema block, with the comments of its declarations.
    fn schema(&mut self, index: usize, schema: &ast::Schema) -> Vec<String> {
        let has_inner_comments = !self.placement.before(Anchor::SchemaEnd(index)).is_empty();
        if schema.decls.is_empty() && !has_inner_comments {
            return vec!["schema {}".to_owned()];
        }
        let decls = schema
            .decls
            .iter()
            .map(|decl| schema::decl_lines(decl, WIDTH - 2))
            .collect();
        self.inner_block(index, "schema {", decls)
    }

    /// `head`, the lines of the block that is item `index` (each one an [`Anchor::Decl`])
    /// indented by 2 with their comments, and `}`. Returns its lines; they are written into
    /// a buffer here because their comments interleave.
    fn inner_block(&mut self, index: usize, head: &str, inner: Vec<Vec<String>>) -> Vec<String> {
        let outer = std::mem::take(&mut self.text);
        let mut gap = Gap::None;
        for (j, lines) in inner.into_iter().enumerate() {
            self.block(Anchor::Decl(index, j), lines, gap, 2);
            gap = Gap::AsWritten;
        }
        self.comments_before(Anchor::SchemaEnd(index), gap, 2);
        let body = std::mem::replace(&mut self.text, outer);
        let mut lines = vec![head.to_owned()];
        lines.extend(body.lines().map(str::to_owned));
        lines.push("}".to_owned());
        lines
    }
}

/// `import NAME [as ALIAS] [with { name: value, ... }]`: one line when it fits in
/// [`WIDTH`], else one parameter per line with a trailing comma.
fn import_doc(import: &ast::Import) -> doc::Doc {
    let mut head = format!("import {}", import.path.dotted());
    if let Some(alias) = &import.alias {
        head.push_str(" as ");
        head.push_str(&alias.name);
    }
    if import.params.is_empty() {
        return doc::text(head);
    }
    let params = import
        .params
        .iter()
        .map(|p| {
            doc::Doc::Concat(vec![
                doc::text(format!("{}: ", p.name.name)),
                expr::expr_doc(&p.value, 0),
            ])
        })
        .collect();
    doc::Doc::Concat(vec![
        doc::text(format!("{head} with ")),
        doc::bracketed("{", params, "}", true),
    ])
}

/// Consecutive routes, principal mappings or consts without annotations stay together,
/// without a blank line between them.
fn same_group(prev: &ast::Item, item: &ast::Item) -> bool {
    use ast::Item::{Const, Principal, Route};
    match (prev, item) {
        (Route(a), Route(b)) => a.annotations.is_empty() && b.annotations.is_empty(),
        (Principal(a), Principal(b)) => a.annotations.is_empty() && b.annotations.is_empty(),
        (Const(a), Const(b)) => a.annotations.is_empty() && b.annotations.is_empty(),
        _ => false,
    }
}

fn push_indent(text: &mut String, indent: usize) {
    text.extend(std::iter::repeat_n(' ', indent));
}

fn comment_text(comment: &ast::Comment) -> String {
    format!("//{}", comment.text.trim_end())
}
