//! sprig string functions: `abbrev abbrevboth trunc trim upper lower title untitle substr repeat
//! trimall trimAll trimSuffix trimPrefix nospace initials swapcase snakecase camelcase kebabcase
//! wrap wrapWith contains hasPrefix hasSuffix quote squote cat indent nindent replace plural
//! toString split splitList splitn toStrings join sortAlpha` and the random ones.

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::SliceRandom;

use super::args::{bytes, int, strslice, text, to_bytes, to_string};
use super::{FuncResult, Registry};
use crate::gofmt;
use crate::value::Value;

/// Longest random string the `rand*` functions produce (sprig has no limit; this keeps a typo
/// like `randAlpha 1000000000` from exhausting memory).
const MAX_RANDOM_LENGTH: i64 = 1 << 20;

pub fn register(r: &mut Registry<'_>) {
    r.fixed("hello", 0, |_| Ok(Value::str("Hello!")));
    r.fixed("abbrev", 2, |a| {
        let (w, s) = (int(a, 0)?, text(a, 1)?);
        if w < 4 || s.len() <= w as usize {
            return Ok(Value::str(s));
        }
        Ok(Value::str(format!(
            "{}...",
            byte_prefix(&s, w as usize - 3)
        )))
    });
    r.fixed("abbrevboth", 3, |a| {
        let (left, right, s) = (int(a, 0)?, int(a, 1)?, text(a, 2)?);
        if right < 4 || (left > 0 && right < 7) {
            return Ok(Value::str(s));
        }
        Ok(Value::str(abbreviate_full(
            &s,
            left.max(0) as usize,
            right as usize,
        )))
    });
    r.fixed("trunc", 2, |a| {
        let (c, s) = (int(a, 0)?, bytes(a, 1)?);
        let len = s.len() as i64;
        Ok(Value::str(if c < 0 && len + c > 0 {
            &s[(len + c) as usize..]
        } else if c >= 0 && len > c {
            &s[..c as usize]
        } else {
            s
        }))
    });
    r.fixed("trim", 1, |a| Ok(Value::str(text(a, 0)?.trim())));
    r.fixed("upper", 1, |a| Ok(Value::str(text(a, 0)?.to_uppercase())));
    r.fixed("lower", 1, |a| Ok(Value::str(text(a, 0)?.to_lowercase())));
    r.fixed("title", 1, |a| Ok(Value::str(title(&text(a, 0)?))));
    r.fixed("untitle", 1, |a| Ok(Value::str(untitle(&text(a, 0)?))));
    r.fixed("substr", 3, |a| {
        let (start, end, s) = (int(a, 0)?, int(a, 1)?, bytes(a, 2)?);
        let len = s.len() as i64;
        let (from, to) = if start < 0 {
            (0, end)
        } else if end < 0 || end > len {
            (start, len)
        } else {
            (start, end)
        };
        if from < 0 || to < 0 || from > to || to > len {
            return Err(format!("slice bounds out of range [{from}:{to}]"));
        }
        Ok(Value::str(&s[from as usize..to as usize]))
    });
    r.fixed("repeat", 2, |a| {
        let (n, s) = (int(a, 0)?, bytes(a, 1)?);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        if (n as u128) * (s.len() as u128) > crate::engine::exec::MAX_OUTPUT_BYTES as u128 {
            return Err("strings: Repeat output length overflow".into());
        }
        Ok(Value::from(s.repeat(n as usize)))
    });
    let trim_all: fn(&[Value]) -> FuncResult = |a| {
        let (cut, s) = (text(a, 0)?, text(a, 1)?);
        Ok(Value::str(s.trim_matches(|c| cut.contains(c))))
    };
    r.fixed("trimall", 2, trim_all);
    r.fixed("trimAll", 2, trim_all);
    r.fixed("trimSuffix", 2, |a| {
        let (suf, s) = (bytes(a, 0)?, bytes(a, 1)?);
        Ok(Value::str(s.strip_suffix(suf).unwrap_or(s)))
    });
    r.fixed("trimPrefix", 2, |a| {
        let (pre, s) = (bytes(a, 0)?, bytes(a, 1)?);
        Ok(Value::str(s.strip_prefix(pre).unwrap_or(s)))
    });
    r.fixed("nospace", 1, |a| {
        Ok(Value::str(
            text(a, 0)?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    r.fixed("initials", 1, |a| {
        Ok(Value::str(
            text(a, 0)?
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ))
    });
    r.fixed("randAlphaNum", 1, |a| {
        random_string(
            a,
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        )
    });
    r.fixed("randAlpha", 1, |a| {
        random_string(a, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    });
    r.fixed("randNumeric", 1, |a| random_string(a, b"0123456789"));
    r.fixed("randAscii", 1, |a| {
        let printable: Vec<u8> = (32u8..=126).collect();
        random_string(a, &printable)
    });
    r.fixed("swapcase", 1, |a| {
        Ok(Value::str(
            text(a, 0)?
                .chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect::<String>(),
        ))
    });
    r.fixed("shuffle", 1, |a| {
        let mut chars: Vec<char> = text(a, 0)?.chars().collect();
        chars.shuffle(&mut rand::rng());
        Ok(Value::str(chars.into_iter().collect::<String>()))
    });
    r.fixed("snakecase", 1, |a| {
        Ok(Value::str(split_words(&text(a, 0)?).join("_")))
    });
    r.fixed("kebabcase", 1, |a| {
        Ok(Value::str(split_words(&text(a, 0)?).join("-")))
    });
    r.fixed("camelcase", 1, |a| Ok(Value::str(camelcase(&text(a, 0)?))));
    r.fixed("wrap", 2, |a| {
        Ok(Value::str(wrap(&text(a, 1)?, int(a, 0)?, "\n", false)))
    });
    r.fixed("wrapWith", 3, |a| {
        Ok(Value::str(wrap(
            &text(a, 2)?,
            int(a, 0)?,
            &text(a, 1)?,
            true,
        )))
    });
    r.fixed("contains", 2, |a| {
        let (sub, s) = (bytes(a, 0)?, bytes(a, 1)?);
        Ok(Value::Bool(
            sub.is_empty() || s.windows(sub.len()).any(|w| w == sub),
        ))
    });
    r.fixed("hasPrefix", 2, |a| {
        Ok(Value::Bool(bytes(a, 1)?.starts_with(bytes(a, 0)?)))
    });
    r.fixed("hasSuffix", 2, |a| {
        Ok(Value::Bool(bytes(a, 1)?.ends_with(bytes(a, 0)?)))
    });
    r.range("quote", 0, None, |a| {
        let quoted: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| gofmt::quote(&to_bytes(v)))
            .collect();
        Ok(Value::str(quoted.join(" ")))
    });
    r.range("squote", 0, None, |a| {
        let mut out = Vec::new();
        for (i, v) in a.iter().filter(|v| !matches!(v, Value::Nil)).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'\'');
            out.extend_from_slice(&to_bytes(v));
            out.push(b'\'');
        }
        Ok(Value::from(out))
    });
    r.range("cat", 0, None, |a| {
        let mut out = Vec::new();
        for (i, v) in a.iter().filter(|v| !matches!(v, Value::Nil)).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(&v.to_go_bytes());
        }
        Ok(Value::from(out))
    });
    r.fixed("indent", 2, |a| {
        Ok(Value::str(indent(int(a, 0)?, &text(a, 1)?)))
    });
    r.fixed("nindent", 2, |a| {
        Ok(Value::str(format!(
            "\n{}",
            indent(int(a, 0)?, &text(a, 1)?)
        )))
    });
    r.fixed("replace", 3, |a| {
        let (old, new, s) = (text(a, 0)?, text(a, 1)?, text(a, 2)?);
        Ok(Value::str(go_replace(&s, &old, &new)))
    });
    r.fixed("plural", 3, |a| {
        let (one, many, n) = (text(a, 0)?, text(a, 1)?, int(a, 2)?);
        Ok(Value::str(if n == 1 { one } else { many }))
    });
    r.fixed("toString", 1, |a| Ok(Value::from(to_bytes(&a[0]))));
    r.fixed("split", 2, |a| {
        let (sep, s) = (text(a, 0)?, text(a, 1)?);
        Ok(indexed_map(go_split(&s, &sep, -1)))
    });
    r.fixed("splitList", 2, |a| {
        let (sep, s) = (text(a, 0)?, text(a, 1)?);
        Ok(Value::list(
            go_split(&s, &sep, -1).into_iter().map(Value::str).collect(),
        ))
    });
    r.fixed("splitn", 3, |a| {
        let (sep, n, s) = (text(a, 0)?, int(a, 1)?, text(a, 2)?);
        Ok(indexed_map(go_split(&s, &sep, n)))
    });
    r.fixed("toStrings", 1, |a| {
        Ok(Value::list(
            strslice(&a[0]).into_iter().map(Value::str).collect(),
        ))
    });
    r.fixed("join", 2, |a| {
        let sep = text(a, 0)?;
        Ok(Value::str(strslice(&a[1]).join(&sep)))
    });
    r.fixed("sortAlpha", 1, |a| {
        let mut items = match &a[0] {
            Value::List(_) => strslice(&a[0]),
            other => vec![to_string(other)],
        };
        items.sort();
        Ok(Value::list(items.into_iter().map(Value::str).collect()))
    });
}

fn byte_prefix(s: &str, n: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[..n.min(s.len())]).into_owned()
}

/// goutils `AbbreviateFull`.
fn abbreviate_full(s: &str, offset: usize, max_width: usize) -> String {
    let b = s.as_bytes();
    if s.is_empty() || b.len() <= max_width {
        return s.to_string();
    }
    let mut offset = offset.min(b.len());
    if b.len() - offset < max_width - 3 {
        offset = b.len() - (max_width - 3);
    }
    if offset <= 4 {
        return format!("{}...", byte_prefix(s, max_width - 3));
    }
    let lossy = |x: &[u8]| String::from_utf8_lossy(x).into_owned();
    if offset + max_width - 3 < b.len() {
        let rest = &b[offset..];
        let inner = if rest.len() <= max_width - 3 {
            lossy(rest)
        } else {
            format!("{}...", lossy(&rest[..max_width - 6]))
        };
        return format!("...{inner}");
    }
    format!("...{}", lossy(&b[b.len() - (max_width - 3)..]))
}

/// `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = true;
    for c in s.chars() {
        if prev_space {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_space = c.is_whitespace();
    }
    out
}

fn random_string(a: &[Value], alphabet: &[u8]) -> FuncResult {
    let n = int(a, 0)?;
    if !(0..=MAX_RANDOM_LENGTH).contains(&n) {
        return Err(format!("length must be between 0 and {MAX_RANDOM_LENGTH}"));
    }
    let mut rng = rand::rng();
    Ok(Value::from(
        (0..n)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect::<Vec<u8>>(),
    ))
}

/// Words for snake/kebab case: split at separators, lower→upper and acronym boundaries.
fn split_words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// xstrings `ToCamelCase`: `http_server` → `HttpServer`, leading/trailing `_` kept.
fn camelcase(s: &str) -> String {
    let leading: String = s.chars().take_while(|c| *c == '_').collect();
    let trailing: String = if s.len() > leading.len() {
        s.chars().rev().take_while(|c| *c == '_').collect()
    } else {
        String::new()
    };
    let core = &s[leading.len()..s.len() - trailing.len()];
    let mut out = leading;
    for word in core.split(|c: char| c == '_' || c == '-' || c.is_whitespace()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out.push_str(&trailing);
    out
}

/// goutils `WrapCustom`: breaks at spaces so lines fit `width`; long words are split only
/// when `wrap_long` is set.
fn wrap(s: &str, width: i64, sep: &str, wrap_long: bool) -> String {
    let width = width.max(1) as usize;
    let mut out = String::new();
    for (li, line) in s.split('\n').enumerate() {
        if li > 0 {
            out.push_str(sep);
        }
        let mut cur = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let mut word = word.to_string();
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&cur);
                out.push_str(sep);
                cur.clear();
            }
            while wrap_long && word.chars().count() > width {
                if !cur.is_empty() {
                    out.push_str(&cur);
                    out.push_str(sep);
                    cur.clear();
                }
                let head: String = word.chars().take(width).collect();
                out.push_str(&head);
                out.push_str(sep);
                word = word.chars().skip(width).collect();
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&word);
        }
        out.push_str(&cur);
    }
    out
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(spaces.clamp(0, 10_000) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// `strings.Replace(s, old, new, -1)`, including Go's empty-`old` behaviour.
fn go_replace(s: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return s.replace(old, new);
    }
    let mut out = String::from(new);
    for c in s.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// `strings.Split`/`SplitN` (n < 0: all).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && chars.len() > n as usize {
            let mut head: Vec<String> = chars[..n as usize - 1].to_vec();
            head.push(chars[n as usize - 1..].concat());
            return head;
        }
        return chars;
    }
    if n < 0 {
        s.split(sep).map(String::from).collect()
    } else {
        s.splitn(n as usize, sep).map(String::from).collect()
    }
}

/// sprig's `split` result: `{"_0": ..., "_1": ...}`.
fn indexed_map(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::map(entries)
}
