//! The review APIs, answered and never stored: `SelfSubjectReview` (`kubectl auth whoami`),
//! `SelfSubjectAccessReview` (`kubectl auth can-i`) and `SubjectAccessReview`, all create-only
//! and cluster-scoped (namespaced `LocalSubjectAccessReview` is not served). Access reviews are
//! answered by the same RBAC evaluation that guards every request.

use serde_json::{Value, json};

use super::auth::{self, Attributes, User};
use super::errors::{ApiError, FieldCause};
use super::handlers::State;

/// `selfsubjectreviews` in `authentication.k8s.io/v1`.
pub const SELF_SUBJECT_REVIEWS: &str = "selfsubjectreviews";
/// `selfsubjectaccessreviews` in `authorization.k8s.io/v1`.
pub const SELF_SUBJECT_ACCESS_REVIEWS: &str = "selfsubjectaccessreviews";
/// `subjectaccessreviews` in `authorization.k8s.io/v1`.
pub const SUBJECT_ACCESS_REVIEWS: &str = "subjectaccessreviews";

/// Whether every authenticated user may create this review without an RBAC grant: on a real
/// cluster the bootstrap ClusterRole `system:basic-user`, bound to `system:authenticated`,
/// grants exactly these.
pub fn open_to_everyone(plural: &str) -> bool {
    plural == SELF_SUBJECT_REVIEWS || plural == SELF_SUBJECT_ACCESS_REVIEWS
}

/// Media type of Kubernetes protobuf bodies, which typed client-go clients (kubectl auth …)
/// send for built-in kinds.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// Prefix of every Kubernetes protobuf body.
const PROTOBUF_MAGIC: &[u8] = b"k8s\0";

fn parse(body: &[u8], content_type: &str, kind: &str) -> Result<Value, ApiError> {
    let parsed = if content_type.starts_with(PROTOBUF) {
        protobuf::review(body)
    } else {
        serde_json::from_slice::<Value>(body).ok()
    };
    parsed
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({kind})"
            ))
        })
}

/// Answers a review created by `user`: the posted object with its `status` filled in.
pub fn answer(
    state: &State,
    user: &User,
    plural: &str,
    body: &[u8],
    content_type: &str,
) -> Result<Value, ApiError> {
    match plural {
        SELF_SUBJECT_REVIEWS => {
            let mut review = parse(body, content_type, "SelfSubjectReview")?;
            review["status"] = json!({"userInfo": {"username": user.name, "groups": user.groups}});
            Ok(stamp(
                review,
                "authentication.k8s.io/v1",
                "SelfSubjectReview",
            ))
        }
        SELF_SUBJECT_ACCESS_REVIEWS => {
            let mut review = parse(body, content_type, "SelfSubjectAccessReview")?;
            review["status"] = access(state, user, &review["spec"], "SelfSubjectAccessReview")?;
            Ok(stamp(
                review,
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
            ))
        }
        SUBJECT_ACCESS_REVIEWS => {
            let mut review = parse(body, content_type, "SubjectAccessReview")?;
            let spec = &review["spec"];
            let name = spec["user"].as_str().unwrap_or_default();
            let groups: Vec<String> = spec["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            if name.is_empty() && groups.is_empty() {
                return Err(ApiError::invalid(
                    "SubjectAccessReview",
                    "authorization.k8s.io",
                    "",
                    vec![FieldCause::invalid(
                        "spec.user",
                        &json!(""),
                        "at least one of user or group must be specified",
                    )],
                ));
            }
            let subject = User {
                name: name.to_owned(),
                groups,
            };
            review["status"] = access(state, &subject, spec, "SubjectAccessReview")?;
            Ok(stamp(
                review,
                "authorization.k8s.io/v1",
                "SubjectAccessReview",
            ))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn stamp(mut review: Value, api_version: &str, kind: &str) -> Value {
    review["apiVersion"] = json!(api_version);
    review["kind"] = json!(kind);
    if !review["metadata"].is_object() {
        review["metadata"] = json!({});
    }
    review["metadata"]["creationTimestamp"] = Value::Null;
    review
}

/// `status` of an access review: whether RBAC allows `subject` what `spec` asks.
fn access(state: &State, subject: &User, spec: &Value, kind: &str) -> Result<Value, ApiError> {
    let decision = if let Some(resource) = spec.get("resourceAttributes").filter(|r| r.is_object())
    {
        let text = |name: &str| resource[name].as_str().unwrap_or_default().to_owned();
        let group = text("group");
        let plural = text("resource");
        let attributes = Attributes {
            verb: text("verb"),
            qualified: if group.is_empty() {
                plural.clone()
            } else {
                format!("{plural}.{group}")
            },
            group,
            resource: plural,
            subresource: text("subresource"),
            namespace: Some(text("namespace")).filter(|namespace| !namespace.is_empty()),
            name: Some(text("name")).filter(|name| !name.is_empty()),
        };
        auth::decide(state, subject, &attributes)
    } else if let Some(non_resource) = spec.get("nonResourceAttributes").filter(|r| r.is_object()) {
        auth::decide_non_resource(
            state,
            subject,
            non_resource["verb"].as_str().unwrap_or_default(),
            non_resource["path"].as_str().unwrap_or_default(),
        )
    } else {
        return Err(ApiError::invalid(
            kind,
            "authorization.k8s.io",
            "",
            vec![FieldCause::invalid(
                "spec.resourceAttributes",
                &Value::Null,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )],
        ));
    };
    Ok(match decision {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false}),
    })
}

/// Just enough of the Kubernetes protobuf encoding to read a review's spec: the `runtime.Unknown`
/// envelope (`k8s\0` + {typeMeta 1, raw 2}) and the `authorization.k8s.io/v1` spec messages
/// (`ResourceAttributes`, `NonResourceAttributes`, `user`, `groups`). Answers go out as JSON,
/// which clients accept alongside protobuf.
mod protobuf {
    use serde_json::{Map, Value, json};

    /// One field: its number and, for length-delimited fields, its bytes.
    fn fields(mut bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
        let mut fields = Vec::new();
        while !bytes.is_empty() {
            let (key, rest) = varint(bytes)?;
            bytes = rest;
            match key & 7 {
                0 => bytes = varint(bytes)?.1,
                1 => bytes = bytes.get(8..)?,
                2 => {
                    let (length, rest) = varint(bytes)?;
                    let length = usize::try_from(length).ok()?;
                    fields.push((key >> 3, rest.get(..length)?));
                    bytes = rest.get(length..)?;
                }
                5 => bytes = bytes.get(4..)?,
                _ => return None,
            }
        }
        Some(fields)
    }

    fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
        let mut value = 0u64;
        for (index, byte) in bytes.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Some((value, &bytes[index + 1..]));
            }
        }
        None
    }

    fn strings(message: &[u8], names: &[(u64, &str)]) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        for (field, bytes) in fields(message)? {
            if let Some((_, name)) = names.iter().find(|(number, _)| *number == field) {
                map.insert((*name).to_owned(), json!(String::from_utf8_lossy(bytes)));
            }
        }
        Some(map)
    }

    /// The JSON form of a protobuf-encoded review (spec only; metadata and status are dropped).
    pub fn review(body: &[u8]) -> Option<Value> {
        let envelope = fields(body.strip_prefix(super::PROTOBUF_MAGIC)?)?;
        let raw = envelope.iter().find(|(field, _)| *field == 2)?.1;
        let mut spec = Map::new();
        let mut groups = Vec::new();
        for (field, bytes) in fields(raw)? {
            if field != 2 {
                continue;
            }
            for (spec_field, value) in fields(bytes)? {
                match spec_field {
                    1 => {
                        let attributes = strings(
                            value,
                            &[
                                (1, "namespace"),
                                (2, "verb"),
                                (3, "group"),
                                (4, "version"),
                                (5, "resource"),
                                (6, "subresource"),
                                (7, "name"),
                            ],
                        )?;
                        spec.insert("resourceAttributes".into(), Value::Object(attributes));
                    }
                    2 => {
                        let attributes = strings(value, &[(1, "path"), (2, "verb")])?;
                        spec.insert("nonResourceAttributes".into(), Value::Object(attributes));
                    }
                    3 => {
                        spec.insert("user".into(), json!(String::from_utf8_lossy(value)));
                    }
                    4 => groups.push(json!(String::from_utf8_lossy(value))),
                    _ => {}
                }
            }
        }
        if !groups.is_empty() {
            spec.insert("groups".into(), Value::Array(groups));
        }
        Some(json!({"metadata": {}, "spec": spec}))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_protobuf_access_review_reads_as_its_json_spec() {
            // k8s\0, Unknown{typeMeta{}, raw: SelfSubjectAccessReview{metadata{}, spec{
            // resourceAttributes{namespace "ns", verb "get", resource "secrets"}}}}
            let attributes = [
                &[0x0a, 2][..],
                b"ns",
                &[0x12, 3],
                b"get",
                &[0x2a, 7],
                b"secrets",
            ]
            .concat();
            let spec = [&[0x0a, attributes.len() as u8][..], &attributes].concat();
            let raw = [&[0x0a, 0][..], &[0x12, spec.len() as u8], &spec].concat();
            let body = [&b"k8s\0"[..], &[0x0a, 0, 0x12, raw.len() as u8], &raw].concat();
            assert_eq!(
                review(&body),
                Some(
                    json!({"metadata": {}, "spec": {"resourceAttributes": {"namespace": "ns", "verb": "get", "resource": "secrets"}}})
                )
            );
        }
    }
}
