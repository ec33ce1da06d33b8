//! A refresh that finds the vault unchanged costs nothing in Kubernetes: the Secret watch shows
//! the target as the operator last left it, so it is neither read nor written. A change by
//! someone else, or a deletion, is seen by the watch and repaired at the next refresh.

mod operator_world;

use akvsync_emulators::kubeapi::StatsSnapshot;
use operator_world::{NAMESPACE, VAULT, World, eventually, external_secret_yaml};

/// Requests with `verb` on Secrets between two snapshots.
fn kube_requests(before: &StatsSnapshot, after: &StatsSnapshot, verb: &str) -> u64 {
    after.requests_for(verb, "secrets") - before.requests_for(verb, "secrets")
}

/// Waits until the vault has answered `count` more reads or listings for the ExternalSecret's
/// single value, that is, until that many refreshes ran.
async fn refreshes(world: &World, count: u64) {
    let calls = || {
        let stats = world.azure.stats();
        stats.gets(VAULT) + stats.operation(VAULT, "ListSecrets")
    };
    let start = calls();
    eventually("refreshes", || async {
        (calls() >= start + count).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_refreshes_neither_read_nor_write_the_secret_and_changes_are_repaired() {
    let mut world = World::new().await;
    world.set_secret("db", "v1");
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "quiet",
            "1s",
            &[("password", "db")],
        ))
        .await;
    world
        .wait_for_value(NAMESPACE, "quiet", "password", "v1")
        .await;
    // The first refresh after the write may still read: the watch reports the write later.
    refreshes(&world, 2).await;

    let before = world.kube.stats();
    refreshes(&world, 3).await;
    let after = world.kube.stats();
    for verb in ["get", "list", "create", "update", "patch", "delete"] {
        assert_eq!(
            kube_requests(&before, &after, verb),
            0,
            "{verb} requests on Secrets during three unchanged refreshes"
        );
    }

    // Someone else edits the Secret: the watch shows a new version, the next refresh reads it
    // and puts the value back.
    world
        .secret(NAMESPACE, "quiet", &[("password", "edited")])
        .await;
    world
        .wait_for_value(NAMESPACE, "quiet", "password", "v1")
        .await;

    // A deleted Secret is created again.
    world.delete_secret(NAMESPACE, "quiet").await;
    world
        .wait_for_value(NAMESPACE, "quiet", "password", "v1")
        .await;

    // A change in the vault still reaches the Secret within an interval.
    world.set_secret("db", "v2");
    world
        .wait_for_value(NAMESPACE, "quiet", "password", "v2")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_refreshes_list_the_vault_instead_of_reading_each_secret() {
    let mut world = World::new().await;
    for name in ["a", "b", "c"] {
        world.set_secret(name, "v1");
    }
    // Key Vault's `updated` counts whole seconds: the operator trusts a listing only for a
    // secret read a few seconds after its last change.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "listed",
            "1s",
            &[("a", "a"), ("b", "b"), ("c", "c")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "listed", "c", "v1").await;
    let lists = |world: &World| world.azure.stats().operation(VAULT, "ListSecrets");
    let (gets, listed) = (world.azure.stats().gets(VAULT), lists(&world));
    eventually("three listings", || async {
        (lists(&world) >= listed + 3).then_some(())
    })
    .await;
    assert_eq!(
        world.azure.stats().gets(VAULT),
        gets,
        "refreshes of unchanged secrets read none of them"
    );

    // A change shows in the listing and is read.
    world.set_secret("b", "v2");
    world.wait_for_value(NAMESPACE, "listed", "b", "v2").await;
}
