//! Faults on both worlds, end to end: API-server 5xx and 429 storms, watch cuts and history
//! compaction during a cold start, Key Vault 500s and dropped connections. Each asserts that no
//! Secret is deleted or blanked, that writes happen only where data changed, that everything is
//! Ready again after healing, and that the operator backs off while the fault lasts. (An Entra
//! outage past token expiry is `tests/integration/token_outage.rs`.)

use crate::operator_world;

use std::time::Instant;

use akvsync_emulators::azure::FaultConfig;
use akvsync_emulators::kubeapi::{FaultMatch, FaultResponse, FaultRule};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use operator_world::{NAMESPACE, VAULT, World, eventually, external_secret_yaml, timed};

const COUNT: usize = 10;

fn name(index: usize) -> String {
    format!("es-{index}")
}

/// `COUNT` ExternalSecrets refreshing every second, all reading vault secret `shared`.
async fn synced_world(value: &str) -> World {
    let mut world = World::new().await;
    world.set_secret("shared", value);
    world.start_operator().await;
    for index in 0..COUNT {
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &name(index),
                "1s",
                &[("v", "shared")],
            ))
            .await;
    }
    for index in 0..COUNT {
        world
            .wait_for_value(NAMESPACE, &name(index), "v", value)
            .await;
    }
    world
}

/// Every managed Secret's `v`, read with LIST (which the faults below leave alone).
async fn values(world: &World) -> Vec<Option<String>> {
    let secrets: Api<Secret> = Api::namespaced(world.kube.client(), NAMESPACE);
    let list = timed(secrets.list(&Default::default())).await.unwrap();
    (0..COUNT)
        .map(|index| {
            let secret = list
                .items
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name(index).as_str()))?;
            let value = secret.data.as_ref()?.get("v")?;
            Some(String::from_utf8_lossy(&value.0).into_owned())
        })
        .collect()
}

/// After healing: every ExternalSecret holds `v2` and is synced, with one Secret write each.
async fn healed_with_one_write_each(world: &World, writes_before: u64) {
    for index in 0..COUNT {
        world
            .wait_for_value(NAMESPACE, &name(index), "v", "v2")
            .await;
        world
            .wait_for_reason(NAMESPACE, &name(index), "SecretSynced")
            .await;
    }
    assert_eq!(
        world.kube.stats().secret_writes - writes_before,
        COUNT as u64,
        "one write per Secret whose data changed"
    );
}

fn rule(verb: &str, resource: &str, response: FaultResponse) -> FaultRule {
    FaultRule {
        matches: FaultMatch {
            verb: Some(verb.into()),
            resource: Some(resource.into()),
            user: None,
        },
        response,
        count: None,
    }
}

/// A failing sync backs off 5, 10, 20 … s: within `elapsed` each ExternalSecret tries at most
/// a few times plus one per 5 s, where its 1 s refresh would try once a second. One more read
/// each covers the reads made between the check that saw them and the count.
fn backoff_budget(elapsed: std::time::Duration) -> u64 {
    (COUNT as u64) * (4 + elapsed.as_secs() / 5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_errors_and_throttling_delete_nothing_and_heal() {
    let world = synced_world("v1").await;
    let faults = world.kube.faults();
    faults.inject(rule("get", "secrets", FaultResponse::ServerError(503)));
    faults.inject(rule(
        "update",
        "secrets",
        FaultResponse::TooManyRequests {
            retry_after_seconds: 1,
        },
    ));
    faults.inject(rule(
        "patch",
        "externalsecrets/status",
        FaultResponse::ServerError(500),
    ));
    let writes_before = world.kube.stats().secret_writes;
    let gets = || world.kube.stats().requests_for("get", "secrets");
    let gets_before = gets();
    let storm = Instant::now();
    world.set_secret("shared", "v2");

    // Every ExternalSecret tries, fails and tries again.
    eventually("three failed Secret reads per ExternalSecret", || async {
        (gets() >= gets_before + 3 * COUNT as u64).then_some(())
    })
    .await;
    let failed = gets() - gets_before;
    eprintln!("DEBUG {failed} reads in {:?}", storm.elapsed());
    assert!(
        failed <= backoff_budget(storm.elapsed()),
        "{failed} Secret reads in {:?}: the operator does not back off",
        storm.elapsed()
    );
    assert_eq!(
        values(&world).await,
        vec![Some("v1".to_owned()); COUNT],
        "nothing deleted or blanked during the storm"
    );

    faults.clear();
    healed_with_one_write_each(&world, writes_before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_cuts_and_compaction_during_a_cold_start_lose_nothing() {
    let mut world = World::new().await;
    world.set_secret("shared", "v1");
    for index in 0..COUNT * 2 {
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &name(index),
                "1h",
                &[("v", "shared")],
            ))
            .await;
    }
    // Every watch stream is cut after three events, and the history is compacted while the
    // operator starts, so resumed watches get 410 and relist.
    world.kube.faults().cut_watches_after(Some(3));
    let writes_before = world.kube.stats().secret_writes;
    world.start_operator().await;
    world.kube.compact_history();
    for index in 0..COUNT * 2 {
        world
            .wait_for_value(NAMESPACE, &name(index), "v", "v1")
            .await;
        if index % 5 == 0 {
            world.kube.compact_history();
        }
    }
    for index in 0..COUNT * 2 {
        world
            .wait_for_reason(NAMESPACE, &name(index), "SecretSynced")
            .await;
    }
    world.kube.faults().cut_watches_after(None);
    assert_eq!(
        world.kube.stats().secret_writes - writes_before,
        (COUNT * 2) as u64,
        "each Secret written once: relists and resumed watches repeat nothing"
    );
    // A change after the cuts still arrives.
    world.set_secret("other", "x");
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "late",
            "1h",
            &[("v", "other")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "late", "v", "x").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_vault_errors_and_dropped_connections_keep_every_secret() {
    let world = synced_world("v1").await;
    let writes_before = world.kube.stats().secret_writes;
    world.azure.faults().set(FaultConfig {
        error_rate: 0.5,
        error_status: 500,
        drop_rate: 0.5,
        ..FaultConfig::default()
    });
    let gets = || world.azure.stats().operation(VAULT, "GetSecret");
    let gets_before = gets();
    let storm = Instant::now();
    world.set_secret("shared", "v2");
    eventually("the vault storm to be felt", || async {
        (gets() >= gets_before + 6).then_some(())
    })
    .await;
    // Some ExternalSecret saw the failure and says so; none lost its data.
    eventually("a failing ExternalSecret to report it", || async {
        for index in 0..COUNT {
            let es = world.external_secret(NAMESPACE, &name(index)).await;
            let ready = es
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            if ready.status == "False" {
                let message = ready.message.unwrap_or_default();
                assert!(
                    message.starts_with("could not get secret data from provider: "),
                    "{message}"
                );
                return Some(());
            }
        }
        None
    })
    .await;
    let values_during = values(&world).await;
    assert!(
        values_during
            .iter()
            .all(|value| matches!(value.as_deref(), Some("v1" | "v2"))),
        "every Secret holds its previous or its new data: {values_during:?}"
    );
    // One store fetches for all ten (coalesced and cached), and failures back off.
    let fetched = gets() - gets_before;
    assert!(
        fetched <= backoff_budget(storm.elapsed()),
        "{fetched} vault GETs in {:?}",
        storm.elapsed()
    );

    world.azure.faults().clear();
    healed_with_one_write_each(&world, writes_before).await;
    assert!(
        world.azure.stats().peak(VAULT) <= 2000,
        "within the vault budget"
    );
}
