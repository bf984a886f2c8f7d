//! Text → [`ast::File`]: a pest grammar (`src/grammar.pest`) and a builder that turns pest's
//! pairs into the syntax tree.
//!
//! **Key design decision:** the grammar parses expressions flat and the builder applies
//! precedence (`expr`), so pest recurses only a few calls per bracket level; a pre-scan
//! (`lexical`) rejects bracket nesting deeper than 64 before pest runs, and the builder
//! rejects deeper trees, so no input can overflow the stack. pest is built without its
//! stack guard (a probe on every rule call, an eighth of parsing), so the pre-scan is the
//! bound: every bracket pest can recurse on must be counted there. Comments are collected
//! by the pre-scan, not by the grammar. A file is parsed piecewise, its head and then one
//! item at a time, so pest's token queue never holds more than one item.

mod errors;
mod expr;
mod grammar;
mod items;
mod lexical;
mod literals;
mod rules;
mod tests_block;

use std::sync::{Mutex, PoisonError};

use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

use crate::ast::{self, Ident, Span, StrLit};
use crate::diagnostics::{Diagnostic, SourceFile};
use grammar::{RampartParser, Rule};

/// Largest file the parser accepts (4 MiB).
pub const MAX_FILE_SIZE: usize = 4 * 1024 * 1024;

/// Parses one file. A syntax error is reported as `E001` at the offending position; invalid
/// literals as `E013`, nesting deeper than 64 as `E018`, a missing `package` line as `E019`.
pub fn parse(file: &SourceFile) -> Result<ast::File, Diagnostic> {
    parse_text(file.text()).map_err(|d| d.in_file(file))
}

fn parse_text(text: &str) -> Result<ast::File, Diagnostic> {
    if text.len() > MAX_FILE_SIZE {
        return Err(
            Diagnostic::error("E017", "file is too large (more than 4 MiB)")
                .with_label(Span::new(0, 0), "this file")
                .with_help("split the policy into several files"),
        );
    }
    let scan = lexical::scan(text)?;
    let syntax_error = || errors::syntax_error(text, &parse_with_detail(text));
    // The file is read piecewise: its head, then one item at a time. pest keeps every token
    // of a parse in one queue, which for a whole large file grows to tens of MiB (most of
    // the parse's time went into growing it); an item's queue stays small. `file` matches
    // exactly when every piece does, and errors are still reported from a parse of `file`.
    let Some(head) = RampartParser::parse(Rule::file_head, text)
        .ok()
        .and_then(|mut pairs| pairs.next())
    else {
        return Err(syntax_error());
    };
    let mut pos = head.as_span().end();
    let mut built = Builder {
        text,
        comments: &scan.comments,
        base: 0,
    }
    .file_head(head);
    let mut items = Vec::new();
    loop {
        pos = skip_blanks(text, pos);
        let rest = text.get(pos..).unwrap_or("");
        if rest.is_empty() {
            break;
        }
        let Some(pair) = RampartParser::parse(Rule::file_item, rest)
            .ok()
            .and_then(|mut pairs| pairs.next())
        else {
            return Err(syntax_error());
        };
        let end = pair.as_span().end();
        if end == 0 {
            return Err(syntax_error());
        }
        // After a builder error, the rest is still parsed: a syntax error further on is
        // the one reported, as when the whole file was parsed before building.
        if built.is_ok() {
            let builder = Builder {
                text,
                comments: &scan.comments,
                base: pos,
            };
            match builder.item(pair) {
                Ok(item) => items.push(item),
                Err(diag) => built = Err(diag),
            }
        }
        pos += end;
    }
    let (package, imports) = built?;
    Ok(ast::File {
        package,
        imports,
        items,
        comments: scan.comments,
        blank_lines: ast::BlankLines(scan.blank_lines),
    })
}

/// The offset of the first character at or after `pos` that is not whitespace or part of a
/// comment: what the grammar's implicit `WHITESPACE` and `COMMENT` skip between items.
fn skip_blanks(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(pos..).unwrap_or_default() {
            [b' ' | b'\t' | b'\r' | b'\n', ..] => pos += 1,
            [0xEF, 0xBB, 0xBF, ..] => pos += 3,
            [b'/', b'/', rest @ ..] => {
                pos += 2 + rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())
            }
            _ => return pos,
        }
    }
}

/// Serialises the re-parses that collect pest's detailed expectations (a process-wide switch,
/// read when a parse starts), so concurrent failing parses report the same messages.
static DETAIL_LOCK: Mutex<()> = Mutex::new(());

/// Re-parses a text that failed, collecting the tokens pest expected (about a third slower
/// than a plain parse, so only done for errors).
fn parse_with_detail(text: &str) -> pest::error::Error<Rule> {
    let _guard = DETAIL_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    pest::set_error_detail(true);
    let result = RampartParser::parse(Rule::file, text);
    pest::set_error_detail(false);
    match result {
        Err(error) => error,
        Ok(_) => pest::error::Error::new_from_pos(
            pest::error::ErrorVariant::CustomError {
                message: "inconsistent parse".to_owned(),
            },
            pest::Position::from_start(text),
        ),
    }
}

/// Turns pest pairs into the syntax tree.
pub(super) struct Builder<'t> {
    text: &'t str,
    /// The file's comments in source order, to trim them off the end of spans.
    comments: &'t [ast::Comment],
    /// Where in the file the parsed piece starts: pest's offsets are relative to it.
    base: usize,
}

impl<'t> Builder<'t> {
    /// The span of a pair without the whitespace and comments pest may include at its end
    /// (a rule ending in an optional part keeps the blanks it skipped before trying it).
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let start = self.base + pair.as_span().start();
        let mut end = self.base + pair.as_span().end();
        loop {
            let before = self.text.get(start..end).unwrap_or("");
            let trimmed = before.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
            end = start + trimmed.len();
            // A comment whose text ends where the trimmed text ends: skip it too.
            let index = self
                .comments
                .partition_point(|c| (c.span.start as usize) < end);
            match index.checked_sub(1).and_then(|i| self.comments.get(i)) {
                Some(c) if c.span.end as usize >= end && c.span.start as usize >= start => {
                    end = c.span.start as usize
                }
                _ => break,
            }
        }
        Span::new(start, end)
    }

    /// The error for a pair the builder did not expect: a bug in the grammar/builder pairing,
    /// reported as a syntax error rather than a panic.
    fn internal(&self, pair: &Pair<'_, Rule>) -> Diagnostic {
        Diagnostic::error("E001", "the parser could not read this")
            .with_label(self.span(pair), "unexpected here")
            .with_help("this is a bug in rampart; please report it with this input")
    }

    fn next<'i>(
        &self,
        pairs: &mut Pairs<'i, Rule>,
        what: &str,
    ) -> Result<Pair<'i, Rule>, Diagnostic> {
        pairs.next().ok_or_else(|| {
            Diagnostic::error("E001", format!("expected {what}"))
                .with_label(Span::new(0, 0), format!("expected {what}"))
        })
    }

    /// The last child of a pair.
    fn last<'i>(&self, pair: Pair<'i, Rule>, what: &str) -> Result<Pair<'i, Rule>, Diagnostic> {
        let span = self.span(&pair);
        pair.into_inner().last().ok_or_else(|| {
            Diagnostic::error("E001", format!("expected {what}"))
                .with_label(span, format!("expected {what}"))
        })
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_owned(),
            span: self.span(&pair),
        }
    }

    /// A `string` pair, unescaped.
    fn string(&self, pair: Pair<'_, Rule>) -> Result<StrLit, Diagnostic> {
        let span = self.span(&pair);
        let body = pair.as_str();
        let body = body
            .strip_prefix('"')
            .and_then(|b| b.strip_suffix('"'))
            .unwrap_or(body);
        Ok(StrLit {
            value: literals::unescape(body, span)?,
            span,
        })
    }

    /// All `string` children of a pair (e.g. a `string_list`).
    fn strings(&self, pair: Pair<'_, Rule>) -> Result<Vec<StrLit>, Diagnostic> {
        let mut out = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::string => out.push(self.string(p)?),
                Rule::string_list => out.extend(self.strings(p)?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether a line break separates byte offsets `from` and `to`.
    fn newline_between(&self, from: usize, to: usize) -> bool {
        self.text.get(from..to).is_some_and(|s| s.contains('\n'))
    }
}
