//! The canonical form of a request path: what every door decides on.
//!
//! Gateways, frameworks and servers disagree on what `//admin`, `/./admin`, `/%61dmin`,
//! `/admin;x` or `/x/../admin` mean; a rule that denies `/admin/...` must not be
//! bypassed by writing the path another way. So the engine reads every request target
//! through [`canonicalize`], once, before routing and before `context.request.path`:
//!
//! - the target is `path[?query]`; the path starts with `/`; a `#` (a fragment is never
//!   sent to a server) is refused;
//! - every byte is visible ASCII: spaces, control characters, raw non-ASCII bytes and `\`
//!   (a separator to some servers) are refused;
//! - a percent-escape must be `%` and two hex digits; an escape of an unreserved character
//!   (`A-Z a-z 0-9 - . _ ~`) is decoded (`/%61dmin` is `/admin`); an escape of `/` or `\`
//!   (`%2F`, `%5C`: a separator to some servers, data to others) or of a control character
//!   (`%00`–`%1F`, `%7F`) is refused; other escapes are kept, with upper-case hex digits;
//! - `;` is refused in the path (a path parameter to some servers, which then route
//!   `/admin;x/users` to `/admin/users`, and data to others);
//! - empty segments are removed (`//a///b` is `/a/b`), `.` segments are removed and `..`
//!   removes the segment before it (RFC 3986, 5.2.4); a `..` above the root is refused;
//! - case is kept: paths are case-sensitive (routes too);
//! - the query is kept as it came, with the same byte rules as the path (`;` allowed).
//!
//! Refused targets are errors, so the request is denied. The target as received stays
//! available to rules as `context.request.raw_path` (without its query).

use std::borrow::Cow;
use std::fmt;

/// The longest request target (path and query) the engine reads, in bytes.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;

/// Why a request target has no canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Longer than [`MAX_TARGET_BYTES`].
    TooLong(usize),
    /// Does not start with `/`.
    NotAbsolute,
    /// A byte that is not allowed where it is (shown escaped).
    Byte(u8),
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// An escape of a character that is refused (`%2F`, `%5C`, controls).
    RefusedEscape(u8),
    /// A `..` segment above the root.
    AboveRoot,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::TooLong(len) => write!(
                f,
                "the request target is {len} bytes, more than the limit of {MAX_TARGET_BYTES}"
            ),
            PathError::NotAbsolute => f.write_str("the path must start with `/`"),
            PathError::Byte(b'#') => f.write_str("a request target cannot carry a `#fragment`"),
            PathError::Byte(b';') => {
                f.write_str("`;` path parameters are refused (servers disagree on them)")
            }
            PathError::Byte(b'\\') => f.write_str("`\\` is refused in paths"),
            PathError::Byte(byte) => write!(
                f,
                "byte 0x{byte:02X} is refused in request targets (percent-encode it)"
            ),
            PathError::BadEscape => f.write_str("invalid percent-encoding"),
            PathError::RefusedEscape(byte) => write!(
                f,
                "the escape `%{byte:02X}` is refused in paths (servers disagree on it)"
            ),
            PathError::AboveRoot => f.write_str("a `..` segment climbs above the root"),
        }
    }
}

impl std::error::Error for PathError {}

/// The canonical form of a request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalTarget<'a> {
    /// The canonical path and, after `?`, the query as received: the target the engine
    /// routes and decides on. Borrowed when the target was canonical already.
    pub target: Cow<'a, str>,
    /// The path as received, without the query: `context.request.raw_path`.
    pub raw_path: &'a str,
}

/// The canonical form of `target` (`path[?query]`), or why it has none.
pub fn canonicalize(target: &str) -> Result<CanonicalTarget<'_>, PathError> {
    if target.len() > MAX_TARGET_BYTES {
        return Err(PathError::TooLong(target.len()));
    }
    let (path, query) = match target.find('?') {
        Some(at) => (
            target.get(..at).unwrap_or(target),
            target.get(at..).unwrap_or(""),
        ),
        None => (target, ""),
    };
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if let Some(&byte) = query
        .as_bytes()
        .iter()
        .find(|&&b| !is_visible(b) || b == b'#' || b == b'\\')
    {
        return Err(PathError::Byte(byte));
    }
    let canonical = if is_canonical(path)? {
        return Ok(CanonicalTarget {
            target: Cow::Borrowed(target),
            raw_path: path,
        });
    } else {
        rewrite(path)?
    };
    let mut out = canonical;
    out.push_str(query);
    Ok(CanonicalTarget {
        target: Cow::Owned(out),
        raw_path: path,
    })
}

/// Visible ASCII (`!` to `~`).
fn is_visible(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte)
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Checks the bytes of `path` and tells whether it is canonical already (the common case,
/// answered without allocating): no escape to decode or re-case, no empty, `.` or `..`
/// segment.
fn is_canonical(path: &str) -> Result<bool, PathError> {
    let mut canonical = true;
    let mut bytes = path.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let (high, low) = (bytes.next(), bytes.next());
                let decoded = escape_octet(high, low)?;
                let upper = [high, low]
                    .iter()
                    .all(|h| h.is_some_and(|h| !h.is_ascii_lowercase()));
                if is_unreserved(decoded) || !upper {
                    canonical = false;
                }
            }
            b';' | b'#' | b'\\' => return Err(PathError::Byte(byte)),
            _ if !is_visible(byte) => return Err(PathError::Byte(byte)),
            _ => {}
        }
    }
    if canonical {
        // Segments after the leading `/`: an empty one (but a trailing `/`), `.` or `..`.
        let mut segments = path.get(1..).unwrap_or("").split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if (segment.is_empty() && !last) || segment == "." || segment == ".." {
                canonical = false;
                break;
            }
        }
    }
    Ok(canonical)
}

/// The octet of an escape from its two hex digits, refusing malformed and refused escapes.
fn escape_octet(high: Option<u8>, low: Option<u8>) -> Result<u8, PathError> {
    let hex = |digit: Option<u8>| digit.and_then(|d| char::from(d).to_digit(16));
    let (Some(high), Some(low)) = (hex(high), hex(low)) else {
        return Err(PathError::BadEscape);
    };
    let octet = u8::try_from(high.saturating_mul(16).saturating_add(low)).unwrap_or(0);
    if octet == b'/' || octet == b'\\' || octet < 0x20 || octet == 0x7f {
        return Err(PathError::RefusedEscape(octet));
    }
    Ok(octet)
}

/// Decodes unreserved escapes, upper-cases the others, removes empty and dot segments.
fn rewrite(path: &str) -> Result<String, PathError> {
    // Segments are separated by raw `/` only (escapes of `/` are refused), so splitting
    // first and decoding second is exact.
    let mut out: Vec<String> = Vec::new();
    let mut raw_segments = path.get(1..).unwrap_or("").split('/').peekable();
    while let Some(raw) = raw_segments.next() {
        let last = raw_segments.peek().is_none();
        let mut segment = String::with_capacity(raw.len());
        let mut bytes = raw.bytes();
        while let Some(byte) = bytes.next() {
            if byte == b'%' {
                let octet = escape_octet(bytes.next(), bytes.next())?;
                if is_unreserved(octet) {
                    segment.push(char::from(octet));
                } else {
                    segment.push('%');
                    segment.push(hex_digit(octet >> 4));
                    segment.push(hex_digit(octet & 0xf));
                }
            } else {
                segment.push(char::from(byte));
            }
        }
        match segment.as_str() {
            "." => {
                if last {
                    out.push(String::new());
                }
            }
            ".." => {
                if out.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                if last {
                    out.push(String::new());
                }
            }
            "" if !last => {}
            _ => out.push(segment),
        }
    }
    let mut canonical = String::with_capacity(path.len());
    if out.is_empty() {
        canonical.push('/');
    }
    for segment in &out {
        canonical.push('/');
        canonical.push_str(segment);
    }
    Ok(canonical)
}

/// The upper-case hex digit of a nibble.
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps fails with the value it did not expect"
)]
mod tests {
    use super::*;

    fn canon(target: &str) -> Result<String, PathError> {
        canonicalize(target).map(|c| c.target.into_owned())
    }

    #[test]
    fn canonical_targets_are_borrowed_as_they_are() {
        for target in [
            "/",
            "/v1/accounts/a1",
            "/a/",
            "/a%20b?x=1;y=%zz",
            "/a%C3%A9",
        ] {
            let canonical = canonicalize(target).unwrap();
            assert!(matches!(canonical.target, Cow::Borrowed(_)), "{target}");
            assert_eq!(canonical.target, target);
        }
    }

    #[test]
    fn every_spelling_of_admin_is_admin() {
        for spelling in [
            "//admin/users",
            "/./admin/users",
            "/%61dmin/users",
            "/%61%64%6D%69%6E/users",
            "/x/../admin/users",
            "/x/%2e%2e/admin/users",
            "/x/%2E./admin/users",
            "///admin//users",
            "/admin/./users",
            "/admin/users/x/..",
        ] {
            let expected = if spelling.ends_with("..") {
                "/admin/users/"
            } else {
                "/admin/users"
            };
            assert_eq!(canon(spelling).as_deref(), Ok(expected), "{spelling}");
        }
        assert_eq!(canon("/%2egit/config").as_deref(), Ok("/.git/config"));
        assert_eq!(canon("/a/b/../../..").unwrap_err(), PathError::AboveRoot);
    }

    #[test]
    fn ambiguous_targets_are_refused() {
        assert_eq!(canon("/admin;x/users"), Err(PathError::Byte(b';')));
        assert_eq!(canon("/a%2Fb"), Err(PathError::RefusedEscape(b'/')));
        assert_eq!(canon("/a%2fb"), Err(PathError::RefusedEscape(b'/')));
        assert_eq!(canon("/a%5Cb"), Err(PathError::RefusedEscape(b'\\')));
        assert_eq!(canon("/a\\b"), Err(PathError::Byte(b'\\')));
        assert_eq!(canon("/a%00"), Err(PathError::RefusedEscape(0)));
        assert_eq!(canon("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(canon("/a%4"), Err(PathError::BadEscape));
        assert_eq!(canon("/a#frag"), Err(PathError::Byte(b'#')));
        assert_eq!(canon("/a?q#frag"), Err(PathError::Byte(b'#')));
        assert_eq!(canon("/a b"), Err(PathError::Byte(b' ')));
        assert_eq!(canon("/é"), Err(PathError::Byte(0xc3)));
        assert_eq!(canon("admin"), Err(PathError::NotAbsolute));
        assert_eq!(canon(""), Err(PathError::NotAbsolute));
        assert_eq!(canon("/../admin"), Err(PathError::AboveRoot));
        let long = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        assert!(matches!(canon(&long), Err(PathError::TooLong(_))));
    }

    #[test]
    fn escapes_are_upper_cased_and_the_query_is_kept() {
        assert_eq!(canon("/a%c3%a9?q=%2f").as_deref(), Ok("/a%C3%A9?q=%2f"));
        assert_eq!(canon("//a?b//c").as_deref(), Ok("/a?b//c"));
        let canonical = canonicalize("//a/./b?x").unwrap();
        assert_eq!(canonical.raw_path, "//a/./b");
        assert_eq!(canonical.target, "/a/b?x");
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        for target in [
            "//a/../b/./c/",
            "/%7e%41/x/..",
            "/a/b/c/../../d",
            "/.",
            "/a/.",
        ] {
            let once = canon(target).unwrap();
            assert_eq!(canon(&once).unwrap(), once, "{target}");
        }
        assert_eq!(canon("/.").as_deref(), Ok("/"));
        assert_eq!(canon("/a/.").as_deref(), Ok("/a/"));
    }
}
