//! A cheap scan of the raw text that runs before pest: it collects `//` comments (which the
//! grammar skips) and rejects bracket nesting deeper than [`MAX_DEPTH`] so that pest's
//! recursive descent never recurses deeply. Strings are skipped with the same escape rule
//! as the grammar, so `"//"` and `"{"` inside a string are ignored.

use crate::ast::{Comment, Span};
use crate::diagnostics::Diagnostic;

/// Maximum nesting of brackets, expressions, records and types.
pub const MAX_DEPTH: usize = 64;

/// What the scan found.
pub(super) struct Scan {
    pub comments: Vec<Comment>,
    /// The offsets of the code and comments that follow a blank line.
    pub blank_lines: Vec<u32>,
}

/// Collects comments and blank lines and checks bracket nesting (`(`, `[`, `{` and the `<` of `Set<`/`Map<`).
pub(super) fn scan(text: &str) -> Result<Scan, Diagnostic> {
    let bytes = text.as_bytes();
    let mut comments = Vec::new();
    let mut blank_lines = Vec::new();
    // Open brackets; `true` marks the `<` of a generic type (closed only by `>`).
    let mut open: Vec<bool> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => i = skip_string(bytes, i + 1),
            b'\n' => {
                i += 1;
                let after_blanks = skip_blanks(bytes, i);
                if bytes.get(after_blanks) == Some(&b'\n') {
                    let next = skip_whitespace(bytes, after_blanks);
                    if next < bytes.len() {
                        blank_lines.push(u32::try_from(next).unwrap_or(u32::MAX));
                    }
                    i = next;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text
                    .get(i..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(text.len(), |n| i + n);
                let body = text.get(i + 2..end).unwrap_or("");
                let body = body.strip_suffix('\r').unwrap_or(body);
                let code_before = code_end_before(bytes, i).and_then(|e| u32::try_from(e).ok());
                comments.push(Comment {
                    text: body.to_owned(),
                    span: Span::new(i, end),
                    code_before,
                });
                i = end;
            }
            b'(' | b'[' | b'{' | b'<' => {
                let generic = b == b'<';
                if !generic || follows_generic_type(bytes, i) {
                    open.push(generic);
                    if open.len() > MAX_DEPTH {
                        return Err(too_deep(Span::new(i, i + 1)));
                    }
                }
                i += 1;
            }
            b'>' => {
                if open.last() == Some(&true) {
                    open.pop();
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                // Close any unclosed generic first (`Set<Int}` is a syntax error pest reports).
                while open.last() == Some(&true) {
                    open.pop();
                }
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(Scan {
        comments,
        blank_lines,
    })
}

/// The error for nesting deeper than [`MAX_DEPTH`].
pub(super) fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E018",
        format!("nesting too deep (more than {MAX_DEPTH} levels)"),
    )
    .with_label(span, "this is nested too deeply")
    .with_help("split the expression or value into consts or separate rules")
}

/// Whether the string starting at byte `start` (a `"`) has no closing quote.
pub(super) fn unterminated_string(text: &str, start: usize) -> bool {
    skip_string(text.as_bytes(), start + 1) >= text.len() && !text.ends_with('"')
}

/// Index just after the closing quote of a string whose body starts at `i`.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index of the first byte at or after `i` that is not a space, tab or carriage return.
fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\r')) {
        i += 1;
    }
    i
}

/// The index of the first byte at or after `i` that is not white space.
fn skip_whitespace(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Where the code before byte `i` on the same line ends; `None` if only blanks precede it.
fn code_end_before(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j > 0 {
        match bytes.get(j - 1) {
            Some(b' ' | b'\t' | b'\r') => j -= 1,
            Some(b'\n') | None => return None,
            Some(_) => return Some(j),
        }
    }
    None
}

/// Whether the `<` at `i` follows `Set` or `Map` (optionally with blanks in between).
fn follows_generic_type(bytes: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && bytes.get(j - 1).is_some_and(|b| b.is_ascii_whitespace()) {
        j -= 1;
    }
    let word_end = j;
    while j > 0
        && bytes
            .get(j - 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        j -= 1;
    }
    matches!(bytes.get(j..word_end), Some(b"Set") | Some(b"Map"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_comments_outside_strings() {
        let text = "package a // one\nconst x = \"// not a comment\" // two\r\n";
        let comments = scan(text).map(|s| s.comments).unwrap_or_default();
        let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, [" one", " two"]);
    }

    #[test]
    fn rejects_deep_nesting_but_not_strings() {
        let deep = format!("package a const x = {}1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(scan(&deep).err().map(|d| d.code()), Some("E018"));
        let ok = format!("package a const x = {}1{}", "(".repeat(64), ")".repeat(64));
        assert!(scan(&ok).is_ok());
        let in_string = format!("package a const x = \"{}\"", "(".repeat(100));
        assert!(scan(&in_string).is_ok());
        let generic = format!(
            "schema {{ context {{ a: {}Int{} }} }}",
            "Set<".repeat(70),
            ">".repeat(70)
        );
        assert_eq!(scan(&generic).err().map(|d| d.code()), Some("E018"));
        let comparisons = format!("package a const x = {}", "1 < ".repeat(100));
        assert!(scan(&comparisons).is_ok());
    }
}
