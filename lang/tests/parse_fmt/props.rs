//! Properties: formatting any canonical tree re-parses to the same tree; no input panics;
//! whatever parses formats to a fixed point.

use proptest::prelude::*;
use rampart_lang::diagnostics::SourceFile;
use rampart_lang::fmt::format_expr;
use rampart_lang::{format_file, parse};

use super::ast_gen;

fn reparse(text: &str) -> Result<rampart_lang::ast::File, String> {
    parse(&SourceFile::in_memory("prop.rampart", text))
        .map_err(|d| format!("{}\n{}", text, d.render_plain()))
}

/// Tokens for "token soups", besides the keywords: names, literals, operators, brackets.
const OTHER_TOKENS: &[&str] = &[
    "GET",
    "*",
    "a",
    "x",
    "User",
    "Face",
    "Set",
    "Map",
    "<",
    ">",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "::",
    "?",
    "@id",
    "@",
    "=",
    "==",
    "=>",
    "!=",
    "<=",
    "+",
    "-",
    ".",
    "\"s\"",
    "\"a\\\"b\"",
    "\"",
    "1",
    "0",
    "1h30m",
    "500ms",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "2001:db8::/32",
    "2026-01-01T00:00:00Z",
    "tls1.2",
    "tls1.9",
    "// c\n",
    "\n",
    "\\",
    "'",
    "é",
    "\u{0}",
];

/// Every keyword and [`OTHER_TOKENS`].
fn tokens() -> Vec<&'static str> {
    ast_gen::KEYWORDS
        .iter()
        .chain(OTHER_TOKENS)
        .copied()
        .collect()
}

fn token_soup() -> impl Strategy<Value = String> + Clone {
    (
        proptest::collection::vec(proptest::sample::select(tokens()), 0..40),
        any::<bool>(),
    )
        .prop_map(|(tokens, prefix)| {
            let body = tokens.join(" ");
            if prefix {
                format!("package a\n{body}")
            } else {
                body
            }
        })
}

/// Byte offsets of the blanks of `text` outside string literals.
fn blanks_outside_strings(text: &str) -> Vec<usize> {
    let mut positions = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ' ' || c == '\n' {
            positions.push(i);
        }
    }
    positions
}

/// Inserts `// cN` comments (each ending its line) at the chosen blanks.
fn with_comments(text: &str, picks: &[prop::sample::Index]) -> String {
    let blanks = blanks_outside_strings(text);
    if blanks.is_empty() {
        return text.to_owned();
    }
    let mut at: Vec<usize> = picks
        .iter()
        .map(|p| blanks[p.index(blanks.len())])
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut out = String::with_capacity(text.len() + at.len() * 8);
    let mut last = 0;
    for (n, pos) in at.iter().enumerate() {
        out.push_str(&text[last..*pos]);
        out.push_str(&format!(" // c{n}\n"));
        last = *pos;
    }
    out.push_str(&text[last..]);
    out
}

/// Whatever parses must format to text that parses to the same tree, and format again to
/// the same text.
fn check_formats_stably(text: &str) -> Result<(), TestCaseError> {
    if let Ok(first) = parse(&SourceFile::in_memory("soup.rampart", text)) {
        let formatted = format_file(&first);
        let mut second = reparse(&formatted).map_err(TestCaseError::fail)?;
        let mut first = first;
        first.comments.clear();
        second.comments.clear();
        prop_assert_eq!(&first, &second, "{}", formatted);
        let again = format_file(&reparse(&formatted).map_err(TestCaseError::fail)?);
        prop_assert_eq!(formatted, again);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn formatted_files_parse_back_to_the_same_tree(file in ast_gen::file()) {
        let text = format_file(&file);
        let parsed = reparse(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&parsed, &file, "{}", text);
        prop_assert_eq!(format_file(&parsed), text);
    }

    #[test]
    fn formatted_expressions_parse_back_to_the_same_tree(e in ast_gen::expr()) {
        let text = format!("package a\nconst x = {}", format_expr(&e));
        let parsed = reparse(&text).map_err(TestCaseError::fail)?;
        let Some(rampart_lang::ast::Item::Const(c)) = parsed.items.first() else {
            return Err(TestCaseError::fail(format!("no const in {text}")));
        };
        prop_assert_eq!(&c.value, &e, "{}", text);
    }

    #[test]
    fn comments_anywhere_are_kept_in_order(
        file in ast_gen::file(),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
    ) {
        let text = with_comments(&format_file(&file), &picks);
        let parsed = reparse(&text).map_err(TestCaseError::fail)?;
        let formatted = format_file(&parsed);
        let again = reparse(&formatted).map_err(TestCaseError::fail)?;
        let texts = |f: &rampart_lang::ast::File| f.comments.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        prop_assert_eq!(texts(&parsed), texts(&again), "{}", formatted);
        check_formats_stably(&text)?;
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        check_formats_stably(&text)?;
    }

    #[test]
    fn random_bytes_like_policy_text_never_panic(text in "[a-z \n\"{}()\\[\\]:.,@*=<>!/0-9-]{0,120}") {
        check_formats_stably(&format!("package a\n{text}"))?;
    }

    #[test]
    fn token_soups_never_panic(text in token_soup()) {
        check_formats_stably(&text)?;
    }
}
