//! Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`): formatting and parsing.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};

/// One element of a Go layout.
#[derive(Debug, PartialEq)]
enum Chunk {
    Lit(String),
    Year,
    Year2,
    Month,
    ZeroMonth,
    MonthShort,
    MonthLong,
    Day,
    ZeroDay,
    UnderDay,
    YearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PmUpper,
    PmLower,
    WeekdayShort,
    WeekdayLong,
    ZoneName,
    /// (`Z` for UTC?, with colon, with seconds, hours only)
    Offset(bool, bool, bool, bool),
    /// (digits, trim trailing zeros, separator)
    Fraction(usize, bool, char),
}

/// Splits a Go layout into chunks, in `time.nextStdChunk`'s precedence.
fn layout_chunks(layout: &str) -> Vec<Chunk> {
    type MakeChunk = fn() -> Chunk;
    const TOKENS: &[(&str, MakeChunk)] = &[
        ("January", || Chunk::MonthLong),
        ("Jan", || Chunk::MonthShort),
        ("Monday", || Chunk::WeekdayLong),
        ("Mon", || Chunk::WeekdayShort),
        ("MST", || Chunk::ZoneName),
        ("2006", || Chunk::Year),
        ("002", || Chunk::YearDay),
        ("01", || Chunk::ZeroMonth),
        ("02", || Chunk::ZeroDay),
        ("03", || Chunk::ZeroHour12),
        ("04", || Chunk::ZeroMinute),
        ("05", || Chunk::ZeroSecond),
        ("06", || Chunk::Year2),
        ("15", || Chunk::Hour),
        ("_2", || Chunk::UnderDay),
        ("PM", || Chunk::PmUpper),
        ("pm", || Chunk::PmLower),
        ("Z07:00:00", || Chunk::Offset(true, true, true, false)),
        ("-07:00:00", || Chunk::Offset(false, true, true, false)),
        ("Z070000", || Chunk::Offset(true, false, true, false)),
        ("-070000", || Chunk::Offset(false, false, true, false)),
        ("Z07:00", || Chunk::Offset(true, true, false, false)),
        ("-07:00", || Chunk::Offset(false, true, false, false)),
        ("Z0700", || Chunk::Offset(true, false, false, false)),
        ("-0700", || Chunk::Offset(false, false, false, false)),
        ("Z07", || Chunk::Offset(true, false, false, true)),
        ("-07", || Chunk::Offset(false, false, false, true)),
        ("1", || Chunk::Month),
        ("2", || Chunk::Day),
        ("3", || Chunk::Hour12),
        ("4", || Chunk::Minute),
        ("5", || Chunk::Second),
    ];
    let mut chunks = Vec::new();
    let mut lit = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        let bytes = rest.as_bytes();
        if (bytes[0] == b'.' || bytes[0] == b',')
            && bytes.len() > 1
            && (bytes[1] == b'0' || bytes[1] == b'9')
        {
            let digit = bytes[1];
            let n = bytes[1..].iter().take_while(|b| **b == digit).count();
            let after = bytes.get(1 + n);
            if !after.is_some_and(u8::is_ascii_digit) {
                if !lit.is_empty() {
                    chunks.push(Chunk::Lit(std::mem::take(&mut lit)));
                }
                chunks.push(Chunk::Fraction(n, digit == b'9', bytes[0] as char));
                rest = &rest[1 + n..];
                continue;
            }
        }
        for (tok, make) in TOKENS {
            if rest.starts_with(tok) {
                // "Jan"/"Mon" must not continue with a lowercase letter ("Janet").
                if (*tok == "Jan" || *tok == "Mon")
                    && rest[tok.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase())
                {
                    continue;
                }
                if !lit.is_empty() {
                    chunks.push(Chunk::Lit(std::mem::take(&mut lit)));
                }
                chunks.push(make());
                rest = &rest[tok.len()..];
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        lit.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !lit.is_empty() {
        chunks.push(Chunk::Lit(lit));
    }
    chunks
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `time.Time.Format(layout)`.
pub fn format_go(t: &DateTime<FixedOffset>, layout: &str) -> String {
    let mut out = String::new();
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    for chunk in layout_chunks(layout) {
        match chunk {
            Chunk::Lit(s) => out.push_str(&s),
            Chunk::Year => out.push_str(&format!("{:04}", t.year())),
            Chunk::Year2 => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
            Chunk::Month => out.push_str(&t.month().to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", t.month())),
            Chunk::MonthShort => out.push_str(&MONTHS[t.month0() as usize][..3]),
            Chunk::MonthLong => out.push_str(MONTHS[t.month0() as usize]),
            Chunk::Day => out.push_str(&t.day().to_string()),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", t.day())),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", t.day())),
            Chunk::YearDay => out.push_str(&format!("{:03}", t.ordinal())),
            Chunk::Hour => out.push_str(&format!("{:02}", t.hour())),
            Chunk::Hour12 => out.push_str(&hour12.to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{hour12:02}")),
            Chunk::Minute => out.push_str(&t.minute().to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", t.minute())),
            Chunk::Second => out.push_str(&t.second().to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", t.second())),
            Chunk::PmUpper => out.push_str(if t.hour() >= 12 { "PM" } else { "AM" }),
            Chunk::PmLower => out.push_str(if t.hour() >= 12 { "pm" } else { "am" }),
            Chunk::WeekdayShort => {
                out.push_str(&DAYS[t.weekday().num_days_from_monday() as usize][..3])
            }
            Chunk::WeekdayLong => out.push_str(DAYS[t.weekday().num_days_from_monday() as usize]),
            Chunk::ZoneName => {
                let secs = t.offset().local_minus_utc();
                if secs == 0 {
                    out.push_str("UTC");
                } else {
                    let sign = if secs < 0 { '-' } else { '+' };
                    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
                    out.push_str(&format!("{sign}{h:02}"));
                    if m != 0 {
                        out.push_str(&format!("{m:02}"));
                    }
                }
            }
            Chunk::Offset(z, colon, with_seconds, hours_only) => {
                let secs = t.offset().local_minus_utc();
                if z && secs == 0 {
                    out.push('Z');
                    continue;
                }
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.abs();
                let (h, m, s) = (a / 3600, a % 3600 / 60, a % 60);
                out.push_str(&format!("{sign}{h:02}"));
                if !hours_only {
                    if colon {
                        out.push(':');
                    }
                    out.push_str(&format!("{m:02}"));
                }
                if with_seconds {
                    if colon {
                        out.push(':');
                    }
                    out.push_str(&format!("{s:02}"));
                }
            }
            Chunk::Fraction(n, trim, sep) => {
                let digits = format!("{:09}", t.nanosecond() % 1_000_000_000);
                let mut d = digits[..n.min(9)].to_string();
                if trim {
                    while d.ends_with('0') {
                        d.pop();
                    }
                    if !d.is_empty() {
                        out.push(sep);
                        out.push_str(&d);
                    }
                } else {
                    out.push(sep);
                    out.push_str(&d);
                }
            }
        }
    }
    out
}

/// `time.ParseInLocation(layout, value, UTC)` for the common layouts, via chrono.
pub fn parse_go(layout: &str, value: &str) -> Result<DateTime<FixedOffset>, String> {
    let mut fmt = String::new();
    let mut has_offset = false;
    let mut has_time = false;
    for chunk in layout_chunks(layout) {
        let piece = match chunk {
            Chunk::Lit(s) => s.replace('%', "%%"),
            Chunk::Year => "%Y".into(),
            Chunk::Year2 => "%y".into(),
            Chunk::Month | Chunk::ZeroMonth => "%m".into(),
            Chunk::MonthShort => "%b".into(),
            Chunk::MonthLong => "%B".into(),
            Chunk::Day | Chunk::ZeroDay | Chunk::UnderDay => "%d".into(),
            Chunk::YearDay => "%j".into(),
            Chunk::Hour => "%H".into(),
            Chunk::Hour12 | Chunk::ZeroHour12 => "%I".into(),
            Chunk::Minute | Chunk::ZeroMinute => "%M".into(),
            Chunk::Second | Chunk::ZeroSecond => "%S".into(),
            Chunk::PmUpper | Chunk::PmLower => "%p".into(),
            Chunk::WeekdayShort => "%a".into(),
            Chunk::WeekdayLong => "%A".into(),
            Chunk::ZoneName => "%Z".into(),
            Chunk::Offset(_, colon, _, _) => {
                has_offset = true;
                if colon { "%:z".into() } else { "%z".into() }
            }
            Chunk::Fraction(..) => "%.f".into(),
        };
        if piece.contains("%H") || piece.contains("%I") {
            has_time = true;
        }
        fmt.push_str(&piece);
    }
    let value_fixed = if layout.contains("Z07") && value.ends_with('Z') {
        format!("{}+00:00", &value[..value.len() - 1])
    } else {
        value.to_string()
    };
    let err = |_| format!("parsing time {value:?} as {layout:?}: cannot parse");
    if has_offset {
        return DateTime::parse_from_str(&value_fixed, &fmt).map_err(err);
    }
    let naive = if has_time {
        NaiveDateTime::parse_from_str(value, &fmt).map_err(err)?
    } else {
        chrono::NaiveDate::parse_from_str(value, &fmt)
            .map_err(err)?
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
    };
    Ok(Utc.from_utc_datetime(&naive).fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn formats_go_layouts() {
        let when = t("2024-03-05T07:08:09.120+00:00");
        assert_eq!(format_go(&when, "2006-01-02"), "2024-03-05");
        assert_eq!(
            format_go(&when, "Jan 2, 2006 at 3:04pm (MST)"),
            "Mar 5, 2024 at 7:08am (UTC)"
        );
        assert_eq!(
            format_go(&when, "2006-01-02T15:04:05Z07:00"),
            "2024-03-05T07:08:09Z"
        );
        assert_eq!(format_go(&when, "15:04:05.000"), "07:08:09.120");
        assert_eq!(format_go(&when, "15:04:05.999"), "07:08:09.12");
        assert_eq!(
            format_go(&when, "Monday _2 January 06"),
            "Tuesday  5 March 24"
        );
        let east = t("2024-03-05T07:08:09+02:00");
        assert_eq!(
            format_go(&east, "-0700 -07:00 Z07:00"),
            "+0200 +02:00 +02:00"
        );
    }

    #[test]
    fn parses_go_layouts() {
        let d = parse_go("2006-01-02", "2017-12-31").unwrap();
        assert_eq!(d.timestamp(), 1514678400);
        let d = parse_go("2006-01-02T15:04:05Z07:00", "2020-01-02T03:04:05Z").unwrap();
        assert_eq!(d.timestamp(), 1577934245);
        assert!(parse_go("2006-01-02", "not a date").is_err());
    }
}
