//! What the rendered RBAC lets the operator do, asked as a cluster admin asks it: the install
//! (`deploy/` and the Helm chart, cluster-wide and single-namespace) applied to the Kubernetes
//! emulator with kubectl, then `kubectl auth can-i … --as system:serviceaccount:akvsync-system:akvsync`
//! for each thing the operator needs (yes) and for what it must not do (no).

use crate::helm;
use crate::kubectl;

use std::process::Stdio;

const OPERATOR: &str = "system:serviceaccount:akvsync-system:akvsync";
const OPERATOR_NAMESPACE: &str = "akvsync-system";

/// `(can-i arguments, allowed)` for the cluster-wide install.
const CLUSTER_WIDE: &[(&str, bool)] = &[
    ("watch externalsecrets -A", true),
    ("list clustersecretstores", true),
    ("patch externalsecrets --subresource=status -n team-a", true),
    (
        "update pushsecrets --subresource=finalizers -n team-a",
        true,
    ),
    ("patch clusterexternalsecrets --subresource=status", true),
    ("create externalsecrets -n team-a", true),
    ("delete externalsecrets -n team-a", true),
    ("create pushsecrets -n team-a", true),
    ("delete pushsecrets -n team-a", true),
    ("watch clusterpushsecrets", true),
    ("patch clusterpushsecrets --subresource=status", true),
    ("create secrets -n team-a", true),
    ("delete secrets -n team-a", true),
    ("watch secrets -A", true),
    ("list namespaces", true),
    ("get configmaps -n team-a", true),
    ("create serviceaccounts --subresource=token -n team-a", true),
    ("create events -n team-a", true),
    ("create events.events.k8s.io -n team-a", true),
    ("update leases -n akvsync-system", true),
    (
        "get passwords.generators.external-secrets.io -n team-a",
        true,
    ),
    ("get uuids.generators.external-secrets.io -n team-a", true),
    (
        "get acraccesstokens.generators.external-secrets.io -n team-a",
        true,
    ),
    ("get clustergenerators.generators.external-secrets.io", true),
    // Not needed, so not granted.
    (
        "list passwords.generators.external-secrets.io -n team-a",
        false,
    ),
    (
        "create passwords.generators.external-secrets.io -n team-a",
        false,
    ),
    ("update leases -n team-a", false),
    ("delete leases -n akvsync-system", false),
    ("create configmaps -n team-a", false),
    ("create secretstores -n team-a", false),
    ("delete secretstores -n team-a", false),
    ("create clusterroles", false),
    ("create rolebindings -n team-a", false),
    ("impersonate users", false),
    ("patch customresourcedefinitions", false),
    ("delete namespaces", false),
    ("create pods -n team-a", false),
    ("get pods -n team-a", false),
    ("create serviceaccounts -n team-a", false),
];

/// `(can-i arguments, allowed)` for the single-namespace install (a Role in akvsync-system).
const SINGLE_NAMESPACE: &[(&str, bool)] = &[
    ("watch externalsecrets -n akvsync-system", true),
    (
        "patch externalsecrets --subresource=status -n akvsync-system",
        true,
    ),
    ("create secrets -n akvsync-system", true),
    ("list secrets -n akvsync-system", true),
    (
        "create serviceaccounts --subresource=token -n akvsync-system",
        true,
    ),
    ("update leases -n akvsync-system", true),
    (
        "get passwords.generators.external-secrets.io -n akvsync-system",
        true,
    ),
    // Nothing outside its namespace, nothing cluster-scoped.
    (
        "get passwords.generators.external-secrets.io -n team-a",
        false,
    ),
    (
        "get clustergenerators.generators.external-secrets.io",
        false,
    ),
    ("list secrets -n team-a", false),
    ("list secrets -A", false),
    ("watch externalsecrets -A", false),
    ("list clustersecretstores", false),
    ("list clusterexternalsecrets", false),
    ("list clusterpushsecrets", false),
    ("list namespaces", false),
    ("create externalsecrets -n akvsync-system", false),
    ("create rolebindings -n akvsync-system", false),
];

/// `kubectl auth can-i <question> --as <operator>`: whether the answer is yes.
async fn can_i(kubeconfig: &std::path::Path, question: &str) -> bool {
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["auth", "can-i"])
        .args(question.split_whitespace())
        .args(["--as", OPERATOR])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("kubectl runs (scripts/test checks that it is installed)");
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match (output.status.code(), answer.as_str()) {
        (Some(0), "yes") => true,
        (Some(1), "no") => false,
        _ => panic!(
            "kubectl auth can-i {question}: {:?} {answer} {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Applies `manifests` to a fresh emulator and asks every question of `expected`.
async fn answers(install: &str, manifests: &str, expected: &[(&str, bool)]) {
    let (_emulator, admin) = kubectl::emulator().await;
    let namespaces = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {OPERATOR_NAMESPACE}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
    );
    kubectl::apply(&admin, &namespaces, &[]).await;
    kubectl::apply(&admin, manifests, &["--force-conflicts"]).await;
    let mut wrong = Vec::new();
    for (question, allowed) in expected {
        if can_i(&admin, question).await != *allowed {
            wrong.push(format!(
                "can-i {question}: expected {}",
                if *allowed { "yes" } else { "no" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{install}:\n{}", wrong.join("\n"));
}

fn chart(values: Option<&str>) -> String {
    helm::render("akvsync", OPERATOR_NAMESPACE, values).expect("the chart renders")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_wide_installs_grant_what_the_operator_needs_and_nothing_more() {
    let deploy = kubectl::kustomize("deploy/base").await;
    answers("deploy/base", &deploy, CLUSTER_WIDE).await;
    answers("the chart", &chart(None), CLUSTER_WIDE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_namespace_installs_grant_nothing_outside_their_namespace() {
    let deploy = kubectl::kustomize("deploy/overlays/single-namespace").await;
    answers(
        "deploy/overlays/single-namespace",
        &deploy,
        SINGLE_NAMESPACE,
    )
    .await;
    let values = format!("{}/ci/scoped-values.yaml", helm::CHART);
    answers(
        "the chart's scopedRBAC",
        &chart(Some(&values)),
        SINGLE_NAMESPACE,
    )
    .await;
}
