//! Request headers as the policy sees them, joined in one pass with a hard limit.
//!
//! Names are lower-cased, pseudo-headers (`:path`, `:method`, …, which repeat the request
//! line) left out, repeated names joined with `, ` in arrival order, and the result sorted
//! by name. Joining is a map insertion per header (`O(n log n)`), and a request with more
//! than [`MAX_HEADERS`] header fields or [`MAX_HEADER_BYTES`] bytes of names and values
//! is refused before any work grows with it: its decision is a deny. Every door (the
//! request JSON, Envoy's `CheckRequest`, forward-auth, the proxy-wasm filter) joins through
//! [`join_headers`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The most header fields (name and value pairs, pseudo-headers not counted) a request may
/// carry. Envoy accepts 100 by default, NGINX about as many as fit in 32 KiB.
pub const MAX_HEADERS: usize = 256;

/// The most bytes of header names and values a request may carry.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Why a request's headers are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// More than [`MAX_HEADERS`] fields (the count seen when the limit was passed).
    TooMany(usize),
    /// More than [`MAX_HEADER_BYTES`] bytes.
    TooLarge(usize),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::TooMany(count) => write!(
                f,
                "the request has more than {MAX_HEADERS} header fields ({count} seen)"
            ),
            HeaderError::TooLarge(bytes) => write!(
                f,
                "the request's headers are larger than {MAX_HEADER_BYTES} bytes ({bytes} seen)"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// The joined headers, sorted by lower-cased name.
pub type JoinedHeaders<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// Joins `pairs` (name, value; in arrival order) as the policy sees them, refusing more
/// than [`MAX_HEADERS`] fields or [`MAX_HEADER_BYTES`] bytes.
pub fn join_headers<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<JoinedHeaders<'a>, HeaderError> {
    let mut joined = JoinedHeaders::new();
    let mut count: usize = 0;
    let mut bytes: usize = 0;
    for (name, value) in pairs {
        if name.starts_with(':') {
            continue;
        }
        count = count.saturating_add(1);
        bytes = bytes.saturating_add(name.len()).saturating_add(value.len());
        if count > MAX_HEADERS {
            return Err(HeaderError::TooMany(count));
        }
        if bytes > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge(bytes));
        }
        match joined.entry(lower_case(name)) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(Cow::Borrowed(value));
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let slot = slot.get_mut().to_mut();
                slot.push_str(", ");
                slot.push_str(value);
            }
        }
    }
    Ok(joined)
}

/// `text` in ASCII lower case, borrowed when it already is.
pub(crate) fn lower_case(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps fails with the value it did not expect"
)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased_joined_in_order_and_sorted() {
        let joined = join_headers([
            (":path", "/x"),
            ("X-Tag", "a"),
            ("content-type", "text/plain"),
            ("x-tag", "b"),
        ])
        .unwrap();
        let pairs: Vec<(&str, &str)> = joined.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            pairs,
            vec![("content-type", "text/plain"), ("x-tag", "a, b")]
        );
    }

    #[test]
    fn too_many_or_too_large_headers_are_refused() {
        let names: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("x-h{i}")).collect();
        let many = names.iter().map(|n| (n.as_str(), "v"));
        assert_eq!(
            join_headers(many),
            Err(HeaderError::TooMany(MAX_HEADERS + 1))
        );
        // Repeating one name counts every field.
        let repeated = std::iter::repeat_n(("x-same", "v"), MAX_HEADERS + 1);
        assert!(matches!(
            join_headers(repeated),
            Err(HeaderError::TooMany(_))
        ));
        let big = "v".repeat(MAX_HEADER_BYTES);
        assert!(matches!(
            join_headers([("x-big", big.as_str())]),
            Err(HeaderError::TooLarge(_))
        ));
        let at_limit = names.iter().take(MAX_HEADERS).map(|n| (n.as_str(), "v"));
        assert_eq!(join_headers(at_limit).map(|j| j.len()), Ok(MAX_HEADERS));
    }
}
