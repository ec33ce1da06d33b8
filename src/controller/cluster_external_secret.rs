//! The ClusterExternalSecret reconciler: one ExternalSecret per selected namespace, owned by the
//! ClusterExternalSecret, and removed from namespaces that stop matching.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_crds::constants::{ANNOTATION_FORCE_SYNC, CONDITION_READY, EVENT_REASON_UPDATE_FAILED};
use akvsync_crds::meta::find_condition;
use akvsync_crds::{
    ClusterExternalSecret, ClusterExternalSecretNamespaceFailure, ClusterExternalSecretStatus,
    Condition, ExternalSecret, parse_go_duration,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use super::common::{self, refresh_every, spec_or_metadata_changed};
use super::context::Shared;
use super::namespaces::selector_matches;
use super::status::{replace_ready, replace_status, same_condition};

/// Why a namespace's ExternalSecret could not be provisioned or removed; the text is ESO's
/// `failedNamespaces[].reason`.
#[derive(Debug, thiserror::Error)]
enum NamespaceError {
    #[error("could not get ExternalSecret: {0}")]
    Get(kube::Error),
    #[error("external secret already exists in namespace")]
    NotOwned,
    #[error("the ClusterExternalSecret has no uid yet")]
    NoUid,
    #[error("could not apply ExternalSecret: {0}")]
    Apply(kube::Error),
    #[error("could not delete ExternalSecret: {0}")]
    Delete(kube::Error),
}

/// The field manager of the ExternalSecrets a ClusterExternalSecret writes.
const FIELD_MANAGER: &str = "akvsync-clusterexternalsecret";

pub struct ClusterExternalSecretReconciler {
    shared: Shared,
}

impl ClusterExternalSecretReconciler {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

impl Reconciler for ClusterExternalSecretReconciler {
    type Resource = ClusterExternalSecret;

    fn reconcile(
        &self,
        ces: Arc<ClusterExternalSecret>,
        _: Trigger,
    ) -> BoxFuture<'static, Outcome> {
        let shared = self.shared.clone();
        async move {
            use crate::observability::{Outcome as Ended, ResourceKind};
            if ces.meta().deletion_timestamp.is_some() {
                return reconcile(&shared, &ces).await;
            }
            if shared
                .stores
                .uses_foreign(&ces.spec.external_secret_spec, "", true)
            {
                tracing::debug!(name = %ces.name_any(), "uses a ClusterSecretStore of another controller class, left alone");
                return Outcome::Synced;
            }
            let kind = ResourceKind::ClusterExternalSecret;
            let _worker = shared.metrics.reconcile_started(kind);
            let started = tokio::time::Instant::now();
            let outcome = reconcile(&shared, &ces).await;
            let ended = match outcome {
                Outcome::Failed => Ended::Failed,
                Outcome::Synced | Outcome::NotDue(_) => Ended::Ready,
            };
            let took = started.elapsed();
            shared
                .metrics
                .reconciled(kind, "", &ces.name_any(), took, ended);
            outcome
        }
        .boxed()
    }

    fn refresh(&self, ces: &ClusterExternalSecret) -> Refresh {
        refresh_every(ces.spec.refresh_time.as_deref())
    }

    fn changed(&self, current: &ClusterExternalSecret, next: &ClusterExternalSecret) -> bool {
        spec_or_metadata_changed(current, next)
    }
}

/// The namespaces a ClusterExternalSecret selects: by name, or by any of its selectors.
pub fn selected_namespaces(
    ces: &ClusterExternalSecret,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeSet<String> {
    let names: BTreeSet<&String> = ces.spec.namespaces.iter().flatten().collect();
    let selectors: Vec<_> = ces
        .spec
        .namespace_selector
        .iter()
        .chain(ces.spec.namespace_selectors.iter().flatten())
        .collect();
    namespaces
        .iter()
        .filter(|(name, labels)| {
            names.contains(name)
                || selectors
                    .iter()
                    .any(|selector| selector_matches(selector, labels))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

async fn reconcile(shared: &Shared, ces: &ClusterExternalSecret) -> Outcome {
    if ces.meta().deletion_timestamp.is_some() {
        return Outcome::Synced;
    }
    let es_name = ces
        .spec
        .external_secret_name
        .clone()
        .unwrap_or_else(|| ces.name_any());
    if let Some(interval) = &ces.spec.refresh_time
        && let Err(error) = parse_go_duration(interval)
    {
        let message = format!("spec.refreshTime: {error}");
        common::publish(
            shared,
            ces,
            EventType::Warning,
            "Reconcile",
            EVENT_REASON_UPDATE_FAILED,
            &message,
        )
        .await;
        let ready = Condition {
            reason: None,
            ..Condition::new(CONDITION_READY, false, "", &message)
        };
        let current = ces.status.clone().unwrap_or_default();
        write_status(
            shared,
            ces,
            es_name,
            current.provisioned_namespaces.unwrap_or_default(),
            current.failed_namespaces.unwrap_or_default(),
            ready,
        )
        .await;
        return Outcome::Failed;
    }
    let selected = selected_namespaces(ces, &shared.namespaces.all());
    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for namespace in &selected {
        match provision(shared, ces, namespace, &es_name).await {
            Ok(()) => provisioned.push(namespace.clone()),
            Err(error) => failed.push(ClusterExternalSecretNamespaceFailure {
                namespace: namespace.clone(),
                reason: Some(error.to_string()),
            }),
        }
    }
    let previously: Vec<String> = ces
        .status
        .as_ref()
        .and_then(|s| s.provisioned_namespaces.clone())
        .unwrap_or_default();
    for namespace in previously.iter().filter(|ns| !selected.contains(*ns)) {
        if let Err(error) = remove(shared, ces, namespace, &es_name).await {
            failed.push(ClusterExternalSecretNamespaceFailure {
                namespace: namespace.clone(),
                reason: Some(error.to_string()),
            });
        }
    }
    let ready = if failed.is_empty() {
        Condition {
            reason: None,
            message: None,
            ..Condition::new(CONDITION_READY, true, "", "")
        }
    } else {
        Condition {
            reason: None,
            ..Condition::new(CONDITION_READY, false, "", "one or more namespaces failed")
        }
    };
    let outcome = if failed.is_empty() {
        Outcome::Synced
    } else {
        Outcome::Failed
    };
    write_status(shared, ces, es_name, provisioned, failed, ready).await;
    outcome
}

/// Creates or updates the namespace's ExternalSecret, unless someone else owns one by that name.
async fn provision(
    shared: &Shared,
    ces: &ClusterExternalSecret,
    namespace: &str,
    name: &str,
) -> Result<(), NamespaceError> {
    let api: Api<ExternalSecret> = Api::namespaced(shared.kube.clone(), namespace);
    let existing = api.get_opt(name).await.map_err(NamespaceError::Get)?;
    let uid = ces.uid().unwrap_or_default();
    if let Some(existing) = existing
        && !existing
            .owner_references()
            .iter()
            .any(|owner| owner.uid == uid)
    {
        return Err(NamespaceError::NotOwned);
    }
    let metadata = ces
        .spec
        .external_secret_metadata
        .clone()
        .unwrap_or_default();
    let mut annotations = metadata.annotations.unwrap_or_default();
    if let Some(force) = ces.annotations().get(ANNOTATION_FORCE_SYNC) {
        annotations.insert(ANNOTATION_FORCE_SYNC.to_owned(), force.clone());
    }
    let owner = ces.controller_owner_ref(&()).ok_or(NamespaceError::NoUid)?;
    let desired = serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": metadata.labels.unwrap_or_default(),
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": ces.spec.external_secret_spec,
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map(drop)
    .map_err(NamespaceError::Apply)
}

/// Deletes the ExternalSecret of a namespace that no longer matches, if this CES owns it.
async fn remove(
    shared: &Shared,
    ces: &ClusterExternalSecret,
    namespace: &str,
    name: &str,
) -> Result<(), NamespaceError> {
    let api: Api<ExternalSecret> = Api::namespaced(shared.kube.clone(), namespace);
    let Some(existing) = api.get_opt(name).await.map_err(NamespaceError::Get)? else {
        return Ok(());
    };
    let uid = ces.uid().unwrap_or_default();
    if existing
        .owner_references()
        .iter()
        .any(|owner| owner.uid == uid)
    {
        api.delete(name, &Default::default())
            .await
            .map_err(NamespaceError::Delete)?;
    }
    Ok(())
}

async fn write_status(
    shared: &Shared,
    ces: &ClusterExternalSecret,
    es_name: String,
    mut provisioned: Vec<String>,
    failed: Vec<ClusterExternalSecretNamespaceFailure>,
    ready: Condition,
) {
    provisioned.sort();
    let current = ces.status.clone().unwrap_or_default();
    let conditions = current.conditions.clone().unwrap_or_default();
    let failed = (!failed.is_empty()).then_some(failed);
    let provisioned = (!provisioned.is_empty()).then_some(provisioned);
    if same_condition(find_condition(&conditions, CONDITION_READY), &ready)
        && current.provisioned_namespaces == provisioned
        && current.failed_namespaces == failed
        && current.external_secret_name.as_deref() == Some(es_name.as_str())
    {
        return;
    }
    let status = ClusterExternalSecretStatus {
        external_secret_name: Some(es_name),
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        conditions: Some(replace_ready(conditions, ready)),
    };
    let api: Api<ClusterExternalSecret> = Api::all(shared.kube.clone());
    if let Err(error) = replace_status(&api, &ces.name_any(), &status).await {
        warn!(name = %ces.name_any(), %error, "could not write ClusterExternalSecret status");
    }
}
