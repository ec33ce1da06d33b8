//! The PushSecret's finalizer: kept while `deletionPolicy` is Delete, and removed only after
//! every remote object it owns is gone.

use akvsync_actors::schedule::Outcome;
use akvsync_crds::constants::{CONDITION_READY, FINALIZER_PUSH_SECRET, REASON_PUSH_ERRORED};
use akvsync_crds::{Condition, PushSecret, PushSecretDeletionPolicy};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use tracing::warn;

use super::error::PushFailure;
use super::remote::delete_entries;
use super::{Synced, publish, write_status};
use crate::controller::context::Shared;

/// On deletion with `deletionPolicy: Delete`, removes every remote object, then the finalizer.
/// A failed delete keeps the finalizer, reports `Ready=False` with ESO's message and an Event,
/// and is retried: the finalizer never goes while a remote object it owns may remain.
pub async fn finalize(
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
        let message = PushFailure::Delete(cause).to_string();
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
pub async fn ensure_finalizer(
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
