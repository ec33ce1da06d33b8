//! `meta.k8s.io/v1` Table output for `kubectl get`: printer columns, JSONPath cells, ages.

use serde_json::{Value, json};

use super::resources::{ColumnSource, ResourceType};

/// How much of each object a Table row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Builds a Table of `objects` with the type's printer columns.
pub fn table(
    resource: &ResourceType,
    objects: &[Value],
    metadata: Value,
    include: IncludeObject,
) -> Value {
    let mut definitions = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        "priority": 0,
    })];
    for column in &resource.columns {
        definitions.push(json!({
            "name": column.name,
            "type": if column.column_type == "date" { "string" } else { column.column_type.as_str() },
            "format": column.format,
            "description": column.description,
            "priority": column.priority,
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| row(resource, object, include))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn row(resource: &ResourceType, object: &Value, include: IncludeObject) -> Value {
    let mut cells = vec![
        object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
    ];
    for column in &resource.columns {
        let value = match &column.source {
            ColumnSource::JsonPath(path) => evaluate(object, path),
            ColumnSource::Computed(compute) => compute(object),
        };
        cells.push(cell(&column.column_type, value));
    }
    let mut row = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let mut metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.remove("managedFields");
            }
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata});
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

fn cell(column_type: &str, value: Value) -> Value {
    match (column_type, value) {
        (_, Value::Null) => Value::Null,
        ("date", Value::String(timestamp)) => {
            match chrono::DateTime::parse_from_rfc3339(&timestamp) {
                Ok(time) => Value::String(human_duration(
                    chrono::Utc::now().signed_duration_since(time),
                )),
                Err(_) => Value::String(timestamp),
            }
        }
        (_, Value::String(text)) => Value::String(text),
        ("string" | "date", other) => Value::String(other.to_string()),
        (_, other) => other,
    }
}

/// Ages as kubectl prints them (`apimachinery/pkg/util/duration.HumanDuration`).
pub fn human_duration(duration: chrono::TimeDelta) -> String {
    let seconds = duration.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let rest = hours % 24;
        let days = hours / 24;
        return if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let years = hours / 24 / 365;
    if hours < 24 * 365 * 8 {
        let days = hours / 24 % 365;
        return if days == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{days}d")
        };
    }
    format!("{years}y")
}

#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter { key: Vec<String>, value: Value },
}

fn parse_path(path: &str) -> Vec<Step> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end > 0 {
                steps.push(Step::Field(after[..end].to_owned()));
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let inside = after[..end].trim();
            if inside == "*" {
                steps.push(Step::All);
            } else if let Ok(index) = inside.parse() {
                steps.push(Step::Index(index));
            } else if let Some(filter) = inside
                .strip_prefix("?(")
                .and_then(|filter| filter.strip_suffix(')'))
            {
                if let Some((left, right)) = filter.split_once("==") {
                    let key = left
                        .trim()
                        .trim_start_matches('@')
                        .trim_start_matches('.')
                        .split('.')
                        .map(str::to_owned)
                        .collect();
                    let right = right.trim();
                    let value = if let Some(text) = right
                        .strip_prefix('"')
                        .and_then(|text| text.strip_suffix('"'))
                    {
                        Value::String(text.to_owned())
                    } else if let Some(text) = right
                        .strip_prefix('\'')
                        .and_then(|text| text.strip_suffix('\''))
                    {
                        Value::String(text.to_owned())
                    } else {
                        serde_json::from_str(right).unwrap_or(Value::String(right.to_owned()))
                    };
                    steps.push(Step::Filter { key, value });
                }
            } else if let Some(name) = inside
                .strip_prefix('\'')
                .and_then(|name| name.strip_suffix('\''))
            {
                steps.push(Step::Field(name.to_owned()));
            }
            rest = &after[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    steps
}

/// Evaluates a printer-column JSONPath; missing keys give `null`, several matches the first.
pub fn evaluate(object: &Value, path: &str) -> Value {
    let mut current: Vec<&Value> = vec![object];
    for step in parse_path(path) {
        let mut next = Vec::new();
        for value in current {
            match &step {
                Step::Field(name) => next.extend(value.get(name)),
                Step::Index(index) => next.extend(value.get(*index)),
                Step::All => next.extend(value.as_array().into_iter().flatten()),
                Step::Filter { key, value: wanted } => {
                    next.extend(value.as_array().into_iter().flatten().filter(|item| {
                        key.iter()
                            .try_fold(*item, |current, name| current.get(name))
                            .is_some_and(|found| found == wanted)
                    }))
                }
            }
        }
        current = next;
    }
    current
        .first()
        .map(|value| (*value).clone())
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_jsonpath_picks_the_ready_condition() {
        let object = json!({"status": {"conditions": [{"type": "Other", "reason": "x"}, {"type": "Ready", "reason": "SecretSynced", "status": "True"}]}});
        assert_eq!(
            evaluate(&object, ".status.conditions[?(@.type==\"Ready\")].reason"),
            json!("SecretSynced")
        );
        assert_eq!(
            evaluate(&object, ".status.conditions[0].type"),
            json!("Other")
        );
        assert_eq!(evaluate(&object, ".spec.missing"), Value::Null);
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_duration(chrono::TimeDelta::seconds(5)), "5s");
        assert_eq!(human_duration(chrono::TimeDelta::seconds(185)), "3m5s");
        assert_eq!(human_duration(chrono::TimeDelta::minutes(75)), "75m");
        assert_eq!(human_duration(chrono::TimeDelta::hours(50)), "2d2h");
        assert_eq!(human_duration(chrono::TimeDelta::days(30)), "30d");
    }
}
