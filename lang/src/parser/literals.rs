//! Decoding literal tokens whose shape the grammar accepted: string escapes, integers,
//! durations, timestamps, IP addresses and TLS versions. A value that does not fit (an
//! integer out of range, `300.0.0.1`, `2026-02-30T…`) is an `E013` invalid literal.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use rampart_engine::TlsVersion;

use crate::ast::Span;
use crate::diagnostics::Diagnostic;

/// An `E013` invalid literal error.
pub(super) fn invalid(span: Span, message: String, label: &str, help: &str) -> Diagnostic {
    Diagnostic::error("E013", message)
        .with_label(span, label)
        .with_help(help)
}

/// Unescapes the body of a string literal (`\" \\ \n \t \r \u{XXXX}`).
pub(super) fn unescape(body: &str, span: Span) -> Result<String, Diagnostic> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escape_span = Span::new(span.start as usize + 1 + at, span.start as usize + 3 + at);
        match chars.next().map(|(_, e)| e) {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => out.push(unicode_escape(&mut chars, escape_span)?),
            Some(other) => {
                return Err(Diagnostic::error(
                    "E001",
                    format!("unknown escape `\\{other}` in string"),
                )
                .with_label(escape_span, "unknown escape")
                .with_help(r#"the escapes are `\"`, `\\`, `\n`, `\t`, `\r` and `\u{XXXX}`"#))
            }
            None => {
                return Err(
                    Diagnostic::error("E001", "unfinished escape at the end of a string")
                        .with_label(escape_span, "unfinished escape"),
                )
            }
        }
    }
    Ok(out)
}

fn unicode_escape(chars: &mut std::str::CharIndices<'_>, span: Span) -> Result<char, Diagnostic> {
    let bad = |what: &str| {
        invalid(
            span,
            format!("invalid unicode escape in string: {what}"),
            "invalid escape",
            r"write a code point in hex between braces: `\u{1F600}`",
        )
    };
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err(bad("expected `{`"));
    }
    let mut code: u32 = 0;
    let mut digits = 0;
    loop {
        match chars.next().map(|(_, c)| c) {
            Some('}') => break,
            Some(c) => {
                let digit = c.to_digit(16).ok_or_else(|| bad("expected hex digits"))?;
                digits += 1;
                if digits > 6 {
                    return Err(bad("more than 6 hex digits"));
                }
                code = code * 16 + digit;
            }
            None => return Err(bad("missing `}`")),
        }
    }
    if digits == 0 {
        return Err(bad("no hex digits"));
    }
    char::from_u32(code).ok_or_else(|| bad("not a unicode scalar value"))
}

/// A decimal integer that must fit an `i64`.
pub(super) fn int(text: &str, span: Span) -> Result<i64, Diagnostic> {
    text.parse::<i64>().map_err(|_| {
        invalid(
            span,
            format!("integer `{text}` is out of range"),
            "does not fit in 64 bits",
            "integers are 64-bit signed: at most 9223372036854775807",
        )
    })
}

/// A duration like `1h30m` or `500ms`, in milliseconds.
pub(super) fn duration(text: &str, span: Span) -> Result<i64, Diagnostic> {
    // The grammar admits only `<digits><unit>` pieces, so the one failure left is overflow.
    rampart_engine::time::parse_duration(text).ok_or_else(|| {
        invalid(
            span,
            format!("duration `{text}` is out of range"),
            "too long",
            "durations are stored in milliseconds as 64-bit integers",
        )
    })
}

/// A decimal literal `12.5`: the grammar admits `<digits>.<digits>`, so what can fail is
/// the number of digits after the point or the range.
pub(super) fn decimal(text: &str, span: Span) -> Result<i64, Diagnostic> {
    rampart_engine::decimal::parse_decimal(text).map_err(|e| {
        invalid(
            span,
            format!("invalid decimal `{text}`"),
            "not a decimal",
            e.message(),
        )
    })
}

/// A TLS version literal `tls1.0` … `tls1.3`.
pub(super) fn tls(text: &str, span: Span) -> Result<TlsVersion, Diagnostic> {
    let version = match text {
        "tls1.0" => Some(TlsVersion::Tls10),
        "tls1.1" => Some(TlsVersion::Tls11),
        "tls1.2" => Some(TlsVersion::Tls12),
        "tls1.3" => Some(TlsVersion::Tls13),
        _ => None,
    };
    version.ok_or_else(|| {
        invalid(
            span,
            format!("unknown TLS version `{text}`"),
            "not a TLS version",
            "the TLS versions are `tls1.0`, `tls1.1`, `tls1.2` and `tls1.3`",
        )
    })
}

/// An IPv4 or IPv6 address or network. An address is a full-length network.
pub(super) fn ip(text: &str, span: Span) -> Result<IpNet, Diagnostic> {
    let bad = |what: &str| {
        invalid(
            span,
            format!("invalid IP {what} `{text}`"),
            "not a valid IP address or network",
            "write an address (`10.0.0.1`, `2001:db8::1`) or a network (`10.0.0.0/8`, `2001:db8::/32`)",
        )
    };
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = if addr_text.contains(':') {
        addr_text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| bad("address"))?
    } else {
        addr_text
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| bad("address"))?
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| bad("prefix length"))?,
    };
    IpNet::new(addr, prefix).map_err(|_| bad("prefix length"))
}

/// An RFC 3339 timestamp, as milliseconds since the Unix epoch (UTC), read by the engine's
/// reader so policy literals and request data agree to the millisecond.
pub(super) fn timestamp(text: &str, span: Span) -> Result<i64, Diagnostic> {
    let bad = |what: &str| {
        invalid(
            span,
            format!("invalid timestamp `{text}`: {what}"),
            "not a valid timestamp",
            "write an RFC 3339 timestamp: `2026-01-01T00:00:00Z` or `2026-01-01T10:00:00.250+02:00`",
        )
    };
    let total = rampart_engine::time::parse_timestamp(text)
        .ok_or_else(|| bad("no such date, time of day or zone"))?;
    if !(MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&total) {
        return Err(bad("outside the years 0000 to 9999 in UTC"));
    }
    Ok(total)
}

/// `0000-01-01T00:00:00Z` in milliseconds since the epoch.
const MIN_TIMESTAMP_MS: i64 = -62_167_219_200_000;
/// `9999-12-31T23:59:59.999Z` in milliseconds since the epoch.
const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span::default()
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(
            unescape(r#"a\"b\\c\n\t\r\u{41}\u{1F600}"#, span())
                .ok()
                .as_deref(),
            Some("a\"b\\c\n\t\rA\u{1F600}")
        );
        assert_eq!(
            unescape(r"\q", span()).err().map(|d| d.code()),
            Some("E001")
        );
        assert_eq!(
            unescape(r"\u{D800}", span()).err().map(|d| d.code()),
            Some("E013")
        );
        assert_eq!(
            unescape(r"\u{}", span()).err().map(|d| d.code()),
            Some("E013")
        );
    }

    #[test]
    fn reads_durations() {
        assert_eq!(duration("1h30m", span()).ok(), Some(5_400_000));
        assert_eq!(duration("500ms", span()).ok(), Some(500));
        assert_eq!(duration("90d", span()).ok(), Some(7_776_000_000));
        assert_eq!(
            duration("99999999999999999d", span())
                .err()
                .map(|d| d.code()),
            Some("E013")
        );
    }

    #[test]
    fn reads_timestamps() {
        assert_eq!(timestamp("1970-01-01T00:00:00Z", span()).ok(), Some(0));
        assert_eq!(
            timestamp("2026-01-01T10:00:00.250+02:00", span()).ok(),
            Some(1_767_254_400_250)
        );
        assert_eq!(
            timestamp("2026-02-30T00:00:00Z", span())
                .err()
                .map(|d| d.code()),
            Some("E013")
        );
        assert_eq!(
            timestamp("2024-02-29T23:59:59Z", span()).ok(),
            Some(1_709_251_199_000)
        );
        assert!(timestamp("0000-01-01T00:00:00+01:00", span()).is_err());
        // Printing and reading back agree at the ends of the range.
        for ms in [
            -62_167_219_200_000,
            -1,
            0,
            1,
            1_709_251_199_000,
            253_402_300_799_999,
        ] {
            let text = rampart_engine::time::format_timestamp(ms);
            assert_eq!(timestamp(&text, span()).ok(), Some(ms), "{text}");
        }
    }

    #[test]
    fn reads_ips() {
        assert_eq!(
            ip("10.0.0.1", span()).ok().map(|n| n.prefix_len()),
            Some(32)
        );
        assert_eq!(
            ip("2001:db8::/32", span()).ok().map(|n| n.to_string()),
            Some("2001:db8::/32".into())
        );
        assert!(ip("300.0.0.1", span()).is_err());
        assert!(ip("10.0.0.0/33", span()).is_err());
        assert!(ip("1:2:3", span()).is_err());
    }
}
