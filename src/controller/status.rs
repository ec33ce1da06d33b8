//! The one way statuses are written: conditions that keep their transition time while their
//! status holds, and the whole status replaced through the status subresource.

use akvsync_crds::Condition;
use akvsync_crds::constants::CONDITION_READY;
use akvsync_crds::meta::find_condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{Patch, PatchParams};

/// `next` with the transition time of `previous` when the status did not flip, else now.
pub fn carry_transition(previous: Option<&Condition>, mut next: Condition) -> Condition {
    next.last_transition_time = match previous {
        Some(previous) if previous.status == next.status => previous.last_transition_time.clone(),
        _ => Some(Time(k8s_openapi::jiff::Timestamp::now())),
    };
    next
}

/// Whether two conditions say the same, ignoring when.
pub fn same_condition(a: Option<&Condition>, b: &Condition) -> bool {
    a.is_some_and(|a| a.status == b.status && a.reason == b.reason && a.message == b.message)
}

/// `conditions` with their Ready condition replaced by `ready` (which keeps the old one's
/// transition time while the status holds).
pub fn replace_ready(conditions: Vec<Condition>, ready: Condition) -> Vec<Condition> {
    let ready = carry_transition(find_condition(&conditions, CONDITION_READY), ready);
    let mut conditions: Vec<Condition> = conditions
        .into_iter()
        .filter(|condition| condition.type_ != CONDITION_READY)
        .collect();
    conditions.push(ready);
    conditions
}

/// Replaces a resource's whole status through the status subresource, with a JSON Patch that
/// adds `/status`: fields the new status leaves out are removed (a merge patch would keep them),
/// and no resourceVersion is sent, so a status write never fails on a version this reconcile did
/// not see (adding a finalizer bumps it). The operator is the only writer of these statuses.
pub async fn replace_status<K>(
    api: &Api<K>,
    name: &str,
    status: &impl serde::Serialize,
) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let status = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "add", "path": "/status", "value": status}
    ]))
    .map_err(kube::Error::SerdeError)?;
    api.patch_status(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map(drop)
}
