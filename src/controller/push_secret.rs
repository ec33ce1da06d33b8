//! The PushSecret reconciler: read the source Secret, plan the writes with the pure core, and
//! write, skip or delete each remote object through the store actors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, ProviderError, RemoteKey, RemoteValue};
use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_actors::store::{Delete, Fetch, Priority, Push, StoreRequestError};
use akvsync_crds::constants::{
    CONDITION_READY, FINALIZER_PUSH_SECRET, REASON_PUSH_ERRORED, REASON_PUSH_SOURCE_DELETED,
    REASON_PUSH_SYNCED,
};
use akvsync_crds::meta::find_condition;
use akvsync_crds::parse_go_duration;
use akvsync_crds::{
    Condition, PushSecret, PushSecretData, PushSecretDeletionPolicy, PushSecretSelector,
    PushSecretStatus, StoreKind, UpdatePolicy,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use super::common::{self, refresh_every, secret_bytes, spec_or_metadata_changed};
use super::context::Shared;
use super::status::{carry_transition, replace_status, same_condition};
use super::stores::VaultActor;
use crate::observability::{Outcome as MetricsOutcome, ResourceKind};
use crate::push::{
    DeleteDecision, PushError, PushItem, WriteDecision, kind_word, plan_push, prepare_delete,
    prepare_write, set_secret_failed_message, synced_message,
};

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
type Synced = BTreeMap<String, BTreeMap<String, PushSecretData>>;

/// A failure, with ESO's condition reason.
struct Failure {
    reason: &'static str,
    message: String,
}

impl Failure {
    fn errored(message: impl Into<String>) -> Self {
        Self {
            reason: REASON_PUSH_ERRORED,
            message: message.into(),
        }
    }
}

async fn reconcile(shared: &Shared, push: &PushSecret) -> Outcome {
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
            let (type_, outcome) = if failure.reason == REASON_PUSH_SOURCE_DELETED {
                (EventType::Normal, Outcome::Synced)
            } else {
                (EventType::Warning, Outcome::Failed)
            };
            publish(shared, push, type_, failure.reason, &failure.message).await;
            (
                Condition::new(CONDITION_READY, false, failure.reason, &failure.message),
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
) -> Result<Synced, (Failure, Option<Synced>)> {
    let namespace = push.namespace().unwrap_or_default();
    if let Some(interval) = &push.spec.refresh_interval
        && let Err(error) = parse_go_duration(interval)
    {
        return Err((
            Failure::errored(format!("spec.refreshInterval: {error}")),
            None,
        ));
    }
    let source = match read_source(shared, push).await {
        Ok(Some(source)) => source,
        Ok(None) => {
            if delete_policy && !previous.is_empty() {
                let cleaned = delete_entries(shared, &namespace, previous, &Synced::new()).await;
                return Err(match cleaned {
                    Ok(()) => (
                        Failure {
                            reason: REASON_PUSH_SOURCE_DELETED,
                            message: "source secret deleted; provider secrets cleaned up".into(),
                        },
                        Some(Synced::new()),
                    ),
                    Err(message) => (
                        Failure::errored(format!("failed to cleanup provider secrets: {message}")),
                        None,
                    ),
                });
            }
            return Err((Failure::errored(source_missing_message(push)), None));
        }
        Err(message) => return Err((Failure::errored(message), None)),
    };
    let stores = resolve_stores(shared, push);
    let if_not_exists = push.spec.update_policy.unwrap_or_default() == UpdatePolicy::IfNotExists;
    let items = plan_push(&push.spec, &source).map_err(|error| {
        let message = plan_failed_message(&error, &stores, if_not_exists);
        (Failure::errored(message), None)
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
            Err(error) => {
                return Err((
                    Failure::errored(error.to_string()),
                    Some(merge(previous, synced)),
                ));
            }
        };
        let entries = synced.entry(store_key).or_default();
        for item in items
            .iter()
            .filter(|item| applies_to(item, *kind, store_name))
        {
            let azure_sdk = shared.stores.uses_azure_sdk(*kind, store_name, &namespace);
            if let Err(error) = write_item(&actor, item, if_not_exists, azure_sdk).await {
                let message = write_failed_message(item, store_name, &error);
                return Err((Failure::errored(message), Some(merge(previous, synced))));
            }
            entries.insert(item.status_key.clone(), item.source.clone());
        }
    }
    if delete_policy
        && let Err(message) = delete_entries(shared, &namespace, previous, &synced).await
    {
        return Err((
            Failure::errored(delete_failed_message(&message)),
            Some(merge(previous, synced)),
        ));
    }
    Ok(synced)
}

/// The Ready message of a spec the plan refuses. An unknown object type is refused by ESO's
/// provider inside its write (or its `IfNotExists` existence check), so it gets that context.
fn plan_failed_message(
    error: &PushError,
    stores: &[(StoreKind, String)],
    if_not_exists: bool,
) -> String {
    match (error, stores.first()) {
        (PushError::UnsupportedObjectType { object_type, .. }, Some(_)) if if_not_exists => {
            format!(
                "set secret failed: could not verify if secret exists in store: secret type '{object_type}' is not supported"
            )
        }
        (PushError::UnsupportedObjectType { secret_key, .. }, Some((_, store))) => {
            set_secret_failed_message(secret_key, store, error)
        }
        _ => error.to_string(),
    }
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

/// Why a remote write did not happen, with the context ESO's Azure provider gives each step.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("{0}")]
    Push(#[from] PushError),
    /// `updatePolicy: IfNotExists` could not tell whether the object exists.
    #[error("could not verify if secret exists in store: {0}")]
    Exists(StoreRequestError),
    #[error("cannot get {} {}: {}{source}", kind_word(&.key.kind), .key.name, unexpected_api_error(source, !*.azure_sdk))]
    Get {
        key: RemoteKey,
        source: StoreRequestError,
        /// The store has `useAzureSDK: true`, whose path in ESO does not add the prefix.
        azure_sdk: bool,
    },
    #[error("{} {}: {source}", set_verb(&.key.kind), .key.name)]
    Set {
        key: RemoteKey,
        source: StoreRequestError,
    },
    /// keyvault_new_sdk.go (`useAzureSDK: true`) words a foreign object without the legacy
    /// path's `cannot get <kind> <name>:` context.
    #[error("{} {name} not managed by external-secrets", kind_word(.kind))]
    NotManagedAzureSdk { kind: ObjectKind, name: String },
    #[error("store actor unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
}

/// ESO's `canCreate` / `canDelete` wrap a Key Vault error answering the existence check (any
/// status but 404) in `unexpected api error: ` (on the legacy SDK path only, for writes).
fn unexpected_api_error(error: &StoreRequestError, applies: bool) -> &'static str {
    match error {
        StoreRequestError::Provider(_) if applies => "unexpected api error: ",
        _ => "",
    }
}

/// ESO's words for a failed write of each object type.
fn set_verb(kind: &ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "could not set secret",
        ObjectKind::Key => "could not import key",
        ObjectKind::Certificate => "could not import certificate",
    }
}

/// ESO's Ready message for a failed item: the existence check of `IfNotExists` is reported on
/// its own, every other failure as a failed write of the entry to the store.
fn write_failed_message(item: &PushItem, store_name: &str, error: &WriteError) -> String {
    match error {
        WriteError::Exists(_) => format!("set secret failed: {error}"),
        _ => {
            let secret_key = item.source.match_.secret_key.clone().unwrap_or_default();
            set_secret_failed_message(&secret_key, store_name, error)
        }
    }
}

async fn write_item(
    actor: &VaultActor,
    item: &PushItem,
    if_not_exists: bool,
    azure_sdk: bool,
) -> Result<(), WriteError> {
    let existing = fetch_latest(actor, item).await?.map_err(|source| {
        if if_not_exists {
            WriteError::Exists(source)
        } else {
            WriteError::Get {
                key: item.remote.clone(),
                source,
                azure_sdk,
            }
        }
    })?;
    if if_not_exists && existing.is_some() {
        return Ok(());
    }
    let decision = match prepare_write(item, existing.as_deref()) {
        Err(PushError::NotManaged { kind, name, .. }) if azure_sdk => {
            return Err(WriteError::NotManagedAzureSdk { kind, name });
        }
        decision => decision?,
    };
    match decision {
        WriteDecision::Write(request) => {
            actor
                .send(Push(request))
                .await?
                .map_err(|source| WriteError::Set {
                    key: item.remote.clone(),
                    source,
                })
        }
        WriteDecision::Unchanged => Ok(()),
    }
}

/// The remote object's latest version, `None` when it does not exist.
async fn fetch_latest(
    actor: &VaultActor,
    item: &PushItem,
) -> Result<Result<Option<Arc<RemoteValue>>, StoreRequestError>, actix::MailboxError> {
    let fetched = actor
        .send(Fetch {
            key: item.remote.clone(),
            max_age: Duration::ZERO,
            priority: Priority::Change,
        })
        .await?;
    Ok(match fetched {
        Ok(value) => Ok(Some(value)),
        Err(StoreRequestError::Provider(ProviderError::NotFound { .. })) => Ok(None),
        Err(error) => Err(error),
    })
}

/// Deletes the remote objects recorded in `previous` that `current` no longer holds.
async fn delete_entries(
    shared: &Shared,
    namespace: &str,
    previous: &Synced,
    current: &Synced,
) -> Result<(), String> {
    let labels = shared.namespaces.get(namespace);
    for (store_key, entries) in previous {
        let Some((kind, store_name)) = parse_store_key(store_key) else {
            continue;
        };
        let kept = current.get(store_key);
        for (status_key, data) in entries {
            if kept.is_some_and(|kept| kept.contains_key(status_key)) {
                continue;
            }
            let remote = crate::push::parse_remote_key(&data.match_.remote_ref.remote_key)
                .map_err(|e| e.to_string())?;
            let actor = shared
                .stores
                .actor_for(kind, store_name, namespace, &labels)
                .map_err(|e| e.to_string())?;
            let existing = match actor
                .send(Fetch {
                    key: remote.clone(),
                    max_age: Duration::ZERO,
                    priority: Priority::Change,
                })
                .await
            {
                Ok(Ok(value)) => Some(value),
                Ok(Err(StoreRequestError::Provider(ProviderError::NotFound { .. }))) => None,
                Ok(Err(error)) => {
                    return Err(format!(
                        "error getting {} {}: {}{error}",
                        kind_word(&remote.kind),
                        remote.name,
                        unexpected_api_error(&error, true)
                    ));
                }
                Err(error) => return Err(format!("store actor unavailable: {error}")),
            };
            let decision = match prepare_delete(&remote, existing.as_deref()) {
                // keyvault_new_sdk.go's canDeleteWithNewSDK leaves a foreign object alone and
                // reports success; the legacy path refuses with `not managed by external-secrets`.
                Err(PushError::NotManaged { .. })
                    if shared.stores.uses_azure_sdk(kind, store_name, namespace) =>
                {
                    DeleteDecision::AlreadyGone
                }
                decision => decision.map_err(|e| e.to_string())?,
            };
            match decision {
                DeleteDecision::AlreadyGone => {}
                DeleteDecision::Delete(key) => match actor.send(Delete(key)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        return Err(format!(
                            "error deleting {} {}: {error}",
                            kind_word(&remote.kind),
                            remote.name
                        ));
                    }
                    Err(error) => return Err(format!("store actor unavailable: {error}")),
                },
            }
        }
    }
    Ok(())
}

/// ESO's Ready message when remote objects could not be deleted.
fn delete_failed_message(cause: &str) -> String {
    format!("Failed to Delete Secrets from Provider: {cause}")
}

/// On deletion with `deletionPolicy: Delete`, removes every remote object, then the finalizer.
/// A failed delete keeps the finalizer, reports `Ready=False` with ESO's message and an Event,
/// and is retried: the finalizer never goes while a remote object it owns may remain.
async fn finalize(
    shared: &Shared,
    push: &PushSecret,
    api: &Api<PushSecret>,
    previous: &Synced,
) -> Outcome {
    if !push.finalizers().iter().any(|f| f == FINALIZER_PUSH_SECRET) {
        return Outcome::Synced;
    }
    let namespace = push.namespace().unwrap_or_default();
    if push.spec.deletion_policy.unwrap_or_default() == PushSecretDeletionPolicy::Delete
        && let Err(cause) = delete_entries(shared, &namespace, previous, &Synced::new()).await
    {
        let message = delete_failed_message(&cause);
        publish(
            shared,
            push,
            EventType::Warning,
            REASON_PUSH_ERRORED,
            &message,
        )
        .await;
        let ready = Condition::new(CONDITION_READY, false, REASON_PUSH_ERRORED, &message);
        if let Err(error) = write_status(api, push, ready, None).await {
            warn!(name = %push.name_any(), %error, "could not write PushSecret status");
        }
        return Outcome::Failed;
    }
    let finalizers: Vec<&String> = push
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER_PUSH_SECRET)
        .collect();
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": push.resource_version()}});
    match api
        .patch(
            &push.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Outcome::Synced,
        Err(error) => {
            warn!(name = %push.name_any(), %error, "could not remove the PushSecret finalizer");
            Outcome::Failed
        }
    }
}

/// ESO keeps a finalizer only while `deletionPolicy` is Delete.
async fn ensure_finalizer(
    api: &Api<PushSecret>,
    push: &PushSecret,
    wanted: bool,
) -> Result<(), kube::Error> {
    let has = push.finalizers().iter().any(|f| f == FINALIZER_PUSH_SECRET);
    if has == wanted {
        return Ok(());
    }
    let mut finalizers: Vec<String> = push
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER_PUSH_SECRET)
        .cloned()
        .collect();
    if wanted {
        finalizers.push(FINALIZER_PUSH_SECRET.to_owned());
    }
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": push.resource_version()}});
    api.patch(
        &push.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(drop)
}

/// The source Secret's data; `None` when a named source does not exist.
async fn read_source(
    shared: &Shared,
    push: &PushSecret,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    let secrets: Api<Secret> =
        Api::namespaced(shared.kube.clone(), &push.namespace().unwrap_or_default());
    match &push.spec.selector {
        PushSecretSelector::GeneratorRef(_) => {
            Err("spec.selector.generatorRef is not supported by akvsync".into())
        }
        PushSecretSelector::Secret(source) => match (&source.name, &source.selector) {
            (Some(name), _) => match secrets.get_opt(name).await {
                Ok(secret) => Ok(secret.map(secret_bytes)),
                Err(error) => Err(format!("could not get source secret {name}: {error}")),
            },
            (None, Some(selector)) => {
                let selector = super::namespaces::label_selector_string(selector);
                let list = secrets
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(|error| format!("could not list source secrets: {error}"))?;
                match list.items.len() {
                    0 => Ok(None),
                    1 => Ok(list.items.into_iter().next().map(secret_bytes)),
                    found => Err(format!(
                        "spec.selector.secret.selector matches {found} Secrets; akvsync pushes from exactly one"
                    )),
                }
            }
            (None, None) => Err("spec.selector.secret needs a name or a selector".into()),
        },
    }
}

/// ESO's "could not get source secret", naming what was looked for.
fn source_missing_message(push: &PushSecret) -> String {
    let namespace = push.namespace().unwrap_or_default();
    let what = match &push.spec.selector {
        PushSecretSelector::Secret(source) => match (&source.name, &source.selector) {
            (Some(name), _) => format!("Secret {namespace}/{name} not found"),
            (None, Some(selector)) => format!(
                "no Secret in namespace {namespace} matches spec.selector.secret.selector {}",
                super::namespaces::label_selector_string(selector)
            ),
            (None, None) => "spec.selector.secret names no Secret".to_owned(),
        },
        PushSecretSelector::GeneratorRef(_) => "spec.selector.generatorRef".to_owned(),
    };
    format!("could not get source secret: {what}")
}

/// The stores `secretStoreRefs` names, by name or label selector.
fn resolve_stores(shared: &Shared, push: &PushSecret) -> Vec<(StoreKind, String)> {
    let namespace = push.namespace().unwrap_or_default();
    let mut stores = BTreeSet::new();
    for reference in &push.spec.secret_store_refs {
        let kind = reference.kind.unwrap_or_default();
        match (&reference.name, &reference.label_selector) {
            (Some(name), _) => {
                stores.insert((kind_name(kind), name.clone()));
            }
            (None, Some(selector)) => {
                for name in shared.stores.matching(kind, &namespace, selector) {
                    stores.insert((kind_name(kind), name));
                }
            }
            (None, None) => {}
        }
    }
    stores
        .into_iter()
        .filter_map(|(kind, name)| {
            parse_store_key(&format!("{kind}/{name}")).map(|(kind, _)| (kind, name))
        })
        .collect()
}

/// Whether a `dataTo` item's store reference (if any) names this store.
fn applies_to(item: &PushItem, kind: StoreKind, name: &str) -> bool {
    item.store_filter.as_ref().is_none_or(|filter| {
        filter.kind.unwrap_or_default() == kind && filter.name.as_deref().is_none_or(|n| n == name)
    })
}

fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretStore => "SecretStore",
        StoreKind::ClusterSecretStore => "ClusterSecretStore",
    }
}

fn parse_store_key(key: &str) -> Option<(StoreKind, &str)> {
    match key.split_once('/')? {
        ("SecretStore", name) => Some((StoreKind::SecretStore, name)),
        ("ClusterSecretStore", name) => Some((StoreKind::ClusterSecretStore, name)),
        _ => None,
    }
}

async fn publish(shared: &Shared, push: &PushSecret, type_: EventType, reason: &str, note: &str) {
    common::publish(shared, push, type_, "Push", reason, note).await;
}

async fn write_status(
    api: &Api<PushSecret>,
    push: &PushSecret,
    ready: Condition,
    synced: Option<Synced>,
) -> Result<(), kube::Error> {
    let current = push.status.clone().unwrap_or_default();
    let conditions = current.conditions.clone().unwrap_or_default();
    let previous = find_condition(&conditions, CONDITION_READY);
    let synced = synced.or_else(|| current.synced_push_secrets.clone());
    let version = push.metadata.generation.unwrap_or_default().to_string();
    if same_condition(previous, &ready)
        && current.synced_push_secrets == synced
        && current.synced_resource_version.as_deref() == Some(version.as_str())
    {
        return Ok(());
    }
    let ready = carry_transition(previous, ready);
    let status = PushSecretStatus {
        refresh_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
        synced_resource_version: Some(version),
        synced_push_secrets: synced,
        conditions: Some(vec![ready]),
    };
    replace_status(api, &push.name_any(), &status).await
}
