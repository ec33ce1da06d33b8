//! Credentials through the whole operator: a fixed credential Secret heals its store within one
//! watch event, and many ExternalSecrets refreshing through one store share one token.

mod operator_world;

use operator_world::{CLIENT_SECRET, NAMESPACE, TENANT, World, eventually, external_secret_yaml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixing_the_credential_secret_heals_the_store() {
    let mut world = World::new().await;
    world.set_secret("v", "value");
    let client_id = world.app.client_id.clone();
    world.secret(NAMESPACE, "azure-creds", &[("client-id", &client_id), ("client-secret", "not-the-secret")]).await;
    world.start_operator().await;
    let message = world.wait_for_store(NAMESPACE, "vault", "False").await;
    assert!(message.contains("AADSTS7000215"), "{message}");
    world.apply_yaml(&external_secret_yaml(NAMESPACE, "es", "1s", &[("v", "v")])).await;
    world.wait_for_ready(NAMESPACE, "es", "False").await;

    world.secret(NAMESPACE, "azure-creds", &[("client-id", &client_id), ("client-secret", CLIENT_SECRET)]).await;
    assert_eq!(world.wait_for_store(NAMESPACE, "vault", "True").await, "store validated");
    world.wait_for_value(NAMESPACE, "es", "v", "value").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_refreshing_external_secrets_share_one_token() {
    let mut world = World::new().await;
    for index in 0..10 {
        world.set_secret(&format!("s{index}"), "value");
    }
    world.start_operator().await;
    for index in 0..10 {
        let name = format!("es{index}");
        world.apply_yaml(&external_secret_yaml(NAMESPACE, &name, "1s", &[("v", &format!("s{index}"))])).await;
    }
    for index in 0..10 {
        world.wait_for_value(NAMESPACE, &format!("es{index}"), "v", "value").await;
    }
    // Three more refresh cycles of all ten.
    let gets = world.azure.stats().gets(operator_world::VAULT);
    eventually("three refresh cycles", || async {
        (world.azure.stats().gets(operator_world::VAULT) >= gets + 30).then_some(())
    })
    .await;
    assert_eq!(world.azure.stats().token_requests(TENANT), 1, "one token for the store, reused");
}
