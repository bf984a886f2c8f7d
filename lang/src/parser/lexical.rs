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
    // Whether the last token (blanks and comments aside, as the grammar skips them) is the
    // word `Set` or `Map`, so that a `<` now opens a generic type.
    let mut after_type_word = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                after_type_word = false;
                i = skip_string(bytes, i + 1)
            }
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
                if !generic || after_type_word {
                    open.push(generic);
                    if open.len() > MAX_DEPTH {
                        return Err(too_deep(Span::new(i, i + 1)));
                    }
                }
                after_type_word = false;
                i += 1;
            }
            b'>' => {
                if open.last() == Some(&true) {
                    open.pop();
                }
                after_type_word = false;
                i += 1;
            }
            b')' | b']' | b'}' => {
                // Close any unclosed generic first (`Set<Int}` is a syntax error pest reports).
                while open.last() == Some(&true) {
                    open.pop();
                }
                open.pop();
                after_type_word = false;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            // U+FEFF, which the grammar skips as white space.
            0xEF if bytes.get(i + 1..i + 3) == Some(&[0xBB, 0xBF]) => i += 3,
            b'_' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => {
                let end = bytes
                    .get(i..)
                    .and_then(|rest| {
                        rest.iter()
                            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    })
                    .map_or(bytes.len(), |n| i + n);
                after_type_word = matches!(bytes.get(i..end), Some(b"Set" | b"Map"));
                i = end;
            }
            _ => {
                after_type_word = false;
                i += 1
            }
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

    #[test]
    fn counts_generics_behind_comments_and_byte_order_marks() {
        // The grammar skips these between `Set` and `<`; so must the count, since the scan
        // is what bounds pest's recursion.
        for between in [" // note\n", "\u{FEFF}", " \t\r\n "] {
            let generic = format!(
                "package a schema {{ context {{ a: {}Int }} }}",
                format!("Set{between}<").repeat(65)
            );
            assert_eq!(
                scan(&generic).err().map(|d| d.code()),
                Some("E018"),
                "{between:?}"
            );
            let text = format!(
                "package a schema {{ context {{ a: {}Int }} }}",
                format!("Set{between}<").repeat(200_000)
            );
            assert_eq!(
                crate::parser::parse_text(&text).err().map(|d| d.code()),
                Some("E018")
            );
        }
        assert!(scan("package a const x = xSet < 1 and Settle < 2").is_ok());
    }
}
