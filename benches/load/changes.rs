//! The cycle in which 1% of the referenced secrets change: a new version of one secret in a
//! hundred, set through the Azure emulator's admin endpoint, and for a sample of them the time
//! until a Secret built from it holds the new value.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use tokio::time::Instant;

use crate::measure::{self, quantile};
use crate::run::{Cluster, Writes};
use crate::scenario::Scenario;

/// Every how many referenced secrets one changes.
const ONE_IN: usize = 100;
/// How many changed secrets are followed into a Secret.
const SAMPLE: usize = 20;
/// How often a followed Secret is read.
const POLL: Duration = Duration::from_millis(250);

/// What one refresh interval from the changes cost and how fast they arrived.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ChangedCycle {
    pub changed_secrets: usize,
    pub kv_get_calls: u64,
    pub kv_list_pages: u64,
    /// (GETs + list pages) ÷ unique referenced secrets.
    pub kv_requests_per_unique_secret: f64,
    pub k8s_writes: Writes,
    /// From a secret's change until a Secret built from it held the new value (a sample).
    pub change_to_synced_p50_seconds: Option<f64>,
    pub change_to_synced_p99_seconds: Option<f64>,
    pub followed: usize,
    pub timed_out: usize,
}

/// One refresh interval from changing 1% of the referenced secrets: its Key Vault and
/// Kubernetes requests, and the change-to-synced latency of a sample.
pub(crate) async fn measure_changed_cycle(
    http: &reqwest::Client,
    admin_url: &str,
    cluster: &Cluster,
    scenario: &Scenario,
) -> anyhow::Result<ChangedCycle> {
    let azure_before = measure::azure_stats(http, admin_url).await?;
    let kube_before = cluster.emulator.stats();
    let started = Instant::now();
    let changes = change_one_percent(
        http,
        admin_url,
        &cluster.client,
        scenario,
        scenario.refresh * 2,
    )
    .await?;
    if let Some(rest) = scenario.refresh.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let azure_after = measure::azure_stats(http, admin_url).await?;
    let gets = azure_after.gets() - azure_before.gets();
    let pages = azure_after.list_pages() - azure_before.list_pages();
    let unique = scenario.referenced_secrets().len().max(1) as f64;
    Ok(ChangedCycle {
        changed_secrets: changes.secrets,
        kv_get_calls: gets,
        kv_list_pages: pages,
        kv_requests_per_unique_secret: (gets + pages) as f64 / unique,
        k8s_writes: cluster.writes_since(&kube_before),
        change_to_synced_p50_seconds: quantile(&changes.synced, 0.5),
        change_to_synced_p99_seconds: quantile(&changes.synced, 0.99),
        followed: changes.synced.len() + changes.timed_out,
        timed_out: changes.timed_out,
    })
}

#[derive(Default)]
pub(crate) struct Changes {
    pub secrets: usize,
    /// Seconds from a secret's change until a Secret built from it held the new value.
    pub synced: Vec<f64>,
    pub timed_out: usize,
}

/// Sets a new version of one referenced secret in a hundred, then follows a sample of them
/// until the Secret of one ExternalSecret reading each holds the new value (at most `timeout`).
pub(crate) async fn change_one_percent(
    http: &reqwest::Client,
    admin_url: &str,
    client: &kube::Client,
    scenario: &Scenario,
    timeout: Duration,
) -> anyhow::Result<Changes> {
    let readers = scenario.readers();
    let changed: Vec<(usize, usize)> = scenario
        .referenced_secrets()
        .into_iter()
        .step_by(ONE_IN)
        .collect();
    let mut follows = Vec::new();
    for (position, &(vault, index)) in changed.iter().enumerate() {
        let value = Scenario::changed_secret_value(vault, index);
        let url = format!(
            "{admin_url}/vaults/{}/secrets/{}",
            scenario.vault_name(vault),
            Scenario::secret_name(index)
        );
        let at = Instant::now();
        http.put(&url)
            .json(&serde_json::json!({"value": value, "contentType": "text/plain"}))
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("setting {url}"))?;
        if position % changed.len().div_ceil(SAMPLE).max(1) == 0
            && let Some(&(reader, key)) = readers.get(&(vault, index))
        {
            let (namespace, _) = scenario.placement(reader);
            let secrets: Api<Secret> =
                Api::namespaced(client.clone(), &scenario.namespace_name(namespace));
            let name = Scenario::external_secret_name(reader);
            follows.push(tokio::spawn(follow(
                secrets,
                name,
                format!("item-{key}"),
                value,
                at,
                timeout,
            )));
        }
    }
    let mut changes = Changes {
        secrets: changed.len(),
        ..Changes::default()
    };
    for follow in follows {
        match follow.await.context("follow task")? {
            Some(seconds) => changes.synced.push(seconds),
            None => changes.timed_out += 1,
        }
    }
    Ok(changes)
}

/// Seconds from `at` until Secret `name` holds `value` under `key`.
async fn follow(
    secrets: Api<Secret>,
    name: String,
    key: String,
    value: String,
    at: Instant,
    timeout: Duration,
) -> Option<f64> {
    while at.elapsed() < timeout {
        if holds(&secrets, &name, &key, &value).await {
            return Some(at.elapsed().as_secs_f64());
        }
        tokio::time::sleep(POLL).await;
    }
    None
}

/// Whether Secret `name` holds `value` under `key` now (a failed read counts as no).
pub(crate) async fn holds(secrets: &Api<Secret>, name: &str, key: &str, value: &str) -> bool {
    secrets
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|secret| {
            let data: BTreeMap<_, _> = secret.data?;
            Some(data.get(key)?.0 == value.as_bytes())
        })
        == Some(true)
}
