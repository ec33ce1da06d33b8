//! Pieces every reconciler shares: refresh intervals, change detection, events.

use std::collections::BTreeMap;
use std::time::Duration;

use akvsync_actors::schedule::Refresh;
use akvsync_crds::parse_go_duration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tracing::debug;

use super::context::{CONTROLLER_NAME, Shared};

/// A Secret's `data` as plain bytes per key.
pub fn secret_bytes(secret: Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, value.0))
        .collect()
}

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
///
/// Warnings go through kube's recorder, which folds repeats into one event series (a failing
/// resource retries with backoff). Normal events (created, updated, …) are written directly:
/// the recorder keeps every event it sent in memory for minutes, which at 100k resources synced
/// at once would be most of the operator's memory.
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
    let note: String = note.chars().take(EVENT_NOTE_LIMIT).collect();
    let reference = object.object_ref(&());
    let result = match type_ {
        EventType::Warning => {
            let event = Event {
                type_,
                reason: reason.to_owned(),
                note: Some(note),
                action: action.to_owned(),
                secondary: None,
            };
            shared.recorder.publish(&event, &reference).await
        }
        EventType::Normal => {
            let namespace = reference
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned());
            let now = k8s_openapi::jiff::Timestamp::now();
            let event = events::Event {
                metadata: ObjectMeta {
                    name: Some(format!(
                        "{}.{:x}",
                        reference.name.clone().unwrap_or_default(),
                        now.as_nanosecond()
                    )),
                    namespace: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                action: Some(action.to_owned()),
                reason: Some(reason.to_owned()),
                note: Some(note),
                type_: Some("Normal".to_owned()),
                event_time: Some(MicroTime(now)),
                regarding: Some(reference),
                reporting_controller: Some(CONTROLLER_NAME.to_owned()),
                reporting_instance: Some(shared.instance.clone()),
                ..events::Event::default()
            };
            Api::<events::Event>::namespaced(shared.kube.clone(), &namespace)
                .create(&PostParams::default(), &event)
                .await
                .map(drop)
        }
    };
    if let Err(error) = result {
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
