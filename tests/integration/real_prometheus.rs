//! The alerts and dashboards against a real Prometheus (Debian's `prometheus` package):
//! - `promtool check rules` on the monitoring overlay's PrometheusRule, and `promtool test rules`
//!   with `deploy/overlays/monitoring/alerts_test.yaml`, where every alert fires on the series
//!   it is meant for and stays silent otherwise;
//! - the operator against the emulators, scraped by Prometheus every 250 ms with the alert rules
//!   loaded, through syncs, a 429 and a failing store: every PromQL expression of every dashboard
//!   panel returns at least one series. A panel that cannot is a bug: wire its metric or delete it.
//!   So is a metric family the operator registers and never updates: every one has series too.

use crate::operator_world;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use akvsync::demo::prometheus::{Prometheus, alert_rules_file, find_program};
use akvsync::observability::ControllerMetrics;
use akvsync_emulators::azure::Limits;
use operator_world::{NAMESPACE, VAULT, World, external_secret_yaml, label_namespace};
use serde_json::Value;

const ALERT_TESTS: &str = "deploy/overlays/monitoring/alerts_test.yaml";
/// Scrape and rule evaluation interval: short, so rates have samples within seconds.
const SCRAPE_INTERVAL: Duration = Duration::from_millis(250);
/// What Grafana's range variables stand for here: several scrapes, a few seconds.
const RANGE: &str = "10s";
/// The stores' metric families (`akvsync_actors::store::StoreMetrics`), beside
/// [`ControllerMetrics::NAMES`].
const STORE_FAMILIES: &[&str] = &[
    "akvsync_keyvault_requests_total",
    "akvsync_keyvault_request_duration_seconds",
    "externalsecret_provider_api_calls_count",
    "akvsync_store_requests_total",
    "akvsync_limiter_wait_seconds",
    "akvsync_keyvault_throttle_pauses_total",
];
/// How long every panel may take to show data once the traffic has run.
const PANELS_TIMEOUT: Duration = Duration::from_secs(60);

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require(program: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!("{program} is missing: apt-get install -y prometheus (scripts/test installs it)")
    })
}

fn free_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    listener.local_addr().expect("bound")
}

fn promtool(directory: &Path, args: &[&str]) {
    let output = Command::new(require("promtool"))
        .args(args)
        .current_dir(directory)
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The alert names of the rules file.
fn alert_names(rules: &str) -> BTreeSet<String> {
    let rules: serde_yaml::Value = serde_yaml::from_str(rules).expect("rules YAML");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").iter())
        .filter_map(|rule| rule["alert"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_alert_passes_promtool_and_has_a_unit_test_where_it_fires_and_one_where_it_is_silent() {
    let directory = tempfile::tempdir().expect("temp dir");
    let rules = alert_rules_file().expect("the PrometheusRule's rules");
    std::fs::write(directory.path().join("rules.yaml"), &rules).expect("write rules");
    let tests = std::fs::read_to_string(repository().join(ALERT_TESTS)).expect("alert tests");
    std::fs::write(directory.path().join("alerts_test.yaml"), &tests).expect("write tests");

    promtool(directory.path(), &["check", "rules", "rules.yaml"]);
    promtool(directory.path(), &["test", "rules", "alerts_test.yaml"]);

    // (alert, fires) pairs that some case covers.
    let tests: serde_yaml::Value = serde_yaml::from_str(&tests).expect("alert tests YAML");
    let covered: BTreeSet<(String, bool)> = tests["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|case| case["alert_rule_test"].as_sequence().expect("cases").iter())
        .map(|check| {
            let fires = check["exp_alerts"]
                .as_sequence()
                .is_some_and(|alerts| !alerts.is_empty());
            (
                check["alertname"].as_str().expect("alertname").to_owned(),
                fires,
            )
        })
        .collect();
    let alerts = alert_names(&rules);
    assert!(!alerts.is_empty());
    for alert in &alerts {
        for fires in [true, false] {
            assert!(
                covered.contains(&(alert.clone(), fires)),
                "{ALERT_TESTS} has no case where {alert} {}",
                if fires { "fires" } else { "stays silent" }
            );
        }
    }
    for (alert, _) in &covered {
        assert!(
            alerts.contains(alert),
            "{ALERT_TESTS} tests unknown alert {alert}"
        );
    }
}

/// Every PromQL expression of a dashboard, by panel title: panel targets, and the metric of each
/// `label_values(metric, label)` variable query.
fn dashboard_expressions(file: &str) -> Vec<(String, String)> {
    let path = repository().join("dashboards").join(file);
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard")).expect("JSON");
    let mut found = Vec::new();
    fn panels(list: &Value, found: &mut Vec<(String, String)>) {
        for panel in list.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expression) = target["expr"].as_str() {
                    found.push((title.to_owned(), expression.to_owned()));
                }
            }
            panels(&panel["panels"], found);
        }
    }
    panels(&dashboard["panels"], &mut found);
    let label_values = regex::Regex::new(r"label_values\(\s*([^,)]+)").expect("pattern");
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = match &variable["query"] {
            Value::String(query) => query.clone(),
            query => query["query"].as_str().unwrap_or_default().to_owned(),
        };
        if let Some(captures) = label_values.captures(&query) {
            found.push((
                format!("variable {}", variable["name"].as_str().unwrap_or_default()),
                captures[1].trim().to_owned(),
            ));
        }
    }
    found
}

/// Grafana's variables replaced by what a user who picks "All" gets.
fn as_prometheus_sees_it(expression: &str) -> String {
    expression
        .replace("$__rate_interval", RANGE)
        .replace("$__range", RANGE)
        .replace("$vault", ".*")
        .replace("$namespace", ".*")
}

fn dashboards() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repository().join("dashboards"))
        .expect("dashboards/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

fn cluster_store_yaml(world: &World, name: &str, tenant: &str) -> String {
    world
        .store_yaml(NAMESPACE, name, tenant)
        .replace("kind: SecretStore", "kind: ClusterSecretStore")
        .replace(&format!("  namespace: {NAMESPACE}\n"), "")
        .replace(
            "          key: client-id\n",
            &format!("          key: client-id\n          namespace: {NAMESPACE}\n"),
        )
        .replace(
            "          key: client-secret\n",
            &format!("          key: client-secret\n          namespace: {NAMESPACE}\n"),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_and_metric_family_has_data_in_a_real_prometheus_scraping_the_operator()
 {
    require("prometheus");
    let started = Instant::now();
    let mut world = World::new().await;
    for name in ["shared", "one", "two", "three", "four"] {
        world.set_secret(name, "v");
    }
    // Three reads a second: a burst of syncs meets a 429 and its Retry-After.
    world
        .azure
        .set_vault_limits(
            VAULT,
            Limits {
                reads: 3,
                window_ms: 1_000,
                ..Limits::default()
            },
        )
        .expect("vault limits");
    let (metrics, health) = (free_address(), free_address());
    let config = akvsync::operator::OperatorConfig {
        http: Some((metrics, health)),
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    let prometheus = Prometheus::start(free_address(), &[metrics], SCRAPE_INTERVAL)
        .await
        .expect("start Prometheus");

    // Traffic: ten ExternalSecrets sharing a secret (cache hits, coalescing), four more that
    // refresh every second (refresh lag, skipped writes, the 429), and a store that cannot
    // authenticate, namespaced and cluster-wide, with an ExternalSecret that fails on it.
    world.wait_for_store(NAMESPACE, "vault", "True").await;
    world.apply_external_secrets(10, "v", "shared").await;
    for name in ["one", "two", "three", "four"] {
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &format!("fast-{name}"),
                "1s",
                &[("v", name)],
            ))
            .await;
    }
    world
        .apply_yaml(&world.store_yaml(NAMESPACE, "broken", "no-such-tenant"))
        .await;
    world
        .apply_yaml(&cluster_store_yaml(
            &world,
            "broken-cluster",
            "no-such-tenant",
        ))
        .await;
    world
        .apply_yaml(
            &external_secret_yaml(NAMESPACE, "on-broken", "1h", &[("v", "shared")])
                .replace("    name: vault\n", "    name: broken\n"),
        )
        .await;
    // A PushSecret, a ClusterExternalSecret and a ClusterPushSecret, so that their families
    // have series too.
    world
        .secret(NAMESPACE, "source", &[("password", "pushed")])
        .await;
    world
        .apply_yaml(&format!(
            "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: push\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1h\n  secretStoreRefs:\n    - name: vault\n      kind: SecretStore\n  selector:\n    secret:\n      name: source\n  data:\n    - match:\n        secretKey: password\n        remoteRef:\n          remoteKey: pushed-password\n"
        ))
        .await;
    world
        .apply_yaml(&format!(
            "apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\nmetadata:\n  name: fan-out\nspec:\n  externalSecretName: fanned\n  namespaces: [{NAMESPACE}]\n  refreshTime: 1h\n  externalSecretSpec:\n    refreshInterval: 1h\n    secretStoreRef: {{name: vault, kind: SecretStore}}\n    target: {{name: fanned}}\n    data:\n      - secretKey: v\n        remoteRef: {{key: shared}}\n"
        ))
        .await;
    label_namespace(&world, NAMESPACE, "push", Some("yes")).await;
    world
        .apply_yaml(
            "apiVersion: external-secrets.io/v1alpha1\nkind: ClusterPushSecret\nmetadata:\n  name: fan-out-push\nspec:\n  pushSecretName: fanned-push\n  namespaceSelectors:\n    - matchLabels: {push: \"yes\"}\n  pushSecretSpec:\n    refreshInterval: 1h\n    secretStoreRefs:\n      - {name: vault, kind: SecretStore}\n    selector:\n      secret: {name: source}\n    data:\n      - match:\n          secretKey: password\n          remoteRef: {remoteKey: cluster-pushed-password}\n",
        )
        .await;
    world.wait_for_ready(NAMESPACE, "on-broken", "False").await;
    world.wait_for_ready(NAMESPACE, "fanned", "True").await;
    for name in ["one", "two", "three", "four"] {
        world
            .wait_for_ready(NAMESPACE, &format!("fast-{name}"), "True")
            .await;
    }

    // Every panel query, until each returns a series.
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    for file in dashboards() {
        for (title, expression) in dashboard_expressions(&file) {
            pending.insert(
                as_prometheus_sees_it(&expression),
                format!("{file}: {title}"),
            );
        }
    }
    for family in ControllerMetrics::NAMES.iter().chain(STORE_FAMILIES) {
        pending.insert(
            format!("count({{__name__=~\"{family}(_bucket)?\"}})"),
            format!("metric family {family}"),
        );
    }
    let total = pending.len();
    let deadline = Instant::now() + PANELS_TIMEOUT;
    while !pending.is_empty() && Instant::now() < deadline {
        let mut answered = Vec::new();
        for expression in pending.keys() {
            let result = prometheus.query(expression).await.expect("a valid query");
            if !result.is_empty() {
                answered.push(expression.clone());
            }
        }
        for expression in answered {
            pending.remove(&expression);
        }
        if !pending.is_empty() {
            tokio::time::sleep(SCRAPE_INTERVAL).await;
        }
    }
    assert!(
        pending.is_empty(),
        "panels and families without data after {PANELS_TIMEOUT:?} (wire their metric or delete them):\n{}\nPrometheus log: {}",
        pending
            .iter()
            .map(|(expression, panel)| format!("  {panel}: {expression}"))
            .collect::<Vec<_>>()
            .join("\n"),
        prometheus.log()
    );

    // The alert rules loaded and evaluate without errors against the operator's series.
    let groups = prometheus.rules().await.expect("rules");
    let rules: Vec<&Value> = groups
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().expect("rules").iter())
        .collect();
    assert_eq!(
        rules.len(),
        alert_names(&alert_rules_file().expect("rules")).len()
    );
    for rule in rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    println!(
        "{total} dashboard queries and metric families returned data; the test took {:?}",
        started.elapsed()
    );
}
