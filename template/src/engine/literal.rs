//! Go literals: number syntax and quoted strings.

/// A numeric constant: Go keeps both views; integers print as ints, `1.0` as a float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Parses Go number syntax: decimal, `0x`/`0o`/`0b`/leading-0 octal, `_` separators, floats.
pub fn parse_number(text: &str) -> Option<Number> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.contains("__") || body.starts_with('_') || body.ends_with('_') {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains('.') || h.contains('p') {
            None
        } else {
            Some(i64::from_str_radix(h, 16).ok()?)
        }
    } else if let Some(o) = lower.strip_prefix("0o") {
        Some(i64::from_str_radix(o, 8).ok()?)
    } else if let Some(b) = lower.strip_prefix("0b") {
        Some(i64::from_str_radix(b, 2).ok()?)
    } else if lower.chars().all(|c| c.is_ascii_digit()) {
        if lower.len() > 1 && lower.starts_with('0') {
            Some(i64::from_str_radix(&lower[1..], 8).ok()?)
        } else {
            lower.parse::<i64>().ok()
        }
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Number::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    if !lower
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    Some(Number::Float(if neg { -f } else { f }))
}

/// Go string-literal unescaping (`\n`, `\t`, `\"`, `\\`, `\xNN`, `\uNNNN`, `\UNNNNNNNN`, octal).
pub fn unquote(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err("invalid syntax in quoted string".into());
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(n).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .map_err(|_| "invalid syntax in quoted string".to_string())?;
                let ch = char::from_u32(code).ok_or("invalid syntax in quoted string")?;
                out.push(ch);
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let code = u32::from_str_radix(&format!("{e}{rest}"), 8)
                    .map_err(|_| "invalid syntax in quoted string".to_string())?;
                out.push(char::from_u32(code).ok_or("invalid syntax in quoted string")?);
            }
            _ => return Err("invalid syntax in quoted string".into()),
        }
    }
    Ok(out)
}
