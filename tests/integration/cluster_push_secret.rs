//! ClusterPushSecrets fan PushSecrets out to the namespaces their selectors match, follow label
//! changes, leave a PushSecret they do not own alone (reported in `failedNamespaces`), and the
//! PushSecrets they own push each namespace's Secret into the Key Vault emulator, read back with
//! the Azure SDK for Rust.

use crate::operator_world;
use crate::push_secret::secret_client;

use akvsync_crds::{ClusterPushSecret, PushSecret};
use kube::Api;
use operator_world::{World, cluster_store_yaml, eventually, label_namespace, timed};

const CPS: &str = r#"apiVersion: external-secrets.io/v1alpha1
kind: ClusterPushSecret
metadata:
  name: fan-out
spec:
  pushSecretName: db-push
  pushSecretMetadata:
    labels: {team: platform}
  namespaceSelectors:
    - matchLabels: {push: "yes"}
  refreshTime: 1h
  pushSecretSpec:
    refreshInterval: 1h
    secretStoreRefs:
      - {name: shared, kind: ClusterSecretStore}
    selector:
      secret: {name: db}
    data:
      - match:
          secretKey: password
          remoteRef: {remoteKey: pushed-db}
"#;

const NOT_OWNED: &str = r#"apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata:
  name: db-push
  namespace: taken
spec:
  secretStoreRefs:
    - {name: shared, kind: ClusterSecretStore}
  selector:
    secret: {name: nothing-here}
  data:
    - match:
        secretKey: password
        remoteRef: {remoteKey: not-pushed}
"#;

async fn label(world: &World, namespace: &str, value: Option<&str>) {
    label_namespace(world, namespace, "push", value).await;
}

async fn status(world: &World) -> akvsync_crds::ClusterPushSecretStatus {
    let api: Api<ClusterPushSecret> = Api::all(world.kube.client());
    timed(api.get("fan-out"))
        .await
        .unwrap()
        .status
        .unwrap_or_default()
}

async fn ready(world: &World) -> Option<(String, Option<String>)> {
    let ready = status(world)
        .await
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((ready.status, ready.message))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_secrets_follow_the_selected_namespaces_and_push_their_secrets() {
    let mut world = World::new().await;
    for (namespace, password) in [("app-1", "one"), ("app-2", "two")] {
        world.namespace(namespace).await;
        world
            .secret(namespace, "db", &[("password", password)])
            .await;
    }
    world.namespace("taken").await;
    world.apply_yaml(NOT_OWNED).await;
    label(&world, "app-1", Some("yes")).await;
    label(&world, "taken", Some("yes")).await;
    world.apply_yaml(&cluster_store_yaml(&world)).await;
    world.start_operator().await;
    world.apply_yaml(CPS).await;

    let client = secret_client(&world);
    let pushed = || async {
        timed(client.get_secret("pushed-db", None))
            .await
            .ok()?
            .into_model()
            .ok()?
            .value
    };
    eventually("app-1's password in the vault", || async {
        (pushed().await.as_deref() == Some("one")).then_some(())
    })
    .await;
    let failed = eventually("the failed and provisioned namespaces", || async {
        let status = status(&world).await;
        (status.provisioned_namespaces.as_deref() == Some(&["app-1".to_owned()][..]))
            .then_some(status.failed_namespaces?)
    })
    .await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].namespace, "taken");
    assert_eq!(
        failed[0].reason.as_deref(),
        Some("push secret already exists in namespace")
    );
    assert_eq!(
        ready(&world).await,
        Some((
            "False".to_owned(),
            Some("one or more namespaces failed".to_owned())
        ))
    );
    assert_eq!(
        status(&world).await.push_secret_name.as_deref(),
        Some("db-push")
    );
    let child = timed(Api::<PushSecret>::namespaced(world.kube.client(), "app-1").get("db-push"))
        .await
        .unwrap();
    let owner = &child.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ClusterPushSecret", "fan-out", Some(true))
    );
    assert_eq!(
        child
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .get("team")
            .map(String::as_str),
        Some("platform")
    );
    let untouched =
        timed(Api::<PushSecret>::namespaced(world.kube.client(), "taken").get("db-push"))
            .await
            .unwrap();
    assert!(untouched.metadata.owner_references.is_none());

    // A newly matching namespace gets its PushSecret; one that stops matching loses it.
    label(&world, "taken", None).await;
    label(&world, "app-2", Some("yes")).await;
    eventually("app-2's password in the vault", || async {
        (pushed().await.as_deref() == Some("two")).then_some(())
    })
    .await;
    label(&world, "app-1", None).await;
    eventually("app-1's PushSecret to be removed", || async {
        let api: Api<PushSecret> = Api::namespaced(world.kube.client(), "app-1");
        timed(api.get_opt("db-push"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    eventually("only app-2 provisioned, and Ready", || async {
        let status = status(&world).await;
        let ready = ready(&world).await?;
        (status.provisioned_namespaces.as_deref() == Some(&["app-2".to_owned()][..])
            && status.failed_namespaces.is_none()
            && ready.0 == "True")
            .then_some(())
    })
    .await;
    assert!(
        timed(Api::<PushSecret>::namespaced(world.kube.client(), "taken").get_opt("db-push"))
            .await
            .unwrap()
            .is_some(),
        "a PushSecret it does not own is never deleted"
    );

    // Renamed: the new name in every selected namespace, the old one gone.
    world
        .apply_yaml(&CPS.replace("pushSecretName: db-push", "pushSecretName: db-push-2"))
        .await;
    eventually("the renamed PushSecret, and the old one gone", || async {
        let api: Api<PushSecret> = Api::namespaced(world.kube.client(), "app-2");
        let old = timed(api.get_opt("db-push")).await.unwrap();
        let new = timed(api.get_opt("db-push-2")).await.unwrap();
        (old.is_none() && new.is_some()).then_some(())
    })
    .await;
    assert_eq!(
        status(&world).await.push_secret_name.as_deref(),
        Some("db-push-2")
    );
}
