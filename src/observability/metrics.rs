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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Label of the resource name (ESO's spelling).
pub const LABEL_NAME: &str = "name";
/// Label of the resource namespace; `""` for cluster-scoped resources.
pub const LABEL_NAMESPACE: &str = "namespace";
/// Label of the condition type in `*_status_condition`.
pub const LABEL_CONDITION: &str = "condition";
/// Label of the condition status (`True` / `False`) in `*_status_condition`.
pub const LABEL_STATUS: &str = "status";
/// The only condition type akvsync reports, as ESO does.
pub const CONDITION_READY: &str = "Ready";
/// Condition status values.
pub const STATUS_TRUE: &str = "True";
pub const STATUS_FALSE: &str = "False";

/// Buckets of `controller_runtime_reconcile_time_seconds` (controller-runtime's defaults, trimmed).
const RECONCILE_TIME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of the refresh lag: a healthy operator is well under a second late; minutes of lag
/// mean the vault's budget or the mailboxes cannot keep up.
const REFRESH_LAG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// Buckets of the time from an ExternalSecret change to its Secret being synced.
const CHANGE_TO_SYNCED_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Whether per-resource metrics carry the resource name (ESO) or aggregate per namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsGranularity {
    /// `name` and `namespace` labels, as ESO: one series per resource.
    #[default]
    PerResource,
    /// `name` is always `""`: one series per namespace, bounded by the number of namespaces.
    PerNamespace,
}

/// The kinds of resources akvsync reconciles; each maps to ESO's metric prefix and
/// controller-runtime `controller` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    ExternalSecret,
    ClusterExternalSecret,
    SecretStore,
    ClusterSecretStore,
    PushSecret,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 5] = [
        ResourceKind::ExternalSecret,
        ResourceKind::ClusterExternalSecret,
        ResourceKind::SecretStore,
        ResourceKind::ClusterSecretStore,
        ResourceKind::PushSecret,
    ];

    /// ESO's metric prefix and controller-runtime `controller` label value.
    pub fn controller(self) -> &'static str {
        match self {
            ResourceKind::ExternalSecret => "externalsecret",
            ResourceKind::ClusterExternalSecret => "clusterexternalsecret",
            ResourceKind::SecretStore => "secretstore",
            ResourceKind::ClusterSecretStore => "clustersecretstore",
            ResourceKind::PushSecret => "pushsecret",
        }
    }

    /// The resource kind of a Kubernetes kind name (`"ExternalSecret"`, …).
    pub fn from_kind(kind: &str) -> Option<ResourceKind> {
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.controller().eq_ignore_ascii_case(kind))
    }

    fn index(self) -> usize {
        match self {
            ResourceKind::ExternalSecret => 0,
            ResourceKind::ClusterExternalSecret => 1,
            ResourceKind::SecretStore => 2,
            ResourceKind::ClusterSecretStore => 3,
            ResourceKind::PushSecret => 4,
        }
    }
}

/// Which kind of store a store-level call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    SecretStore,
    ClusterSecretStore,
}

impl From<StoreKind> for ResourceKind {
    fn from(kind: StoreKind) -> Self {
        match kind {
            StoreKind::SecretStore => ResourceKind::SecretStore,
            StoreKind::ClusterSecretStore => ResourceKind::ClusterSecretStore,
        }
    }
}

impl From<akvsync_crds::StoreKind> for ResourceKind {
    fn from(kind: akvsync_crds::StoreKind) -> Self {
        match kind {
            akvsync_crds::StoreKind::SecretStore => ResourceKind::SecretStore,
            akvsync_crds::StoreKind::ClusterSecretStore => ResourceKind::ClusterSecretStore,
        }
    }
}

/// How one reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reconciled, and the resource is Ready.
    Ready,
    /// Reconciled without error, but the resource is not Ready (e.g. waiting for its store).
    NotReady,
    /// The reconcile failed: counted as an error, and the resource is not Ready.
    Failed,
}

/// controller-runtime's `result` label values.
const RESULT_SUCCESS: &str = "success";
const RESULT_ERROR: &str = "error";

/// The verb of a Kubernetes write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteVerb {
    Create,
    Update,
    Patch,
    Delete,
}

impl WriteVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteVerb::Create => "create",
            WriteVerb::Update => "update",
            WriteVerb::Patch => "patch",
            WriteVerb::Delete => "delete",
        }
    }
}

/// ESO's per-kind families: the condition gauge and the reconcile duration gauge.
struct KindFamilies {
    condition: GaugeVec,
    duration: GaugeVec,
}

/// The controller's metrics. Cheap to share behind an `Arc`; every method is `&self`.
pub struct ControllerMetrics {
    granularity: MetricsGranularity,
    kinds: Vec<KindFamilies>,
    sync_calls: IntCounterVec,
    sync_errors: IntCounterVec,
    reconcile_total: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_time: HistogramVec,
    active_workers: IntGaugeVec,
    max_concurrent: IntGaugeVec,
    workqueue_depth: IntGaugeVec,
    actors_alive: IntGaugeVec,
    refresh_lag: HistogramVec,
    change_to_synced: HistogramVec,
    kubernetes_writes: IntCounterVec,
    kubernetes_writes_skipped: IntCounterVec,
    token_acquisitions: IntCounterVec,
    token_backoff_rejections: IntCounterVec,
    vault_budget: GaugeVec,
    /// Last readiness of each resource, kept only in [`MetricsGranularity::PerNamespace`] mode,
    /// where the condition gauges are counts that must move exactly once per transition.
    readiness: Mutex<HashMap<(ResourceKind, String, String), bool>>,
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
        let metrics = Self::new(granularity)?;
        for family in &metrics.kinds {
            registry.register(Box::new(family.condition.clone()))?;
            registry.register(Box::new(family.duration.clone()))?;
        }
        registry.register(Box::new(metrics.sync_calls.clone()))?;
        registry.register(Box::new(metrics.sync_errors.clone()))?;
        registry.register(Box::new(metrics.reconcile_total.clone()))?;
        registry.register(Box::new(metrics.reconcile_errors.clone()))?;
        registry.register(Box::new(metrics.reconcile_time.clone()))?;
        registry.register(Box::new(metrics.active_workers.clone()))?;
        registry.register(Box::new(metrics.max_concurrent.clone()))?;
        registry.register(Box::new(metrics.workqueue_depth.clone()))?;
        registry.register(Box::new(metrics.actors_alive.clone()))?;
        registry.register(Box::new(metrics.refresh_lag.clone()))?;
        registry.register(Box::new(metrics.change_to_synced.clone()))?;
        registry.register(Box::new(metrics.kubernetes_writes.clone()))?;
        registry.register(Box::new(metrics.kubernetes_writes_skipped.clone()))?;
        registry.register(Box::new(metrics.token_acquisitions.clone()))?;
        registry.register(Box::new(metrics.token_backoff_rejections.clone()))?;
        registry.register(Box::new(metrics.vault_budget.clone()))?;
        Ok(metrics)
    }

    fn new(granularity: MetricsGranularity) -> prometheus::Result<Self> {
        let resource = &[LABEL_NAME, LABEL_NAMESPACE];
        let condition = &[LABEL_NAME, LABEL_NAMESPACE, LABEL_CONDITION, LABEL_STATUS];
        let mut kinds = Vec::with_capacity(ResourceKind::ALL.len());
        for kind in ResourceKind::ALL {
            let prefix = kind.controller();
            kinds.push(KindFamilies {
                condition: GaugeVec::new(
                    Opts::new(
                        format!("{prefix}_status_condition"),
                        format!("The status condition of a specific {prefix} (1 when current; a count of resources per namespace with per-namespace granularity)"),
                    ),
                    condition,
                )?,
                duration: GaugeVec::new(
                    Opts::new(
                        format!("{prefix}_reconcile_duration"),
                        format!("The duration of the last {prefix} reconcile, in nanoseconds (ESO compatible)"),
                    ),
                    resource,
                )?,
            });
        }
        let controller = &["controller"];
        Ok(Self {
            granularity,
            kinds,
            sync_calls: IntCounterVec::new(
                Opts::new(
                    "externalsecret_sync_calls_total",
                    "Total number of ExternalSecret reconciles (ESO compatible)",
                ),
                resource,
            )?,
            sync_errors: IntCounterVec::new(
                Opts::new(
                    "externalsecret_sync_calls_error",
                    "Total number of failed ExternalSecret reconciles (ESO compatible)",
                ),
                resource,
            )?,
            reconcile_total: IntCounterVec::new(
                Opts::new(
                    "controller_runtime_reconcile_total",
                    "Total number of reconciliations per controller and result",
                ),
                &["controller", "result"],
            )?,
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "controller_runtime_reconcile_errors_total",
                    "Total number of reconciliation errors per controller",
                ),
                controller,
            )?,
            reconcile_time: HistogramVec::new(
                HistogramOpts::new(
                    "controller_runtime_reconcile_time_seconds",
                    "Length of time per reconciliation per controller",
                )
                .buckets(RECONCILE_TIME_BUCKETS.to_vec()),
                controller,
            )?,
            active_workers: IntGaugeVec::new(
                Opts::new(
                    "controller_runtime_active_workers",
                    "Number of reconciles in progress per controller (actors handling a message)",
                ),
                controller,
            )?,
            max_concurrent: IntGaugeVec::new(
                Opts::new(
                    "controller_runtime_max_concurrent_reconciles",
                    "Maximum number of concurrent reconciles per controller",
                ),
                controller,
            )?,
            workqueue_depth: IntGaugeVec::new(
                Opts::new(
                    "workqueue_depth",
                    "Current depth of a work queue: syncs waiting for their Kubernetes phase",
                ),
                &["name"],
            )?,
            actors_alive: IntGaugeVec::new(
                Opts::new("akvsync_actors_alive", "Actors currently running, by kind"),
                &["kind"],
            )?,
            refresh_lag: HistogramVec::new(
                HistogramOpts::new(
                    "akvsync_refresh_lag_seconds",
                    "How late a scheduled refresh started (actual minus scheduled time)",
                )
                .buckets(REFRESH_LAG_BUCKETS.to_vec()),
                &["kind"],
            )?,
            change_to_synced: HistogramVec::new(
                HistogramOpts::new(
                    "akvsync_change_to_synced_seconds",
                    "Time from a resource change being observed to its target being synced",
                )
                .buckets(CHANGE_TO_SYNCED_BUCKETS.to_vec()),
                &["kind"],
            )?,
            kubernetes_writes: IntCounterVec::new(
                Opts::new(
                    "akvsync_kubernetes_writes_total",
                    "Writes to the Kubernetes API by object kind and verb",
                ),
                &["kind", "verb"],
            )?,
            kubernetes_writes_skipped: IntCounterVec::new(
                Opts::new(
                    "akvsync_kubernetes_writes_skipped_total",
                    "Writes to the Kubernetes API skipped because the object was unchanged",
                ),
                &["kind"],
            )?,
            token_acquisitions: IntCounterVec::new(
                Opts::new(
                    "akvsync_token_acquisitions_total",
                    "Token requests to Entra ID (or the managed identity endpoint) per store (kind, namespace, name) and result (ok, error)",
                ),
                &["store_kind", "namespace", "store", "result"],
            )?,
            token_backoff_rejections: IntCounterVec::new(
                Opts::new(
                    "akvsync_token_backoff_rejections_total",
                    "Callers answered with a store's last token error during its backoff, without a token request",
                ),
                &["store_kind", "namespace", "store"],
            )?,
            vault_budget: GaugeVec::new(
                Opts::new(
                    "akvsync_keyvault_budget_requests_per_second",
                    "The request budget akvsync allows itself per vault and operation class",
                ),
                &["vault", "class"],
            )?,
            readiness: Mutex::new(HashMap::new()),
        })
    }

    /// The granularity chosen at registration.
    pub fn granularity(&self) -> MetricsGranularity {
        self.granularity
    }

    fn name_label<'a>(&self, name: &'a str) -> &'a str {
        match self.granularity {
            MetricsGranularity::PerResource => name,
            MetricsGranularity::PerNamespace => "",
        }
    }

    // ---- ESO resources ----------------------------------------------------------------------

    /// One reconcile of a resource ended: records ESO's duration (ns) and Ready condition,
    /// controller-runtime's reconcile count, error count and time, and for ExternalSecrets
    /// `externalsecret_sync_calls_total` (and `_error` on [`Outcome::Failed`]).
    /// Cluster-scoped resources pass `""` as namespace.
    pub fn reconciled(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
        took: Duration,
        outcome: Outcome,
    ) {
        let labels = [self.name_label(name), namespace];
        let family = &self.kinds[kind.index()];
        family
            .duration
            .with_label_values(&labels)
            .set(took.as_nanos() as f64);
        if kind == ResourceKind::ExternalSecret {
            self.sync_calls.with_label_values(&labels).inc();
            if outcome == Outcome::Failed {
                self.sync_errors.with_label_values(&labels).inc();
            }
        }
        let controller = kind.controller();
        let result = if outcome == Outcome::Failed {
            self.reconcile_errors.with_label_values(&[controller]).inc();
            RESULT_ERROR
        } else {
            RESULT_SUCCESS
        };
        self.reconcile_total
            .with_label_values(&[controller, result])
            .inc();
        self.reconcile_time
            .with_label_values(&[controller])
            .observe(took.as_secs_f64());
        self.set_condition(kind, namespace, name, outcome == Outcome::Ready);
    }

    /// Sets a resource's Ready condition without counting a reconcile.
    pub fn set_condition(&self, kind: ResourceKind, namespace: &str, name: &str, ready: bool) {
        let family = &self.kinds[kind.index()];
        let (current, opposite) = if ready {
            (STATUS_TRUE, STATUS_FALSE)
        } else {
            (STATUS_FALSE, STATUS_TRUE)
        };
        match self.granularity {
            MetricsGranularity::PerResource => {
                family
                    .condition
                    .with_label_values(&[name, namespace, CONDITION_READY, current])
                    .set(1.0);
                family
                    .condition
                    .with_label_values(&[name, namespace, CONDITION_READY, opposite])
                    .set(0.0);
            }
            MetricsGranularity::PerNamespace => {
                let previous = self
                    .lock_readiness()
                    .insert((kind, namespace.to_owned(), name.to_owned()), ready);
                if previous == Some(ready) {
                    return;
                }
                let gauge = |status: &str| {
                    family
                        .condition
                        .with_label_values(&["", namespace, CONDITION_READY, status])
                };
                gauge(current).inc();
                if previous.is_some() {
                    gauge(opposite).dec();
                } else {
                    // Make the opposite series exist (at 0) as ESO does.
                    gauge(opposite).add(0.0);
                }
            }
        }
    }

    /// A resource was deleted: its series go away (per resource), or it leaves its namespace's
    /// counts (per namespace). Counters are kept per namespace, since they are sums.
    pub fn deleted(&self, kind: ResourceKind, namespace: &str, name: &str) {
        let family = &self.kinds[kind.index()];
        match self.granularity {
            MetricsGranularity::PerResource => {
                for status in [STATUS_TRUE, STATUS_FALSE] {
                    let _ = family.condition.remove_label_values(&[
                        name,
                        namespace,
                        CONDITION_READY,
                        status,
                    ]);
                }
                let _ = family.duration.remove_label_values(&[name, namespace]);
                if matches!(
                    kind,
                    ResourceKind::SecretStore | ResourceKind::ClusterSecretStore
                ) {
                    let store_kind = kind.controller();
                    for result in ["ok", "error"] {
                        let _ = self
                            .token_acquisitions
                            .remove_label_values(&[store_kind, namespace, name, result]);
                    }
                    let _ = self
                        .token_backoff_rejections
                        .remove_label_values(&[store_kind, namespace, name]);
                }
                if kind == ResourceKind::ExternalSecret {
                    let _ = self.sync_calls.remove_label_values(&[name, namespace]);
                    let _ = self.sync_errors.remove_label_values(&[name, namespace]);
                }
            }
            MetricsGranularity::PerNamespace => {
                let previous =
                    self.lock_readiness()
                        .remove(&(kind, namespace.to_owned(), name.to_owned()));
                if let Some(ready) = previous {
                    let status = if ready { STATUS_TRUE } else { STATUS_FALSE };
                    family
                        .condition
                        .with_label_values(&["", namespace, CONDITION_READY, status])
                        .dec();
                }
            }
        }
    }

    /// Sets a store's Ready condition (ClusterSecretStores pass `""` as namespace).
    pub fn store_condition(&self, kind: StoreKind, namespace: &str, name: &str, ready: bool) {
        self.set_condition(kind.into(), namespace, name, ready);
    }

    /// A PushSecret reconcile ended.
    pub fn push_reconciled(&self, namespace: &str, name: &str, took: Duration, outcome: Outcome) {
        self.reconciled(ResourceKind::PushSecret, namespace, name, took, outcome);
    }

    // ---- controller-runtime mapping ---------------------------------------------------------

    /// Marks one reconcile of `kind` in progress until the guard drops
    /// (`controller_runtime_active_workers`).
    pub fn reconcile_started(&self, kind: ResourceKind) -> ActiveWorker {
        let gauge = self.active_workers.with_label_values(&[kind.controller()]);
        gauge.inc();
        ActiveWorker { gauge }
    }

    /// Sets `controller_runtime_max_concurrent_reconciles` for `kind`.
    pub fn max_concurrent_reconciles(&self, kind: ResourceKind, limit: usize) {
        self.max_concurrent
            .with_label_values(&[kind.controller()])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    /// One sync of `kind` waits in a bounded work queue (for its Kubernetes phase) until the
    /// guard drops: `workqueue_depth{name}` with the controller name, as controller-runtime.
    pub fn queued(&self, kind: ResourceKind) -> Queued {
        let gauge = self.workqueue_depth.with_label_values(&[kind.controller()]);
        gauge.inc();
        Queued { gauge }
    }

    // ---- akvsync --------------------------------------------------------------------------

    /// An actor of `kind` (a fixed set: `"supervisor"`, `"store"`, `"externalsecret"`, …) started.
    pub fn actor_started(&self, kind: &'static str) {
        self.actors_alive.with_label_values(&[kind]).inc();
    }

    /// An actor of `kind` stopped.
    pub fn actor_stopped(&self, kind: &'static str) {
        self.actors_alive.with_label_values(&[kind]).dec();
    }

    /// A scheduled refresh of a `kind` resource ran `seconds` after its scheduled time
    /// (negative values, i.e. early starts, count as 0).
    pub fn refresh_lag(&self, kind: ResourceKind, seconds: f64) {
        self.refresh_lag
            .with_label_values(&[kind.controller()])
            .observe(seconds.max(0.0));
    }

    /// A change of a `kind` resource (spec or source) took `took` to be synced.
    pub fn change_to_synced(&self, kind: ResourceKind, took: Duration) {
        self.change_to_synced
            .with_label_values(&[kind.controller()])
            .observe(took.as_secs_f64());
    }

    /// A write to the Kubernetes API. `kind` is a fixed object kind (`"Secret"`, `"Event"`,
    /// `"ExternalSecret/status"`, …).
    pub fn k8s_write(&self, kind: &'static str, verb: WriteVerb) {
        self.kubernetes_writes
            .with_label_values(&[kind, verb.as_str()])
            .inc();
    }

    /// A write to the Kubernetes API was skipped because the object was unchanged.
    pub fn k8s_write_skipped(&self, kind: &'static str) {
        self.kubernetes_writes_skipped
            .with_label_values(&[kind])
            .inc();
    }

    /// A store's token request succeeded (`ok`) or failed (`error`).
    pub fn token_acquired(&self, kind: StoreKind, namespace: &str, store: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.token_acquisitions
            .with_label_values(&[
                ResourceKind::from(kind).controller(),
                namespace,
                store,
                result,
            ])
            .inc();
    }

    /// A caller got a store's last token error during its backoff, without a request.
    pub fn token_backoff_rejected(&self, kind: StoreKind, namespace: &str, store: &str) {
        self.token_backoff_rejections
            .with_label_values(&[ResourceKind::from(kind).controller(), namespace, store])
            .inc();
    }

    /// The budget akvsync allows itself on `vault` for `class` (`"read"` or `"write"`), in
    /// requests per second, so dashboards can draw requests against it.
    pub fn vault_budget(&self, vault: &str, class: &'static str, per_second: f64) {
        self.vault_budget
            .with_label_values(&[vault, class])
            .set(per_second);
    }

    fn lock_readiness(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(ResourceKind, String, String), bool>> {
        // A panic while holding the lock leaves a consistent map: recover it.
        self.readiness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One reconcile in progress; decrements `controller_runtime_active_workers` when dropped.
#[must_use = "the worker counts as active until this guard drops"]
pub struct ActiveWorker {
    gauge: prometheus::IntGauge,
}

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl From<akvsync_crds::StoreKind> for StoreKind {
    fn from(kind: akvsync_crds::StoreKind) -> Self {
        match kind {
            akvsync_crds::StoreKind::SecretStore => StoreKind::SecretStore,
            akvsync_crds::StoreKind::ClusterSecretStore => StoreKind::ClusterSecretStore,
        }
    }
}

/// The credentials' token requests, as `akvsync_token_*` metrics.
impl crate::azure::TokenObserver for ControllerMetrics {
    fn token_requested(&self, owner: &crate::azure::TokenOwner, ok: bool) {
        self.token_acquired(owner.kind.into(), &owner.namespace, &owner.name, ok);
    }

    fn credential_built(&self, owner: &crate::azure::TokenOwner) {
        let kind = ResourceKind::from(StoreKind::from(owner.kind)).controller();
        for result in ["ok", "error"] {
            self.token_acquisitions.with_label_values(&[
                kind,
                &owner.namespace,
                &owner.name,
                result,
            ]);
        }
        self.token_backoff_rejections
            .with_label_values(&[kind, &owner.namespace, &owner.name]);
    }

    fn token_backoff_rejected(&self, owner: &crate::azure::TokenOwner) {
        self.token_backoff_rejected(owner.kind.into(), &owner.namespace, &owner.name);
    }
}

/// One sync waiting in a work queue; decrements `workqueue_depth` when dropped.
#[must_use = "the sync counts as queued until this guard drops"]
pub struct Queued {
    gauge: prometheus::IntGauge,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
