//! Go `encoding/json` marshalling of template values: sorted keys, Go float formatting, HTML
//! escaping of `<`, `>`, `&` (unless raw), `MarshalIndent` layout.

use crate::gofmt;
use crate::value::Value;

/// Marshals like `json.Marshal` (`html_escape`) or sprig's `toRawJson` (no HTML escaping);
/// `indent` gives `json.MarshalIndent(v, "", indent)`.
pub fn marshal(v: &Value, html_escape: bool, indent: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    write(&mut out, v, html_escape, indent, 0)?;
    Ok(out)
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write(
    out: &mut String,
    v: &Value,
    html: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float(*f)?),
        Value::Str(s) => string(out, s, html),
        Value::Time(t) => string(
            out,
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .as_bytes(),
            html,
        ),
        Value::List(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, item, html, indent, depth + 1)?;
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.borrow();
            if m.entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                string(out, k.as_bytes(), html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, item, html, indent, depth + 1)?;
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
    Ok(())
}

/// Go's JSON float: `'f'` shortest, or `'e'` outside [1e-6, 1e21), with `e-07` → `e-7`.
pub fn float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            gofmt::format_float_g(f, None, false)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return Ok(format!("{m}e{sign}{:02}", e.abs()).replace("e-0", "e-"));
    }
    Ok(gofmt::format_float_f_shortest(f))
}

fn string(out: &mut String, s: &[u8], html: bool) {
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", c as u32)),
                '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        if !chunk.invalid().is_empty() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}
