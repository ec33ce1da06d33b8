//! `spec.target.manifest`: the object an ExternalSecret writes instead of a Secret (a ConfigMap,
//! or any namespaced kind), built as ESO's `applyTemplateToManifest` builds it. Without a
//! template the values go to a ConfigMap's `data` or another kind's `spec.data`; a template
//! writes `template.data` into `data`, and each `templateFrom` into its `target`: `Data`,
//! `Labels`, `Annotations`, `Spec`, or a path such as `spec.rules[0].host`.

use std::collections::BTreeMap;

use akvsync_crds::constants::{
    ANNOTATION_DATA_HASH, LABEL_CREATED_BY, LABEL_MANAGED, LABEL_MANAGED_VALUE,
};
use akvsync_crds::{CreationPolicy, ExternalSecret, ManifestReference};
use serde_json::{Map, Value};

use super::hash;
use super::target::{
    FromOutput, NOT_COPIED_ANNOTATIONS, TargetError, TemplateSources, render, render_from,
    target_name,
};

/// ESO's limit on an index in a target path.
const MAX_ARRAY_INDEX: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Template(#[from] TargetError),
    /// ESO's path errors (`invalid path "a..b": empty segment`).
    #[error("spec.target.template.{field}: {message}")]
    Path { field: String, message: String },
    #[error(
        "the value of key {key} is not UTF-8 text; a {kind} holds text (use a Secret target for binary values)"
    )]
    NotText { key: String, kind: String },
    #[error("generic target content does not have a spec or data field for content hashing")]
    NoContent,
    #[error("the ExternalSecret has no uid yet")]
    MissingUid,
}

/// The object `es` wants at its target, from `data`; `base` is the existing object a `Merge` or
/// `CreateOrMerge` policy writes into. The result carries no resourceVersion.
pub fn desired_resource(
    es: &ExternalSecret,
    reference: &ManifestReference,
    data: BTreeMap<String, Vec<u8>>,
    sources: &TemplateSources,
    base: Option<&Value>,
) -> Result<Value, ManifestError> {
    let name = target_name(es);
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let target = es.spec.target.clone().unwrap_or_default();
    let kind = reference.kind.as_str();
    let mut object = match base {
        Some(base) => base.clone(),
        None => {
            let content = if matches!(kind, "ConfigMap" | "Secret") {
                "data"
            } else {
                "spec"
            };
            serde_json::json!({
                "apiVersion": reference.api_version,
                "kind": kind,
                "metadata": {"name": name, "namespace": namespace},
                content: {},
            })
        }
    };
    let (labels, annotations) = match &target.template {
        Some(template) => {
            let metadata = template.metadata.clone().unwrap_or_default();
            (
                metadata.labels.unwrap_or_default(),
                metadata.annotations.unwrap_or_default(),
            )
        }
        None => {
            let mut annotations = es.metadata.annotations.clone().unwrap_or_default();
            annotations.retain(|key, _| !NOT_COPIED_ANNOTATIONS.contains(&key.as_str()));
            (es.metadata.labels.clone().unwrap_or_default(), annotations)
        }
    };
    for (key, value) in labels {
        set_metadata(&mut object, "labels", key, value);
    }
    for (key, value) in annotations {
        set_metadata(&mut object, "annotations", key, value);
    }
    set_metadata(
        &mut object,
        "labels",
        LABEL_MANAGED.to_owned(),
        LABEL_MANAGED_VALUE.to_owned(),
    );
    match &target.template {
        None => {
            // Into the map that is there, as a template's values go (ESO replaces it, so a
            // Merge without a template drops the keys it merges into).
            let text = texts(&data, kind)?;
            let field = if kind == "ConfigMap" {
                object_field(&mut object, "data", "data")?
            } else {
                let spec = object_field(&mut object, "spec", "spec")?;
                let data = spec
                    .entry("data")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !data.is_object() {
                    *data = Value::Object(Map::new());
                }
                data.as_object_mut().expect("data was made an object")
            };
            field.extend(text);
        }
        Some(template) => {
            for (index, from) in template.template_from.iter().flatten().enumerate() {
                let target_path = from.target.as_deref().unwrap_or("Data");
                for output in render_from(index, from, sources, &data)? {
                    match output {
                        FromOutput::Value { field, key, value } => {
                            apply_to_target(&mut object, &key, &value, target_path, kind, &field)?
                        }
                        FromOutput::Map { field, text } => {
                            apply_map(&mut object, &text, target_path, kind, &field)?
                        }
                    }
                }
            }
            for (key, text) in template.data.iter().flatten() {
                let field = format!("data[{key}]");
                let rendered = render(field.clone(), text, &data)?;
                apply_to_target(&mut object, key, &rendered, "data", kind, &field)?;
            }
        }
    }
    let content = ["spec", "data"]
        .into_iter()
        .find_map(|field| object.get(field).filter(|value| !value.is_null()))
        .ok_or(ManifestError::NoContent)?;
    let content_hash = hash::object_hash(content);
    set_metadata(
        &mut object,
        "annotations",
        ANNOTATION_DATA_HASH.to_owned(),
        content_hash,
    );
    own(es, &mut object, target.creation_policy_or_default())?;
    Ok(object)
}

/// ESO's ownership: `Owner` sets the ExternalSecret as controller and the created-by label;
/// any other policy removes both.
fn own(
    es: &ExternalSecret,
    object: &mut Value,
    policy: CreationPolicy,
) -> Result<(), ManifestError> {
    let es_name = es.metadata.name.clone().unwrap_or_default();
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let uid = es.metadata.uid.clone();
    let metadata = metadata(object);
    let mut references: Vec<Value> = metadata
        .get("ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    references.retain(|reference| {
        !(reference["kind"] == "ExternalSecret" && reference["name"] == es_name.as_str())
    });
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if policy == CreationPolicy::Owner {
        labels[LABEL_CREATED_BY] = Value::String(hash::created_by(&namespace, &es_name));
        references.push(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "name": es_name,
            "uid": uid.ok_or(ManifestError::MissingUid)?,
            "controller": true,
            "blockOwnerDeletion": true,
        }));
    } else if let Some(labels) = labels.as_object_mut() {
        labels.remove(LABEL_CREATED_BY);
    }
    if references.is_empty() {
        metadata.remove("ownerReferences");
    } else {
        metadata.insert("ownerReferences".to_owned(), Value::Array(references));
    }
    Ok(())
}

fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = Value::Object(Map::new());
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata was made an object")
}

fn set_metadata(object: &mut Value, field: &str, key: String, value: String) {
    let entries = metadata(object)
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entries.is_object() {
        *entries = Value::Object(Map::new());
    }
    entries[key] = Value::String(value);
}

/// The top-level map `name` of the object, made one when absent.
fn object_field<'a>(
    object: &'a mut Value,
    name: &str,
    field: &str,
) -> Result<&'a mut Map<String, Value>, ManifestError> {
    if object[name].is_null() {
        object[name] = Value::Object(Map::new());
    }
    object[name]
        .as_object_mut()
        .ok_or_else(|| ManifestError::Path {
            field: field.to_owned(),
            message: format!("expected map at key {name:?}"),
        })
}

fn texts(
    data: &BTreeMap<String, Vec<u8>>,
    kind: &str,
) -> Result<Map<String, Value>, ManifestError> {
    data.iter()
        .map(|(key, value)| Ok((key.clone(), Value::String(text(key, value, kind)?))))
        .collect()
}

fn text(key: &str, value: &[u8], kind: &str) -> Result<String, ManifestError> {
    String::from_utf8(value.to_vec()).map_err(|_| ManifestError::NotText {
        key: key.to_owned(),
        kind: kind.to_owned(),
    })
}

/// ESO's `applyToTarget`: one key and value into `target`.
fn apply_to_target(
    object: &mut Value,
    key: &str,
    value: &[u8],
    target: &str,
    kind: &str,
    field: &str,
) -> Result<(), ManifestError> {
    let value = text(key, value, kind)?;
    match target.to_ascii_lowercase().as_str() {
        "annotations" => set_metadata(object, "annotations", key.to_owned(), value),
        "labels" => set_metadata(object, "labels", key.to_owned(), value),
        name @ ("data" | "spec") => {
            object_field(object, name, field)?.insert(key.to_owned(), Value::String(value));
        }
        _ => {
            let tokens = parse_path(target).map_err(|message| ManifestError::Path {
                field: field.to_owned(),
                message,
            })?;
            let leaf = parse_yaml(&value);
            set_at_path(object, &tokens, &mut |_| leaf.clone()).map_err(|message| {
                ManifestError::Path {
                    field: field.to_owned(),
                    message: format!("failed to set path {target}: {message}"),
                }
            })?;
        }
    }
    Ok(())
}

/// ESO's `mapScopeApply`: a rendered YAML map into `Data`, `Labels` or `Annotations`, or a
/// rendered YAML value merged into the map at a path (replacing a single-key path).
fn apply_map(
    object: &mut Value,
    rendered: &[u8],
    target: &str,
    kind: &str,
    field: &str,
) -> Result<(), ManifestError> {
    let rendered = std::str::from_utf8(rendered).map_err(|_| TargetError::Template {
        field: field.to_owned(),
        message: "the rendered text is not UTF-8".into(),
    })?;
    if matches!(
        target.to_ascii_lowercase().as_str(),
        "annotations" | "labels" | "data"
    ) {
        let map: BTreeMap<String, String> = if rendered.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_yaml::from_str(rendered).map_err(|error| TargetError::Template {
                field: field.to_owned(),
                message: format!("could not unmarshal template to 'map[string][]byte': {error}"),
            })?
        };
        for (key, value) in map {
            apply_to_target(object, &key, value.as_bytes(), target, kind, field)?;
        }
        return Ok(());
    }
    let parsed: Value = serde_yaml::from_str(rendered).map_err(|error| TargetError::Template {
        field: field.to_owned(),
        message: format!("could not unmarshal template YAML: {error}"),
    })?;
    let tokens = parse_path(target).map_err(|message| ManifestError::Path {
        field: field.to_owned(),
        message,
    })?;
    let replace = matches!(tokens.as_slice(), [Token::Key(_)]);
    set_at_path(object, &tokens, &mut |existing| match (existing, &parsed) {
        (Value::Object(existing), Value::Object(parsed)) if !replace => {
            let mut merged = existing;
            merged.extend(parsed.clone());
            Value::Object(merged)
        }
        _ => parsed.clone(),
    })
    .map_err(|message| ManifestError::Path {
        field: field.to_owned(),
        message: format!("failed to set path {target}: {message}"),
    })
}

/// A value as YAML when it parses as YAML, else the text itself (ESO's `tryParseYAML`).
fn parse_yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Key(String),
    Index(usize),
}

/// ESO's `parseTargetPath`: dotted keys with `[i]` indexes, and its error texts.
fn parse_path(target: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for segment in target.split('.') {
        if segment.is_empty() {
            return Err(format!("invalid path {target:?}: empty segment"));
        }
        let (name, mut rest) = match segment.find('[') {
            Some(at) => segment.split_at(at),
            None => (segment, ""),
        };
        if !name.is_empty() {
            tokens.push(Token::Key(name.to_owned()));
        }
        while !rest.is_empty() {
            let Some(inner) = rest.strip_prefix('[') else {
                return Err(format!(
                    "invalid path {target:?}: expected '[' near {rest:?}"
                ));
            };
            let Some(end) = inner.find(']') else {
                return Err(format!("invalid path {target:?}: unterminated '['"));
            };
            let number = &inner[..end];
            let index: i64 = number
                .parse()
                .map_err(|_| format!("invalid path {target:?}: bad index {number:?}"))?;
            let index = usize::try_from(index)
                .map_err(|_| format!("invalid path {target:?}: negative index {index}"))?;
            if index > MAX_ARRAY_INDEX {
                return Err(format!(
                    "invalid path {target:?}: index {index} exceeds maximum (10000)"
                ));
            }
            tokens.push(Token::Index(index));
            rest = &inner[end + 1..];
        }
    }
    match tokens.first() {
        None => Err(format!("invalid path: {target}")),
        Some(Token::Index(_)) => Err(format!(
            "invalid path {target:?}: path must start with a key"
        )),
        Some(Token::Key(_)) => Ok(tokens),
    }
}

/// ESO's `setAtPath`: walks the tokens, making maps and growing lists as needed, and sets the
/// leaf from what was there.
fn set_at_path(
    node: &mut Value,
    tokens: &[Token],
    leaf: &mut dyn FnMut(Value) -> Value,
) -> Result<(), String> {
    let Some((token, rest)) = tokens.split_first() else {
        let existing = std::mem::take(node);
        *node = leaf(existing);
        return Ok(());
    };
    let child = match token {
        Token::Key(name) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else {
                return Err(format!(
                    "expected map at key {name:?} but found {}",
                    go_type(node)
                ));
            };
            map.entry(name.clone()).or_insert(Value::Null)
        }
        Token::Index(index) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(items) = node else {
                return Err(format!(
                    "expected array at index {index} but found {}",
                    go_type(node)
                ));
            };
            if *index >= items.len() {
                items.resize(index + 1, Value::Null);
            }
            &mut items[*index]
        }
    };
    set_at_path(child, rest, leaf)
}

/// Go's name of the type a decoded JSON value has, for ESO's messages.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(target: serde_json::Value) -> ExternalSecret {
        let mut es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "app", "namespace": "team-a", "uid": "u-1",
                         "labels": {"team": "a"}},
            "spec": {"target": target, "data": []}
        }))
        .unwrap();
        es.metadata.namespace = Some("team-a".into());
        es
    }

    fn config_map() -> ManifestReference {
        ManifestReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
        }
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn without_a_template_values_go_to_a_config_maps_data_with_esos_bookkeeping() {
        let es = es(
            serde_json::json!({"name": "settings", "manifest": {"apiVersion": "v1", "kind": "ConfigMap"}}),
        );
        let object = desired_resource(
            &es,
            &config_map(),
            data(&[("host", "db"), ("port", "5432")]),
            &TemplateSources::new(),
            None,
        )
        .unwrap();
        assert_eq!(object["apiVersion"], "v1");
        assert_eq!(object["kind"], "ConfigMap");
        assert_eq!(object["metadata"]["name"], "settings");
        assert_eq!(
            object["data"],
            serde_json::json!({"host": "db", "port": "5432"})
        );
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["team"], "a");
        assert_eq!(labels[LABEL_MANAGED], LABEL_MANAGED_VALUE);
        assert_eq!(labels[LABEL_CREATED_BY], hash::created_by("team-a", "app"));
        assert_eq!(
            object["metadata"]["annotations"][ANNOTATION_DATA_HASH],
            hash::object_hash(&serde_json::json!({"host": "db", "port": "5432"}))
        );
        let owner = &object["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ExternalSecret");
        assert_eq!(owner["uid"], "u-1");
        assert_eq!(owner["controller"], true);
    }

    #[test]
    fn other_kinds_get_spec_data_and_templates_reach_any_path() {
        let reference = ManifestReference {
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
        };
        let plain = es(serde_json::json!({"creationPolicy": "Orphan"}));
        let object = desired_resource(
            &plain,
            &reference,
            data(&[("a", "1")]),
            &TemplateSources::new(),
            None,
        )
        .unwrap();
        assert_eq!(object["spec"], serde_json::json!({"data": {"a": "1"}}));
        assert!(object["metadata"].get("ownerReferences").is_none());
        assert!(object["metadata"]["labels"].get(LABEL_CREATED_BY).is_none());

        let templated = es(serde_json::json!({"template": {
            "data": {"url": "https://{{ .host }}"},
            "templateFrom": [
                {"literal": "host: {{ .host }}\nport: 443", "target": "spec.server"},
                {"literal": "- {{ .host }}", "target": "spec.rules[1].hosts"},
                {"literal": "tier: {{ .tier }}", "target": "Labels"}
            ]
        }}));
        let object = desired_resource(
            &templated,
            &reference,
            data(&[("host", "db.example"), ("tier", "gold")]),
            &TemplateSources::new(),
            None,
        )
        .unwrap();
        assert_eq!(
            object["data"],
            serde_json::json!({"url": "https://db.example"})
        );
        assert_eq!(
            object["spec"]["server"],
            serde_json::json!({"host": "db.example", "port": 443})
        );
        assert_eq!(
            object["spec"]["rules"],
            serde_json::json!([null, {"hosts": ["db.example"]}])
        );
        assert_eq!(object["metadata"]["labels"]["tier"], "gold");
        // Only the template's metadata is copied, not the ExternalSecret's labels.
        assert!(object["metadata"]["labels"].get("team").is_none());
    }

    #[test]
    fn a_merge_writes_into_the_existing_object_and_merges_maps_at_deep_paths() {
        let base = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team-a", "resourceVersion": "7",
                         "labels": {"owner": "someone"}},
            "data": {"keep": "me", "host": "old"}
        });
        let es = es(
            serde_json::json!({"name": "settings", "creationPolicy": "Merge",
            "template": {"data": {"host": "{{ .host }}"}}}),
        );
        let object = desired_resource(
            &es,
            &config_map(),
            data(&[("host", "new")]),
            &TemplateSources::new(),
            Some(&base),
        )
        .unwrap();
        assert_eq!(
            object["data"],
            serde_json::json!({"keep": "me", "host": "new"})
        );
        assert_eq!(object["metadata"]["labels"]["owner"], "someone");

        let mut widget = serde_json::json!({"spec": {"server": {"host": "a", "tls": true}}});
        let tokens = parse_path("spec.server").unwrap();
        set_at_path(&mut widget, &tokens, &mut |existing| {
            let mut map = existing.as_object().cloned().unwrap();
            map.insert("host".into(), "b".into());
            Value::Object(map)
        })
        .unwrap();
        assert_eq!(
            widget["spec"]["server"],
            serde_json::json!({"host": "b", "tls": true})
        );
    }

    #[test]
    fn bad_paths_and_binary_values_are_refused_with_the_field_named() {
        let cases = [
            ("a..b", "invalid path \"a..b\": empty segment"),
            ("[0]", "invalid path \"[0]\": path must start with a key"),
            ("a[x]", "invalid path \"a[x]\": bad index \"x\""),
            ("a[-1]", "invalid path \"a[-1]\": negative index -1"),
            (
                "a[10001]",
                "invalid path \"a[10001]\": index 10001 exceeds maximum (10000)",
            ),
            ("a[1", "invalid path \"a[1\": unterminated '['"),
        ];
        for (path, message) in cases {
            assert_eq!(parse_path(path).unwrap_err(), message);
        }
        let es = es(
            serde_json::json!({"template": {"templateFrom": [{"literal": "x: 1", "target": "spec..x"}]}}),
        );
        let error = desired_resource(
            &es,
            &config_map(),
            data(&[("a", "1")]),
            &TemplateSources::new(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "spec.target.template.templateFrom[0].literal: invalid path \"spec..x\": empty segment"
        );
        let plain = es_plain();
        let error = desired_resource(
            &plain,
            &config_map(),
            BTreeMap::from([("bin".to_owned(), vec![0xff, 0])]),
            &TemplateSources::new(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the value of key bin is not UTF-8 text; a ConfigMap holds text (use a Secret target for binary values)"
        );
    }

    fn es_plain() -> ExternalSecret {
        es(serde_json::json!({}))
    }
}
