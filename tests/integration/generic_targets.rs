//! Generic targets (`spec.target.manifest`) end to end: refused with ESO's message unless the
//! operator runs with `--unsafe-allow-generic-targets`; then a ConfigMap and a custom resource
//! are written from vault values (templates reaching any path), left alone while nothing
//! changes, repaired at the next refresh after an edit, and updated when the vault changes.

use crate::operator_world;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, ResourceExt};
use operator_world::{NAMESPACE, World, eventually, timed};

/// An ExternalSecret reading `host` from the vault into a generic target.
fn external_secret(name: &str, api_version: &str, kind: &str, extra: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n    manifest:\n      apiVersion: {api_version}\n      kind: {kind}\n{extra}  data:\n    - secretKey: host\n      remoteRef:\n        key: db-host\n"
    )
}

const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

async fn config_map(world: &World, name: &str) -> Option<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(world.kube.client(), NAMESPACE);
    timed(api.get_opt(name)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generic_target_is_refused_without_the_flag() {
    let mut world = World::new().await;
    world.set_secret("db-host", "db.internal");
    world.start_operator().await;
    world
        .apply_yaml(&external_secret("settings", "v1", "ConfigMap", ""))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "settings", "False").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "SecretSyncedError",
            "invalid generic target: generic targets are disabled. Enable with --unsafe-allow-generic-targets flag"
        )
    );
    assert!(config_map(&world, "settings").await.is_none());
    assert!(world.k8s_secret(NAMESPACE, "settings").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_maps_and_custom_resources_are_written_kept_and_repaired() {
    let mut world = World::new().await;
    world.set_secret("db-host", "db.internal");
    world.apply_yaml(WIDGET_CRD).await;
    let mut config = world.operator_config();
    config.scope.generic_targets = true;
    world.start_operator_with(config).await;

    world
        .apply_yaml(&external_secret("settings", "v1", "ConfigMap", ""))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "settings", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("ResourceSynced", "secret synced")
    );
    let written = config_map(&world, "settings").await.unwrap();
    assert_eq!(
        written.data.as_ref().unwrap()["host"],
        "db.internal",
        "{written:?}"
    );
    assert_eq!(
        written.labels()["reconcile.external-secrets.io/managed"],
        "true"
    );
    assert!(
        written
            .annotations()
            .contains_key("reconcile.external-secrets.io/data-hash")
    );
    let owner = &written.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ExternalSecret", "settings")
    );
    let events: Api<Event> = Api::namespaced(world.kube.client(), NAMESPACE);
    let notes: Vec<(String, String)> = timed(events.list(&Default::default()))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|event| {
            (
                event.reason.unwrap_or_default(),
                event.note.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        notes.contains(&(
            "Created".to_owned(),
            "Created ConfigMap settings".to_owned()
        )),
        "{notes:?}"
    );
    assert!(world.k8s_secret(NAMESPACE, "settings").await.is_none());

    // Refreshes every second: nothing changed, nothing written.
    let writes = |world: &World| world.kube.stats().requests_for("update", "configmaps");
    let before = writes(&world);
    let reads = world.azure.stats().gets(operator_world::VAULT);
    eventually("two more refreshes", || async {
        (world.azure.stats().gets(operator_world::VAULT) >= reads + 2).then_some(())
    })
    .await;
    assert_eq!(writes(&world), before, "an unchanged target is not written");

    // An edit is repaired at the next refresh; a vault change reaches the ConfigMap.
    let edit = serde_json::json!({"data": {"host": "edited", "extra": "x"}});
    timed(
        Api::<ConfigMap>::namespaced(world.kube.client(), NAMESPACE).patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        ),
    )
    .await
    .unwrap();
    eventually("the edit repaired", || async {
        let data = config_map(&world, "settings").await?.data?;
        (data.get("host").map(String::as_str) == Some("db.internal") && !data.contains_key("extra"))
            .then_some(())
    })
    .await;
    world.set_secret("db-host", "db2.internal");
    eventually("the vault change in the ConfigMap", || async {
        let data = config_map(&world, "settings").await?.data?;
        (data.get("host").map(String::as_str) == Some("db2.internal")).then_some(())
    })
    .await;

    // Merge: nothing to merge into is ResourceMissing; then the values join what is there.
    world
        .apply_yaml(&external_secret(
            "merged",
            "v1",
            "ConfigMap",
            "    creationPolicy: Merge\n",
        ))
        .await;
    let (reason, message) = world
        .wait_for_reason(NAMESPACE, "merged", "ResourceMissing")
        .await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "True",
            "resource will not be created due to CreationPolicy=Merge"
        )
    );
    world
        .apply_yaml(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged\n  namespace: {NAMESPACE}\ndata:\n  keep: me\n"
        ))
        .await;
    eventually("the values merged into the ConfigMap", || async {
        let data = config_map(&world, "merged").await?.data?;
        (data.get("host").map(String::as_str) == Some("db2.internal")
            && data.get("keep").map(String::as_str) == Some("me"))
        .then_some(())
    })
    .await;

    // An object another controller controls is never written.
    world
        .apply_yaml(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: taken\n  namespace: {NAMESPACE}\n  ownerReferences:\n    - apiVersion: apps/v1\n      kind: Deployment\n      name: web\n      uid: 00000000-0000-0000-0000-000000000001\n      controller: true\ndata:\n  mine: \"yes\"\n"
        ))
        .await;
    world
        .apply_yaml(&external_secret("taken", "v1", "ConfigMap", ""))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "taken", "False").await;
    assert_eq!(reason, "ResourceSyncedError");
    assert_eq!(
        message,
        "failed to take ownership of target secret: it is controlled by Deployment web"
    );
    let untouched = config_map(&world, "taken").await.unwrap().data.unwrap();
    assert_eq!(untouched.get("mine").map(String::as_str), Some("yes"));
    assert!(!untouched.contains_key("host"));

    // A custom resource: values under spec, and templates at any path.
    let template = "    template:\n      data:\n        url: \"https://{{ .host }}\"\n      templateFrom:\n        - literal: \"host: {{ .host }}\\nport: 5432\"\n          target: spec.database\n        - literal: \"- {{ .host }}\"\n          target: spec.rules[0].hosts\n";
    world
        .apply_yaml(&external_secret(
            "widget",
            "example.com/v1",
            "Widget",
            template,
        ))
        .await;
    let (reason, _) = world.wait_for_ready(NAMESPACE, "widget", "True").await;
    assert_eq!(reason, "ResourceSynced");
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(world.kube.client(), NAMESPACE, &resource);
    let widget = timed(widgets.get("widget")).await.unwrap();
    assert_eq!(
        widget.data["data"],
        serde_json::json!({"url": "https://db2.internal"})
    );
    assert_eq!(
        widget.data["spec"],
        serde_json::json!({
            "database": {"host": "db2.internal", "port": 5432},
            "rules": [{"hosts": ["db2.internal"]}]
        })
    );
}

/// An ExternalSecret whose `dataFrom.find` writes a ConfigMap, with the given target policies.
fn found_config_map(name: &str, regexp: &str, policies: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n{policies}    manifest:\n      apiVersion: v1\n      kind: ConfigMap\n  dataFrom:\n    - find:\n        name:\n          regexp: \"{regexp}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_targets_follow_the_creation_and_deletion_policies_and_refuse_cluster_kinds() {
    let mut world = World::new().await;
    world.set_secret("temp-a", "1");
    world.set_secret("db-host", "db.internal");
    let mut config = world.operator_config();
    config.scope.generic_targets = true;
    world.start_operator_with(config).await;

    // None writes nothing.
    world
        .apply_yaml(&found_config_map(
            "unwritten",
            "^temp-",
            "    creationPolicy: None\n",
        ))
        .await;
    let (reason, _) = world.wait_for_ready(NAMESPACE, "unwritten", "True").await;
    assert_eq!(reason, "ResourceSynced");
    assert!(config_map(&world, "unwritten").await.is_none());

    // No provider data: Retain keeps the ConfigMap, Delete deletes the one it owns.
    world
        .apply_yaml(&found_config_map(
            "kept",
            "^temp-",
            "    deletionPolicy: Retain\n",
        ))
        .await;
    world
        .apply_yaml(&found_config_map(
            "removed",
            "^temp-",
            "    deletionPolicy: Delete\n",
        ))
        .await;
    for name in ["kept", "removed"] {
        eventually(&format!("ConfigMap {name}"), || async {
            config_map(&world, name).await.map(drop)
        })
        .await;
    }
    world
        .azure
        .delete_secret(operator_world::VAULT, "temp-a")
        .unwrap();
    let (status, message) = world
        .wait_for_reason(NAMESPACE, "removed", "ResourceDeleted")
        .await;
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("True", "secret deleted due to DeletionPolicy=Delete")
    );
    assert!(config_map(&world, "removed").await.is_none());
    eventually("Retain's message", || async {
        let es = world.external_secret(NAMESPACE, "kept").await;
        let ready = es
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (ready.reason.as_deref() == Some("ResourceSynced")
            && ready.message.as_deref() == Some("secret retained due to DeletionPolicy=Retain"))
        .then_some(())
    })
    .await;
    assert!(config_map(&world, "kept").await.is_some());

    // A cluster-scoped kind cannot be a target.
    world
        .apply_yaml(&external_secret("cluster-wide", "v1", "Namespace", ""))
        .await;
    let (reason, message) = world
        .wait_for_ready(NAMESPACE, "cluster-wide", "False")
        .await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "SecretSyncedError",
            "invalid generic target: Namespace is cluster-scoped; a target must live in the ExternalSecret's namespace"
        )
    );
}
