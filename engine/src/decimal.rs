//! Fixed-point decimals (Cedar's `decimal`): a signed 64-bit count of ten-thousandths, so
//! `12.5` is `125_000` and the range is -922337203685477.5808 to 922337203685477.5807.
//!
//! Text is `-?DIGITS.DIGITS` with one to four digits after the point, the form policies,
//! request JSON and entity data share; anything else, or a value out of range, is refused.

/// Ten-thousandths in one unit.
pub const SCALE: i64 = 10_000;
/// The most digits after the point.
pub const MAX_FRACTION_DIGITS: usize = 4;

/// Why a text is not a decimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not `-?DIGITS.DIGITS`.
    Syntax,
    /// More than four digits after the point.
    Precision,
    /// Outside the range of a 64-bit count of ten-thousandths.
    Range,
}

impl DecimalError {
    /// A message for the user, without the offending text.
    pub fn message(self) -> &'static str {
        match self {
            DecimalError::Syntax => {
                "a decimal is digits, a point and one to four digits (`12.5`, `-0.0001`)"
            }
            DecimalError::Precision => "a decimal has at most four digits after the point",
            DecimalError::Range => {
                "out of the decimal range (-922337203685477.5808 to 922337203685477.5807)"
            }
        }
    }
}

/// Reads `-?DIGITS.DIGITS` (one to four digits after the point) into ten-thousandths.
pub fn parse_decimal(text: &str) -> Result<i64, DecimalError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = body.split_once('.').ok_or(DecimalError::Syntax)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(DecimalError::Syntax);
    }
    if fraction.len() > MAX_FRACTION_DIGITS {
        return Err(DecimalError::Precision);
    }
    // Accumulated negatively when negative, so the smallest value (whose magnitude is one
    // more than the largest) is reachable without overflow.
    let mut value: i64 = 0;
    let padded = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(MAX_FRACTION_DIGITS);
    for b in whole.bytes().chain(padded) {
        // An ASCII digit (checked above).
        let digit = i64::from(b.wrapping_sub(b'0'));
        let shifted = value.checked_mul(10);
        value = if negative {
            shifted.and_then(|v| v.checked_sub(digit))
        } else {
            shifted.and_then(|v| v.checked_add(digit))
        }
        .ok_or(DecimalError::Range)?;
    }
    Ok(value)
}

/// The canonical text: the shortest fraction of one to four digits (`12.5`, `3.0`, `-0.0001`).
pub fn format_decimal(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    // SCALE is a non-zero constant: neither can fail.
    let scale = SCALE.unsigned_abs();
    let whole = magnitude.checked_div(scale).unwrap_or(0);
    let fraction = format!("{:04}", magnitude.checked_rem(scale).unwrap_or(0));
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() { "0" } else { fraction };
    format!("{sign}{whole}.{fraction}")
}

/// A JSON number as a decimal: integers, and fractions with at most 15 significant digits
/// (a double holds those exactly, so its shortest text is the number as written). Larger
/// values with a fraction must be strings.
pub fn decimal_from_f64(number: f64) -> Result<i64, DecimalError> {
    if !number.is_finite() {
        return Err(DecimalError::Syntax);
    }
    // 10^11 ten-thousandths at most: 11 whole digits and 4 after the point.
    if number.abs() >= 1e11 {
        return Err(DecimalError::Range);
    }
    let text = format!("{number:?}");
    if text.contains(['e', 'E']) {
        // Only tiny magnitudes print with an exponent below 1e11: more than four digits.
        return Err(DecimalError::Precision);
    }
    let text = if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    };
    parse_decimal(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_canonical_forms() {
        for (text, value, canonical) in [
            ("12.5", 125_000, "12.5"),
            ("3.0", 30_000, "3.0"),
            ("3.0000", 30_000, "3.0"),
            ("-0.0001", -1, "-0.0001"),
            ("0.1234", 1234, "0.1234"),
            ("007.50", 75_000, "7.5"),
            ("922337203685477.5807", i64::MAX, "922337203685477.5807"),
            ("-922337203685477.5808", i64::MIN, "-922337203685477.5808"),
        ] {
            assert_eq!(parse_decimal(text), Ok(value), "{text}");
            assert_eq!(format_decimal(value), canonical, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_decimal() {
        for text in [
            "", "1", ".5", "5.", "-", "-.5", "1.2.3", "+1.5", "1,5", " 1.5", "1.5 ", "1e3",
            "--1.0", "1.-5",
        ] {
            assert_eq!(parse_decimal(text), Err(DecimalError::Syntax), "{text:?}");
        }
        assert_eq!(parse_decimal("1.23456"), Err(DecimalError::Precision));
        assert_eq!(
            parse_decimal("922337203685477.5808"),
            Err(DecimalError::Range)
        );
        assert_eq!(
            parse_decimal("-922337203685477.5809"),
            Err(DecimalError::Range)
        );
        assert_eq!(
            parse_decimal("99999999999999999999.0"),
            Err(DecimalError::Range)
        );
    }

    #[test]
    fn reads_json_numbers_exactly() {
        assert_eq!(decimal_from_f64(12.5), Ok(125_000));
        assert_eq!(decimal_from_f64(0.1), Ok(1000));
        assert_eq!(decimal_from_f64(-7.0), Ok(-70_000));
        assert_eq!(
            decimal_from_f64(99_999_999_999.999_9),
            Ok(999_999_999_999_999)
        );
        assert_eq!(decimal_from_f64(0.00001), Err(DecimalError::Precision));
        assert_eq!(decimal_from_f64(0.12345), Err(DecimalError::Precision));
        assert_eq!(decimal_from_f64(1e11), Err(DecimalError::Range));
        assert_eq!(decimal_from_f64(f64::NAN), Err(DecimalError::Syntax));
    }
}
