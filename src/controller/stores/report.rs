//! What a connection attempt tells users: the store's Ready condition and ESO's store metrics.

use std::time::Duration;

use akvsync_crds::constants::{CONDITION_READY, REASON_STORE_VALID};
use akvsync_crds::meta::find_condition;
use akvsync_crds::{
    ClusterSecretStore, Condition, SecretStore, SecretStoreCapabilities, SecretStoreStatus,
    StoreKind,
};
use kube::Api;
use tracing::warn;

use super::connector::StoreConnector;
use super::registry::StoreId;
use crate::azure::StoreError;
use crate::controller::status::{replace_ready, replace_status, same_condition};
use crate::observability::{Outcome, StoreKind as MetricsStoreKind};

/// The message of a store that connected.
pub const STORE_VALIDATED: &str = "store validated";

/// The message of a store that connected, whose principal may not list secrets: ESO's message,
/// then what it costs.
pub const STORE_VALIDATED_LISTING_FORBIDDEN: &str = "store validated; listing secrets is \
forbidden (403), so each refresh reads every secret it uses (one GET each) instead of proving \
them unchanged by the vault's listing: grant List to spare those reads";

/// Records a store's connection attempt: reconcile metrics, the Ready series, and its status.
pub async fn connected(
    connector: &StoreConnector,
    id: &StoreId,
    outcome: &Result<(), StoreError>,
    took: Duration,
) {
    let ended = if outcome.is_ok() {
        Outcome::Ready
    } else {
        Outcome::Failed
    };
    let metrics = &connector.metrics;
    metrics.reconciled(id.kind.into(), &id.namespace, &id.name, took, ended);
    let kind = match id.kind {
        StoreKind::SecretStore => MetricsStoreKind::SecretStore,
        StoreKind::ClusterSecretStore => MetricsStoreKind::ClusterSecretStore,
    };
    metrics.store_condition(kind, &id.namespace, &id.name, outcome.is_ok());
    let ready = match outcome {
        Ok(()) => Condition::new(CONDITION_READY, true, REASON_STORE_VALID, STORE_VALIDATED),
        Err(error) => Condition::new(CONDITION_READY, false, error.reason(), &error.to_string()),
    };
    write_ready(connector, id, ready).await;
}

/// Records whether a connected store's principal may list secrets, in its Ready message.
pub async fn listing_access(connector: &StoreConnector, id: &StoreId, allowed: bool) {
    let message = if allowed {
        STORE_VALIDATED
    } else {
        STORE_VALIDATED_LISTING_FORBIDDEN
    };
    let ready = Condition::new(CONDITION_READY, true, REASON_STORE_VALID, message);
    write_ready(connector, id, ready).await;
}

/// Writes the store's Ready condition; a failure is logged (the next attempt writes it again).
async fn write_ready(connector: &StoreConnector, id: &StoreId, ready: Condition) {
    let kube = connector.kube.clone();
    let result = match id.kind {
        StoreKind::SecretStore => {
            let api: Api<SecretStore> = Api::namespaced(kube, &id.namespace);
            write_status(&api, &id.name, ready, |store| store.status.clone()).await
        }
        StoreKind::ClusterSecretStore => {
            let api: Api<ClusterSecretStore> = Api::all(kube);
            write_status(&api, &id.name, ready, |store| store.status.clone()).await
        }
    };
    if let Err(error) = result {
        warn!(store = %id.name, namespace = %id.namespace, %error, "could not write store status");
    }
}

/// Writes the store's Ready condition and capabilities, when they changed.
async fn write_status<K>(
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
    let conditions = status.conditions.unwrap_or_default();
    let capable = status.capabilities == Some(SecretStoreCapabilities::ReadWrite);
    let unchanged = same_condition(find_condition(&conditions, CONDITION_READY), &ready);
    if unchanged && capable {
        return Ok(());
    }
    let status = SecretStoreStatus {
        conditions: Some(replace_ready(conditions, ready)),
        capabilities: Some(SecretStoreCapabilities::ReadWrite),
    };
    replace_status(api, name, &status).await
}
