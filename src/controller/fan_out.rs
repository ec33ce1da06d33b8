//! The reconciler of a cluster-scoped resource that keeps one namespaced child per selected
//! namespace, as ESO's ClusterExternalSecret and ClusterPushSecret controllers do: the child is
//! applied with the parent as its controller, removed from namespaces that stop matching (and
//! from every namespace when the child's name changes), and a child someone else owns is left
//! alone and reported in `failedNamespaces`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use akvsync_actors::resource::{Reconciler, Trigger};
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_crds::constants::{ANNOTATION_FORCE_SYNC, CONDITION_READY, EVENT_REASON_UPDATE_FAILED};
use akvsync_crds::meta::find_condition;
use akvsync_crds::{
    ClusterExternalSecretNamespaceFailure, Condition, ExternalSecretMetadata, parse_go_duration,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use super::common::{self, refresh_every, spec_or_metadata_changed};
use super::context::Shared;
use super::status::{replace_ready, replace_status, same_condition};
use crate::observability::ResourceKind;

/// A cluster-scoped parent of one child per selected namespace.
pub trait FanOut:
    Resource<DynamicType = (), Scope = ClusterResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    type Child: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync;
    type Status: Serialize + Send + Sync;

    /// The metrics' name of the parent's kind.
    const KIND: ResourceKind;
    /// The field manager of the children it applies.
    const FIELD_MANAGER: &'static str;
    /// ESO's `failedNamespaces[].reason` for a child of that name someone else owns.
    const NOT_OWNED: &'static str;

    /// `spec.refreshTime`, as written.
    fn refresh_time(&self) -> Option<&str>;
    /// The children's name: the spec's, else the parent's.
    fn child_name(&self) -> String;
    fn child_metadata(&self) -> ExternalSecretMetadata;
    fn child_spec(&self) -> serde_json::Value;
    /// The namespaces the parent selects, from every namespace and its labels.
    fn selected(&self, namespaces: &BTreeMap<String, BTreeMap<String, String>>)
    -> BTreeSet<String>;
    /// What the status records now.
    fn recorded(&self) -> FanOutStatus;
    /// The status object to write.
    fn status(status: FanOutStatus) -> Self::Status;
    /// Whether another operator serves it (its children use stores of another class).
    fn foreign(&self, _shared: &Shared) -> bool {
        false
    }
}

/// The status fields every parent kind has, under its own names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FanOutStatus {
    pub child_name: Option<String>,
    pub failed: Option<Vec<ClusterExternalSecretNamespaceFailure>>,
    pub provisioned: Option<Vec<String>>,
    pub conditions: Option<Vec<Condition>>,
}

/// Why a namespace's child could not be provisioned or removed; the text is ESO's
/// `failedNamespaces[].reason`, the not-owned one per kind.
#[derive(Debug, thiserror::Error)]
enum NamespaceError {
    #[error("could not get {kind}: {source}")]
    Get { kind: String, source: kube::Error },
    #[error("{0}")]
    NotOwned(&'static str),
    #[error("the {0} has no uid yet")]
    NoUid(String),
    #[error("could not apply {kind}: {source}")]
    Apply { kind: String, source: kube::Error },
    #[error("could not delete {kind}: {source}")]
    Delete { kind: String, source: kube::Error },
}

pub struct FanOutReconciler<P> {
    shared: Shared,
    parent: PhantomData<fn() -> P>,
}

impl<P> FanOutReconciler<P> {
    pub fn new(shared: Shared) -> Self {
        Self {
            shared,
            parent: PhantomData,
        }
    }
}

impl<P: FanOut> Reconciler for FanOutReconciler<P> {
    type Resource = P;

    fn reconcile(&self, parent: Arc<P>, _: Trigger) -> BoxFuture<'static, Outcome> {
        let shared = self.shared.clone();
        async move {
            use crate::observability::Outcome as Ended;
            if parent.meta().deletion_timestamp.is_some() {
                // Its children go with it: they are owned, and the garbage collector removes them.
                return Outcome::Synced;
            }
            if parent.foreign(&shared) {
                tracing::debug!(name = %parent.name_any(), "uses a ClusterSecretStore of another controller class, left alone");
                return Outcome::Synced;
            }
            let _worker = shared.metrics.reconcile_started(P::KIND);
            let started = tokio::time::Instant::now();
            let outcome = reconcile(&shared, parent.as_ref()).await;
            let ended = match outcome {
                Outcome::Failed => Ended::Failed,
                Outcome::Synced | Outcome::NotDue(_) => Ended::Ready,
            };
            let took = started.elapsed();
            shared
                .metrics
                .reconciled(P::KIND, "", &parent.name_any(), took, ended);
            outcome
        }
        .boxed()
    }

    fn refresh(&self, parent: &P) -> Refresh {
        refresh_every(parent.refresh_time())
    }

    fn changed(&self, current: &P, next: &P) -> bool {
        spec_or_metadata_changed(current, next)
    }
}

async fn reconcile<P: FanOut>(shared: &Shared, parent: &P) -> Outcome {
    let child_name = parent.child_name();
    let recorded = parent.recorded();
    let previously = recorded.provisioned.clone().unwrap_or_default();
    if let Some(interval) = parent.refresh_time()
        && let Err(error) = parse_go_duration(interval)
    {
        let message = format!("spec.refreshTime: {error}");
        common::publish(
            shared,
            parent,
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
        let failed = recorded.failed.clone().unwrap_or_default();
        write_status(shared, parent, child_name, previously, failed, ready).await;
        return Outcome::Failed;
    }
    let mut failed = Vec::new();
    let mut failure = |namespace: &str, error: NamespaceError| {
        failed.push(ClusterExternalSecretNamespaceFailure {
            namespace: namespace.to_owned(),
            reason: Some(error.to_string()),
        });
    };
    // A new child name: the children of the old one go.
    if let Some(old_name) = recorded.child_name.as_deref()
        && old_name != child_name
    {
        for namespace in &previously {
            if let Err(error) = remove(shared, parent, namespace, old_name).await {
                failure(namespace, error);
            }
        }
    }
    let selected = parent.selected(&shared.namespaces.all());
    let mut provisioned = Vec::new();
    for namespace in &selected {
        match provision(shared, parent, namespace, &child_name).await {
            Ok(()) => provisioned.push(namespace.clone()),
            Err(error) => failure(namespace, error),
        }
    }
    for namespace in previously.iter().filter(|ns| !selected.contains(*ns)) {
        if let Err(error) = remove(shared, parent, namespace, &child_name).await {
            failure(namespace, error);
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
    write_status(shared, parent, child_name, provisioned, failed, ready).await;
    outcome
}

/// Whether this parent owns the child `name`; `None` when there is none.
async fn owned<P: FanOut>(
    api: &Api<P::Child>,
    parent: &P,
    name: &str,
) -> Result<Option<bool>, NamespaceError> {
    let child = api
        .get_opt(name)
        .await
        .map_err(|source| NamespaceError::Get {
            kind: child_kind::<P>(),
            source,
        })?;
    let uid = parent.uid().unwrap_or_default();
    Ok(child.map(|child| {
        child
            .owner_references()
            .iter()
            .any(|owner| owner.uid == uid)
    }))
}

fn child_kind<P: FanOut>() -> String {
    P::Child::kind(&()).into_owned()
}

/// Creates or updates the namespace's child, unless someone else owns one by that name.
async fn provision<P: FanOut>(
    shared: &Shared,
    parent: &P,
    namespace: &str,
    name: &str,
) -> Result<(), NamespaceError> {
    let api: Api<P::Child> = Api::namespaced(shared.kube.clone(), namespace);
    if owned(&api, parent, name).await? == Some(false) {
        return Err(NamespaceError::NotOwned(P::NOT_OWNED));
    }
    let metadata = parent.child_metadata();
    let mut annotations = metadata.annotations.unwrap_or_default();
    if let Some(force) = parent.annotations().get(ANNOTATION_FORCE_SYNC) {
        annotations.insert(ANNOTATION_FORCE_SYNC.to_owned(), force.clone());
    }
    let owner = parent
        .controller_owner_ref(&())
        .ok_or_else(|| NamespaceError::NoUid(P::kind(&()).into_owned()))?;
    let desired = serde_json::json!({
        "apiVersion": P::Child::api_version(&()),
        "kind": P::Child::kind(&()),
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": metadata.labels.unwrap_or_default(),
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": parent.child_spec(),
    });
    api.patch(
        name,
        &PatchParams::apply(P::FIELD_MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map(drop)
    .map_err(|source| NamespaceError::Apply {
        kind: child_kind::<P>(),
        source,
    })
}

/// Deletes the namespace's child `name`, if this parent owns it.
async fn remove<P: FanOut>(
    shared: &Shared,
    parent: &P,
    namespace: &str,
    name: &str,
) -> Result<(), NamespaceError> {
    let api: Api<P::Child> = Api::namespaced(shared.kube.clone(), namespace);
    if owned(&api, parent, name).await? == Some(true) {
        api.delete(name, &Default::default())
            .await
            .map_err(|source| NamespaceError::Delete {
                kind: child_kind::<P>(),
                source,
            })?;
    }
    Ok(())
}

async fn write_status<P: FanOut>(
    shared: &Shared,
    parent: &P,
    child_name: String,
    mut provisioned: Vec<String>,
    failed: Vec<ClusterExternalSecretNamespaceFailure>,
    ready: Condition,
) {
    provisioned.sort();
    let current = parent.recorded();
    let conditions = current.conditions.clone().unwrap_or_default();
    let next = FanOutStatus {
        child_name: Some(child_name),
        failed: (!failed.is_empty()).then_some(failed),
        provisioned: (!provisioned.is_empty()).then_some(provisioned),
        conditions: None,
    };
    if same_condition(find_condition(&conditions, CONDITION_READY), &ready)
        && current.provisioned == next.provisioned
        && current.failed == next.failed
        && current.child_name == next.child_name
    {
        return;
    }
    let status = P::status(FanOutStatus {
        conditions: Some(replace_ready(conditions, ready)),
        ..next
    });
    let api: Api<P> = Api::all(shared.kube.clone());
    if let Err(error) = replace_status(&api, &parent.name_any(), &status).await {
        warn!(kind = %P::kind(&()), name = %parent.name_any(), %error, "could not write status");
    }
}
