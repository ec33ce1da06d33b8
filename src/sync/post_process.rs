//! ESO's post-processing of the key/value map of one `dataFrom` entry: rewrite or convert its
//! keys, validate them, decode the values and apply the null-byte policy.

use std::collections::BTreeMap;

use akvsync_crds::{ExternalSecretRewrite, NullBytePolicy};

use super::build::BuildError;
use super::decode::{convert_key, decode, is_valid_secret_key};
use super::merge::rewrite_merge;
use super::plan::DataFromEntry;

/// A strategy as the user wrote it (`Base64URL`, not the Rust variant name).
pub(super) fn strategy_name(strategy: impl serde::Serialize) -> String {
    serde_json::to_value(strategy)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// ESO's order for one `dataFrom` entry: rewrite (or convert) keys, validate every key, decode
/// every value, then apply the null-byte policy, so the first error is the one ESO reports.
pub(super) fn post_process(
    map: BTreeMap<String, Vec<u8>>,
    entry: &DataFromEntry,
    context: &str,
) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    let mut map = map;
    if entry.rewrite.is_empty() {
        let mut converted = BTreeMap::new();
        for (key, value) in map {
            let new_key = convert_key(&key, entry.conversion);
            if converted.insert(new_key.clone(), value).is_some() {
                return Err(BuildError::KeyCollision {
                    context: context.to_owned(),
                    strategy: strategy_name(entry.conversion),
                    key: new_key,
                });
            }
        }
        map = converted;
    } else {
        for (index, rewrite) in entry.rewrite.iter().enumerate() {
            map = apply_rewrite(map, rewrite, context, index)?;
        }
    }
    // ESO drops empty keys silently.
    map.retain(|key, _| !key.is_empty());
    if let Some(reason) = map.keys().find_map(|key| invalid_key_reason(key)) {
        return Err(BuildError::InvalidKey {
            context: context.to_owned(),
            reason,
        });
    }
    let mut result = BTreeMap::new();
    for (key, value) in map {
        let decoded = decode(&value, entry.decoding).map_err(|message| BuildError::Decode {
            context: context.to_owned(),
            strategy: strategy_name(entry.decoding),
            message: format!("failure decoding key {key}: {message}"),
        })?;
        result.insert(key, decoded);
    }
    for (key, value) in &result {
        check_null_bytes(context, key, value, entry.null_bytes)?;
    }
    Ok(result)
}

/// ESO's `ValidateKeys` message for a key Kubernetes would refuse, if it would.
fn invalid_key_reason(key: &str) -> Option<String> {
    if is_valid_secret_key(key) {
        return None;
    }
    if key.len() > 253 {
        let truncated: String = key.chars().take(253).collect();
        return Some(format!(
            "key has length {} but max is 253: (following is truncated): {truncated}",
            key.len()
        ));
    }
    let bad = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))?;
    Some(format!(
        "key has invalid character {bad}, only alphanumeric, '-', '.' and '_' are allowed: {key}"
    ))
}

/// `nullBytePolicy: Fail` refuses values with a NUL byte (after decoding).
pub(super) fn check_null_bytes(
    context: &str,
    key: &str,
    value: &[u8],
    policy: NullBytePolicy,
) -> Result<(), BuildError> {
    if policy == NullBytePolicy::Fail && value.contains(&0) {
        return Err(BuildError::NullByte {
            context: context.to_owned(),
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// One `rewrite` entry over every key: a regexp, a template transform or a merge.
fn apply_rewrite(
    map: BTreeMap<String, Vec<u8>>,
    rewrite: &ExternalSecretRewrite,
    context: &str,
    index: usize,
) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    match rewrite {
        ExternalSecretRewrite::Regexp(regexp) => {
            let regex =
                regex::Regex::new(&regexp.source).map_err(|error| BuildError::InvalidRewrite {
                    context: context.to_owned(),
                    index,
                    message: error.to_string(),
                })?;
            Ok(map
                .into_iter()
                .map(|(key, value)| {
                    (
                        regex.replace_all(&key, regexp.target.as_str()).into_owned(),
                        value,
                    )
                })
                .collect())
        }
        ExternalSecretRewrite::Transform(transform) => {
            let invalid = |message: String| BuildError::InvalidTransform {
                context: context.to_owned(),
                index,
                message,
            };
            let template = akvsync_template::Engine::global()
                .parse("transform", &transform.template)
                .map_err(|error| invalid(format!("failed to parse template: {error}")))?;
            let mut rewritten = BTreeMap::new();
            for (key, value) in map {
                let dot = akvsync_template::Value::from_json(&serde_json::json!({ "value": key }));
                let bytes = template.execute_value(dot).map_err(|error| {
                    invalid(format!(
                        "failed to execute template for key {key:?}: {error}"
                    ))
                })?;
                let new_key = String::from_utf8(bytes)
                    .map_err(|_| invalid("the rewritten key is not UTF-8".into()))?;
                rewritten.insert(new_key, value);
            }
            Ok(rewritten)
        }
        ExternalSecretRewrite::Merge(merge) => {
            rewrite_merge(merge, map).map_err(|message| BuildError::Rewrite {
                context: context.to_owned(),
                index,
                message,
            })
        }
    }
}
