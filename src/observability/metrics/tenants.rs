//! Per-tenant metrics of the fair queues (a vault's reads and writes, the Kubernetes phase), with
//! a bounded label set: at most [`LABELLED_TENANTS`] tenants have series of their own, chosen by
//! backlog; every other tenant counts in `tenant="other"`.
//!
//! A tenant keeps its label while it has a backlog, and for [`IDLE_BEFORE_RELABEL`] after; then
//! a tenant with a backlog may take its place. Counters stay monotonic through such changes: a
//! labelled tenant's counters count from when it got its label (what it did before stays in
//! `other`), and when it loses the label its counts move to `other`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use akvsync_actors::fair::{Backlog, Served};
use akvsync_actors::store::Tenant;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, GaugeVec, Opts, Registry};
use tokio::time::Instant;

/// Tenants with series of their own.
pub const LABELLED_TENANTS: usize = 10;
/// The `tenant` label of every other tenant.
pub const OTHER_TENANTS: &str = "other";
/// How long a labelled tenant without a backlog keeps its label.
pub const IDLE_BEFORE_RELABEL: Duration = Duration::from_secs(600);

const LABEL_TENANT: &str = "tenant";
const LABEL_QUEUE: &str = "queue";

/// One queue kind's state: what each tenant waits for now, and what each was served in all.
pub struct QueueSnapshot {
    /// `vault-read`, `vault-write` or `kubernetes`.
    pub queue: &'static str,
    pub backlog: HashMap<Tenant, Backlog>,
    pub totals: HashMap<Tenant, Served>,
}

/// Where the metrics read the queues from at each scrape.
pub type QueueSource = Arc<dyn Fn() -> Vec<QueueSnapshot> + Send + Sync>;

/// The tenant metric families, filled from a [`QueueSource`] at each scrape.
pub struct TenantMetrics {
    source: Mutex<Option<QueueSource>>,
    labels: Mutex<Labels>,
    queued: GaugeVec,
    oldest_wait: GaugeVec,
    served: CounterVec,
    waited: CounterVec,
    share_waits: CounterVec,
}

/// The tenants with series of their own: when each was last seen with a backlog, and what it
/// had been served (per queue) when it got its label.
#[derive(Default)]
struct Labels {
    members: HashMap<Tenant, Member>,
}

struct Member {
    last_busy: Instant,
    baseline: HashMap<&'static str, Served>,
}

impl TenantMetrics {
    /// Every metric family name the tenant metrics export.
    pub const NAMES: &'static [&'static str] = &[
        "akvsync_tenant_queued",
        "akvsync_tenant_oldest_wait_seconds",
        "akvsync_tenant_served_total",
        "akvsync_tenant_wait_seconds_total",
        "akvsync_tenant_share_waits_total",
    ];

    /// Creates the families and registers them on `registry`; they have series once a source
    /// is set.
    pub fn register(registry: &Registry) -> prometheus::Result<Arc<Self>> {
        let both = &[LABEL_TENANT, LABEL_QUEUE];
        let metrics = Arc::new(Self {
            source: Mutex::new(None),
            labels: Mutex::new(Labels::default()),
            queued: GaugeVec::new(
                Opts::new(
                    Self::NAMES[0],
                    "Requests waiting per tenant and queue (vault-read, vault-write, kubernetes)",
                ),
                both,
            )?,
            oldest_wait: GaugeVec::new(
                Opts::new(
                    Self::NAMES[1],
                    "How long the oldest waiting request of each tenant has waited, per queue",
                ),
                both,
            )?,
            served: CounterVec::new(
                Opts::new(
                    Self::NAMES[2],
                    "Requests served per tenant and queue (vault requests, Kubernetes phases)",
                ),
                both,
            )?,
            waited: CounterVec::new(
                Opts::new(
                    Self::NAMES[3],
                    "Seconds the served requests of each tenant waited, per queue",
                ),
                both,
            )?,
            share_waits: CounterVec::new(
                Opts::new(
                    Self::NAMES[4],
                    "Vault requests that waited because their tenant was at --tenant-max-share",
                ),
                &[LABEL_TENANT],
            )?,
        });
        registry.register(Box::new(Families(Arc::clone(&metrics))))?;
        Ok(metrics)
    }

    /// Reads the queues from `source` from now on.
    pub fn set_source(&self, source: QueueSource) {
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// Refills every family from the source.
    fn refresh(&self) {
        let source = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(source) = source else {
            return;
        };
        let snapshots = source();
        let now = Instant::now();
        let mut labels = self.labels.lock().unwrap_or_else(PoisonError::into_inner);
        labels.update(&snapshots, now);
        for family in [&self.queued, &self.oldest_wait] {
            family.reset();
        }
        for family in [&self.served, &self.waited, &self.share_waits] {
            family.reset();
        }
        let mut other_share_waits = 0.0;
        let mut share_waits: HashMap<&Tenant, f64> = HashMap::new();
        for snapshot in &snapshots {
            let queue = snapshot.queue;
            let mut other_queued = 0.0;
            let mut other_oldest: f64 = 0.0;
            for (tenant, backlog) in &snapshot.backlog {
                let oldest = backlog
                    .oldest_since
                    .map_or(0.0, |since| (now - since).as_secs_f64());
                if labels.members.contains_key(tenant) {
                    let values = [tenant.as_str(), queue];
                    self.queued
                        .with_label_values(&values)
                        .set(backlog.queued as f64);
                    self.oldest_wait.with_label_values(&values).set(oldest);
                } else {
                    other_queued += backlog.queued as f64;
                    other_oldest = other_oldest.max(oldest);
                }
            }
            for tenant in labels.members.keys() {
                if !snapshot.backlog.contains_key(tenant) {
                    let values = [tenant.as_str(), queue];
                    self.queued.with_label_values(&values).set(0.0);
                    self.oldest_wait.with_label_values(&values).set(0.0);
                }
            }
            let other = [OTHER_TENANTS, queue];
            self.queued.with_label_values(&other).set(other_queued);
            self.oldest_wait.with_label_values(&other).set(other_oldest);

            let mut other_served = 0;
            let mut other_waited = 0.0;
            // Only vault queues hold a tenant to its share: the Kubernetes phase's
            // `held_by_share` is always 0, so summing every queue counts vault waits only.
            for (tenant, served) in &snapshot.totals {
                // What counts in `other`: all of an unlabelled tenant's, and what a labelled
                // one was served before it got its label.
                let before = match labels.members.get(tenant) {
                    Some(member) => {
                        let since = member.since(queue, served);
                        let values = [tenant.as_str(), queue];
                        self.served
                            .with_label_values(&values)
                            .inc_by(since.requests as f64);
                        self.waited
                            .with_label_values(&values)
                            .inc_by(since.waited.as_secs_f64());
                        *share_waits.entry(tenant).or_default() += since.held_by_share as f64;
                        member.baseline.get(queue).cloned().unwrap_or_default()
                    }
                    None => served.clone(),
                };
                other_served += before.requests;
                other_waited += before.waited.as_secs_f64();
                other_share_waits += before.held_by_share as f64;
            }
            self.served
                .with_label_values(&other)
                .inc_by(other_served as f64);
            self.waited.with_label_values(&other).inc_by(other_waited);
        }
        for (tenant, count) in share_waits {
            self.share_waits
                .with_label_values(&[tenant.as_str()])
                .inc_by(count);
        }
        self.share_waits
            .with_label_values(&[OTHER_TENANTS])
            .inc_by(other_share_waits);
    }
}

impl Member {
    /// What the tenant was served in `queue` since it got its label.
    fn since(&self, queue: &str, served: &Served) -> Served {
        let before = self.baseline.get(queue).cloned().unwrap_or_default();
        Served {
            requests: served.requests.saturating_sub(before.requests),
            waited: served.waited.saturating_sub(before.waited),
            held_by_share: served.held_by_share.saturating_sub(before.held_by_share),
        }
    }
}

impl Labels {
    /// Keeps busy members, lets members idle for [`IDLE_BEFORE_RELABEL`] go when others with a
    /// backlog want a label, and labels the busiest tenants while there is room.
    fn update(&mut self, snapshots: &[QueueSnapshot], now: Instant) {
        let mut backlog: HashMap<&Tenant, usize> = HashMap::new();
        for snapshot in snapshots {
            for (tenant, waiting) in &snapshot.backlog {
                *backlog.entry(tenant).or_default() += waiting.queued;
            }
        }
        for (tenant, member) in &mut self.members {
            if backlog.get(tenant).is_some_and(|queued| *queued > 0) {
                member.last_busy = now;
            }
        }
        let mut candidates: Vec<(&Tenant, usize)> = backlog
            .into_iter()
            .filter(|(tenant, queued)| *queued > 0 && !self.members.contains_key(*tenant))
            .collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for (tenant, _) in candidates {
            if self.members.len() >= LABELLED_TENANTS {
                let idle = self
                    .members
                    .iter()
                    .filter(|(_, member)| now - member.last_busy >= IDLE_BEFORE_RELABEL)
                    .min_by_key(|(_, member)| member.last_busy)
                    .map(|(tenant, _)| tenant.clone());
                let Some(idle) = idle else {
                    break;
                };
                self.members.remove(&idle);
            }
            let baseline = snapshots
                .iter()
                .map(|snapshot| {
                    let served = snapshot.totals.get(tenant).cloned().unwrap_or_default();
                    (snapshot.queue, served)
                })
                .collect();
            self.members.insert(
                tenant.clone(),
                Member {
                    last_busy: now,
                    baseline,
                },
            );
        }
    }
}

/// The registry's view of [`TenantMetrics`]: refreshed at each scrape.
struct Families(Arc<TenantMetrics>);

impl Collector for Families {
    fn desc(&self) -> Vec<&Desc> {
        let metrics = &self.0;
        [
            metrics.queued.desc(),
            metrics.oldest_wait.desc(),
            metrics.served.desc(),
            metrics.waited.desc(),
            metrics.share_waits.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = &self.0;
        metrics.refresh();
        [
            metrics.queued.collect(),
            metrics.oldest_wait.collect(),
            metrics.served.collect(),
            metrics.waited.collect(),
            metrics.share_waits.collect(),
        ]
        .concat()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use prometheus::proto::MetricType;

    use super::*;

    type State = Arc<Mutex<Vec<QueueSnapshot>>>;

    fn snapshot(backlog: &[(&str, usize)], served: &[(&str, u64)]) -> QueueSnapshot {
        QueueSnapshot {
            queue: "vault-read",
            backlog: backlog
                .iter()
                .map(|(tenant, queued)| {
                    let backlog = Backlog {
                        queued: *queued,
                        oldest_since: Some(Instant::now()),
                    };
                    (Tenant::new(*tenant), backlog)
                })
                .collect(),
            totals: served
                .iter()
                .map(|(tenant, requests)| {
                    let served = Served {
                        requests: *requests,
                        ..Served::default()
                    };
                    (Tenant::new(*tenant), served)
                })
                .collect(),
        }
    }

    fn metrics() -> (Registry, State) {
        let registry = Registry::new();
        let metrics = TenantMetrics::register(&registry).unwrap();
        let state: State = Arc::default();
        let source = Arc::clone(&state);
        metrics.set_source(Arc::new(move || {
            let state = source.lock().unwrap();
            state
                .iter()
                .map(|snapshot| QueueSnapshot {
                    queue: snapshot.queue,
                    backlog: snapshot.backlog.clone(),
                    totals: snapshot.totals.clone(),
                })
                .collect()
        }));
        (registry, state)
    }

    /// `family`'s values by tenant.
    fn values(registry: &Registry, family: &str) -> BTreeMap<String, f64> {
        let families = registry.gather();
        let Some(found) = families.iter().find(|f| f.name() == family) else {
            return BTreeMap::new();
        };
        found
            .get_metric()
            .iter()
            .map(|metric| {
                let tenant = metric
                    .get_label()
                    .iter()
                    .find(|label| label.name() == LABEL_TENANT)
                    .map(|label| label.value().to_owned())
                    .unwrap();
                let value = match found.get_field_type() {
                    MetricType::COUNTER => metric.get_counter().get_value(),
                    _ => metric.get_gauge().get_value(),
                };
                (tenant, value)
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_busiest_tenants_have_series_and_the_rest_count_in_other() {
        let (registry, state) = metrics();
        let busy: Vec<(String, usize)> = (0..LABELLED_TENANTS + 3)
            .map(|index| (format!("team-{index:02}"), 100 - index))
            .collect();
        let backlog: Vec<(&str, usize)> = busy.iter().map(|(t, q)| (t.as_str(), *q)).collect();
        *state.lock().unwrap() = vec![snapshot(&backlog, &[])];
        let queued = values(&registry, "akvsync_tenant_queued");
        assert_eq!(queued.len(), LABELLED_TENANTS + 1, "{queued:?}");
        assert_eq!(queued["team-00"], 100.0);
        assert!(!queued.contains_key("team-12"));
        // team-10, 11 and 12 wait 90 + 89 + 88.
        assert_eq!(queued[OTHER_TENANTS], 267.0);
    }

    #[tokio::test(start_paused = true)]
    async fn counters_stay_monotonic_when_a_label_changes_hands() {
        let (registry, state) = metrics();
        let teams: Vec<String> = (0..LABELLED_TENANTS)
            .map(|index| format!("team-{index:02}"))
            .collect();
        let backlog: Vec<(&str, usize)> = teams.iter().map(|t| (t.as_str(), 1)).collect();
        let mut served: Vec<(&str, u64)> = teams.iter().map(|t| (t.as_str(), 5)).collect();
        served.push(("newcomer", 7));
        *state.lock().unwrap() = vec![snapshot(&backlog, &served)];
        let first = values(&registry, "akvsync_tenant_served_total");
        assert_eq!(first["team-00"], 0.0, "counted from when it got its label");
        assert_eq!(first[OTHER_TENANTS], 5.0 * teams.len() as f64 + 7.0);

        // team-00 goes quiet for longer than IDLE_BEFORE_RELABEL; the newcomer gets busy.
        tokio::time::advance(IDLE_BEFORE_RELABEL + Duration::from_secs(1)).await;
        let mut backlog = backlog[1..].to_vec();
        backlog.push(("newcomer", 3));
        let mut served: Vec<(&str, u64)> = teams.iter().map(|t| (t.as_str(), 9)).collect();
        served.push(("newcomer", 8));
        *state.lock().unwrap() = vec![snapshot(&backlog, &served)];
        let second = values(&registry, "akvsync_tenant_served_total");
        assert!(!second.contains_key("team-00"), "{second:?}");
        assert_eq!(second["newcomer"], 0.0);
        assert_eq!(second["team-01"], 4.0);
        for (tenant, value) in &first {
            if let Some(now) = second.get(tenant) {
                assert!(now >= value, "{tenant}: {value} -> {now}");
            }
        }
        // other: team-00's 9, the newcomer's 8 before its label, the others' 5 before theirs.
        assert_eq!(second[OTHER_TENANTS], 9.0 + 8.0 + 5.0 * 9.0);
        // Every request is counted once.
        let total: f64 = second.values().sum();
        assert_eq!(total, 9.0 * teams.len() as f64 + 8.0);
    }
}
