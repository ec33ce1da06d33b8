//! Pieces every reconciler shares: refresh intervals, change detection, events.

use std::time::Duration;

use akvsync_actors::schedule::Refresh;
use akvsync_crds::parse_go_duration;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::debug;

use super::context::Shared;

/// ESO's default refresh of every kind.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

/// Event notes are capped by the API server.
const EVENT_NOTE_LIMIT: usize = 1024;

/// The refresh a Go duration string asks for: the default when absent or invalid, only on
/// change when zero.
pub fn refresh_every(interval: Option<&str>) -> Refresh {
    let interval = interval
        .and_then(|text| parse_go_duration(text).ok())
        .unwrap_or(DEFAULT_REFRESH);
    if interval.is_zero() {
        Refresh::OnChange
    } else {
        Refresh::Every(interval)
    }
}

/// Whether the spec (generation), labels, annotations or deletion state differ.
pub fn spec_or_metadata_changed<K: Resource>(current: &K, next: &K) -> bool {
    current.meta().generation != next.meta().generation
        || current.labels() != next.labels()
        || current.annotations() != next.annotations()
        || current.meta().deletion_timestamp != next.meta().deletion_timestamp
}

/// Publishes an event about `object`; a failure to publish is logged, never fatal.
pub async fn publish<K>(
    shared: &Shared,
    object: &K,
    type_: EventType,
    action: &str,
    reason: &str,
    note: &str,
) where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.chars().take(EVENT_NOTE_LIMIT).collect()),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(error) = shared
        .recorder
        .publish(&event, &object.object_ref(&()))
        .await
    {
        debug!(%error, "could not publish event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_intervals_follow_go_durations() {
        assert_eq!(
            refresh_every(Some("15s")),
            Refresh::Every(Duration::from_secs(15))
        );
        assert_eq!(refresh_every(Some("0")), Refresh::OnChange);
        assert_eq!(refresh_every(None), Refresh::Every(DEFAULT_REFRESH));
        assert_eq!(refresh_every(Some("soon")), Refresh::Every(DEFAULT_REFRESH));
    }
}
