//! The operator's /metrics and probes, scraped over HTTP during a sync against the emulators.

use crate::operator_world;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use operator_world::{NAMESPACE, VAULT, World, eventually, timed};

fn free_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Sums the samples of `family` whose labels include every pair of `labels`.
fn sum(text: &str, family: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, label_text) = series.split_once('{').unwrap_or((series, "}"));
            if name != family {
                return None;
            }
            let found: BTreeMap<&str, &str> = label_text
                .trim_end_matches('}')
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            labels
                .iter()
                .all(|(k, v)| found.get(k) == Some(v))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_one_vault_get_and_nine_saved_for_ten_sharers() {
    let mut world = World::new().await;
    world.set_secret("shared", "v");
    let (metrics, health) = (free_address(), free_address());
    let config = akvsync::operator::OperatorConfig {
        http: Some((metrics, health)),
        concurrent: 5,
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    eventually("readyz", || async {
        get(format!("http://{health}/readyz"))
            .await
            .status()
            .is_success()
            .then_some(())
    })
    .await;
    assert!(
        get(format!("http://{health}/healthz"))
            .await
            .status()
            .is_success()
    );

    world.wait_for_store(NAMESPACE, "vault", "True").await;
    world.apply_external_secrets(10, "v", "shared").await;
    for index in 0..10 {
        world
            .wait_for_ready(NAMESPACE, &format!("es-{index}"), "True")
            .await;
    }
    let host = format!("{VAULT}.vault.localhost");
    let text = eventually("the sync in the metrics", || async {
        let text = get(format!("http://{metrics}/metrics"))
            .await
            .text()
            .await
            .unwrap();
        (sum(
            &text,
            "externalsecret_status_condition",
            &[("condition", "Ready"), ("status", "True")],
        ) == 10.0)
            .then_some(text)
    })
    .await;
    let loaded = sum(
        &text,
        "akvsync_store_requests_total",
        &[("vault", &host), ("served", "loaded")],
    );
    let saved = sum(
        &text,
        "akvsync_store_requests_total",
        &[("vault", &host), ("served", "coalesced")],
    ) + sum(
        &text,
        "akvsync_store_requests_total",
        &[("vault", &host), ("served", "hit")],
    );
    assert_eq!(
        (loaded, saved),
        (1.0, 9.0),
        "one GET, nine served without a call"
    );
    assert_eq!(
        sum(
            &text,
            "controller_runtime_max_concurrent_reconciles",
            &[("controller", "externalsecret")],
        ),
        5.0,
        "--concurrent, as ESO reports it"
    );
    assert_eq!(
        sum(
            &text,
            "akvsync_keyvault_requests_total",
            &[("vault", &host), ("operation", "get"), ("result", "ok")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &text,
            "externalsecret_provider_api_calls_count",
            &[("call", "GetSecret"), ("status", "success")]
        ),
        1.0
    );
    assert!(sum(&text, "externalsecret_sync_calls_total", &[]) >= 10.0);
    assert_eq!(
        sum(
            &text,
            "controller_runtime_reconcile_total",
            &[("controller", "externalsecret"), ("result", "error")]
        ),
        0.0
    );
    assert_eq!(
        sum(
            &text,
            "akvsync_keyvault_budget_requests_per_second",
            &[("vault", &host), ("class", "read")]
        ),
        200.0,
        "half of Key Vault's 4,000 reads per 10 s"
    );
    assert_eq!(world.azure.stats().gets(VAULT), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_external_secret_and_store_leave_no_series_behind() {
    let mut world = World::new().await;
    world.set_secret("shared", "v");
    let metrics = free_address();
    let config = akvsync::operator::OperatorConfig {
        http: Some((metrics, free_address())),
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    world.wait_for_store(NAMESPACE, "vault", "True").await;
    world.apply_external_secrets(1, "v", "shared").await;
    world.wait_for_ready(NAMESPACE, "es-0", "True").await;
    let client = reqwest::Client::new();
    let scrape = || {
        let client = client.clone();
        async move {
            timed(async {
                client
                    .get(format!("http://{metrics}/metrics"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            })
            .await
        }
    };
    let series = |text: &str, family: &str, name: &str| {
        text.lines()
            .filter(|line| line.starts_with(&format!("{family}{{")))
            .filter(|line| line.contains(&format!("name=\"{name}\"")))
            .count()
    };
    eventually("es-0 and its store in the metrics", || async {
        let text = scrape().await;
        (series(&text, "externalsecret_status_condition", "es-0") == 2
            && series(&text, "secretstore_status_condition", "vault") == 2)
            .then_some(())
    })
    .await;

    world.delete_external_secret(NAMESPACE, "es-0").await;
    let stores: kube::Api<akvsync_crds::SecretStore> =
        kube::Api::namespaced(world.kube.client(), NAMESPACE);
    timed(stores.delete("vault", &Default::default()))
        .await
        .expect("delete the store");
    eventually("es-0 and its store gone from the metrics", || async {
        let text = scrape().await;
        (series(&text, "externalsecret_status_condition", "es-0") == 0
            && series(&text, "externalsecret_sync_calls_total", "es-0") == 0
            && series(&text, "secretstore_status_condition", "vault") == 0)
            .then_some(())
    })
    .await;
}
