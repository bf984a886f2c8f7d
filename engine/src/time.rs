//! Timestamps and durations in their text forms, without a date library.
//!
//! Durations are milliseconds written as one or more `<digits><unit>` pieces (`500ms`,
//! `1h30m`, `90d`); timestamps are milliseconds since the Unix epoch, read from RFC 3339
//! (`2026-01-01T10:00:00.250+02:00`) and printed as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
//! Every function here is total: bad text gives `None`, out-of-range values never panic.

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// Units of the duration syntax, largest first (the canonical printing order).
const DURATION_UNITS: [(&str, i64); 5] = [
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

/// Reads a duration (`500ms`, `90s`, `1h30m`, `90d`, `-5h`) as milliseconds.
///
/// `None` for empty text, a piece without digits or unit, an unknown unit, or overflow. A
/// leading `-` negates the whole duration (`-1h30m` is minus ninety minutes), as Cedar's
/// `duration("-1h30m")`.
pub fn parse_duration(text: &str) -> Option<i64> {
    match text.strip_prefix('-') {
        Some(magnitude) => parse_unsigned_duration(magnitude)?.checked_neg(),
        None => parse_unsigned_duration(text),
    }
}

fn parse_unsigned_duration(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_end);
        if digits.is_empty() {
            return None;
        }
        let amount: i64 = digits.parse().ok()?;
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_end);
        let scale = DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, ms)| *ms)?;
        total = total.checked_add(amount.checked_mul(scale)?)?;
        rest = after_unit;
    }
    Some(total)
}

/// Prints a duration canonically, largest units first: `1h30m`, `90d`, `1s500ms`, `0s`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return String::from("0s");
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (name, scale) in DURATION_UNITS {
        let scale = scale.unsigned_abs();
        let amount = rest.checked_div(scale).unwrap_or(0);
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push_str(name);
            rest = rest.checked_rem(scale).unwrap_or(0);
        }
    }
    out
}

/// Reads an RFC 3339 timestamp as milliseconds since the epoch (UTC). Fractions finer than
/// a millisecond are truncated; `t`/`z` and a space separator are accepted too.
#[expect(
    clippy::arithmetic_side_effects,
    reason = "every field is a checked 2- or 4-digit number, so the sums stay far from overflow"
)]
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let field = |from: usize, len: usize| -> Option<i64> {
        let slice = bytes.get(from..from.checked_add(len)?)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(slice).ok()?.parse().ok()
    };
    let byte = |at: usize| bytes.get(at).copied();
    if byte(4)? != b'-' || byte(7)? != b'-' || !matches!(byte(10)?, b'T' | b't' | b' ') {
        return None;
    }
    if byte(13)? != b':' || byte(16)? != b':' {
        return None;
    }
    let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    let (hour, minute, second) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if byte(at) == Some(b'.') {
        at = 20;
        let digits = bytes
            .get(at..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        for place in 0..3 {
            let digit = if place < digits {
                field(at.checked_add(place)?, 1)?
            } else {
                0
            };
            millis = millis * 10 + digit;
        }
        at = at.checked_add(digits)?;
    }
    let offset_minutes = match (byte(at)?, bytes.len().checked_sub(at)?) {
        (b'Z' | b'z', 1) => 0,
        (sign @ (b'+' | b'-'), 6) => {
            if byte(at.checked_add(3)?)? != b':' {
                return None;
            }
            let (oh, om) = (field(at.checked_add(1)?, 2)?, field(at.checked_add(4)?, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * MS_PER_SECOND + millis)
}

/// Reads a timestamp in request or entity data: RFC 3339 ([`parse_timestamp`]) or one of the
/// other forms of Cedar's `datetime()`: a date alone (`2024-10-10`, midnight UTC) and a
/// zone offset without a colon (`2024-10-10T10:00:00-0500`).
pub fn parse_data_timestamp(text: &str) -> Option<i64> {
    if let Some(ms) = parse_timestamp(text) {
        return Some(ms);
    }
    let bytes = text.as_bytes();
    if bytes.len() == 10 {
        return parse_timestamp(&format!("{text}T00:00:00Z"));
    }
    // `…±hhmm`: the same offset as `…±hh:mm`.
    let split = text.len().checked_sub(5)?;
    let (head, zone) = (text.get(..split)?, text.get(split..)?);
    let (sign, digits) = zone.split_at_checked(1)?;
    if !matches!(sign, "+" | "-") || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = digits.split_at_checked(2)?;
    parse_timestamp(&format!("{head}{sign}{hours}:{minutes}"))
}

/// Prints a timestamp as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when the milliseconds are not 0.
pub fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let of_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (of_day / MS_PER_HOUR, of_day % MS_PER_HOUR / MS_PER_MINUTE);
    let (second, millis) = (
        of_day % MS_PER_MINUTE / MS_PER_SECOND,
        of_day % MS_PER_SECOND,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    out.push('Z');
    out
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[expect(
    clippy::arithmetic_side_effects,
    reason = "callers pass a 4-digit year, a month in 1..=12 and a day in 1..=31"
)]
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
#[expect(
    clippy::arithmetic_side_effects,
    reason = "|days| <= i64::MAX / 86_400_000, far from any overflow in these steps"
)]
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("90d"), Some(90 * MS_PER_DAY));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("-5h"), Some(-5 * MS_PER_HOUR));
        assert_eq!(parse_duration("-1h30m"), Some(-5_400_000));
        assert_eq!(parse_duration("-0ms"), Some(0));
        for bad in [
            "",
            "h",
            "1",
            "1x",
            "1h 30m",
            "-",
            "--1s",
            "+1s",
            "1s-",
            "99999999999999999999d",
            "1.5h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(90 * MS_PER_DAY), "90d");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(-60_000), "-1m");
        assert!(format_duration(i64::MIN).starts_with('-'));
    }

    #[test]
    fn timestamps_parse_and_print() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp("2026-01-01T00:00:00Z"),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            parse_timestamp("2026-01-01T10:00:00.250+02:00"),
            Some(1_767_225_600_000 + 8 * MS_PER_HOUR + 250)
        );
        assert_eq!(
            parse_timestamp("2024-02-29t12:00:00.1234z"),
            parse_timestamp("2024-02-29T12:00:00.123Z")
        );
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Some(-1_000));
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0200",
            "2026-01-01T00:00:00Zjunk",
            "+026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+02:00é",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(format_timestamp(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(1_767_225_600_250),
            "2026-01-01T00:00:00.250Z"
        );
        assert_eq!(format_timestamp(-1_000), "1969-12-31T23:59:59Z");
        // Extremes print something and never panic.
        assert!(!format_timestamp(i64::MAX).is_empty());
        assert!(!format_timestamp(i64::MIN).is_empty());
    }

    #[test]
    fn data_timestamps_take_cedars_forms_too() {
        let day = parse_timestamp("2024-10-10T00:00:00Z");
        assert_eq!(parse_data_timestamp("2024-10-10"), day);
        assert_eq!(
            parse_data_timestamp("2024-10-10T10:00:00-0500"),
            parse_timestamp("2024-10-10T15:00:00Z")
        );
        assert_eq!(
            parse_data_timestamp("2024-10-10T10:00:00.500+0130"),
            parse_timestamp("2024-10-10T08:30:00.500Z")
        );
        assert_eq!(
            parse_data_timestamp("2024-10-10T10:00:00Z"),
            parse_timestamp("2024-10-10T10:00:00Z")
        );
        for bad in [
            "2024-13-10",
            "2024-1-100",
            "2024-10-10T10:00:00+05",
            "2024-10-10T10:00:00+2400",
            "2024-10-10T10:00:00*0500",
            "2024-10-10T10:00:00+05a0",
            "2024-10-10T10:00:00",
            "é024-10-10",
            "1-0500",
            "",
        ] {
            assert_eq!(parse_data_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_roundtrip() {
        for ms in [
            0,
            951_782_400_000,
            4_102_444_800_000,
            1_709_208_000_123,
            -62_135_596_800_000,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms), "{ms}");
        }
    }
}
