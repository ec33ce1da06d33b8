//! Argument conversions with Go's rules: strict typed parameters (`string`, `int`) fail like
//! `reflect` calls do, while sprig's `interface{}` helpers convert leniently (`strval`, `cast`).

use crate::value::Value;

/// A `string` parameter: anything else is Go's "wrong type for value".
pub fn bytes(args: &[Value], i: usize) -> Result<&[u8], String> {
    match &args[i] {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("invalid value; expected string".into()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

/// A `string` parameter as text (invalid UTF-8 replaced).
pub fn text(args: &[Value], i: usize) -> Result<String, String> {
    bytes(args, i).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// An `int` parameter.
pub fn int(args: &[Value], i: usize) -> Result<i64, String> {
    match &args[i] {
        Value::Int(n) => Ok(*n),
        Value::Nil => Err("invalid value; expected int".into()),
        other => Err(format!(
            "wrong type for value; expected int; got {}",
            other.type_name()
        )),
    }
}

/// A `bool` parameter.
pub fn boolean(args: &[Value], i: usize) -> Result<bool, String> {
    match &args[i] {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "wrong type for value; expected bool; got {}",
            other.type_name()
        )),
    }
}

/// sprig's `strval`: strings as they are, everything else `fmt.Sprintf("%v")`.
pub fn to_string(v: &Value) -> String {
    match v {
        Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
        other => other.to_go_string(),
    }
}

/// sprig's `strval` keeping bytes.
pub fn to_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.to_vec(),
        other => other.to_go_bytes(),
    }
}

/// `cast.ToInt64` as sprig uses it: numbers truncate, strings parse (else 0), bools 1/0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) if f.is_finite() => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = String::from_utf8_lossy(s);
            let t = t.trim();
            parse_go_int(t).unwrap_or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
                    .unwrap_or(0)
            })
        }
        _ => 0,
    }
}

/// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/leading `0`, `0b`.
pub fn parse_go_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        lower.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `cast.ToFloat64`.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => String::from_utf8_lossy(s).trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A list argument (sprig accepts any slice); `None` for other kinds.
pub fn list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.as_ref().clone()),
        _ => None,
    }
}

/// A list parameter that must be a slice (for the `must*` variants' errors).
pub fn list_arg(args: &[Value], i: usize, func: &str) -> Result<Vec<Value>, String> {
    list(&args[i]).ok_or_else(|| format!("cannot {func} on type {}", args[i].type_name()))
}

/// A list of strings from `[]interface{}` (sprig's `strslice`): nils are dropped.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(to_string)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![to_string(other)],
    }
}
