//! Validation as the apiserver does it: object names, and custom resources against their CRD's
//! structural schema (defaults, pruning of unknown fields, types, enums, required, bounds).

use serde_json::{Map, Value};

use super::errors::FieldCause;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// Checks `metadata.name`: an RFC 1123 label for namespaces, a subdomain for everything else.
pub fn validate_name(name: &str, label_only: bool) -> Option<FieldCause> {
    let value = Value::String(name.into());
    if name.is_empty() {
        return Some(FieldCause::required("metadata.name"));
    }
    if label_only {
        return (!is_label(name))
            .then(|| FieldCause::invalid("metadata.name", &value, LABEL_MESSAGE));
    }
    let valid = name.len() <= 253 && name.split('.').all(is_label);
    (!valid).then(|| FieldCause::invalid("metadata.name", &value, SUBDOMAIN_MESSAGE))
}

/// The outcome of checking a custom resource against its schema.
#[derive(Debug, Default)]
pub struct SchemaReport {
    pub causes: Vec<FieldCause>,
    /// Paths of fields the schema does not declare (pruned; an error under `fieldValidation=Strict`).
    pub unknown_fields: Vec<String>,
}

/// Applies defaults, prunes undeclared fields and validates `object` (a whole custom resource)
/// against `schema` (the version's `openAPIV3Schema`). `metadata`, `apiVersion` and `kind` are
/// left to the generic checks.
pub fn validate_custom_resource(object: &mut Value, schema: &Value) -> SchemaReport {
    let mut report = SchemaReport::default();
    let Value::Object(map) = object else {
        return report;
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(properties) = properties {
        for (name, property) in properties {
            if matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if !map.contains_key(name)
                && let Some(default) = property.get("default")
            {
                map.insert(name.clone(), default.clone());
            }
        }
    }
    let names: Vec<String> = map.keys().cloned().collect();
    for name in names {
        if matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match properties.and_then(|properties| properties.get(&name)) {
            Some(property) => {
                if let Some(value) = map.get_mut(&name) {
                    walk(value, property, &name, &mut report);
                }
            }
            None if !preserve => {
                map.remove(&name);
                report.unknown_fields.push(name);
            }
            None => {}
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                report.causes.push(FieldCause::required(name));
            }
        }
    }
    report
}

fn type_matches(value: &Value, schema: &Value) -> Option<&'static str> {
    if value.is_null()
        && schema
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    {
        return None;
    }
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return (!(value.is_string() || value.is_i64() || value.is_u64()))
            .then_some("integer or string");
    }
    let expected = schema.get("type").and_then(Value::as_str)?;
    let fits = match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value.as_f64().is_some_and(|number| number.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    (!fits).then_some(match expected {
        "object" => "object",
        "array" => "array",
        "string" => "string",
        "integer" => "integer",
        "number" => "number",
        "boolean" => "boolean",
        _ => "unknown",
    })
}

fn walk(value: &mut Value, schema: &Value, path: &str, report: &mut SchemaReport) {
    if let Some(expected) = type_matches(value, schema) {
        report
            .causes
            .push(FieldCause::type_invalid(path, value, expected));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !value.is_null()
        && !allowed.contains(value)
    {
        report
            .causes
            .push(FieldCause::not_supported(path, value, allowed));
    }
    match value {
        Value::Object(map) => walk_object(map, schema, path, report),
        Value::Array(items) => {
            check_bound(
                items.len(),
                schema,
                "minItems",
                "maxItems",
                path,
                value_for(items),
                "items",
                report,
            );
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{index}]"), report);
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count();
            let shown = Value::String(text.clone());
            check_bound(
                length,
                schema,
                "minLength",
                "maxLength",
                path,
                shown.clone(),
                "chars long",
                report,
            );
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                && let Ok(regex) = regex::Regex::new(pattern)
                && !regex.is_match(text)
            {
                report.causes.push(FieldCause::invalid(
                    path,
                    &shown,
                    format!("{path} in body should match '{pattern}'"),
                ));
            }
        }
        Value::Number(number) => {
            let shown = Value::Number(number.clone());
            if let Some(number) = number.as_f64() {
                if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64)
                    && number < minimum
                {
                    report.causes.push(FieldCause::invalid(
                        path,
                        &shown,
                        format!("{path} in body should be greater than or equal to {minimum}"),
                    ));
                }
                if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64)
                    && number > maximum
                {
                    report.causes.push(FieldCause::invalid(
                        path,
                        &shown,
                        format!("{path} in body should be less than or equal to {maximum}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn value_for(items: &[Value]) -> Value {
    Value::Number(items.len().into())
}

#[allow(clippy::too_many_arguments)]
fn check_bound(
    length: usize,
    schema: &Value,
    min_name: &str,
    max_name: &str,
    path: &str,
    shown: Value,
    unit: &str,
    report: &mut SchemaReport,
) {
    if let Some(minimum) = schema.get(min_name).and_then(Value::as_u64)
        && (length as u64) < minimum
    {
        report.causes.push(FieldCause::invalid(
            path,
            &shown,
            format!("{path} in body should be at least {minimum} {unit}"),
        ));
    }
    if let Some(maximum) = schema.get(max_name).and_then(Value::as_u64)
        && (length as u64) > maximum
    {
        report.causes.push(FieldCause::invalid(
            path,
            &shown,
            format!("{path} in body should be at most {maximum} {unit}"),
        ));
    }
}

fn walk_object(
    map: &mut Map<String, Value>,
    schema: &Value,
    path: &str,
    report: &mut SchemaReport,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || schema
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    if let Some(properties) = properties {
        for (name, property) in properties {
            if !map.contains_key(name)
                && let Some(default) = property.get("default")
            {
                map.insert(name.clone(), default.clone());
            }
        }
    }
    let names: Vec<String> = map.keys().cloned().collect();
    for name in names {
        let child_path = format!("{path}.{name}");
        let child_schema = properties
            .and_then(|properties| properties.get(&name))
            .or_else(|| additional.filter(|additional| additional.is_object()));
        match child_schema {
            Some(child_schema) => {
                if let Some(value) = map.get_mut(&name) {
                    walk(value, child_schema, &child_path, report);
                }
            }
            None if preserve || additional.and_then(Value::as_bool) == Some(true) => {}
            None if properties.is_none()
                && additional.is_none()
                && schema.get("type").is_none() => {}
            None => {
                map.remove(&name);
                report.unknown_fields.push(child_path);
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                report
                    .causes
                    .push(FieldCause::required(format!("{path}.{name}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Fast"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }})
    }

    #[test]
    fn defaults_are_applied_and_unknown_fields_pruned() {
        let mut object = json!({"spec": {"size": 2, "extra": true, "labels": {"a": "b"}}, "status": {"anything": 1}});
        let report = validate_custom_resource(&mut object, &schema());
        assert!(report.causes.is_empty(), "{:?}", report.causes);
        assert_eq!(report.unknown_fields, vec!["spec.extra".to_owned()]);
        assert_eq!(
            object,
            json!({"spec": {"size": 2, "mode": "Fast", "labels": {"a": "b"}}, "status": {"anything": 1}})
        );
    }

    #[test]
    fn type_enum_required_and_minimum_violations_name_their_fields() {
        let mut object = json!({"spec": {"mode": "Medium", "labels": {"a": 1}}});
        let report = validate_custom_resource(&mut object, &schema());
        let fields: Vec<&str> = report
            .causes
            .iter()
            .map(|cause| cause.field.as_str())
            .collect();
        assert_eq!(fields, vec!["spec.labels.a", "spec.mode", "spec.size"]);
        let mut small = json!({"spec": {"size": 0}});
        let report = validate_custom_resource(&mut small, &schema());
        assert_eq!(report.causes[0].field, "spec.size");
    }

    #[test]
    fn names_must_be_lowercase_subdomains() {
        assert!(validate_name("my.secret-1", false).is_none());
        assert!(validate_name("My", false).is_some());
        assert!(validate_name("a.b", true).is_some());
    }
}
