//! Controller classes, as ESO has them: a store whose `spec.controller` names another class,
//! and every resource that references it, is left to the other operator — no status, no Secret,
//! no Event — until the store is given this operator's class.

use crate::operator_world;

use akvsync::controller::stores::ControllerClass;
use akvsync_crds::PushSecret;
use kube::Api;
use operator_world::eso::eso_written_secret;
use operator_world::{NAMESPACE, TENANT, World, external_secret_yaml, timed};

/// A SecretStore `name` on the test vault, of controller class `class` (none when empty).
fn store_yaml(world: &World, name: &str, class: &str) -> String {
    let yaml = world.store_yaml(NAMESPACE, name, TENANT);
    if class.is_empty() {
        return yaml;
    }
    yaml.replace("spec:\n", &format!("spec:\n  controller: {class}\n"))
}

/// An ExternalSecret reading `db` from store `store`, every second.
fn external_secret_on(name: &str, store: &str) -> String {
    external_secret_yaml(NAMESPACE, name, "1s", &[("password", "db")])
        .replace("    name: vault\n", &format!("    name: {store}\n"))
}

fn push_secret_to(name: &str, store: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRefs:\n    - name: {store}\n      kind: SecretStore\n  selector:\n    secret:\n      name: source\n  data:\n    - match:\n        secretKey: password\n        remoteRef:\n          remoteKey: pushed\n"
    )
}

async fn push_secret_ready(world: &World, name: &str) -> Option<String> {
    let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    let push = timed(api.get(name)).await.unwrap();
    let conditions = push.status?.conditions?;
    conditions
        .into_iter()
        .find(|condition| condition.type_ == "Ready")
        .map(|condition| condition.status)
}

/// Asserts that nothing of `name` was touched: no status, no target Secret, no Event.
async fn left_alone(world: &World, name: &str) {
    let es = world.external_secret(NAMESPACE, name).await;
    assert!(es.status.is_none(), "{name} has a status: {:?}", es.status);
    assert!(
        world.k8s_secret(NAMESPACE, name).await.is_none(),
        "{name}'s Secret"
    );
    assert!(
        world.events(NAMESPACE, name).await.is_empty(),
        "{name} has Events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_another_class_and_what_uses_it_are_left_alone_until_it_changes_class() {
    let mut world = World::new().await;
    world.set_secret("db", "v1");
    world
        .secret(NAMESPACE, "source", &[("password", "p1")])
        .await;
    world.apply_yaml(&store_yaml(&world, "theirs", "eso")).await;
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_on("other", "theirs"))
        .await;
    world
        .apply_yaml(&push_secret_to("push-other", "theirs"))
        .await;
    let mixed = push_secret_to("push-mixed", "theirs").replace(
        "      kind: SecretStore\n",
        "      kind: SecretStore\n    - name: vault\n      kind: SecretStore\n",
    );
    world.apply_yaml(&mixed).await;
    world.apply_yaml(&external_secret_on("ours", "vault")).await;
    world
        .wait_for_value(NAMESPACE, "ours", "password", "v1")
        .await;
    // The resources were applied before "ours", and refresh every second: several rounds later
    // they would have been touched if they were going to be.
    let reads = world.vault_reads();
    operator_world::eventually("three refreshes of ours", || async {
        (world.vault_reads() >= reads + 3).then_some(())
    })
    .await;
    left_alone(&world, "other").await;
    assert_eq!(push_secret_ready(&world, "push-other").await, None);
    // A PushSecret to stores of both classes pushes to this operator's only.
    operator_world::eventually("the mixed PushSecret to sync", || async {
        (push_secret_ready(&world, "push-mixed").await.as_deref() == Some("True")).then_some(())
    })
    .await;
    let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    let mixed = timed(api.get("push-mixed")).await.unwrap();
    let pushed: Vec<String> = mixed
        .status
        .and_then(|status| status.synced_push_secrets)
        .unwrap_or_default()
        .into_keys()
        .collect();
    assert_eq!(pushed, ["SecretStore/vault"]);
    let theirs = world.secret_store(NAMESPACE, "theirs").await;
    assert!(theirs.status.is_none(), "the foreign store has a status");

    // The store is given this operator's class (ESO's default): everything using it syncs.
    world
        .apply_yaml(&store_yaml(&world, "theirs", "default"))
        .await;
    world
        .wait_for_value(NAMESPACE, "other", "password", "v1")
        .await;
    world.wait_for_ready(NAMESPACE, "other", "True").await;
    world.wait_for_store(NAMESPACE, "theirs", "True").await;
    operator_world::eventually("the PushSecret to sync", || async {
        (push_secret_ready(&world, "push-other").await.as_deref() == Some("True")).then_some(())
    })
    .await;

    // Handed back: a change in the vault reaches the ExternalSecret still ours, not this one.
    // (The store's watch event arrives within milliseconds; the changed value is read at a
    // refresh a second or more later.)
    world.apply_yaml(&store_yaml(&world, "theirs", "eso")).await;
    world.set_secret("db", "v2");
    world
        .wait_for_value(NAMESPACE, "ours", "password", "v2")
        .await;
    let reads = world.vault_reads();
    operator_world::eventually("three more refreshes of ours", || async {
        (world.vault_reads() >= reads + 3).then_some(())
    })
    .await;
    let other = world.k8s_secret(NAMESPACE, "other").await.unwrap();
    let value = other.data.unwrap_or_default().remove("password").unwrap();
    assert_eq!(value.0, b"v1", "the handed-back ExternalSecret was synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_eso_stores_without_a_class_are_skipped_until_given_ours() {
    let mut world = World::new().await;
    world.set_secret("db", "v1");
    world
        .apply_yaml(&store_yaml(&world, "mine", "akvsync"))
        .await;
    let config = akvsync::operator::OperatorConfig {
        class: ControllerClass {
            name: "akvsync".into(),
            skip_classless: true,
        },
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    world
        .apply_yaml(&external_secret_on("classless", "vault"))
        .await;
    world.apply_yaml(&external_secret_on("mine", "mine")).await;
    world
        .wait_for_value(NAMESPACE, "mine", "password", "v1")
        .await;
    let reads = world.vault_reads();
    operator_world::eventually("three refreshes of mine", || async {
        (world.vault_reads() >= reads + 3).then_some(())
    })
    .await;
    left_alone(&world, "classless").await;
    let vault = world.secret_store(NAMESPACE, "vault").await;
    assert!(vault.status.is_none(), "the classless store has a status");

    world
        .apply_yaml(&store_yaml(&world, "vault", "akvsync"))
        .await;
    world
        .wait_for_value(NAMESPACE, "classless", "password", "v1")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_eso_wrote_is_taken_over_without_a_write() {
    let mut world = World::new().await;
    world.set_secret("db", "v1");
    world.apply_yaml(&store_yaml(&world, "handed", "eso")).await;
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_on("taken", "handed"))
        .await;
    let uid = world
        .external_secret(NAMESPACE, "taken")
        .await
        .metadata
        .uid
        .expect("a uid");
    let secret = eso_written_secret(NAMESPACE, "taken", &uid, &[("password", "v1")]);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(world.kube.client(), NAMESPACE);
    timed(secrets.create(&Default::default(), &secret))
        .await
        .unwrap();
    let writes = world.kube.stats().secret_writes;

    world
        .apply_yaml(&store_yaml(&world, "handed", "default"))
        .await;
    world.wait_for_ready(NAMESPACE, "taken", "True").await;
    world
        .wait_for_value(NAMESPACE, "taken", "password", "v1")
        .await;
    assert_eq!(
        world.kube.stats().secret_writes,
        writes,
        "the Secret ESO wrote was written again"
    );
}

/// The instances that reported Events about `name`.
async fn reporters(world: &World, name: &str) -> std::collections::BTreeSet<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.kube.client(), NAMESPACE);
    let events = timed(api.list(&Default::default())).await.unwrap();
    events
        .items
        .into_iter()
        .filter(|event| event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|event| event.reporting_instance)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_of_different_classes_on_one_cluster_each_sync_only_their_own() {
    let world = World::new().await;
    world.set_secret("db", "v1");
    world
        .apply_yaml(&store_yaml(&world, "store-a", "class-a"))
        .await;
    world
        .apply_yaml(&store_yaml(&world, "store-b", "class-b"))
        .await;
    let config = |class: &str| akvsync::operator::OperatorConfig {
        class: ControllerClass {
            name: class.into(),
            skip_classless: true,
        },
        instance: format!("op-{class}"),
        ..world.operator_config()
    };
    let mut a = akvsync::operator::spawn(config("class-a")).unwrap();
    let mut b = akvsync::operator::spawn(config("class-b")).unwrap();
    timed(a.synced()).await.unwrap();
    timed(b.synced()).await.unwrap();
    world
        .apply_yaml(&external_secret_on("es-a", "store-a"))
        .await;
    world
        .apply_yaml(&external_secret_on("es-b", "store-b"))
        .await;
    for name in ["es-a", "es-b"] {
        world
            .wait_for_value(NAMESPACE, name, "password", "v1")
            .await;
        world.wait_for_ready(NAMESPACE, name, "True").await;
    }
    let reads = world.vault_reads();
    operator_world::eventually("three refreshes", || async {
        (world.vault_reads() >= reads + 3).then_some(())
    })
    .await;
    let only = |instance: &str| std::collections::BTreeSet::from([instance.to_owned()]);
    assert_eq!(reporters(&world, "es-a").await, only("op-class-a"));
    assert_eq!(reporters(&world, "es-b").await, only("op-class-b"));
    a.stop().unwrap();
    b.stop().unwrap();
}
