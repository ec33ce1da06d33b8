//! Two operator replicas with leader election: one syncs, the other waits; when the leader stops,
//! the standby takes over within the lease duration and rewrites nothing.

mod operator_world;

use std::time::Duration;

use akvsync::observability::LeaderElectionConfig;
use akvsync::operator::{self, OperatorConfig};
use operator_world::{NAMESPACE, World, external_secret_yaml, timed};

const LEASE: Duration = Duration::from_secs(3);

fn replica(world: &World, identity: &str) -> OperatorConfig {
    let leader = LeaderElectionConfig {
        lease_duration: LEASE,
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
        ..LeaderElectionConfig::new(NAMESPACE, "akvsync-test", identity)
    };
    OperatorConfig {
        leader: Some(leader),
        instance: identity.to_owned(),
        ..world.operator_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_without_rewriting_anything() {
    let world = World::new().await;
    world.set_secret("v", "value");
    let mut first = operator::spawn(replica(&world, "replica-a")).unwrap();
    timed(first.synced()).await.unwrap();
    let mut second = operator::spawn(replica(&world, "replica-b")).unwrap();

    world.apply_external_secrets(5, "v", "v").await;
    for index in 0..5 {
        world
            .wait_for_value(NAMESPACE, &format!("es-{index}"), "v", "value")
            .await;
        world
            .wait_for_ready(NAMESPACE, &format!("es-{index}"), "True")
            .await;
    }
    // The standby has not started its watches: it is not the leader.
    let standby_synced = tokio::time::timeout(Duration::from_millis(500), second.synced()).await;
    assert!(
        standby_synced.is_err(),
        "the standby must not sync while the leader runs"
    );

    let writes = world.kube.stats().secret_writes;
    let stopped = tokio::time::Instant::now();
    first.stop().unwrap();
    timed(second.synced()).await.unwrap();
    assert!(
        stopped.elapsed() < LEASE,
        "took over in {:?}",
        stopped.elapsed()
    );

    // A new ExternalSecret proves the new leader works; the old ones are not rewritten.
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "after",
            "1h",
            &[("v", "v")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "after", "v", "value").await;
    assert_eq!(
        world.kube.stats().secret_writes,
        writes + 1,
        "only the new ExternalSecret's Secret was written"
    );
    second.stop().unwrap();
}
