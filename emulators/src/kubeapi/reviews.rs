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

/// A review's JSON body (the server turns protobuf and YAML bodies into JSON before this).
fn parse(body: &[u8], kind: &str) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({kind})"
            ))
        })
}

/// Answers a review created by `user`: the posted object with its `status` filled in.
pub fn answer(state: &State, user: &User, plural: &str, body: &[u8]) -> Result<Value, ApiError> {
    match plural {
        SELF_SUBJECT_REVIEWS => {
            let mut review = parse(body, "SelfSubjectReview")?;
            review["status"] = json!({"userInfo": {"username": user.name, "groups": user.groups}});
            Ok(stamp(
                review,
                "authentication.k8s.io/v1",
                "SelfSubjectReview",
            ))
        }
        SELF_SUBJECT_ACCESS_REVIEWS => {
            let mut review = parse(body, "SelfSubjectAccessReview")?;
            review["status"] = access(state, user, &review["spec"], "SelfSubjectAccessReview")?;
            Ok(stamp(
                review,
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
            ))
        }
        SUBJECT_ACCESS_REVIEWS => {
            let mut review = parse(body, "SubjectAccessReview")?;
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
