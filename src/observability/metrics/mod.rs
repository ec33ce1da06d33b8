//! The controller's Prometheus metrics: ESO's names (so existing dashboards and alerts keep
//! working), the controller-runtime names ESO's Grafana dashboard queries, and akvsync's own
//! signals (actors, mailboxes, refresh lag, Kubernetes writes, tokens).
//!
//! Everything registers on a [`Registry`] passed in by the caller; nothing touches the global
//! default registry. Per-resource labels (`name`, `namespace`) follow ESO, but
//! [`MetricsGranularity::PerNamespace`] drops the name (its label value is `""`) so that 100k
//! ExternalSecrets do not mean 100k series. In that mode a `*_status_condition` gauge counts the
//! resources of the namespace in that condition instead of being 1 or 0, so
//! `sum(externalsecret_status_condition{condition="Ready",status="False"})` means the same in both
//! modes.
//!
//! ESO quirk kept on purpose: `*_reconcile_duration` is a gauge in **nanoseconds**.

mod activity;
mod kinds;
mod resources;
mod runtime;
mod stores;
mod tenants;

use prometheus::Registry;

pub use kinds::{
    CONDITION_READY, LABEL_CONDITION, LABEL_NAME, LABEL_NAMESPACE, LABEL_STATUS,
    MetricsGranularity, Outcome, ResourceKind, STATUS_FALSE, STATUS_TRUE, StoreKind, WriteVerb,
};
pub use runtime::{ActiveWorker, Queued};
pub use tenants::{
    IDLE_BEFORE_RELABEL, LABELLED_TENANTS, OTHER_TENANTS, QueueSnapshot, QueueSource, TenantMetrics,
};

use activity::ActivityFamilies;
use resources::ResourceFamilies;
use runtime::RuntimeFamilies;
use stores::StoreFamilies;

/// The controller's metrics. Cheap to share behind an `Arc`; every method is `&self`. Each
/// group of families lives in its own module, with the methods that record into it.
pub struct ControllerMetrics {
    granularity: MetricsGranularity,
    resources: ResourceFamilies,
    runtime: RuntimeFamilies,
    activity: ActivityFamilies,
    stores: StoreFamilies,
}

impl ControllerMetrics {
    /// Every metric family name [`ControllerMetrics`] registers (a unit test keeps it exact).
    pub const NAMES: &'static [&'static str] = &[
        "externalsecret_status_condition",
        "externalsecret_reconcile_duration",
        "clusterexternalsecret_status_condition",
        "clusterexternalsecret_reconcile_duration",
        "secretstore_status_condition",
        "secretstore_reconcile_duration",
        "clustersecretstore_status_condition",
        "clustersecretstore_reconcile_duration",
        "pushsecret_status_condition",
        "pushsecret_reconcile_duration",
        "clusterpushsecret_status_condition",
        "clusterpushsecret_reconcile_duration",
        "externalsecret_sync_calls_total",
        "externalsecret_sync_calls_error",
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds",
        "controller_runtime_active_workers",
        "controller_runtime_max_concurrent_reconciles",
        "workqueue_depth",
        "akvsync_actors_alive",
        "akvsync_refresh_lag_seconds",
        "akvsync_change_to_synced_seconds",
        "akvsync_kubernetes_writes_total",
        "akvsync_kubernetes_writes_skipped_total",
        "akvsync_token_acquisitions_total",
        "akvsync_token_backoff_rejections_total",
        "akvsync_keyvault_budget_requests_per_second",
    ];

    /// Creates the metrics and registers them on `registry`.
    pub fn register(
        registry: &Registry,
        granularity: MetricsGranularity,
    ) -> prometheus::Result<Self> {
        let metrics = Self {
            granularity,
            resources: ResourceFamilies::new()?,
            runtime: RuntimeFamilies::new()?,
            activity: ActivityFamilies::new()?,
            stores: StoreFamilies::new()?,
        };
        let collectors = [
            metrics.resources.collectors(),
            metrics.runtime.collectors(),
            metrics.activity.collectors(),
            metrics.stores.collectors(),
        ];
        for collector in collectors.into_iter().flatten() {
            registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// The `name` label value: the name, or `""` in per-namespace granularity.
    fn name_label<'a>(&self, name: &'a str) -> &'a str {
        match self.granularity {
            MetricsGranularity::PerResource => name,
            MetricsGranularity::PerNamespace => "",
        }
    }
}
