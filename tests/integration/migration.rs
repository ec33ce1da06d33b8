//! The move from ESO as docs/migrating-from-eso.md writes it, end to end: akvsync installed
//! beside ESO with the Helm chart's `beside-eso-values.yaml` (no CRDs: ESO's stay), started with
//! the rendered Deployment's arguments as the ServiceAccount the chart binds; a store moved over
//! with the guide's `kubectl patch`, its Secret (written as ESO's source writes it) taken over
//! with 0 writes and refreshed from then on; the store handed back, and left alone again.

use crate::helm;
use crate::kubectl;
use crate::manifests;
use crate::operator_world;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use operator_world::eso::eso_written_secret;
use operator_world::{NAMESPACE, TENANT, World, external_secret_yaml, timed};

const OPERATOR_NAMESPACE: &str = "akvsync-system";

/// `kubectl -n team-a patch secretstore vault --type merge -p <patch>`, as the guide says.
async fn patch_store(world: &World, patch: &str) {
    let admin = world
        .kube
        .kubeconfig_path(world.kube.admin_user())
        .expect("admin kubeconfig");
    let output = timed(
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(admin)
            .args([
                "-n",
                NAMESPACE,
                "patch",
                "secretstore",
                "vault",
                "--type",
                "merge",
                "-p",
                patch,
            ])
            .output(),
    )
    .await
    .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl patch: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_from_eso_to_akvsync_and_back_as_the_guide_says() {
    let mut world = World::new().await;
    world.set_secret("db", "v1");
    // ESO's world: the class-less store `vault`, an ExternalSecret on it, and the Secret ESO
    // wrote for it.
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "db",
            "1s",
            &[("password", "db")],
        ))
        .await;
    let uid = world
        .external_secret(NAMESPACE, "db")
        .await
        .metadata
        .uid
        .expect("a uid");
    let secrets: Api<Secret> = Api::namespaced(world.kube.client(), NAMESPACE);
    timed(secrets.create(
        &Default::default(),
        &eso_written_secret(NAMESPACE, "db", &uid, &[("password", "v1")]),
    ))
    .await
    .expect("ESO's Secret");
    // A canary already on akvsync: a store of its class and an ExternalSecret reading the same
    // remote secret, so every step below can wait for akvsync to have acted.
    world
        .apply_yaml(
            &world
                .store_yaml(NAMESPACE, "canary", TENANT)
                .replace("spec:\n", "spec:\n  controller: akvsync\n"),
        )
        .await;
    world
        .apply_yaml(
            &external_secret_yaml(NAMESPACE, "canary", "1s", &[("password", "db")])
                .replace("    name: vault\n", "    name: canary\n"),
        )
        .await;

    // 1. Install beside ESO.
    world.namespace(OPERATOR_NAMESPACE).await;
    let values = format!("{}/ci/beside-eso-values.yaml", helm::CHART);
    let rendered = helm::render("akvsync", OPERATOR_NAMESPACE, Some(&values)).expect("render");
    let documents = manifests::documents(&rendered);
    assert!(
        documents
            .iter()
            .all(|document| document["kind"] != "CustomResourceDefinition"),
        "beside ESO, ESO's CRDs stay"
    );
    let admin = world
        .kube
        .kubeconfig_path(world.kube.admin_user())
        .expect("admin kubeconfig");
    kubectl::apply(admin, &rendered, &[]).await;
    let run = manifests::run_args(manifests::container_args(&documents, OPERATOR_NAMESPACE));
    let config = world.installed_config(&run, OPERATOR_NAMESPACE);
    world.start_operator_with(config).await;
    world
        .wait_for_value(NAMESPACE, "canary", "password", "v1")
        .await;
    let untouched = world.external_secret(NAMESPACE, "db").await;
    assert!(
        untouched.status.is_none(),
        "ESO's ExternalSecret: {:?}",
        untouched.status
    );
    assert!(
        world.events(NAMESPACE, "db").await.is_empty(),
        "ESO's ExternalSecret has Events"
    );
    let writes = world.kube.stats().secret_writes;

    // 2. Move the store: the Secret ESO wrote is taken over without a write.
    patch_store(&world, r#"{"spec":{"controller":"akvsync"}}"#).await;
    world.wait_for_ready(NAMESPACE, "db", "True").await;
    assert_eq!(
        world.kube.stats().secret_writes,
        writes,
        "ESO's Secret was written again"
    );

    // akvsync now refreshes it.
    world.set_secret("db", "v2");
    world
        .wait_for_value(NAMESPACE, "db", "password", "v2")
        .await;
    world
        .wait_for_value(NAMESPACE, "canary", "password", "v2")
        .await;

    // 4. Roll back: the store is class-less again, ESO's; akvsync leaves it alone while it
    //    keeps serving its own.
    patch_store(&world, r#"{"spec":{"controller":null}}"#).await;
    operator_world::eventually("akvsync to let the store go", || async {
        let store = world.secret_store(NAMESPACE, "vault").await;
        store.spec.controller.is_none().then_some(())
    })
    .await;
    // Two changes, each seen by the canary: a refresh of `db` by akvsync would have come between.
    for value in ["v3", "v4"] {
        world.set_secret("db", value);
        world
            .wait_for_value(NAMESPACE, "canary", "password", value)
            .await;
    }
    let secret = world
        .k8s_secret(NAMESPACE, "db")
        .await
        .expect("the Secret stays");
    let value = secret.data.expect("data")["password"].0.clone();
    assert_eq!(
        value, b"v2",
        "a store handed back is not refreshed by akvsync"
    );
}
