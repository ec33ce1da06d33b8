//! JSON Patch (RFC 6902, with the apiserver's `test`-against-absent-is-null rule), JSON merge patch
//! (RFC 7386) and strategic merge patch for the built-in kinds.

use serde_json::{Map, Value};

/// Why a JSON patch could not be applied; the handlers answer 422 (as the apiserver does).
#[derive(Debug)]
pub struct PatchError(pub String);

fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError(format!("invalid JSON pointer {pointer:?}")));
    };
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn lookup<'a>(document: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens
        .iter()
        .try_fold(document, |current, token| match current {
            Value::Object(map) => map.get(token),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        })
}

fn lookup_mut<'a>(document: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens
        .iter()
        .try_fold(document, |current, token| match current {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(move |index| items.get_mut(index)),
            _ => None,
        })
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let tokens = parse_pointer(path)?;
    let Some((last, parent_tokens)) = tokens.split_last() else {
        *document = value;
        return Ok(());
    };
    let parent = lookup_mut(document, parent_tokens).ok_or_else(|| {
        PatchError(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        ))
    })?;
    match parent {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| PatchError(format!("invalid array index {last:?} in {path:?}")))?
            };
            if index > items.len() {
                return Err(PatchError(format!(
                    "add operation does not apply: index out of range: {path:?}"
                )));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(PatchError(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        ))),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<Value, PatchError> {
    let tokens = parse_pointer(path)?;
    let missing = || {
        PatchError(format!(
            "remove operation does not apply: doc is missing path: {path:?}"
        ))
    };
    let (last, parent_tokens) = tokens.split_last().ok_or_else(missing)?;
    match lookup_mut(document, parent_tokens).ok_or_else(missing)? {
        Value::Object(map) => map.remove(last).ok_or_else(missing),
        Value::Array(items) => {
            let index = last.parse::<usize>().map_err(|_| missing())?;
            if index >= items.len() {
                return Err(missing());
            }
            Ok(items.remove(index))
        }
        _ => Err(missing()),
    }
}

/// Applies an RFC 6902 patch document.
pub fn json_patch(document: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = patch
        .as_array()
        .ok_or_else(|| PatchError("json patch must be an array of operations".into()))?;
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError("operation has no \"op\"".into()))?;
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError(format!("{op} operation has no \"path\"")))?;
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| PatchError(format!("{op} operation has no \"value\"")))
        };
        let from = || {
            operation
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError(format!("{op} operation has no \"from\"")))
        };
        match op {
            "add" => add(document, path, value()?)?,
            "remove" => {
                remove(document, path)?;
            }
            "replace" => {
                let tokens = parse_pointer(path)?;
                let target = lookup_mut(document, &tokens).ok_or_else(|| {
                    PatchError(format!(
                        "replace operation does not apply: doc is missing key: {path}"
                    ))
                })?;
                *target = value()?;
            }
            "move" => {
                let moved = remove(document, from()?)?;
                add(document, path, moved)?;
            }
            "copy" => {
                let source = lookup(document, &parse_pointer(from()?)?)
                    .cloned()
                    .ok_or_else(|| {
                        PatchError(format!(
                            "copy operation does not apply: doc is missing from path: {}",
                            from().unwrap_or_default()
                        ))
                    })?;
                add(document, path, source)?;
            }
            "test" => {
                let expected = operation.get("value").cloned().unwrap_or(Value::Null);
                let actual = lookup(document, &parse_pointer(path)?)
                    .cloned()
                    .unwrap_or(Value::Null);
                if actual != expected {
                    return Err(PatchError(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => {
                return Err(PatchError(format!(
                    "unexpected kind of operation {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// How a list field is merged by strategic merge patch.
enum ListStrategy {
    Replace,
    /// Merge elements by this key.
    MergeKey(&'static str),
    /// Union of primitive values.
    MergePrimitives,
}

fn list_strategy(field: &str, items: &[Value]) -> ListStrategy {
    match field {
        "finalizers" => ListStrategy::MergePrimitives,
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "hostAliases" => ListStrategy::MergeKey("name"),
        "volumeMounts" => ListStrategy::MergeKey("mountPath"),
        "ownerReferences" => ListStrategy::MergeKey("uid"),
        "conditions" => ListStrategy::MergeKey("type"),
        "ports" if items.iter().any(|item| item.get("containerPort").is_some()) => {
            ListStrategy::MergeKey("containerPort")
        }
        "ports" => ListStrategy::MergeKey("port"),
        _ => ListStrategy::Replace,
    }
}

/// Strategic merge patch as the apiserver applies it to built-in kinds, for the list fields those
/// kinds declare merge keys for (containers, env, volumes, ports, ownerReferences, finalizers, …).
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch_map.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some(other) if other != "merge" => {
            return Err(PatchError(format!("unknown patch type {other:?}")));
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return Ok(());
    };
    for (key, value) in patch_map {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(doomed)) =
                (target_map.get_mut(field), value.as_array())
            {
                items.retain(|item| !doomed.contains(item));
            }
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Object(_) => {
                strategic_merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value)?;
            }
            Value::Array(patch_items) => {
                let existing = target_map
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let merged = match list_strategy(key, patch_items) {
                    ListStrategy::Replace => patch_items.clone(),
                    ListStrategy::MergePrimitives => {
                        let mut merged = existing;
                        for item in patch_items {
                            if !merged.contains(item) {
                                merged.push(item.clone());
                            }
                        }
                        merged
                    }
                    ListStrategy::MergeKey(merge_key) => {
                        merge_keyed_list(existing, patch_items, merge_key)?
                    }
                };
                target_map.insert(key.clone(), Value::Array(merged));
            }
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
    }
    Ok(())
}

fn merge_keyed_list(
    mut existing: Vec<Value>,
    patch_items: &[Value],
    merge_key: &str,
) -> Result<Vec<Value>, PatchError> {
    if patch_items
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch_items
            .iter()
            .filter(|item| item.get("$patch").is_none())
            .cloned()
            .collect());
    }
    for item in patch_items {
        let key_value = item.get(merge_key).cloned();
        let position = key_value.as_ref().and_then(|key_value| {
            existing
                .iter()
                .position(|candidate| candidate.get(merge_key) == Some(key_value))
        });
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(index), true) => {
                existing.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => strategic_merge_patch(&mut existing[index], item)?,
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge_patch(&mut fresh, item)?;
                existing.push(fresh);
            }
        }
    }
    Ok(existing)
}
