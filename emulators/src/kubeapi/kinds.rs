//! Kind-specific admission: the rules the real apiserver's strategies apply to Secrets,
//! ConfigMaps, Namespaces and CustomResourceDefinitions.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::errors::{ApiError, FieldCause};
use super::resources::{Behavior, ResourceType, types_from_crd};

/// Largest total size of a Secret's or ConfigMap's data, as the apiserver enforces it.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

const CONFIG_KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn valid_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._".contains(&byte))
        && key != "."
        && key != ".."
}

/// Runs the kind's rules on `new` (the object about to be stored; `old` is the stored one).
pub fn admit(
    resource: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
) -> Result<(), ApiError> {
    match resource.behavior {
        Behavior::Secret => admit_secret(resource, old, new),
        Behavior::ConfigMap => admit_config_map(resource, new),
        Behavior::Namespace => {
            admit_namespace(old, new);
            Ok(())
        }
        Behavior::CustomResourceDefinition => admit_crd(resource, new),
        _ => Ok(()),
    }
}

fn name_of(object: &Value) -> String {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn admit_secret(
    resource: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
) -> Result<(), ApiError> {
    let name = name_of(new);
    let invalid =
        |causes: Vec<FieldCause>| ApiError::invalid(&resource.kind, &resource.group, &name, causes);
    let engine = base64::engine::general_purpose::STANDARD;
    let mut total = 0usize;
    let mut causes = Vec::new();
    if let Some(data) = new.get("data").and_then(Value::as_object) {
        for (key, value) in data {
            let Some(text) = value.as_str() else {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: data[{key}] must be a base64 string"
                )));
            };
            match engine.decode(text) {
                Ok(bytes) => total += bytes.len(),
                Err(error) => {
                    return Err(ApiError::bad_request(format!(
                        "Secret in version \"v1\" cannot be handled as a Secret: {}",
                        go_base64_error(&error)
                    )));
                }
            }
            if !valid_config_key(key) {
                causes.push(FieldCause::invalid(
                    format!("data[{key}]"),
                    &json!(key),
                    CONFIG_KEY_MESSAGE,
                ));
            }
        }
    }
    if let Some(string_data) = new
        .as_object_mut()
        .and_then(|object| object.remove("stringData"))
    {
        let Value::Object(string_data) = string_data else {
            return Err(ApiError::bad_request(
                "Secret in version \"v1\" cannot be handled as a Secret: stringData must be an object",
            ));
        };
        let data = new
            .as_object_mut()
            .map(|object| object.entry("data").or_insert_with(|| json!({})));
        if let Some(Value::Object(data)) = data {
            for (key, value) in string_data {
                let Some(text) = value.as_str() else { continue };
                if !valid_config_key(&key) {
                    causes.push(FieldCause::invalid(
                        format!("stringData[{key}]"),
                        &json!(key),
                        CONFIG_KEY_MESSAGE,
                    ));
                }
                if let Some(previous) = data
                    .get(&key)
                    .and_then(Value::as_str)
                    .and_then(|previous| engine.decode(previous).ok())
                {
                    total -= previous.len().min(total);
                }
                total += text.len();
                data.insert(key, Value::String(engine.encode(text)));
            }
        }
    }
    if new
        .get("data")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        new.as_object_mut().map(|object| object.remove("data"));
    }
    if new.get("type").is_none_or(Value::is_null) {
        new["type"] = json!("Opaque");
    }
    if total > MAX_DATA_BYTES {
        causes.push(FieldCause::too_long("data", MAX_DATA_BYTES));
    }
    let secret_type = new
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Opaque")
        .to_owned();
    let has_key = |key: &str| {
        new.pointer("/data")
            .and_then(|data| data.get(key))
            .is_some()
    };
    match secret_type.as_str() {
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has_key(key) {
                    causes.push(FieldCause::required(format!("data[{key}]")));
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !has_key(".dockerconfigjson") => {
            causes.push(FieldCause::required("data[.dockerconfigjson]"))
        }
        "kubernetes.io/basic-auth" if !has_key("username") && !has_key("password") => {
            causes.push(FieldCause::required("data[username]"));
        }
        _ => {}
    }
    if let Some(old) = old {
        if old.get("type") != new.get("type") {
            causes.push(FieldCause::invalid(
                "type",
                new.get("type").unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if old.get("data") != new.get("data") {
                causes.push(FieldCause::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
            if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                causes.push(FieldCause::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(causes))
    }
}

/// The message Go's `encoding/base64` gives, which the apiserver passes through.
fn go_base64_error(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("illegal base64 data at input byte {offset}")
        }
        base64::DecodeError::InvalidLength(length) => {
            format!("illegal base64 data at input byte {length}")
        }
        base64::DecodeError::InvalidPadding => "illegal base64 data at input byte 0".into(),
    }
}

fn admit_config_map(resource: &ResourceType, new: &mut Value) -> Result<(), ApiError> {
    let name = name_of(new);
    let mut causes = Vec::new();
    let mut total = 0usize;
    for field in ["data", "binaryData"] {
        if let Some(data) = new.get(field).and_then(Value::as_object) {
            for (key, value) in data {
                total += value.as_str().map(str::len).unwrap_or(0);
                if !valid_config_key(key) {
                    causes.push(FieldCause::invalid(
                        format!("{field}[{key}]"),
                        &json!(key),
                        CONFIG_KEY_MESSAGE,
                    ));
                }
            }
        }
    }
    if total > MAX_DATA_BYTES {
        causes.push(FieldCause::too_long("data", MAX_DATA_BYTES));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &resource.kind,
            &resource.group,
            &name,
            causes,
        ))
    }
}

fn admit_namespace(old: Option<&Value>, new: &mut Value) {
    match old {
        None => {
            new["spec"] = json!({"finalizers": ["kubernetes"]});
            new["status"] = json!({"phase": "Active"});
        }
        Some(old) => {
            if let Some(spec) = old.get("spec") {
                new["spec"] = spec.clone();
            }
            if new.get("status").is_none_or(Value::is_null) {
                new["status"] = old
                    .get("status")
                    .cloned()
                    .unwrap_or_else(|| json!({"phase": "Active"}));
            }
        }
    }
}

fn admit_crd(resource: &ResourceType, new: &mut Value) -> Result<(), ApiError> {
    let name = name_of(new);
    let group = new
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let plural = new
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let invalid = |causes| ApiError::invalid(&resource.kind, &resource.group, &name, causes);
    if name != format!("{plural}.{group}") {
        return Err(invalid(vec![FieldCause::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        )]));
    }
    let types = types_from_crd(new)
        .map_err(|reason| invalid(vec![FieldCause::required(format!("spec: {reason}"))]))?;
    if types.is_empty() {
        return Err(invalid(vec![FieldCause::invalid(
            "spec.versions",
            &json!([]),
            "must have exactly one version marked as storage version",
        )]));
    }
    let versions = new
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage: Vec<&str> = versions
        .iter()
        .filter(|version| version.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|version| version.get("name").and_then(Value::as_str))
        .collect();
    if storage.len() != 1 {
        return Err(invalid(vec![FieldCause::invalid(
            "spec.versions",
            &json!(storage),
            "must have exactly one version marked as storage version",
        )]));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let names = new
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    new["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": [storage[0]],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeapi::resources::builtin_types;

    fn secrets() -> ResourceType {
        builtin_types()
            .into_iter()
            .find(|resource| resource.plural == "secrets")
            .unwrap()
    }

    #[test]
    fn string_data_is_merged_into_data_and_never_stored() {
        let mut secret =
            json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee"}});
        admit(&secrets(), None, &mut secret).unwrap();
        assert_eq!(
            secret,
            json!({"metadata": {"name": "s"}, "data": {"a": "YQ==", "b": "YmVl"}, "type": "Opaque"})
        );
    }

    #[test]
    fn bad_base64_is_a_bad_request_and_immutable_data_is_forbidden() {
        let mut bad = json!({"metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        assert_eq!(admit(&secrets(), None, &mut bad).unwrap_err().code, 400);
        let old = json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "type": "Opaque", "immutable": true});
        let mut changed = json!({"metadata": {"name": "s"}, "data": {"a": "Yg=="}, "type": "Opaque", "immutable": true});
        let error = admit(&secrets(), Some(&old), &mut changed).unwrap_err();
        assert_eq!(error.code, 422);
        assert!(
            error
                .message
                .contains("field is immutable when `immutable` is set"),
            "{}",
            error.message
        );
    }
}
