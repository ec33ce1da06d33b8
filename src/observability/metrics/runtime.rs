//! controller-runtime's families, which ESO's Grafana dashboard queries: reconcile counts,
//! errors and times per controller, active workers, the concurrency limit and work queue depth.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use super::{ControllerMetrics, ResourceKind};

/// Buckets of `controller_runtime_reconcile_time_seconds` (controller-runtime's defaults, trimmed).
const RECONCILE_TIME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// controller-runtime's `result` label values.
const RESULT_SUCCESS: &str = "success";
const RESULT_ERROR: &str = "error";

pub(super) struct RuntimeFamilies {
    reconcile_total: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_time: HistogramVec,
    active_workers: IntGaugeVec,
    max_concurrent: IntGaugeVec,
    workqueue_depth: IntGaugeVec,
}

impl RuntimeFamilies {
    pub(super) fn new() -> prometheus::Result<Self> {
        let controller = &["controller"];
        Ok(Self {
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
        })
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.reconcile_total.clone()),
            Box::new(self.reconcile_errors.clone()),
            Box::new(self.reconcile_time.clone()),
            Box::new(self.active_workers.clone()),
            Box::new(self.max_concurrent.clone()),
            Box::new(self.workqueue_depth.clone()),
        ]
    }

    /// One reconcile of `kind` ended: its count by result, its error count and its time.
    pub(super) fn reconciled(&self, kind: ResourceKind, took: Duration, failed: bool) {
        let controller = kind.controller();
        let result = if failed {
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
    }
}

impl ControllerMetrics {
    /// Marks one reconcile of `kind` in progress until the guard drops
    /// (`controller_runtime_active_workers`).
    pub fn reconcile_started(&self, kind: ResourceKind) -> ActiveWorker {
        let gauge = self
            .runtime
            .active_workers
            .with_label_values(&[kind.controller()]);
        gauge.inc();
        ActiveWorker { gauge }
    }

    /// Sets `controller_runtime_max_concurrent_reconciles` for `kind`.
    pub fn max_concurrent_reconciles(&self, kind: ResourceKind, limit: usize) {
        self.runtime
            .max_concurrent
            .with_label_values(&[kind.controller()])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    /// One sync of `kind` waits in a bounded work queue (for its Kubernetes phase) until the
    /// guard drops: `workqueue_depth{name}` with the controller name, as controller-runtime.
    pub fn queued(&self, kind: ResourceKind) -> Queued {
        let gauge = self
            .runtime
            .workqueue_depth
            .with_label_values(&[kind.controller()]);
        gauge.inc();
        Queued { gauge }
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
