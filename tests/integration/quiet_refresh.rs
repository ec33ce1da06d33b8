//! A refresh that finds the vault unchanged costs nothing in Kubernetes: the Secret watch shows
//! the target as the operator last left it, so it is neither read nor written. A change by
//! someone else, or a deletion, is seen by the watch and repaired at the next refresh.

use crate::operator_world;

use akvsync_emulators::kubeapi::StatsSnapshot;
use operator_world::{NAMESPACE, VAULT, World, eventually, external_secret_yaml};

/// Requests with `verb` on Secrets between two snapshots.
fn kube_requests(before: &StatsSnapshot, after: &StatsSnapshot, verb: &str) -> u64 {
    after.requests_for(verb, "secrets") - before.requests_for(verb, "secrets")
}

/// Waits until the vault has answered `count` more reads or listings for the ExternalSecret's
/// single value, that is, until that many refreshes ran.
async fn refreshes(world: &World, count: u64) {
    vault_calls_grow(world, count, |world| {
        let stats = world.azure.stats();
        stats.gets(VAULT) + stats.operation(VAULT, "ListSecrets")
    })
    .await;
}

/// Waits until the vault has listed its secrets `count` more times: that many refreshes ran.
async fn listings(world: &World, count: u64) {
    vault_calls_grow(world, count, |world| {
        world.azure.stats().operation(VAULT, "ListSecrets")
    })
    .await;
}

async fn vault_calls_grow(world: &World, count: u64, calls: impl Fn(&World) -> u64) {
    let start = calls(world);
    eventually("vault calls", || async {
        (calls(world) >= start + count).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_refreshes_neither_read_nor_write_the_secret_and_changes_are_repaired() {
    let mut world = World::new().await;
    world.set_secret_changed_ago("db", "v1", std::time::Duration::from_secs(60));
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

    // A change in the vault still reaches the Secret within an interval, with one write: the
    // value read again once it settled (5 s after its change) changes only the record of what
    // the Secret was built from, which is kept in memory.
    let writes = world.kube.stats().secret_writes;
    world.set_secret("db", "v2");
    world
        .wait_for_value(NAMESPACE, "quiet", "password", "v2")
        .await;
    listings(&world, 8).await;
    assert_eq!(
        world.kube.stats().secret_writes - writes,
        1,
        "writes for one change"
    );
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

/// Key Vault reads of values.
fn vault_gets(world: &World) -> u64 {
    world.azure.stats().gets(VAULT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_intact_secrets_reads_no_value_and_writes_nothing() {
    let minute = std::time::Duration::from_secs(60);
    let mut world = World::new().await;
    world.set_secret_changed_ago("db", "v1", 2 * minute);
    world.set_secret_changed_ago("api", "k1", 2 * minute);
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "app",
            "1s",
            &[("password", "db"), ("key", "api")],
        ))
        .await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "db",
            "1s",
            &[("password", "db")],
        ))
        .await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "api",
            "1s",
            &[("key", "api")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "app", "key", "k1").await;
    world
        .wait_for_value(NAMESPACE, "db", "password", "v1")
        .await;
    world.wait_for_value(NAMESPACE, "api", "key", "k1").await;
    let secret = world.k8s_secret(NAMESPACE, "app").await.unwrap();
    let built_from = secret.metadata.annotations.unwrap_or_default();
    let built_from = &built_from["akvsync.io/built-from"];
    assert!(
        built_from.contains(r#""db":"#) && built_from.contains(r#""api":"#),
        "{built_from}"
    );

    world.stop_operator();
    let gets = vault_gets(&world);
    let before = world.kube.stats();
    world.start_operator().await;
    listings(&world, 3).await;
    assert_eq!(
        vault_gets(&world) - gets,
        0,
        "values read after the restart"
    );
    let after = world.kube.stats();
    for verb in ["create", "update", "patch", "delete"] {
        for resource in ["secrets", "externalsecrets"] {
            assert_eq!(
                after.requests_for(verb, resource) - before.requests_for(verb, resource),
                0,
                "{verb} {resource} after the restart"
            );
        }
    }

    // A secret changed while the operator was down is read once, at the first refresh; the
    // ExternalSecret that also reads an unchanged secret reads that one too (its Secret must
    // be built again), and the one that reads only unchanged secrets reads none.
    world.stop_operator();
    world.set_secret_changed_ago("db", "v2", minute);
    let gets = vault_gets(&world);
    world.start_operator().await;
    world
        .wait_for_value(NAMESPACE, "app", "password", "v2")
        .await;
    world
        .wait_for_value(NAMESPACE, "db", "password", "v2")
        .await;
    listings(&world, 3).await;
    assert_eq!(
        vault_gets(&world) - gets,
        2,
        "reads after a change of one secret: db once (shared), api once"
    );

    // A Secret edited while the operator was down is not intact: it is read and repaired.
    world.stop_operator();
    world
        .secret(NAMESPACE, "app", &[("password", "edited"), ("key", "k1")])
        .await;
    world.start_operator().await;
    world
        .wait_for_value(NAMESPACE, "app", "password", "v2")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_that_may_not_list_reads_each_secret_and_the_store_says_so() {
    use akvsync::controller::stores::{STORE_VALIDATED, STORE_VALIDATED_LISTING_FORBIDDEN};
    use akvsync_emulators::azure::{Access, Grant};

    let mut world = World::new().await;
    // An access policy granting Get on secrets, not List.
    world
        .azure
        .grant(
            VAULT,
            &world.app.client_id,
            Grant::default().with_secrets(Access::GetOnly),
        )
        .unwrap();
    world.set_secret("db", "v1");
    let mut config = world.operator_config();
    // The listing is asked for again 20 s after a 403 (5 minutes by default).
    config.store.listing_denied_for = std::time::Duration::from_secs(20);
    world.start_operator_with(config).await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "db",
            "1s",
            &[("password", "db")],
        ))
        .await;
    world
        .wait_for_value(NAMESPACE, "db", "password", "v1")
        .await;
    let message = world.wait_for_store(NAMESPACE, "vault", "True").await;
    assert!(message.starts_with("store validated"), "{message}");
    eventually("the store's Ready message to note the 403", || async {
        let store = world.secret_store(NAMESPACE, "vault").await;
        let conditions = store.status?.conditions?;
        let ready = conditions.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.message.as_deref() == Some(STORE_VALIDATED_LISTING_FORBIDDEN)).then_some(())
    })
    .await;
    assert_eq!(
        world.azure.stats().operation(VAULT, "ListSecrets"),
        1,
        "one 403, then no listing for a while"
    );
    // Refreshes read the secret itself: a change still arrives.
    let gets = world.azure.stats().gets(VAULT);
    world.set_secret("db", "v2");
    world
        .wait_for_value(NAMESPACE, "db", "password", "v2")
        .await;
    assert!(world.azure.stats().gets(VAULT) > gets);

    // List is granted: at the next listing the note goes and refreshes list again.
    world
        .azure
        .grant(VAULT, &world.app.client_id, Grant::all())
        .unwrap();
    eventually("the store's Ready message to drop the note", || async {
        let store = world.secret_store(NAMESPACE, "vault").await;
        let conditions = store.status?.conditions?;
        let ready = conditions.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.message.as_deref() == Some(STORE_VALIDATED)).then_some(())
    })
    .await;
    assert!(world.azure.stats().operation(VAULT, "ListSecrets") > 1);
}
