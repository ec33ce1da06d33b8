//! Gates before a sync: `spec.syncWindows` for periodic refreshes, and ESO's rule that skips a
//! changed trigger (a restart) when nothing changed and the Secret is intact.

use std::time::Duration;

use akvsync_actors::resource::Trigger;
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_crds::constants::{ANNOTATION_DATA_HASH, CONDITION_READY, LABEL_MANAGED};
use akvsync_crds::meta::find_condition;
use akvsync_crds::{ExternalSecret, RefreshPolicy};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use tracing::debug;

use super::{refresh_of, synced_resource_version};
use crate::controller::targets::TargetSecrets;
use crate::sync::built_from::{ANNOTATION_BUILT_FROM, BuiltFrom};
use crate::sync::hash;
use crate::sync::windows::SyncGate;

/// How long a periodic refresh of a Ready ExternalSecret must wait for `spec.syncWindows` to
/// let it run; `None` when it may run now. Changes, and retries of a failing sync, are not gated;
/// invalid windows are reported by the sync itself.
pub fn outside_sync_window(es: &ExternalSecret, trigger: Trigger) -> Option<Duration> {
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

/// What ESO's skip rule decided for a changed trigger.
pub enum Due {
    /// Skip the sync: look again after this outcome.
    No(Outcome),
    /// Sync; the target Secret as read for the check, if it was read.
    Yes(Option<Option<Box<Secret>>>),
}

/// ESO's skip rule after a restart: nothing changed, the interval has not passed, and the Secret
/// is intact — look again when the interval ends. When the last sync of this spec succeeded,
/// the Secret is read even if the interval has passed: found intact, what its annotation says
/// it was built from lets the sync prove it fresh without reading a value. A generic target
/// (`spec.target.manifest`) always syncs.
pub async fn due(
    es: &ExternalSecret,
    name: &str,
    secrets: &Api<Secret>,
    targets: &TargetSecrets,
    trigger: Trigger,
) -> Due {
    let generic = es.spec.manifest().is_some();
    if generic
        || trigger != Trigger::Changed
        || !last_sync_current(es, &synced_resource_version(es))
    {
        return Due::Yes(None);
    }
    let secret = match secrets.get_opt(name).await {
        Ok(secret) => secret,
        Err(_) => return Due::Yes(None),
    };
    let intact = secret.as_ref().filter(|secret| {
        secret.labels().get(LABEL_MANAGED).is_some()
            && secret.annotations().get(ANNOTATION_DATA_HASH)
                == Some(&hash::data_hash(
                    &secret
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.0.clone()))
                        .collect(),
                ))
    });
    let Some(intact) = intact else {
        return Due::Yes(Some(secret.map(Box::new)));
    };
    targets.found_intact(
        &es.namespace().unwrap_or_default(),
        name,
        intact.resource_version().as_deref(),
        intact
            .annotations()
            .get(ANNOTATION_BUILT_FROM)
            .and_then(|annotation| BuiltFrom::from_annotation(annotation)),
    );
    match remaining(es) {
        Some(remaining) => {
            debug!(name = %es.name_any(), "in sync since the last refresh, not due yet");
            Due::No(match remaining {
                Some(remaining) => Outcome::NotDue(remaining),
                None => Outcome::Synced,
            })
        }
        None => Due::Yes(Some(secret.map(Box::new))),
    }
}

/// Whether the last sync succeeded with the spec and metadata the ExternalSecret has now, whose
/// synced version is `version`.
pub fn last_sync_current(es: &ExternalSecret, version: &str) -> bool {
    let Some(status) = es.status.as_ref() else {
        return false;
    };
    status.synced_resource_version.as_deref() == Some(version)
        && find_condition(
            status.conditions.as_deref().unwrap_or_default(),
            CONDITION_READY,
        )
        .is_some_and(|ready| ready.is_true())
}

/// After a current sync: how long until the interval ends (`None` inside: never, as for
/// `CreatedOnce`); `None` when it has ended.
fn remaining(es: &ExternalSecret) -> Option<Option<Duration>> {
    let refreshed = es.status.as_ref()?.refresh_time.as_ref()?.0;
    let elapsed =
        Duration::try_from(k8s_openapi::jiff::Timestamp::now().duration_since(refreshed)).ok()?;
    Some(
        match (es.spec.refresh_policy.unwrap_or_default(), refresh_of(es)) {
            (RefreshPolicy::CreatedOnce, _) => None,
            (_, Refresh::Every(interval)) => Some(interval.checked_sub(elapsed)?),
            (_, Refresh::OnChange) => None,
        },
    )
}
