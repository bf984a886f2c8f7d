use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::Span;
use crate::diagnostics::{Diagnostic, SourceFile};
use crate::invisible::{code_point, is_bidi_control, is_invisible};

declare_lint! {
    /// ### What it does
    /// Flags characters written raw in policy text that a reviewer cannot see: the
    /// bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C),
    /// zero-width and other format characters (U+200B, U+200D, U+2060, U+FEFF past the
    /// start of the file, tag characters, …), control characters other than tab and line
    /// ends, line and paragraph separators, noncharacters and the blank Hangul fillers.
    /// Strings, comments and the space between tokens are all checked, test blocks too;
    /// one finding per run of such characters.
    ///
    /// ### Why is this bad?
    /// This is the Trojan Source attack (CVE-2021-42574): a bidirectional override in a
    /// comment or string makes an editor or a code review show text in a different order
    /// than the compiler reads it, so that a string that goes on past what looks like
    /// the end of a line reads as a comment; a zero-width space makes two strings look
    /// equal while they differ. In a policy, what reviewers approve must be
    /// what is enforced.
    ///
    /// ### Example
    /// ```rampart
    /// // The same string with U+202E typed raw after `ops` warns (it would not show
    /// // here); written as an escape, it shows and does not warn:
    /// allow "docs:read" when principal.team == "ops\u{202e}"
    /// ```
    ///
    /// In a string, write the character as an escape (`rampart fmt` does); in a comment,
    /// remove it.
    pub struct InvisibleCharacter {
        code: "L011",
        name: "invisible-character",
        severity: Warning,
        since: "0.1.0",
        summary: "raw invisible or bidirectional character in policy text",
    }
}

impl Lint for InvisibleCharacter {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for source in &cx.files {
            for run in runs(source.text()) {
                out.push(finding(source, &run));
            }
        }
    }
}

/// Where a run of invisible characters stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    String,
    Comment,
    Code,
}

/// Consecutive invisible characters.
#[derive(Debug)]
struct Run {
    span: Span,
    first: char,
    bidi: bool,
    place: Place,
}

/// The runs of raw invisible characters of a file, with where each stands: one scan, with
/// the grammar's string rule (a `\` escapes the next character) and `//` comments.
fn runs(text: &str) -> Vec<Run> {
    let mut found: Vec<Run> = Vec::new();
    let mut place = Place::Code;
    let mut escaped = false;
    let mut last_end = usize::MAX;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !matches!(c, '\n' | '\t' | '\r') && is_invisible(c) {
            let end = i + c.len_utf8();
            match found.last_mut() {
                Some(run) if last_end == i && run.place == place => {
                    run.span = Span::new(run.span.start as usize, end);
                    run.bidi |= is_bidi_control(c);
                }
                _ => found.push(Run {
                    span: Span::new(i, end),
                    first: c,
                    bidi: is_bidi_control(c),
                    place,
                }),
            }
            last_end = end;
        }
        match place {
            Place::String if escaped => escaped = false,
            Place::String if c == '\\' => escaped = true,
            Place::String if c == '"' || c == '\n' => place = Place::Code,
            Place::Comment if c == '\n' => place = Place::Code,
            Place::Code if c == '"' => place = Place::String,
            Place::Code if c == '/' && chars.peek().is_some_and(|&(_, n)| n == '/') => {
                place = Place::Comment;
            }
            Place::String | Place::Comment | Place::Code => {}
        }
    }
    found
}

fn finding(source: &SourceFile, run: &Run) -> Diagnostic {
    let kind = if run.bidi {
        "bidirectional control"
    } else {
        "invisible character"
    };
    let (place, help) = match run.place {
        Place::String => (
            "a string",
            "write it as an escape (`rampart fmt` does) or remove it",
        ),
        Place::Comment => ("a comment", "remove it: a comment cannot hold escapes"),
        Place::Code => ("the code", "remove it"),
    };
    let label = if run.bidi {
        "reorders the text around it as it is shown"
    } else {
        "cannot be seen where it stands"
    };
    InvisibleCharacter::META
        .diagnostic(format!("raw {kind} {} in {place}", code_point(run.first)))
        .with_label(run.span, label)
        .with_help(help)
        .in_file(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lints::test_support::{count, SCHEMA};

    #[test]
    fn flags_raw_invisible_characters_in_strings_comments_and_code() {
        for bad in [
            "const team = \"ops\u{202e}\"",
            "const team = \"a\u{200b}b\"",
            "const team = \"\u{2066}\u{2069}x\"",
            "// an \u{202e} override in a comment\nconst team = \"ops\"",
            "const team = \"ops\" // trailing \u{2067}",
            "const team =\u{feff} \"ops\"",
            "const team = \"a\u{7}b\"",
            "const team = \"a\u{e0041}b\"",
            "test \"t\" {\n  request principal User::\"a\u{200d}\" action \"docs:read\" resource Doc::\"d\"\n  expect deny\n}",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{bad}\n"), "L011"), 1, "{bad:?}");
        }
    }

    #[test]
    fn accepts_escapes_and_visible_text() {
        for ok in [
            "const team = \"ops\\u{202e}\"",
            "const team = \"caf\u{e9} \u{4e2d} \u{1f600}\"",
            "// caf\u{e9}, tabs\tand \"quotes\"\nconst team = \"\\\"//\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{ok}\n"), "L011"), 0, "{ok:?}");
        }
    }

    #[test]
    fn one_finding_per_run_and_place() {
        let found = runs("\"a\u{202e}\u{2066}b\" // \u{200b}\u{200b}\n\u{2060}");
        let places: Vec<(Place, bool)> = found.iter().map(|r| (r.place, r.bidi)).collect();
        assert_eq!(
            places,
            vec![
                (Place::String, true),
                (Place::Comment, false),
                (Place::Code, false)
            ]
        );
        assert_eq!(found.first().map(|r| r.span), Some(Span::new(2, 8)));
    }
}
