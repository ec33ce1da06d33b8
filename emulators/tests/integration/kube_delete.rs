//! Deletion: finalizers and deletionTimestamp, preconditions, ownerReference garbage collection
//! (background, foreground, orphan) and namespace termination.

use crate::kube_common;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};
use kube_common::{create_namespace, start, within};
use serde_json::json;

fn owned_secret(name: &str, owner: &ConfigMap, block: bool) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid, "blockOwnerDeletion": block,
    }]}})).unwrap()
}

async fn owner(api: &Api<ConfigMap>, name: &str) -> ConfigMap {
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    within(api.create(&PostParams::default(), &map))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_object_with_finalizers_terminates_until_they_are_removed() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "c", "finalizers": ["example.com/keep"]}}),
    )
    .unwrap();
    within(api.create(&PostParams::default(), &map))
        .await
        .unwrap();
    let terminating = within(api.delete("c", &DeleteParams::default()))
        .await
        .unwrap()
        .left()
        .expect("still present");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(0));
    let add =
        Patch::Merge(json!({"metadata": {"finalizers": ["example.com/keep", "example.com/new"]}}));
    let error = within(api.patch("c", &PatchParams::default(), &add))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 422),
        "{error:?}"
    );
    let uid = terminating.metadata.uid.clone().unwrap();
    within(api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    ))
    .await
    .unwrap();
    within(await_condition(
        api.clone(),
        "c",
        conditions::is_deleted(&uid),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn delete_preconditions_conflict_on_mismatch() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    owner(&api, "c").await;
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let error = within(api.delete("c", &wrong)).await.unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 409),
        "{error:?}"
    );
    let gone = within(api.delete("c", &DeleteParams::default()))
        .await
        .unwrap();
    assert!(
        gone.is_right(),
        "an object without finalizers is gone at once"
    );
}

#[tokio::test]
async fn background_deletion_collects_dependents_whose_owners_are_gone() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let first = owner(&maps, "one").await;
    let second = owner(&maps, "two").await;
    within(secrets.create(
        &PostParams::default(),
        &owned_secret("child", &first, false),
    ))
    .await
    .unwrap();
    let mut shared = owned_secret("shared", &first, false);
    shared.metadata.owner_references.as_mut().unwrap().push(serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "two", "uid": second.metadata.uid})).unwrap());
    let shared = within(secrets.create(&PostParams::default(), &shared))
        .await
        .unwrap();
    let child_uid = within(secrets.get("child"))
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    within(maps.delete("one", &DeleteParams::background()))
        .await
        .unwrap();
    within(await_condition(
        secrets.clone(),
        "child",
        conditions::is_deleted(&child_uid),
    ))
    .await
    .unwrap();
    let still = within(secrets.get("shared"))
        .await
        .expect("a dependent with a live owner stays");
    assert_eq!(still.metadata.uid, shared.metadata.uid);
}

#[tokio::test]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let parent = owner(&maps, "parent").await;
    let mut child = owned_secret("child", &parent, true);
    child.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    within(secrets.create(&PostParams::default(), &child))
        .await
        .unwrap();
    let terminating = within(maps.delete("parent", &DeleteParams::foreground()))
        .await
        .unwrap()
        .left()
        .expect("owner waits for its dependents");
    assert_eq!(
        terminating.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    let child = within(secrets.get("child")).await.unwrap();
    assert!(
        child.metadata.deletion_timestamp.is_some(),
        "the dependent is being deleted"
    );
    within(secrets.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    ))
    .await
    .unwrap();
    within(await_condition(
        maps.clone(),
        "parent",
        conditions::is_deleted(parent.metadata.uid.as_deref().unwrap()),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_and_strips_the_owner_reference() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let parent = owner(&maps, "parent").await;
    within(secrets.create(
        &PostParams::default(),
        &owned_secret("child", &parent, false),
    ))
    .await
    .unwrap();
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    within(maps.delete("parent", &orphan)).await.unwrap();
    let child = within(secrets.get("child")).await.unwrap();
    assert!(child.metadata.owner_references.is_none());
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_and_refuses_new_content() {
    let emulator = start().await;
    create_namespace(&emulator.client(), "doomed").await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "doomed");
    let held: Secret = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    within(secrets.create(&PostParams::default(), &held))
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(emulator.client());
    let namespace = within(namespaces.delete("doomed", &DeleteParams::default()))
        .await
        .unwrap()
        .left()
        .expect("terminating");
    assert_eq!(
        namespace.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    let fresh: Secret = serde_json::from_value(json!({"metadata": {"name": "fresh"}})).unwrap();
    let error = within(secrets.create(&PostParams::default(), &fresh))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 403 && status.message.contains("because it is being terminated")),
        "{error:?}"
    );
    within(secrets.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    ))
    .await
    .unwrap();
    within(await_condition(
        namespaces.clone(),
        "doomed",
        conditions::is_deleted(namespace.metadata.uid.as_deref().unwrap()),
    ))
    .await
    .unwrap();
}
