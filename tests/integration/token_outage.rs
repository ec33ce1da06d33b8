//! An Entra outage that outlasts the store's token, with many ExternalSecrets refreshing: the
//! store asks Entra once per backoff step (not once per reconcile), and every ExternalSecret is
//! Ready again soon after Entra is back. The token metrics show it on /metrics.

use crate::operator_world;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use akvsync::operator::OperatorConfig;
use akvsync_crds::ExternalSecret;
use akvsync_emulators::azure::FaultConfig;
use kube::Api;
use kube::api::ListParams;
use operator_world::{NAMESPACE, TENANT, World, eventually, external_secret_yaml, timed};

const EXTERNAL_SECRETS: usize = 40;
/// Created during the outage with a 1 h interval: their first sync fails, and they would wait
/// out their own backoff (5, 10, 20, 40 s…) if the recovered token did not make them retry.
const LATE_EXTERNAL_SECRETS: usize = 5;
const UNIQUE_SECRETS: usize = 8;
/// Short tokens, so the outage below outlasts the one in hand.
const TOKEN_LIFETIME: Duration = Duration::from_secs(10);
const OUTAGE: Duration = Duration::from_secs(20);

fn free_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Token requests for the world's tenant, any result (outage answers included).
fn token_requests(world: &World) -> u64 {
    world
        .azure
        .stats()
        .tokens
        .iter()
        .filter(|(key, _)| key.tenant == TENANT)
        .map(|(_, count)| count)
        .sum()
}

async fn ready_count(world: &World) -> usize {
    let api: Api<ExternalSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    let list = timed(api.list(&ListParams::default()))
        .await
        .expect("list ExternalSecrets");
    list.items
        .iter()
        .filter(|es| {
            es.status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
        })
        .count()
}

/// The sum of the samples of `family` whose labels include `label`.
fn scraped(text: &str, family: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(family) && line.contains(label))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_outage_costs_one_token_request_per_backoff_step_and_everything_recovers() {
    let mut world = World::new().await;
    world.azure.set_token_lifetime(TOKEN_LIFETIME);
    for index in 0..UNIQUE_SECRETS {
        world.set_secret(&format!("s{index}"), &format!("value-{index}"));
    }
    let metrics = free_address();
    let config = OperatorConfig {
        http: Some((metrics, free_address())),
        ..world.operator_config()
    };
    world.start_operator_with(config).await;
    for index in 0..EXTERNAL_SECRETS {
        let remote = format!("s{}", index % UNIQUE_SECRETS);
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &format!("es-{index}"),
                "2s",
                &[("v", &remote)],
            ))
            .await;
    }
    eventually("every ExternalSecret Ready", || async {
        (ready_count(&world).await == EXTERNAL_SECRETS).then_some(())
    })
    .await;

    let before = token_requests(&world);
    world.azure.faults().set(FaultConfig {
        token_outage: Some(503),
        ..FaultConfig::default()
    });
    // Watch the outage: the token in hand expires during it, so syncs fail.
    let outage = tokio::time::Instant::now();
    let mut fewest_ready = EXTERNAL_SECRETS;
    let mut late_created = false;
    while outage.elapsed() < OUTAGE {
        fewest_ready = fewest_ready.min(ready_count(&world).await);
        if fewest_ready < EXTERNAL_SECRETS && !late_created {
            late_created = true;
            for index in 0..LATE_EXTERNAL_SECRETS {
                world
                    .apply_yaml(&external_secret_yaml(
                        NAMESPACE,
                        &format!("late-{index}"),
                        "1h",
                        &[("v", "s0")],
                    ))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = token_requests(&world) - before;
    world.azure.faults().clear();
    let healed = tokio::time::Instant::now();
    let all = EXTERNAL_SECRETS + LATE_EXTERNAL_SECRETS;
    eventually("every ExternalSecret Ready after the outage", || async {
        (ready_count(&world).await == all).then_some(())
    })
    .await;
    let recovered = healed.elapsed();
    eprintln!(
        "{OUTAGE:?} outage: {during} token requests, fewest Ready {fewest_ready}/{EXTERNAL_SECRETS}, all {all} Ready {recovered:?} after it ended"
    );
    assert!(
        late_created,
        "the outage outlasted the token, so some syncs failed"
    );
    // Refresh ahead starts with half the 10 s lifetime left; from then on the schedule is
    // 1-2-4-8-16 s (stretched by jitter): at most 6 attempts fit in 20 s, at most 7 with the
    // one under way when the outage began. Without sharing, every failing sync asked.
    assert!(during <= 7, "{during} token requests during the outage");

    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let store = r#"store="vault""#;
    assert!(
        scraped(
            &text,
            "akvsync_token_acquisitions_total",
            r#"result="error""#
        ) >= 1.0
    );
    assert!(scraped(&text, "akvsync_token_acquisitions_total", r#"result="ok""#) >= 2.0);
    assert!(scraped(&text, "akvsync_token_backoff_rejections_total", store) >= 1.0);
}
