//! The ExternalSecret reconciler, in phases: gates ([`gate`]), [`dereference`] (plan, target,
//! stores), [`fetch`] through the store actors, build (the pure core in `crate::sync`),
//! [`apply`] to the target Secret, and [`report`] (a pure mapping to condition and Events). The
//! resource actor schedules it.

mod apply;
mod dereference;
mod error;
mod fetch;
mod gate;
mod manifest;
mod proof;
mod report;

pub use manifest::TargetKinds;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::fair::FairPermit;
use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_actors::store::{Priority, Tenant, Turn};
use akvsync_crds::constants::{CONDITION_READY, REASON_WAITING};
use akvsync_crds::meta::{LocalObjectReference, find_condition};
use akvsync_crds::{Condition, ExternalSecret, ExternalSecretStatus, RefreshPolicy, StoreKind};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use sha3::{Digest, Sha3_224};
use tracing::{debug, warn};

use self::error::SyncError;
use self::fetch::Ask;
use self::gate::Due;
use self::report::{Notices, Synced};
use super::common;
use super::context::Shared;
use super::status::{replace_ready, replace_status, same_condition};
use super::tenants::WAIT_NOTICE;
use crate::observability::{Outcome as MetricsOutcome, ResourceKind};
use crate::sync::built_from::{BuiltFrom, Proof, provable_spec};
use crate::sync::target::target_name;
use crate::sync::{BuildOptions, build};

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

async fn reconcile(shared: &Shared, es: &ExternalSecret, trigger: Trigger) -> Outcome {
    if es.meta().deletion_timestamp.is_some() {
        return Outcome::Synced;
    }
    let namespace = es.namespace().unwrap_or_default();
    if shared.stores.uses_foreign(&es.spec, &namespace, false) {
        debug!(%namespace, name = %es.name_any(), "uses a store of another controller class, left alone");
        return Outcome::Synced;
    }
    if !shared.scope.cluster_stores
        && es
            .spec
            .secret_store_ref
            .as_ref()
            .is_some_and(|reference| reference.kind_or_default() == StoreKind::ClusterSecretStore)
    {
        debug!(%namespace, name = %es.name_any(), "uses a ClusterSecretStore, which this operator does not serve (--enable-cluster-store-reconciler=false)");
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
    let ready = match outcome {
        Outcome::Synced | Outcome::NotDue(_) => MetricsOutcome::Ready,
        Outcome::Failed => MetricsOutcome::Failed,
    };
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

/// One sync in phases: gates, dereference, fetch, then in the Kubernetes phase build and
/// apply, and last the report (status and Events).
async fn reconcile_once(shared: &Shared, es: &ExternalSecret, trigger: Trigger) -> Outcome {
    if let Some(wait) = gate::outside_sync_window(es, trigger) {
        debug!(name = %es.name_any(), ?wait, "periodic refresh blocked by spec.syncWindows");
        return Outcome::NotDue(wait);
    }
    let name = target_name(es);
    let namespace = es.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(shared.kube.clone(), &namespace);
    let turn = turn(shared, &namespace, trigger);
    let existing = {
        let _phase = kube_phase(shared, &turn).await;
        match gate::due(es, &name, &secrets, &shared.targets, trigger).await {
            Due::No(outcome) => return outcome,
            Due::Yes(existing) => existing.map(|secret| secret.map(|secret| *secret)),
        }
    };
    let synced = sync(shared, es, &secrets, name.clone(), turn, existing).await;
    let (result, notices, _phase) = match synced {
        Step::Done(result, notices, phase) => (result, notices, phase),
        Step::Later(wait) => {
            debug!(name = %es.name_any(), ?wait, "a secret it reads changed just now: read it once settled");
            return Outcome::NotDue(wait);
        }
    };
    if let Err(error) = &result {
        warn!(namespace = %es.namespace().unwrap_or_default(), name = %es.name_any(), category = error.category(), %error, "sync failed");
    }
    let resource = es.spec.manifest().map(|manifest| report::Resource {
        kind: &manifest.kind,
        name: &name,
    });
    let report = report::report(&result, notices, resource);
    for note in &report.events {
        common::publish(shared, es, note.type_, "Sync", note.reason, &note.message).await;
    }
    write_status(shared, es, report.ready, report.wrote).await;
    report.outcome
}

/// Waits for a place in the Kubernetes phase, in `turn`'s lane and tenant.
async fn kube_phase<'a>(shared: &'a Shared, turn: &Turn) -> FairPermit<'a> {
    let _queued = shared.metrics.queued(ResourceKind::ExternalSecret);
    shared.kube_phases.acquire(turn).await
}

/// Runs `fetch`; when it has waited [`WAIT_NOTICE`], tells the user why with a Normal Event
/// (at most one per tenant a minute).
async fn noticed<F: Future>(
    shared: &Shared,
    es: &ExternalSecret,
    tenant: &Tenant,
    fetch: F,
) -> F::Output {
    let mut fetch = std::pin::pin!(fetch);
    tokio::select! {
        fetched = &mut fetch => return fetched,
        () = tokio::time::sleep(WAIT_NOTICE) => {}
    }
    if let Some(message) = shared.wait_notices.notice(tenant, &shared.limiters) {
        common::publish(
            shared,
            es,
            EventType::Normal,
            "Sync",
            REASON_WAITING,
            &message,
        )
        .await;
    }
    fetch.await
}

/// Where a sync waits: changes before refreshes, as its namespace's tenant.
fn turn(shared: &Shared, namespace: &str, trigger: Trigger) -> Turn {
    let priority = if trigger == Trigger::Changed {
        Priority::Change
    } else {
        Priority::Refresh
    };
    Turn::new(priority, shared.tenant(namespace))
}

/// Dereference, fetch, build and apply; returns the Kubernetes phase's permit with the result,
/// so the report is written inside it too.
async fn sync<'a>(
    shared: &'a Shared,
    es: &ExternalSecret,
    secrets: &Api<Secret>,
    name: String,
    turn: Turn,
    existing: Option<Option<Secret>>,
) -> Step<'a> {
    let namespace = es.namespace().unwrap_or_default();
    let plan = match dereference::dereference(shared, es, &namespace, &name) {
        Ok(plan) => plan,
        Err(error) => return Step::Done(Err(error), Notices::default(), None),
    };
    let max_age = match refresh_of(es) {
        Refresh::Every(interval) => interval,
        Refresh::OnChange => Duration::ZERO,
    };
    let ask = Ask { max_age, turn };
    let version = synced_resource_version(es);
    // A spec whose output is not proven by what it read is never recorded, so never proven.
    let provable = provable_spec(es);
    if provable {
        match proof::check(shared, es, &plan.plan, &version, &namespace, &name, &ask).await {
            Proof::Fresh => {
                debug!(%namespace, name = %es.name_any(), "the listings prove the Secret fresh");
                shared.metrics.k8s_write_skipped("secret");
                return Step::Done(Ok(Synced::Unchanged), Notices::default(), None);
            }
            Proof::Settling(wait) => return Step::Later(wait),
            Proof::Stale => {}
        }
    }
    let fetched = noticed(
        shared,
        es,
        &ask.turn.tenant,
        fetch::fetch(shared, &plan.plan, &namespace, &ask),
    )
    .await;
    let built_from = provable
        .then(|| {
            let stores = proof::NamespaceStores {
                shared,
                namespace: &namespace,
            };
            BuiltFrom::record(&version, &plan.plan, &fetched, &stores)
        })
        .flatten();
    let phase = kube_phase(shared, &ask.turn).await;
    let target = es.spec.target.clone().unwrap_or_default();
    let options = BuildOptions {
        deletion_policy: target.deletion_policy_or_default(),
        azure_sdk_stores: &plan.azure_sdk_stores,
    };
    let built = match build(&plan.plan, &fetched, options) {
        Ok(built) => built,
        Err(error) => return Step::Done(Err(error.into()), Notices::default(), Some(phase)),
    };
    let notices = Notices {
        missing: built.missing,
        overwritten: built.overwritten,
    };
    let applied = match es.spec.manifest() {
        Some(reference) => manifest::apply(shared, es, reference, name, built.data).await,
        None => apply::apply(shared, es, secrets, name, built.data, existing, built_from).await,
    };
    Step::Done(applied, notices, Some(phase))
}

/// How a sync ended: done, with its result and the Kubernetes phase's permit for the report; or
/// to run again later (a change that has not settled yet), reporting nothing now.
enum Step<'a> {
    Done(Result<Synced, SyncError>, Notices, Option<FairPermit<'a>>),
    Later(Duration),
}

/// Patches the status when the Ready condition, the synced version or the binding changed, or
/// the Secret was written; refreshTime records the last write or status change.
async fn write_status(shared: &Shared, es: &ExternalSecret, ready: Condition, wrote: bool) {
    let current = es.status.clone().unwrap_or_default();
    let conditions = current.conditions.unwrap_or_default();
    let version = synced_resource_version(es);
    let binding = LocalObjectReference {
        name: Some(target_name(es)),
    };
    let unchanged = same_condition(find_condition(&conditions, CONDITION_READY), &ready)
        && current.synced_resource_version.as_deref() == Some(version.as_str())
        && current.binding.as_ref() == Some(&binding)
        && !wrote;
    if unchanged {
        return;
    }
    let status = ExternalSecretStatus {
        refresh_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
        synced_resource_version: Some(version),
        conditions: Some(replace_ready(conditions, ready)),
        binding: Some(binding),
    };
    let api: Api<ExternalSecret> =
        Api::namespaced(shared.kube.clone(), &es.namespace().unwrap_or_default());
    if let Err(error) = replace_status(&api, &es.name_any(), &status).await {
        warn!(name = %es.name_any(), %error, "could not write status");
    }
}
