//! `--naive`, the benchmark's baseline: no cache, no coalescing, and a new client and token for
//! every call, as ESO does.

use crate::operator_world;

use operator_world::{NAMESPACE, TENANT, VAULT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_mode_fetches_and_authenticates_for_every_external_secret() {
    let mut world = World::new().await;
    world.set_secret("shared", "v");
    let config = akvsync::operator::OperatorConfig {
        naive: true,
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    world.wait_for_store(NAMESPACE, "vault", "True").await;
    let tokens_before = world.azure.stats().token_requests(TENANT);
    world.apply_external_secrets(5, "v", "shared").await;
    for index in 0..5 {
        world
            .wait_for_value(NAMESPACE, &format!("es-{index}"), "v", "v")
            .await;
    }
    assert_eq!(
        world.azure.stats().gets(VAULT),
        5,
        "one GET per ExternalSecret"
    );
    assert_eq!(
        world.azure.stats().token_requests(TENANT) - tokens_before,
        5,
        "one token per fetch"
    );
}
