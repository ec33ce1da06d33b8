//! Tenants share a vault's budget: one held to `--tenant-max-share` waits, says why in an Event,
//! and does not hold up another tenant of the same vault.

use crate::operator_world;

use akvsync_actors::store::VaultBudget;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use operator_world::{NAMESPACE, World, eventually, external_secret_yaml};

const OTHER_NAMESPACE: &str = "team-b";
/// team-a's ExternalSecrets, each reading its own secret: at one read per 10 s (its share),
/// the last waits about half a minute.
const HELD: usize = 4;

/// Reasons and notes of the Events about any object in `namespace`.
async fn event_notes(world: &World, namespace: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(world.kube.client(), namespace);
    let list = api.list(&Default::default()).await.expect("list events");
    list.items
        .into_iter()
        .map(|event| {
            (
                event.reason.unwrap_or_default(),
                event.note.unwrap_or_default(),
            )
        })
        .collect()
}

async fn ready(world: &World, namespace: &str, name: &str) -> bool {
    world
        .external_secret_opt(namespace, name)
        .await
        .and_then(|es| es.status?.conditions)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

#[tokio::test]
async fn a_tenant_at_its_share_waits_says_why_and_does_not_hold_up_another() {
    let mut world = World::new().await;
    world.namespace_with_store(OTHER_NAMESPACE).await;
    for index in 0..=HELD {
        world.set_secret(&format!("s{index}"), &format!("value-{index}"));
    }
    let mut config = world.operator_config();
    // One read per second for the vault; a tenant may use a tenth: one read per 10 s.
    config.budget = VaultBudget {
        reads_per_10s: 10,
        ..VaultBudget::default()
    };
    config.tenants.policy.max_share = Some(0.1);
    world.start_operator_with(config).await;
    world.wait_for_store(NAMESPACE, "vault", "True").await;
    world.wait_for_store(OTHER_NAMESPACE, "vault", "True").await;

    for index in 0..HELD {
        let remote = format!("s{index}");
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &format!("held-{index}"),
                "1h",
                &[("value", &remote)],
            ))
            .await;
    }
    let remote = format!("s{HELD}");
    world
        .apply_yaml(&external_secret_yaml(
            OTHER_NAMESPACE,
            "free",
            "1h",
            &[("value", &remote)],
        ))
        .await;
    world
        .wait_for_value(OTHER_NAMESPACE, "free", "value", &format!("value-{HELD}"))
        .await;
    let mut waiting = 0;
    for index in 0..HELD {
        if !ready(&world, NAMESPACE, &format!("held-{index}")).await {
            waiting += 1;
        }
    }
    assert!(
        waiting > 0,
        "team-b's ExternalSecret synced while team-a's still waited for its share"
    );

    let note = eventually("team-a's Waiting event", || async {
        event_notes(&world, NAMESPACE)
            .await
            .into_iter()
            .find(|(reason, _)| reason == "Waiting")
            .map(|(_, note)| note)
    })
    .await;
    assert!(
        note.starts_with(
            "waiting for vault budget: tenant team-a at its share (--tenant-max-share 0.1), "
        ),
        "{note}"
    );
    assert!(
        !event_notes(&world, OTHER_NAMESPACE)
            .await
            .iter()
            .any(|(reason, _)| reason == "Waiting"),
        "team-b never waited"
    );
    let waiting_events = event_notes(&world, NAMESPACE)
        .await
        .iter()
        .filter(|(reason, _)| reason == "Waiting")
        .count();
    assert_eq!(waiting_events, 1, "one Event per tenant a minute");
}
