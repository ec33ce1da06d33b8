//! Lease-based leader election against the Kubernetes API emulator: one leader among
//! candidates, failover within the lease duration after a crash, immediate takeover after a
//! release, stepping down when renewals fail, and the Lease fields client-go writes.

use std::time::Duration;

use akvsync::observability::leader::{LeaderElectionConfig, LeaderElector, LeaderState};
use akvsync_emulators::kubeapi::{FaultMatch, FaultResponse, FaultRule, KubeConfig, KubeEmulator};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const NAMESPACE: &str = "akvsync-system";
const LEASE: &str = "akvsync-controller";
/// Short timings; the lease counts whole seconds, so 1 s is the shortest lease.
const LEASE_DURATION: Duration = Duration::from_secs(1);
const RENEW_DEADLINE: Duration = Duration::from_millis(600);
const RETRY_PERIOD: Duration = Duration::from_millis(100);
/// Bound on waiting for a state the test expects soon (slow shared CI machines).
const SETTLE: Duration = Duration::from_secs(10);
/// Scheduling slack allowed on top of a protocol bound.
const SLACK: Duration = Duration::from_millis(500);

async fn emulator() -> KubeEmulator {
    let emulator = KubeEmulator::start(KubeConfig::default())
        .await
        .expect("emulator starts");
    let namespaces: Api<Namespace> = Api::all(emulator.client());
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}))
            .expect("namespace");
    tokio::time::timeout(
        SETTLE,
        namespaces.create(&PostParams::default(), &namespace),
    )
    .await
    .expect("in time")
    .expect("namespace created");
    emulator
}

fn config(identity: &str, lease_duration: Duration) -> LeaderElectionConfig {
    let mut config = LeaderElectionConfig::new(NAMESPACE, LEASE, identity);
    config.lease_duration = lease_duration;
    config.renew_deadline = RENEW_DEADLINE;
    config.retry_period = RETRY_PERIOD;
    config
}

struct Candidate {
    identity: String,
    states: watch::Receiver<LeaderState>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), akvsync::observability::leader::LeaderError>>,
}

fn candidate(emulator: &KubeEmulator, identity: &str, lease_duration: Duration) -> Candidate {
    let elector = LeaderElector::new(emulator.client(), config(identity, lease_duration))
        .expect("valid config");
    let states = elector.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(elector.run(shutdown.clone()));
    Candidate {
        identity: identity.to_owned(),
        states,
        shutdown,
        task,
    }
}

async fn wait_for(
    candidate: &mut Candidate,
    within: Duration,
    wanted: impl FnMut(&LeaderState) -> bool,
) -> LeaderState {
    let reached = tokio::time::timeout(within, candidate.states.wait_for(wanted))
        .await
        .map(|state| state.expect("elector alive").clone());
    reached.unwrap_or_else(|_| {
        panic!(
            "{} did not reach the expected state in {within:?}; it is {:?}",
            candidate.identity,
            *candidate.states.borrow()
        )
    })
}

fn known(state: &LeaderState) -> bool {
    *state != LeaderState::Unknown
}

async fn lease(emulator: &KubeEmulator) -> Lease {
    let leases: Api<Lease> = Api::namespaced(emulator.client(), NAMESPACE);
    tokio::time::timeout(SETTLE, leases.get(LEASE))
        .await
        .expect("in time")
        .expect("lease exists")
}

/// Starts two candidates and returns (leader, standby) once both know their state.
async fn leader_and_standby(
    emulator: &KubeEmulator,
    lease_duration: Duration,
) -> (Candidate, Candidate) {
    let mut first = candidate(emulator, "candidate-a", lease_duration);
    let mut second = candidate(emulator, "candidate-b", lease_duration);
    let first_state = wait_for(&mut first, SETTLE, known).await;
    let second_state = wait_for(&mut second, SETTLE, known).await;
    let (leader, mut standby) = match (first_state, second_state) {
        (LeaderState::Leader, _) => (first, second),
        (_, LeaderState::Leader) => (second, first),
        states => panic!("no leader: {states:?}"),
    };
    let holder = leader.identity.clone();
    let state = wait_for(
        &mut standby,
        SETTLE,
        |state| matches!(state, LeaderState::Standby { holder: seen } if *seen == holder),
    )
    .await;
    assert!(!state.is_leader());
    assert!(leader.states.borrow().is_leader());
    (leader, standby)
}

#[tokio::test]
async fn exactly_one_of_several_candidates_leads() {
    let emulator = emulator().await;
    let mut candidates: Vec<Candidate> = (0..4)
        .map(|index| candidate(&emulator, &format!("candidate-{index}"), LEASE_DURATION))
        .collect();
    for candidate in &mut candidates {
        wait_for(candidate, SETTLE, known).await;
    }
    // Watch every state change for several renew rounds: never two leaders at once.
    let observe_until = Instant::now() + RETRY_PERIOD * 10;
    let mut receivers: Vec<_> = candidates
        .iter()
        .map(|candidate| candidate.states.clone())
        .collect();
    loop {
        let leaders: Vec<&str> = candidates
            .iter()
            .filter(|candidate| candidate.states.borrow().is_leader())
            .map(|candidate| candidate.identity.as_str())
            .collect();
        assert_eq!(leaders.len(), 1, "leaders: {leaders:?}");
        let changes = receivers
            .iter_mut()
            .map(|receiver| Box::pin(receiver.changed()));
        match tokio::time::timeout_at(observe_until, futures::future::select_all(changes)).await {
            Ok((changed, _, _)) => changed.expect("elector alive"),
            Err(_) => break,
        }
    }
    let leader = candidates
        .iter()
        .find(|candidate| candidate.states.borrow().is_leader())
        .expect("a leader");
    let spec = lease(&emulator).await.spec.expect("spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(leader.identity.as_str())
    );
    for candidate in &candidates {
        if candidate.identity != leader.identity {
            assert_eq!(
                *candidate.states.borrow(),
                LeaderState::Standby {
                    holder: leader.identity.clone()
                }
            );
        }
    }
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_within_the_lease_duration() {
    let emulator = emulator().await;
    let (leader, mut standby) = leader_and_standby(&emulator, LEASE_DURATION).await;
    // A crash: the task dies without releasing the Lease.
    leader.task.abort();
    let crashed = Instant::now();
    let bound = LEASE_DURATION + RETRY_PERIOD + SLACK;
    wait_for(&mut standby, SETTLE, LeaderState::is_leader).await;
    let took = crashed.elapsed();
    assert!(took <= bound, "takeover took {took:?}, more than {bound:?}");
    // The last renewal was at most one retry period before the crash: taking over sooner
    // than this would mean taking a live lease.
    assert!(
        took >= LEASE_DURATION - RETRY_PERIOD * 2,
        "took over after {took:?}, before the lease could have expired"
    );
    let spec = lease(&emulator).await.spec.expect("spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(standby.identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(1));
    standby.shutdown.cancel();
}

#[tokio::test]
async fn a_released_lease_is_taken_over_at_the_next_retry() {
    let emulator = emulator().await;
    // A long lease: waiting for expiry would take far longer than the bound below.
    let long_lease = Duration::from_secs(30);
    let (mut leader, mut standby) = leader_and_standby(&emulator, long_lease).await;
    leader.shutdown.cancel();
    let released = Instant::now();
    tokio::time::timeout(SETTLE, &mut leader.task)
        .await
        .expect("elector stops in time")
        .expect("task")
        .expect("released cleanly");
    assert_eq!(*leader.states.borrow(), LeaderState::Unknown);
    wait_for(&mut standby, SETTLE, LeaderState::is_leader).await;
    let took = released.elapsed();
    assert!(
        took <= RETRY_PERIOD * 2 + SLACK,
        "takeover after release took {took:?}"
    );
    let spec = lease(&emulator).await.spec.expect("spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(standby.identity.as_str())
    );
    assert_eq!(spec.lease_duration_seconds, Some(30));
    assert_eq!(spec.lease_transitions, Some(1));
    standby.shutdown.cancel();
}

#[tokio::test]
async fn a_leader_that_cannot_renew_steps_down_before_its_lease_expires() {
    let emulator = emulator().await;
    let (mut leader, standby) = leader_and_standby(&emulator, LEASE_DURATION).await;
    emulator.faults().inject(FaultRule {
        matches: FaultMatch {
            verb: Some("update".into()),
            resource: Some("leases".into()),
            user: None,
        },
        response: FaultResponse::ServerError(503),
        count: None,
    });
    let failing = Instant::now();
    wait_for(&mut leader, SETTLE, |state| *state == LeaderState::Unknown).await;
    let took = failing.elapsed();
    // It stepped down no later than the renew deadline after its last renewal, and so before
    // the lease could expire for the standby.
    assert!(
        took <= RENEW_DEADLINE + RETRY_PERIOD + SLACK,
        "stepped down after {took:?}"
    );
    assert!(!standby.states.borrow().is_leader());
    emulator.faults().clear();
    let mut candidates = [leader, standby];
    let leader_index = tokio::time::timeout(SETTLE, async {
        loop {
            if let Some(index) = candidates
                .iter()
                .position(|candidate| candidate.states.borrow().is_leader())
            {
                return index;
            }
            let [first, second] = &mut candidates;
            tokio::select! {
                changed = first.states.changed() => changed.expect("alive"),
                changed = second.states.changed() => changed.expect("alive"),
            }
        }
    })
    .await
    .expect("a leader again once the API recovers");
    let spec = lease(&emulator).await.spec.expect("spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(candidates[leader_index].identity.as_str())
    );
}

#[tokio::test]
async fn acquiring_and_renewing_write_the_lease_fields_client_go_writes() {
    let emulator = emulator().await;
    let mut elector = LeaderElector::new(emulator.client(), config("solo", LEASE_DURATION))
        .expect("valid config");
    let states = elector.subscribe();
    assert!(elector.try_acquire_or_renew().await.expect("acquires"));
    assert_eq!(*states.borrow(), LeaderState::Leader);
    let acquired = lease(&emulator).await;
    let spec = acquired.spec.clone().expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("solo"));
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.acquire_time, spec.renew_time);

    assert!(elector.try_acquire_or_renew().await.expect("renews"));
    let renewed = lease(&emulator).await;
    let renewed_spec = renewed.spec.clone().expect("spec");
    assert_eq!(renewed_spec.acquire_time, spec.acquire_time);
    assert!(renewed_spec.renew_time > spec.renew_time);
    assert_eq!(renewed_spec.lease_transitions, Some(0));
    assert_ne!(
        renewed.metadata.resource_version, acquired.metadata.resource_version,
        "every renewal is a new resourceVersion"
    );

    elector.release().await.expect("releases");
    let released = lease(&emulator).await.spec.expect("spec");
    assert_eq!(released.holder_identity, None);
    assert_eq!(
        *states.borrow(),
        LeaderState::Standby {
            holder: String::new()
        }
    );
}

#[tokio::test]
async fn a_stale_write_loses_to_the_candidate_that_wrote_first() {
    let emulator = emulator().await;
    let leases: Api<Lease> = Api::namespaced(emulator.client(), NAMESPACE);
    let mut first = LeaderElector::new(emulator.client(), config("first", LEASE_DURATION))
        .expect("valid config");
    assert!(first.try_acquire_or_renew().await.expect("acquires"));
    // Read the Lease as a second candidate would, let the holder renew, then write the stale
    // copy: the apiserver refuses it, which is what keeps two candidates from both leading.
    let stale = leases.get(LEASE).await.expect("lease");
    assert!(first.try_acquire_or_renew().await.expect("renews"));
    let mut takeover = stale.clone();
    takeover.spec.as_mut().expect("spec").holder_identity = Some("second".into());
    let refused = leases
        .replace(LEASE, &PostParams::default(), &takeover)
        .await
        .expect_err("stale write refused");
    assert!(
        matches!(&refused, kube::Error::Api(status) if status.code == 409),
        "{refused:?}"
    );
    let mut second = LeaderElector::new(emulator.client(), config("second", LEASE_DURATION))
        .expect("valid config");
    assert!(!second.try_acquire_or_renew().await.expect("reads"));
    assert_eq!(
        *second.subscribe().borrow(),
        LeaderState::Standby {
            holder: "first".into()
        }
    );
}
