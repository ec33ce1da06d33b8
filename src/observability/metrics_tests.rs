//! Tests of [`ControllerMetrics`], read back through the registry's gathered families.

use std::collections::BTreeSet;
use std::time::Duration;

use prometheus::Registry;
use prometheus::proto::MetricFamily;

use super::metrics::*;

/// Shorthands for the reports the controllers make through [`ControllerMetrics::reconciled`] and
/// [`ControllerMetrics::deleted`], so the tests read as the events they model.
trait Reports {
    fn es_synced(&self, namespace: &str, name: &str, took: Duration, ready: bool);
    fn es_sync_error(&self, namespace: &str, name: &str, took: Duration);
    fn es_deleted(&self, namespace: &str, name: &str);
    fn store_reconciled(
        &self,
        kind: StoreKind,
        namespace: &str,
        name: &str,
        took: Duration,
        ready: bool,
    );
    fn store_deleted(&self, kind: StoreKind, namespace: &str, name: &str);
    fn push_deleted(&self, namespace: &str, name: &str);
}

impl Reports for ControllerMetrics {
    fn es_synced(&self, namespace: &str, name: &str, took: Duration, ready: bool) {
        let outcome = if ready {
            Outcome::Ready
        } else {
            Outcome::NotReady
        };
        self.reconciled(ResourceKind::ExternalSecret, namespace, name, took, outcome);
    }

    fn es_sync_error(&self, namespace: &str, name: &str, took: Duration) {
        let kind = ResourceKind::ExternalSecret;
        self.reconciled(kind, namespace, name, took, Outcome::Failed);
    }

    fn es_deleted(&self, namespace: &str, name: &str) {
        self.deleted(ResourceKind::ExternalSecret, namespace, name);
    }

    fn store_reconciled(
        &self,
        kind: StoreKind,
        namespace: &str,
        name: &str,
        took: Duration,
        ready: bool,
    ) {
        let outcome = if ready {
            Outcome::Ready
        } else {
            Outcome::Failed
        };
        self.reconciled(kind.into(), namespace, name, took, outcome);
    }

    fn store_deleted(&self, kind: StoreKind, namespace: &str, name: &str) {
        self.deleted(kind.into(), namespace, name);
    }

    fn push_deleted(&self, namespace: &str, name: &str) {
        self.deleted(ResourceKind::PushSecret, namespace, name);
    }
}

#[test]
fn resource_kinds_are_found_by_their_kubernetes_kind_names() {
    assert_eq!(
        ResourceKind::from_kind("ExternalSecret"),
        Some(ResourceKind::ExternalSecret)
    );
    assert_eq!(
        ResourceKind::from_kind("ClusterExternalSecret"),
        Some(ResourceKind::ClusterExternalSecret)
    );
    assert_eq!(
        ResourceKind::from_kind("PushSecret"),
        Some(ResourceKind::PushSecret)
    );
    assert_eq!(ResourceKind::from_kind("Secret"), None);
}

fn registered(granularity: MetricsGranularity) -> (Registry, ControllerMetrics) {
    let registry = Registry::new();
    let metrics = ControllerMetrics::register(&registry, granularity).expect("registers");
    (registry, metrics)
}

fn family(registry: &Registry, name: &str) -> Option<MetricFamily> {
    registry
        .gather()
        .into_iter()
        .find(|family| family.name() == name)
}

fn labels_match(metric: &prometheus::proto::Metric, wanted: &[(&str, &str)]) -> bool {
    wanted.iter().all(|(key, value)| {
        metric
            .get_label()
            .iter()
            .any(|pair| pair.name() == *key && pair.value() == *value)
    })
}

/// The value of the one series of `name` whose labels include `wanted` (gauge or counter).
fn value(registry: &Registry, name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    let family = family(registry, name)?;
    let matching: Vec<_> = family
        .get_metric()
        .iter()
        .filter(|metric| labels_match(metric, wanted))
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {wanted:?} matches {matching:?}"
    );
    let metric = matching.first()?;
    Some(match family.get_field_type() {
        prometheus::proto::MetricType::COUNTER => metric.get_counter().get_value(),
        prometheus::proto::MetricType::GAUGE => metric.get_gauge().get_value(),
        other => panic!("{name} is a {other:?}"),
    })
}

fn histogram(registry: &Registry, name: &str, wanted: &[(&str, &str)]) -> (u64, f64) {
    let family = family(registry, name).unwrap_or_else(|| panic!("{name} not gathered"));
    let metric = family
        .get_metric()
        .iter()
        .find(|metric| labels_match(metric, wanted))
        .unwrap_or_else(|| panic!("no {name} series with {wanted:?}"));
    let histogram = metric.get_histogram();
    (histogram.get_sample_count(), histogram.get_sample_sum())
}

fn series_count(registry: &Registry, name: &str) -> usize {
    family(registry, name).map_or(0, |family| family.get_metric().len())
}

fn ready(status: &'static str) -> [(&'static str, &'static str); 2] {
    [("condition", "Ready"), ("status", status)]
}

#[test]
fn names_list_every_registered_family_exactly() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    for kind in ResourceKind::ALL {
        metrics.reconciled(kind, "ns", "a", Duration::from_millis(1), Outcome::Failed);
    }
    let _worker = metrics.reconcile_started(ResourceKind::ExternalSecret);
    metrics.max_concurrent_reconciles(ResourceKind::ExternalSecret, 4);
    let _queued = metrics.queued(ResourceKind::ExternalSecret);
    metrics.actor_started("store");
    metrics.refresh_lag(ResourceKind::ExternalSecret, 0.5);
    metrics.change_to_synced(ResourceKind::ExternalSecret, Duration::from_millis(20));
    metrics.k8s_write("Secret", WriteVerb::Create);
    metrics.k8s_write_skipped("Secret");
    metrics.token_acquired(StoreKind::SecretStore, "ns", "store", true);
    metrics.token_backoff_rejected(StoreKind::SecretStore, "ns", "store");
    metrics.vault_budget("demo-vault", "read", 400.0);
    let gathered: BTreeSet<String> = registry
        .gather()
        .iter()
        .map(|family| family.name().to_owned())
        .collect();
    let listed: BTreeSet<String> = ControllerMetrics::NAMES
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    assert_eq!(gathered, listed);
}

#[test]
fn es_synced_counts_a_sync_and_sets_ready_one_and_not_ready_zero() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.es_synced("team-a", "db", Duration::from_millis(3), true);
    metrics.es_synced("team-a", "db", Duration::from_millis(7), true);
    let es = [("name", "db"), ("namespace", "team-a")];
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_total", &es),
        Some(2.0)
    );
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_error", &es),
        None
    );
    let condition = |status| {
        let [condition, status] = ready(status);
        value(
            &registry,
            "externalsecret_status_condition",
            &[es[0], es[1], condition, status],
        )
    };
    assert_eq!(condition("True"), Some(1.0));
    assert_eq!(condition("False"), Some(0.0));
    // ESO's reconcile duration is a gauge of the last reconcile, in nanoseconds.
    assert_eq!(
        value(&registry, "externalsecret_reconcile_duration", &es),
        Some(7_000_000.0)
    );
    assert_eq!(
        value(
            &registry,
            "controller_runtime_reconcile_total",
            &[("controller", "externalsecret"), ("result", "success")]
        ),
        Some(2.0)
    );
    let (count, sum) = histogram(
        &registry,
        "controller_runtime_reconcile_time_seconds",
        &[("controller", "externalsecret")],
    );
    assert_eq!(count, 2);
    assert!((sum - 0.010).abs() < 1e-9, "{sum}");
}

#[test]
fn es_sync_error_counts_an_error_and_flips_ready_to_false() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.es_synced("team-a", "db", Duration::from_millis(1), true);
    metrics.es_sync_error("team-a", "db", Duration::from_millis(2));
    let es = [("name", "db"), ("namespace", "team-a")];
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_total", &es),
        Some(2.0)
    );
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_error", &es),
        Some(1.0)
    );
    let [condition, status] = ready("False");
    assert_eq!(
        value(
            &registry,
            "externalsecret_status_condition",
            &[es[0], es[1], condition, status]
        ),
        Some(1.0)
    );
    let [condition, status] = ready("True");
    assert_eq!(
        value(
            &registry,
            "externalsecret_status_condition",
            &[es[0], es[1], condition, status]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &registry,
            "controller_runtime_reconcile_errors_total",
            &[("controller", "externalsecret")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &registry,
            "controller_runtime_reconcile_total",
            &[("controller", "externalsecret"), ("result", "error")]
        ),
        Some(1.0)
    );
}

#[test]
fn es_deleted_removes_only_that_resources_series() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.es_synced("team-a", "db", Duration::from_millis(1), true);
    metrics.es_sync_error("team-a", "cache", Duration::from_millis(1));
    metrics.es_deleted("team-a", "db");
    for name in [
        "externalsecret_status_condition",
        "externalsecret_reconcile_duration",
        "externalsecret_sync_calls_total",
    ] {
        assert_eq!(
            value(&registry, name, &[("name", "db")]),
            None,
            "{name} still has db"
        );
        assert!(
            value(&registry, name, &[("name", "cache"), ("status", "False")]).is_some()
                || value(&registry, name, &[("name", "cache")]).is_some(),
            "{name} lost cache"
        );
    }
    assert_eq!(
        series_count(&registry, "externalsecret_status_condition"),
        2
    );
}

#[test]
fn per_namespace_granularity_has_one_series_per_namespace_and_counts_conditions() {
    let (registry, metrics) = registered(MetricsGranularity::PerNamespace);
    for index in 0..100 {
        metrics.es_synced("team-a", &format!("es-{index}"), Duration::ZERO, true);
    }
    metrics.es_sync_error("team-a", "es-7", Duration::ZERO);
    metrics.es_sync_error("team-a", "es-7", Duration::ZERO);
    metrics.es_synced("team-b", "es-0", Duration::ZERO, false);
    let in_a = [("name", ""), ("namespace", "team-a")];
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_total", &in_a),
        Some(102.0)
    );
    assert_eq!(
        value(&registry, "externalsecret_sync_calls_error", &in_a),
        Some(2.0)
    );
    let condition = |namespace, status| {
        let [condition, status] = ready(status);
        value(
            &registry,
            "externalsecret_status_condition",
            &[("namespace", namespace), condition, status],
        )
    };
    assert_eq!(condition("team-a", "True"), Some(99.0));
    assert_eq!(condition("team-a", "False"), Some(1.0));
    assert_eq!(condition("team-b", "True"), Some(0.0));
    assert_eq!(condition("team-b", "False"), Some(1.0));
    assert_eq!(
        series_count(&registry, "externalsecret_status_condition"),
        4
    );
    assert_eq!(
        series_count(&registry, "externalsecret_sync_calls_total"),
        2
    );

    metrics.es_deleted("team-a", "es-7");
    metrics.es_deleted("team-a", "es-8");
    metrics.es_deleted("team-a", "never-seen");
    assert_eq!(condition("team-a", "True"), Some(98.0));
    assert_eq!(condition("team-a", "False"), Some(0.0));
}

#[test]
fn store_conditions_use_their_own_families_and_cluster_stores_have_no_namespace() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.store_reconciled(
        StoreKind::ClusterSecretStore,
        "",
        "shared",
        Duration::from_micros(5),
        false,
    );
    metrics.store_condition(StoreKind::SecretStore, "team-a", "local", true);
    let [condition, status] = ready("False");
    assert_eq!(
        value(
            &registry,
            "clustersecretstore_status_condition",
            &[("name", "shared"), ("namespace", ""), condition, status]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &registry,
            "clustersecretstore_reconcile_duration",
            &[("name", "shared")]
        ),
        Some(5_000.0)
    );
    let [condition, status] = ready("True");
    assert_eq!(
        value(
            &registry,
            "secretstore_status_condition",
            &[
                ("name", "local"),
                ("namespace", "team-a"),
                condition,
                status
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &registry,
            "controller_runtime_reconcile_errors_total",
            &[("controller", "clustersecretstore")]
        ),
        Some(1.0)
    );
    assert_eq!(
        series_count(&registry, "externalsecret_status_condition"),
        0
    );
    metrics.store_deleted(StoreKind::SecretStore, "team-a", "local");
    assert_eq!(series_count(&registry, "secretstore_status_condition"), 0);
}

#[test]
fn push_secrets_report_pushsecret_families() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.push_reconciled("team-a", "up", Duration::from_nanos(42), Outcome::NotReady);
    assert_eq!(
        value(
            &registry,
            "pushsecret_reconcile_duration",
            &[("name", "up")]
        ),
        Some(42.0)
    );
    let [condition, status] = ready("False");
    assert_eq!(
        value(
            &registry,
            "pushsecret_status_condition",
            &[("name", "up"), condition, status]
        ),
        Some(1.0)
    );
    metrics.push_deleted("team-a", "up");
    assert_eq!(series_count(&registry, "pushsecret_status_condition"), 0);
}

#[test]
fn active_workers_follow_the_guards() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    let workers = || {
        value(
            &registry,
            "controller_runtime_active_workers",
            &[("controller", "pushsecret")],
        )
    };
    let first = metrics.reconcile_started(ResourceKind::PushSecret);
    let second = metrics.reconcile_started(ResourceKind::PushSecret);
    assert_eq!(workers(), Some(2.0));
    drop(first);
    assert_eq!(workers(), Some(1.0));
    drop(second);
    assert_eq!(workers(), Some(0.0));
}

#[test]
fn actor_mailbox_and_write_metrics_have_the_given_values() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.actor_started("store");
    metrics.actor_started("store");
    metrics.actor_started("externalsecret");
    metrics.actor_stopped("store");
    assert_eq!(
        value(&registry, "akvsync_actors_alive", &[("kind", "store")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &registry,
            "akvsync_actors_alive",
            &[("kind", "externalsecret")]
        ),
        Some(1.0)
    );
    let depth = || value(&registry, "workqueue_depth", &[("name", "externalsecret")]);
    let first = metrics.queued(ResourceKind::ExternalSecret);
    let second = metrics.queued(ResourceKind::ExternalSecret);
    assert_eq!(depth(), Some(2.0));
    drop(first);
    drop(second);
    assert_eq!(depth(), Some(0.0));
    metrics.max_concurrent_reconciles(ResourceKind::SecretStore, 8);
    assert_eq!(
        value(
            &registry,
            "controller_runtime_max_concurrent_reconciles",
            &[("controller", "secretstore")]
        ),
        Some(8.0)
    );
    metrics.k8s_write("Secret", WriteVerb::Create);
    metrics.k8s_write("Secret", WriteVerb::Update);
    metrics.k8s_write("Secret", WriteVerb::Update);
    metrics.k8s_write_skipped("Secret");
    assert_eq!(
        value(
            &registry,
            "akvsync_kubernetes_writes_total",
            &[("kind", "Secret"), ("verb", "update")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &registry,
            "akvsync_kubernetes_writes_skipped_total",
            &[("kind", "Secret")]
        ),
        Some(1.0)
    );
    metrics.vault_budget("demo-vault", "read", 400.0);
    assert_eq!(
        value(
            &registry,
            "akvsync_keyvault_budget_requests_per_second",
            &[("vault", "demo-vault"), ("class", "read")]
        ),
        Some(400.0)
    );
}

#[test]
fn refresh_lag_clamps_early_starts_to_zero_and_change_to_synced_is_in_seconds() {
    let (registry, metrics) = registered(MetricsGranularity::PerResource);
    metrics.refresh_lag(ResourceKind::ExternalSecret, 2.5);
    metrics.refresh_lag(ResourceKind::ExternalSecret, -1.0);
    assert_eq!(
        histogram(
            &registry,
            "akvsync_refresh_lag_seconds",
            &[("kind", "externalsecret")]
        ),
        (2, 2.5)
    );
    metrics.change_to_synced(ResourceKind::ExternalSecret, Duration::from_millis(1500));
    assert_eq!(
        histogram(
            &registry,
            "akvsync_change_to_synced_seconds",
            &[("kind", "externalsecret")]
        ),
        (1, 1.5)
    );
}

#[test]
fn registering_twice_on_one_registry_fails_instead_of_double_counting() {
    let registry = Registry::new();
    ControllerMetrics::register(&registry, MetricsGranularity::PerResource).expect("first");
    assert!(ControllerMetrics::register(&registry, MetricsGranularity::PerResource).is_err());
}
