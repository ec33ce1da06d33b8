//! The PushSecret reconciler: read the source Secret ([`source`]), plan the writes with the pure
//! core (`crate::push`), write, skip or delete each remote object through the store actors
//! ([`remote`]), and keep the finalizer until what it owns is gone ([`finalizer`]).

mod error;
mod finalizer;
mod remote;
mod source;

use std::collections::BTreeMap;
use std::sync::Arc;

use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_crds::constants::{CONDITION_READY, REASON_PUSH_SYNCED};
use akvsync_crds::meta::find_condition;
use akvsync_crds::parse_go_duration;
use akvsync_crds::{
    Condition, PushSecret, PushSecretData, PushSecretDeletionPolicy, PushSecretStatus, UpdatePolicy,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use tracing::{debug, warn};

use self::error::PushFailure;
use self::finalizer::{ensure_finalizer, finalize};
use self::remote::{delete_entries, write_item};
use self::source::{applies_to, kind_name, missing_source, read_source, resolve_stores};
use super::common::{self, refresh_every, spec_or_metadata_changed};
use super::context::Shared;
use super::status::{replace_ready, replace_status, same_condition};
use crate::observability::{Outcome as MetricsOutcome, ResourceKind};
use crate::push::{plan_push, synced_message};

pub struct PushSecretReconciler {
    shared: Shared,
}

impl PushSecretReconciler {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

impl Reconciler for PushSecretReconciler {
    type Resource = PushSecret;

    fn reconcile(&self, push: Arc<PushSecret>, _: Trigger) -> BoxFuture<'static, Outcome> {
        let shared = self.shared.clone();
        async move { reconcile(&shared, &push).await }.boxed()
    }

    fn refresh(&self, push: &PushSecret) -> Refresh {
        refresh_every(push.spec.refresh_interval.as_deref())
    }

    fn changed(&self, current: &PushSecret, next: &PushSecret) -> bool {
        spec_or_metadata_changed(current, next)
    }
}

/// `status.syncedPushSecrets`: `"<Kind>/<store>"` → status key → the entry pushed.
pub type Synced = BTreeMap<String, BTreeMap<String, PushSecretData>>;

async fn reconcile(shared: &Shared, push: &PushSecret) -> Outcome {
    if source::only_foreign_stores(shared, push) {
        debug!(name = %push.name_any(), "pushes only to stores of another controller class, left alone");
        return Outcome::Synced;
    }
    let _in_flight = shared.in_flight.enter();
    let _worker = shared.metrics.reconcile_started(ResourceKind::PushSecret);
    let started = tokio::time::Instant::now();
    let outcome = reconcile_once(shared, push).await;
    let metrics_outcome = match outcome {
        Outcome::Failed => MetricsOutcome::Failed,
        Outcome::Synced | Outcome::NotDue(_) => MetricsOutcome::Ready,
    };
    shared.metrics.push_reconciled(
        &push.namespace().unwrap_or_default(),
        &push.name_any(),
        started.elapsed(),
        metrics_outcome,
    );
    outcome
}

async fn reconcile_once(shared: &Shared, push: &PushSecret) -> Outcome {
    let api: Api<PushSecret> =
        Api::namespaced(shared.kube.clone(), &push.namespace().unwrap_or_default());
    let delete_policy =
        push.spec.deletion_policy.unwrap_or_default() == PushSecretDeletionPolicy::Delete;
    let previous: Synced = push
        .status
        .as_ref()
        .and_then(|s| s.synced_push_secrets.clone())
        .unwrap_or_default();
    if push.meta().deletion_timestamp.is_some() {
        return finalize(shared, push, &api, &previous).await;
    }
    if let Err(error) = ensure_finalizer(&api, push, delete_policy).await {
        warn!(name = %push.name_any(), %error, "could not update the PushSecret's finalizers");
        return Outcome::Failed;
    }
    let result = sync(shared, push, &previous, delete_policy).await;
    let (ready, synced, outcome) = match result {
        Ok(synced) => {
            let message = synced_message(push.spec.update_policy.unwrap_or_default());
            (
                Condition::new(CONDITION_READY, true, REASON_PUSH_SYNCED, &message),
                Some(synced),
                Outcome::Synced,
            )
        }
        Err((failure, synced)) => {
            // ESO: a failure is a Warning `Errored`; a cleaned-up source deletion a Normal
            // `SourceDeleted`, and nothing is left to retry.
            let (type_, outcome) = match failure {
                PushFailure::SourceDeleted => (EventType::Normal, Outcome::Synced),
                _ => (EventType::Warning, Outcome::Failed),
            };
            let message = failure.to_string();
            if outcome == Outcome::Failed {
                warn!(namespace = %push.namespace().unwrap_or_default(), name = %push.name_any(), category = failure.category(), %message, "push failed");
            }
            publish(shared, push, type_, failure.reason(), &message).await;
            (
                Condition::new(CONDITION_READY, false, failure.reason(), &message),
                synced,
                outcome,
            )
        }
    };
    match write_status(&api, push, ready, synced).await {
        Ok(()) => outcome,
        Err(error) => {
            // The recorded entries are what a later delete removes: retry until they are stored.
            warn!(name = %push.name_any(), %error, "could not write PushSecret status");
            Outcome::Failed
        }
    }
}

/// Pushes every item to every store; returns what is synced now, or the failure and what is
/// synced so far (entries that were written stay recorded, so a later delete finds them).
async fn sync(
    shared: &Shared,
    push: &PushSecret,
    previous: &Synced,
    delete_policy: bool,
) -> Result<Synced, (PushFailure, Option<Synced>)> {
    let namespace = push.namespace().unwrap_or_default();
    if let Some(interval) = &push.spec.refresh_interval
        && let Err(error) = parse_go_duration(interval)
    {
        return Err((PushFailure::RefreshInterval(error.to_string()), None));
    }
    let source = match read_source(shared, push).await {
        Ok(Some(source)) => source,
        Ok(None) => {
            if delete_policy && !previous.is_empty() {
                let cleaned = delete_entries(shared, &namespace, previous, &Synced::new()).await;
                return Err(match cleaned {
                    Ok(()) => (PushFailure::SourceDeleted, Some(Synced::new())),
                    Err(error) => (PushFailure::Cleanup(error), None),
                });
            }
            return Err((PushFailure::SourceMissing(missing_source(push)), None));
        }
        Err(error) => return Err((error.into(), None)),
    };
    let stores = resolve_stores(shared, push);
    let if_not_exists = push.spec.update_policy.unwrap_or_default() == UpdatePolicy::IfNotExists;
    let items = plan_push(&push.spec, &source).map_err(|error| {
        let failure = PushFailure::Plan {
            error,
            first_store: stores.first().map(|(_, name)| name.clone()),
            if_not_exists,
        };
        (failure, None)
    })?;
    let mut synced = Synced::new();
    for (kind, store_name) in &stores {
        let store_key = format!("{}/{store_name}", kind_name(*kind));
        let labels = shared.namespaces.get(&namespace);
        let actor = match shared
            .stores
            .actor_for(*kind, store_name, &namespace, &labels)
        {
            Ok(actor) => actor,
            Err(error) => return Err((error.into(), Some(merge(previous, synced)))),
        };
        let entries = synced.entry(store_key).or_default();
        let tenant = shared.tenant(&namespace);
        for item in items
            .iter()
            .filter(|item| applies_to(item, *kind, store_name))
        {
            let azure_sdk = shared.stores.uses_azure_sdk(*kind, store_name, &namespace);
            if let Err(error) = write_item(&actor, item, if_not_exists, azure_sdk, &tenant).await {
                let failure = PushFailure::write(item, store_name, error);
                return Err((failure, Some(merge(previous, synced))));
            }
            entries.insert(item.status_key.clone(), item.source.clone());
        }
    }
    if delete_policy && let Err(error) = delete_entries(shared, &namespace, previous, &synced).await
    {
        return Err((PushFailure::Delete(error), Some(merge(previous, synced))));
    }
    Ok(synced)
}

/// What a failed sync records: the new entries, plus old ones not yet cleaned up.
fn merge(previous: &Synced, mut synced: Synced) -> Synced {
    for (store, entries) in previous {
        let target = synced.entry(store.clone()).or_default();
        for (key, data) in entries {
            target.entry(key.clone()).or_insert_with(|| data.clone());
        }
    }
    synced
}

pub async fn publish(
    shared: &Shared,
    push: &PushSecret,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    common::publish(shared, push, type_, "Push", reason, note).await;
}

pub async fn write_status(
    api: &Api<PushSecret>,
    push: &PushSecret,
    ready: Condition,
    synced: Option<Synced>,
) -> Result<(), kube::Error> {
    let current = push.status.clone().unwrap_or_default();
    let conditions = current.conditions.unwrap_or_default();
    let synced = synced.or(current.synced_push_secrets.clone());
    let version = push.metadata.generation.unwrap_or_default().to_string();
    if same_condition(find_condition(&conditions, CONDITION_READY), &ready)
        && current.synced_push_secrets == synced
        && current.synced_resource_version.as_deref() == Some(version.as_str())
    {
        return Ok(());
    }
    let status = PushSecretStatus {
        refresh_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
        synced_resource_version: Some(version),
        synced_push_secrets: synced,
        conditions: Some(replace_ready(conditions, ready)),
    };
    replace_status(api, &push.name_any(), &status).await
}
