//! `/openapi/v2`: the Swagger 2.0 document, generated from the same per-group/version
//! documents as `/openapi/v3` (see [`super::openapi`]), served as JSON or as the gnostic
//! `openapi.v2.Document` protobuf that client-go's `OpenAPISchema()` asks for
//! (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`; it has no JSON
//! fallback). kubectl falls back to it for client-side validation of kinds the v3 documents do
//! not describe (a cert-manager `Certificate` on a cluster without cert-manager); a 404 there
//! aborts the whole `kubectl apply`.
//!
//! Content negotiation follows kube-openapi's handler: the first Accept clause (by `q`) matching
//! JSON or either protobuf spelling wins, `*/*` or no Accept means JSON, anything else is 406.

use serde_json::{Map, Value, json};

use super::openapi;
use super::protobuf;
use super::resources::Registry;

/// Media type of the protobuf form as client-go asks for it. `@` is not a legal token in a
/// media type, so the answer is labelled [`PROTOBUF`] instead (client-go's `mime.ParseMediaType`
/// rejects an echoed `@`).
const PROTOBUF_ASKED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// Media type of the protobuf form as kube-openapi labels it, also accepted when asked for.
pub const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/// Media type of the JSON form.
pub const JSON: &str = "application/json";

/// Keys of an OpenAPI v3 schema that Swagger 2.0 has no place for; the apiserver drops them too
/// when it publishes CRD schemas in v2.
const V3_ONLY_SCHEMA_KEYS: [&str; 4] = ["nullable", "oneOf", "anyOf", "not"];

/// The `Content-Type` of the representation an `Accept` header selects ([`JSON`] or
/// [`PROTOBUF`]), or `None` for 406 Not Acceptable.
pub fn negotiate(accept: &str) -> Option<&'static str> {
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    let mut clauses: Vec<(f32, &str)> = accept
        .split(',')
        .map(|clause| {
            let mut parts = clause.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (quality, media)
        })
        .filter(|(quality, _)| *quality > 0.0)
        .collect();
    clauses.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, media) in clauses {
        let (kind, subtype) = media.split_once('/').unwrap_or((media, ""));
        for (offered, answered) in [
            (JSON, JSON),
            (PROTOBUF_ASKED, PROTOBUF),
            (PROTOBUF, PROTOBUF),
        ] {
            let (offered_kind, offered_subtype) = offered.split_once('/').unwrap_or_default();
            if (kind == "*" || kind == offered_kind)
                && (subtype == "*" || subtype == offered_subtype)
            {
                return Some(answered);
            }
        }
    }
    None
}

/// The Swagger 2.0 document of every served group/version.
pub fn document(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let v3 = openapi::document(registry, &group, &version);
            if let Some(v3_paths) = v3["paths"].as_object() {
                for (path, item) in v3_paths {
                    paths.insert(path.clone(), path_item(path, item));
                }
            }
            if let Some(schemas) = v3["components"]["schemas"].as_object() {
                for (name, schema) in schemas {
                    definitions.insert(name.clone(), schema_v2(schema));
                }
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "definitions": definitions,
    })
}

/// Rewrites `$ref`s to `#/definitions/` and drops what Swagger 2.0 cannot say.
fn schema_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !V3_ONLY_SCHEMA_KEYS.contains(&key.as_str()))
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => Value::String(
                            reference.replace("#/components/schemas/", "#/definitions/"),
                        ),
                        // Extension values and enum members are data, not schemas.
                        (key, value)
                            if key.starts_with("x-")
                                || key == "enum"
                                || key == "default"
                                || key == "example" =>
                        {
                            value.clone()
                        }
                        ("properties", Value::Object(properties)) => Value::Object(
                            properties
                                .iter()
                                .map(|(name, property)| (name.clone(), schema_v2(property)))
                                .collect(),
                        ),
                        _ => schema_v2(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(schema_v2).collect()),
        other => other.clone(),
    }
}

fn path_item(path: &str, item: &Value) -> Value {
    let mut converted = Map::new();
    if let Some(operations) = item.as_object() {
        for (method, operation) in operations {
            converted.insert(method.clone(), operation_v2(operation));
        }
    }
    let path_parameters: Vec<Value> = ["name", "namespace"]
        .iter()
        .filter(|name| path.contains(&format!("{{{name}}}")))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "type": "string", "uniqueItems": true,
                   "description": format!("{name} of the object")})
        })
        .collect();
    if !path_parameters.is_empty() {
        converted.insert("parameters".into(), Value::Array(path_parameters));
    }
    Value::Object(converted)
}

fn operation_v2(operation: &Value) -> Value {
    let mut converted = Map::new();
    let mut parameters: Vec<Value> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| {
            json!({"name": parameter["name"], "in": parameter["in"], "type": "string", "uniqueItems": true})
        })
        .collect();
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        let schema = content
            .values()
            .next()
            .map(|media| schema_v2(&media["schema"]))
            .unwrap_or_else(|| json!({"type": "object"}));
        parameters.insert(
            0,
            json!({"name": "body", "in": "body", "required": true, "schema": schema}),
        );
        converted.insert("consumes".into(), json!(content.keys().collect::<Vec<_>>()));
    }
    converted.insert(
        "produces".into(),
        json!(["application/json", "application/yaml"]),
    );
    converted.insert("schemes".into(), json!(["https"]));
    for key in ["operationId", "description"] {
        if let Some(value) = operation.get(key) {
            converted.insert(key.into(), value.clone());
        }
    }
    converted.insert("parameters".into(), Value::Array(parameters));
    let mut responses = Map::new();
    if let Some(v3_responses) = operation["responses"].as_object() {
        for (code, response) in v3_responses {
            let mut converted_response = json!({"description": response["description"]});
            if let Some(schema) = response["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map(|media| schema_v2(&media["schema"]))
            {
                converted_response["schema"] = schema;
            }
            responses.insert(code.clone(), converted_response);
        }
    }
    converted.insert("responses".into(), Value::Object(responses));
    if let Some(map) = operation.as_object() {
        for (key, value) in map.iter().filter(|(key, _)| key.starts_with("x-")) {
            converted.insert(key.clone(), value.clone());
        }
    }
    Value::Object(converted)
}

/// The gnostic `openapi.v2.Document` protobuf encoding of a Swagger 2.0 JSON document.
pub fn protobuf(document: &Value) -> Vec<u8> {
    let mut message = Message::default();
    message.string(1, &document["swagger"]);
    let mut info = Message::default();
    info.string(1, &document["info"]["title"]);
    info.string(2, &document["info"]["version"]);
    message.message(2, info);
    let mut paths = Message::default();
    for (name, item) in document["paths"].as_object().into_iter().flatten() {
        let mut named = Message::default();
        named.str(1, name);
        named.message(2, encode_path_item(item));
        paths.message(2, named);
    }
    message.message(8, paths);
    let mut definitions = Message::default();
    for (name, schema) in document["definitions"].as_object().into_iter().flatten() {
        let mut named = Message::default();
        named.str(1, name);
        named.message(2, encode_schema(schema));
        definitions.message(1, named);
    }
    message.message(9, definitions);
    message.bytes
}

fn encode_path_item(item: &Value) -> Message {
    let mut message = Message::default();
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("patch", 8),
    ] {
        if let Some(operation) = item.get(method) {
            message.message(field, encode_operation(operation));
        }
    }
    for parameter in item["parameters"].as_array().into_iter().flatten() {
        message.message(9, encode_parameter(parameter));
    }
    message
}

fn encode_operation(operation: &Value) -> Message {
    let mut message = Message::default();
    message.string(3, &operation["description"]);
    message.string(5, &operation["operationId"]);
    message.strings(6, &operation["produces"]);
    message.strings(7, &operation["consumes"]);
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        message.message(8, encode_parameter(parameter));
    }
    let mut responses = Message::default();
    for (code, response) in operation["responses"].as_object().into_iter().flatten() {
        let mut body = Message::default();
        body.string(1, &response["description"]);
        if let Some(schema) = response.get("schema") {
            let mut item = Message::default();
            item.message(1, encode_schema(schema));
            body.message(2, item);
        }
        let mut value = Message::default();
        value.message(1, body);
        let mut named = Message::default();
        named.str(1, code);
        named.message(2, value);
        responses.message(1, named);
    }
    message.message(9, responses);
    message.strings(10, &operation["schemes"]);
    encode_extensions(&mut message, 13, operation);
    message
}

/// A `ParametersItem` holding a body, query or path parameter.
fn encode_parameter(parameter: &Value) -> Message {
    let mut inner = Message::default();
    let parameter_message = if parameter["in"] == "body" {
        inner.string(1, &parameter["description"]);
        inner.string(2, &parameter["name"]);
        inner.string(3, &parameter["in"]);
        inner.boolean(4, &parameter["required"]);
        inner.message(5, encode_schema(&parameter["schema"]));
        let mut wrapper = Message::default();
        wrapper.message(1, inner);
        wrapper
    } else {
        // Query (3) and path (4) sub-schemas share these first fields; `type` and `uniqueItems`
        // sit one field later in the query form (after `allowEmptyValue`).
        let (which, type_field, unique_field) = if parameter["in"] == "path" {
            (4, 5, 19)
        } else {
            (3, 6, 20)
        };
        inner.boolean(1, &parameter["required"]);
        inner.string(2, &parameter["in"]);
        inner.string(3, &parameter["description"]);
        inner.string(4, &parameter["name"]);
        inner.string(type_field, &parameter["type"]);
        inner.boolean(unique_field, &parameter["uniqueItems"]);
        let mut non_body = Message::default();
        non_body.message(which, inner);
        let mut wrapper = Message::default();
        wrapper.message(2, non_body);
        wrapper
    };
    let mut item = Message::default();
    item.message(1, parameter_message);
    item
}

fn encode_schema(schema: &Value) -> Message {
    let mut message = Message::default();
    message.string(1, &schema["$ref"]);
    message.string(2, &schema["format"]);
    message.string(3, &schema["title"]);
    message.string(4, &schema["description"]);
    if let Some(default) = schema.get("default") {
        message.message(5, any(default));
    }
    message.double(6, &schema["multipleOf"]);
    message.double(7, &schema["maximum"]);
    message.boolean(8, &schema["exclusiveMaximum"]);
    message.double(9, &schema["minimum"]);
    message.boolean(10, &schema["exclusiveMinimum"]);
    message.int64(11, &schema["maxLength"]);
    message.int64(12, &schema["minLength"]);
    message.string(13, &schema["pattern"]);
    message.int64(14, &schema["maxItems"]);
    message.int64(15, &schema["minItems"]);
    message.boolean(16, &schema["uniqueItems"]);
    message.int64(17, &schema["maxProperties"]);
    message.int64(18, &schema["minProperties"]);
    message.strings(19, &schema["required"]);
    for member in schema["enum"].as_array().into_iter().flatten() {
        message.message(20, any(member));
    }
    match &schema["additionalProperties"] {
        Value::Bool(allowed) => {
            let mut item = Message::default();
            item.varint_field(2, u64::from(*allowed));
            message.message(21, item);
        }
        Value::Object(_) => {
            let mut item = Message::default();
            item.message(1, encode_schema(&schema["additionalProperties"]));
            message.message(21, item);
        }
        _ => {}
    }
    if let Some(kind) = schema.get("type") {
        let mut item = Message::default();
        match kind {
            Value::Array(_) => item.strings(1, kind),
            single => item.string(1, single),
        }
        message.message(22, item);
    }
    if let Some(items) = schema.get("items") {
        let mut item = Message::default();
        match items {
            Value::Array(many) => many
                .iter()
                .for_each(|one| item.message(1, encode_schema(one))),
            one => item.message(1, encode_schema(one)),
        }
        message.message(23, item);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        message.message(24, encode_schema(part));
    }
    if let Some(properties) = schema["properties"].as_object() {
        let mut item = Message::default();
        for (name, property) in properties {
            let mut named = Message::default();
            named.str(1, name);
            named.message(2, encode_schema(property));
            item.message(1, named);
        }
        message.message(25, item);
    }
    message.string(26, &schema["discriminator"]);
    message.boolean(27, &schema["readOnly"]);
    if let Some(example) = schema.get("example") {
        message.message(30, any(example));
    }
    encode_extensions(&mut message, 31, schema);
    message
}

/// `x-…` keys as `NamedAny` entries whose value is YAML, as gnostic carries them.
fn encode_extensions(message: &mut Message, field: u32, object: &Value) {
    for (key, value) in object
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with("x-"))
    {
        let mut named = Message::default();
        named.str(1, key);
        named.message(2, any(value));
        message.message(field, named);
    }
}

/// A gnostic `Any` carrying `value` as YAML.
fn any(value: &Value) -> Message {
    let yaml = serde_yaml::to_string(value).unwrap_or_else(|_| value.to_string());
    let mut message = Message::default();
    message.str(2, &yaml);
    message
}

/// A protobuf message being written: fields in the order added, proto3 defaults left out.
#[derive(Default)]
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn varint_field(&mut self, field: u32, value: u64) {
        protobuf::put_varint_field(&mut self.bytes, field, value);
    }

    fn length_delimited(&mut self, field: u32, bytes: &[u8]) {
        protobuf::put_bytes(&mut self.bytes, field, bytes);
    }

    fn str(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.length_delimited(field, text.as_bytes());
        }
    }

    fn string(&mut self, field: u32, value: &Value) {
        if let Some(text) = value.as_str() {
            self.str(field, text);
        }
    }

    fn strings(&mut self, field: u32, value: &Value) {
        for text in value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.length_delimited(field, text.as_bytes());
        }
    }

    fn boolean(&mut self, field: u32, value: &Value) {
        if value.as_bool() == Some(true) {
            self.varint_field(field, 1);
        }
    }

    fn int64(&mut self, field: u32, value: &Value) {
        if let Some(number) = value.as_i64().filter(|n| *n != 0) {
            self.varint_field(field, number as u64);
        }
    }

    fn double(&mut self, field: u32, value: &Value) {
        if let Some(number) = value.as_f64().filter(|n| *n != 0.0) {
            protobuf::put_key(&mut self.bytes, field, 1);
            self.bytes.extend_from_slice(&number.to_le_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.length_delimited(field, &message.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_json_protobuf_or_nothing() {
        assert_eq!(negotiate(PROTOBUF_ASKED), Some(PROTOBUF));
        assert_eq!(negotiate(PROTOBUF), Some(PROTOBUF));
        assert_eq!(negotiate(""), Some(JSON));
        assert_eq!(negotiate("application/json, */*"), Some(JSON));
        assert_eq!(negotiate("*/*"), Some(JSON));
        assert_eq!(
            negotiate(
                "application/json;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            ),
            Some(PROTOBUF)
        );
        assert_eq!(negotiate("text/html"), None);
    }

    #[test]
    fn protobuf_fields_are_tagged_and_length_prefixed() {
        let bytes = protobuf(&json!({"swagger": "2.0", "info": {"title": "K", "version": "v"}}));
        // field 1 (swagger), wire type 2, length 3, "2.0"; then field 2 (info) with its fields.
        assert_eq!(&bytes[..5], &[0x0a, 3, b'2', b'.', b'0']);
        assert_eq!(&bytes[5..11], &[0x12, 6, 0x0a, 1, b'K', 0x12]);
    }

    #[test]
    fn schemas_lose_v3_only_keys_and_point_at_definitions() {
        let converted = schema_v2(&json!({
            "type": "object",
            "nullable": true,
            "properties": {"metadata": {"allOf": [{"$ref": "#/components/schemas/x.ObjectMeta"}]},
                           "oneOf": {"type": "string"}},
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Secret"}],
        }));
        assert_eq!(converted.get("nullable"), None);
        assert_eq!(
            converted["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/definitions/x.ObjectMeta"
        );
        // A property that happens to be called like a v3 keyword stays.
        assert_eq!(converted["properties"]["oneOf"]["type"], "string");
    }
}
