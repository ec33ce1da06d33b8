//! sprig dates: `ago date date_in_zone date_modify dateInZone dateModify duration durationRound
//! htmlDate htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch`, with
//! Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) and `time.Duration` syntax.
//!
//! Zones: `UTC` and `Local` (the operator runs in UTC, as ESO's image does) and fixed offsets;
//! other IANA names fall back to UTC, which is what sprig does when a zone fails to load.

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};

mod duration;
mod layout;

use duration::{duration_round, format_duration, parse_duration};
use layout::{format_go, parse_go};

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
