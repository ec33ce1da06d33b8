//! ClusterExternalSecrets fan ExternalSecrets out to selected namespaces and follow namespace
//! label changes.

use crate::operator_world;

use akvsync_crds::{ClusterExternalSecret, ExternalSecret};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams};
use operator_world::{World, eventually, external_secret_yaml, timed};

const CLUSTER_STORE: &str = r#"apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: shared
spec:
  provider:
    azurekv:
      vaultUrl: "VAULT_URL"
      tenantId: "tenant-a"
      authSecretRef:
        clientId: {name: azure-creds, key: client-id, namespace: team-a}
        clientSecret: {name: azure-creds, key: client-secret, namespace: team-a}
"#;

const CES: &str = r#"apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: fan-out
spec:
  externalSecretName: app-config
  namespaceSelectors:
    - matchLabels: {fan-out: "yes"}
  refreshTime: 1h
  externalSecretSpec:
    refreshInterval: 1h
    secretStoreRef: {name: shared, kind: ClusterSecretStore}
    target: {name: app-config}
    data:
      - secretKey: setting
        remoteRef: {key: shared-setting}
"#;

async fn label(world: &World, namespace: &str, value: Option<&str>) {
    let patch = serde_json::json!({"metadata": {"labels": {"fan-out": value}}});
    timed(Api::<Namespace>::all(world.kube.client()).patch(
        namespace,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    ))
    .await
    .expect("label namespace");
}

async fn provisioned(world: &World) -> Vec<String> {
    let api: Api<ClusterExternalSecret> = Api::all(world.kube.client());
    let ces = timed(api.get("fan-out")).await.unwrap();
    ces.status
        .and_then(|s| s.provisioned_namespaces)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secrets_follow_the_selected_namespaces() {
    let mut world = World::new().await;
    world.set_secret("shared-setting", "on");
    for namespace in ["app-1", "app-2", "app-3"] {
        world.namespace(namespace).await;
    }
    label(&world, "app-1", Some("yes")).await;
    label(&world, "app-2", Some("yes")).await;
    world
        .apply_yaml(
            &CLUSTER_STORE.replace("VAULT_URL", &world.azure.vault_url(operator_world::VAULT)),
        )
        .await;
    world.start_operator().await;
    world.apply_yaml(CES).await;

    for namespace in ["app-1", "app-2"] {
        world
            .wait_for_value(namespace, "app-config", "setting", "on")
            .await;
    }
    eventually("provisioned namespaces", || async {
        (provisioned(&world).await == ["app-1", "app-2"]).then_some(())
    })
    .await;
    let es =
        timed(Api::<ExternalSecret>::namespaced(world.kube.client(), "app-1").get("app-config"))
            .await
            .unwrap();
    assert_eq!(
        es.metadata.owner_references.unwrap()[0].kind,
        "ClusterExternalSecret"
    );

    label(&world, "app-3", Some("yes")).await;
    world
        .wait_for_value("app-3", "app-config", "setting", "on")
        .await;
    label(&world, "app-1", None).await;
    eventually("app-1's ExternalSecret to be removed", || async {
        let api: Api<ExternalSecret> = Api::namespaced(world.kube.client(), "app-1");
        timed(api.get_opt("app-config"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    eventually("provisioned namespaces to follow", || async {
        (provisioned(&world).await == ["app-2", "app-3"]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_secret_it_does_not_own_is_left_alone_and_reported() {
    let mut world = World::new().await;
    world.set_secret("shared-setting", "on");
    world.namespace("taken").await;
    label(&world, "taken", Some("yes")).await;
    world
        .apply_yaml(&external_secret_yaml(
            "taken",
            "app-config",
            "1h",
            &[("mine", "shared-setting")],
        ))
        .await;
    world
        .apply_yaml(
            &CLUSTER_STORE.replace("VAULT_URL", &world.azure.vault_url(operator_world::VAULT)),
        )
        .await;
    world.start_operator().await;
    world.apply_yaml(CES).await;
    let failure = eventually("the failed namespace", || async {
        let api: Api<ClusterExternalSecret> = Api::all(world.kube.client());
        let status = timed(api.get("fan-out")).await.unwrap().status?;
        status.failed_namespaces?.into_iter().next()
    })
    .await;
    assert_eq!(failure.namespace, "taken");
    assert_eq!(
        failure.reason.as_deref(),
        Some("external secret already exists in namespace")
    );
    let es =
        timed(Api::<ExternalSecret>::namespaced(world.kube.client(), "taken").get("app-config"))
            .await
            .unwrap();
    assert_eq!(es.spec.data.unwrap()[0].secret_key, "mine");
}
