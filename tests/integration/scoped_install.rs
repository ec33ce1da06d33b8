//! The single-namespace install as a user deploys it: `deploy/overlays/single-namespace`, or the
//! Helm chart with `scopedRBAC`, applied to the Kubernetes emulator with kubectl, and the operator started with the rendered
//! Deployment's arguments (parsed by the real command line) as the ServiceAccount those
//! manifests bind. Its Role reaches one namespace only, so every watch and write the operator
//! makes must stay there: a cluster-wide watch would be refused and the watches never sync.

use crate::helm;
use crate::kubectl;
use crate::manifests;
use crate::operator_world;

use operator_world::{NAMESPACE, TENANT, World, external_secret_yaml};

const OPERATOR_NAMESPACE: &str = "akvsync-system";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_namespace_overlay_syncs_its_namespace_with_a_role_only() {
    let world = World::new().await;
    let manifests = kubectl::kustomize("deploy/overlays/single-namespace").await;
    syncs_its_namespace_only(world, &manifests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_scoped_rbac_syncs_its_namespace_with_a_role_only() {
    let world = World::new().await;
    // Helm installs into an existing namespace (`helm install -n akvsync-system --create-namespace`).
    world.namespace(OPERATOR_NAMESPACE).await;
    let values = format!("{}/ci/scoped-values.yaml", helm::CHART);
    let manifests = helm::render("akvsync", OPERATOR_NAMESPACE, Some(&values)).expect("render");
    syncs_its_namespace_only(world, &manifests).await;
}

/// Installs `manifests`, starts the operator as their Deployment runs it, and checks that it
/// syncs an ExternalSecret of its namespace and leaves the others alone.
async fn syncs_its_namespace_only(mut world: World, manifests: &str) {
    world.set_secret("db-password", "s3cret");
    let admin = world.kube.kubeconfig_path(world.kube.admin_user());
    kubectl::apply(
        admin.expect("admin kubeconfig"),
        manifests,
        &["--force-conflicts"],
    )
    .await;

    let client_id = world.app.client_id.clone();
    world
        .secret(
            OPERATOR_NAMESPACE,
            "azure-creds",
            &[
                ("client-id", &client_id),
                ("client-secret", "sp-client-secret"),
            ],
        )
        .await;
    world
        .apply_yaml(&world.store_yaml(OPERATOR_NAMESPACE, "vault", TENANT))
        .await;
    // Out of scope: another namespace's ExternalSecret, and one of the operator's namespace on a
    // ClusterSecretStore (cluster-scoped kinds are turned off, as ESO's scopedRBAC does).
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "elsewhere",
            "1h",
            &[("password", "db-password")],
        ))
        .await;
    world
        .apply_yaml(
            &external_secret_yaml(
                OPERATOR_NAMESPACE,
                "on-cluster-store",
                "1h",
                &[("password", "db-password")],
            )
            .replace("kind: SecretStore", "kind: ClusterSecretStore"),
        )
        .await;
    world
        .apply_yaml(&external_secret_yaml(
            OPERATOR_NAMESPACE,
            "db",
            "1h",
            &[("password", "db-password")],
        ))
        .await;

    let args = manifests::container_args(&manifests::documents(manifests), OPERATOR_NAMESPACE);
    let run = manifests::run_args(args);
    let config = world.installed_config(&run, OPERATOR_NAMESPACE);
    assert_eq!(config.scope.namespace.as_deref(), Some(OPERATOR_NAMESPACE));
    world.start_operator_with(config).await;

    world
        .wait_for_value(OPERATOR_NAMESPACE, "db", "password", "s3cret")
        .await;
    for (namespace, name) in [
        (NAMESPACE, "elsewhere"),
        (OPERATOR_NAMESPACE, "on-cluster-store"),
    ] {
        let es = world.external_secret(namespace, name).await;
        assert!(es.status.is_none(), "{namespace}/{name}: {:?}", es.status);
        assert!(world.k8s_secret(namespace, name).await.is_none());
    }
}
