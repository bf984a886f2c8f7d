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
    let overflow = || {
        invalid(
            span,
            format!("duration `{text}` is out of range"),
            "too long",
            "durations are stored in milliseconds as 64-bit integers",
        )
    };
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: i64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(overflow()),
        };
        let amount: i64 = digits.parse().map_err(|_| overflow())?;
        let part = amount.checked_mul(scale).ok_or_else(overflow)?;
        total = total.checked_add(part).ok_or_else(overflow)?;
        rest = next;
    }
    Ok(total)
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

/// An RFC 3339 timestamp, as milliseconds since the Unix epoch (UTC).
pub(super) fn timestamp(text: &str, span: Span) -> Result<i64, Diagnostic> {
    let bad = |what: &str| {
        invalid(
            span,
            format!("invalid timestamp `{text}`: {what}"),
            "not a valid timestamp",
            "write an RFC 3339 timestamp: `2026-01-01T00:00:00Z` or `2026-01-01T10:00:00.250+02:00`",
        )
    };
    let num = |from: usize, to: usize| -> Option<i64> { text.get(from..to)?.parse::<i64>().ok() };
    let field = |from: usize, to: usize| num(from, to).ok_or_else(|| bad("missing time or zone"));
    if text.len() < 20 {
        return Err(bad("missing time or zone"));
    }
    let (year, month, day) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
    let (hour, minute, second) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("no such time of day"));
    }
    let mut rest = text.get(19..).unwrap_or("");
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits_end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let digits = frac.get(..digits_end).unwrap_or("");
        // Milliseconds: the first three digits (finer digits are dropped).
        let mut padded: String = digits.chars().take(3).collect();
        while padded.len() < 3 {
            padded.push('0');
        }
        millis = padded.parse::<i64>().map_err(|_| bad("bad fraction"))?;
        rest = frac.get(digits_end..).unwrap_or("");
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1) {
                Some("+") => 1,
                Some("-") => -1,
                _ => return Err(bad("bad zone")),
            };
            let hours = rest.get(1..3).and_then(|h| h.parse::<i64>().ok());
            let minutes = rest.get(4..6).and_then(|m| m.parse::<i64>().ok());
            match (hours, minutes) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 && rest.len() == 6 => sign * (h * 60 + m),
                _ => return Err(bad("bad zone offset")),
            }
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    let total = seconds * 1_000 + millis;
    if !(MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&total) {
        return Err(bad("outside the years 0000 to 9999 in UTC"));
    }
    Ok(total)
}

/// `0000-01-01T00:00:00Z` in milliseconds since the epoch.
const MIN_TIMESTAMP_MS: i64 = -62_167_219_200_000;
/// `9999-12-31T23:59:59.999Z` in milliseconds since the epoch.
const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: `(year, month, day)`.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

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
        for days in [-719_528, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
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
