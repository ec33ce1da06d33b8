//! The noisy neighbour (`--preset noisy`): tenant A applies 50,000 ExternalSecrets against one
//! shared vault at once (`--external-secrets` changes the count), and while its burst is under
//! way 20 small tenants each create 10 new ExternalSecrets and change 10 existing ones. Run
//! twice on fresh emulators, with `--tenant-fairness=true` and `=false`, side by side.
//!
//! Measured per small tenant: new → synced and changed → synced (Ready at the new generation),
//! p50 and p99; A's completion (its burst's first create to its last ExternalSecret Ready); the
//! vault's requests, busiest 10 s and 429s; and per tenant the vault requests the operator
//! served (`akvsync_tenant_served_total`). Results: `load-noisy.json` and `load-noisy.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use akvsync_crds::ExternalSecret;
use anyhow::Context as _;
use futures::StreamExt as _;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use crate::measure::{self, Readiness, Series, quantile};
use crate::processes::{self, Binaries, OperatorLaunch};
use crate::run::{AbortOnDrop, start_emulators, timed, wait_ready};
use crate::scenario::Scenario;

/// Small tenants, and what each does during the burst.
const SMALL_TENANTS: usize = 20;
const NEW_PER_TENANT: usize = 10;
const CHANGED_PER_TENANT: usize = 10;
/// Remote secrets each small tenant reads: its existing, new and changed ExternalSecrets'.
const SECRETS_PER_SMALL_TENANT: usize = NEW_PER_TENANT + 2 * CHANGED_PER_TENANT;
/// The small tenants start when this fraction of A's ExternalSecrets exist, and act in rounds
/// (one new and one changed ExternalSecret each per round) this far apart.
const START_AT_FRACTION: f64 = 0.1;
const ROUND_EVERY: Duration = Duration::from_secs(2);
/// How often a probe looks at the watched readiness (its resolution).
const POLL: Duration = Duration::from_millis(20);
/// How often the run scrapes the operator's metrics.
const SCRAPE_EVERY: Duration = Duration::from_secs(2);
/// A probe gives up after this long (with fairness off a small tenant waits minutes).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1_500);

/// Tenant A's ExternalSecrets unless `--external-secrets` says otherwise.
pub const NOISY_EXTERNAL_SECRETS: usize = 50_000;

/// Tenant A's ExternalSecrets in a scenario made by [`scenario`].
pub fn noisy_count(scenario: &Scenario) -> usize {
    scenario.external_secrets - SMALL_TENANTS * (CHANGED_PER_TENANT + NEW_PER_TENANT)
}

/// A noisy-neighbour world: one vault, tenant A's namespace and the small tenants' namespaces.
pub fn scenario(noisy: usize) -> Scenario {
    Scenario {
        preset: "noisy".into(),
        external_secrets: noisy + SMALL_TENANTS * (CHANGED_PER_TENANT + NEW_PER_TENANT),
        namespaces: 1 + SMALL_TENANTS,
        stores: 1,
        unique_secrets: noisy + SMALL_TENANTS * SECRETS_PER_SMALL_TENANT,
        items: 1,
        hot_secrets: 0,
        nominal_refresh: Duration::from_secs(3600),
        // Nothing refreshes during the run: every request is a new or changed resource's.
        refresh: Duration::from_secs(3600),
        probes: SMALL_TENANTS * (NEW_PER_TENANT + CHANGED_PER_TENANT),
        create_concurrency: 64,
        cold_start_timeout: Duration::from_secs(1_800),
        metrics_granularity: "per-namespace",
        quiet_only: false,
    }
}

/// One run's figures (fairness on or off).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NoisyRun {
    pub tenant_fairness: bool,
    pub small_tenants_new_sync_p50_seconds: Option<f64>,
    pub small_tenants_new_sync_p99_seconds: Option<f64>,
    pub small_tenants_changed_sync_p50_seconds: Option<f64>,
    pub small_tenants_changed_sync_p99_seconds: Option<f64>,
    pub small_tenant_probes_timed_out: usize,
    pub noisy_tenant_external_secrets: usize,
    pub noisy_tenant_completion_seconds: Option<f64>,
    pub vault_requests: u64,
    pub throttled_429: u64,
    pub max_requests_per_10s_per_vault: u64,
    pub tenants: Vec<TenantFigures>,
    pub notes: Vec<String>,
}

/// One tenant's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TenantFigures {
    pub tenant: String,
    pub new_sync_p50_seconds: Option<f64>,
    pub new_sync_p99_seconds: Option<f64>,
    pub changed_sync_p50_seconds: Option<f64>,
    pub changed_sync_p99_seconds: Option<f64>,
    /// Vault requests served for the tenant (`akvsync_tenant_served_total`, reads and writes).
    pub vault_requests: Option<f64>,
}

fn tenant_namespace(scenario: &Scenario, tenant: usize) -> String {
    scenario.namespace_name(tenant)
}

/// Remote secret of small tenant `tenant` (1-based): `set` 0 existing, 1 new, 2 changed.
fn small_secret(noisy: usize, tenant: usize, set: usize, index: usize) -> usize {
    noisy + (tenant - 1) * SECRETS_PER_SMALL_TENANT + set * NEW_PER_TENANT + index
}

fn external_secret(
    scenario: &Scenario,
    namespace: &str,
    name: &str,
    secret: usize,
) -> ExternalSecret {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": format!("{}s", scenario.refresh.as_secs()),
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": scenario.store_name(0)},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [{"secretKey": "value", "remoteRef": {"key": Scenario::secret_name(secret)}}],
        },
    }))
    .expect("a valid ExternalSecret")
}

async fn create(client: &kube::Client, es: &ExternalSecret) -> anyhow::Result<i64> {
    let api: Api<ExternalSecret> = Api::namespaced(
        client.clone(),
        es.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let created = timed(
        "create ExternalSecret",
        api.create(&PostParams::default(), es),
    )
    .await?;
    Ok(created.metadata.generation.unwrap_or(1))
}

/// Points an existing ExternalSecret at another remote secret; returns its new generation.
async fn change(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    secret: usize,
) -> anyhow::Result<i64> {
    let api: Api<ExternalSecret> = Api::namespaced(client.clone(), namespace);
    let patch = json!({"spec": {"data": [
        {"secretKey": "value", "remoteRef": {"key": Scenario::secret_name(secret)}}
    ]}});
    let changed = timed(
        "change ExternalSecret",
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)),
    )
    .await?;
    Ok(changed.metadata.generation.unwrap_or(0))
}

/// What one probe measured: tenant, new (or changed), seconds.
type Probe = (usize, bool, Option<f64>);

pub async fn run_noisy(
    scenario: &Scenario,
    noisy: usize,
    binaries: &Binaries,
    output: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<NoisyRun>> {
    let mut runs = Vec::new();
    for fairness in [true, false] {
        eprintln!("noisy: tenant fairness {fairness}");
        let mut run = NoisyRun {
            tenant_fairness: fairness,
            noisy_tenant_external_secrets: noisy,
            ..NoisyRun::default()
        };
        if let Err(error) = run_once(scenario, noisy, binaries, output, http, &mut run).await {
            eprintln!("noisy run stopped: {error:#}");
            run.notes.push(format!("stopped early: {error:#}"));
        }
        runs.push(run);
        write_report(scenario, &runs, output)?;
    }
    Ok(runs)
}

#[allow(clippy::too_many_lines)]
async fn run_once(
    scenario: &Scenario,
    noisy: usize,
    binaries: &Binaries,
    output: &Path,
    http: &reqwest::Client,
    run: &mut NoisyRun,
) -> anyhow::Result<()> {
    let label = if run.tenant_fairness {
        "fair"
    } else {
        "first-come"
    };
    let work = tempfile::Builder::new()
        .prefix("akvsync-noisy-")
        .tempdir()?;
    let logs = output.join("logs");
    std::fs::create_dir_all(&logs)?;
    let (azure, cluster) = start_emulators(
        scenario,
        binaries,
        work.path(),
        &logs.join(format!("noisy-{label}-azure.log")),
    )
    .await?;
    let azure_admin = azure.ready.admin_url.clone();
    let (readiness, watch) = Readiness::watch(cluster.client.clone());
    let _watch = AbortOnDrop(watch);
    let kubeconfig = cluster.admin_kubeconfig()?;
    let operator_log = logs.join(format!("noisy-{label}-operator.log"));
    let _ = std::fs::remove_file(&operator_log);
    let extra_args = [format!("--tenant-fairness={}", run.tenant_fairness)];
    let launch = OperatorLaunch {
        binaries,
        log_level: processes::operator_accepts(binaries, "--log-level"),
        kubeconfig: &kubeconfig,
        azure: &azure.ready,
        naive: false,
        metrics_granularity: scenario.metrics_granularity,
        log: &operator_log,
        extra_args: &extra_args,
    };
    let mut operator = processes::start_operator(&launch, true)?;
    wait_ready(&mut operator, http, &cluster).await?;

    // The small tenants' existing ExternalSecrets, synced before the burst.
    let client = &cluster.client;
    for tenant in 1..=SMALL_TENANTS {
        let namespace = tenant_namespace(scenario, tenant);
        for index in 0..CHANGED_PER_TENANT {
            let secret = small_secret(noisy, tenant, 0, index);
            let es = external_secret(scenario, &namespace, &format!("existing-{index}"), secret);
            create(client, &es).await?;
        }
    }
    let existing = SMALL_TENANTS * CHANGED_PER_TENANT;
    let waiting = Instant::now();
    while readiness.ready_count() < existing {
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(120),
            "the small tenants' ExternalSecrets did not sync: {} of {existing} Ready",
            readiness.ready_count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let azure_before = measure::azure_stats(http, &azure_admin).await?;
    let (series, sampler) = Series::sample(http.clone(), azure_admin.clone());
    let _sampler = AbortOnDrop(sampler);
    // Scraped as Prometheus would: the tenant metrics pick their labelled tenants at scrapes.
    let _scraper = operator.ports.map(|ports| {
        let http = http.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                let _ = tenant_requests(&http, ports.metrics).await;
                tokio::time::sleep(SCRAPE_EVERY).await;
            }
        }))
    });

    // Tenant A's burst.
    let noisy_namespace = tenant_namespace(scenario, 0);
    let burst_started = Instant::now();
    let created = Arc::new(AtomicUsize::new(0));
    let burst = {
        let (client, created) = (client.clone(), Arc::clone(&created));
        let scenario = scenario.clone();
        let namespace = noisy_namespace.clone();
        tokio::spawn(async move {
            let mut stream = futures::stream::iter(0..noisy)
                .map(|index| {
                    let es =
                        external_secret(&scenario, &namespace, &format!("noisy-{index:06}"), index);
                    let client = client.clone();
                    async move { create(&client, &es).await }
                })
                .buffer_unordered(scenario.create_concurrency);
            while let Some(outcome) = stream.next().await {
                outcome?;
                created.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        })
    };
    let start_at = ((noisy as f64 * START_AT_FRACTION) as usize).max(1);
    while created.load(Ordering::Relaxed) < start_at {
        anyhow::ensure!(!burst.is_finished(), "tenant A's burst ended early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "noisy: {} of A's ExternalSecrets created after {:.1} s; the small tenants start",
        created.load(Ordering::Relaxed),
        burst_started.elapsed().as_secs_f64()
    );

    // The small tenants: one new and one changed ExternalSecret each per round.
    let mut probes = Vec::new();
    for round in 0..NEW_PER_TENANT.max(CHANGED_PER_TENANT) {
        for tenant in 1..=SMALL_TENANTS {
            let namespace = tenant_namespace(scenario, tenant);
            if round < NEW_PER_TENANT {
                let name = format!("new-{round}");
                let secret = small_secret(noisy, tenant, 1, round);
                let es = external_secret(scenario, &namespace, &name, secret);
                let started = Instant::now();
                let generation = create(client, &es).await?;
                let readiness = readiness.clone();
                let key = format!("{namespace}/{name}");
                probes.push(tokio::spawn(async move {
                    let seconds = readiness
                        .synced_after(key, generation, started, POLL, PROBE_TIMEOUT)
                        .await;
                    (tenant, true, seconds)
                }));
            }
            if round < CHANGED_PER_TENANT {
                let name = format!("existing-{round}");
                let secret = small_secret(noisy, tenant, 2, round);
                let started = Instant::now();
                let generation = change(client, &namespace, &name, secret).await?;
                let readiness = readiness.clone();
                let key = format!("{namespace}/{name}");
                probes.push(tokio::spawn(async move {
                    let seconds = readiness
                        .synced_after(key, generation, started, POLL, PROBE_TIMEOUT)
                        .await;
                    (tenant, false, seconds)
                }));
            }
        }
        tokio::time::sleep(ROUND_EVERY).await;
    }
    burst.await.context("tenant A's burst")??;
    eprintln!(
        "noisy: A's {noisy} ExternalSecrets created after {:.1} s",
        burst_started.elapsed().as_secs_f64()
    );
    let mut measured: Vec<Probe> = Vec::new();
    for probe in probes {
        measured.push(probe.await.context("a probe")?);
    }
    while readiness.ready_count_in(&noisy_namespace) < noisy {
        anyhow::ensure!(
            burst_started.elapsed() < scenario.cold_start_timeout,
            "tenant A did not complete: {} of {noisy} Ready",
            readiness.ready_count_in(&noisy_namespace)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run.noisy_tenant_completion_seconds = Some(burst_started.elapsed().as_secs_f64());
    eprintln!(
        "noisy: A complete after {:.1} s",
        burst_started.elapsed().as_secs_f64()
    );

    let azure_after = measure::azure_stats(http, &azure_admin).await?;
    run.vault_requests = azure_after.gets() + azure_after.list_pages()
        - azure_before.gets()
        - azure_before.list_pages();
    run.throttled_429 = azure_after.throttled() - azure_before.throttled();
    run.max_requests_per_10s_per_vault = series
        .busiest_vault_per_10s()
        .iter()
        .map(|(_, busiest)| *busiest)
        .max()
        .unwrap_or(0);
    let served = match operator.ports {
        Some(ports) => tenant_requests(http, ports.metrics)
            .await
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    fill_figures(scenario, run, &measured, &served);
    operator.guard.stop().await.ok();
    azure.guard.stop().await.ok();
    Ok(())
}

/// Vault requests served per tenant, from the operator's `akvsync_tenant_served_total`.
async fn tenant_requests(
    http: &reqwest::Client,
    port: u16,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let body = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let mut served = BTreeMap::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("akvsync_tenant_served_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.contains("queue=\"vault-") {
            continue;
        }
        let tenant = measure::label_value(labels, "tenant").unwrap_or_default();
        *served.entry(tenant.to_owned()).or_default() += value.trim().parse::<f64>()?;
    }
    Ok(served)
}

fn fill_figures(
    scenario: &Scenario,
    run: &mut NoisyRun,
    measured: &[Probe],
    served: &BTreeMap<String, f64>,
) {
    let seconds = |new: bool, tenant: Option<usize>| -> Vec<f64> {
        measured
            .iter()
            .filter(|(t, n, _)| *n == new && tenant.is_none_or(|tenant| tenant == *t))
            .filter_map(|(_, _, seconds)| *seconds)
            .collect()
    };
    run.small_tenant_probes_timed_out = measured.iter().filter(|(_, _, s)| s.is_none()).count();
    run.small_tenants_new_sync_p50_seconds = quantile(&seconds(true, None), 0.5);
    run.small_tenants_new_sync_p99_seconds = quantile(&seconds(true, None), 0.99);
    run.small_tenants_changed_sync_p50_seconds = quantile(&seconds(false, None), 0.5);
    run.small_tenants_changed_sync_p99_seconds = quantile(&seconds(false, None), 0.99);
    let noisy_namespace = tenant_namespace(scenario, 0);
    run.tenants.push(TenantFigures {
        tenant: format!("{noisy_namespace} (A)"),
        vault_requests: served.get(&noisy_namespace).copied(),
        ..TenantFigures::default()
    });
    for tenant in 1..=SMALL_TENANTS {
        let namespace = tenant_namespace(scenario, tenant);
        run.tenants.push(TenantFigures {
            new_sync_p50_seconds: quantile(&seconds(true, Some(tenant)), 0.5),
            new_sync_p99_seconds: quantile(&seconds(true, Some(tenant)), 0.99),
            changed_sync_p50_seconds: quantile(&seconds(false, Some(tenant)), 0.5),
            changed_sync_p99_seconds: quantile(&seconds(false, Some(tenant)), 0.99),
            vault_requests: served.get(&namespace).copied(),
            tenant: namespace,
        });
    }
    if let Some(other) = served.get("other") {
        run.tenants.push(TenantFigures {
            tenant: "other (beyond the metrics' labelled tenants)".into(),
            vault_requests: Some(*other),
            ..TenantFigures::default()
        });
    }
}

/// A row of the summary table: its figure and how a run shows it.
type Row = (&'static str, fn(&NoisyRun) -> String);

/// Seconds with two decimals, or a dash.
fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value:.2} s"))
}

fn write_report(scenario: &Scenario, runs: &[NoisyRun], output: &Path) -> anyhow::Result<()> {
    let fair = runs.iter().find(|run| run.tenant_fairness);
    let off = runs.iter().find(|run| !run.tenant_fairness);
    let budget = akvsync_actors::store::VaultBudget::default().reads_per_10s;
    let pick = |run: Option<&NoisyRun>, field: fn(&NoisyRun) -> Option<f64>| run.and_then(field);
    let figures = json!({
        "preset": "noisy",
        "scenario": scenario.describe(),
        "machine": crate::report::machine(),
        "noisy_tenant_external_secrets": runs.first().map(|run| run.noisy_tenant_external_secrets),
        "small_tenants": SMALL_TENANTS,
        "small_tenant_new_external_secrets": NEW_PER_TENANT,
        "small_tenant_changed_external_secrets": CHANGED_PER_TENANT,
        "small_tenants_new_sync_p99_seconds": pick(fair, |run| run.small_tenants_new_sync_p99_seconds),
        "small_tenants_changed_sync_p99_seconds": pick(fair, |run| run.small_tenants_changed_sync_p99_seconds),
        "noisy_tenant_completion_seconds": pick(fair, |run| run.noisy_tenant_completion_seconds),
        "small_tenants_new_sync_p99_seconds_fairness_off": pick(off, |run| run.small_tenants_new_sync_p99_seconds),
        "small_tenants_changed_sync_p99_seconds_fairness_off": pick(off, |run| run.small_tenants_changed_sync_p99_seconds),
        "noisy_tenant_completion_seconds_fairness_off": pick(off, |run| run.noisy_tenant_completion_seconds),
        "throttled_429": runs.iter().map(|run| run.throttled_429).sum::<u64>(),
        "max_requests_per_10s_per_vault": runs.iter().map(|run| run.max_requests_per_10s_per_vault).max(),
        "vault_budget_per_10s": budget,
        "runs": runs,
    });
    let json_path = output.join("load-noisy.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("write {}", json_path.display()))?;

    let mut markdown = format!(
        "# Noisy neighbour\n\n{}; {}.\n\nTenant A creates {} ExternalSecrets at once; while it does, {SMALL_TENANTS} small tenants each create {NEW_PER_TENANT} and change {CHANGED_PER_TENANT}.\n\n| figure | fairness on | fairness off |\n|---|---|---|\n",
        scenario.describe(),
        crate::report::machine(),
        runs.first()
            .map_or(0, |run| run.noisy_tenant_external_secrets),
    );
    let rows: [Row; 9] = [
        ("small tenants: new → synced p50", |run| {
            optional(run.small_tenants_new_sync_p50_seconds)
        }),
        ("small tenants: new → synced p99", |run| {
            optional(run.small_tenants_new_sync_p99_seconds)
        }),
        ("small tenants: changed → synced p50", |run| {
            optional(run.small_tenants_changed_sync_p50_seconds)
        }),
        ("small tenants: changed → synced p99", |run| {
            optional(run.small_tenants_changed_sync_p99_seconds)
        }),
        ("small tenants: probes timed out", |run| {
            run.small_tenant_probes_timed_out.to_string()
        }),
        ("tenant A: completion", |run| {
            optional(run.noisy_tenant_completion_seconds)
        }),
        ("vault requests", |run| run.vault_requests.to_string()),
        ("busiest 10 s of the vault", |run| {
            run.max_requests_per_10s_per_vault.to_string()
        }),
        ("429 from Key Vault", |run| run.throttled_429.to_string()),
    ];
    for (figure, value) in rows {
        let cell = |run: Option<&NoisyRun>| run.map_or_else(|| "–".to_owned(), value);
        markdown.push_str(&format!("| {figure} | {} | {} |\n", cell(fair), cell(off)));
    }
    markdown.push_str(&format!(
        "\nThe vault's budget: {budget} reads per 10 s (akvsync's default, half of Key Vault's limit).\n\n## Per tenant\n\n| tenant | fairness | new p50 / p99 | changed p50 / p99 | vault requests |\n|---|---|---|---|---|\n"
    ));
    for run in runs {
        for tenant in &run.tenants {
            markdown.push_str(&format!(
                "| {} | {} | {} / {} | {} / {} | {} |\n",
                tenant.tenant,
                if run.tenant_fairness { "on" } else { "off" },
                optional(tenant.new_sync_p50_seconds),
                optional(tenant.new_sync_p99_seconds),
                optional(tenant.changed_sync_p50_seconds),
                optional(tenant.changed_sync_p99_seconds),
                tenant
                    .vault_requests
                    .map_or_else(|| "–".to_owned(), |requests| format!("{requests:.0}")),
            ));
        }
    }
    for run in runs {
        for note in &run.notes {
            markdown.push_str(&format!(
                "\nNote (fairness {}): {note}\n",
                if run.tenant_fairness { "on" } else { "off" }
            ));
        }
    }
    std::fs::write(output.join("load-noisy.md"), markdown)?;
    Ok(())
}
