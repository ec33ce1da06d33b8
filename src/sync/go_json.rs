//! Go's `encoding/json` as ESO's users see it: how `json.Marshal` escapes, and the messages of
//! `json.Unmarshal` for values that are not the expected shape.

use serde::Serialize;

/// `value` as Go's encoder writes it: `U+2028`/`U+2029` escaped, and with `escape_html`
/// (`json.Marshal`) `<`, `>` and `&` too. Object keys come sorted as Go sorts map keys
/// (serde_json's map and `BTreeMap` are ordered). `value` must have string keys.
pub(crate) fn go_json(value: &impl Serialize, escape_html: bool) -> String {
    let text = serde_json::to_string(value)
        .expect("a JSON value or string-keyed map serializes")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    if escape_html {
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    } else {
        text
    }
}

/// Go's `json.Unmarshal` message for a value that does not decode into `target` (a Go map
/// type), for the cases users meet; other syntax errors keep serde's wording.
pub(crate) fn go_json_error(bytes: &[u8], error: &serde_json::Error, target: &str) -> String {
    let trimmed = bytes.trim_ascii_start();
    let Some(&first) = trimmed.first() else {
        return "unexpected end of JSON input".to_owned();
    };
    if !matches!(
        first,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    ) {
        return format!(
            "invalid character {} looking for beginning of value",
            go_quote_char(first)
        );
    }
    if error.is_eof() {
        return "unexpected end of JSON input".to_owned();
    }
    let kind = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::String(_)) => "string",
        Ok(serde_json::Value::Number(_)) => "number",
        Ok(serde_json::Value::Array(_)) => "array",
        Ok(serde_json::Value::Bool(_)) => "bool",
        _ => return error.to_string(),
    };
    format!("json: cannot unmarshal {kind} into Go value of type {target}")
}

/// Go's `quoteChar` in `encoding/json`.
fn go_quote_char(byte: u8) -> String {
    match byte {
        b'\'' => r"'\''".to_owned(),
        b'"' => r#"'"'"#.to_owned(),
        b'\n' => r"'\n'".to_owned(),
        b'\r' => r"'\r'".to_owned(),
        b'\t' => r"'\t'".to_owned(),
        b'\\' => r"'\\'".to_owned(),
        0x20..=0x7e => format!("'{}'", byte as char),
        _ => format!("'\\x{byte:02x}'"),
    }
}
