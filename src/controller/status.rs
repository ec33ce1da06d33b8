//! Status writes: conditions that keep their transition time while their status holds, and
//! patches only when something changed.

use akvsync_crds::constants::{CONDITION_READY, REASON_STORE_VALID};
use akvsync_crds::meta::find_condition;
use akvsync_crds::{
    ClusterSecretStore, Condition, SecretStore, SecretStoreCapabilities, SecretStoreStatus,
    StoreKind,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tracing::warn;

use super::context::Shared;
use super::stores::StoreId;
use crate::azure::StoreError;
use crate::observability::StoreKind as MetricsStoreKind;

/// The message of a store that connected.
pub const STORE_VALIDATED: &str = "store validated";

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

/// Writes a store's Ready condition after a connection attempt.
pub async fn write_store_status(shared: &Shared, id: &StoreId, outcome: &Result<(), StoreError>) {
    let ready = match outcome {
        Ok(()) => Condition::new(CONDITION_READY, true, REASON_STORE_VALID, STORE_VALIDATED),
        Err(error) => Condition::new(CONDITION_READY, false, error.reason(), &error.to_string()),
    };
    let kind = match id.kind {
        StoreKind::SecretStore => MetricsStoreKind::SecretStore,
        StoreKind::ClusterSecretStore => MetricsStoreKind::ClusterSecretStore,
    };
    shared
        .metrics
        .store_condition(kind, &id.namespace, &id.name, outcome.is_ok());
    let result = match id.kind {
        StoreKind::SecretStore => {
            let api: Api<SecretStore> = Api::namespaced(shared.kube.clone(), &id.namespace);
            patch_store(&api, &id.name, ready, |store| store.status.clone()).await
        }
        StoreKind::ClusterSecretStore => {
            let api: Api<ClusterSecretStore> = Api::all(shared.kube.clone());
            patch_store(&api, &id.name, ready, |store| store.status.clone()).await
        }
    };
    if let Err(error) = result {
        warn!(store = %id.name, namespace = %id.namespace, %error, "could not write store status");
    }
}

async fn patch_store<K>(
    api: &Api<K>,
    name: &str,
    ready: Condition,
    status_of: impl Fn(&K) -> Option<SecretStoreStatus>,
) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(current) = api.get_opt(name).await? else {
        return Ok(());
    };
    let status = status_of(&current).unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let previous = find_condition(&conditions, CONDITION_READY);
    if same_condition(previous, &ready)
        && status.capabilities == Some(SecretStoreCapabilities::ReadWrite)
    {
        return Ok(());
    }
    let ready = carry_transition(previous, ready);
    let mut conditions: Vec<Condition> = conditions
        .into_iter()
        .filter(|c| c.type_ != CONDITION_READY)
        .collect();
    conditions.push(ready);
    let status = SecretStoreStatus {
        conditions: Some(conditions),
        capabilities: Some(SecretStoreCapabilities::ReadWrite),
    };
    replace_status(api, name, &status).await
}
