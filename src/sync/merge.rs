//! `dataFrom[].rewrite[].merge`: ESO's `RewriteMerge` (`runtime/esutils/utils.go`), merging the
//! JSON objects held by several keys into one map (`Extract`) or one JSON value (`JSON`).

use std::collections::BTreeMap;

use akvsync_crds::{
    ExternalSecretRewriteMerge, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy,
};
use serde_json::{Map, Value};

use super::go_json::{go_json, go_json_error};

/// Merges the values of `input` as ESO does; the error is ESO's text after
/// `failed rewrite operation[i]: `.
pub fn rewrite_merge(
    merge: &ExternalSecretRewriteMerge,
    input: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (merged, conflicts) = merge_values(merge, &input)?;
    if merge.conflict_policy.unwrap_or_default() != MergeConflictPolicy::Ignore
        && !conflicts.is_empty()
    {
        return Err(format!(
            "merge failed with conflicts: {}",
            conflicts.join(", ")
        ));
    }
    match merge.strategy.unwrap_or_default() {
        MergeStrategy::Extract => Ok(merged
            .into_iter()
            .map(|(key, value)| (key, byte_value(&value)))
            .collect()),
        MergeStrategy::Json => {
            let into = merge.into.as_deref().unwrap_or_default();
            if into.is_empty() {
                return Err("merge failed with missing 'into' field".to_owned());
            }
            let mut output = input;
            let json = go_json(&Value::Object(merged), false);
            output.insert(into.to_owned(), json.into_bytes());
            Ok(output)
        }
    }
}

/// The merged object and the keys that more than one value held. Keys are merged in name
/// order, then the `priority` keys in their order, so a later (or prioritised) key wins.
fn merge_values(
    merge: &ExternalSecretRewriteMerge,
    input: &BTreeMap<String, Vec<u8>>,
) -> Result<(Map<String, Value>, Vec<String>), String> {
    let priority = merge.priority.as_deref().unwrap_or_default();
    let order = input
        .keys()
        .filter(|key| !priority.contains(key))
        .chain(priority.iter());
    let mut merged = Map::new();
    let mut conflicts = Vec::new();
    for key in order {
        let Some(value) = input.get(key) else {
            if merge.priority_policy.unwrap_or_default() == MergePriorityPolicy::IgnoreNotFound {
                continue;
            }
            return Err(format!(
                "merge failed with key {key:?} not found in input map"
            ));
        };
        let object = match serde_json::from_slice::<Value>(value) {
            Ok(Value::Object(object)) => object,
            // Go unmarshals `null` into a nil map.
            Ok(Value::Null) => Map::new(),
            Ok(_) | Err(_) => {
                let error = serde_json::from_slice::<Map<String, Value>>(value)
                    .err()
                    .map(|error| go_json_error(value, &error, "map[string]interface {}"))
                    .unwrap_or_default();
                return Err(format!(
                    "merge failed with failed to unmarshal JSON: {error}"
                ));
            }
        };
        for (name, inner) in object {
            if merged.contains_key(&name) {
                conflicts.push(name.clone());
            }
            merged.insert(name, inner);
        }
    }
    Ok((merged, conflicts))
}

/// ESO's `GetByteValue` for a decoded JSON value: strings as they are, numbers and booleans as
/// text, objects and arrays as Go's `json.Marshal` writes them, `null` as nothing.
fn byte_value(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.clone().into_bytes(),
        Value::Null => Vec::new(),
        Value::Bool(flag) => flag.to_string().into_bytes(),
        Value::Number(number) => number.to_string().into_bytes(),
        Value::Object(_) | Value::Array(_) => go_json(value, true).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn merge(json: Value) -> ExternalSecretRewriteMerge {
        serde_json::from_value(json).unwrap()
    }

    fn strings(map: &BTreeMap<String, Vec<u8>>) -> BTreeMap<&str, &str> {
        map.iter()
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn extract_merges_the_keys_of_every_value() {
        let out = rewrite_merge(
            &merge(serde_json::json!({})),
            input(&[
                ("a", r#"{"user":"u","n":1,"ok":true}"#),
                ("b", r#"{"nested":{"z":"<1>","y":[1,2]},"none":null}"#),
            ]),
        )
        .unwrap();
        assert_eq!(
            strings(&out),
            BTreeMap::from([
                ("n", "1"),
                ("nested", r#"{"y":[1,2],"z":"\u003c1\u003e"}"#),
                ("none", ""),
                ("ok", "true"),
                ("user", "u"),
            ])
        );
    }

    #[test]
    fn conflicts_fail_unless_ignored_and_priority_decides_the_winner() {
        let values = input(&[("a", r#"{"k":"from-a"}"#), ("b", r#"{"k":"from-b"}"#)]);
        let error = rewrite_merge(&merge(serde_json::json!({})), values.clone()).unwrap_err();
        assert_eq!(error, "merge failed with conflicts: k");
        let ignored = merge(serde_json::json!({"conflictPolicy": "Ignore"}));
        assert_eq!(
            strings(&rewrite_merge(&ignored, values.clone()).unwrap())["k"],
            "from-b"
        );
        let prioritised = merge(serde_json::json!({"conflictPolicy": "Ignore", "priority": ["a"]}));
        assert_eq!(
            strings(&rewrite_merge(&prioritised, values).unwrap())["k"],
            "from-a"
        );
    }

    #[test]
    fn missing_priority_keys_fail_unless_ignore_not_found() {
        let values = input(&[("a", r#"{"k":"v"}"#)]);
        let strict = merge(serde_json::json!({"priority": ["gone"]}));
        assert_eq!(
            rewrite_merge(&strict, values.clone()).unwrap_err(),
            r#"merge failed with key "gone" not found in input map"#
        );
        let lenient =
            merge(serde_json::json!({"priority": ["gone"], "priorityPolicy": "IgnoreNotFound"}));
        assert_eq!(strings(&rewrite_merge(&lenient, values).unwrap())["k"], "v");
    }

    #[test]
    fn json_strategy_keeps_the_input_and_adds_into() {
        let values = input(&[("a", r#"{"x":"<&>"}"#), ("b", r#"{"y":2}"#)]);
        let json = merge(serde_json::json!({"strategy": "JSON", "into": "merged"}));
        let out = rewrite_merge(&json, values.clone()).unwrap();
        assert_eq!(strings(&out)["merged"], r#"{"x":"<&>","y":2}"#);
        assert_eq!(strings(&out)["a"], r#"{"x":"<&>"}"#);
        let missing = merge(serde_json::json!({"strategy": "JSON"}));
        assert_eq!(
            rewrite_merge(&missing, values).unwrap_err(),
            "merge failed with missing 'into' field"
        );
    }

    #[test]
    fn values_that_are_not_objects_fail_with_gos_text() {
        let error = rewrite_merge(&merge(serde_json::json!({})), input(&[("a", "plain text")]))
            .unwrap_err();
        assert_eq!(
            error,
            "merge failed with failed to unmarshal JSON: invalid character 'p' looking for beginning of value"
        );
        let error =
            rewrite_merge(&merge(serde_json::json!({})), input(&[("a", "[1]")])).unwrap_err();
        assert_eq!(
            error,
            "merge failed with failed to unmarshal JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }
}
