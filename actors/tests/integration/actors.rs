//! The actor topology end to end with fakes: resource actors on several arbiters fetch through one
//! store actor, and one remote call serves them all.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use akvsync_actors::remote::{ObjectKind, RemoteKey};
use akvsync_actors::resource::{Reconciler, ResourceActor, RetryIfFailing, Trigger, Update};
use akvsync_actors::runtime::Runtime;
use akvsync_actors::schedule::{Outcome, Refresh};
use akvsync_actors::store::{
    Connect, ConnectFailure, Connection, Fetch, LimiterRegistry, Priority, Reconnect, Retire,
    StoreActor, StoreConfig, StoreCore, StoreMetrics, StoreService, VaultBudget,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use support::{FakeVault, HOST};
use tokio::sync::mpsc;

/// Connects with the connections a test hands it, one per attempt, and counts attempts.
struct Connections {
    next: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Connection>>>,
    attempts: std::sync::atomic::AtomicU32,
}

impl Connections {
    fn new() -> (Arc<Self>, mpsc::UnboundedSender<Connection>) {
        let (send, next) = mpsc::unbounded_channel();
        let connections = Arc::new(Self {
            next: Arc::new(tokio::sync::Mutex::new(next)),
            attempts: Default::default(),
        });
        (connections, send)
    }

    fn attempts(&self) -> u32 {
        self.attempts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Connect for Connections {
    fn connect(&self) -> BoxFuture<'static, Connection> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let next = Arc::clone(&self.next);
        async move {
            let next = next.lock().await.recv().await;
            next.unwrap_or_else(|| {
                Err(ConnectFailure {
                    message: "test over".into(),
                    retry_after: None,
                })
            })
        }
        .boxed()
    }
}

/// A resource that names the secret it reads.
struct Wanted {
    secret: String,
}

/// Fetches the wanted secret through the store and reports what it got.
struct FetchingReconciler {
    store: Addr<StoreActor>,
    synced: mpsc::UnboundedSender<(String, Trigger, String)>,
}

impl Reconciler for FetchingReconciler {
    type Resource = Wanted;

    fn reconcile(&self, resource: Arc<Wanted>, trigger: Trigger) -> BoxFuture<'static, Outcome> {
        let store = self.store.clone();
        let synced = self.synced.clone();
        async move {
            let key = RemoteKey::new(ObjectKind::Secret, resource.secret.clone(), None);
            let fetched = store
                .send(Fetch {
                    key,
                    max_age: Duration::from_secs(3600),
                    turn: Priority::Change.into(),
                })
                .await;
            match fetched {
                Ok(Ok(value)) => {
                    let value = String::from_utf8(value.value.expose().to_vec()).unwrap();
                    synced
                        .send((resource.secret.clone(), trigger, value))
                        .unwrap();
                    Outcome::Synced
                }
                _ => Outcome::Failed,
            }
        }
        .boxed()
    }

    fn refresh(&self, _: &Wanted) -> Refresh {
        Refresh::OnChange
    }

    fn changed(&self, current: &Wanted, next: &Wanted) -> bool {
        current.secret != next.secret
    }
}

#[test]
fn resource_actors_on_every_arbiter_share_one_store_call() {
    let system = actix::System::new();
    system.block_on(async {
        let runtime = Runtime::start(2);
        let vault = FakeVault::with(&[("shared", "value"), ("other", "second")]);
        let metrics = Arc::new(StoreMetrics::unregistered().unwrap());
        let limiter = LimiterRegistry::new(VaultBudget::default()).limiter(HOST);
        let core = Arc::new(StoreCore::new(
            vault.clone(),
            limiter,
            metrics,
            &StoreConfig::default(),
        ));
        let (connections, connect) = Connections::new();
        let store = runtime.spawn(move |_| StoreActor::new(connections));

        let (synced, mut results) = mpsc::unbounded_channel();
        let reconciler = Arc::new(FetchingReconciler {
            store: store.clone(),
            synced,
        });
        let resources: Vec<_> = (0..10)
            .map(|_| {
                let reconciler = Arc::clone(&reconciler);
                runtime.spawn(move |_| {
                    ResourceActor::new(
                        reconciler,
                        Arc::new(Wanted {
                            secret: "shared".into(),
                        }),
                    )
                })
            })
            .collect();
        // The store connects after the resources asked: their fetches wait for it.
        connect.send(Ok(core as Arc<dyn StoreService>)).unwrap();

        let timeout = Duration::from_secs(30);
        for _ in 0..10 {
            let (secret, trigger, value) = tokio::time::timeout(timeout, results.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (secret.as_str(), trigger, value.as_str()),
                ("shared", Trigger::Changed, "value")
            );
        }
        assert_eq!(vault.gets(), 1);

        // An update that changes nothing does not sync; a real change does.
        resources[0]
            .send(Update(Arc::new(Wanted {
                secret: "shared".into(),
            })))
            .await
            .unwrap();
        resources[0]
            .send(Update(Arc::new(Wanted {
                secret: "other".into(),
            })))
            .await
            .unwrap();
        let (secret, trigger, value) = tokio::time::timeout(timeout, results.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (secret.as_str(), trigger, value.as_str()),
            ("other", Trigger::Changed, "second")
        );
        assert!(
            results.try_recv().is_err(),
            "the unchanged update did not sync"
        );
        runtime.stop();
    });
}

fn fetch_x() -> Fetch {
    Fetch {
        key: RemoteKey::new(ObjectKind::Secret, "x", None),
        max_age: Duration::ZERO,
        turn: Priority::Change.into(),
    }
}

#[test]
fn a_failed_store_fails_requests_with_its_reason_and_retries_when_transient() {
    let system = actix::System::new();
    system.block_on(async {
        let runtime = Runtime::start(1);
        let (connections, connect) = Connections::new();
        let attempts = Arc::clone(&connections);
        let store = runtime.spawn(move |_| StoreActor::new(connections));
        connect
            .send(Err(ConnectFailure {
                message: "AADSTS7000215: invalid client secret".into(),
                retry_after: Some(Duration::from_millis(10)),
            }))
            .unwrap();
        let result = store.send(fetch_x()).await.unwrap();
        assert_eq!(
            result.unwrap_err().to_string(),
            "store is not ready: AADSTS7000215: invalid client secret"
        );
        // A transient failure connects again by itself.
        let vault = FakeVault::with(&[("x", "value")]);
        let core = Arc::new(StoreCore::new(
            vault,
            LimiterRegistry::new(VaultBudget::default()).limiter(HOST),
            Arc::new(StoreMetrics::unregistered().unwrap()),
            &StoreConfig::default(),
        ));
        connect.send(Ok(core as Arc<dyn StoreService>)).unwrap();
        let mut fetched = store.send(fetch_x()).await.unwrap();
        for _ in 0..3000 {
            if fetched.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            fetched = store.send(fetch_x()).await.unwrap();
        }
        assert_eq!(fetched.unwrap().value.expose(), b"value");
        assert_eq!(attempts.attempts(), 2);

        // A spec failure waits for a change; a retired store fails with why.
        store.send(Reconnect).await.unwrap();
        connect
            .send(Err(ConnectFailure {
                message: "missing tenantID in store config".into(),
                retry_after: None,
            }))
            .unwrap();
        let mut failed = store.send(fetch_x()).await.unwrap();
        for _ in 0..3000 {
            if failed.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            failed = store.send(fetch_x()).await.unwrap();
        }
        assert_eq!(
            failed.unwrap_err().to_string(),
            "store is not ready: missing tenantID in store config"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(attempts.attempts(), 3, "no retry after a spec failure");
        store
            .send(Retire("SecretStore vault was deleted".into()))
            .await
            .unwrap();
        assert_eq!(
            store
                .send(fetch_x())
                .await
                .unwrap()
                .unwrap_err()
                .to_string(),
            "store is not ready: SecretStore vault was deleted"
        );
        runtime.stop();
    });
}

/// Fails its first sync, then succeeds; reports every sync's trigger.
struct FailingOnce {
    syncs: std::sync::atomic::AtomicU32,
    triggers: mpsc::UnboundedSender<Trigger>,
}

impl Reconciler for FailingOnce {
    type Resource = Wanted;

    fn reconcile(&self, _: Arc<Wanted>, trigger: Trigger) -> BoxFuture<'static, Outcome> {
        let first = self.syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        self.triggers.send(trigger).unwrap();
        futures::future::ready(if first {
            Outcome::Failed
        } else {
            Outcome::Synced
        })
        .boxed()
    }

    fn refresh(&self, _: &Wanted) -> Refresh {
        Refresh::OnChange
    }

    fn changed(&self, current: &Wanted, next: &Wanted) -> bool {
        current.secret != next.secret
    }
}

#[test]
fn a_failing_resource_retries_at_once_when_asked_and_a_healthy_one_does_not() {
    let system = actix::System::new();
    system.block_on(async {
        let runtime = Runtime::start(1);
        let (triggers, mut seen) = mpsc::unbounded_channel();
        let reconciler = Arc::new(FailingOnce {
            syncs: Default::default(),
            triggers,
        });
        let actor = runtime.spawn(move |_| {
            ResourceActor::new(reconciler, Arc::new(Wanted { secret: "a".into() }))
        });
        let timeout = Duration::from_secs(30);
        let mut next = async || {
            tokio::time::timeout(timeout, seen.recv())
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(next().await, Trigger::Changed);
        // The first sync failed: the actor waits out a 5 s backoff, unless asked to retry.
        actor.send(RetryIfFailing).await.unwrap();
        assert_eq!(next().await, Trigger::Dependency);
        // Now healthy: asking again does nothing, so the next sync is the change below.
        actor.send(RetryIfFailing).await.unwrap();
        actor
            .send(Update(Arc::new(Wanted { secret: "b".into() })))
            .await
            .unwrap();
        assert_eq!(next().await, Trigger::Changed);
        runtime.stop();
    });
}
