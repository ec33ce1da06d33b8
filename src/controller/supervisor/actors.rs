//! The live actors of one kind of resource, and the routing of its watch events to them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::Addr;
use akvsync_actors::mailbox::{Delivery, MailboxMetrics, Notice, Outbox};
use akvsync_actors::resource::{Reconciler, ResourceActor};
use akvsync_actors::runtime::Runtime;
use kube::core::DeserializeGuard;
use kube::runtime::watcher::Event as WatchEvent;
use kube::{Resource, ResourceExt};
use tracing::warn;

use crate::observability::{ControllerMetrics, ResourceKind};

/// A resource's namespace and name.
pub type Key = (String, String);

/// The live actors of one kind of resource, keyed by namespace and name.
pub struct Actors<R: Reconciler> {
    kind: &'static str,
    reconciler: Arc<R>,
    actors: HashMap<Key, Addr<ResourceActor<R>>>,
    /// Notices for actors whose mailbox was full.
    outbox: Outbox<R>,
    overflows: MailboxMetrics,
    /// While standing by: the latest version of every resource, whose actors start on [`super::Lead`].
    waiting: Option<HashMap<Key, Arc<R::Resource>>>,
    /// Keys seen during a relist, to stop the actors of resources that vanished meanwhile.
    relisting: Option<HashSet<Key>>,
}

impl<R> Actors<R>
where
    R: Reconciler,
    R::Resource: kube::Resource + Clone + std::fmt::Debug,
{
    /// Holds resources without actors until [`Actors::start`].
    pub fn new(kind: &'static str, reconciler: R, overflows: MailboxMetrics) -> Self {
        Self {
            kind,
            reconciler: Arc::new(reconciler),
            actors: HashMap::new(),
            outbox: Outbox::default(),
            overflows,
            waiting: Some(HashMap::new()),
            relisting: None,
        }
    }

    /// Starts an actor for every resource kept while standing by; from now on, resources get
    /// their actors as they are seen.
    pub fn start(&mut self, runtime: &Runtime, metrics: &ControllerMetrics) {
        for (key, resource) in self.waiting.take().unwrap_or_default() {
            self.spawn(runtime, metrics, key, resource);
        }
    }

    fn spawn(
        &mut self,
        runtime: &Runtime,
        metrics: &ControllerMetrics,
        key: Key,
        resource: Arc<R::Resource>,
    ) {
        let reconciler = Arc::clone(&self.reconciler);
        let actor = runtime.spawn(move |_| ResourceActor::new(reconciler, resource));
        self.actors.insert(key, actor);
        metrics.actor_started(self.kind);
    }

    /// Routes one watch event; returns true when the initial list is complete.
    pub fn handle(
        &mut self,
        runtime: &Runtime,
        metrics: &ControllerMetrics,
        event: WatchEvent<DeserializeGuard<R::Resource>>,
    ) -> bool {
        match event {
            WatchEvent::Init => self.relisting = Some(HashSet::new()),
            WatchEvent::InitDone => {
                if let Some(seen) = self.relisting.take() {
                    if let Some(waiting) = &mut self.waiting {
                        waiting.retain(|key, _| seen.contains(key));
                    }
                    let gone: Vec<_> = self
                        .actors
                        .keys()
                        .filter(|key| !seen.contains(*key))
                        .cloned()
                        .collect();
                    for key in gone {
                        self.stop(metrics, &key);
                    }
                }
                return true;
            }
            WatchEvent::Apply(DeserializeGuard(object))
            | WatchEvent::InitApply(DeserializeGuard(object)) => match object {
                Ok(mut resource) => {
                    // managedFields are the bulk of an applied object and nothing reads them:
                    // with 100k resources held by actors, they would be most of the memory.
                    resource.meta_mut().managed_fields = None;
                    let key = (
                        resource.namespace().unwrap_or_default(),
                        resource.name_any(),
                    );
                    if let Some(seen) = &mut self.relisting {
                        seen.insert(key.clone());
                    }
                    let resource = Arc::new(resource);
                    if let Some(waiting) = &mut self.waiting {
                        waiting.insert(key, resource);
                        return false;
                    }
                    match self.actors.get(&key) {
                        Some(actor) if actor.connected() => {
                            self.notify(&key, Notice::Update(resource))
                        }
                        _ => self.spawn(runtime, metrics, key, resource),
                    }
                }
                Err(invalid) => warn!(
                    kind = self.kind,
                    namespace = %invalid.metadata.namespace.clone().unwrap_or_default(),
                    name = %invalid.metadata.name.clone().unwrap_or_default(),
                    error = %invalid.error,
                    "ignoring an object that does not parse"
                ),
            },
            WatchEvent::Delete(DeserializeGuard(object)) => {
                let meta = match &object {
                    Ok(resource) => resource.meta().clone(),
                    Err(invalid) => invalid.metadata.clone(),
                };
                let key = (
                    meta.namespace.unwrap_or_default(),
                    meta.name.unwrap_or_default(),
                );
                if let Some(waiting) = &mut self.waiting {
                    waiting.remove(&key);
                }
                self.stop(metrics, &key);
            }
        }
        false
    }

    /// Stops a resource's actor and removes its series.
    fn stop(&mut self, metrics: &ControllerMetrics, key: &Key) {
        if self.actors.contains_key(key) {
            self.notify(key, Notice::Stop);
            self.actors.remove(key);
            metrics.actor_stopped(self.kind);
        }
        self.forget_series(metrics, key);
    }

    /// Sends a notice without queueing past the actor's mailbox; one that does not fit is
    /// counted and kept for [`Actors::retry_deferred`]. Sends go through the one address the
    /// map holds: every clone of an address may put one message past the capacity.
    fn notify(&mut self, key: &Key, notice: Notice<R::Resource>) {
        let Some(actor) = self.actors.get(key) else {
            return;
        };
        if self.outbox.send(actor, notice) == Delivery::Deferred {
            self.overflows.overflowed(self.kind);
        }
    }

    /// Delivers the notices that waited for room; true while some still wait.
    pub fn retry_deferred(&mut self) -> bool {
        self.outbox.retry();
        self.has_deferred()
    }

    pub fn has_deferred(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// A deleted resource's per-resource series go (its condition would otherwise stay, and
    /// alert, forever).
    fn forget_series(&self, metrics: &ControllerMetrics, (namespace, name): &Key) {
        if let Some(kind) = ResourceKind::from_kind(self.kind) {
            metrics.deleted(kind, namespace, name);
        }
    }

    /// Asks one actor to sync now.
    pub fn sync(&mut self, key: &Key) {
        self.notify(key, Notice::SyncNow);
    }

    /// Asks every actor whose last sync failed to retry now.
    pub fn retry_failing(&mut self) {
        self.notify_all(|| Notice::RetryIfFailing);
    }

    /// Asks every actor to sync now.
    pub fn sync_all(&mut self) {
        self.notify_all(|| Notice::SyncNow);
    }

    fn notify_all(&mut self, notice: impl Fn() -> Notice<R::Resource>) {
        for actor in self.actors.values() {
            if self.outbox.send(actor, notice()) == Delivery::Deferred {
                self.overflows.overflowed(self.kind);
            }
        }
    }

    /// Live actors, or resources known while standing by.
    pub fn len(&self) -> usize {
        self.actors.len() + self.waiting.as_ref().map_or(0, HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observability::MetricsGranularity;
    use actix::prelude::*;
    use akvsync_actors::resource::Trigger;
    use akvsync_actors::schedule::{Outcome, Refresh};
    use futures::FutureExt;
    use futures::future::BoxFuture;
    use k8s_openapi::api::core::v1::ConfigMap;
    use prometheus::{Encoder, Registry, TextEncoder};
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// Reports the `version` data of every ConfigMap it syncs.
    struct Recording(mpsc::UnboundedSender<String>);

    impl Reconciler for Recording {
        type Resource = ConfigMap;

        fn reconcile(&self, map: Arc<ConfigMap>, _: Trigger) -> BoxFuture<'static, Outcome> {
            let version = map.data.clone().unwrap_or_default()["version"].clone();
            self.0.send(version).unwrap();
            futures::future::ready(Outcome::Synced).boxed()
        }

        fn refresh(&self, _: &ConfigMap) -> Refresh {
            Refresh::OnChange
        }

        fn changed(&self, current: &ConfigMap, next: &ConfigMap) -> bool {
            current.data != next.data
        }
    }

    /// Holds its arbiter's thread until released.
    struct Blocker(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>);

    impl Actor for Blocker {
        type Context = Context<Self>;

        fn started(&mut self, _: &mut Context<Self>) {
            self.0.send(()).unwrap();
            self.1.recv().unwrap();
        }
    }

    fn config_map(version: usize) -> WatchEvent<DeserializeGuard<ConfigMap>> {
        let map: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "m", "namespace": "n"},
            "data": {"version": version.to_string()},
        }))
        .unwrap();
        WatchEvent::Apply(DeserializeGuard(Ok(map)))
    }

    fn overflows(registry: &Registry) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .unwrap();
        String::from_utf8(text)
            .unwrap()
            .lines()
            .find(|line| line.starts_with("akvsync_mailbox_overflows_total{kind=\"ConfigMap\"}"))
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn updates_past_a_full_mailbox_are_counted_and_the_latest_arrives() {
        let system = actix::System::new();
        system.block_on(async {
            let registry = Registry::new();
            let metrics =
                ControllerMetrics::register(&registry, MetricsGranularity::PerResource).unwrap();
            let mailboxes = MailboxMetrics::register(&registry, &["ConfigMap"]).unwrap();
            assert_eq!(
                overflows(&registry),
                "akvsync_mailbox_overflows_total{kind=\"ConfigMap\"} 0"
            );
            let runtime = Runtime::start(1);
            let (blocking, blocked) = std::sync::mpsc::channel();
            let (release, released) = std::sync::mpsc::channel();
            runtime.spawn(move |_| Blocker(blocking, released));
            blocked.recv_timeout(Duration::from_secs(30)).unwrap();

            let (synced, mut versions) = mpsc::unbounded_channel();
            let mut actors = Actors::new("ConfigMap", Recording(synced), mailboxes);
            actors.start(&runtime, &metrics);
            let updates = 64;
            for version in 0..=updates {
                actors.handle(&runtime, &metrics, config_map(version));
            }
            let counted: u64 = overflows(&registry)
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                counted > 0 && counted < updates as u64,
                "overflows counted: {counted}"
            );
            assert!(actors.has_deferred());

            release.send(()).unwrap();
            for _ in 0..3000 {
                if !actors.retry_deferred() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(!actors.has_deferred());
            let last = updates.to_string();
            loop {
                let version = tokio::time::timeout(Duration::from_secs(30), versions.recv())
                    .await
                    .unwrap()
                    .unwrap();
                if version == last {
                    break;
                }
            }
            runtime.stop();
        });
    }
}
