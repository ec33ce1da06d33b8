//! Events written through events.k8s.io/v1 (kube-runtime's Recorder) are visible as core/v1
//! Events, with the field selectors `kubectl describe` uses.

use crate::kube_common;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::runtime::events::{Event as RecordedEvent, EventType, Recorder, Reporter};
use kube::{Api, Resource};
use kube_common::{start, within};
use serde_json::json;

#[tokio::test]
async fn recorder_events_are_visible_as_core_events_with_counts() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "target"}})).unwrap();
    let map = within(maps.create(&PostParams::default(), &map))
        .await
        .unwrap();
    let recorder = Recorder::new(
        emulator.client(),
        Reporter {
            controller: "akvsync".into(),
            instance: Some("akvsync-0".into()),
        },
    );
    let reference = map.object_ref(&());
    let event = RecordedEvent {
        type_: EventType::Normal,
        reason: "Updated".into(),
        note: Some("secret synced".into()),
        action: "Sync".into(),
        secondary: None,
    };
    within(recorder.publish(&event, &reference)).await.unwrap();
    within(recorder.publish(&event, &reference)).await.unwrap();
    let new_api: Api<Event> = Api::namespaced(emulator.client(), "default");
    let recorded = within(new_api.list(&ListParams::default()))
        .await
        .unwrap()
        .items;
    assert_eq!(
        recorded.len(),
        1,
        "a repeat is a series patch of the same event"
    );
    assert_eq!(
        recorded[0].series.as_ref().map(|series| series.count),
        Some(2)
    );
    let core: Api<CoreEvent> = Api::namespaced(emulator.client(), "default");
    let selector = format!(
        "involvedObject.name=target,involvedObject.namespace=default,involvedObject.kind=ConfigMap,involvedObject.uid={}",
        map.metadata.uid.clone().unwrap()
    );
    let described = within(core.list(&ListParams::default().fields(&selector)))
        .await
        .unwrap()
        .items;
    assert_eq!(described.len(), 1);
    let event = &described[0];
    assert_eq!(event.message.as_deref(), Some("secret synced"));
    assert_eq!(event.reason.as_deref(), Some("Updated"));
    assert_eq!(event.count, Some(2));
    assert_eq!(
        event
            .source
            .as_ref()
            .and_then(|source| source.component.as_deref()),
        Some("akvsync")
    );
    assert!(event.first_timestamp.is_some() && event.last_timestamp.is_some());
    let other = within(core.list(&ListParams::default().fields("involvedObject.name=other")))
        .await
        .unwrap()
        .items;
    assert!(other.is_empty());
    let by_reason =
        within(new_api.list(&ListParams::default().fields("reason=Updated,regarding.name=target")))
            .await
            .unwrap()
            .items;
    assert_eq!(by_reason.len(), 1);
}
