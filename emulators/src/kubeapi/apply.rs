//! Server-side apply and `metadata.managedFields`: field sets per manager, conflicts, force,
//! removal of fields a manager stops applying, and `Update` ownership for every other write.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::errors::ApiError;

/// One step of a field path, as `fieldsV1` encodes it (`f:`, `k:`, `v:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PathElement {
    Field(String),
    /// An element of an associative list, named by its key fields (canonical JSON object).
    Key(String),
    /// An element of a set list, named by its value (JSON).
    Value(String),
}

type FieldPath = Vec<PathElement>;
type FieldSet = BTreeSet<FieldPath>;

#[derive(Debug, Clone, PartialEq)]
enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// How lists in an object are merged and owned: from a CRD schema, or the built-in conventions.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    pub root: Option<&'a Value>,
}

impl Schema<'_> {
    fn list_type(&self, path: &[PathElement]) -> ListType {
        let fields: Vec<&str> = path
            .iter()
            .filter_map(|element| match element {
                PathElement::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        match fields.as_slice() {
            ["metadata", "finalizers"] => return ListType::Set,
            ["metadata", "ownerReferences"] => return ListType::Map(vec!["uid".into()]),
            _ => {}
        }
        if let Some(root) = self.root {
            let mut current = Some(root);
            for element in path {
                current = current.and_then(|schema| match element {
                    PathElement::Field(name) => schema
                        .pointer(&format!(
                            "/properties/{}",
                            name.replace('~', "~0").replace('/', "~1")
                        ))
                        .or_else(|| {
                            schema
                                .get("additionalProperties")
                                .filter(|value| value.is_object())
                        }),
                    PathElement::Key(_) | PathElement::Value(_) => schema.get("items"),
                });
            }
            return match current
                .and_then(|schema| schema.get("x-kubernetes-list-type"))
                .and_then(Value::as_str)
            {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(
                    current
                        .and_then(|schema| schema.get("x-kubernetes-list-map-keys"))
                        .and_then(Value::as_array)
                        .map(|keys| {
                            keys.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => ListType::Atomic,
            };
        }
        match fields.last().copied() {
            Some("containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets") => {
                ListType::Map(vec!["name".into()])
            }
            Some("volumeMounts") => ListType::Map(vec!["mountPath".into()]),
            _ => ListType::Atomic,
        }
    }
}

/// Fields nobody owns: identity and server-maintained metadata.
fn ignored(path: &[PathElement]) -> bool {
    match path {
        [PathElement::Field(first)] => matches!(first.as_str(), "apiVersion" | "kind"),
        [PathElement::Field(first), PathElement::Field(second), ..] if first == "metadata" => {
            matches!(
                second.as_str(),
                "name"
                    | "namespace"
                    | "uid"
                    | "resourceVersion"
                    | "generation"
                    | "creationTimestamp"
                    | "deletionTimestamp"
                    | "deletionGracePeriodSeconds"
                    | "managedFields"
                    | "selfLink"
                    | "generateName"
            )
        }
        _ => false,
    }
}

fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let mut key = Map::new();
    for name in keys {
        key.insert(name.clone(), item.get(name)?.clone());
    }
    Some(Value::Object(key).to_string())
}

fn collect_leaves(value: &Value, path: &mut FieldPath, schema: Schema<'_>, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(PathElement::Field(key.clone()));
                if !ignored(path) {
                    collect_leaves(child, path, schema, out);
                }
                path.pop();
            }
        }
        Value::Array(items) if !path.is_empty() => match schema.list_type(path) {
            ListType::Atomic => {
                out.insert(path.clone());
            }
            ListType::Set => {
                for item in items {
                    path.push(PathElement::Value(item.to_string()));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    let Some(key) = item_key(item, &keys) else {
                        continue;
                    };
                    path.push(PathElement::Key(key));
                    out.insert(path.clone());
                    collect_leaves(item, path, schema, out);
                    path.pop();
                }
            }
        },
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

fn leaves(object: &Value, schema: Schema<'_>) -> FieldSet {
    let mut out = FieldSet::new();
    collect_leaves(object, &mut Vec::new(), schema, &mut out);
    out
}

fn find_item<'a>(items: &'a [Value], element: &PathElement) -> Option<(usize, &'a Value)> {
    items.iter().enumerate().find(|(_, item)| match element {
        PathElement::Key(key) => {
            let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(key) else {
                return false;
            };
            wanted
                .iter()
                .all(|(name, value)| item.get(name) == Some(value))
        }
        PathElement::Value(value) => {
            serde_json::from_str::<Value>(value).is_ok_and(|value| **item == value)
        }
        PathElement::Field(_) => false,
    })
}

fn value_at<'a>(object: &'a Value, path: &[PathElement]) -> Option<&'a Value> {
    path.iter()
        .try_fold(object, |current, element| match element {
            PathElement::Field(name) => current.get(name),
            other => current
                .as_array()
                .and_then(|items| find_item(items, other))
                .map(|(_, item)| item),
        })
}

fn remove_at(object: &mut Value, path: &[PathElement]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for element in parents {
        let next = match element {
            PathElement::Field(name) => current.get_mut(name),
            other => {
                let index = current
                    .as_array()
                    .and_then(|items| find_item(items, other))
                    .map(|(index, _)| index);
                match index {
                    Some(index) => current.get_mut(index),
                    None => None,
                }
            }
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match last {
        PathElement::Field(name) => {
            if let Value::Object(map) = current {
                map.remove(name);
            }
        }
        other => {
            if let Some(index) = current
                .as_array()
                .and_then(|items| find_item(items, other))
                .map(|(index, _)| index)
                && let Value::Array(items) = current
            {
                items.remove(index);
            }
        }
    }
}

/// Merges an applied configuration into the live object: maps deeply, lists by their list type.
fn merge_applied(target: &mut Value, applied: &Value, path: &mut FieldPath, schema: Schema<'_>) {
    match (target, applied) {
        (Value::Object(target_map), Value::Object(applied_map)) => {
            for (key, value) in applied_map {
                path.push(PathElement::Field(key.clone()));
                if !ignored(path) || key == "name" || key == "namespace" {
                    match target_map.get_mut(key) {
                        Some(existing) => merge_applied(existing, value, path, schema),
                        None => {
                            target_map.insert(key.clone(), value.clone());
                        }
                    }
                }
                path.pop();
            }
        }
        (Value::Array(target_items), Value::Array(applied_items)) => match schema.list_type(path) {
            ListType::Atomic => *target_items = applied_items.clone(),
            ListType::Set => {
                for item in applied_items {
                    if !target_items.contains(item) {
                        target_items.push(item.clone());
                    }
                }
            }
            ListType::Map(keys) => {
                for item in applied_items {
                    let Some(key) = item_key(item, &keys) else {
                        target_items.push(item.clone());
                        continue;
                    };
                    let element = PathElement::Key(key);
                    match find_item(target_items, &element).map(|(index, _)| index) {
                        Some(index) => {
                            path.push(element);
                            merge_applied(&mut target_items[index], item, path, schema);
                            path.pop();
                        }
                        None => target_items.push(item.clone()),
                    }
                }
            }
        },
        (target, applied) => *target = applied.clone(),
    }
}

fn encode(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for (index, element) in path.iter().enumerate() {
            let name = match element {
                PathElement::Field(name) => format!("f:{name}"),
                PathElement::Key(key) => format!("k:{key}"),
                PathElement::Value(value) => format!("v:{value}"),
            };
            let child = node
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(child) = child else { break };
            node = child;
            if index + 1 == path.len()
                && set
                    .iter()
                    .any(|other| other.len() > path.len() && other.starts_with(path))
            {
                node.insert(".".into(), Value::Object(Map::new()));
            }
        }
    }
    Value::Object(root)
}

fn decode(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    let Value::Object(map) = value else { return };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (name, child) in map {
        if name == "." {
            out.insert(path.clone());
            continue;
        }
        let element = if let Some(field) = name.strip_prefix("f:") {
            PathElement::Field(field.into())
        } else if let Some(key) = name.strip_prefix("k:") {
            PathElement::Key(
                serde_json::from_str::<Value>(key)
                    .map(|key| key.to_string())
                    .unwrap_or_else(|_| key.into()),
            )
        } else if let Some(value) = name.strip_prefix("v:") {
            PathElement::Value(
                serde_json::from_str::<Value>(value)
                    .map(|value| value.to_string())
                    .unwrap_or_else(|_| value.into()),
            )
        } else {
            continue;
        };
        path.push(element);
        decode(child, path, out);
        path.pop();
    }
}

#[derive(Debug, Clone)]
struct ManagerEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl ManagerEntry {
    /// The manager as structured-merge-diff's `printManager` names it in conflicts: quoted,
    /// `with subresource "…"` when it wrote one, and `using <apiVersion> at <time>` for Update
    /// managers only.
    fn printed(&self) -> String {
        let mut printed = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            printed.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            printed.push_str(&format!(" using {}", self.api_version));
            if !self.time.is_empty() {
                printed.push_str(&format!(" at {}", self.time));
            }
        }
        printed
    }

    fn same_owner(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// The 409 of an apply that conflicts, worded as the apiserver words it: one conflict on one
/// line; several grouped by manager (sorted), one `- <path>` line each.
fn conflict_error(conflicts: &[(String, String)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, field)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": field}))
        .collect();
    let message = if let [(manager, field)] = conflicts {
        format!("Apply failed with 1 conflict: conflict with {manager}: {field}")
    } else {
        let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (manager, field) in conflicts {
            by_manager.entry(manager).or_default().push(field);
        }
        let lines: Vec<String> = by_manager
            .iter()
            .flat_map(|(manager, fields)| {
                std::iter::once(format!("conflicts with {manager}:"))
                    .chain(fields.iter().map(|field| format!("- {field}")))
            })
            .collect();
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}

fn read_entries(object: Option<&Value>) -> Vec<ManagerEntry> {
    let Some(entries) = object
        .and_then(|object| object.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|entry| {
            let text = |name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut fields = FieldSet::new();
            if let Some(fields_v1) = entry.get("fieldsV1") {
                decode(fields_v1, &mut Vec::new(), &mut fields);
            }
            ManagerEntry {
                manager: text("manager"),
                operation: text("operation"),
                api_version: text("apiVersion"),
                time: text("time"),
                subresource: text("subresource"),
                fields,
            }
        })
        .collect()
}

fn write_entries(object: &mut Value, entries: Vec<ManagerEntry>) {
    let entries: Vec<Value> = entries
        .into_iter()
        .filter(|entry| !entry.fields.is_empty())
        .map(|entry| {
            let mut value = json!({
                "manager": entry.manager,
                "operation": entry.operation,
                "apiVersion": entry.api_version,
                "time": entry.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&entry.fields),
            });
            if !entry.subresource.is_empty() {
                value["subresource"] = Value::String(entry.subresource);
            }
            value
        })
        .collect();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn render_path(path: &[PathElement]) -> String {
    path.iter()
        .map(|element| match element {
            PathElement::Field(name) => format!(".{name}"),
            PathElement::Key(key) => format!(
                "[{}]",
                key.trim_start_matches('{')
                    .trim_end_matches('}')
                    .replace(':', "=")
            ),
            PathElement::Value(value) => format!("[={value}]"),
        })
        .collect()
}

/// What a server-side apply request asks for.
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub schema: Schema<'a>,
}

/// Applies `config` over `live` (absent for a create), returning the merged object with updated
/// managedFields, or a 409 Conflict naming each field another manager owns with a different value.
pub fn server_side_apply(
    live: Option<&Value>,
    config: &Value,
    request: &ApplyRequest<'_>,
) -> Result<Value, ApiError> {
    let applied = leaves(config, request.schema);
    let mut entries = read_entries(live);
    // (the manager as printed, the field path)
    let mut conflicts: Vec<(String, String)> = Vec::new();
    let mut forced: Vec<(usize, FieldPath)> = Vec::new();
    if let Some(live) = live {
        for (index, entry) in entries.iter().enumerate() {
            if entry.same_owner(request.manager, "Apply", request.subresource) {
                continue;
            }
            for path in entry.fields.intersection(&applied) {
                let live_value = value_at(live, path);
                let applied_value = value_at(config, path);
                // A list element (by key or value) is the same element when present on both
                // sides; its fields are compared as their own paths.
                let element = path
                    .last()
                    .is_some_and(|last| !matches!(last, PathElement::Field(_)));
                let differs = if element {
                    live_value.is_some() != applied_value.is_some()
                } else {
                    live_value != applied_value
                };
                if differs {
                    conflicts.push((entry.printed(), render_path(path)));
                    forced.push((index, path.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !request.force {
        return Err(conflict_error(&conflicts));
    }
    for (index, path) in forced {
        entries[index].fields.remove(&path);
    }
    let mut merged = live.cloned().unwrap_or_else(|| json!({}));
    merge_applied(&mut merged, config, &mut Vec::new(), request.schema);
    let previously: FieldSet = entries
        .iter()
        .find(|entry| entry.same_owner(request.manager, "Apply", request.subresource))
        .map(|entry| entry.fields.clone())
        .unwrap_or_default();
    for path in previously.difference(&applied) {
        let owned_elsewhere = entries.iter().any(|entry| {
            !entry.same_owner(request.manager, "Apply", request.subresource)
                && entry.fields.contains(path)
        });
        if !owned_elsewhere {
            remove_at(&mut merged, path);
        }
    }
    entries.retain(|entry| !entry.same_owner(request.manager, "Apply", request.subresource));
    entries.push(ManagerEntry {
        manager: request.manager.into(),
        operation: "Apply".into(),
        api_version: request.api_version.into(),
        time: now(),
        subresource: request.subresource.into(),
        fields: applied,
    });
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// Records a non-apply write (`operation: Update`): `manager` takes every field the write set or
/// changed, other managers lose them, and fields the write removed are owned by nobody.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: &str,
    schema: Schema<'_>,
) {
    let old_leaves = old.map(|old| leaves(old, schema)).unwrap_or_default();
    let new_leaves = leaves(new, schema);
    let changed: FieldSet = new_leaves
        .iter()
        .filter(|path| old.is_none_or(|old| value_at(old, path) != value_at(new, path)))
        .cloned()
        .collect();
    let removed: FieldSet = old_leaves.difference(&new_leaves).cloned().collect();
    // A write that carries its own managedFields resets them (kubectl's client-side to
    // server-side apply migration does this); otherwise the stored ones stay the base.
    let requested = read_entries(Some(new));
    let mut entries = if requested.is_empty() {
        read_entries(old)
    } else {
        requested
    };
    for entry in &mut entries {
        entry
            .fields
            .retain(|path| !changed.contains(path) && !removed.contains(path));
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|entry| entry.same_owner(manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = now();
                entry.api_version = api_version.into();
            }
            None => entries.push(ManagerEntry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now(),
                subresource: subresource.into(),
                fields: changed,
            }),
        }
    }
    write_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SCHEMA: Schema<'static> = Schema { root: None };

    fn request(manager: &str, force: bool) -> ApplyRequest<'_> {
        ApplyRequest {
            manager,
            force,
            api_version: "v1",
            subresource: "",
            schema: NO_SCHEMA,
        }
    }

    #[test]
    fn fields_v1_round_trips_through_encode_and_decode() {
        let object =
            json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]}, "data": {"k": "dg=="}});
        let set = leaves(&object, NO_SCHEMA);
        let encoded = encode(&set);
        assert_eq!(
            encoded,
            json!({"f:data": {"f:k": {}}, "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:a": {}}}})
        );
        let mut decoded = FieldSet::new();
        decode(&encoded, &mut Vec::new(), &mut decoded);
        assert_eq!(decoded, set);
    }

    #[test]
    fn a_second_manager_changing_an_owned_field_conflicts_unless_forced() {
        let first = server_side_apply(None, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}), &request("one", false))
            .expect("first apply");
        let change = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
        let error =
            server_side_apply(Some(&first), &change, &request("two", false)).expect_err("conflict");
        assert_eq!(error.code, 409);
        assert!(
            error.message == "Apply failed with 1 conflict: conflict with \"one\": .data.a",
            "{}",
            error.message
        );
        let forced =
            server_side_apply(Some(&first), &change, &request("two", true)).expect("forced apply");
        assert_eq!(forced["data"]["a"], "2");
        let managers: Vec<&str> = forced["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, vec!["two"]);
    }

    #[test]
    fn fields_a_manager_stops_applying_are_removed_unless_shared() {
        let first = server_side_apply(
            None,
            &json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}),
            &request("one", false),
        )
        .unwrap();
        let shared = server_side_apply(
            Some(&first),
            &json!({"metadata": {"name": "c"}, "data": {"b": "2"}}),
            &request("two", false),
        )
        .unwrap();
        let after = server_side_apply(
            Some(&shared),
            &json!({"metadata": {"name": "c"}, "data": {}}),
            &request("one", false),
        )
        .unwrap();
        assert_eq!(after["data"], json!({"b": "2"}));
    }
}
