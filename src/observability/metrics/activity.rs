//! akvsync's own signals of the work it does: actors alive, how late refreshes start, how long
//! a change takes to be synced, and the writes it makes (or skips) to the Kubernetes API.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use super::{ControllerMetrics, ResourceKind, WriteVerb};

/// Buckets of the refresh lag: a healthy operator is well under a second late; minutes of lag
/// mean the vault's budget or the mailboxes cannot keep up.
const REFRESH_LAG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// Buckets of the time from an ExternalSecret change to its Secret being synced.
const CHANGE_TO_SYNCED_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

pub(super) struct ActivityFamilies {
    actors_alive: IntGaugeVec,
    refresh_lag: HistogramVec,
    change_to_synced: HistogramVec,
    kubernetes_writes: IntCounterVec,
    kubernetes_writes_skipped: IntCounterVec,
}

impl ActivityFamilies {
    pub(super) fn new() -> prometheus::Result<Self> {
        Ok(Self {
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
        })
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.actors_alive.clone()),
            Box::new(self.refresh_lag.clone()),
            Box::new(self.change_to_synced.clone()),
            Box::new(self.kubernetes_writes.clone()),
            Box::new(self.kubernetes_writes_skipped.clone()),
        ]
    }
}

impl ControllerMetrics {
    /// An actor of `kind` (a fixed set: `"supervisor"`, `"store"`, `"externalsecret"`, …) started.
    pub fn actor_started(&self, kind: &'static str) {
        self.activity.actors_alive.with_label_values(&[kind]).inc();
    }

    /// An actor of `kind` stopped.
    pub fn actor_stopped(&self, kind: &'static str) {
        self.activity.actors_alive.with_label_values(&[kind]).dec();
    }

    /// A scheduled refresh of a `kind` resource ran `seconds` after its scheduled time
    /// (negative values, i.e. early starts, count as 0).
    pub fn refresh_lag(&self, kind: ResourceKind, seconds: f64) {
        self.activity
            .refresh_lag
            .with_label_values(&[kind.controller()])
            .observe(seconds.max(0.0));
    }

    /// A change of a `kind` resource (spec or source) took `took` to be synced.
    pub fn change_to_synced(&self, kind: ResourceKind, took: Duration) {
        self.activity
            .change_to_synced
            .with_label_values(&[kind.controller()])
            .observe(took.as_secs_f64());
    }

    /// A write to the Kubernetes API. `kind` is a fixed object kind (`"Secret"`, `"Event"`,
    /// `"ExternalSecret/status"`, …).
    pub fn k8s_write(&self, kind: &'static str, verb: WriteVerb) {
        self.activity
            .kubernetes_writes
            .with_label_values(&[kind, verb.as_str()])
            .inc();
    }

    /// A write to the Kubernetes API was skipped because the object was unchanged.
    pub fn k8s_write_skipped(&self, kind: &'static str) {
        self.activity
            .kubernetes_writes_skipped
            .with_label_values(&[kind])
            .inc();
    }
}
