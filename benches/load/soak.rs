//! The chaos soak (`--preset soak`): a medium world run for a long time (30 minutes by default,
//! `--minutes` to change it) while both emulators take random faults and 1% of the referenced
//! vault secrets change every minute, with invariants checked all along:
//!
//! - every Secret always holds, for each of its keys, the previous or the current value of the
//!   remote secret it reads (never a blank, a wrong or a missing Secret);
//! - each change is synced within two refresh intervals after the fault of its minute heals;
//! - the operator's RSS and open file descriptors do not grow (least-squares slope per hour);
//! - the operator never panics and never exits.
//!
//! Each minute: a fault (drawn at random) for the first [`FAULT_SECONDS`], then healing; the
//! changes are made as the fault starts. Results: `load-soak.json` and `load-soak.md`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use akvsync_emulators::kubeapi::{FaultMatch, FaultResponse};
use anyhow::Context as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use rand::seq::IndexedRandom as _;
use serde::Serialize;
use tokio::time::Instant;

use crate::changes::holds;
use crate::measure::{self, Readiness, quantile};
use crate::processes::{self, Binaries, OperatorLaunch};
use crate::run::{AbortOnDrop, Cluster, start_emulators, wait_ready};
use crate::scenario::Scenario;
use crate::seed::create_external_secrets;

/// How long each minute's fault lasts.
const FAULT_SECONDS: u64 = 20;
/// Every how many referenced secrets one changes each minute.
const ONE_IN: usize = 100;
/// Changed secrets followed into a Secret each minute.
const FOLLOWED_PER_MINUTE: usize = 10;
/// How often the invariants are checked and the operator sampled.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Violations kept as examples in the report.
const EXAMPLES: usize = 10;

/// The faults drawn from, one per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Half of the vault requests answer 500.
    KeyVault500,
    /// A third of the vault connections drop without an answer.
    KeyVaultDrop,
    /// Every vault and token answer is 3 s late.
    KeyVaultLatency,
    /// Entra ID's token endpoint answers 503.
    EntraOutage,
    /// The API server answers 500 to the operator's Secret writes and 503 to its status writes.
    ApiServer5xx,
    /// The API server answers 429 (Retry-After 2 s) to the operator's requests.
    ApiServer429,
    /// Every watch is cut and the history compacted: resuming watches get 410 Gone.
    WatchCutAnd410,
    /// Every API request is 500 ms late.
    ApiServerLatency,
}

const FAULTS: [Fault; 8] = [
    Fault::KeyVault500,
    Fault::KeyVaultDrop,
    Fault::KeyVaultLatency,
    Fault::EntraOutage,
    Fault::ApiServer5xx,
    Fault::ApiServer429,
    Fault::WatchCutAnd410,
    Fault::ApiServerLatency,
];

/// A minute's fault, in seconds since the soak began.
#[derive(Clone, Debug, Serialize)]
pub struct FaultWindow {
    pub minute: usize,
    pub fault: Fault,
    pub started_seconds: f64,
    pub healed_seconds: f64,
}

/// Everything the soak measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SoakResult {
    pub minutes: u64,
    pub external_secrets: usize,
    pub unique_remote_secrets: usize,
    pub cold_start_seconds: Option<f64>,
    pub faults: Vec<FaultWindow>,
    pub fault_counts: BTreeMap<String, usize>,
    pub changes: usize,
    pub changes_followed: usize,
    pub changes_synced_in_time: usize,
    pub changes_late: usize,
    /// Seconds from a change's fault healing (or the change, if later) to its Secret's update.
    pub change_to_synced_after_heal_p50_seconds: Option<f64>,
    pub change_to_synced_after_heal_p99_seconds: Option<f64>,
    pub change_deadline_after_heal_seconds: u64,
    pub invariant_checks: usize,
    pub secrets_checked: usize,
    pub invariant_violations: usize,
    pub violation_examples: Vec<String>,
    pub missing_secrets_max: usize,
    pub rss_bytes_start: u64,
    pub rss_bytes_end: u64,
    pub rss_slope_bytes_per_hour: Option<f64>,
    pub open_fds_start: u64,
    pub open_fds_end: u64,
    pub open_fds_slope_per_hour: Option<f64>,
    pub panics: usize,
    pub operator_alive_at_end: bool,
    pub throttled_429: u64,
    pub max_requests_per_10s_per_vault: u64,
    pub notes: Vec<String>,
}

/// The value of generation `generation` of a remote secret: generation 0 is the seed's.
pub fn value_at(vault: usize, index: usize, generation: usize) -> String {
    if generation == 0 {
        return Scenario::secret_value(vault, index);
    }
    let changed = Scenario::changed_secret_value(vault, index);
    let prefix = format!("g{generation:04}-");
    format!("{prefix}{}", &changed[prefix.len()..])
}

/// What each remote secret may hold now: its current generation and when it changed.
#[derive(Default)]
struct Truth {
    generations: HashMap<(usize, usize), usize>,
}

impl Truth {
    fn generation(&self, secret: (usize, usize)) -> usize {
        self.generations.get(&secret).copied().unwrap_or(0)
    }

    /// Whether `held` is the current or the previous value of `secret`.
    fn allows(&self, secret: (usize, usize), held: &[u8]) -> bool {
        let current = self.generation(secret);
        let allowed =
            |generation: usize| value_at(secret.0, secret.1, generation).as_bytes() == held;
        allowed(current) || (current > 0 && allowed(current - 1))
    }
}

/// Checks every Secret the scenario's ExternalSecrets own against `truth`; returns how many
/// were checked and the violations found.
async fn check_secrets(
    client: &kube::Client,
    scenario: &Scenario,
    truth: &Mutex<Truth>,
) -> anyhow::Result<(usize, Vec<String>)> {
    let secrets: Api<Secret> = Api::all(client.clone());
    let list = secrets
        .list(&ListParams::default().labels("reconcile.external-secrets.io/managed=true"))
        .await
        .context("list the managed Secrets")?;
    let truth = truth.lock().unwrap_or_else(|e| e.into_inner());
    let mut violations = Vec::new();
    let mut checked = 0;
    for secret in &list.items {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let Some(index) = name
            .strip_prefix("es-")
            .and_then(|index| index.parse::<usize>().ok())
        else {
            continue;
        };
        checked += 1;
        let (_, vault) = scenario.placement(index);
        let data = secret.data.clone().unwrap_or_default();
        for (position, item) in scenario.items_of(index, 0).into_iter().enumerate() {
            let key = format!("item-{position}");
            match data.get(&key) {
                Some(held) if truth.allows((vault, item), &held.0) => {}
                Some(held) => violations.push(format!(
                    "{name}/{key}: holds {:?}, remote s-{item:05} of vault {vault} is at generation {}",
                    String::from_utf8_lossy(&held.0),
                    truth.generation((vault, item))
                )),
                None => violations.push(format!("{name}: no key {key}")),
            }
        }
    }
    Ok((checked, violations))
}

/// Least-squares slope of `samples` (seconds, value), per hour.
fn slope_per_hour(samples: &[(f64, f64)]) -> Option<f64> {
    if samples.len() < 3 {
        return None;
    }
    let count = samples.len() as f64;
    let mean_x = samples.iter().map(|(x, _)| x).sum::<f64>() / count;
    let mean_y = samples.iter().map(|(_, y)| y).sum::<f64>() / count;
    let covariance: f64 = samples
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let variance: f64 = samples.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance * 3600.0)
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count() as u64)
}

/// Starts `fault` on the emulators.
async fn inject(
    fault: Fault,
    http: &reqwest::Client,
    azure_admin: &str,
    cluster: &Cluster,
) -> anyhow::Result<()> {
    let azure = |body: serde_json::Value| async move {
        http.put(format!("{azure_admin}/faults"))
            .json(&body)
            .send()
            .await?
            .error_for_status()
            .context("set the Azure emulator's faults")
            .map(drop)
    };
    let faults = cluster.emulator.faults();
    let operator = cluster.emulator.admin_user().to_owned();
    let by_operator = |verb: Option<&str>, resource: Option<&str>| FaultMatch {
        verb: verb.map(str::to_owned),
        resource: resource.map(str::to_owned),
        user: Some(operator.clone()),
    };
    match fault {
        Fault::KeyVault500 => {
            azure(serde_json::json!({"errorRate": 0.5, "errorStatus": 500})).await?
        }
        Fault::KeyVaultDrop => azure(serde_json::json!({"dropRate": 0.33})).await?,
        Fault::KeyVaultLatency => azure(serde_json::json!({"latencyMs": 3000})).await?,
        Fault::EntraOutage => azure(serde_json::json!({"tokenOutage": 503})).await?,
        Fault::ApiServer5xx => {
            for verb in ["create", "update", "patch"] {
                faults.fail_next(
                    10_000,
                    by_operator(Some(verb), Some("secrets")),
                    FaultResponse::ServerError(500),
                );
            }
            faults.fail_next(
                10_000,
                by_operator(None, Some("externalsecrets/status")),
                FaultResponse::ServerError(503),
            );
        }
        Fault::ApiServer429 => faults.fail_next(
            100_000,
            by_operator(None, None),
            FaultResponse::TooManyRequests {
                retry_after_seconds: 2,
            },
        ),
        Fault::WatchCutAnd410 => {
            cluster.emulator.compact_history();
            faults.cut_watches();
        }
        Fault::ApiServerLatency => faults.set_latency(Duration::from_millis(500)),
    }
    Ok(())
}

/// Ends every fault on both emulators.
async fn heal(http: &reqwest::Client, azure_admin: &str, cluster: &Cluster) -> anyhow::Result<()> {
    cluster.emulator.faults().clear();
    http.put(format!("{azure_admin}/faults"))
        .json(&serde_json::json!({}))
        .send()
        .await?
        .error_for_status()
        .context("clear the Azure emulator's faults")?;
    Ok(())
}

/// Seconds from the fault's healing (`from`, or the change if later) until Secret `name` holds
/// `value` under `key`: 0 when it did while the fault ran, `None` past `deadline` after healing.
async fn follow(
    secrets: Api<Secret>,
    name: String,
    key: String,
    value: String,
    from: Arc<Mutex<Option<Instant>>>,
    changed_at: Instant,
    deadline: Duration,
) -> Option<f64> {
    loop {
        let held = holds(&secrets, &name, &key, &value).await;
        let healed = *from.lock().unwrap_or_else(|e| e.into_inner());
        let start = healed.map(|healed| healed.max(changed_at));
        match (held, start) {
            // Synced while the fault still ran.
            (true, None) => return Some(0.0),
            (true, Some(start)) => return Some(start.elapsed().as_secs_f64()),
            (_, Some(start)) if start.elapsed() > deadline => return None,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[allow(clippy::too_many_lines)]
pub async fn run_soak(
    scenario: &Scenario,
    minutes: u64,
    binaries: &Binaries,
    output: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<SoakResult> {
    let mut result = SoakResult {
        minutes,
        external_secrets: scenario.external_secrets,
        unique_remote_secrets: scenario.referenced_secrets().len(),
        change_deadline_after_heal_seconds: 2 * scenario.refresh.as_secs(),
        ..SoakResult::default()
    };
    let outcome = soak(scenario, minutes, binaries, output, http, &mut result).await;
    if let Err(error) = outcome {
        eprintln!("soak stopped: {error:#}");
        result.notes.push(format!("stopped early: {error:#}"));
    }
    write_report(scenario, &result, output)?;
    Ok(result)
}

#[allow(clippy::too_many_lines)]
async fn soak(
    scenario: &Scenario,
    minutes: u64,
    binaries: &Binaries,
    output: &Path,
    http: &reqwest::Client,
    result: &mut SoakResult,
) -> anyhow::Result<()> {
    let clock_ticks = processes::clock_ticks();
    let work = tempfile::Builder::new().prefix("akvsync-soak-").tempdir()?;
    let logs = output.join("logs");
    std::fs::create_dir_all(&logs)?;
    let (azure, cluster) = start_emulators(
        scenario,
        binaries,
        work.path(),
        &logs.join("soak-azure.log"),
    )
    .await?;
    let azure_admin = azure.ready.admin_url.clone();
    let (readiness, watch) = Readiness::watch(cluster.client.clone());
    let _watch = AbortOnDrop(watch);
    let kubeconfig = cluster.admin_kubeconfig()?;
    let operator_log = logs.join("soak-operator.log");
    let _ = std::fs::remove_file(&operator_log);
    let launch = OperatorLaunch {
        binaries,
        log_level: processes::operator_accepts(binaries, "--log-level"),
        kubeconfig: &kubeconfig,
        azure: &azure.ready,
        naive: false,
        metrics_granularity: scenario.metrics_granularity,
        log: &operator_log,
        extra_args: &[],
    };
    let mut operator = processes::start_operator(&launch, true)?;
    wait_ready(&mut operator, http, &cluster).await?;
    let pid = operator.guard.pid();

    eprintln!(
        "soak: cold start of {} ExternalSecrets",
        scenario.external_secrets
    );
    let started = Instant::now();
    let bar = indicatif::ProgressBar::hidden();
    create_external_secrets(&cluster.client, scenario, &bar).await?;
    wait_all_ready(&readiness, scenario, started).await?;
    result.cold_start_seconds = Some(started.elapsed().as_secs_f64());

    let truth = Arc::new(Mutex::new(Truth::default()));
    let referenced: Vec<(usize, usize)> = scenario.referenced_secrets().into_iter().collect();
    let readers = scenario.readers();
    let soak_started = Instant::now();
    let mut samples_rss = Vec::new();
    let mut samples_fds = Vec::new();
    let first = processes::usage(pid, clock_ticks)?;
    result.rss_bytes_start = first.rss_bytes;
    result.open_fds_start = open_fds(pid);
    let mut follows = Vec::new();
    let mut after_heal = Vec::new();
    let mut rng = rand::rng();

    for minute in 0..minutes as usize {
        let minute_started = Instant::now();
        let fault = *FAULTS.choose(&mut rng).expect("faults");
        eprintln!(
            "soak: minute {}/{minutes}: {fault:?}, {} Ready",
            minute + 1,
            readiness.ready_count()
        );
        inject(fault, http, &azure_admin, &cluster).await?;
        let healed_at = Arc::new(Mutex::new(None::<Instant>));
        // 1% of the referenced secrets change, a different 1% each minute.
        let changed: Vec<(usize, usize)> = referenced
            .iter()
            .skip(minute % ONE_IN)
            .step_by(ONE_IN)
            .copied()
            .collect();
        let follow_every = changed.len().div_ceil(FOLLOWED_PER_MINUTE).max(1);
        for (position, &(vault, index)) in changed.iter().enumerate() {
            let generation = {
                let mut truth = truth.lock().unwrap_or_else(|e| e.into_inner());
                let generation = truth.generations.entry((vault, index)).or_insert(0);
                *generation += 1;
                *generation
            };
            let value = value_at(vault, index, generation);
            let url = format!(
                "{azure_admin}/vaults/{}/secrets/{}",
                scenario.vault_name(vault),
                Scenario::secret_name(index)
            );
            let changed_at = Instant::now();
            http.put(&url)
                .json(&serde_json::json!({"value": value, "contentType": "text/plain"}))
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("setting {url}"))?;
            result.changes += 1;
            if position % follow_every == 0
                && let Some(&(reader, key)) = readers.get(&(vault, index))
            {
                let (namespace, _) = scenario.placement(reader);
                let secrets: Api<Secret> =
                    Api::namespaced(cluster.client.clone(), &scenario.namespace_name(namespace));
                follows.push(tokio::spawn(follow(
                    secrets,
                    Scenario::external_secret_name(reader),
                    format!("item-{key}"),
                    value,
                    Arc::clone(&healed_at),
                    changed_at,
                    scenario.refresh * 2,
                )));
            }
        }
        // The fault runs its course while the invariants are checked.
        let fault_ends = minute_started + Duration::from_secs(FAULT_SECONDS);
        let minute_ends = minute_started + Duration::from_secs(60);
        let mut healed = false;
        while Instant::now() < minute_ends {
            if !healed && Instant::now() >= fault_ends {
                heal(http, &azure_admin, &cluster).await?;
                *healed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                result.faults.push(FaultWindow {
                    minute,
                    fault,
                    started_seconds: (minute_started - soak_started).as_secs_f64(),
                    healed_seconds: soak_started.elapsed().as_secs_f64(),
                });
                *result.fault_counts.entry(format!("{fault:?}")).or_default() += 1;
                healed = true;
            }
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                anyhow::bail!("the operator exited during minute {}", minute + 1);
            }
            let (checked, violations) = check_secrets(&cluster.client, scenario, &truth).await?;
            result.invariant_checks += 1;
            result.secrets_checked += checked;
            result.missing_secrets_max = result
                .missing_secrets_max
                .max(scenario.external_secrets.saturating_sub(checked));
            result.invariant_violations += violations.len();
            for violation in violations {
                if result.violation_examples.len() < EXAMPLES {
                    result
                        .violation_examples
                        .push(format!("minute {}: {violation}", minute + 1));
                }
            }
            let at = soak_started.elapsed().as_secs_f64();
            let usage = processes::usage(pid, clock_ticks)?;
            samples_rss.push((at, usage.rss_bytes as f64));
            samples_fds.push((at, open_fds(pid) as f64));
            tokio::time::sleep(
                CHECK_EVERY.min(minute_ends.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }
    heal(http, &azure_admin, &cluster).await?;
    eprintln!("soak: waiting for the last changes");
    for follow in follows {
        result.changes_followed += 1;
        match follow.await.context("follow task")? {
            Some(seconds) => {
                result.changes_synced_in_time += 1;
                after_heal.push(seconds);
            }
            None => result.changes_late += 1,
        }
    }
    result.change_to_synced_after_heal_p50_seconds = quantile(&after_heal, 0.5);
    result.change_to_synced_after_heal_p99_seconds = quantile(&after_heal, 0.99);
    let end = processes::usage(pid, clock_ticks)?;
    result.rss_bytes_end = end.rss_bytes;
    result.open_fds_end = open_fds(pid);
    result.rss_slope_bytes_per_hour = slope_per_hour(&samples_rss);
    result.open_fds_slope_per_hour = slope_per_hour(&samples_fds);
    result.operator_alive_at_end = std::path::Path::new(&format!("/proc/{pid}")).exists();
    let azure_end = measure::azure_stats(http, &azure_admin).await?;
    result.throttled_429 = azure_end.throttled();
    result.max_requests_per_10s_per_vault = azure_end.peak();
    operator.guard.stop().await.ok();
    azure.guard.stop().await.ok();
    let log = std::fs::read_to_string(&operator_log).unwrap_or_default();
    result.panics = log.matches("panicked").count();
    Ok(())
}

async fn wait_all_ready(
    readiness: &Readiness,
    scenario: &Scenario,
    started: Instant,
) -> anyhow::Result<()> {
    while readiness.ready_count() < scenario.external_secrets {
        if started.elapsed() > scenario.cold_start_timeout {
            anyhow::bail!(
                "cold start timed out with {} of {} Ready",
                readiness.ready_count(),
                scenario.external_secrets
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn write_report(scenario: &Scenario, result: &SoakResult, output: &Path) -> anyhow::Result<()> {
    let mut figures = serde_json::to_value(result)?;
    figures["preset"] = "soak".into();
    figures["scenario"] = scenario.describe().into();
    figures["machine"] = crate::report::machine().into();
    figures["refresh_interval_seconds"] = scenario.refresh.as_secs().into();
    figures["fault_seconds_per_minute"] = FAULT_SECONDS.into();
    let json_path = output.join("load-soak.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("write {}", json_path.display()))?;
    let optional = |value: Option<f64>, unit: &str| {
        value.map_or_else(|| "–".to_owned(), |value| format!("{value:.1}{unit}"))
    };
    let rows = [
        (
            "soak",
            format!(
                "{} minutes, a fault in the first {FAULT_SECONDS} s of each",
                result.minutes
            ),
        ),
        ("faults", format!("{:?}", result.fault_counts)),
        (
            "remote secrets changed (1% a minute)",
            result.changes.to_string(),
        ),
        (
            "changes synced within 2 intervals after healing",
            format!(
                "{} of {} followed ({} late)",
                result.changes_synced_in_time, result.changes_followed, result.changes_late
            ),
        ),
        (
            "change → synced after healing, p50 / p99",
            format!(
                "{} / {}",
                optional(result.change_to_synced_after_heal_p50_seconds, " s"),
                optional(result.change_to_synced_after_heal_p99_seconds, " s")
            ),
        ),
        (
            "invariant checks (every Secret, every 10 s)",
            format!(
                "{} checks of {} Secrets in all",
                result.invariant_checks, result.secrets_checked
            ),
        ),
        (
            "Secrets holding a value neither previous nor current",
            result.invariant_violations.to_string(),
        ),
        (
            "Secrets missing at worst",
            result.missing_secrets_max.to_string(),
        ),
        (
            "RSS start → end, slope",
            format!(
                "{:.1} → {:.1} MiB, {}",
                result.rss_bytes_start as f64 / 1048576.0,
                result.rss_bytes_end as f64 / 1048576.0,
                optional(
                    result
                        .rss_slope_bytes_per_hour
                        .map(|slope| slope / 1048576.0),
                    " MiB/h"
                )
            ),
        ),
        (
            "open file descriptors start → end, slope",
            format!(
                "{} → {}, {}",
                result.open_fds_start,
                result.open_fds_end,
                optional(result.open_fds_slope_per_hour, "/h")
            ),
        ),
        ("panics", result.panics.to_string()),
        (
            "operator alive at the end",
            result.operator_alive_at_end.to_string(),
        ),
        ("429 from Key Vault", result.throttled_429.to_string()),
    ];
    let mut markdown = format!(
        "# Chaos soak\n\n{}; {}.\n\n| figure | value |\n|---|---|\n",
        scenario.describe(),
        crate::report::machine()
    );
    for (figure, value) in rows {
        markdown.push_str(&format!("| {figure} | {value} |\n"));
    }
    for note in &result.notes {
        markdown.push_str(&format!("\nNote: {note}\n"));
    }
    for example in &result.violation_examples {
        markdown.push_str(&format!("\nViolation: {example}\n"));
    }
    std::fs::write(output.join("load-soak.md"), markdown)?;
    Ok(())
}
