//! Go's `fmt.Sprintf`: verbs, flags, width and precision, and the `%!` error notation.

use super::{format_float_e, format_float_g, push_escaped_char, quote, special_float, write_value};
use crate::value::Value;

/// The flags, width and precision of one verb.
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
}
