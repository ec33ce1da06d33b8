//! The install manifests: `kubectl kustomize` renders the base and every overlay, each render
//! has the shape the operator needs (probes, hardening, leader election, scope), and the CRD
//! copy under `deploy/base/crds/` is byte-identical to the generated `crds/` file.

use crate::manifests;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

/// Every kustomization a user may apply.
const KUSTOMIZATIONS: &[&str] = &[
    "deploy/base",
    "deploy/overlays/single-namespace",
    "deploy/overlays/ha",
    "deploy/overlays/monitoring",
    "deploy/overlays/beside-eso",
    "deploy/overlays/generic-targets",
];
const GENERATED_CRDS: &str = "crds/external-secrets.io.yaml";
const CRD_COPY: &str = "deploy/base/crds/external-secrets.io.yaml";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `kubectl kustomize <dir>` as documents (`Option` for the callers' `let … else`; a missing
/// kubectl fails the test, it never skips it).
fn render(directory: &str) -> Option<Vec<Value>> {
    render_path(&repository().join(directory))
}

fn render_path(directory: &Path) -> Option<Vec<Value>> {
    let directory_name = directory.display();
    let output = match Command::new("kubectl")
        .arg("kustomize")
        .arg(directory)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "kubectl is not installed, cannot render {directory_name}: install kubectl (scripts/test checks for it)"
            )
        }
        Err(error) => panic!("running kubectl: {error}"),
    };
    assert!(
        output.status.success(),
        "kubectl kustomize {directory_name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8 render");
    Some(manifests::documents(&text))
}

fn kind_of(document: &Value) -> &str {
    document["kind"].as_str().unwrap_or_default()
}

fn find<'a>(documents: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    documents
        .iter()
        .find(|document| kind_of(document) == kind && document["metadata"]["name"] == name)
}

fn count(documents: &[Value], kind: &str) -> usize {
    documents
        .iter()
        .filter(|document| kind_of(document) == kind)
        .count()
}

fn container(documents: &[Value]) -> &Value {
    let deployment = find(documents, "Deployment", "akvsync").expect("the Deployment");
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn args(documents: &[Value]) -> Vec<String> {
    container(documents)["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|arg| arg.as_str().expect("string arg").to_owned())
        .collect()
}

fn parsed_run_args(documents: &[Value]) -> akvsync::cli::RunArgs {
    manifests::run_args(manifests::container_args(documents, "akvsync-system"))
}

#[test]
fn every_kustomizations_arguments_parse_as_the_operators_command_line() {
    for directory in KUSTOMIZATIONS {
        let Some(documents) = render(directory) else {
            return;
        };
        let run = parsed_run_args(&documents);
        let config = run
            .operator_config()
            .unwrap_or_else(|error| panic!("{directory}: {error:#}"));
        let scoped = directory.ends_with("single-namespace");
        assert_eq!(
            config.scope.namespace.as_deref(),
            scoped.then_some("akvsync-system"),
            "{directory}"
        );
        assert_eq!(config.scope.cluster_stores, !scoped, "{directory}");
        assert!(config.leader.is_some(), "{directory}: leader election");
    }
}

#[test]
fn the_crd_copy_in_deploy_matches_the_generated_crds() {
    let generated = std::fs::read(repository().join(GENERATED_CRDS)).expect("generated CRDs");
    let copy = std::fs::read(repository().join(CRD_COPY)).expect("deploy copy of the CRDs");
    assert!(
        generated == copy,
        "{CRD_COPY} differs from {GENERATED_CRDS}; refresh it with: cp {GENERATED_CRDS} {CRD_COPY}"
    );
}

#[test]
fn every_kustomization_renders_with_namespaced_objects_in_the_operator_namespace() {
    for directory in KUSTOMIZATIONS {
        let Some(documents) = render(directory) else {
            return;
        };
        // Beside ESO, ESO's CRDs stay: akvsync's are not installed.
        let crds = if directory.ends_with("beside-eso") {
            0
        } else {
            akvsync_crds::all_crds().len()
        };
        assert_eq!(
            count(&documents, "CustomResourceDefinition"),
            crds,
            "{directory}"
        );
        for document in &documents {
            let kind = kind_of(document);
            let cluster_scoped = matches!(
                kind,
                "Namespace" | "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding"
            );
            let namespace = document["metadata"]["namespace"].as_str();
            if cluster_scoped {
                assert_eq!(namespace, None, "{directory}: {kind}");
            } else {
                assert_eq!(namespace, Some("akvsync-system"), "{directory}: {kind}");
            }
        }
    }
}

#[test]
fn the_deployment_is_hardened_probed_and_leader_elected() {
    let Some(documents) = render("deploy/base") else {
        return;
    };
    let container = container(&documents);
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    let pod =
        &find(&documents, "Deployment", "akvsync").expect("Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["serviceAccountName"], "akvsync");
    assert!(find(&documents, "ServiceAccount", "akvsync").is_some());

    let ports: Vec<(String, u64)> = container["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|port| {
            (
                port["name"].as_str().expect("name").to_owned(),
                port["containerPort"].as_u64().expect("port"),
            )
        })
        .collect();
    assert_eq!(ports, [("metrics".into(), 8080), ("health".into(), 8081)]);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "health");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "health");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());

    let args = args(&documents);
    assert_eq!(args[0], "run");
    for wanted in [
        "--leader-elect",
        "--metrics-addr=:8080",
        "--health-addr=:8081",
    ] {
        assert!(args.iter().any(|arg| arg == wanted), "{wanted} in {args:?}");
    }
    let service = find(&documents, "Service", "akvsync-metrics").expect("metrics Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(
        service["spec"]["selector"],
        find(&documents, "Deployment", "akvsync").expect("Deployment")["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn single_namespace_uses_roles_only_and_scopes_the_operator() {
    let Some(documents) = render("deploy/overlays/single-namespace") else {
        return;
    };
    assert_eq!(count(&documents, "ClusterRole"), 0);
    assert_eq!(count(&documents, "ClusterRoleBinding"), 0);
    assert!(find(&documents, "Role", "akvsync-controller").is_some());
    assert!(find(&documents, "RoleBinding", "akvsync-controller").is_some());
    let args = args(&documents);
    assert!(
        args.iter().any(|arg| arg == "--namespace=$(POD_NAMESPACE)"),
        "{args:?}"
    );
}

#[test]
fn beside_eso_keeps_esos_crds_and_serves_only_the_akvsync_class() {
    let Some(documents) = render("deploy/overlays/beside-eso") else {
        return;
    };
    let args = args(&documents);
    for flag in ["--controller-class=akvsync", "--skip-classless-stores"] {
        assert!(args.iter().any(|arg| arg == flag), "{flag}: {args:?}");
    }
    assert!(find(&documents, "Deployment", "akvsync").is_some());
}

#[test]
fn ha_runs_two_replicas_with_a_disruption_budget() {
    let Some(documents) = render("deploy/overlays/ha") else {
        return;
    };
    let deployment = find(&documents, "Deployment", "akvsync").expect("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert!(args(&documents).iter().any(|arg| arg == "--leader-elect"));
    let budget = find(&documents, "PodDisruptionBudget", "akvsync").expect("PDB");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn monitoring_scrapes_the_metrics_port_and_alerts_on_the_four_failure_modes() {
    let Some(documents) = render("deploy/overlays/monitoring") else {
        return;
    };
    let monitor = find(&documents, "ServiceMonitor", "akvsync").expect("ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let service = find(&documents, "Service", "akvsync-metrics").expect("Service");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("selector")
    {
        assert_eq!(&service["metadata"]["labels"][key], value);
    }
    let rule = find(&documents, "PrometheusRule", "akvsync").expect("PrometheusRule");
    let expressions: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_sequence()
        .expect("rules")
        .iter()
        .map(|rule| rule["expr"].as_str().expect("expr"))
        .collect();
    for needle in [
        "externalsecret_sync_calls_error",
        "secretstore_status_condition",
        r#"akvsync_keyvault_requests_total{result="throttled"}"#,
        "akvsync_refresh_lag_seconds_bucket",
    ] {
        assert!(
            expressions.iter().any(|expr| expr.contains(needle)),
            "no alert uses {needle}"
        );
    }
}

#[test]
fn rendering_a_missing_directory_fails_loudly() {
    let missing = Path::new("deploy/overlays/does-not-exist");
    let result = std::panic::catch_unwind(|| render(missing.to_str().expect("path")));
    assert!(
        result.is_err(),
        "render of a missing kustomization must fail"
    );
}

#[test]
fn the_base_image_is_this_version_and_a_users_overlay_points_it_at_their_registry() {
    let base = std::fs::read_to_string(repository().join("deploy/base/kustomization.yaml"))
        .expect("base kustomization");
    let base: Value = serde_yaml::from_str(&base).expect("YAML");
    let image = &base["images"][0];
    assert_eq!(image["name"], "akvsync");
    assert_eq!(
        image["newTag"],
        env!("CARGO_PKG_VERSION"),
        "deploy/base tags the image with the crate version"
    );

    // The README's overlay, in a directory of the user's beside a checkout of this repository.
    let user = tempfile::tempdir().expect("temp dir");
    let up = "../".repeat(user.path().components().count() - 1);
    let monitoring = repository().join("deploy/overlays/monitoring");
    let relative = format!(
        "{up}{}",
        monitoring.display().to_string().trim_start_matches('/')
    );
    std::fs::write(
        user.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {relative}\nimages:\n  - name: akvsync\n    newName: registry.example.com/platform/akvsync\n    newTag: \"{}\"\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
    .expect("write the overlay");
    let documents = render_path(user.path()).expect("rendered");
    assert_eq!(
        container(&documents)["image"],
        format!(
            "registry.example.com/platform/akvsync:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(find(&documents, "PrometheusRule", "akvsync").is_some());
}
