//! What the run observes: ExternalSecret readiness (one watch over every ExternalSecret), the
//! Azure emulator's counters (polled once a second into a time series), the operator's
//! Prometheus histograms, and percentiles.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use akvsync_crds::ExternalSecret;
use futures::TryStreamExt as _;
use kube::runtime::watcher;
use kube::{Api, ResourceExt as _};
use serde::Deserialize;
use tokio::time::Instant;

/// What the run knows of one ExternalSecret.
#[derive(Clone, Debug)]
struct Observed {
    generation: i64,
    /// `status.syncedResourceVersion` starts with the generation it synced.
    synced_generation: Option<i64>,
    ready: bool,
}

impl Observed {
    /// Ready at its current generation.
    fn ready_now(&self) -> bool {
        self.ready && self.synced_generation == Some(self.generation)
    }
}

/// The value of label `name` in a Prometheus sample's `a="1",b="2"` label text.
pub fn label_value<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels
        .split(',')
        .find_map(|label| label.strip_prefix(name)?.strip_prefix("=\""))
        .map(|value| value.trim_end_matches('"'))
}

/// Readiness of every ExternalSecret, kept current by a watch.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Mutex<HashMap<String, Observed>>>,
}

impl Readiness {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Observed>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the watch; it ends with the returned task.
    pub fn watch(client: kube::Client) -> (Readiness, tokio::task::JoinHandle<()>) {
        let readiness = Readiness::default();
        let state = readiness.clone();
        let task = tokio::spawn(async move {
            let api: Api<ExternalSecret> = Api::all(client);
            let stream = watcher(api, watcher::Config::default());
            futures::pin_mut!(stream);
            loop {
                match stream.try_next().await {
                    Ok(Some(event)) => state.apply(event),
                    Ok(None) => break,
                    // The watcher retries by itself; a failed attempt is not the end.
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        (readiness, task)
    }

    fn apply(&self, event: watcher::Event<ExternalSecret>) {
        match event {
            watcher::Event::Apply(es) | watcher::Event::InitApply(es) => {
                let key = format!("{}/{}", es.namespace().unwrap_or_default(), es.name_any());
                let status = es.status.as_ref();
                let ready = status
                    .and_then(|status| status.conditions.as_ref())
                    .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
                    .is_some_and(|condition| condition.status == "True");
                let synced_generation = status
                    .and_then(|status| status.synced_resource_version.as_deref())
                    .and_then(|version| version.split('-').next())
                    .and_then(|generation| generation.parse().ok());
                self.lock().insert(
                    key,
                    Observed {
                        generation: es.metadata.generation.unwrap_or(0),
                        synced_generation,
                        ready,
                    },
                );
            }
            watcher::Event::Delete(es) => {
                let key = format!("{}/{}", es.namespace().unwrap_or_default(), es.name_any());
                self.lock().remove(&key);
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }

    /// How many ExternalSecrets are Ready at their current generation.
    pub fn ready_count(&self) -> usize {
        self.lock().values().filter(|o| o.ready_now()).count()
    }

    /// How many ExternalSecrets of `namespace` are Ready at their current generation.
    pub fn ready_count_in(&self, namespace: &str) -> usize {
        let prefix = format!("{namespace}/");
        self.lock()
            .iter()
            .filter(|(key, observed)| key.starts_with(&prefix) && observed.ready_now())
            .count()
    }

    /// Seconds from `started` until `key` is Ready having synced `generation`, looking every
    /// `poll`; `None` once `timeout` has passed since `started`.
    pub async fn synced_after(
        self,
        key: String,
        generation: i64,
        started: Instant,
        poll: Duration,
        timeout: Duration,
    ) -> Option<f64> {
        while started.elapsed() < timeout {
            if self.synced(&key, generation) {
                return Some(started.elapsed().as_secs_f64());
            }
            tokio::time::sleep(poll).await;
        }
        None
    }

    /// Whether `key` (namespace/name) is Ready having synced at least `generation`.
    pub fn synced(&self, key: &str, generation: i64) -> bool {
        self.lock().get(key).is_some_and(|observed| {
            observed.ready
                && observed
                    .synced_generation
                    .is_some_and(|synced| synced >= generation)
        })
    }
}

/// The Azure emulator's `/admin/stats` (the fields the bench reads).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AzureStats {
    pub requests: Vec<(AzureRequestKey, u64)>,
    pub tokens: Vec<(AzureTokenKey, u64)>,
    pub peak_per_window: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AzureRequestKey {
    pub vault: String,
    pub operation: String,
    pub status: u16,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AzureTokenKey {
    pub status: u16,
}

impl AzureStats {
    /// Successful secret reads.
    pub fn gets(&self) -> u64 {
        self.sum(|key| key.operation == "GetSecret" && key.status == 200)
    }

    /// Secret listing pages served.
    pub fn list_pages(&self) -> u64 {
        self.sum(|key| key.operation == "ListSecrets" && key.status == 200)
    }

    /// Every GetSecret call, whatever its answer.
    pub fn get_attempts(&self) -> u64 {
        self.sum(|key| key.operation == "GetSecret")
    }

    pub fn throttled(&self) -> u64 {
        self.sum(|key| key.status == 429)
    }

    pub fn per_vault(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for (key, count) in &self.requests {
            *totals.entry(key.vault.clone()).or_default() += count;
        }
        totals
    }

    /// Successful token requests.
    pub fn token_requests(&self) -> u64 {
        self.tokens
            .iter()
            .filter(|(key, _)| key.status == 200)
            .map(|(_, count)| count)
            .sum()
    }

    pub fn peak(&self) -> u64 {
        self.peak_per_window.values().copied().max().unwrap_or(0)
    }

    fn sum(&self, predicate: impl Fn(&AzureRequestKey) -> bool) -> u64 {
        self.requests
            .iter()
            .filter(|(key, _)| predicate(key))
            .map(|(_, count)| count)
            .sum()
    }
}

pub async fn azure_stats(http: &reqwest::Client, admin_url: &str) -> anyhow::Result<AzureStats> {
    Ok(http
        .get(format!("{admin_url}/stats"))
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// One sample: seconds since the series started, cumulative requests per vault.
type Sample = (f64, BTreeMap<String, u64>);

/// Requests per vault over time.
#[derive(Clone, Default)]
pub struct Series {
    inner: Arc<Mutex<Vec<Sample>>>,
}

impl Series {
    /// Polls the emulator once a second until the returned task is aborted.
    pub fn sample(
        http: reqwest::Client,
        admin_url: String,
    ) -> (Series, tokio::task::JoinHandle<()>) {
        let series = Series::default();
        let samples = series.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Ok(stats) = azure_stats(&http, &admin_url).await {
                    samples
                        .inner
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((started.elapsed().as_secs_f64(), stats.per_vault()));
                }
            }
        });
        (series, task)
    }

    /// For each sample: (t, the highest number of requests any vault got in the 10 s before t).
    /// A window runs from the last sample at least 10 s before t (so 10 to 11 s, samples being a
    /// second apart) and is scaled to 10 s; before 10 s it runs from the first sample, unscaled.
    pub fn busiest_vault_per_10s(&self) -> Vec<(f64, u64)> {
        let samples = self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut base = 0;
        let mut points = Vec::with_capacity(samples.len());
        for (time, totals) in &samples {
            while base + 1 < samples.len() && samples[base + 1].0 <= time - 10.0 {
                base += 1;
            }
            let (base_time, base_totals) = &samples[base];
            let span = time - base_time;
            let scale = if span >= 10.0 { 10.0 / span } else { 1.0 };
            let busiest = totals
                .iter()
                .map(|(vault, total)| total - base_totals.get(vault).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            points.push((*time, (busiest as f64 * scale).round() as u64));
        }
        points
    }
}

/// The Kubernetes emulator's writes per second, sampled once a second.
#[derive(Clone, Default)]
pub struct KubeThroughput {
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
}

impl KubeThroughput {
    /// Samples `stats` until the returned task is aborted.
    pub fn sample(
        stats: impl Fn() -> akvsync_emulators::kubeapi::StatsSnapshot + Send + Sync + 'static,
    ) -> (KubeThroughput, tokio::task::JoinHandle<()>) {
        let throughput = KubeThroughput::default();
        let samples = Arc::clone(&throughput.samples);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let writes = stats().writes();
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((started.elapsed().as_secs_f64(), writes));
            }
        });
        (throughput, task)
    }

    /// The most writes the emulator served in one second (between two samples, per second).
    pub fn peak_writes_per_second(&self) -> Option<f64> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples
            .windows(2)
            .map(|pair| (pair[1].1 - pair[0].1) as f64 / (pair[1].0 - pair[0].0).max(1e-3))
            .max_by(f64::total_cmp)
    }
}

/// The `q` quantile (0..=1) of `values`, nearest rank; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A Prometheus histogram read from the text format, summed over its label sets.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// (upper bound, cumulative count), ascending.
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
}

impl Histogram {
    /// Parses `name` from a `/metrics` body; `None` when the family is absent.
    pub fn parse(body: &str, name: &str) -> Option<Histogram> {
        let bucket_prefix = format!("{name}_bucket{{");
        let count_prefix = format!("{name}_count");
        let mut buckets: BTreeMap<u64, f64> = BTreeMap::new();
        let mut count = 0.0;
        let mut found = false;
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix(&bucket_prefix) {
                found = true;
                let Some((labels, value)) = rest.rsplit_once("} ") else {
                    continue;
                };
                let Some(bound) = label_value(labels, "le") else {
                    continue;
                };
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().unwrap_or(f64::NAN)
                };
                if bound.is_nan() {
                    continue;
                }
                *buckets.entry(bound.to_bits()).or_default() +=
                    value.trim().parse::<f64>().unwrap_or(0.0);
            } else if let Some(rest) = line.strip_prefix(&count_prefix) {
                found = true;
                count += rest
                    .rsplit_once(' ')
                    .and_then(|(_, value)| value.trim().parse::<f64>().ok())
                    .unwrap_or(0.0);
            }
        }
        if !found {
            return None;
        }
        let mut buckets: Vec<(f64, f64)> = buckets
            .into_iter()
            .map(|(bits, cumulative)| (f64::from_bits(bits), cumulative))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(Histogram { buckets, count })
    }

    /// The upper bound of the bucket that holds the `q` quantile (what a bucketed histogram
    /// can say: the true value is at most this); `None` without observations.
    pub fn quantile_upper_bound(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        let target = q * self.count;
        self.buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= target)
            .map(|(bound, _)| *bound)
    }
}
