//! The single-namespace install as a user deploys it: `deploy/overlays/single-namespace` applied
//! to the Kubernetes emulator with kubectl, and the operator started with the rendered
//! Deployment's arguments (parsed by the real command line) as the ServiceAccount those
//! manifests bind. Its Role reaches one namespace only, so every watch and write the operator
//! makes must stay there: a cluster-wide watch would be refused and the watches never sync.

mod kubectl;
mod operator_world;

use akvsync::cli::{Cli, Command};
use akvsync::operator::KubeSource;
use clap::Parser;
use operator_world::{NAMESPACE, TENANT, World, external_secret_yaml};
use serde::Deserialize;
use serde_yaml::Value;

const OPERATOR_NAMESPACE: &str = "akvsync-system";

/// The container arguments of the rendered Deployment, with `$(POD_NAMESPACE)` expanded as the
/// kubelet expands it.
fn container_args(manifests: &str) -> Vec<String> {
    let deployment = serde_yaml::Deserializer::from_str(manifests)
        .map(|document| Value::deserialize(document).expect("YAML document"))
        .find(|document| document["kind"] == "Deployment")
        .expect("a Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|arg| {
            arg.as_str()
                .expect("string arg")
                .replace("$(POD_NAMESPACE)", OPERATOR_NAMESPACE)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_namespace_install_syncs_its_namespace_with_a_role_only() {
    let mut world = World::new().await;
    world.set_secret("db-password", "s3cret");
    let manifests = kubectl::kustomize("deploy/overlays/single-namespace").await;
    let admin = world.kube.kubeconfig_path(world.kube.admin_user());
    kubectl::apply(
        admin.expect("admin kubeconfig"),
        &manifests,
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

    let args = container_args(&manifests);
    let Command::Run(run) = Cli::try_parse_from(std::iter::once("akvsync".to_owned()).chain(args))
        .expect("the rendered arguments parse")
        .command
    else {
        panic!("the container runs `akvsync run`");
    };
    let scope = run.operator_config().expect("config").scope;
    assert_eq!(scope.namespace.as_deref(), Some(OPERATOR_NAMESPACE));
    let mut config = run.operator_config().expect("config");
    let operator_kubeconfig = world
        .kube
        .kubeconfig_path(world.kube.operator_user())
        .expect("operator kubeconfig");
    config.kube = KubeSource::Kubeconfig(operator_kubeconfig.to_owned());
    config.network = world.operator_config().network;
    config.http = None;
    if let Some(leader) = &mut config.leader {
        // In the pod, POD_NAMESPACE (set by the Deployment) names the Lease's namespace.
        leader.namespace = OPERATOR_NAMESPACE.to_owned();
    }
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
