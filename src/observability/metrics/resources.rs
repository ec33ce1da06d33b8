//! ESO's per-resource families: each kind's Ready condition gauge and reconcile duration gauge,
//! and `externalsecret_sync_calls_{total,error}`. In per-namespace granularity the condition
//! gauges count resources, so the last readiness of each resource is remembered here.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntCounterVec, Opts};

use super::{
    CONDITION_READY, ControllerMetrics, LABEL_CONDITION, LABEL_NAME, LABEL_NAMESPACE, LABEL_STATUS,
    MetricsGranularity, Outcome, ResourceKind, STATUS_FALSE, STATUS_TRUE, StoreKind,
};

/// ESO's per-kind families: the condition gauge and the reconcile duration gauge.
struct KindFamilies {
    condition: GaugeVec,
    duration: GaugeVec,
}

/// A resource, as the readiness map keys it.
type ResourceId = (ResourceKind, String, String);

pub(super) struct ResourceFamilies {
    /// In [`ResourceKind::ALL`] order.
    kinds: Vec<KindFamilies>,
    sync_calls: IntCounterVec,
    sync_errors: IntCounterVec,
    /// Last readiness of each resource, kept only in [`MetricsGranularity::PerNamespace`] mode,
    /// where the condition gauges are counts that must move exactly once per transition.
    readiness: Mutex<HashMap<ResourceId, bool>>,
}

impl ResourceFamilies {
    pub(super) fn new() -> prometheus::Result<Self> {
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
        Ok(Self {
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
            readiness: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let mut collectors: Vec<Box<dyn Collector>> = Vec::new();
        for family in &self.kinds {
            collectors.push(Box::new(family.condition.clone()));
            collectors.push(Box::new(family.duration.clone()));
        }
        collectors.push(Box::new(self.sync_calls.clone()));
        collectors.push(Box::new(self.sync_errors.clone()));
        collectors
    }

    fn kind(&self, kind: ResourceKind) -> &KindFamilies {
        &self.kinds[kind.index()]
    }

    fn lock_readiness(&self) -> MutexGuard<'_, HashMap<ResourceId, bool>> {
        // A panic while holding the lock leaves a consistent map: recover it.
        self.readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl ControllerMetrics {
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
        let resources = &self.resources;
        resources
            .kind(kind)
            .duration
            .with_label_values(&labels)
            .set(took.as_nanos() as f64);
        if kind == ResourceKind::ExternalSecret {
            resources.sync_calls.with_label_values(&labels).inc();
            if outcome == Outcome::Failed {
                resources.sync_errors.with_label_values(&labels).inc();
            }
        }
        self.runtime
            .reconciled(kind, took, outcome == Outcome::Failed);
        self.set_condition(kind, namespace, name, outcome == Outcome::Ready);
    }

    /// Sets a resource's Ready condition without counting a reconcile.
    fn set_condition(&self, kind: ResourceKind, namespace: &str, name: &str, ready: bool) {
        let family = self.resources.kind(kind);
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
                    .resources
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
        let resources = &self.resources;
        let family = resources.kind(kind);
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
                    self.stores.forget(kind.controller(), namespace, name);
                }
                if kind == ResourceKind::ExternalSecret {
                    let _ = resources.sync_calls.remove_label_values(&[name, namespace]);
                    let _ = resources
                        .sync_errors
                        .remove_label_values(&[name, namespace]);
                }
            }
            MetricsGranularity::PerNamespace => {
                let previous = resources.lock_readiness().remove(&(
                    kind,
                    namespace.to_owned(),
                    name.to_owned(),
                ));
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
}
