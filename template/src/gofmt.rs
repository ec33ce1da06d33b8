//! Go's `fmt` as templates see it: `%v` rendering of values (`map[k:v]`, `[a b]`, `<nil>`),
//! float formatting (`strconv` shortest `%g` with Go's exponent rules), `Sprint`/`Sprintln`
//! spacing, `strconv.Quote`, and `Sprintf` with the common verbs and flags.

use std::io::Write;

use crate::value::Value;

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

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf` with Go's verbs `%v %s %d %q %x %X %o %b %c %U %e %E %f %F %g %G %t %T %%`,
/// flags `+ - # 0 space`, width and precision (including `*`), and Go's `%!` error notation.
pub fn sprintf(format: &[u8], args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut arg_index = 0;
    let mut i = 0;
    while i < format.len() {
        let c = format[i];
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < format.len() {
            match format[i] {
                b'-' => spec.minus = true,
                b'+' => spec.plus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        spec.width = parse_num_or_star(format, &mut i, args, &mut arg_index, &mut out);
        if i < format.len() && format[i] == b'.' {
            i += 1;
            spec.prec = Some(
                parse_num_or_star(format, &mut i, args, &mut arg_index, &mut out).unwrap_or(0),
            );
        }
        if i >= format.len() {
            out.extend_from_slice(b"%!(NOVERB)");
            break;
        }
        let (verb, len) = decode_char(&format[i..]);
        i += len;
        if verb == '%' {
            out.push(b'%');
            continue;
        }
        let Some(arg) = args.get(arg_index) else {
            out.extend_from_slice(format!("%!{verb}(MISSING)").as_bytes());
            continue;
        };
        arg_index += 1;
        format_arg(&mut out, verb, spec, arg);
    }
    if arg_index < args.len() {
        out.extend_from_slice(b"%!(EXTRA ");
        for (n, arg) in args[arg_index..].iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(arg.type_name().as_bytes());
            out.push(b'=');
            write_value(&mut out, arg, false);
        }
        out.push(b')');
    }
    out
}

fn decode_char(bytes: &[u8]) -> (char, usize) {
    let end = bytes.len().min(4);
    for len in 1..=end {
        if let Ok(s) = std::str::from_utf8(&bytes[..len])
            && let Some(c) = s.chars().next()
        {
            return (c, len);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

fn parse_num_or_star(
    format: &[u8],
    i: &mut usize,
    args: &[Value],
    arg_index: &mut usize,
    out: &mut Vec<u8>,
) -> Option<usize> {
    if *i < format.len() && format[*i] == b'*' {
        *i += 1;
        return match args.get(*arg_index) {
            Some(Value::Int(n)) if *n >= 0 && *n <= 1_000_000 => {
                *arg_index += 1;
                Some(*n as usize)
            }
            _ => {
                *arg_index += 1;
                out.extend_from_slice(b"%!(BADWIDTH)");
                None
            }
        };
    }
    let start = *i;
    while *i < format.len() && format[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i == start {
        return None;
    }
    std::str::from_utf8(&format[start..*i])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map(|n| n.min(1_000_000))
}

fn pad(out: &mut Vec<u8>, body: &[u8], spec: Spec, numeric: bool) {
    let len = String::from_utf8_lossy(body).chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.extend_from_slice(body);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.zero && numeric {
        // Zero padding goes after the sign.
        let (sign, rest) = match body.first() {
            Some(b'-') | Some(b'+') | Some(b' ') => body.split_at(1),
            _ => body.split_at(0),
        };
        out.extend_from_slice(sign);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(rest);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(body);
    }
}

fn bad_verb(out: &mut Vec<u8>, verb: char, arg: &Value) {
    out.extend_from_slice(format!("%!{verb}(").as_bytes());
    out.extend_from_slice(arg.type_name().as_bytes());
    out.push(b'=');
    write_value(out, arg, false);
    out.push(b')');
}

fn signed(s: String, negative: bool, spec: Spec) -> String {
    if negative {
        format!("-{s}")
    } else if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

fn format_int(out: &mut Vec<u8>, verb: char, spec: Spec, i: i64) {
    let neg = i < 0;
    let abs = i.unsigned_abs();
    let digits = match verb {
        'd' | 'v' => abs.to_string(),
        'x' => format!("{}{abs:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{abs:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{abs:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{abs:o}"),
        'b' => format!("{abs:b}"),
        _ => unreachable!("format_int called with integer verbs only"),
    };
    let digits = match spec.prec {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    pad(
        out,
        signed(digits, neg, spec).as_bytes(),
        spec,
        spec.prec.is_none(),
    );
}

fn format_float(out: &mut Vec<u8>, verb: char, spec: Spec, f: f64) {
    let body = match verb {
        'v' | 'g' => format_float_g(f, spec.prec, false),
        'G' => format_float_g(f, spec.prec, true),
        'e' => format_float_e(f, spec.prec.unwrap_or(6), false),
        'E' => format_float_e(f, spec.prec.unwrap_or(6), true),
        'f' | 'F' => {
            if let Some(s) = special_float(f) {
                s
            } else {
                format!("{:.*}", spec.prec.unwrap_or(6), f)
            }
        }
        _ => unreachable!("format_float called with float verbs only"),
    };
    let (neg, digits) = match body.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, body.trim_start_matches('+').to_string()),
    };
    let numeric = f.is_finite();
    pad(out, signed(digits, neg, spec).as_bytes(), spec, numeric);
}

fn format_bytes_hex(bytes: &[u8], spec: Spec, upper: bool) -> String {
    let mut s = String::new();
    let bytes = match spec.prec {
        Some(p) if p < bytes.len() => &bytes[..p],
        _ => bytes,
    };
    for (i, b) in bytes.iter().enumerate() {
        if spec.space && i > 0 {
            s.push(' ');
        }
        if spec.sharp && (spec.space || i == 0) {
            s.push_str(if upper { "0X" } else { "0x" });
        }
        if upper {
            s.push_str(&format!("{b:02X}"));
        } else {
            s.push_str(&format!("{b:02x}"));
        }
    }
    s
}

fn format_arg(out: &mut Vec<u8>, verb: char, spec: Spec, arg: &Value) {
    if verb == 'T' {
        pad(out, arg.type_name().as_bytes(), spec, false);
        return;
    }
    match arg {
        Value::List(items) if verb != 'v' || !items.is_empty() => {
            if matches!(
                verb,
                'x' | 'X' | 'q' | 's' | 'd' | 'v' | 'f' | 'g' | 'e' | 't'
            ) {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    format_arg(out, verb, spec, item);
                }
                out.push(b']');
            } else {
                bad_verb(out, verb, arg);
            }
        }
        Value::Map(m) if verb != 'v' => {
            out.extend_from_slice(b"map[");
            for (i, (k, v)) in m.borrow().entries.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                format_arg(out, verb, spec, &Value::str(k));
                out.push(b':');
                format_arg(out, verb, spec, v);
            }
            out.push(b']');
        }
        Value::Int(i) => match verb {
            'v' | 'd' | 'x' | 'X' | 'o' | 'O' | 'b' => format_int(out, verb, spec, *i),
            'c' => {
                let c = u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                pad(out, c.to_string().as_bytes(), spec, false);
            }
            'q' => {
                let c = u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut s = String::new();
                s.push('\'');
                push_escaped_char(&mut s, c, '\'');
                s.push('\'');
                pad(out, s.as_bytes(), spec, false);
            }
            'U' => {
                let s = format!("U+{:04X}", i);
                pad(out, s.as_bytes(), spec, false);
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => bad_verb(out, verb, arg),
            _ => bad_verb(out, verb, arg),
        },
        Value::Float(f) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' => format_float(out, verb, spec, *f),
            _ => bad_verb(out, verb, arg),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(
                out,
                if *b { b"true" as &[u8] } else { b"false" },
                spec,
                false,
            ),
            _ => bad_verb(out, verb, arg),
        },
        Value::Str(s) => match verb {
            'v' | 's' => {
                let text: &[u8] = match spec.prec {
                    Some(p) => {
                        let lossy = String::from_utf8_lossy(s);
                        let end = lossy
                            .char_indices()
                            .nth(p)
                            .map(|(i, _)| i)
                            .unwrap_or(lossy.len());
                        return pad(out, &lossy.as_bytes()[..end], spec, false);
                    }
                    None => s,
                };
                pad(out, text, spec, false);
            }
            'q' => {
                let q = if spec.sharp
                    && std::str::from_utf8(s).is_ok_and(|t| !t.contains('`') && !t.contains('\n'))
                {
                    format!("`{}`", String::from_utf8_lossy(s))
                } else {
                    quote(s)
                };
                pad(out, q.as_bytes(), spec, false);
            }
            'x' => pad(
                out,
                format_bytes_hex(s, spec, false).as_bytes(),
                spec,
                false,
            ),
            'X' => pad(out, format_bytes_hex(s, spec, true).as_bytes(), spec, false),
            _ => bad_verb(out, verb, arg),
        },
        Value::Nil => match verb {
            'v' => pad(out, b"<nil>", spec, false),
            _ => out.extend_from_slice(format!("%!{verb}(<nil>)").as_bytes()),
        },
        Value::Time(_) | Value::List(_) | Value::Map(_) => match verb {
            'v' | 's' => {
                let mut body = Vec::new();
                write_value(&mut body, arg, false);
                pad(out, &body, spec, false);
            }
            _ => bad_verb(out, verb, arg),
        },
    }
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
    fn sprintf_handles_go_verbs() {
        let s = |f: &str, a: Vec<Value>| String::from_utf8(sprintf(f.as_bytes(), &a)).unwrap();
        assert_eq!(s("%s-%d", vec!["a".into(), Value::Int(5)]), "a-5");
        assert_eq!(s("%q", vec!["a\"b\n".into()]), r#""a\"b\n""#);
        assert_eq!(s("%x", vec!["hi".into()]), "6869");
        assert_eq!(s("%X", vec![Value::Int(255)]), "FF");
        assert_eq!(
            s(
                "%05d|%-4d|%+d",
                vec![Value::Int(42), Value::Int(7), Value::Int(3)]
            ),
            "00042|7   |+3"
        );
        assert_eq!(s("%.2f", vec![Value::Float(1.23456)]), "1.23");
        assert_eq!(s("%8.3f|", vec![Value::Float(-1.23456)]), "  -1.235|");
        assert_eq!(s("%e", vec![Value::Float(1234.5678)]), "1.234568e+03");
        assert_eq!(
            s("%t %v", vec![Value::Bool(true), Value::Nil]),
            "true <nil>"
        );
        assert_eq!(s("%d", vec!["x".into()]), "%!d(string=x)");
        assert_eq!(s("%s %s", vec!["x".into()]), "x %!s(MISSING)");
        assert_eq!(s("%s", vec!["x".into(), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            s(
                "%c|%q|%U",
                vec![Value::Int(65), Value::Int(66), Value::Int(67)]
            ),
            "A|'B'|U+0043"
        );
        assert_eq!(s("%T %T", vec![Value::Int(1), "s".into()]), "int string");
        assert_eq!(s("100%%", vec![]), "100%");
        assert_eq!(s("%6.2s|", vec!["abcdef".into()]), "    ab|");
        assert_eq!(
            s("%v", vec![Value::list(vec![Value::Int(1), "a".into()])]),
            "[1 a]"
        );
        assert_eq!(
            s("%q", vec![Value::list(vec!["a".into(), "b".into()])]),
            r#"["a" "b"]"#
        );
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(sprint(&["a".into(), "b".into()]), b"ab");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), b"1 2");
        assert_eq!(sprint(&["a".into(), Value::Int(2)]), b"a2");
        assert_eq!(sprintln(&["a".into(), "b".into()]), b"a b\n");
    }
}
