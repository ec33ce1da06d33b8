//! Go's `fmt` as templates see it: `%v` rendering of values (`map[k:v]`, `[a b]`, `<nil>`),
//! float formatting (`strconv` shortest `%g` with Go's exponent rules), `Sprint`/`Sprintln`
//! spacing, `strconv.Quote`, and `Sprintf` with the common verbs and flags.

use std::io::Write;

use crate::value::Value;

mod sprintf;

pub use sprintf::sprintf;

/// Writes `%v` of a value. `in_container` switches nil to `<nil>` rules inside lists and maps
/// (the top-level `<no value>` rule is the evaluator's, not fmt's).
pub fn write_value(out: &mut Vec<u8>, value: &Value, in_container: bool) {
    let _ = in_container;
    match value {
        Value::Nil => out.extend_from_slice(b"<nil>"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.extend_from_slice(format_float_g(*f, None, false).as_bytes()),
        Value::Str(s) => out.extend_from_slice(s),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_value(out, item, true);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.extend_from_slice(b"map[");
            for (i, (k, v)) in m.borrow().entries.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                write_value(out, v, true);
            }
            out.push(b']');
        }
        Value::Time(t) => out.extend_from_slice(format_time(t).as_bytes()),
    }
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST` (the zone name is the
/// numeric offset when no abbreviation is known, as for fixed zones).
pub fn format_time(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        let s = format!(".{nanos:09}");
        s.trim_end_matches('0').to_string()
    };
    let offset = t.format("%z").to_string();
    let zone = if t.offset().local_minus_utc() == 0 {
        "UTC".to_string()
    } else {
        offset.clone()
    };
    format!("{base}{frac} {offset} {zone}")
}

/// Shortest decimal digits and decimal-point position of a finite float: `(digits, dp)` such that
/// value = 0.digits × 10^dp.
fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0').to_string();
    if digits.is_empty() {
        return ("0".to_string(), 1);
    }
    (digits, exp + 1)
}

/// Go prints infinities with an explicit sign whatever the flags.
fn special_float(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".to_string())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.to_string())
    } else {
        None
    }
}

fn go_exponent(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{sign}{:02}", exp.abs())
}

/// `strconv.FormatFloat(f, 'g', prec, 64)` (prec `None` = shortest), `%v` for floats.
pub fn format_float_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let (digits, dp, eprec) = match prec {
        None => {
            let (d, dp) = shortest_digits(f);
            (d, dp, 6)
        }
        Some(p) => {
            let p = p.max(1);
            let s = format!("{:.*e}", p - 1, f.abs());
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let mut d: String = m.chars().filter(|c| c.is_ascii_digit()).collect();
            // %g drops trailing zeros unless '#'.
            while d.len() > 1 && d.ends_with('0') {
                d.pop();
            }
            let mut eprec = p as i32;
            if eprec > d.len() as i32 && d.len() as i32 > e {
                eprec = d.len() as i32;
            }
            (d, e + 1, eprec)
        }
    };
    let exp = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if f == 0.0 {
        out.push('0');
        return out;
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = go_exponent(exp);
        out.push_str(&if upper { e.to_uppercase() } else { e });
    } else if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(&digits);
    } else if dp as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(dp as usize - digits.len()));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// `%e` with a precision (Go default 6).
pub fn format_float_e(f: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    let s = format!("{:.*e}", prec, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let out = format!("{m}{}", go_exponent(e));
    if upper { out.to_uppercase() } else { out }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn format_float_f_shortest(f: f64) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    format!("{f}")
}

/// Go's `strconv.Quote`: double-quoted with Go escapes; invalid UTF-8 bytes become `\x..`.
pub fn quote(bytes: &[u8]) -> String {
    quote_with(bytes, '"')
}

fn quote_with(bytes: &[u8], q: char) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push(q);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped_char(&mut out, c, q);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push(q);
    out
}

fn push_escaped_char(out: &mut String, c: char, q: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if ('\u{80}'..'\u{a0}').contains(&c) || c == '\u{ad}' => {
            out.push_str(&format!("\\u{:04x}", c as u32))
        }
        c => out.push(c),
    }
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::Str(_))
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !is_string(arg) && !is_string(&args[i - 1]) {
            out.push(b' ');
        }
        write_value(&mut out, arg, false);
    }
    out
}

/// `fmt.Sprintln`: always spaces, then a newline.
pub fn sprintln(args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_value(&mut out, arg, false);
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        assert_eq!(format_float_g(1.5, None, false), "1.5");
        assert_eq!(format_float_g(8080.0, None, false), "8080");
        assert_eq!(format_float_g(1e6, None, false), "1e+06");
        assert_eq!(format_float_g(123456.0, None, false), "123456");
        assert_eq!(format_float_g(1234567.0, None, false), "1.234567e+06");
        assert_eq!(format_float_g(0.0001, None, false), "0.0001");
        assert_eq!(format_float_g(0.00001, None, false), "1e-05");
        assert_eq!(format_float_g(-2.25, None, false), "-2.25");
        assert_eq!(format_float_g(0.0, None, false), "0");
        assert_eq!(format_float_g(1.23456, Some(3), false), "1.23");
        assert_eq!(format_float_g(1e21, None, false), "1e+21");
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(sprint(&["a".into(), "b".into()]), b"ab");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), b"1 2");
        assert_eq!(sprint(&["a".into(), Value::Int(2)]), b"a2");
        assert_eq!(sprintln(&["a".into(), "b".into()]), b"a b\n");
    }
}
