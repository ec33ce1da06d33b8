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

/// Waits until the vault has served `count` more reads of the ExternalSecret's value, that is,
/// until that many refreshes ran.
async fn refreshes(world: &World, count: u64) {
    let start = world.azure.stats().gets(VAULT);
    eventually("refreshes", || async {
        (world.azure.stats().gets(VAULT) >= start + count).then_some(())
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
