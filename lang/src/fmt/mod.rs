//! Canonical formatting, like `rustfmt`: one layout for every tree, so formatting is
//! idempotent and `parse(format_file(ast)) == ast`.
//!
//! Layout: 2-space indentation, one blank line between items (consecutive routes, principal
//! mappings or consts without annotations stay together), one schema declaration per
//! line. A rule, obligation or principal mapping that fits in [`WIDTH`] columns stays on one
//! line; otherwise its head is followed by `  when …`, `  unless …` and `  reason …` lines, and
//! a `when`/`unless` condition that still does not fit is split at its top-level `and`s
//! (`  when  a` / `    and b`). Parentheses are added exactly where precedence needs them.
//! Comments are kept (see the `comments` module).

mod comments;
mod expr;
mod items;

use crate::ast;
use crate::diagnostics::{Diagnostic, SourceFile};
use comments::{Anchor, Placement};

pub(crate) use expr::is_identifier;
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
    out.comments_before(Anchor::Package, 0);
    out.lines(
        Anchor::Package,
        vec![format!("package {}", file.package.dotted())],
        0,
    );
    if !file.imports.is_empty() {
        out.text.push('\n');
    }
    for (i, import) in file.imports.iter().enumerate() {
        out.comments_before(Anchor::Import(i), 0);
        out.lines(Anchor::Import(i), import_lines(import), 0);
    }
    for (i, item) in file.items.iter().enumerate() {
        let grouped = i
            .checked_sub(1)
            .and_then(|p| file.items.get(p))
            .is_some_and(|prev| same_group(prev, item));
        if !grouped {
            out.text.push('\n');
        }
        out.comments_before(Anchor::Item(i), 0);
        let lines = match item {
            ast::Item::Schema(schema) => out.schema(i, schema),
            other => items::item_lines(other),
        };
        out.lines(Anchor::Item(i), lines, 0);
    }
    if !out.placement.before(Anchor::End).is_empty() {
        out.text.push('\n');
        out.comments_before(Anchor::End, 0);
    }
    out.text
}

/// Parses and formats a file.
pub fn format_source(file: &SourceFile) -> Result<String, Diagnostic> {
    crate::parser::parse(file).map(|f| format_file(&f))
}

struct Output<'a> {
    text: String,
    placement: Placement<'a>,
}

impl Output<'_> {
    fn comments_before(&mut self, anchor: Anchor, indent: usize) {
        for comment in self.placement.before(anchor) {
            push_indent(&mut self.text, indent);
            self.text.push_str(&comment_text(comment));
            self.text.push('\n');
        }
    }

    /// Writes the lines of an anchor, with its trailing comment on the last line.
    fn lines(&mut self, anchor: Anchor, lines: Vec<String>, indent: usize) {
        let count = lines.len();
        for (n, line) in lines.into_iter().enumerate() {
            if !line.is_empty() {
                push_indent(&mut self.text, indent);
            }
            self.text.push_str(&line);
            if n + 1 == count {
                if let Some(comment) = self.placement.trailing(anchor) {
                    self.text.push(' ');
                    self.text.push_str(&comment_text(comment));
                }
            }
            self.text.push('\n');
        }
    }

    /// A schema block, with the comments of its declarations. Returns its lines; the
    /// declarations are written into a buffer here because their comments interleave.
    fn schema(&mut self, index: usize, schema: &ast::Schema) -> Vec<String> {
        let has_inner_comments = !self.placement.before(Anchor::SchemaEnd(index)).is_empty();
        if schema.decls.is_empty() && !has_inner_comments {
            return vec!["schema {}".to_owned()];
        }
        let outer = std::mem::take(&mut self.text);
        for (j, decl) in schema.decls.iter().enumerate() {
            self.comments_before(Anchor::Decl(index, j), 2);
            self.lines(
                Anchor::Decl(index, j),
                items::decl_lines(decl, WIDTH - 2),
                2,
            );
        }
        self.comments_before(Anchor::SchemaEnd(index), 2);
        let body = std::mem::replace(&mut self.text, outer);
        let mut lines = vec!["schema {".to_owned()];
        lines.extend(body.lines().map(str::to_owned));
        lines.push("}".to_owned());
        lines
    }
}

/// `import NAME [as ALIAS] [with { name: value, ... }]`: one line when it fits in
/// [`WIDTH`], else one parameter per line with a trailing comma.
fn import_lines(import: &ast::Import) -> Vec<String> {
    let mut head = format!("import {}", import.path.dotted());
    if let Some(alias) = &import.alias {
        head.push_str(" as ");
        head.push_str(&alias.name);
    }
    if import.params.is_empty() {
        return vec![head];
    }
    let params: Vec<String> = import
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name.name, format_expr(&p.value)))
        .collect();
    let one_line = format!("{head} with {{ {} }}", params.join(", "));
    if one_line.len() <= WIDTH && !one_line.contains('\n') {
        return vec![one_line];
    }
    let mut lines = vec![format!("{head} with {{")];
    lines.extend(params.into_iter().map(|p| format!("  {p},")));
    lines.push("}".to_owned());
    lines
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
