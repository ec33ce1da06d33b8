//! sprig dates: `ago date date_in_zone date_modify dateInZone dateModify duration durationRound
//! htmlDate htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch`, with
//! Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) and `time.Duration` syntax.
//!
//! Zones: `UTC` and `Local` (the operator runs in UTC, as ESO's image does) and fixed offsets;
//! other IANA names fall back to UTC, which is what sprig does when a zone fails to load.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Offset, TimeZone, Timelike, Utc};

use super::args::text;
use super::{FuncResult, Registry};
use crate::value::Value;

pub fn register(r: &mut Registry<'_>) {
    r.fixed("now", 0, |_| Ok(Value::Time(Utc::now().fixed_offset())));
    r.fixed("date", 2, |a| {
        Ok(Value::str(format_go(&to_time(&a[1]), &text(a, 0)?)))
    });
    let date_in_zone: fn(&[Value]) -> FuncResult = |a| {
        let t = in_zone(&to_time(&a[1]), &text(a, 2)?);
        Ok(Value::str(format_go(&t, &text(a, 0)?)))
    };
    r.fixed("dateInZone", 3, date_in_zone);
    r.fixed("date_in_zone", 3, date_in_zone);
    r.fixed("htmlDate", 1, |a| {
        Ok(Value::str(format_go(&to_time(&a[0]), "2006-01-02")))
    });
    r.fixed("htmlDateInZone", 2, |a| {
        let t = in_zone(&to_time(&a[0]), &text(a, 1)?);
        Ok(Value::str(format_go(&t, "2006-01-02")))
    });
    let modify: fn(&[Value]) -> FuncResult = |a| {
        let t = time_arg(a, 1)?;
        Ok(Value::Time(match parse_duration(&text(a, 0)?) {
            Ok(ns) => t + chrono::Duration::nanoseconds(ns),
            Err(_) => t,
        }))
    };
    r.fixed("dateModify", 2, modify);
    r.fixed("date_modify", 2, modify);
    let must_modify: fn(&[Value]) -> FuncResult = |a| {
        let t = time_arg(a, 1)?;
        let ns = parse_duration(&text(a, 0)?)?;
        Ok(Value::Time(t + chrono::Duration::nanoseconds(ns)))
    };
    r.fixed("mustDateModify", 2, must_modify);
    r.fixed("must_date_modify", 2, must_modify);
    r.fixed("toDate", 2, |a| {
        Ok(Value::Time(
            parse_go(&text(a, 0)?, &text(a, 1)?).unwrap_or_else(|_| zero_time()),
        ))
    });
    r.fixed("mustToDate", 2, |a| {
        parse_go(&text(a, 0)?, &text(a, 1)?).map(Value::Time)
    });
    r.fixed("unixEpoch", 1, |a| {
        Ok(Value::str(time_arg(a, 0)?.timestamp().to_string()))
    });
    r.fixed("ago", 1, |a| {
        let since = Utc::now().fixed_offset() - to_time(&a[0]);
        let secs = (since.num_milliseconds() as f64 / 1000.0).round() as i64;
        Ok(Value::str(format_duration(
            secs.saturating_mul(1_000_000_000),
        )))
    });
    r.fixed("duration", 1, |a| {
        let secs = match &a[0] {
            Value::Int(i) => *i,
            Value::Str(s) => String::from_utf8_lossy(s).parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::str(format_duration(
            secs.saturating_mul(1_000_000_000),
        )))
    });
    r.fixed("durationRound", 1, |a| {
        let ns: i64 = match &a[0] {
            Value::Str(_) => parse_duration(&text(a, 0)?).unwrap_or(0),
            Value::Int(i) => *i,
            Value::Time(t) => (Utc::now().fixed_offset() - *t)
                .num_nanoseconds()
                .unwrap_or(i64::MAX),
            _ => 0,
        };
        Ok(Value::str(duration_round(ns)))
    });
}

fn zero_time() -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

fn time_arg(a: &[Value], i: usize) -> Result<DateTime<FixedOffset>, String> {
    match &a[i] {
        Value::Time(t) => Ok(*t),
        other => Err(format!(
            "wrong type for value; expected time.Time; got {}",
            other.type_name()
        )),
    }
}

/// sprig's date argument: a time, or Unix seconds; anything else means now.
fn to_time(v: &Value) -> DateTime<FixedOffset> {
    match v {
        Value::Time(t) => *t,
        Value::Int(secs) => Utc
            .timestamp_opt(*secs, 0)
            .single()
            .unwrap_or_default()
            .fixed_offset(),
        _ => Utc::now().fixed_offset(),
    }
}

fn in_zone(t: &DateTime<FixedOffset>, zone: &str) -> DateTime<FixedOffset> {
    let offset = parse_fixed_zone(zone).unwrap_or_else(|| Utc.fix());
    t.with_timezone(&offset)
}

fn parse_fixed_zone(zone: &str) -> Option<FixedOffset> {
    match zone {
        "UTC" | "Local" | "" => FixedOffset::east_opt(0),
        _ => {
            let (sign, rest) = match zone.as_bytes().first()? {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return None,
            };
            let digits: String = rest.chars().filter(|c| *c != ':').collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i32>().ok()?, 0),
                4 => (
                    digits[..2].parse::<i32>().ok()?,
                    digits[2..].parse::<i32>().ok()?,
                ),
                _ => return None,
            };
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        }
    }
}

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

/// Go `time.ParseDuration`: `1h30m`, `-1.5h`, `300ms`, `2us`; returns nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += number * scale;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

/// Go `time.Duration.String()`.
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", frac(u, div));
    }
    let secs = u / 1_000_000_000;
    let sub = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sec_str = frac(s * 1_000_000_000 + sub, 1_000_000_000);
    if h > 0 {
        format!("{sign}{h}h{m}m{sec_str}s")
    } else if m > 0 {
        format!("{sign}{m}m{sec_str}s")
    } else {
        format!("{sign}{sec_str}s")
    }
}

fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// sprig `durationRound`: the largest whole unit (`y mo d h m s`).
fn duration_round(ns: i64) -> String {
    let u = ns.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    let units = [
        (SECOND * 3600 * 24 * 365, "y"),
        (SECOND * 3600 * 24 * 30, "mo"),
        (SECOND * 3600 * 24, "d"),
        (SECOND * 3600, "h"),
        (SECOND * 60, "m"),
        (SECOND, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
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

    #[test]
    fn durations_match_go() {
        assert_eq!(format_duration(95 * 1_000_000_000), "1m35s");
        assert_eq!(
            format_duration(3_600_000_000_000 + 1_500_000_000),
            "1h0m1.5s"
        );
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("-1.5h").unwrap(), -5_400_000_000_000);
        assert!(parse_duration("5 minutes").is_err());
        assert_eq!(duration_round(parse_duration("2h10m5s").unwrap()), "2h");
    }
}
