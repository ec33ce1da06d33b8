//! Every metric the Grafana dashboards (`dashboards/*.json`) and the alerting rules
//! (`deploy/overlays/monitoring/prometheusrule.yaml`) query is one the operator registers:
//! the operator's registry (`Telemetry`: controller, store and mailbox metrics), as `akvsync run`
//! builds it.
//!
//! A name counts as registered when the registry refuses a probe metric of that name (a Vec
//! with no series yet does not show in `gather()`, but its name is taken). Histogram series
//! (`_bucket`, `_sum`, `_count`) count by their family name, which must be a histogram when
//! its type is known: every controller metric is touched once so `gather()` shows its type;
//! the stores' histograms cannot be touched from outside their crate, so their type is unknown
//! here and only their name is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use akvsync::observability::MetricsGranularity;
use prometheus::proto::MetricType;
use prometheus::{Gauge, Registry};
use regex::Regex;
use serde_json::Value;

const DASHBOARDS: &[&str] = &[
    "akvsync-overview.json",
    "akvsync-keyvault-pressure.json",
    "akvsync-actors.json",
];
const ALERT_RULES: &str = "deploy/overlays/monitoring/prometheusrule.yaml";
/// Suffixes Prometheus adds to a histogram family's series.
const HISTOGRAM_SUFFIXES: &[&str] = &["_bucket", "_sum", "_count"];
/// PromQL words that look like identifiers but are not metrics.
const PROMQL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The metric names a PromQL expression reads.
fn metric_names(expression: &str) -> BTreeSet<String> {
    // Drop what holds identifiers that are not metrics: Grafana variables, string literals,
    // label matchers, range/subquery durations and grouping label lists.
    let mut text = expression.to_owned();
    for (pattern, replacement) in [
        (r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", ""),
        (r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"#, "\"\""),
        (r"\{[^}]*\}", " "),
        (r"\[[^\]]*\]", " "),
        (
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
            " ",
        ),
    ] {
        text = Regex::new(pattern)
            .expect("pattern")
            .replace_all(&text, replacement)
            .into_owned();
    }
    let identifier = Regex::new(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?").expect("pattern");
    identifier
        .captures_iter(&text)
        .filter(|captures| captures.get(2).is_none())
        .map(|captures| captures[1].to_owned())
        .filter(|name| !PROMQL_KEYWORDS.contains(&name.to_ascii_lowercase().as_str()))
        .collect()
}

/// Every PromQL expression of a dashboard: panel targets and `label_values(metric, …)` queries.
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    fn walk(value: &Value, label_values: &Regex, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", Value::String(expression)) => found.push(expression.clone()),
                        ("query" | "definition", Value::String(query)) => found.extend(
                            label_values
                                .captures(query)
                                .map(|captures| captures[1].trim().to_owned()),
                        ),
                        _ => walk(value, label_values, found),
                    }
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| walk(item, label_values, found)),
            _ => {}
        }
    }
    let label_values = Regex::new(r"label_values\(\s*([^,)]+)").expect("pattern");
    let mut found = Vec::new();
    walk(dashboard, &label_values, &mut found);
    found
}

fn load_dashboard(file: &str) -> Value {
    let path = repository().join("dashboards").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file} is not JSON: {error}"))
}

/// The operator's registry: controller and store metrics, as `akvsync run` registers them,
/// with one series in every controller family so that `gather()` reports its type.
fn operator_registry() -> Registry {
    use akvsync::observability::metrics::{Outcome, ResourceKind, WriteVerb};
    use std::time::Duration;

    let telemetry = akvsync::operator::Telemetry::new(MetricsGranularity::PerResource)
        .expect("the operator's metrics register");
    let (registry, metrics) = (telemetry.registry, telemetry.controller);
    for kind in ResourceKind::ALL {
        metrics.reconciled(kind, "probe", "probe", Duration::ZERO, Outcome::Failed);
        metrics.refresh_lag(kind, 0.0);
        metrics.change_to_synced(kind, Duration::ZERO);
        metrics.max_concurrent_reconciles(kind, 1);
        drop(metrics.reconcile_started(kind));
    }
    drop(metrics.queued(ResourceKind::ExternalSecret));
    metrics.actor_started("probe");
    metrics.k8s_write("probe", WriteVerb::Create);
    metrics.k8s_write_skipped("probe");
    metrics.vault_budget("probe", "read", 0.0);
    registry
}

/// The types of the families that have series.
fn known_types(registry: &Registry) -> BTreeMap<String, MetricType> {
    registry
        .gather()
        .iter()
        .map(|family| (family.name().to_owned(), family.get_field_type()))
        .collect()
}

/// Whether `registry` holds a family named `name` (it refuses a probe of the same name).
fn is_registered(registry: &Registry, name: &str) -> bool {
    let probe = Gauge::new(name, "probe of a dashboard metric name").expect("valid metric name");
    match registry.register(Box::new(probe.clone())) {
        Ok(()) => {
            registry
                .unregister(Box::new(probe))
                .expect("probe unregisters");
            false
        }
        Err(_) => true,
    }
}

/// The metric of a series name: itself, or its histogram family.
fn exported(registry: &Registry, name: &str) -> bool {
    let types = known_types(registry);
    is_registered(registry, name)
        || HISTOGRAM_SUFFIXES.iter().any(|suffix| {
            name.strip_suffix(suffix).is_some_and(|family| {
                is_registered(registry, family)
                    && types
                        .get(family)
                        .is_none_or(|kind| *kind == MetricType::HISTOGRAM)
            })
        })
}

fn unexported(registry: &Registry, expressions: &[String]) -> BTreeMap<String, String> {
    let mut missing = BTreeMap::new();
    for expression in expressions {
        for name in metric_names(expression) {
            if !exported(registry, &name) {
                missing.insert(name, expression.clone());
            }
        }
    }
    missing
}

#[test]
fn the_extractor_finds_metrics_and_nothing_else() {
    let expression = r#"histogram_quantile(0.99, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket{namespace=~"$namespace", x="a{b}"}[$__rate_interval]))) / on (vault) group_left(name) sum(akvsync_store_requests_total offset 5m) > bool 1e9 and max(workqueue_depth)"#;
    let names: Vec<String> = metric_names(expression).into_iter().collect();
    assert_eq!(
        names,
        [
            "akvsync_store_requests_total",
            "controller_runtime_reconcile_time_seconds_bucket",
            "workqueue_depth"
        ]
    );
    assert_eq!(
        metric_names(
            "sum(secretstore_status_condition) + sum(clustersecretstore_status_condition)"
        )
        .len(),
        2
    );
}

#[test]
fn the_probe_tells_registered_names_from_others() {
    let registry = operator_registry();
    assert!(exported(&registry, "externalsecret_sync_calls_total"));
    assert!(exported(&registry, "akvsync_limiter_wait_seconds_bucket"));
    assert!(exported(
        &registry,
        "externalsecret_provider_api_calls_count"
    ));
    assert!(!exported(&registry, "externalsecret_sync_calls"));
    assert!(!exported(
        &registry,
        "controller_runtime_webhook_requests_total"
    ));
    assert!(!exported(&registry, "workqueue_depth_bucket"));
    assert!(!exported(
        &registry,
        "externalsecret_sync_calls_total_count"
    ));
    // Probing leaves the registry as it was.
    assert!(!exported(&registry, "externalsecret_sync_calls"));
}

#[test]
fn every_metric_the_dashboards_query_is_exported() {
    let registry = operator_registry();
    for file in DASHBOARDS {
        let expressions = dashboard_expressions(&load_dashboard(file));
        let names: BTreeSet<String> = expressions
            .iter()
            .flat_map(|expression| metric_names(expression))
            .collect();
        assert!(
            names.len() >= 5,
            "{file} queries only {names:?}: did the extractor break?"
        );
        let missing = unexported(&registry, &expressions);
        assert!(
            missing.is_empty(),
            "{file} queries metrics the operator does not export: {missing:#?}"
        );
    }
}

#[test]
fn every_metric_the_alerts_query_is_exported() {
    let text = std::fs::read_to_string(repository().join(ALERT_RULES)).expect("alert rules");
    let rule: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    let expressions: Vec<String> = rule["spec"]["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").iter())
        .map(|rule| rule["expr"].as_str().expect("expr").to_owned())
        .collect();
    assert!(expressions.len() >= 4);
    let missing = unexported(&operator_registry(), &expressions);
    assert!(
        missing.is_empty(),
        "alerts query metrics the operator does not export: {missing:#?}"
    );
}

#[test]
fn dashboards_are_importable_and_use_the_datasource_variable() {
    let mut uids = BTreeSet::new();
    for file in DASHBOARDS {
        let dashboard = load_dashboard(file);
        let uid = dashboard["uid"].as_str().expect("uid");
        assert_eq!(format!("{uid}.json"), *file, "file named after the uid");
        assert!(uids.insert(uid.to_owned()), "duplicate uid {uid}");
        assert!(
            dashboard["title"]
                .as_str()
                .is_some_and(|title| !title.is_empty())
        );
        let variables = dashboard["templating"]["list"]
            .as_array()
            .expect("variables");
        assert!(
            variables.iter().any(
                |variable| variable["name"] == "datasource" && variable["type"] == "datasource"
            ),
            "{file} has no datasource variable"
        );
        let panels = dashboard["panels"].as_array().expect("panels");
        let mut ids = BTreeSet::new();
        for panel in panels {
            let id = panel["id"].as_u64().expect("panel id");
            assert!(ids.insert(id), "{file}: duplicate panel id {id}");
            let width = panel["gridPos"]["w"].as_u64().expect("width");
            let x = panel["gridPos"]["x"].as_u64().expect("x");
            assert!(x + width <= 24, "{file}: panel {id} overflows the grid");
            for target in panel["targets"].as_array().into_iter().flatten() {
                assert_eq!(
                    target["datasource"]["uid"], "${datasource}",
                    "{file}: panel {id} is bound to a fixed data source"
                );
                assert!(target["expr"].as_str().is_some_and(|expr| !expr.is_empty()));
            }
        }
    }
}

#[test]
fn the_pressure_dashboard_shows_budget_throttling_and_savings() {
    let expressions = dashboard_expressions(&load_dashboard("akvsync-keyvault-pressure.json"));
    let all = expressions.join("\n");
    for needle in [
        "akvsync_keyvault_budget_requests_per_second",
        r#"result="throttled""#,
        r#"served="hit""#,
        r#"served=~"hit|coalesced""#,
        "akvsync_keyvault_throttle_pauses_total",
    ] {
        assert!(all.contains(needle), "no panel queries {needle}");
    }
}
