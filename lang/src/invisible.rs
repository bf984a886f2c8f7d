//! Characters that do not show, or that reorder what shows: what `rampart fmt` writes as
//! `\u{…}` escapes in strings and lint L011 flags when raw in strings and comments (the
//! Trojan Source class, CVE-2021-42574).
//!
//! The general category comes from `unicode-properties`; the rest is a short list of the
//! characters Unicode classes as letters or separators that still render as nothing.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` is a character a reviewer cannot see where it stands: a bidirectional
/// control, a zero-width or other format (Cf) character, a control character, a line or
/// paragraph separator, a noncharacter, or a letter that renders blank.
pub fn is_invisible(c: char) -> bool {
    // Fast path (every character of a policy file is tested): in ASCII only the controls
    // (Cc) are invisible; no ASCII character is Cf, Zl, Zp, a noncharacter or a filler.
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::Control
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || is_noncharacter(c)
        || matches!(c, '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}')
}

/// Whether `c` changes the direction of the text around it (the bidirectional embedding,
/// override and isolate controls, and the implicit marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// The 66 code points Unicode reserves as noncharacters.
fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xfdd0..=0xfdef).contains(&n) || n & 0xfffe == 0xfffe
}

/// `text` with every character that does not show (line ends and tabs included) written as
/// a `\u{…}` escape: for text that must stay on one line and say what it holds, such as
/// a diagnostic's message quoting a string from a policy.
pub fn escape_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// How `c` is named in messages: `U+202E`.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_fast_path_agrees_with_the_general_category() {
        for c in (0u8..=127).map(char::from) {
            let by_category = matches!(
                c.general_category(),
                GeneralCategory::Format
                    | GeneralCategory::Control
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            );
            assert_eq!(is_invisible(c), by_category, "{:?}", c);
        }
    }

    #[test]
    fn finds_what_does_not_show() {
        for c in [
            '\u{202e}',
            '\u{2066}',
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
            '\u{0}',
            '\u{7f}',
            '\u{85}',
            '\u{2028}',
            '\u{fffe}',
            '\u{10ffff}',
            '\u{fdd0}',
            '\u{3164}',
        ] {
            assert!(is_invisible(c), "{}", code_point(c));
        }
        for c in ['a', 'é', ' ', '\u{a0}', '中', '😀', '\u{301}'] {
            assert!(!is_invisible(c), "{}", code_point(c));
        }
        assert!(is_bidi_control('\u{202e}') && !is_bidi_control('\u{200b}'));
        assert_eq!(code_point('\u{202e}'), "U+202E");
        assert_eq!(
            escape_invisible("a\nb\u{1b}[2J\u{202e}"),
            "a\\u{a}b\\u{1b}[2J\\u{202e}"
        );
        assert!(matches!(
            escape_invisible("café"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
