#![forbid(unsafe_code)]
//! Rampart's policy language: text in, checked program and compiled [`Bundle`] out.
//!
//! **Key design decision:** all the work that does not depend on a request happens here,
//! once: parsing, name resolution, type checking against the schema, lints, constant
//! folding, glob and regex validation, interning. The result is a [`Bundle`], plain data
//! the engine loads without a parser (`rampart-engine` has no dependency on this crate).
//!
//! ```text
//! PolicySet (files) ──parse──▶ ast::File* ──check──▶ diagnostics ──compile──▶ Bundle + tests
//! ```
//!
//! [`Bundle`]: rampart_engine::Bundle

pub mod ast;
pub mod check;
pub mod compile;
pub mod compliance;
pub mod controls;
pub mod diagnostics;
pub mod fmt;
pub mod input;
pub mod invisible;
pub mod lints;
pub mod parser;
pub mod project;
pub mod sources;
pub mod testing;
pub mod timings;

pub use compile::{compile, compile_timed, Compiled};
pub use diagnostics::{Diagnostic, Severity, SourceFile};
pub use fmt::{format_file, format_source};
pub use parser::parse;
pub use sources::{stdlib_packages, PolicySet};
pub use testing::TestCase;

/// The language's reserved words, sorted (the grammar's `keyword` rule; docs/language.md,
/// "Lexical structure"). They cannot name packages, types, enums, variants or consts.
pub const KEYWORDS: &[&str] = &[
    "action",
    "allow",
    "and",
    "as",
    "by",
    "const",
    "contains",
    "contains_all",
    "contains_any",
    "context",
    "deny",
    "else",
    "entities",
    "entity",
    "enum",
    "expect",
    "false",
    "for",
    "has",
    "has_scope",
    "headers",
    "if",
    "import",
    "in",
    "is",
    "like",
    "mask",
    "matches",
    "not",
    "obligation",
    "on",
    "or",
    "package",
    "per",
    "principal",
    "rate_limit",
    "reason",
    "remove_header",
    "request",
    "request_header",
    "require",
    "resource",
    "response_header",
    "route",
    "schema",
    "test",
    "then",
    "true",
    "unless",
    "when",
];

#[cfg(test)]
mod keyword_tests {
    use super::*;

    fn parses(text: &str) -> bool {
        parse(&SourceFile::in_memory("k.rampart", text)).is_ok()
    }

    /// The list is the grammar's: every keyword is refused as a const name, and a name
    /// that only starts like one is not.
    #[test]
    fn keywords_are_exactly_the_reserved_words() {
        let mut sorted = KEYWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KEYWORDS, "keep KEYWORDS sorted");
        for keyword in KEYWORDS {
            assert!(
                !parses(&format!("package p\nconst {keyword} = 1\n")),
                "{keyword}"
            );
            assert!(
                parses(&format!("package p\nconst {keyword}_x = 1\n")),
                "{keyword}_x"
            );
        }
        for word in ["type", "with", "tags", "has_tag", "permit", "iff", "els"] {
            assert!(parses(&format!("package p\nconst {word} = 1\n")), "{word}");
        }
    }

    /// docs/language.md lists the same words.
    #[test]
    fn the_language_reference_lists_them() {
        let doc = include_str!("../../docs/language.md");
        let start = doc.find("**Keywords** are reserved: `").map(|i| i + 28);
        let listed: Vec<&str> = start
            .and_then(|s| doc.get(s..))
            .and_then(|rest| rest.split('`').next())
            .map(|words| words.split_whitespace().collect())
            .unwrap_or_default();
        assert_eq!(listed, KEYWORDS);
    }
}
