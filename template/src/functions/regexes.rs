//! sprig regular expressions (Go RE2 syntax, which Rust's `regex` shares): `regexMatch
//! regexFindAll regexFind regexReplaceAll regexReplaceAllLiteral regexSplit regexQuoteMeta` and
//! their `must*` variants. Both variants fail on an invalid pattern (sprig panics, which the
//! template engine reports as an error).

use regex::bytes::Regex;

use super::args::{bytes, int, text};
use super::{FuncResult, Registry};
use crate::value::Value;

/// Largest compiled pattern accepted; patterns come from templates, not secrets, but a bound
/// keeps a pathological one from using unbounded memory.
const MAX_REGEX_SIZE: usize = 1 << 20;

fn compile(a: &[Value]) -> Result<Regex, String> {
    let pattern = text(a, 0)?;
    regex::bytes::RegexBuilder::new(&pattern)
        .size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| format!("error parsing regexp: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("invalid pattern")
        .to_string()
}

pub fn register(r: &mut Registry<'_>) {
    let matches: fn(&[Value]) -> FuncResult =
        |a| Ok(Value::Bool(compile(a)?.is_match(bytes(a, 1)?)));
    r.fixed("regexMatch", 2, matches);
    r.fixed("mustRegexMatch", 2, matches);
    let find_all: fn(&[Value]) -> FuncResult = |a| {
        let re = compile(a)?;
        let n = int(a, 2)?;
        let limit = if n < 0 { usize::MAX } else { n as usize };
        Ok(Value::list(
            re.find_iter(bytes(a, 1)?)
                .take(limit)
                .map(|m| Value::str(m.as_bytes()))
                .collect(),
        ))
    };
    r.fixed("regexFindAll", 3, find_all);
    r.fixed("mustRegexFindAll", 3, find_all);
    let find: fn(&[Value]) -> FuncResult = |a| {
        let re = compile(a)?;
        Ok(Value::str(
            re.find(bytes(a, 1)?)
                .map(|m| m.as_bytes())
                .unwrap_or_default(),
        ))
    };
    r.fixed("regexFind", 2, find);
    r.fixed("mustRegexFind", 2, find);
    let replace: fn(&[Value]) -> FuncResult = |a| {
        let re = compile(a)?;
        Ok(Value::str(re.replace_all(bytes(a, 1)?, bytes(a, 2)?)))
    };
    r.fixed("regexReplaceAll", 3, replace);
    r.fixed("mustRegexReplaceAll", 3, replace);
    let replace_literal: fn(&[Value]) -> FuncResult = |a| {
        let re = compile(a)?;
        Ok(Value::str(re.replace_all(
            bytes(a, 1)?,
            regex::bytes::NoExpand(bytes(a, 2)?),
        )))
    };
    r.fixed("regexReplaceAllLiteral", 3, replace_literal);
    r.fixed("mustRegexReplaceAllLiteral", 3, replace_literal);
    let split: fn(&[Value]) -> FuncResult = |a| {
        let re = compile(a)?;
        let (s, n) = (bytes(a, 1)?, int(a, 2)?);
        if n == 0 {
            return Ok(Value::list(Vec::new()));
        }
        let parts: Vec<Value> = if n < 0 {
            re.split(s).map(Value::str).collect()
        } else {
            re.splitn(s, n as usize).map(Value::str).collect()
        };
        Ok(Value::list(parts))
    };
    r.fixed("regexSplit", 3, split);
    r.fixed("mustRegexSplit", 3, split);
    r.fixed("regexQuoteMeta", 1, |a| {
        Ok(Value::str(regex::escape(&text(a, 0)?)))
    });
}
