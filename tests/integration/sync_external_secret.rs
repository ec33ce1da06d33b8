//! ExternalSecrets synced end to end by the operator against both emulators.

use crate::operator_world;

use operator_world::{NAMESPACE, VAULT, World, eventually, external_secret_yaml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_secret_becomes_a_kubernetes_secret_and_follows_changes() {
    let mut world = World::new().await;
    world.set_secret("db-password", "hunter2");
    world.start_operator().await;
    assert_eq!(
        world.wait_for_store(NAMESPACE, "vault", "True").await,
        "store validated"
    );

    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "db",
            "1s",
            &[("password", "db-password")],
        ))
        .await;
    let secret = world
        .wait_for_value(NAMESPACE, "db", "password", "hunter2")
        .await;
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("reconcile.external-secrets.io/managed")
            .map(String::as_str),
        Some("true")
    );
    let owner = &secret.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(owner.kind, "ExternalSecret");
    let (reason, message) = world.wait_for_ready(NAMESPACE, "db", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("SecretSynced", "secret synced")
    );

    world.set_secret("db-password", "correct-horse");
    world
        .wait_for_value(NAMESPACE, "db", "password", "correct-horse")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_external_secrets_sharing_a_remote_secret_make_one_vault_get() {
    let mut world = World::new().await;
    world.set_secret("shared", "one-value");
    world.start_operator().await;
    world.wait_for_store(NAMESPACE, "vault", "True").await;
    let gets_before = world.azure.stats().gets(VAULT);
    for index in 0..10 {
        let name = format!("consumer-{index}");
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &name,
                "1h",
                &[("value", "shared")],
            ))
            .await;
    }
    for index in 0..10 {
        world
            .wait_for_value(
                NAMESPACE,
                &format!("consumer-{index}"),
                "value",
                "one-value",
            )
            .await;
    }
    assert_eq!(world.azure.stats().gets(VAULT) - gets_before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_leave_the_store_not_ready_with_the_entra_message() {
    let mut world = World::new().await;
    world
        .secret(
            NAMESPACE,
            "bad-creds",
            &[
                ("client-id", &world.app.client_id.clone()),
                ("client-secret", "wrong"),
            ],
        )
        .await;
    let store = world
        .store_yaml(NAMESPACE, "bad", operator_world::TENANT)
        .replace("azure-creds", "bad-creds");
    world.apply_yaml(&store).await;
    world.start_operator().await;
    let message = world.wait_for_store(NAMESPACE, "bad", "False").await;
    assert!(message.contains("AADSTS7000215"), "{message}");

    world
        .apply_yaml(
            &external_secret_yaml(NAMESPACE, "uses-bad", "1h", &[("v", "x")])
                .replace("name: vault", "name: bad"),
        )
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "uses-bad", "False").await;
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.contains("could not get secret data from provider"),
        "{message}"
    );
    assert!(world.k8s_secret(NAMESPACE, "uses-bad").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_is_reported_and_healed_when_the_store_appears() {
    let mut world = World::new().await;
    world.set_secret("later", "v1");
    world.start_operator().await;
    world
        .apply_yaml(
            &external_secret_yaml(NAMESPACE, "early", "1h", &[("k", "later")])
                .replace("name: vault", "name: late-store"),
        )
        .await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "early", "False").await;
    assert!(message.contains("not found"), "{message}");
    world
        .apply_yaml(&world.store_yaml(NAMESPACE, "late-store", operator_world::TENANT))
        .await;
    eventually("the ExternalSecret to retry", || async {
        world.k8s_secret(NAMESPACE, "early").await.map(|_| ())
    })
    .await;
}
