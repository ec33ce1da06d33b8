//! Watch semantics of the Kubernetes emulator, and kube-runtime's watcher and reflector
//! staying correct across bookmarks, cut streams and a forced "too old" (410).

use crate::kube_common;

use std::time::Duration;

use akvsync_emulators::kubeapi::{FaultMatch, FaultResponse, FaultRule, KubeConfig};
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube_common::{start, start_with, within};
use serde_json::json;

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": name}}),
    )
    .unwrap()
}

async fn create(api: &Api<ConfigMap>, name: &str) -> ConfigMap {
    within(api.create(
        &PostParams::default(),
        &config_map(name, json!({"app": "demo"})),
    ))
    .await
    .unwrap()
}

async fn next_event<S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin>(
    stream: &mut S,
) -> WatchEvent<ConfigMap> {
    within(stream.next())
        .await
        .expect("stream open")
        .expect("event parses")
}

fn name_of(event: &WatchEvent<ConfigMap>) -> (&'static str, String) {
    match event {
        WatchEvent::Added(object) => ("ADDED", object.metadata.name.clone().unwrap()),
        WatchEvent::Modified(object) => ("MODIFIED", object.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(object) => ("DELETED", object.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(bookmark) => ("BOOKMARK", bookmark.metadata.resource_version.clone()),
        WatchEvent::Error(status) => ("ERROR", status.code.to_string()),
    }
}

#[tokio::test]
async fn a_watch_resumes_from_a_resource_version_and_sees_later_changes_in_order() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let first = create(&api, "a").await;
    create(&api, "b").await;
    within(api.delete("a", &DeleteParams::default()))
        .await
        .unwrap();
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = within(api.watch(&WatchParams::default(), &rv))
        .await
        .unwrap()
        .boxed();
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("ADDED", "b".into())
    );
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("DELETED", "a".into())
    );
    create(&api, "c").await;
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("ADDED", "c".into())
    );
    assert_eq!(emulator.stats().open_watches, 1);
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_gets_one_error_410_event() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let first = create(&api, "a").await;
    create(&api, "b").await;
    emulator.compact_history();
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = within(api.watch(&WatchParams::default(), &rv))
        .await
        .expect("the watch itself answers 200")
        .boxed();
    match next_event(&mut stream).await {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected ERROR 410, got {other:?}"),
    }
    assert!(
        within(stream.next()).await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn a_short_history_expires_old_resource_versions() {
    let emulator = start_with(KubeConfig {
        history_limit: 3,
        ..KubeConfig::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let first = create(&api, "a").await;
    for name in ["b", "c", "d", "e"] {
        create(&api, name).await;
    }
    let mut stream = within(api.watch(
        &WatchParams::default(),
        &first.metadata.resource_version.unwrap(),
    ))
    .await
    .unwrap()
    .boxed();
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("ERROR", "410".into())
    );
}

#[tokio::test]
async fn bookmarks_carry_api_version_kind_and_the_latest_resource_version() {
    let emulator = start_with(KubeConfig {
        bookmark_interval: Duration::from_millis(200),
        ..KubeConfig::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let created = create(&api, "a").await;
    let other: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(emulator.client(), "default");
    let mut stream = within(api.watch(
        &WatchParams {
            bookmarks: true,
            ..WatchParams::default()
        },
        &created.metadata.resource_version.clone().unwrap(),
    ))
    .await
    .unwrap()
    .boxed();
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(json!({"metadata": {"name": "unrelated"}})).unwrap();
    let written = within(other.create(&PostParams::default(), &secret))
        .await
        .unwrap();
    loop {
        if let WatchEvent::Bookmark(bookmark) = next_event(&mut stream).await {
            assert_eq!(
                (
                    bookmark.types.api_version.as_str(),
                    bookmark.types.kind.as_str()
                ),
                ("v1", "ConfigMap")
            );
            if bookmark.metadata.resource_version
                == written.metadata.resource_version.clone().unwrap()
            {
                break;
            }
        }
    }
}

#[tokio::test]
async fn a_watch_ends_at_its_timeout() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let mut stream = within(api.watch(&WatchParams::default().timeout(1), "0"))
        .await
        .unwrap()
        .boxed();
    assert!(within(stream.next()).await.is_none());
}

#[tokio::test]
async fn label_selected_watches_see_objects_enter_and_leave_the_selection() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let created = create(&api, "a").await;
    let mut stream = within(api.watch(
        &WatchParams::default().labels("tier=gold"),
        &created.metadata.resource_version.unwrap(),
    ))
    .await
    .unwrap()
    .boxed();
    let label =
        |value: serde_json::Value| Patch::Merge(json!({"metadata": {"labels": {"tier": value}}}));
    within(api.patch("a", &PatchParams::default(), &label(json!("gold"))))
        .await
        .unwrap();
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("ADDED", "a".into())
    );
    within(api.patch("a", &PatchParams::default(), &json_data("x")))
        .await
        .unwrap();
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("MODIFIED", "a".into())
    );
    within(api.patch("a", &PatchParams::default(), &label(json!("silver"))))
        .await
        .unwrap();
    assert_eq!(
        name_of(&next_event(&mut stream).await),
        ("DELETED", "a".into())
    );
}

fn json_data(value: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"data": {"k": value}}))
}

/// Polls the reflector stream until `done` holds for the store, failing after the step timeout.
async fn until<S, F>(stream: &mut S, reader: &reflector::Store<ConfigMap>, done: F)
where
    S: Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
    F: Fn(&reflector::Store<ConfigMap>) -> bool,
{
    within(async {
        while !done(reader) {
            // Errors (cut streams, 410) are part of the scenario; the watcher recovers by itself.
            let _ = stream.next().await.expect("watcher stream never ends");
        }
    })
    .await;
}

fn names(reader: &reflector::Store<ConfigMap>) -> Vec<String> {
    let mut names: Vec<String> = reader
        .state()
        .iter()
        .filter_map(|object| object.metadata.name.clone())
        .collect();
    names.sort();
    names
}

fn data_of(reader: &reflector::Store<ConfigMap>, name: &str) -> Option<String> {
    reader
        .state()
        .iter()
        .find(|object| object.metadata.name.as_deref() == Some(name))
        .and_then(|object| object.data.as_ref()?.get("k").cloned())
}

#[tokio::test]
async fn a_reflector_stays_correct_across_bookmarks_cut_streams_and_a_forced_410() {
    let emulator = start_with(KubeConfig {
        bookmark_interval: Duration::from_millis(100),
        ..KubeConfig::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    for name in ["a", "b"] {
        create(&api, name).await;
    }
    let (reader, writer) = reflector::store();
    let mut stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .default_backoff()
        .boxed();
    until(&mut stream, &reader, |reader| names(reader) == ["a", "b"]).await;

    create(&api, "c").await;
    until(&mut stream, &reader, |reader| {
        names(reader) == ["a", "b", "c"]
    })
    .await;

    emulator.faults().cut_watches();
    within(api.patch("a", &PatchParams::default(), &json_data("after-cut")))
        .await
        .unwrap();
    within(api.delete("b", &DeleteParams::default()))
        .await
        .unwrap();
    until(&mut stream, &reader, |reader| {
        names(reader) == ["a", "c"] && data_of(reader, "a").as_deref() == Some("after-cut")
    })
    .await;

    // Keep the watcher disconnected while the changes it misses are compacted away.
    let lists_before = emulator.stats().requests_for("list", "configmaps");
    let refuse_watches = FaultMatch {
        verb: Some("watch".into()),
        ..FaultMatch::default()
    };
    emulator.faults().inject(FaultRule {
        matches: refuse_watches,
        response: FaultResponse::ServerError(500),
        count: None,
    });
    emulator.faults().cut_watches();
    within(api.delete("c", &DeleteParams::default()))
        .await
        .unwrap();
    create(&api, "d").await;
    emulator.compact_history();
    emulator.faults().clear();
    until(&mut stream, &reader, |reader| names(reader) == ["a", "d"]).await;
    assert!(
        emulator.stats().requests_for("list", "configmaps") > lists_before,
        "the 410 made the watcher relist"
    );
}

#[tokio::test]
async fn a_watcher_survives_streams_cut_after_every_few_events() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    emulator.faults().cut_watches_after(Some(2));
    let (reader, writer) = reflector::store();
    let mut stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .default_backoff()
        .boxed();
    for index in 0..6 {
        create(&api, &format!("cm{index}")).await;
    }
    until(&mut stream, &reader, |reader| names(reader).len() == 6).await;
}

#[tokio::test]
async fn a_streaming_list_sends_initial_events_then_the_end_bookmark() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    for name in ["a", "b"] {
        create(&api, name).await;
    }
    let mut stream = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match within(stream.try_next()).await.unwrap().unwrap() {
            watcher::Event::Init => {}
            watcher::Event::InitApply(object) => initial.push(object.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, vec!["a", "b"]);
    assert_eq!(
        emulator.stats().requests_for("list", "configmaps"),
        0,
        "no list request with streaming lists"
    );
    create(&api, "c").await;
    match within(stream.try_next()).await.unwrap().unwrap() {
        watcher::Event::Apply(object) => assert_eq!(object.metadata.name.as_deref(), Some("c")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn watchers_with_field_selectors_only_see_their_object() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let (reader, writer) = reflector::store();
    let config = watcher::Config::default().fields("metadata.name=b");
    let mut stream = reflector(writer, watcher(api.clone(), config))
        .default_backoff()
        .boxed();
    for name in ["a", "b", "c"] {
        create(&api, name).await;
    }
    until(&mut stream, &reader, |reader| names(reader) == ["b"]).await;
    let listed = within(api.list(&ListParams::default())).await.unwrap();
    assert_eq!(listed.items.len(), 3);
}

/// Every event of a watch until the server ends it at its deadline, with when each came.
async fn events_until_the_deadline(
    api: &Api<ConfigMap>,
    resource_version: &str,
    timeout_seconds: u32,
) -> Vec<((&'static str, String), Duration)> {
    let started = std::time::Instant::now();
    let mut stream = within(api.watch(
        &WatchParams {
            bookmarks: true,
            timeout: Some(timeout_seconds),
            ..WatchParams::default()
        },
        resource_version,
    ))
    .await
    .unwrap()
    .boxed();
    let mut events = Vec::new();
    while let Some(event) = within(stream.next()).await {
        events.push((name_of(&event.unwrap()), started.elapsed()));
    }
    events
}

#[tokio::test]
async fn a_watch_gets_a_bookmark_shortly_before_its_deadline_when_the_resource_version_advanced() {
    // Interval bookmarks are a minute apart (the default): only the last one can come.
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let created = create(&api, "a").await;
    let from = created.metadata.resource_version.clone().unwrap();

    // Nothing happened since `from`: nothing to tell, the stream just ends.
    let quiet = events_until_the_deadline(&api, &from, 3).await;
    assert_eq!(quiet, vec![]);

    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(emulator.client(), "default");
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(json!({"metadata": {"name": "elsewhere"}})).unwrap();
    let written = within(secrets.create(&PostParams::default(), &secret))
        .await
        .unwrap();
    let events = events_until_the_deadline(&api, &from, 3).await;
    let names: Vec<_> = events.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        names,
        vec![("BOOKMARK", written.metadata.resource_version.unwrap())]
    );
    let at = events[0].1;
    assert!(
        at >= Duration::from_millis(800) && at < Duration::from_secs(3),
        "the bookmark comes before the 3 s deadline (about 2 s before it), came after {at:?}"
    );
}
