//! Layout documents in the style of Wadler's "prettier printer": text, line breaks that a
//! group takes only when it does not fit on the rest of its line, and indentation. Every
//! construct that may exceed [`super::WIDTH`] is built as a [`Doc`]; its flat form is the
//! one-line text (rule ids are hashed from it), its broken form puts one element per line.

/// A layout document.
pub(super) enum Doc {
    Text(String),
    /// A space when its group is flat, else a line break.
    Line,
    /// Nothing when its group is flat, else a line break.
    SoftLine,
    /// Text printed only when its group is broken (a trailing comma, added parentheses).
    IfBroken(&'static str),
    /// Contents whose line breaks indent `.0` more columns.
    Nest(usize, Vec<Doc>),
    /// Contents laid out flat when they fit on the rest of the line, else broken.
    Group(Vec<Doc>),
    Concat(Vec<Doc>),
}

use Doc::{Concat, Group, IfBroken, Line, Nest, SoftLine, Text};

pub(super) fn text(s: impl Into<String>) -> Doc {
    Text(s.into())
}

/// `open` + elements separated by `,` + `close`: `{ a, b }` flat (with `pad` spaces inside
/// the brackets), else one element per line with a trailing comma.
pub(super) fn bracketed(open: &str, items: Vec<Doc>, close: &str, pad: bool) -> Doc {
    if items.is_empty() {
        return text(format!("{open}{close}"));
    }
    let gap = || if pad { Line } else { SoftLine };
    let mut inner = vec![gap()];
    let count = items.len();
    for (i, item) in items.into_iter().enumerate() {
        inner.push(item);
        if i + 1 < count {
            inner.push(text(","));
            inner.push(Line);
        }
    }
    inner.push(IfBroken(","));
    Group(vec![text(open), Nest(2, inner), gap(), text(close)])
}

impl Doc {
    /// The document on one line.
    pub fn flat(&self) -> String {
        let mut out = String::new();
        let mut stack = vec![self];
        while let Some(doc) = stack.pop() {
            match doc {
                Text(s) => out.push_str(s),
                Line => out.push(' '),
                SoftLine | IfBroken(_) => {}
                Nest(_, docs) | Group(docs) | Concat(docs) => stack.extend(docs.iter().rev()),
            }
        }
        out
    }

    /// The document laid out for lines of `width` columns, starting at column 0. Lines
    /// after the first are indented by the enclosing [`Doc::Nest`]s.
    pub fn render(&self, width: usize) -> String {
        let mut out = String::new();
        let mut column = 0usize;
        let mut stack: Vec<Frame<'_>> = vec![Frame {
            indent: 0,
            flat: false,
            doc: self,
        }];
        while let Some(Frame { indent, flat, doc }) = stack.pop() {
            match doc {
                Text(s) => {
                    out.push_str(s);
                    column += s.chars().count();
                }
                Line | SoftLine if !flat => {
                    out.push('\n');
                    out.extend(std::iter::repeat_n(' ', indent));
                    column = indent;
                }
                Line => {
                    out.push(' ');
                    column += 1;
                }
                SoftLine => {}
                IfBroken(s) => {
                    if !flat {
                        out.push_str(s);
                        column += s.chars().count();
                    }
                }
                Nest(n, docs) => push_all(&mut stack, indent + n, flat, docs),
                Concat(docs) => push_all(&mut stack, indent, flat, docs),
                Group(docs) => {
                    let flat = flat || fits(width.saturating_sub(column), docs, &stack);
                    push_all(&mut stack, indent, flat, docs);
                }
            }
        }
        out
    }
}

struct Frame<'a> {
    indent: usize,
    flat: bool,
    doc: &'a Doc,
}

fn push_all<'a>(stack: &mut Vec<Frame<'a>>, indent: usize, flat: bool, docs: &'a [Doc]) {
    stack.extend(docs.iter().rev().map(|doc| Frame { indent, flat, doc }));
}

/// Whether `group`, laid out flat, and what follows it up to the next line break fit in
/// `room` columns.
fn fits(room: usize, group: &[Doc], rest: &[Frame<'_>]) -> bool {
    let mut room = room;
    // (flat, doc): the group's contents flat, then the rest in the modes already chosen.
    let mut pending: Vec<(bool, &Doc)> = group.iter().rev().map(|d| (true, d)).collect();
    let mut rest = rest.iter().rev();
    loop {
        let Some((flat, doc)) = pending
            .pop()
            .or_else(|| rest.next().map(|f| (f.flat, f.doc)))
        else {
            return true;
        };
        let width = match doc {
            Text(s) => s.chars().count(),
            Line if flat => 1,
            Line | SoftLine if !flat => return true,
            IfBroken(s) if !flat => s.chars().count(),
            Line | SoftLine | IfBroken(_) => 0,
            Nest(_, docs) | Group(docs) | Concat(docs) => {
                pending.extend(docs.iter().rev().map(|d| (flat, d)));
                0
            }
        };
        room = match room.checked_sub(width) {
            Some(left) => left,
            None => return false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> Doc {
        bracketed(
            "[",
            (0..n).map(|i| text(format!("item{i}"))).collect(),
            "]",
            false,
        )
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(list(3).render(100), "[item0, item1, item2]");
        assert_eq!(list(3).flat(), "[item0, item1, item2]");
        assert_eq!(list(0).render(1), "[]");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_one_element_per_line() {
        assert_eq!(list(3).render(10), "[\n  item0,\n  item1,\n  item2,\n]");
    }

    #[test]
    fn text_after_a_group_counts_against_its_line() {
        let doc = Concat(vec![list(2), text(" and more")]);
        assert_eq!(doc.render(20), "[\n  item0,\n  item1,\n] and more");
        assert_eq!(doc.render(23), "[item0, item1] and more");
    }

    #[test]
    fn inner_groups_break_only_when_they_must() {
        let doc = bracketed("{", vec![list(2), list(2)], "}", true);
        assert_eq!(doc.render(20), "{\n  [item0, item1],\n  [item0, item1],\n}");
        assert_eq!(
            doc.render(12),
            "{\n  [\n    item0,\n    item1,\n  ],\n  [\n    item0,\n    item1,\n  ],\n}"
        );
    }
}
