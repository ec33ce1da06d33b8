//! ClusterExternalSecrets fan ExternalSecrets out to selected namespaces and follow namespace
//! label changes.

use crate::operator_world;

use akvsync_crds::{ClusterExternalSecret, ExternalSecret};
use kube::Api;
use operator_world::{
    World, cluster_store_yaml, eventually, external_secret_yaml, label_namespace, timed,
};

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
    label_namespace(world, namespace, "fan-out", value).await;
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
    world.apply_yaml(&cluster_store_yaml(&world)).await;
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

    // Renamed: the new name in every selected namespace, the old one gone (ESO's rule).
    world
        .apply_yaml(&CES.replace(
            "externalSecretName: app-config",
            "externalSecretName: renamed",
        ))
        .await;
    eventually(
        "the renamed ExternalSecrets, and the old ones gone",
        || async {
            for namespace in ["app-2", "app-3"] {
                let api: Api<ExternalSecret> = Api::namespaced(world.kube.client(), namespace);
                let old = timed(api.get_opt("app-config")).await.unwrap();
                let new = timed(api.get_opt("renamed")).await.unwrap();
                if old.is_some() || new.is_none() {
                    return None;
                }
            }
            Some(())
        },
    )
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
    world.apply_yaml(&cluster_store_yaml(&world)).await;
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
