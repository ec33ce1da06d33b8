//! The Helm chart (`charts/akvsync`) through the real Helm: PyPI's helm-python-sdk, Helm v4's Go
//! library, renders and lints it offline (`tests/integration/helm/chart.py`; scripts/test installs the
//! package). Every values file under `charts/akvsync/ci/` renders, lints clean and is accepted
//! by the Kubernetes emulator in a server-side dry run; the chart's flags parse with the
//! operator's command line; and the chart cannot drift from `deploy/` (RBAC, arguments, probes,
//! security contexts, scheduling, monitoring) or from the files it copies.

use crate::helm;
use crate::kubectl;
use crate::manifests;

use std::path::{Path, PathBuf};

use manifests::{container_args, deployment, documents, pod_spec, run_args};
use serde_yaml::Value;

const CHART: &str = helm::CHART;
const RELEASE: &str = "akvsync";
const NAMESPACE: &str = "akvsync-system";

/// Each values file beside the kustomization that installs the same thing (none: no twin).
const VALUES: &[(&str, Option<&str>)] = &[
    ("", Some("deploy/base")),
    ("ci/ha-values.yaml", Some("deploy/overlays/ha")),
    (
        "ci/scoped-values.yaml",
        Some("deploy/overlays/single-namespace"),
    ),
    (
        "ci/monitoring-values.yaml",
        Some("deploy/overlays/monitoring"),
    ),
    (
        "ci/beside-eso-values.yaml",
        Some("deploy/overlays/beside-eso"),
    ),
    (
        "ci/generic-targets-values.yaml",
        Some("deploy/overlays/generic-targets"),
    ),
    ("ci/eso-values.yaml", None),
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn values_path(values: &str) -> String {
    Path::new(CHART).join(values).display().to_string()
}

/// The chart rendered as release [`RELEASE`] in [`NAMESPACE`], with a values file of the chart
/// ("" for the defaults) or inline JSON.
fn render_text(values: &str) -> Result<String, String> {
    let path = values_path(values);
    let values = match values {
        "" => None,
        inline if inline.starts_with('{') => Some(inline),
        _ => Some(path.as_str()),
    };
    helm::render(RELEASE, NAMESPACE, values)
}

fn render(values: &str) -> Vec<Value> {
    documents(&render_text(values).unwrap_or_else(|error| panic!("render {values:?}: {error}")))
}

fn kind_of(document: &Value) -> &str {
    document["kind"].as_str().unwrap_or_default()
}

fn all_of<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|document| kind_of(document) == kind)
        .collect()
}

fn one<'a>(documents: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    documents
        .iter()
        .find(|document| kind_of(document) == kind && document["metadata"]["name"] == name)
}

fn args(documents: &[Value]) -> Vec<String> {
    container_args(documents, NAMESPACE)
}

#[test]
fn every_values_file_lints_clean_with_helm() {
    for (values, _) in VALUES {
        let mut args = vec!["lint", CHART];
        let path = values_path(values);
        if !values.is_empty() {
            args.push(&path);
        }
        let report = helm::run(&args).unwrap_or_else(|error| panic!("lint {values:?}: {error}"));
        assert_eq!(report["total_charts_linted"], 1, "{values:?}: {report}");
        assert_eq!(report["messages"], serde_json::json!([]), "{values:?}");
        assert_eq!(report["errors"], serde_json::json!([]), "{values:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_render_is_accepted_by_the_kubernetes_emulator_in_a_server_side_dry_run() {
    let (_emulator, admin) = kubectl::emulator().await;
    let prerequisites = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n---\n{}",
        std::fs::read_to_string(repository().join("tests/integration/helm/monitoring-crds.yaml"))
            .expect("monitoring CRDs")
    );
    kubectl::apply(&admin, &prerequisites, &[]).await;
    for (values, _) in VALUES {
        let text = render_text(values).unwrap_or_else(|error| panic!("{values:?}: {error}"));
        let objects = documents(&text).len();
        let answer = kubectl::apply(&admin, &text, &["--dry-run=server"]).await;
        let accepted = answer
            .lines()
            .filter(|line| line.ends_with("(server dry run)"))
            .count();
        assert_eq!(accepted, objects, "{values:?}: {answer}");
    }
}

#[test]
fn the_charts_arguments_parse_as_the_operators_command_line() {
    for (values, _) in VALUES {
        run_args(args(&render(values)))
            .operator_config()
            .unwrap_or_else(|error| panic!("{values:?}: {error:#}"));
    }
    // An ESO values file: ESO's keys mean what they mean there.
    let eso = run_args(args(&render("ci/eso-values.yaml")))
        .operator_config()
        .expect("config");
    assert_eq!(eso.concurrent, 4);
    assert!(!eso.scope.push_secrets);
    assert!(!eso.scope.cluster_external_secrets);
    assert!(eso.scope.cluster_stores);
    assert_eq!(eso.class.name, "default");
    let leader = eso.leader.expect("leaderElect");
    assert_eq!(leader.lease_name, "external-secrets-controller");
    assert_eq!(leader.lease_duration, std::time::Duration::from_secs(20));
    assert_eq!(
        eso.granularity,
        akvsync::observability::MetricsGranularity::PerNamespace
    );
    let eso_documents = render("ci/eso-values.yaml");
    let pod = pod_spec(&eso_documents);
    assert_eq!(
        pod["containers"][0]["image"],
        "registry.example.com/platform/akvsync:0.1.0"
    );
    assert_eq!(pod["imagePullSecrets"][0]["name"], "registry");
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    let account = one(&eso_documents, "ServiceAccount", "akvsync").expect("ServiceAccount");
    assert_eq!(
        account["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "00000000-0000-0000-0000-000000000000"
    );

    let tenants = run_args(args(&render(
        r#"{"tenants": {"label": "example.com/team", "fairness": false, "maxShare": 0.25}}"#,
    )))
    .operator_config()
    .expect("config")
    .tenants;
    assert_eq!(tenants.label.as_deref(), Some("example.com/team"));
    assert!(!tenants.policy.fair);
    assert_eq!(tenants.policy.max_share, Some(0.25));

    let scoped = run_args(args(&render("ci/scoped-values.yaml")))
        .operator_config()
        .expect("config");
    assert_eq!(scoped.scope.namespace.as_deref(), Some(NAMESPACE));
    assert!(!scoped.scope.cluster_stores && !scoped.scope.cluster_external_secrets);
}

/// The fields of the pod and its container that must be the same in both installs.
const POD_FIELDS: &[&str] = &[
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "terminationGracePeriodSeconds",
    "volumes",
    "affinity",
    "topologySpreadConstraints",
];
const CONTAINER_FIELDS: &[&str] = &[
    "env",
    "ports",
    "livenessProbe",
    "readinessProbe",
    "resources",
    "securityContext",
    "volumeMounts",
];

/// The objects' fields that must be the same in both installs (absent in both counts as same).
const OBJECT_FIELDS: &[(&str, &str, &[&str])] = &[
    ("ClusterRole", "akvsync-controller", &["rules"]),
    ("ClusterRoleBinding", "akvsync-controller", &["roleRef"]),
    ("ClusterRoleBinding", "akvsync-controller", &["subjects"]),
    ("Role", "akvsync-controller", &["rules"]),
    ("RoleBinding", "akvsync-controller", &["roleRef"]),
    ("RoleBinding", "akvsync-controller", &["subjects"]),
    ("Role", "akvsync-leader-election", &["rules"]),
    ("RoleBinding", "akvsync-leader-election", &["roleRef"]),
    ("RoleBinding", "akvsync-leader-election", &["subjects"]),
    ("ServiceAccount", "akvsync", &["metadata", "namespace"]),
    ("Service", "akvsync-metrics", &["spec", "ports"]),
    ("PodDisruptionBudget", "akvsync", &["spec", "minAvailable"]),
    (
        "ServiceMonitor",
        "akvsync",
        &["spec", "endpoints", "0", "port"],
    ),
    (
        "ServiceMonitor",
        "akvsync",
        &["spec", "endpoints", "0", "path"],
    ),
    (
        "ServiceMonitor",
        "akvsync",
        &["spec", "endpoints", "0", "interval"],
    ),
    (
        "ServiceMonitor",
        "akvsync",
        &["spec", "endpoints", "0", "scrapeTimeout"],
    ),
    ("PrometheusRule", "akvsync", &["spec"]),
];

/// `path` within the object `kind/name`, when there is such an object.
fn at<'a>(documents: &'a [Value], kind: &str, name: &str, path: &[&str]) -> Option<&'a Value> {
    one(documents, kind, name).map(|object| {
        path.iter().fold(object, |value, key| match value {
            Value::Sequence(items) => key
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index))
                .unwrap_or(&Value::Null),
            _ => &value[*key],
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_what_deploy_installs() {
    for (values, kustomization) in VALUES {
        let Some(kustomization) = kustomization else {
            continue;
        };
        let chart = render(values);
        let deploy = documents(&kubectl::kustomize(kustomization).await);
        let what = format!("chart {values:?} vs {kustomization}");
        assert_eq!(args(&chart), args(&deploy), "{what}: arguments");
        let (chart_pod, deploy_pod) = (pod_spec(&chart), pod_spec(&deploy));
        for field in POD_FIELDS {
            assert_eq!(chart_pod[field], deploy_pod[field], "{what}: pod {field}");
        }
        for field in CONTAINER_FIELDS {
            assert_eq!(
                chart_pod["containers"][0][field], deploy_pod["containers"][0][field],
                "{what}: container {field}"
            );
        }
        for field in ["replicas", "strategy", "revisionHistoryLimit"] {
            assert_eq!(
                deployment(&chart)[field],
                deployment(&deploy)[field],
                "{what}: {field}"
            );
        }
        for (kind, name, path) in OBJECT_FIELDS {
            assert_eq!(
                at(&chart, kind, name, path),
                at(&deploy, kind, name, path),
                "{what}: {kind} {name} {path:?}"
            );
        }
        // The same CRDs (kustomize adds its labels to the metadata and sorts them by group; the
        // specs are the same).
        let crds = |documents: &[Value]| -> Vec<(String, String)> {
            let mut crds: Vec<_> = all_of(documents, "CustomResourceDefinition")
                .iter()
                .map(|crd| {
                    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
                    let spec = serde_yaml::to_string(&crd["spec"]).expect("spec");
                    (name.to_owned(), spec)
                })
                .collect();
            crds.sort();
            crds
        };
        let (chart_crds, deploy_crds) = (crds(&chart), crds(&deploy));
        let names = |crds: &[(String, String)]| {
            crds.iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&chart_crds), names(&deploy_crds), "{what}: CRDs");
        assert!(chart_crds == deploy_crds, "{what}: the CRDs' specs differ");
    }
}

/// The names of the files in a directory of the repository.
fn file_names(directory: &str) -> Vec<String> {
    std::fs::read_dir(repository().join(directory))
        .unwrap_or_else(|error| panic!("{directory}: {error}"))
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn the_files_the_chart_copies_match_their_sources() {
    let copies = [
        (
            "crds/external-secrets.io.yaml",
            "files/crds/external-secrets.io.yaml",
        ),
        (
            "deploy/overlays/monitoring/prometheusrule.yaml",
            "files/prometheusrule.yaml",
        ),
    ];
    let dashboards: Vec<(String, String)> = file_names("dashboards")
        .into_iter()
        .map(|name| {
            (
                format!("dashboards/{name}"),
                format!("files/dashboards/{name}"),
            )
        })
        .collect();
    let copied_dashboards = std::fs::read_dir(repository().join(CHART).join("files/dashboards"))
        .expect("the chart's dashboards")
        .count();
    assert_eq!(
        copied_dashboards,
        dashboards.len(),
        "one copy per dashboard"
    );
    for (source, copy) in copies
        .iter()
        .map(|(source, copy)| (source.to_string(), copy.to_string()))
        .chain(dashboards)
    {
        let copy_path = Path::new(CHART).join(&copy);
        assert!(
            std::fs::read(repository().join(&source)).expect("source")
                == std::fs::read(repository().join(&copy_path)).expect("copy"),
            "{} differs from {source}; refresh it with: cp {source} {}",
            copy_path.display(),
            copy_path.display()
        );
    }
}

#[test]
fn grafanas_sidecar_finds_one_config_map_per_dashboard() {
    let documents = render("ci/monitoring-values.yaml");
    let maps = all_of(&documents, "ConfigMap");
    let mut found = 0;
    for name in file_names("dashboards") {
        let text = std::fs::read_to_string(repository().join("dashboards").join(&name))
            .expect("dashboard");
        let map = maps
            .iter()
            .find(|map| map["data"].get(name.as_str()).is_some())
            .unwrap_or_else(|| panic!("no ConfigMap holds {name}"));
        assert_eq!(
            map["metadata"]["labels"]["grafana_dashboard"], "1",
            "{name}"
        );
        assert_eq!(
            map["data"][name.as_str()].as_str().map(str::trim_end),
            Some(text.trim_end()),
            "{name}"
        );
        found += 1;
    }
    assert_eq!(maps.len(), found);
    assert!(
        render("")
            .iter()
            .all(|document| kind_of(document) != "ConfigMap"),
        "off by default"
    );
}

#[test]
fn the_schema_refuses_bad_values_naming_the_field() {
    for (values, field) in [
        (r#"{"concurent": 4}"#, "concurent"),
        (r#"{"replicaCount": "two"}"#, "/replicaCount"),
        (r#"{"concurrent": 0}"#, "/concurrent"),
        (r#"{"tenants": {"maxShare": 1.5}}"#, "/tenants/maxShare"),
        (r#"{"tenants": {"fairnes": false}}"#, "fairnes"),
        (r#"{"log": {"format": "xml"}}"#, "/log/format"),
        (
            r#"{"leaderElectionLeaseDuration": "15 seconds"}"#,
            "/leaderElectionLeaseDuration",
        ),
        (r#"{"webhook": {"create": false}}"#, "webhook"),
        (r#"{"global": {"imagePullSecrets": []}}"#, "/global"),
    ] {
        let error = render_text(values).expect_err(values);
        assert!(error.contains(field), "{values}: {error}");
    }
    let error = render_text(
        r#"{"serviceMonitor": {"enabled": true}, "metrics": {"service": {"enabled": false}}}"#,
    )
    .expect_err("a ServiceMonitor without its Service");
    assert!(error.contains("metrics.service.enabled"), "{error}");
}

#[test]
fn a_release_of_another_name_binds_its_own_service_account() {
    let text =
        helm::render("platform", "secrets", Some(r#"{"scopedRBAC": true}"#)).expect("render");
    let documents = documents(&text);
    let account = &all_of(&documents, "ServiceAccount")[0]["metadata"];
    assert_eq!(account["name"], "platform-akvsync");
    assert_eq!(account["namespace"], "secrets");
    for binding in all_of(&documents, "RoleBinding") {
        assert_eq!(binding["subjects"][0]["name"], "platform-akvsync");
        assert_eq!(binding["subjects"][0]["namespace"], "secrets");
        assert_eq!(binding["metadata"]["namespace"], "secrets");
    }
    assert!(args(&documents).contains(&"--namespace=secrets".to_owned()));
    assert!(all_of(&documents, "ClusterRole").is_empty());
}

#[test]
fn generic_targets_add_the_flag_and_the_rules_for_config_maps_and_the_kinds_given() {
    let values = r#"{"genericTargets": {"enabled": true, "resources": [
        {"apiGroup": "example.com", "resources": ["widgets"], "verbs": ["get", "create", "update"]}
    ]}}"#;
    let wanted = serde_yaml::from_str::<Value>(
        r#"
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "update", "patch", "delete"]
- apiGroups: ["example.com"]
  resources: ["widgets"]
  verbs: ["get", "create", "update"]
"#,
    )
    .expect("yaml");
    let rules_end = |rules: &Value| -> Value {
        let rules = rules.as_sequence().expect("rules").clone();
        Value::Sequence(rules[rules.len() - 2..].to_vec())
    };
    let documents = render(values);
    assert!(args(&documents).contains(&"--unsafe-allow-generic-targets=true".to_owned()));
    let role = one(&documents, "ClusterRole", "akvsync-controller").expect("ClusterRole");
    assert_eq!(rules_end(&role["rules"]), wanted);

    let scoped = render(&values.replacen('{', r#"{"scopedRBAC": true, "#, 1));
    let role = one(&scoped, "Role", "akvsync-controller").expect("Role");
    assert_eq!(rules_end(&role["rules"]), wanted);

    let default = render("");
    assert!(!args(&default).iter().any(|arg| arg.contains("generic")));
    let role = one(&default, "ClusterRole", "akvsync-controller").expect("ClusterRole");
    let configmap_writes = role["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|rule| {
            rule["resources"]
                .as_sequence()
                .is_some_and(|r| r.iter().any(|r| r == "configmaps"))
        })
        .flat_map(|rule| rule["verbs"].as_sequence().cloned().unwrap_or_default())
        .filter(|verb| verb == "create")
        .count();
    assert_eq!(configmap_writes, 0, "no ConfigMap writes by default");
}
