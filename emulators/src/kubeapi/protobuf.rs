//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`), as client-go's
//! typed clients send them for built-in kinds (kubectl 1.32's `create namespace`, `create secret`,
//! `create configmap`, `create serviceaccount`, `create token`, `auth can-i`, `auth whoami`).
//!
//! A body is the 4-byte magic `k8s\0` and a `runtime.Unknown` whose `raw` field holds the object's
//! message. The messages are decoded into the JSON the handlers take, by the field numbers of
//! Kubernetes' `generated.proto` files, for the kinds listed in [`schema_of`]; any other kind,
//! and any field not in its schema, is refused with a message naming it. Answers stay JSON, which
//! client-go accepts (`Accept: application/vnd.kubernetes.protobuf,application/json`).

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The protobuf media type of Kubernetes objects.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
/// Bytes before the `runtime.Unknown` envelope.
const MAGIC: &[u8] = b"k8s\0";

/// How one field's value is decoded.
#[derive(Clone, Copy)]
enum Kind {
    String,
    Bool,
    Int,
    /// `meta.v1.Time`: seconds and nanos, shown as RFC 3339.
    Time,
    Message(&'static Schema),
    /// `meta.v1.FieldsV1`: its one field (1) holds JSON text; JSON shows the object.
    FieldsV1,
    StringMap,
    BytesMap,
    Strings,
    Messages(&'static Schema),
}

/// A message: its name (for errors) and fields by number.
struct Schema {
    name: &'static str,
    fields: &'static [(u32, &'static str, Kind)],
}

static OWNER_REFERENCE: Schema = Schema {
    name: "OwnerReference",
    fields: &[
        (1, "kind", Kind::String),
        (3, "name", Kind::String),
        (4, "uid", Kind::String),
        (5, "apiVersion", Kind::String),
        (6, "controller", Kind::Bool),
        (7, "blockOwnerDeletion", Kind::Bool),
    ],
};

static MANAGED_FIELDS_ENTRY: Schema = Schema {
    name: "ManagedFieldsEntry",
    fields: &[
        (1, "manager", Kind::String),
        (2, "operation", Kind::String),
        (3, "apiVersion", Kind::String),
        (4, "time", Kind::Time),
        (6, "fieldsType", Kind::String),
        (7, "fieldsV1", Kind::FieldsV1),
        (8, "subresource", Kind::String),
    ],
};

static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[
        (1, "name", Kind::String),
        (2, "generateName", Kind::String),
        (3, "namespace", Kind::String),
        (4, "selfLink", Kind::String),
        (5, "uid", Kind::String),
        (6, "resourceVersion", Kind::String),
        (7, "generation", Kind::Int),
        (8, "creationTimestamp", Kind::Time),
        (9, "deletionTimestamp", Kind::Time),
        (10, "deletionGracePeriodSeconds", Kind::Int),
        (11, "labels", Kind::StringMap),
        (12, "annotations", Kind::StringMap),
        (13, "ownerReferences", Kind::Messages(&OWNER_REFERENCE)),
        (14, "finalizers", Kind::Strings),
        (17, "managedFields", Kind::Messages(&MANAGED_FIELDS_ENTRY)),
    ],
};

static SECRET: Schema = Schema {
    name: "Secret",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "data", Kind::BytesMap),
        (3, "type", Kind::String),
        (4, "stringData", Kind::StringMap),
        (5, "immutable", Kind::Bool),
    ],
};

static CONFIG_MAP: Schema = Schema {
    name: "ConfigMap",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "data", Kind::StringMap),
        (3, "binaryData", Kind::BytesMap),
        (4, "immutable", Kind::Bool),
    ],
};

static NAMESPACE_SPEC: Schema = Schema {
    name: "NamespaceSpec",
    fields: &[(1, "finalizers", Kind::Strings)],
};

static NAMESPACE_CONDITION: Schema = Schema {
    name: "NamespaceCondition",
    fields: &[
        (1, "type", Kind::String),
        (2, "status", Kind::String),
        (4, "lastTransitionTime", Kind::Time),
        (5, "reason", Kind::String),
        (6, "message", Kind::String),
    ],
};

static NAMESPACE_STATUS: Schema = Schema {
    name: "NamespaceStatus",
    fields: &[
        (1, "phase", Kind::String),
        (2, "conditions", Kind::Messages(&NAMESPACE_CONDITION)),
    ],
};

static NAMESPACE: Schema = Schema {
    name: "Namespace",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        (3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

static OBJECT_REFERENCE: Schema = Schema {
    name: "ObjectReference",
    fields: &[
        (1, "kind", Kind::String),
        (2, "namespace", Kind::String),
        (3, "name", Kind::String),
        (4, "uid", Kind::String),
        (5, "apiVersion", Kind::String),
        (6, "resourceVersion", Kind::String),
        (7, "fieldPath", Kind::String),
    ],
};

static LOCAL_OBJECT_REFERENCE: Schema = Schema {
    name: "LocalObjectReference",
    fields: &[(1, "name", Kind::String)],
};

static SERVICE_ACCOUNT: Schema = Schema {
    name: "ServiceAccount",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "secrets", Kind::Messages(&OBJECT_REFERENCE)),
        (
            3,
            "imagePullSecrets",
            Kind::Messages(&LOCAL_OBJECT_REFERENCE),
        ),
        (4, "automountServiceAccountToken", Kind::Bool),
    ],
};

static BOUND_OBJECT_REFERENCE: Schema = Schema {
    name: "BoundObjectReference",
    fields: &[
        (1, "kind", Kind::String),
        (2, "apiVersion", Kind::String),
        (3, "name", Kind::String),
        (4, "uid", Kind::String),
    ],
};

static TOKEN_REQUEST_SPEC: Schema = Schema {
    name: "TokenRequestSpec",
    fields: &[
        (1, "audiences", Kind::Strings),
        (3, "boundObjectRef", Kind::Message(&BOUND_OBJECT_REFERENCE)),
        (4, "expirationSeconds", Kind::Int),
    ],
};

static TOKEN_REQUEST_STATUS: Schema = Schema {
    name: "TokenRequestStatus",
    fields: &[
        (1, "token", Kind::String),
        (2, "expirationTimestamp", Kind::Time),
    ],
};

static TOKEN_REQUEST: Schema = Schema {
    name: "TokenRequest",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&TOKEN_REQUEST_SPEC)),
        (3, "status", Kind::Message(&TOKEN_REQUEST_STATUS)),
    ],
};

static RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "ResourceAttributes",
    fields: &[
        (1, "namespace", Kind::String),
        (2, "verb", Kind::String),
        (3, "group", Kind::String),
        (4, "version", Kind::String),
        (5, "resource", Kind::String),
        (6, "subresource", Kind::String),
        (7, "name", Kind::String),
    ],
};

static NON_RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "NonResourceAttributes",
    fields: &[(1, "path", Kind::String), (2, "verb", Kind::String)],
};

/// The spec of every access review: a self review sends only the attributes.
static ACCESS_REVIEW_SPEC: Schema = Schema {
    name: "SubjectAccessReviewSpec",
    fields: &[
        (1, "resourceAttributes", Kind::Message(&RESOURCE_ATTRIBUTES)),
        (
            2,
            "nonResourceAttributes",
            Kind::Message(&NON_RESOURCE_ATTRIBUTES),
        ),
        (3, "user", Kind::String),
        (4, "groups", Kind::Strings),
        (6, "uid", Kind::String),
    ],
};

static ACCESS_REVIEW_STATUS: Schema = Schema {
    name: "SubjectAccessReviewStatus",
    fields: &[
        (1, "allowed", Kind::Bool),
        (2, "reason", Kind::String),
        (3, "evaluationError", Kind::String),
        (4, "denied", Kind::Bool),
    ],
};

static ACCESS_REVIEW: Schema = Schema {
    name: "SubjectAccessReview",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "spec", Kind::Message(&ACCESS_REVIEW_SPEC)),
        (3, "status", Kind::Message(&ACCESS_REVIEW_STATUS)),
    ],
};

static USER_INFO: Schema = Schema {
    name: "UserInfo",
    fields: &[
        (1, "username", Kind::String),
        (2, "uid", Kind::String),
        (3, "groups", Kind::Strings),
    ],
};

static SELF_SUBJECT_REVIEW_STATUS: Schema = Schema {
    name: "SelfSubjectReviewStatus",
    fields: &[(1, "userInfo", Kind::Message(&USER_INFO))],
};

static SELF_SUBJECT_REVIEW: Schema = Schema {
    name: "SelfSubjectReview",
    fields: &[
        (1, "metadata", Kind::Message(&OBJECT_META)),
        (2, "status", Kind::Message(&SELF_SUBJECT_REVIEW_STATUS)),
    ],
};

/// The schema of a kind whose protobuf form is understood.
fn schema_of(api_version: &str, kind: &str) -> Option<&'static Schema> {
    match (api_version, kind) {
        ("v1", "Secret") => Some(&SECRET),
        ("v1", "ConfigMap") => Some(&CONFIG_MAP),
        ("v1", "Namespace") => Some(&NAMESPACE),
        ("v1", "ServiceAccount") => Some(&SERVICE_ACCOUNT),
        ("authentication.k8s.io/v1", "TokenRequest") => Some(&TOKEN_REQUEST),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => Some(&SELF_SUBJECT_REVIEW),
        (
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
        ) => Some(&ACCESS_REVIEW),
        _ => None,
    }
}

/// Whether a `Content-Type` is the Kubernetes protobuf one.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// Why a protobuf body could not be taken: the answer's status and message.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Malformed: 400.
    Invalid(String),
    /// A kind or field this emulator does not decode: 415.
    Unsupported(String),
}

/// The JSON object a protobuf request body holds.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| invalid("the body does not start with the protobuf magic k8s\\0"))?;
    let mut type_meta = (String::new(), String::new());
    let mut raw: &[u8] = &[];
    for field in Fields::new(envelope) {
        match field? {
            (1, Wire::Bytes(bytes)) => {
                for field in Fields::new(bytes) {
                    match field? {
                        (1, Wire::Bytes(text)) => type_meta.0 = utf8(text)?,
                        (2, Wire::Bytes(text)) => type_meta.1 = utf8(text)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            (3, Wire::Bytes(encoding)) if !encoding.is_empty() => {
                return Err(DecodeError::Unsupported(format!(
                    "protobuf content encoding {:?} is not supported",
                    String::from_utf8_lossy(encoding)
                )));
            }
            _ => {}
        }
    }
    let (api_version, kind) = type_meta;
    let schema = schema_of(&api_version, &kind).ok_or_else(|| {
        DecodeError::Unsupported(format!(
            "this emulator does not decode protobuf {api_version} {kind}: send application/json"
        ))
    })?;
    let mut object = message(schema, raw)?;
    let fields = object
        .as_object_mut()
        .expect("a message decodes to an object");
    fields.insert("apiVersion".into(), api_version.into());
    fields.insert("kind".into(), kind.into());
    Ok(object)
}

/// Whether an `Accept` header asks for protobuf first, as client-go's typed clients do
/// (`application/vnd.kubernetes.protobuf,application/json`).
pub fn preferred(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| is_protobuf(first.trim()))
}

/// The protobuf form of `object`, its schema picked by `apiVersion` and `kind`: `None` for a
/// kind without one, or an object with a field outside it (then the answer stays JSON, which
/// clients that ask for protobuf accept too).
pub fn encode(object: &Value) -> Option<Vec<u8>> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    let schema = schema_of(api_version, kind)?;
    let mut raw = Vec::new();
    encode_message(schema, object, &mut raw, &["apiVersion", "kind"])?;
    let mut type_meta = Vec::new();
    put_bytes(&mut type_meta, 1, api_version.as_bytes());
    put_bytes(&mut type_meta, 2, kind.as_bytes());
    let mut unknown = Vec::new();
    put_bytes(&mut unknown, 1, &type_meta);
    put_bytes(&mut unknown, 2, &raw);
    Some([MAGIC, &unknown].concat())
}

fn encode_message(schema: &Schema, value: &Value, out: &mut Vec<u8>, skip: &[&str]) -> Option<()> {
    for (key, field) in value.as_object()? {
        if field.is_null() || skip.contains(&key.as_str()) {
            continue;
        }
        let (number, _, kind) = schema.fields.iter().find(|(_, name, _)| name == key)?;
        let number = *number;
        match kind {
            Kind::String => put_bytes(out, number, field.as_str()?.as_bytes()),
            Kind::Bool => put_varint_field(out, number, u64::from(field.as_bool()?)),
            Kind::Int => put_varint_field(out, number, field.as_i64()? as u64),
            Kind::Time => {
                let at = chrono::DateTime::parse_from_rfc3339(field.as_str()?).ok()?;
                let mut time = Vec::new();
                put_varint_field(&mut time, 1, at.timestamp() as u64);
                put_bytes(out, number, &time);
            }
            Kind::Message(inner) => {
                let mut message = Vec::new();
                encode_message(inner, field, &mut message, &[])?;
                put_bytes(out, number, &message);
            }
            Kind::FieldsV1 => {
                let mut fields = Vec::new();
                put_bytes(&mut fields, 1, field.to_string().as_bytes());
                put_bytes(out, number, &fields);
            }
            Kind::Messages(inner) => {
                for item in field.as_array()? {
                    let mut message = Vec::new();
                    encode_message(inner, item, &mut message, &[])?;
                    put_bytes(out, number, &message);
                }
            }
            Kind::Strings => {
                for item in field.as_array()? {
                    put_bytes(out, number, item.as_str()?.as_bytes());
                }
            }
            Kind::StringMap | Kind::BytesMap => {
                for (key, value) in field.as_object()? {
                    let value = match kind {
                        Kind::BytesMap => base64::engine::general_purpose::STANDARD
                            .decode(value.as_str()?)
                            .ok()?,
                        _ => value.as_str()?.as_bytes().to_vec(),
                    };
                    let mut entry = Vec::new();
                    put_bytes(&mut entry, 1, key.as_bytes());
                    put_bytes(&mut entry, 2, &value);
                    put_bytes(out, number, &entry);
                }
            }
        }
    }
    Some(())
}

/// The protobuf wire writer, shared with `openapi_v2`'s document encoder.
pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

pub(super) fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, 0);
    put_varint(out, value);
}

pub(super) fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(message.into())
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid("a string field is not UTF-8"))
}

fn message(schema: &Schema, bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut object = Map::new();
    for field in Fields::new(bytes) {
        let (number, wire) = field?;
        let Some((_, name, kind)) = schema.fields.iter().find(|(n, _, _)| *n == number) else {
            return Err(DecodeError::Unsupported(format!(
                "field {number} of protobuf {} is not supported: send application/json",
                schema.name
            )));
        };
        let name = (*name).to_owned();
        match (*kind, wire) {
            // Go marshals every string field; an empty one is JSON's omitted field.
            (Kind::String, Wire::Bytes(text)) => {
                if !text.is_empty() {
                    object.insert(name, utf8(text)?.into());
                }
            }
            (Kind::Bool, Wire::Varint(value)) => {
                object.insert(name, (value != 0).into());
            }
            // int64 and int32 travel as two's complement varints. `generation` is the one
            // non-pointer integer here: Go always marshals it, and 0 is JSON's omitted field.
            (Kind::Int, Wire::Varint(value)) => {
                if !(value == 0 && name == "generation") {
                    object.insert(name, (value as i64).into());
                }
            }
            // Go sends a zero time (JSON's null) as an empty message.
            (Kind::Time, Wire::Bytes(bytes)) => {
                if let Some(time) = time(bytes)? {
                    object.insert(name, time.into());
                }
            }
            (Kind::Message(inner), Wire::Bytes(bytes)) => {
                object.insert(name, message(inner, bytes)?);
            }
            (Kind::FieldsV1, Wire::Bytes(bytes)) => {
                let mut fields = json!({});
                for field in Fields::new(bytes) {
                    if let (1, Wire::Bytes(raw)) = field? {
                        fields = serde_json::from_slice(raw)
                            .map_err(|_| invalid("fieldsV1 does not hold JSON"))?;
                    }
                }
                object.insert(name, fields);
            }
            (Kind::Messages(inner), Wire::Bytes(bytes)) => {
                push(&mut object, name, message(inner, bytes)?);
            }
            (Kind::Strings, Wire::Bytes(text)) => {
                push(&mut object, name, utf8(text)?.into());
            }
            (Kind::StringMap | Kind::BytesMap, Wire::Bytes(entry)) => {
                let (key, value) = map_entry(entry)?;
                let value = match kind {
                    Kind::BytesMap => base64(&value).into(),
                    _ => Value::String(
                        String::from_utf8(value)
                            .map_err(|_| invalid("a map value is not UTF-8"))?,
                    ),
                };
                object
                    .entry(name)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("a map is an object")
                    .insert(key, value);
            }
            _ => {
                return Err(invalid(format!(
                    "field {number} ({name}) of protobuf {} has the wrong wire type",
                    schema.name
                )));
            }
        }
    }
    Ok(Value::Object(object))
}

fn push(object: &mut Map<String, Value>, name: String, value: Value) {
    object
        .entry(name)
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("a repeated field is an array")
        .push(value);
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A map entry: key 1 (string), value 2.
fn map_entry(bytes: &[u8]) -> Result<(String, Vec<u8>), DecodeError> {
    let mut key = String::new();
    let mut value = Vec::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, Wire::Bytes(text)) => key = utf8(text)?,
            (2, Wire::Bytes(bytes)) => value = bytes.to_vec(),
            _ => return Err(invalid("a map entry has an unexpected field")),
        }
    }
    Ok((key, value))
}

/// `meta.v1.Time` (seconds 1, nanos 2) as RFC 3339 in UTC, whole seconds as Kubernetes shows
/// it; `None` for the zero time.
fn time(bytes: &[u8]) -> Result<Option<String>, DecodeError> {
    let mut seconds = 0i64;
    for field in Fields::new(bytes) {
        if let (1, Wire::Varint(value)) = field? {
            seconds = value as i64;
        }
    }
    if seconds == 0 {
        return Ok(None);
    }
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|at| Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
        .ok_or_else(|| invalid("a time is out of range"))
}

/// A field's wire value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one message, in order.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .rest
                .split_first()
                .ok_or_else(|| invalid("a varint runs past the end of the body"))?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a varint is longer than 10 bytes"))
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], DecodeError> {
        if length > self.rest.len() {
            return Err(invalid("a field runs past the end of the body"));
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(taken)
    }

    fn next_field(&mut self) -> Result<(u32, Wire<'a>), DecodeError> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| invalid("a field number is too large"))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let length = usize::try_from(self.varint()?)
                    .map_err(|_| invalid("a length is too large"))?;
                Wire::Bytes(self.take(length)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(invalid(format!("wire type {other} is not supported"))),
        };
        Ok((number, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.next_field();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf writer for the tests' bodies.
    #[derive(Default)]
    struct Writer(Vec<u8>);

    impl Writer {
        fn bytes(mut self, field: u32, bytes: &[u8]) -> Self {
            put_bytes(&mut self.0, field, bytes);
            self
        }

        fn int(mut self, field: u32, value: u64) -> Self {
            put_varint_field(&mut self.0, field, value);
            self
        }

        fn entry(self, field: u32, key: &str, value: &[u8]) -> Self {
            let entry = Writer::default().bytes(1, key.as_bytes()).bytes(2, value);
            self.bytes(field, &entry.0)
        }
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = Writer::default()
            .bytes(1, api_version.as_bytes())
            .bytes(2, kind.as_bytes());
        let unknown = Writer::default().bytes(1, &type_meta.0).bytes(2, raw);
        [MAGIC, &unknown.0].concat()
    }

    #[test]
    fn a_secret_decodes_to_its_json() {
        let time = Writer::default().int(1, 1_700_000_000);
        let meta = Writer::default()
            .bytes(1, b"db")
            .bytes(2, b"")
            .int(7, 0)
            .bytes(3, b"team-a")
            .bytes(8, &time.0)
            .entry(11, "app", b"web");
        let secret = Writer::default()
            .bytes(1, &meta.0)
            .entry(2, "password", b"s3cr\x00t")
            .bytes(3, b"Opaque")
            .int(5, 1);
        let decoded = decode(&envelope("v1", "Secret", &secret.0)).unwrap();
        assert_eq!(
            decoded,
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "db",
                    "namespace": "team-a",
                    "creationTimestamp": "2023-11-14T22:13:20Z",
                    "labels": {"app": "web"},
                },
                "data": {"password": "czNjcgB0"},
                "type": "Opaque",
                "immutable": true,
            })
        );
    }

    #[test]
    fn a_token_request_keeps_its_audiences_and_expiry() {
        let spec = Writer::default()
            .bytes(1, b"vault")
            .bytes(1, b"api")
            .int(4, 600);
        let request = Writer::default().bytes(2, &spec.0);
        let decoded = decode(&envelope(
            "authentication.k8s.io/v1",
            "TokenRequest",
            &request.0,
        ))
        .unwrap();
        assert_eq!(
            decoded["spec"],
            json!({"audiences": ["vault", "api"], "expirationSeconds": 600})
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused_by_name() {
        let DecodeError::Unsupported(kind) =
            decode(&envelope("apps/v1", "Deployment", &[])).unwrap_err()
        else {
            panic!("a kind without a schema is unsupported");
        };
        assert!(kind.contains("apps/v1 Deployment"), "{kind}");
        let unknown = Writer::default().bytes(9, b"x");
        let DecodeError::Unsupported(field) =
            decode(&envelope("v1", "Secret", &unknown.0)).unwrap_err()
        else {
            panic!("an unknown field is unsupported");
        };
        assert_eq!(
            field,
            "field 9 of protobuf Secret is not supported: send application/json"
        );
        assert!(matches!(
            decode(b"{\"kind\":\"Secret\"}"),
            Err(DecodeError::Invalid(_))
        ));
        let truncated = envelope("v1", "Secret", &Writer::default().bytes(1, b"abc").0);
        assert!(matches!(
            decode(&truncated[..truncated.len() - 1]),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn the_media_type_is_recognised_with_parameters() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf(
            "application/vnd.kubernetes.protobuf; charset=utf-8"
        ));
        assert!(!is_protobuf("application/json"));
    }

    #[test]
    fn an_access_review_reads_as_its_json_spec() {
        let attributes = Writer::default()
            .bytes(1, b"ns")
            .bytes(2, b"get")
            .bytes(5, b"secrets");
        let spec = Writer::default().bytes(1, &attributes.0);
        let review = Writer::default()
            .bytes(1, &[])
            .bytes(2, &spec.0)
            .bytes(3, &Writer::default().int(1, 0).0);
        let body = envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &review.0,
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {"resourceAttributes": {"namespace": "ns", "verb": "get", "resource": "secrets"}},
                "status": {"allowed": false},
            })
        );
    }

    #[test]
    fn objects_of_the_known_kinds_encode_and_decode_back() {
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "db",
                "namespace": "team-a",
                "uid": "1f0c",
                "resourceVersion": "12",
                "creationTimestamp": "2026-12-05T03:14:32Z",
                "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "db", "uid": "9a", "controller": true}],
                "managedFields": [{
                    "manager": "kubectl-create",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-12-05T03:14:32Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:a": {}}},
                }],
            },
            "data": {"a": "Yg=="},
            "type": "Opaque",
        });
        let encoded = encode(&secret).expect("a Secret encodes");
        assert_eq!(decode(&encoded).unwrap(), secret);
        assert_eq!(
            encode(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})),
            None
        );
        let with_unknown_field = json!({"apiVersion": "v1", "kind": "Secret", "stringly": 1});
        assert_eq!(
            encode(&with_unknown_field),
            None,
            "answered as JSON instead"
        );
        assert!(preferred(
            "application/vnd.kubernetes.protobuf,application/json"
        ));
        assert!(!preferred(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
    }
}
