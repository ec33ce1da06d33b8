//! Go `text/template` builtins: `and or not len index print printf println html js urlquery eq
//! ne lt le gt ge`. `slice` is sprig's (ESO's function map overrides the builtin, see `lists`);
//! `call` has nothing to call in ESO's data and is not provided.

use super::Registry;
use super::args;
use crate::gofmt;
use crate::value::{MapKind, Value};

pub fn register(r: &mut Registry<'_>) {
    // and/or are short-circuited by the evaluator; these bodies serve direct calls.
    r.range("and", 1, None, |a| {
        Ok(a.iter()
            .find(|v| !v.is_true())
            .unwrap_or(&a[a.len() - 1])
            .clone())
    });
    r.range("or", 1, None, |a| {
        Ok(a.iter()
            .find(|v| v.is_true())
            .unwrap_or(&a[a.len() - 1])
            .clone())
    });
    r.fixed("not", 1, |a| Ok(Value::Bool(!a[0].is_true())));
    r.fixed("len", 1, len);
    r.range("index", 1, None, index);
    r.range("print", 0, None, |a| Ok(Value::from(gofmt::sprint(a))));
    r.range("println", 0, None, |a| Ok(Value::from(gofmt::sprintln(a))));
    r.range("printf", 1, None, |a| {
        let format = args::bytes(a, 0)?;
        Ok(Value::from(gofmt::sprintf(format, &a[1..])))
    });
    r.range("html", 0, None, |a| {
        Ok(Value::from(html_escape(&eval_args(a))))
    });
    r.range("js", 0, None, |a| Ok(Value::from(js_escape(&eval_args(a)))));
    r.range("urlquery", 0, None, |a| {
        Ok(Value::from(query_escape(&eval_args(a))))
    });
    r.range("eq", 1, None, eq);
    r.fixed("ne", 2, |a| Ok(Value::Bool(!equal(&a[0], &a[1])?)));
    r.fixed("lt", 2, |a| Ok(Value::Bool(less(&a[0], &a[1])?)));
    r.fixed("le", 2, |a| {
        Ok(Value::Bool(less(&a[0], &a[1])? || equal(&a[0], &a[1])?))
    });
    r.fixed("gt", 2, |a| {
        Ok(Value::Bool(!less(&a[0], &a[1])? && !equal(&a[0], &a[1])?))
    });
    r.fixed("ge", 2, |a| Ok(Value::Bool(!less(&a[0], &a[1])?)));
}

/// Go's `evalArgs`: a single string argument as is, otherwise `fmt.Sprint`.
fn eval_args(a: &[Value]) -> Vec<u8> {
    match a {
        [Value::Str(s)] => s.to_vec(),
        _ => gofmt::sprint(a),
    }
}

fn len(a: &[Value]) -> super::FuncResult {
    match &a[0] {
        Value::Str(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m) => Ok(Value::Int(m.borrow().entries.len() as i64)),
        Value::Nil => Err("len of nil pointer".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn index(a: &[Value]) -> super::FuncResult {
    let mut item = a[0].clone();
    for key in &a[1..] {
        item = match &item {
            Value::List(l) => {
                let i = index_int(key)?;
                if i < 0 || i as usize >= l.len() {
                    return Err(format!("index out of range: {i}"));
                }
                l[i as usize].clone()
            }
            Value::Str(s) => {
                let i = index_int(key)?;
                if i < 0 || i as usize >= s.len() {
                    return Err(format!("index out of range: {i}"));
                }
                Value::Int(i64::from(s[i as usize]))
            }
            Value::Map(m) => {
                let Value::Str(k) = key else {
                    return Err(format!(
                        "value has type {}; should be string",
                        key.type_name()
                    ));
                };
                let m = m.borrow();
                let k = String::from_utf8_lossy(k);
                match m.entries.get(k.as_ref()) {
                    Some(v) => v.clone(),
                    None if m.kind == MapKind::Strings => Value::str(""),
                    None => Value::Nil,
                }
            }
            Value::Nil => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

/// `template.HTMLEscapeString`.
pub fn html_escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        match c {
            b'"' => out.extend_from_slice(b"&#34;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
            c => out.push(c),
        }
    }
    out
}

/// `template.JSEscapeString`.
pub fn js_escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '\\' => out.extend_from_slice(b"\\\\"),
                '\'' => out.extend_from_slice(b"\\'"),
                '"' => out.extend_from_slice(b"\\\""),
                '<' => out.extend_from_slice(b"\\u003C"),
                '>' => out.extend_from_slice(b"\\u003E"),
                '&' => out.extend_from_slice(b"\\u0026"),
                '=' => out.extend_from_slice(b"\\u003D"),
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes())
                }
                c if c.is_control() => {
                    out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes())
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\uFFFD");
        }
    }
    out
}

/// `url.QueryEscape`.
pub fn query_escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(c),
            b' ' => out.push(b'+'),
            c => out.extend_from_slice(format!("%{c:02X}").as_bytes()),
        }
    }
    out
}

#[derive(PartialEq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
    Invalid,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        Value::Nil => Kind::Invalid,
        _ => Kind::Other,
    }
}

/// Go's `eq` for one pair.
pub fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if ka == Kind::Invalid || kb == Kind::Invalid {
            return Ok(false);
        }
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::Time(x), Value::Time(y)) => x == y,
        _ => {
            return Err(format!("non-comparable type {}", a.type_name()));
        }
    })
}

fn eq(a: &[Value]) -> super::FuncResult {
    if a.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    for other in &a[1..] {
        if equal(&a[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// Go's `lt`: only basic ordered kinds, of the same kind.
pub fn less(a: &Value, b: &Value) -> Result<bool, String> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Bool | Kind::Other | Kind::Invalid)
        || matches!(kb, Kind::Bool | Kind::Other | Kind::Invalid)
    {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => unreachable!("kinds checked above"),
    })
}
