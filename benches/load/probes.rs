//! Probes of change latency: new and changed ExternalSecrets, each timed until it is Ready at its
//! new generation.

use std::time::Duration;

use akvsync_crds::ExternalSecret;
use anyhow::{Context as _, bail};
use indicatif::ProgressBar;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::time::Instant;

use crate::measure::Readiness;
use crate::run::{POLL, timed};
use crate::scenario::Scenario;

/// How long a new or changed ExternalSecret may take to sync before it counts as timed out.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// Latencies of the new and changed ExternalSecrets.
#[derive(Default)]
pub(crate) struct Probes {
    pub created: Vec<f64>,
    pub changed: Vec<f64>,
    pub timed_out: usize,
}

/// Creates `probes` new ExternalSecrets and changes as many existing ones (one more data item),
/// spread evenly over one refresh interval, and times each until Ready at its new generation.
pub(crate) async fn run_probes(
    client: &kube::Client,
    scenario: &Scenario,
    readiness: &Readiness,
    bar: &ProgressBar,
) -> anyhow::Result<Probes> {
    let spacing = scenario.refresh / (scenario.probes.max(1) as u32);
    let stride = (scenario.external_secrets / scenario.probes.max(1)).max(1);
    let mut waits = Vec::new();
    for probe in 0..scenario.probes {
        let new_index = scenario.external_secrets + probe;
        let es = scenario.external_secret(new_index, 0);
        let namespace = es.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ExternalSecret> = Api::namespaced(client.clone(), &namespace);
        let started = Instant::now();
        let created = timed(
            "create probe ExternalSecret",
            api.create(&PostParams::default(), &es),
        )
        .await?;
        let key = format!("{namespace}/{}", Scenario::external_secret_name(new_index));
        waits.push((
            true,
            tokio::spawn(readiness.clone().synced_after(
                key,
                created.metadata.generation.unwrap_or(1),
                started,
                POLL,
                PROBE_TIMEOUT,
            )),
        ));

        let changed_index = (probe * stride) % scenario.external_secrets;
        let changed = scenario.external_secret(changed_index, 1);
        let namespace = changed.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ExternalSecret> = Api::namespaced(client.clone(), &namespace);
        let name = Scenario::external_secret_name(changed_index);
        let patch = serde_json::json!({"spec": {"data": changed.spec.data}});
        let started = Instant::now();
        let patched = timed(
            "change probe ExternalSecret",
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)),
        )
        .await?;
        let key = format!("{namespace}/{name}");
        waits.push((
            false,
            tokio::spawn(readiness.clone().synced_after(
                key,
                patched.metadata.generation.unwrap_or(1),
                started,
                POLL,
                PROBE_TIMEOUT,
            )),
        ));
        tokio::time::sleep(spacing).await;
    }
    let mut probes = Probes::default();
    for (created, wait) in waits {
        match wait.await.context("probe task")? {
            Some(seconds) if created => probes.created.push(seconds),
            Some(seconds) => probes.changed.push(seconds),
            None => probes.timed_out += 1,
        }
        bar.inc(1);
    }
    if probes.created.is_empty() && probes.changed.is_empty() && scenario.probes > 0 {
        bail!("no probe ExternalSecret synced within {PROBE_TIMEOUT:?}");
    }
    Ok(probes)
}
