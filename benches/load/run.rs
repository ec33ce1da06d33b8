//! One mode of the benchmark, phase by phase: fresh emulators, seed, operator, cold start, a
//! quiet refresh cycle, a cycle with new and changed ExternalSecrets, a cycle with 1% of the secrets
//! changed, a warm restart.

use std::path::Path;
use std::time::Duration;

use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator, StatsSnapshot};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde::Serialize;
use tokio::time::Instant;

use crate::changes::{ChangedCycle, measure_changed_cycle};
use crate::measure::{self, AzureStats, Histogram, KubeThroughput, Readiness, Series};
use crate::probes::run_probes;
use crate::processes::{self, Binaries, OperatorLaunch, OperatorProcess};
use crate::report;
use crate::scenario::Scenario;
use crate::seed::{create_external_secrets, seed_cluster};

/// Every Kubernetes call of the runner is bounded by this.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the runner looks at readiness while it waits.
pub(crate) const POLL: Duration = Duration::from_millis(25);
/// The runner's own Kubernetes user (cluster-admin through RBAC), so that the operator's
/// requests (it uses the `admin` user) are counted apart from the runner's.
const BENCH_USER: &str = "akvsync-bench";
/// Kubernetes verbs that write.
const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Akvsync,
    Naive,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Akvsync => "akvsync",
            Mode::Naive => "naive",
        }
    }
}

/// Kubernetes writes in a window, by kind of object.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Writes {
    pub total: u64,
    pub secrets: u64,
    pub external_secret_status: u64,
    pub events: u64,
    /// Reads (get and list) of Secrets in the same span.
    pub secret_reads: u64,
    /// Reads (get and list) of any resource in the same span.
    pub reads: u64,
}

/// Everything measured in one mode; `None` where the phase did not complete.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModeResult {
    pub mode: String,
    pub external_secrets: usize,
    pub unique_remote_secrets: usize,
    pub create_seconds: f64,
    pub cold_start_seconds: Option<f64>,
    pub ready_at_cold_start_end: usize,
    pub cold_start_kv_get_calls: u64,
    pub cold_start_k8s_writes: Writes,
    /// Successful GetSecret calls in one quiet refresh cycle after the cold start.
    pub kv_get_calls: Option<u64>,
    pub kv_get_calls_per_unique_secret: Option<f64>,
    /// Secret listing pages in the quiet cycle.
    pub kv_list_pages: Option<u64>,
    /// GETs and listing pages in the quiet cycle ÷ unique secrets.
    pub kv_requests_per_unique_secret: Option<f64>,
    pub kv_get_attempts_total: u64,
    pub k8s_writes_per_cycle: Option<Writes>,
    pub max_requests_per_10s_per_vault: u64,
    pub throttled_429: u64,
    pub token_requests: u64,
    pub kube_token_requests: u64,
    pub first_sync_p50_seconds: Option<f64>,
    pub first_sync_p99_seconds: Option<f64>,
    pub changed_sync_p50_seconds: Option<f64>,
    pub changed_sync_p99_seconds: Option<f64>,
    pub probes_timed_out: usize,
    pub refresh_lag_p99_seconds: Option<f64>,
    pub change_to_synced_p99_seconds: Option<f64>,
    pub warm_restart_k8s_writes: Option<Writes>,
    pub warm_restart_kv_get_calls: Option<u64>,
    /// (seconds after the restarted operator was ready, GETs by then).
    pub warm_restart_kv_get_calls_first_seconds: Option<(f64, u64)>,
    /// The interval after 1% of the referenced secrets changed.
    pub one_percent_changed: Option<ChangedCycle>,
    pub rss_baseline_bytes: u64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub rss_bytes_per_external_secret: Option<f64>,
    pub cpu_seconds_cold_start: f64,
    pub cpu_seconds_per_cycle: Option<f64>,
    pub cpu_seconds_total: f64,
    pub operator_http: bool,
    /// The Kubernetes emulator's own throughput: its busiest second of writes (every client's),
    /// and the upper bounds of the latency buckets holding its p99 write and read.
    pub kube_emulator_peak_writes_per_second: Option<f64>,
    pub kube_emulator_write_p99_seconds: Option<f64>,
    pub kube_emulator_read_p99_seconds: Option<f64>,
    pub notes: Vec<String>,
    /// (seconds since the emulator started, requests to the busiest vault in the 10 s before).
    #[serde(skip)]
    pub series: Vec<(f64, u64)>,
}

pub async fn run_all(
    scenario: &Scenario,
    modes: &[Mode],
    binaries: &Binaries,
    output: &Path,
) -> anyhow::Result<Vec<ModeResult>> {
    let http = http_client()?;
    let operator_http = processes::operator_accepts(binaries, "--metrics-addr")
        && processes::operator_accepts(binaries, "--health-addr");
    let mut results = Vec::new();
    for &mode in modes {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {prefix} {msg} {wide_bar} {pos}/{len}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(mode.name());
        bar.enable_steady_tick(Duration::from_millis(200));
        let mut result = ModeResult {
            mode: mode.name().to_owned(),
            external_secrets: scenario.external_secrets,
            unique_remote_secrets: scenario.referenced_secrets().len(),
            operator_http,
            ..ModeResult::default()
        };
        let run = run_mode(scenario, mode, binaries, output, &http, &mut result, &bar).await;
        bar.finish_and_clear();
        if let Err(error) = run {
            // What the earlier phases measured stays in the report.
            eprintln!("{} mode stopped: {error:#}", mode.name());
            result.notes.push(format!("stopped early: {error:#}"));
        }
        results.push(result);
        // Written after each mode, so a later mode's failure keeps this one's figures.
        report::write(scenario, &results, output)?;
    }
    Ok(results)
}

/// The runner's client for the emulators' admin endpoints and the operator's metrics and probes.
pub(crate) fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
}

/// The Kubernetes side of a mode: its emulator and the runner's client.
pub(crate) struct Cluster {
    pub(crate) emulator: KubeEmulator,
    pub(crate) client: kube::Client,
}

impl Cluster {
    /// Starts the emulator and gives the runner's user every permission.
    pub(crate) async fn start(scenario: &Scenario, directory: &Path) -> anyhow::Result<Cluster> {
        let emulator = KubeEmulator::start(KubeConfig {
            history_limit: scenario.external_secrets * 6 + 10_000,
            kubeconfig_dir: Some(directory.to_owned()),
            extra_users: vec![BENCH_USER.to_owned()],
            ..KubeConfig::default()
        })
        .await?;
        let admin = emulator.client();
        let role: ClusterRole = serde_json::from_value(serde_json::json!({
            "metadata": {"name": BENCH_USER},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        }))?;
        let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": BENCH_USER},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": BENCH_USER},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": BENCH_USER}],
        }))?;
        timed(
            "create the runner's ClusterRole",
            Api::<ClusterRole>::all(admin.clone()).create(&PostParams::default(), &role),
        )
        .await?;
        timed(
            "create the runner's ClusterRoleBinding",
            Api::<ClusterRoleBinding>::all(admin).create(&PostParams::default(), &binding),
        )
        .await?;
        let client = emulator.client_as(BENCH_USER)?;
        Ok(Cluster { emulator, client })
    }

    /// The kubeconfig of the emulator's admin user, the one the operator runs as.
    pub(crate) fn admin_kubeconfig(&self) -> anyhow::Result<std::path::PathBuf> {
        Ok(self
            .emulator
            .kubeconfig_path(self.emulator.admin_user())
            .context("the admin kubeconfig")?
            .to_owned())
    }

    /// The operator's writes (it runs as the emulator's admin user) since `before`.
    pub(crate) fn writes_since(&self, before: &StatsSnapshot) -> Writes {
        let now = self.emulator.stats();
        let operator = self.emulator.admin_user();
        let count = |verbs: &[&str], predicate: &dyn Fn(&str) -> bool| -> u64 {
            now.requests
                .iter()
                .filter(|(key, _)| {
                    key.user == operator
                        && verbs.contains(&key.verb.as_str())
                        && predicate(&key.resource)
                })
                .map(|(key, count)| count - before.requests.get(key).copied().unwrap_or(0))
                .sum()
        };
        Writes {
            total: count(WRITE_VERBS, &|_| true),
            secrets: count(WRITE_VERBS, &|resource| resource == "secrets"),
            external_secret_status: count(WRITE_VERBS, &|resource| {
                resource == "externalsecrets/status"
            }),
            events: count(WRITE_VERBS, &|resource| resource == "events"),
            secret_reads: count(&["get", "list"], &|resource| resource == "secrets"),
            reads: count(&["get", "list"], &|_| true),
        }
    }

    fn kube_token_requests(&self) -> u64 {
        self.emulator
            .stats()
            .requests_for("create", "serviceaccounts/token")
    }
}

/// Fresh emulators in `work`: the Azure emulator's binary with the scenario's vaults (its log
/// in `azure_log`), and the Kubernetes emulator with the CRDs, namespaces, credentials and
/// stores.
pub(crate) async fn start_emulators(
    scenario: &Scenario,
    binaries: &Binaries,
    work: &Path,
    azure_log: &Path,
) -> anyhow::Result<(processes::AzureProcess, Cluster)> {
    let seed_path = work.join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&scenario.azure_seed())?)?;
    let azure = processes::start_azure(binaries, &seed_path, work, azure_log).await?;
    let cluster = Cluster::start(scenario, &work.join("kube")).await?;
    seed_cluster(&cluster.client, scenario, &azure.ready.vaults).await?;
    Ok((azure, cluster))
}

#[allow(clippy::too_many_lines)]
async fn run_mode(
    scenario: &Scenario,
    mode: Mode,
    binaries: &Binaries,
    output: &Path,
    http: &reqwest::Client,
    result: &mut ModeResult,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let operator_http = result.operator_http;
    if !operator_http {
        result.notes.push(
            "akvsync run has no --metrics-addr/--health-addr: refresh lag is not measured, readiness is taken from the operator's open watches".into(),
        );
    }
    let clock_ticks = processes::clock_ticks();
    let work = tempfile::Builder::new()
        .prefix("akvsync-bench-")
        .tempdir()?;
    let logs = output.join("logs");
    std::fs::create_dir_all(&logs)?;

    bar.set_message("starting and seeding the emulators");
    let azure_log = logs.join(format!("{}-{}-azure.log", scenario.preset, mode.name()));
    let (azure, cluster) = start_emulators(scenario, binaries, work.path(), &azure_log).await?;
    let (series, sampler) = Series::sample(http.clone(), azure.ready.admin_url.clone());
    let _sampler = AbortOnDrop(sampler);
    let (kube_throughput, kube_sampler) = KubeThroughput::sample(cluster.emulator.stats_reader());
    let _kube_sampler = AbortOnDrop(kube_sampler);
    let (readiness, watch) = Readiness::watch(cluster.client.clone());
    let _watch = AbortOnDrop(watch);

    // The operator.
    bar.set_message("starting the operator");
    let kubeconfig = cluster.admin_kubeconfig()?;
    let operator_log = logs.join(format!("{}-{}-operator.log", scenario.preset, mode.name()));
    let _ = std::fs::remove_file(&operator_log);
    let launch = OperatorLaunch {
        binaries,
        log_level: processes::operator_accepts(binaries, "--log-level"),
        kubeconfig: &kubeconfig,
        azure: &azure.ready,
        naive: mode == Mode::Naive,
        metrics_granularity: scenario.metrics_granularity,
        log: &operator_log,
        extra_args: &[],
    };
    let mut operator = processes::start_operator(&launch, operator_http)?;
    wait_ready(&mut operator, http, &cluster).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = processes::usage(operator.guard.pid(), clock_ticks)?;
    result.rss_baseline_bytes = baseline.rss_bytes;

    // Cold start: create every ExternalSecret, wait until all are Ready.
    let azure_before = measure::azure_stats(http, &azure.ready.admin_url).await?;
    let kube_before = cluster.emulator.stats();
    bar.set_message("cold start: creating ExternalSecrets");
    bar.set_length(scenario.external_secrets as u64);
    bar.set_position(0);
    let started = Instant::now();
    create_external_secrets(&cluster.client, scenario, bar).await?;
    result.create_seconds = started.elapsed().as_secs_f64();
    bar.set_message("cold start: waiting for Ready");
    let deadline = started + scenario.cold_start_timeout;
    loop {
        let ready = readiness.ready_count();
        bar.set_position(ready as u64);
        if ready >= scenario.external_secrets {
            result.cold_start_seconds = Some(started.elapsed().as_secs_f64());
            break;
        }
        if Instant::now() > deadline {
            result.notes.push(format!(
                "cold start timed out after {}s with {ready} of {} Ready",
                scenario.cold_start_timeout.as_secs(),
                scenario.external_secrets
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    result.ready_at_cold_start_end = readiness.ready_count();
    let azure_cold = measure::azure_stats(http, &azure.ready.admin_url).await?;
    result.cold_start_kv_get_calls = azure_cold.gets() - azure_before.gets();
    result.cold_start_k8s_writes = cluster.writes_since(&kube_before);
    let cold_usage = processes::usage(operator.guard.pid(), clock_ticks)?;
    result.cpu_seconds_cold_start = cold_usage.cpu_seconds - baseline.cpu_seconds;

    if result.cold_start_seconds.is_some() {
        // A quiet cycle: nothing changes; every ExternalSecret refreshes once. The cold start
        // synced everything at once, so the first refresh wave comes at 0.9-1.1 intervals (the
        // jitter): the window runs from half an interval to one and a half, around that wave.
        bar.set_message("waiting half an interval before the measured cycle");
        bar.set_length((scenario.refresh / 2).as_secs());
        wait_with_bar(bar, scenario.refresh / 2).await;
        bar.set_message(format!(
            "quiet refresh cycle ({}s)",
            scenario.refresh.as_secs()
        ));
        bar.set_length(scenario.refresh.as_secs());
        let kube_before = cluster.emulator.stats();
        let azure_cold = measure::azure_stats(http, &azure.ready.admin_url).await?;
        let window_usage = processes::usage(operator.guard.pid(), clock_ticks)?;
        wait_with_bar(bar, scenario.refresh).await;
        let azure_cycle = measure::azure_stats(http, &azure.ready.admin_url).await?;
        let gets = azure_cycle.gets() - azure_cold.gets();
        let pages = azure_cycle.list_pages() - azure_cold.list_pages();
        let unique = result.unique_remote_secrets.max(1) as f64;
        result.kv_get_calls = Some(gets);
        result.kv_get_calls_per_unique_secret = Some(gets as f64 / unique);
        result.kv_list_pages = Some(pages);
        result.kv_requests_per_unique_secret = Some((gets + pages) as f64 / unique);
        result.k8s_writes_per_cycle = Some(cluster.writes_since(&kube_before));
        let cycle_usage = processes::usage(operator.guard.pid(), clock_ticks)?;
        result.rss_bytes = cycle_usage.rss_bytes;
        result.rss_bytes_per_external_secret = Some(
            cycle_usage.rss_bytes.saturating_sub(baseline.rss_bytes) as f64
                / scenario.external_secrets as f64,
        );
        result.cpu_seconds_per_cycle = Some(cycle_usage.cpu_seconds - window_usage.cpu_seconds);
        if scenario.quiet_only {
            result.cpu_seconds_total = cycle_usage.cpu_seconds;
            result.peak_rss_bytes = cycle_usage.peak_rss_bytes;
        } else {
            // A cycle with new and changed ExternalSecrets, timed from create/patch to Ready.
            bar.set_message("refresh cycle with new and changed ExternalSecrets");
            bar.set_length(2 * scenario.probes as u64);
            bar.set_position(0);
            let probes = run_probes(&cluster.client, scenario, &readiness, bar).await?;
            result.first_sync_p50_seconds = measure::quantile(&probes.created, 0.5);
            result.first_sync_p99_seconds = measure::quantile(&probes.created, 0.99);
            result.changed_sync_p50_seconds = measure::quantile(&probes.changed, 0.5);
            result.changed_sync_p99_seconds = measure::quantile(&probes.changed, 0.99);
            result.probes_timed_out = probes.timed_out;
            if let Some(ports) = operator.ports {
                let body = http
                    .get(format!("http://127.0.0.1:{}/metrics", ports.metrics))
                    .send()
                    .await?
                    .text()
                    .await?;
                result.refresh_lag_p99_seconds =
                    Histogram::parse(&body, "akvsync_refresh_lag_seconds")
                        .and_then(|h| h.quantile_upper_bound(0.99));
                result.change_to_synced_p99_seconds =
                    Histogram::parse(&body, "akvsync_change_to_synced_seconds")
                        .and_then(|h| h.quantile_upper_bound(0.99));
                if result.refresh_lag_p99_seconds.is_none() {
                    result
                        .notes
                        .push("akvsync_refresh_lag_seconds has no observations on /metrics".into());
                }
            }

            // 1% of the secrets change; the restart after it shows whether the Secrets record
            // what they were built from.
            bar.set_message("refresh cycle with 1% of the secrets changed");
            let admin = &azure.ready.admin_url;
            let changed = measure_changed_cycle(http, admin, &cluster, scenario).await?;
            result.one_percent_changed = Some(changed);

            // Warm restart: stop the operator, start it again, wait one cycle; nothing changed since.
            bar.set_message("warm restart");
            let final_usage = processes::usage(operator.guard.pid(), clock_ticks)?;
            result.cpu_seconds_total = final_usage.cpu_seconds;
            result.peak_rss_bytes = final_usage.peak_rss_bytes;
            let kube_before = cluster.emulator.stats();
            let azure_before = measure::azure_stats(http, &azure.ready.admin_url).await?;
            operator.guard.stop().await?;
            operator = processes::start_operator(&launch, operator_http)?;
            wait_ready(&mut operator, http, &cluster).await?;
            // What the restarted operator fetches at once, before any interval could have ended.
            let immediate = (scenario.refresh / 4).min(Duration::from_secs(5));
            tokio::time::sleep(immediate).await;
            let azure_immediate = measure::azure_stats(http, &azure.ready.admin_url).await?;
            result.warm_restart_kv_get_calls_first_seconds = Some((
                immediate.as_secs_f64(),
                azure_immediate.gets() - azure_before.gets(),
            ));
            // Jitter is ±10%: after 1.1 intervals every ExternalSecret has refreshed once.
            let cycle = scenario.refresh.mul_f64(1.1);
            bar.set_message(format!("warm restart: one cycle ({}s)", cycle.as_secs()));
            bar.set_length(cycle.as_secs());
            wait_with_bar(bar, cycle).await;
            result.warm_restart_k8s_writes = Some(cluster.writes_since(&kube_before));
            let azure_after = measure::azure_stats(http, &azure.ready.admin_url).await?;
            result.warm_restart_kv_get_calls = Some(azure_after.gets() - azure_before.gets());
        }
    } else {
        let usage = processes::usage(operator.guard.pid(), clock_ticks)?;
        result.cpu_seconds_total = usage.cpu_seconds;
        result.peak_rss_bytes = usage.peak_rss_bytes;
        result.rss_bytes = usage.rss_bytes;
    }

    let azure_end: AzureStats = measure::azure_stats(http, &azure.ready.admin_url).await?;
    result.kv_get_attempts_total = azure_end.get_attempts();
    result.max_requests_per_10s_per_vault = azure_end.peak();
    result.throttled_429 = azure_end.throttled();
    result.token_requests = azure_end.token_requests();
    result.kube_token_requests = cluster.kube_token_requests();
    result.series = series.busiest_vault_per_10s();
    let kube = cluster.emulator.stats();
    result.kube_emulator_peak_writes_per_second = kube_throughput.peak_writes_per_second();
    result.kube_emulator_write_p99_seconds = kube.latency.writes.quantile_upper_bound(0.99);
    result.kube_emulator_read_p99_seconds = kube.latency.reads.quantile_upper_bound(0.99);
    operator.guard.stop().await.ok();
    azure.guard.stop().await.ok();
    Ok(())
}

pub(crate) async fn wait_ready(
    operator: &mut OperatorProcess,
    http: &reqwest::Client,
    cluster: &Cluster,
) -> anyhow::Result<()> {
    let before = cluster.emulator.stats().open_watches;
    let emulator = &cluster.emulator;
    // Without a health port: the operator watches stores, ExternalSecrets and Secrets at least.
    processes::wait_operator_ready(operator, http, || {
        emulator.stats().open_watches >= before + 3
    })
    .await
}

async fn wait_with_bar(bar: &ProgressBar, length: Duration) {
    let started = Instant::now();
    bar.set_position(0);
    while started.elapsed() < length {
        bar.set_position(started.elapsed().as_secs());
        tokio::time::sleep(
            Duration::from_millis(250).min(length.saturating_sub(started.elapsed())),
        )
        .await;
    }
}

/// Aborts a background task when the run leaves its scope.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) async fn timed<T>(
    what: &str,
    future: impl Future<Output = kube::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(CALL_TIMEOUT, future)
        .await
        .with_context(|| format!("{what} timed out"))?
        .with_context(|| what.to_owned())
}
