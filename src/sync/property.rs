//! `remoteRef.property`: gjson paths into JSON values, with ESO's fallbacks and formatting.

/// The value at `property` in `value`, as ESO's `getProperty` returns it: the whole value for an
/// empty property; strings unquoted, objects and arrays as raw JSON, `null` as empty.
pub fn extract(value: &[u8], property: &str) -> Option<Vec<u8>> {
    if property.is_empty() {
        return Some(value.to_vec());
    }
    let json = std::str::from_utf8(value).ok()?;
    if !gjson::valid(json) {
        return None;
    }
    let found = gjson::get(json, property);
    if found.exists() {
        return Some(render(&found).into_bytes());
    }
    if !property.contains('.') {
        return None;
    }
    let escaped = property.replace('.', "\\.");
    let found = gjson::get(json, &escaped);
    found.exists().then(|| render(&found).into_bytes())
}

/// gjson's `String()`: raw JSON for objects and arrays, unquoted strings, Go float formatting.
fn render(value: &gjson::Value) -> String {
    match value.kind() {
        gjson::Kind::Null => String::new(),
        gjson::Kind::String => value.str().to_owned(),
        gjson::Kind::Number => format_number(value.json()),
        gjson::Kind::True => "true".to_owned(),
        gjson::Kind::False => "false".to_owned(),
        gjson::Kind::Object | gjson::Kind::Array => value.json().to_owned(),
    }
}

/// Integers keep their raw text; other numbers print like Go's `FormatFloat(f, 'f', -1, 64)`.
fn format_number(raw: &str) -> String {
    if raw.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return raw.to_owned();
    }
    match raw.parse::<f64>() {
        // Rust's shortest round-trip Display matches Go's 'f' with precision -1.
        Ok(number) => number.to_string(),
        Err(_) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::extract;

    fn get(json: &str, property: &str) -> Option<String> {
        extract(json.as_bytes(), property).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn an_empty_property_returns_the_whole_value() {
        assert_eq!(get("not json", "").as_deref(), Some("not json"));
    }

    #[test]
    fn paths_select_nested_values_with_eso_formatting() {
        let json = r#"{"user":{"name":"ann","age":42,"ratio":1.50,"big":1e3,"ok":true,"none":null},
            "list":["a","b"],"obj":{ "x": 1 }}"#;
        assert_eq!(get(json, "user.name").as_deref(), Some("ann"));
        assert_eq!(get(json, "user.age").as_deref(), Some("42"));
        assert_eq!(get(json, "user.ratio").as_deref(), Some("1.5"));
        assert_eq!(get(json, "user.big").as_deref(), Some("1000"));
        assert_eq!(get(json, "user.ok").as_deref(), Some("true"));
        assert_eq!(get(json, "user.none").as_deref(), Some(""));
        assert_eq!(get(json, "list.1").as_deref(), Some("b"));
        assert_eq!(get(json, "list.#").as_deref(), Some("2"));
        assert_eq!(get(json, "obj").as_deref(), Some(r#"{ "x": 1 }"#));
    }

    #[test]
    fn a_dotted_property_falls_back_to_a_literal_key() {
        assert_eq!(
            get(r#"{"foo.json":"bar"}"#, "foo.json").as_deref(),
            Some("bar")
        );
    }

    #[test]
    fn a_missing_property_or_a_non_json_value_is_none() {
        assert_eq!(get(r#"{"a":1}"#, "b"), None);
        assert_eq!(get("plain text", "a"), None);
    }
}
