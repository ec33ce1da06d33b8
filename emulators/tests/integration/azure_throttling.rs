//! Throttling, fault injection and counters, through the SDK and the admin endpoint.

use crate::azure_support;

use std::time::{Duration, Instant};

use akvsync_emulators::azure::{Limits, SecretOptions};
use azure_support::*;

fn limits(reads: u32, window_ms: u64, retry_after: bool) -> Limits {
    Limits {
        reads,
        writes: 300,
        window_ms,
        retry_after,
    }
}

async fn bearer(emulator: &akvsync_emulators::azure::AzureEmulator) -> String {
    let token = within(
        credential(emulator, TENANT, ADMIN)
            .get_token(&[&format!("{}/.default", emulator.resource())], None),
    )
    .await
    .unwrap();
    format!("Bearer {}", token.token.secret())
}

#[tokio::test]
async fn throttled_reads_get_429_with_or_without_retry_after() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "v", SecretOptions::default())
        .unwrap();
    let http = emulator.http_client().unwrap();
    let url = format!(
        "{}secrets/s/?api-version=2025-07-01",
        emulator.vault_url(VAULT)
    );
    let auth = bearer(&emulator).await;

    emulator
        .set_vault_limits(VAULT, limits(2, 60_000, false))
        .unwrap();
    let client = admin_secrets(&emulator);
    within(client.get_secret("s", None)).await.unwrap();
    within(client.get_secret("s", None)).await.unwrap();
    let error = within(client.get_secret("s", None)).await.unwrap_err();
    assert_eq!(status_and_code(&error), (429, "Throttled".into()));
    let raw = within(http.get(&url).header("authorization", &auth).send())
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    assert!(raw.headers().get("retry-after").is_none());

    emulator
        .set_vault_limits(VAULT, limits(1, 60_000, true))
        .unwrap();
    within(http.get(&url).header("authorization", &auth).send())
        .await
        .unwrap();
    let raw = within(http.get(&url).header("authorization", &auth).send())
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    let seconds: u64 = raw.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&seconds));
    let body: serde_json::Value = within(raw.json()).await.unwrap();
    assert_eq!(body["error"]["code"], "Throttled");
    assert!(emulator.stats().throttled(VAULT) >= 3);
}

#[tokio::test]
async fn sdk_retries_honour_retry_after_and_then_succeed() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "v", SecretOptions::default())
        .unwrap();
    emulator
        .set_vault_limits(VAULT, limits(2, 1_000, true))
        .unwrap();
    let client = secrets(&emulator, VAULT, credential(&emulator, TENANT, ADMIN), true);
    let started = Instant::now();
    for _ in 0..4 {
        within(client.get_secret("s", None))
            .await
            .expect("the SDK retries through 429");
    }
    let stats = emulator.stats();
    assert!(stats.throttled(VAULT) >= 1);
    assert_eq!(stats.gets(VAULT), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
}

#[tokio::test]
async fn injected_errors_drops_and_latency_reach_the_client() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "v", SecretOptions::default())
        .unwrap();
    let client = admin_secrets(&emulator);
    within(client.get_secret("s", None)).await.unwrap();

    emulator.faults().error_rate(1.0, 503);
    let error = within(client.get_secret("s", None)).await.unwrap_err();
    assert_eq!(error.http_status().map(u16::from), Some(503));
    emulator.faults().clear();

    emulator.faults().drop_rate(1.0);
    let error = within(client.get_secret("s", None)).await.unwrap_err();
    assert!(
        error.http_status().is_none(),
        "a dropped connection has no status: {error}"
    );
    emulator.faults().clear();

    emulator.faults().latency(Duration::from_millis(300));
    let started = Instant::now();
    within(client.get_secret("s", None)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    emulator.faults().clear();
    let stats = emulator.stats();
    assert_eq!(stats.requests(VAULT, "GetSecret", 503), 1);
    assert_eq!(
        stats.requests(VAULT, "GetSecret", 0),
        1,
        "dropped requests are counted with status 0"
    );
}

#[tokio::test]
async fn admin_endpoint_reports_counters_and_sets_faults() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "v", SecretOptions::default())
        .unwrap();
    let client = admin_secrets(&emulator);
    for _ in 0..5 {
        within(client.get_secret("s", None)).await.unwrap();
    }
    let http = emulator.http_client().unwrap();
    let stats: serde_json::Value = within(async {
        http.get(format!("{}/stats", emulator.admin_url()))
            .send()
            .await?
            .json()
            .await
    })
    .await
    .unwrap();
    assert!(stats["connections"].as_u64().unwrap() >= 1);
    assert_eq!(
        stats["peak_per_window"][VAULT], 6,
        "one challenge and five reads"
    );
    let gets = stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry[0]["operation"] == "GetSecret" && entry[0]["status"] == 200)
        .map(|entry| entry[1].as_u64().unwrap());
    assert_eq!(gets, Some(5));

    let response = within(
        http.put(format!("{}/faults", emulator.admin_url()))
            .json(&serde_json::json!({"errorRate": 1.0, "errorStatus": 500}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let error = within(client.get_secret("s", None)).await.unwrap_err();
    assert_eq!(error.http_status().map(u16::from), Some(500));
}

#[tokio::test]
async fn admin_endpoint_sets_a_new_secret_version() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "v1", SecretOptions::default())
        .unwrap();
    let http = emulator.http_client().unwrap();
    let url = format!("{}/vaults/{VAULT}/secrets/s", emulator.admin_url());
    let response = within(
        http.put(&url)
            .json(&serde_json::json!({"value": "v2", "created": 1_700_000_000}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let client = admin_secrets(&emulator);
    let secret = within(client.get_secret("s", None)).await.unwrap();
    let secret = secret.into_model().unwrap();
    assert_eq!(secret.value.as_deref(), Some("v2"));
    let updated = secret.attributes.unwrap().updated.unwrap();
    assert_eq!(updated.unix_timestamp(), 1_700_000_000);

    let missing = format!("{}/vaults/nowhere/secrets/s", emulator.admin_url());
    let response = within(
        http.put(&missing)
            .json(&serde_json::json!({"value": "x"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
