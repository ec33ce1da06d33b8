//! Go duration strings (`time.ParseDuration`), as ESO writes `refreshInterval` and friends.
//!
//! The API types keep durations as the strings the user wrote, so manifests round-trip exactly;
//! the operator parses them with [`parse_go_duration`] when it schedules work.

use std::time::Duration;

/// What the CRD schemas accept for a duration field: a non-negative Go duration (`0`, `1h`,
/// `2h30m`, `1.5h`, `300ms`), so the API server rejects `banana` or `-5s` before the operator
/// sees them.
pub const GO_DURATION_PATTERN: &str =
    r"^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    /// The string is empty.
    #[error("empty duration")]
    Empty,
    /// The string is negative; akvsync has no use for negative durations.
    #[error("negative duration {0:?}")]
    Negative(String),
    /// The string is not a Go duration (a number without a unit, an unknown unit, stray text).
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// The duration does not fit in 64-bit nanoseconds, as in Go.
    #[error("duration {0:?} is out of range")]
    OutOfRange(String),
}

/// Parses a Go duration string such as `1h`, `1h0m0s`, `2h30m`, `300ms`, `1.5h`, `10us`/`10µs`
/// or `0`, with the same rules as Go's `time.ParseDuration`: a sequence of decimal numbers, each
/// with an optional fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); a bare `0`
/// is allowed; an optional leading `+`. Negative durations are rejected.
pub fn parse_go_duration(text: &str) -> Result<Duration, GoDurationError> {
    let invalid = || GoDurationError::Invalid(text.to_owned());
    let mut rest = text;
    if let Some(stripped) = rest.strip_prefix('-') {
        return if stripped.is_empty() {
            Err(invalid())
        } else {
            Err(GoDurationError::Negative(text.to_owned()))
        };
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return if text.is_empty() {
            Err(GoDurationError::Empty)
        } else {
            Err(invalid())
        };
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let fraction_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            fraction = &after_dot[..fraction_len];
            rest = &after_dot[fraction_len..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(index, _)| index);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(invalid()),
        };
        let out_of_range = || GoDurationError::OutOfRange(text.to_owned());
        let whole_value: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| out_of_range())?
        };
        let mut nanos = whole_value
            .checked_mul(unit_nanos)
            .ok_or_else(out_of_range)?;
        // The fraction contributes fraction * unit, truncated to whole nanoseconds as in Go.
        let mut scale = unit_nanos;
        for digit in fraction.bytes() {
            if scale < 10 {
                break;
            }
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(out_of_range)?;
        if total_nanos > i64::MAX as u128 {
            return Err(out_of_range());
        }
    }
    let nanos =
        u64::try_from(total_nanos).map_err(|_| GoDurationError::OutOfRange(text.to_owned()))?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse_go_duration(text).unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
    }

    #[test]
    fn accepts_the_forms_eso_manifests_use() {
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1h0m0s"), Duration::from_secs(3600));
        assert_eq!(ok("2h30m"), Duration::from_secs(9000));
        assert_eq!(ok("15s"), Duration::from_secs(15));
        assert_eq!(ok("10m0s"), Duration::from_secs(600));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("+5m"), Duration::from_secs(300));
    }

    #[test]
    fn accepts_fractions_and_small_units() {
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("1.0000000019s"), Duration::from_nanos(1_000_000_001));
        assert_eq!(ok("1h1m1s1ms"), Duration::from_millis(3_661_001));
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse_go_duration(""), Err(GoDurationError::Empty));
        for bad in [
            "1", "10", "h", "1x", "1hh", ".s", "1h 2m", "one hour", "-", "+", "1.2.3s",
        ] {
            assert!(
                matches!(parse_go_duration(bad), Err(GoDurationError::Invalid(_))),
                "{bad:?} should be invalid, got {:?}",
                parse_go_duration(bad)
            );
        }
    }

    #[test]
    fn rejects_negative_and_overflowing_durations() {
        assert_eq!(
            parse_go_duration("-1h"),
            Err(GoDurationError::Negative("-1h".into()))
        );
        assert!(matches!(
            parse_go_duration("9999999999h"),
            Err(GoDurationError::OutOfRange(_))
        ));
        assert_eq!(ok("2562047h"), Duration::from_secs(2_562_047 * 3600));
    }

    #[test]
    fn the_schema_pattern_accepts_exactly_what_parses() {
        let pattern = regex::Regex::new(GO_DURATION_PATTERN).unwrap();
        for text in [
            "0", "1h", "1h0m0s", "2h30m", "1.5h", "300ms", "10us", "10µs", "10μs", "+5s", ".5s",
            "1.s", "banana", "-5s", "5", "", "1d", "1h-5m", "h", "1hh", " 1h", "0.0s",
        ] {
            assert_eq!(
                pattern.is_match(text),
                parse_go_duration(text).is_ok(),
                "{text:?}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Any text parses or is refused, and the CRD pattern agrees with the parser on it
        /// (except values too large for Go's 64-bit nanoseconds, which no pattern can bound).
        #[test]
        fn the_parser_and_the_schema_pattern_agree(
            text in "[0-9.+\\-]{0,6}(ns|us|µs|ms|s|m|h|d|x)?([0-9.]{0,4}(ns|us|ms|s|m|h))?",
        ) {
            let pattern = regex::Regex::new(GO_DURATION_PATTERN).unwrap();
            let parsed = parse_go_duration(&text);
            if !matches!(parsed, Err(GoDurationError::OutOfRange(_))) {
                prop_assert_eq!(pattern.is_match(&text), parsed.is_ok(), "{:?}", text);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_go_duration(&text);
        }
    }
}
