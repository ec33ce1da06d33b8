//! The ExternalSecret reconciler: resolve stores, fetch through their actors, build the Secret
//! with the pure core, apply it, and report status and events. The resource actor schedules it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, ProviderError, RemoteKey};
use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_actors::store::{Fetch, List, Priority, StoreRequestError};
use akvsync_crds::constants::{
    ANNOTATION_DATA_HASH, CONDITION_READY, EVENT_REASON_CREATED, EVENT_REASON_DELETED,
    EVENT_REASON_DUPLICATE_SECRET_KEY, EVENT_REASON_MISSING_PROVIDER_SECRET,
    EVENT_REASON_UPDATE_FAILED, EVENT_REASON_UPDATED, LABEL_MANAGED, REASON_SECRET_DELETED,
    REASON_SECRET_MISSING, REASON_SECRET_SYNCED, REASON_SECRET_SYNCED_ERROR,
};
use akvsync_crds::meta::{LocalObjectReference, find_condition};
use akvsync_crds::{
    Condition, CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretStatus, RefreshPolicy,
};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use sha3::{Digest, Sha3_224};
use tokio::sync::SemaphorePermit;
use tracing::{debug, warn};

use super::common::{self, secret_bytes};
use super::context::Shared;
use super::status::{carry_transition, replace_status, same_condition};
use super::stores::StoreLookupError;
use crate::observability::{Outcome as MetricsOutcome, ResourceKind, WriteVerb};
use crate::sync::target::{
    Decision, Refusal, TargetError, TemplateSources, decide, desired_secret, target_name,
    template_sources,
};
use crate::sync::windows::SyncGate;
use crate::sync::{
    BuildError, BuildOptions, DataFromSource, Fetched, FetchedFrom, Plan, PlanError, RemoteRead,
    StoreName, build, hash, plan,
};

pub struct ExternalSecretReconciler {
    shared: Shared,
}

impl ExternalSecretReconciler {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

impl Reconciler for ExternalSecretReconciler {
    type Resource = ExternalSecret;

    fn reconcile(&self, es: Arc<ExternalSecret>, trigger: Trigger) -> BoxFuture<'static, Outcome> {
        let shared = self.shared.clone();
        async move { reconcile(&shared, &es, trigger).await }.boxed()
    }

    fn refresh(&self, es: &ExternalSecret) -> Refresh {
        refresh_of(es)
    }

    fn changed(&self, current: &ExternalSecret, next: &ExternalSecret) -> bool {
        synced_resource_version(current) != synced_resource_version(next)
    }
}

/// How an ExternalSecret wants to be refreshed: ESO's policy and interval (`0` means once).
pub fn refresh_of(es: &ExternalSecret) -> Refresh {
    match es.spec.refresh_policy.unwrap_or_default() {
        RefreshPolicy::CreatedOnce | RefreshPolicy::OnChange => Refresh::OnChange,
        RefreshPolicy::Periodic => common::refresh_every(es.spec.refresh_interval.as_deref()),
    }
}

/// ESO's `syncedResourceVersion`: generation and a hash of the labels and annotations, so a
/// metadata change (such as `force-sync`) is a change too.
pub fn synced_resource_version(es: &ExternalSecret) -> String {
    let render = |map: &BTreeMap<String, String>| {
        let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("map[{}]", pairs.join(" "))
    };
    let meta = format!(
        "{{Annotations:{} Labels:{}}}",
        render(&es.annotations().clone()),
        render(&es.labels().clone())
    );
    format!(
        "{}-{}",
        es.metadata.generation.unwrap_or_default(),
        hex::encode(Sha3_224::digest(meta.as_bytes()))
    )
}

/// Why a sync failed, in the user's terms.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// akvsync never writes or deletes a Secret a store reads its credentials from: taking it
    /// over would break the store (ESO does overwrite it).
    #[error(
        "secret {name} holds the credentials of {kind:?} {store}; akvsync never writes a store's credentials Secret: choose another spec.target.name"
    )]
    CredentialsSecret {
        name: String,
        kind: akvsync_crds::StoreKind,
        store: String,
    },
    #[error("unable to delete secret {name}: creationPolicy={policy:?} is not Owner")]
    DeleteNotOwned {
        name: String,
        policy: CreationPolicy,
    },
    #[error("could not {operation} secret {name}: {source}")]
    Kube {
        operation: &'static str,
        name: String,
        source: kube::Error,
    },
}

impl SyncError {
    /// The Ready message: ESO's fixed text, then the cause unless it already starts with it.
    fn ready_message(&self) -> String {
        let cause = self.to_string();
        let eso = self.eso_message();
        if cause.starts_with(eso) {
            cause
        } else {
            format!("{eso}: {cause}")
        }
    }

    /// ESO's fixed Ready message for this failure.
    fn eso_message(&self) -> &'static str {
        match self {
            SyncError::Plan(_) | SyncError::Build(_) => "could not get secret data from provider",
            SyncError::Target(_) => "could not update secret",
            SyncError::Refused(Refusal::Immutable) => {
                "could not update secret, target is immutable"
            }
            SyncError::Refused(Refusal::OwnedByAnotherExternalSecret) => {
                "target is owned by another ExternalSecret"
            }
            SyncError::Refused(Refusal::OwnedByAnotherController { .. }) => {
                "failed to take ownership of target secret"
            }
            SyncError::CredentialsSecret { .. } => "could not update secret",
            SyncError::DeleteNotOwned { .. } => "could not delete secret",
            SyncError::Kube {
                operation: "delete",
                ..
            } => "could not delete secret",
            SyncError::Kube { .. } => "could not update secret",
        }
    }
}

/// What a sync noticed besides its result, published as Events.
#[derive(Default)]
struct Notices {
    /// ESO's `MissingProviderSecret` messages.
    missing: Vec<String>,
    /// Pairs of entries that wrote the same key.
    overwritten: Vec<String>,
}

/// What a successful sync did.
enum Synced {
    Written {
        created: bool,
    },
    Unchanged,
    /// Deleted for lack of provider data; `existed` is false when it was gone already.
    Deleted {
        existed: bool,
    },
    Retained,
    Missing,
    Skipped,
}

async fn reconcile(shared: &Shared, es: &ExternalSecret, trigger: Trigger) -> Outcome {
    if es.meta().deletion_timestamp.is_some() {
        return Outcome::Synced;
    }
    let _in_flight = shared.in_flight.enter();
    let _worker = shared
        .metrics
        .reconcile_started(ResourceKind::ExternalSecret);
    if let Trigger::Timer { lag } = trigger {
        shared
            .metrics
            .refresh_lag(ResourceKind::ExternalSecret, lag.as_secs_f64());
    }
    let started = tokio::time::Instant::now();
    let outcome = reconcile_once(shared, es, trigger).await;
    let took = started.elapsed();
    let namespace = es.namespace().unwrap_or_default();
    let ready = es_ready_after(outcome);
    shared.metrics.reconciled(
        ResourceKind::ExternalSecret,
        &namespace,
        &es.name_any(),
        took,
        ready,
    );
    if trigger == Trigger::Changed && outcome == Outcome::Synced {
        shared
            .metrics
            .change_to_synced(ResourceKind::ExternalSecret, took);
    }
    outcome
}

/// The metrics outcome of a sync outcome.
fn es_ready_after(outcome: Outcome) -> MetricsOutcome {
    match outcome {
        Outcome::Synced | Outcome::NotDue(_) => MetricsOutcome::Ready,
        Outcome::Failed => MetricsOutcome::Failed,
    }
}

async fn reconcile_once(shared: &Shared, es: &ExternalSecret, trigger: Trigger) -> Outcome {
    if let Some(wait) = outside_sync_window(es, trigger) {
        debug!(name = %es.name_any(), ?wait, "periodic refresh blocked by spec.syncWindows");
        return Outcome::NotDue(wait);
    }
    let secrets: Api<Secret> =
        Api::namespaced(shared.kube.clone(), &es.namespace().unwrap_or_default());
    {
        let _phase = {
            let _queued = shared.metrics.queued(ResourceKind::ExternalSecret);
            shared.kube_phases.acquire().await
        };
        if let Some(outcome) = not_due(es, &secrets, trigger).await {
            return outcome;
        }
    }
    let (result, notices, _phase) = sync(shared, es, &secrets, trigger).await;
    for message in &notices.missing {
        publish(
            shared,
            es,
            EventType::Normal,
            EVENT_REASON_MISSING_PROVIDER_SECRET,
            message,
        )
        .await;
    }
    for message in &notices.overwritten {
        publish(
            shared,
            es,
            EventType::Warning,
            EVENT_REASON_DUPLICATE_SECRET_KEY,
            message,
        )
        .await;
    }
    let (ready, outcome) = match &result {
        Ok(synced) => {
            let (condition, event) = match synced {
                Synced::Written { created } => {
                    let (reason, note) = if *created {
                        (EVENT_REASON_CREATED, "secret created")
                    } else {
                        (EVENT_REASON_UPDATED, "secret updated")
                    };
                    (
                        Condition::new(
                            CONDITION_READY,
                            true,
                            REASON_SECRET_SYNCED,
                            "secret synced",
                        ),
                        Some((reason, note)),
                    )
                }
                Synced::Unchanged | Synced::Skipped => (
                    Condition::new(CONDITION_READY, true, REASON_SECRET_SYNCED, "secret synced"),
                    None,
                ),
                Synced::Retained => (
                    Condition::new(
                        CONDITION_READY,
                        true,
                        REASON_SECRET_SYNCED,
                        "secret retained due to DeletionPolicy=Retain",
                    ),
                    None,
                ),
                Synced::Deleted { existed } => (
                    Condition::new(
                        CONDITION_READY,
                        true,
                        REASON_SECRET_DELETED,
                        "secret deleted due to DeletionPolicy=Delete",
                    ),
                    existed.then_some((
                        EVENT_REASON_DELETED,
                        "secret deleted due to DeletionPolicy=Delete",
                    )),
                ),
                Synced::Missing => (
                    Condition::new(
                        CONDITION_READY,
                        true,
                        REASON_SECRET_MISSING,
                        "secret will not be created due to CreationPolicy=Merge",
                    ),
                    None,
                ),
            };
            if let Some((reason, note)) = event {
                publish(shared, es, EventType::Normal, reason, note).await;
            }
            (condition, Outcome::Synced)
        }
        Err(error) => {
            warn!(namespace = %es.namespace().unwrap_or_default(), name = %es.name_any(), %error, "sync failed");
            publish(
                shared,
                es,
                EventType::Warning,
                EVENT_REASON_UPDATE_FAILED,
                &error.to_string(),
            )
            .await;
            let message = error.ready_message();
            (
                Condition::new(CONDITION_READY, false, REASON_SECRET_SYNCED_ERROR, &message),
                Outcome::Failed,
            )
        }
    };
    let wrote = matches!(
        result,
        Ok(Synced::Written { .. } | Synced::Deleted { existed: true })
    );
    write_status(shared, es, ready, wrote).await;
    outcome
}

/// How long a periodic refresh of a Ready ExternalSecret must wait for `spec.syncWindows` to
/// let it run; `None` when it may run now. Changes, and retries of a failing sync, are not gated;
/// invalid windows are reported by the sync itself.
fn outside_sync_window(es: &ExternalSecret, trigger: Trigger) -> Option<Duration> {
    if !matches!(trigger, Trigger::Timer { .. })
        || es.spec.refresh_policy.unwrap_or_default() != RefreshPolicy::Periodic
    {
        return None;
    }
    let ready = es.status.as_ref().and_then(|status| {
        find_condition(
            status.conditions.as_deref().unwrap_or_default(),
            CONDITION_READY,
        )
        .map(|condition| condition.is_true())
    });
    if ready != Some(true) {
        return None;
    }
    let gate = SyncGate::parse(es.spec.sync_windows.as_ref()?).ok()?;
    gate.blocked_for(chrono::Utc::now())
}

/// ESO's skip rule after a restart: nothing changed, the interval has not passed, and the Secret
/// is intact — look again when the interval ends.
async fn not_due(es: &ExternalSecret, secrets: &Api<Secret>, trigger: Trigger) -> Option<Outcome> {
    if trigger != Trigger::Changed {
        return None;
    }
    let status = es.status.as_ref()?;
    if status.synced_resource_version.as_deref() != Some(synced_resource_version(es).as_str()) {
        return None;
    }
    let ready = find_condition(
        status.conditions.as_deref().unwrap_or_default(),
        CONDITION_READY,
    )?;
    if !ready.is_true() {
        return None;
    }
    let refreshed = status.refresh_time.as_ref()?.0;
    let elapsed =
        Duration::try_from(k8s_openapi::jiff::Timestamp::now().duration_since(refreshed)).ok()?;
    let remaining = match (es.spec.refresh_policy.unwrap_or_default(), refresh_of(es)) {
        (RefreshPolicy::CreatedOnce, _) => None,
        (_, Refresh::Every(interval)) => Some(interval.checked_sub(elapsed)?),
        (_, Refresh::OnChange) => None,
    };
    let secret = secrets.get_opt(&target_name(es)).await.ok()??;
    let intact = secret.labels().get(LABEL_MANAGED).is_some()
        && secret.annotations().get(ANNOTATION_DATA_HASH)
            == Some(&hash::data_hash(
                &secret
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect(),
            ));
    if !intact {
        return None;
    }
    debug!(name = %es.name_any(), "in sync since the last refresh, not due yet");
    Some(match remaining {
        Some(remaining) => Outcome::NotDue(remaining),
        None => Outcome::Synced,
    })
}

async fn sync<'a>(
    shared: &'a Shared,
    es: &ExternalSecret,
    secrets: &Api<Secret>,
    trigger: Trigger,
) -> (
    Result<Synced, SyncError>,
    Notices,
    Option<SemaphorePermit<'a>>,
) {
    let plan = match plan(&es.spec) {
        Ok(plan) => plan,
        Err(error) => return (Err(error.into()), Notices::default(), None),
    };
    let namespace = es.namespace().unwrap_or_default();
    let max_age = match refresh_of(es) {
        Refresh::Every(interval) => interval,
        Refresh::OnChange => Duration::ZERO,
    };
    let priority = if trigger == Trigger::Changed {
        Priority::Change
    } else {
        Priority::Refresh
    };
    let fetched = fetch(shared, &plan, &namespace, Ask { max_age, priority }).await;
    let phase = {
        let _queued = shared.metrics.queued(ResourceKind::ExternalSecret);
        shared.kube_phases.acquire().await.ok()
    };
    let target = es.spec.target.clone().unwrap_or_default();
    let azure_sdk_stores: Vec<StoreName> = plan
        .stores()
        .filter(|store| {
            shared
                .stores
                .uses_azure_sdk(store.kind, &store.name, &namespace)
        })
        .cloned()
        .collect();
    let options = BuildOptions {
        deletion_policy: target.deletion_policy_or_default(),
        azure_sdk_stores: &azure_sdk_stores,
    };
    let built = match build(&plan, &fetched, options) {
        Ok(built) => built,
        Err(error) => return (Err(error.into()), Notices::default(), phase),
    };
    let notices = Notices {
        missing: built.missing,
        overwritten: built.overwritten,
    };
    (apply(shared, es, secrets, built.data).await, notices, phase)
}

async fn apply(
    shared: &Shared,
    es: &ExternalSecret,
    secrets: &Api<Secret>,
    data: BTreeMap<String, Vec<u8>>,
) -> Result<Synced, SyncError> {
    let target = es.spec.target.clone().unwrap_or_default();
    let name = target_name(es);
    if target.creation_policy_or_default() != CreationPolicy::None
        && let Some(store) = shared
            .stores
            .credentials_user(&es.namespace().unwrap_or_default(), &name)
    {
        return Err(SyncError::CredentialsSecret {
            name,
            kind: store.kind,
            store: store.name,
        });
    }
    // ESO: no data from the provider at all creates nothing, whatever the template says.
    if data.is_empty() {
        match target.deletion_policy_or_default() {
            DeletionPolicy::Delete => {
                let policy = target.creation_policy_or_default();
                if policy != CreationPolicy::Owner {
                    return Err(SyncError::DeleteNotOwned { name, policy });
                }
                return match secrets.delete(&name, &Default::default()).await {
                    Ok(_) => {
                        shared.metrics.k8s_write("secret", WriteVerb::Delete);
                        Ok(Synced::Deleted { existed: true })
                    }
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        Ok(Synced::Deleted { existed: false })
                    }
                    Err(source) => Err(SyncError::Kube {
                        operation: "delete",
                        name,
                        source,
                    }),
                };
            }
            DeletionPolicy::Retain => return Ok(Synced::Retained),
            DeletionPolicy::Merge => {}
        }
    }
    let sources = read_template_sources(es, secrets).await?;
    let desired = desired_secret(es, data, &sources)?;
    let existing = secrets
        .get_opt(&name)
        .await
        .map_err(|source| SyncError::Kube {
            operation: "read",
            name: name.clone(),
            source,
        })?;
    let params = PostParams {
        field_manager: Some(field_manager(&es.name_any())),
        ..PostParams::default()
    };
    match decide(&desired, existing.as_ref()) {
        Decision::Create(secret) => {
            secrets
                .create(&params, &secret)
                .await
                .map_err(|source| SyncError::Kube {
                    operation: "create",
                    name,
                    source,
                })?;
            shared.metrics.k8s_write("secret", WriteVerb::Create);
            Ok(Synced::Written { created: true })
        }
        Decision::Update(secret) => {
            secrets
                .replace(&desired.name, &params, &secret)
                .await
                .map_err(|source| SyncError::Kube {
                    operation: "update",
                    name,
                    source,
                })?;
            shared.metrics.k8s_write("secret", WriteVerb::Update);
            Ok(Synced::Written { created: false })
        }
        Decision::Unchanged => {
            shared.metrics.k8s_write_skipped("secret");
            Ok(Synced::Unchanged)
        }
        Decision::Skip => Ok(Synced::Skipped),
        Decision::Missing => Ok(Synced::Missing),
        Decision::Refuse(refusal) => Err(refusal.into()),
    }
}

/// Reads the ConfigMaps and Secrets `templateFrom` names, from the ExternalSecret's namespace.
async fn read_template_sources(
    es: &ExternalSecret,
    secrets: &Api<Secret>,
) -> Result<TemplateSources, SyncError> {
    let mut sources = TemplateSources::new();
    let namespace = es.namespace().unwrap_or_default();
    for (kind, name) in template_sources(es) {
        let read = |source| SyncError::Kube {
            operation: "read template",
            name: name.clone(),
            source,
        };
        let data = match kind {
            "configMap" => {
                let config_maps: Api<ConfigMap> =
                    Api::namespaced(secrets.clone().into_client(), &namespace);
                config_maps
                    .get_opt(&name)
                    .await
                    .map_err(read)?
                    .map(|config_map| {
                        config_map
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.into_bytes()))
                            .collect()
                    })
            }
            _ => secrets
                .get_opt(&name)
                .await
                .map_err(read)?
                .map(secret_bytes),
        };
        if let Some(data) = data {
            sources.insert((kind, name), data);
        }
    }
    Ok(sources)
}

/// ESO's field manager: `externalsecrets.external-secrets.io/<name>`, hashed when too long.
fn field_manager(es_name: &str) -> String {
    let manager = format!("{}{es_name}", akvsync_crds::constants::FIELD_MANAGER_PREFIX);
    if manager.len() <= akvsync_crds::constants::FIELD_MANAGER_MAX_LENGTH {
        return manager;
    }
    let digest = hex::encode(Sha3_224::digest(es_name.as_bytes()));
    let hashed = format!(
        "{}sha3/{digest}",
        akvsync_crds::constants::FIELD_MANAGER_PREFIX
    );
    hashed
        .chars()
        .take(akvsync_crds::constants::FIELD_MANAGER_MAX_LENGTH)
        .collect()
}

/// Asks the stores for every value the plan needs, concurrently.
/// How fresh a value must be, and which lane of the vault's limiter the request waits in.
#[derive(Clone, Copy)]
struct Ask {
    max_age: Duration,
    priority: Priority,
}

async fn fetch(shared: &Shared, plan: &Plan, namespace: &str, ask: Ask) -> Fetched {
    let labels = shared.namespaces.get(namespace);
    let data = plan
        .data
        .iter()
        .map(|entry| fetch_one(shared, &entry.store, &entry.remote, namespace, &labels, ask));
    let data_from = plan.data_from.iter().map(|entry| {
        let labels = &labels;
        async move {
            match &entry.source {
                DataFromSource::Extract(read) => {
                    fetch_one(shared, &entry.store, read, namespace, labels, ask)
                        .await
                        .map(FetchedFrom::Extract)
                }
                DataFromSource::Find(filter) => {
                    let actor = shared
                        .stores
                        .actor_for(
                            shared,
                            entry.store.kind,
                            &entry.store.name,
                            namespace,
                            labels,
                        )
                        .map_err(lookup_error)?;
                    let items = actor
                        .send(List {
                            kind: ObjectKind::Secret,
                            max_age: ask.max_age,
                            priority: ask.priority,
                        })
                        .await
                        .map_err(mailbox_error)?
                        .map_err(request_error)?;
                    let wanted = items
                        .iter()
                        .filter(|item| item.enabled && filter.matches(&item.name, &item.tags));
                    let fetches = wanted.map(|item| {
                        let actor = actor.clone();
                        let key = RemoteKey::new(ObjectKind::Secret, item.name.clone(), None);
                        async move {
                            let value = actor
                                .send(Fetch {
                                    key,
                                    max_age: ask.max_age,
                                    priority: ask.priority,
                                })
                                .await
                                .map_err(mailbox_error)?
                                .map_err(request_error)?;
                            Ok::<_, ProviderError>((item.name.clone(), value))
                        }
                    });
                    let found: Result<Vec<_>, _> = join_all(fetches).await.into_iter().collect();
                    found.map(FetchedFrom::Find)
                }
            }
        }
    });
    let (data, data_from) = futures::join!(join_all(data), join_all(data_from));
    Fetched { data, data_from }
}

async fn fetch_one(
    shared: &Shared,
    store: &StoreName,
    read: &RemoteRead,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    ask: Ask,
) -> Result<Arc<akvsync_actors::remote::RemoteValue>, ProviderError> {
    let actor = shared
        .stores
        .actor_for(shared, store.kind, &store.name, namespace, labels)
        .map_err(lookup_error)?;
    actor
        .send(Fetch {
            key: read.key.clone(),
            max_age: ask.max_age,
            priority: ask.priority,
        })
        .await
        .map_err(mailbox_error)?
        .map_err(request_error)
}

fn lookup_error(error: StoreLookupError) -> ProviderError {
    ProviderError::Invalid {
        message: error.to_string(),
    }
}

fn mailbox_error(error: actix::MailboxError) -> ProviderError {
    ProviderError::Transient {
        message: format!("store actor unavailable: {error}"),
    }
}

fn request_error(error: StoreRequestError) -> ProviderError {
    match error {
        StoreRequestError::Provider(error) => error,
        StoreRequestError::NotReady(message) => ProviderError::Invalid {
            message: format!("store is not ready: {message}"),
        },
    }
}

async fn publish(shared: &Shared, es: &ExternalSecret, type_: EventType, reason: &str, note: &str) {
    common::publish(shared, es, type_, "Sync", reason, note).await;
}

/// Patches the status when the Ready condition, the synced version or the binding changed, or
/// the Secret was written; refreshTime records the last write or status change.
async fn write_status(shared: &Shared, es: &ExternalSecret, ready: Condition, wrote: bool) {
    let current = es.status.clone().unwrap_or_default();
    let conditions = current.conditions.clone().unwrap_or_default();
    let previous = find_condition(&conditions, CONDITION_READY);
    let version = synced_resource_version(es);
    let binding = LocalObjectReference {
        name: Some(target_name(es)),
    };
    let unchanged = same_condition(previous, &ready)
        && current.synced_resource_version.as_deref() == Some(version.as_str())
        && current.binding.as_ref() == Some(&binding)
        && !wrote;
    if unchanged {
        return;
    }
    let ready = carry_transition(previous, ready);
    let mut conditions: Vec<Condition> = conditions
        .into_iter()
        .filter(|c| c.type_ != CONDITION_READY)
        .collect();
    conditions.push(ready);
    let status = ExternalSecretStatus {
        refresh_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
        synced_resource_version: Some(version),
        conditions: Some(conditions),
        binding: Some(binding),
    };
    let api: Api<ExternalSecret> =
        Api::namespaced(shared.kube.clone(), &es.namespace().unwrap_or_default());
    if let Err(error) = replace_status(&api, &es.name_any(), &status).await {
        warn!(name = %es.name_any(), %error, "could not write status");
    }
}
