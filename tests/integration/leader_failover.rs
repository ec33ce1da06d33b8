//! Two operator replicas with leader election. The standby runs its watches (ready, warm) but
//! writes nothing and calls no vault; when the leader stops (SIGTERM: it releases the Lease) or
//! dies (kill -9: the Lease expires), the standby starts its actors from what its watches hold,
//! rewrites nothing, and syncs new ExternalSecrets.

use crate::operator_world;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use akvsync::observability::LeaderElectionConfig;
use akvsync::operator::{self, OperatorConfig, OperatorHandle};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use operator_world::{NAMESPACE, VAULT, World, eventually, external_secret_yaml, timed};

const LEASE_NAME: &str = "akvsync-test";
const LEASE: Duration = Duration::from_secs(3);
const RENEW_DEADLINE: Duration = Duration::from_secs(2);
const RETRY_PERIOD: Duration = Duration::from_millis(200);
/// How long the test watches a standby for writes or vault calls it must not make: several
/// Lease rounds after it became ready.
const OBSERVE_STANDBY: Duration = Duration::from_secs(1);

fn replica(world: &World, identity: &str, health: Option<SocketAddr>) -> OperatorConfig {
    let leader = LeaderElectionConfig {
        lease_duration: LEASE,
        renew_deadline: RENEW_DEADLINE,
        retry_period: RETRY_PERIOD,
        ..LeaderElectionConfig::new(NAMESPACE, LEASE_NAME, identity)
    };
    OperatorConfig {
        leader: Some(leader),
        instance: identity.to_owned(),
        http: health.map(|health| (free_address(), health)),
        ..world.operator_config()
    }
}

fn free_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Kubernetes writes other than the Lease (which every candidate writes by design).
fn kube_writes(world: &World) -> u64 {
    world
        .kube
        .stats()
        .requests
        .iter()
        .filter(|(key, _)| {
            matches!(
                key.verb.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            ) && key.resource != "leases"
        })
        .map(|(_, count)| count)
        .sum()
}

/// Vault requests of any kind and token requests of any result.
fn azure_calls(world: &World) -> (u64, u64) {
    let stats = world.azure.stats();
    let vault = stats.requests.iter().map(|(_, count)| count).sum();
    let tokens = stats.tokens.iter().map(|(_, count)| count).sum();
    (vault, tokens)
}

fn actors_alive(handle: &OperatorHandle) -> f64 {
    handle
        .telemetry
        .registry
        .gather()
        .iter()
        .filter(|family| family.name() == "akvsync_actors_alive")
        .flat_map(|family| {
            family
                .get_metric()
                .iter()
                .map(|metric| metric.get_gauge().get_value())
        })
        .sum()
}

async fn ready(health: SocketAddr) -> bool {
    reqwest::get(format!("http://{health}/readyz"))
        .await
        .is_ok_and(|response| response.status().is_success())
}

async fn lease_holder(world: &World) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(world.kube.client(), NAMESPACE);
    timed(leases.get_opt(LEASE_NAME))
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
}

/// A leader `replica-a` with five synced ExternalSecrets.
async fn leader_with_synced_external_secrets(world: &World) -> OperatorHandle {
    world.set_secret("v", "value");
    let mut leader = operator::spawn(replica(world, "replica-a", None)).unwrap();
    timed(leader.leading()).await.unwrap();
    world.apply_external_secrets(5, "v", "v").await;
    for index in 0..5 {
        world
            .wait_for_ready(NAMESPACE, &format!("es-{index}"), "True")
            .await;
    }
    leader
}

/// A standby `replica-b`, once its watches synced and its probe answers 200 on `health`.
async fn ready_standby(world: &World, health: SocketAddr) -> OperatorHandle {
    let mut standby = operator::spawn(replica(world, "replica-b", Some(health))).unwrap();
    timed(standby.synced()).await.unwrap();
    eventually("the standby's /readyz to answer 200", || async {
        ready(health).await.then_some(())
    })
    .await;
    standby
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_is_ready_and_makes_no_writes_and_no_vault_calls() {
    let world = World::new().await;
    let first = leader_with_synced_external_secrets(&world).await;
    let writes = kube_writes(&world);
    let calls = azure_calls(&world);

    let health = free_address();
    let second = ready_standby(&world, health).await;
    // Absence cannot be awaited: watch the standby for a few Lease rounds.
    tokio::time::sleep(OBSERVE_STANDBY).await;
    assert!(ready(health).await, "the standby stays ready");
    assert!(!second.is_leading());
    assert_eq!(lease_holder(&world).await.as_deref(), Some("replica-a"));
    assert_eq!(
        kube_writes(&world),
        writes,
        "the standby wrote to Kubernetes"
    );
    assert_eq!(azure_calls(&world), calls, "the standby called Azure");
    assert_eq!(actors_alive(&second), 0.0, "the standby started actors");
    second.stop().unwrap();
    first.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_a_released_lease_without_rewriting_anything() {
    let world = World::new().await;
    let first = leader_with_synced_external_secrets(&world).await;
    let mut second = ready_standby(&world, free_address()).await;
    let secret_writes = world.kube.stats().secret_writes;
    let writes = kube_writes(&world);
    let gets = world.azure.stats().gets(VAULT);

    let stopped = tokio::time::Instant::now();
    first.stop().unwrap();
    timed(second.leading()).await.unwrap();
    let took_over = stopped.elapsed();
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "after",
            "1h",
            &[("v", "v")],
        ))
        .await;
    world.wait_for_ready(NAMESPACE, "after", "True").await;
    let new_ready = stopped.elapsed();
    eprintln!(
        "after SIGTERM: leading in {took_over:?}, a new ExternalSecret Ready in {new_ready:?}"
    );

    world.wait_for_value(NAMESPACE, "after", "v", "value").await;
    assert_eq!(
        world.kube.stats().secret_writes,
        secret_writes + 1,
        "only the new ExternalSecret's Secret was written"
    );
    // The new ExternalSecret: its apply, its Secret, its status and its Event.
    let rewrites = kube_writes(&world) - writes;
    assert!(
        rewrites <= 4,
        "the new leader wrote {rewrites} times; the new ExternalSecret accounts for 4"
    );
    assert_eq!(actors_alive(&second), 6.0, "one actor per ExternalSecret");
    assert_eq!(
        world.azure.stats().gets(VAULT) - gets,
        1,
        "the new leader read only the new ExternalSecret's value"
    );
    second.stop().unwrap();
}

/// The operator binary as a child process, killed with SIGKILL on drop if still running.
struct ChildOperator(Child);

impl Drop for ChildOperator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn operator_process(world: &World) -> ChildOperator {
    let kubeconfig = world
        .kube
        .kubeconfig_path("admin")
        .expect("admin kubeconfig");
    let child = Command::new(env!("CARGO_BIN_EXE_akvsync"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--extra-ca-file")
        .arg(world.azure.ca_path())
        .arg("--authority-host")
        .arg(world.azure.authority_host())
        .args(["--workers", "1", "--log-format", "text"])
        .arg(format!("--metrics-addr={}", free_address()))
        .arg(format!("--health-addr={}", free_address()))
        .args(["--leader-elect", "--leader-election-id", LEASE_NAME])
        .args(["--leader-election-namespace", NAMESPACE])
        .arg(format!(
            "--leader-election-lease-duration={}ms",
            LEASE.as_millis()
        ))
        .arg(format!(
            "--leader-election-renew-deadline={}ms",
            RENEW_DEADLINE.as_millis()
        ))
        .arg(format!(
            "--leader-election-retry-period={}ms",
            RETRY_PERIOD.as_millis()
        ))
        .env("HOSTNAME", "process-a")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the operator binary");
    ChildOperator(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_from_a_killed_leader_after_the_lease_expires() {
    let world = World::new().await;
    world.set_secret("v", "value");
    let mut leader = operator_process(&world);
    let holder = eventually("the operator process to lead", || async {
        lease_holder(&world)
            .await
            .filter(|holder| holder.starts_with("process-a"))
    })
    .await;
    world.apply_external_secrets(5, "v", "v").await;
    for index in 0..5 {
        world
            .wait_for_ready(NAMESPACE, &format!("es-{index}"), "True")
            .await;
    }
    let mut standby = ready_standby(&world, free_address()).await;
    assert!(!standby.is_leading());
    let secret_writes = world.kube.stats().secret_writes;

    // kill -9: no release, the Lease has to expire.
    leader.0.kill().expect("SIGKILL the leader");
    let killed = tokio::time::Instant::now();
    leader.0.wait().expect("reap the leader");
    // Create the ExternalSecret at once: it is synced by whoever leads next.
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "after",
            "1h",
            &[("v", "v")],
        ))
        .await;
    timed(standby.leading()).await.unwrap();
    let took_over = killed.elapsed();
    world.wait_for_ready(NAMESPACE, "after", "True").await;
    let new_ready = killed.elapsed();
    eprintln!(
        "after kill -9 of {holder}: leading in {took_over:?}, a new ExternalSecret Ready in {new_ready:?} (lease {LEASE:?})"
    );
    assert_eq!(
        world.kube.stats().secret_writes,
        secret_writes + 1,
        "only the new ExternalSecret's Secret was written"
    );
    assert_eq!(lease_holder(&world).await.as_deref(), Some("replica-b"));
    standby.stop().unwrap();
}
