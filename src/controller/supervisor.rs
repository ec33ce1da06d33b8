//! The supervisor: runs the watches, keeps the registry of live ExternalSecret actors, routes
//! changes to them, and keeps the stores and namespace labels current.
//!
//! A standby replica (leader election on, Lease held by another) runs the same watches but
//! starts no actors and connects no stores: it keeps the latest version of every resource, so
//! its caches are warm and `/readyz` can pass, and writes nothing and calls no vault. On
//! [`Lead`] it connects its stores and starts one actor per resource it already knows, so a
//! takeover relists nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use akvsync_actors::resource::{Reconciler, ResourceActor, RetryIfFailing, Stop, SyncNow, Update};
use akvsync_actors::runtime::Runtime;
use akvsync_crds::{
    ClusterExternalSecret, ClusterSecretStore, ExternalSecret, PushSecret, PushSecretSelector,
    SecretStore, StoreKind,
};
use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent, watcher};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::watch;
use tracing::{info, warn};

use super::cluster_external_secret::ClusterExternalSecretReconciler;
use super::context::Shared;
use super::external_secret::ExternalSecretReconciler;
use super::namespaces::selector_matches;
use super::push_secret::PushSecretReconciler;
use super::stores::StoreId;
use crate::observability::{ControllerMetrics, ResourceKind};

/// A resource's namespace and name.
type Key = (String, String);

/// The live actors of one kind of resource, keyed by namespace and name.
pub struct Actors<R: Reconciler> {
    kind: &'static str,
    reconciler: Arc<R>,
    actors: HashMap<(String, String), Addr<ResourceActor<R>>>,
    /// While standing by: the latest version of every resource, whose actors start on [`Lead`].
    waiting: Option<HashMap<Key, Arc<R::Resource>>>,
    /// Keys seen during a relist, to stop the actors of resources that vanished meanwhile.
    relisting: Option<HashSet<(String, String)>>,
}

impl<R> Actors<R>
where
    R: Reconciler,
    R::Resource: kube::Resource + Clone + std::fmt::Debug,
{
    /// Holds resources without actors until [`Actors::start`].
    fn new(kind: &'static str, reconciler: R) -> Self {
        Self {
            kind,
            reconciler: Arc::new(reconciler),
            actors: HashMap::new(),
            waiting: Some(HashMap::new()),
            relisting: None,
        }
    }

    /// Starts an actor for every resource kept while standing by; from now on, resources get
    /// their actors as they are seen.
    fn start(&mut self, runtime: &Runtime, metrics: &ControllerMetrics) {
        for (key, resource) in self.waiting.take().unwrap_or_default() {
            self.spawn(runtime, metrics, key, resource);
        }
    }

    fn spawn(
        &mut self,
        runtime: &Runtime,
        metrics: &ControllerMetrics,
        key: (String, String),
        resource: Arc<R::Resource>,
    ) {
        let reconciler = Arc::clone(&self.reconciler);
        let actor = runtime.spawn(move |_| ResourceActor::new(reconciler, resource));
        self.actors.insert(key, actor);
        metrics.actor_started(self.kind);
    }

    /// Routes one watch event; returns true when the initial list is complete.
    fn handle(
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
                        if let Some(actor) = self.actors.remove(&key) {
                            actor.do_send(Stop);
                            metrics.actor_stopped(self.kind);
                        }
                        self.forget_series(metrics, &key);
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
                        Some(actor) if actor.connected() => actor.do_send(Update(resource)),
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
                if let Some(actor) = self.actors.remove(&key) {
                    actor.do_send(Stop);
                    metrics.actor_stopped(self.kind);
                }
                self.forget_series(metrics, &key);
            }
        }
        false
    }

    /// A deleted resource's per-resource series go (its condition would otherwise stay, and
    /// alert, forever).
    fn forget_series(&self, metrics: &ControllerMetrics, (namespace, name): &(String, String)) {
        if let Some(kind) = ResourceKind::from_kind(self.kind) {
            metrics.deleted(kind, namespace, name);
        }
    }

    /// Asks one actor to sync now.
    fn sync(&self, key: &(String, String)) {
        if let Some(actor) = self.actors.get(key) {
            actor.do_send(SyncNow);
        }
    }

    /// Asks every actor whose last sync failed to retry now.
    fn retry_failing(&self) {
        for actor in self.actors.values() {
            actor.do_send(RetryIfFailing);
        }
    }

    /// Asks every actor to sync now.
    fn sync_all(&self) {
        for actor in self.actors.values() {
            actor.do_send(SyncNow);
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

/// One change from any of the supervisor's watches.
pub enum Change {
    SecretStore(WatchEvent<DeserializeGuard<SecretStore>>),
    ClusterSecretStore(WatchEvent<DeserializeGuard<ClusterSecretStore>>),
    ExternalSecret(WatchEvent<DeserializeGuard<ExternalSecret>>),
    ClusterExternalSecret(WatchEvent<DeserializeGuard<ClusterExternalSecret>>),
    PushSecret(WatchEvent<DeserializeGuard<PushSecret>>),
    Namespace(WatchEvent<PartialObjectMeta<Namespace>>),
    Secret(WatchEvent<PartialObjectMeta<Secret>>),
    WatchFailed(&'static str, String),
    /// A credential has a token again after its callers failed.
    CredentialRecovered,
}

/// The watches that have listed everything once; the supervisor is synced when all have.
const WATCHES: [&str; 7] = [
    "secretstores",
    "clustersecretstores",
    "externalsecrets",
    "clusterexternalsecrets",
    "pushsecrets",
    "namespaces",
    "secrets",
];

/// Where a PushSecret reads from.
enum PushSource {
    Name(String),
    Selector(LabelSelector),
}

pub struct Supervisor {
    shared: Shared,
    external_secrets: Actors<ExternalSecretReconciler>,
    cluster_external_secrets: Actors<ClusterExternalSecretReconciler>,
    push_secrets: Actors<PushSecretReconciler>,
    /// The source Secret of each PushSecret, to push again when it changes.
    push_sources: HashMap<(String, String), PushSource>,
    synced_watches: HashSet<&'static str>,
    synced: watch::Sender<bool>,
    /// Whether this replica leads (always, without leader election).
    leading: bool,
    /// Whether the resource actors run: once leading and every watch has synced.
    started: bool,
}

impl Supervisor {
    /// A supervisor that starts its actors once every watch has synced, when `leading`, or
    /// stands by until [`Lead`]. Waiting for the initial lists, as ESO waits for its caches,
    /// means no resource syncs before the stores it names are known (a PushSecret or
    /// ExternalSecret would otherwise report its store missing on every restart).
    pub fn new(shared: Shared, synced: watch::Sender<bool>, leading: bool) -> Self {
        if !leading {
            shared.stores.stand_by();
        }
        Self {
            external_secrets: Actors::new(
                "ExternalSecret",
                ExternalSecretReconciler::new(shared.clone()),
            ),
            cluster_external_secrets: Actors::new(
                "ClusterExternalSecret",
                ClusterExternalSecretReconciler::new(shared.clone()),
            ),
            push_secrets: Actors::new("PushSecret", PushSecretReconciler::new(shared.clone())),
            push_sources: HashMap::new(),
            shared,
            synced_watches: HashSet::new(),
            synced,
            leading,
            started: false,
        }
    }

    /// Connects the stores and starts an actor for every resource the watches hold, once.
    fn start_actors(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let shared = &self.shared;
        shared.stores.activate();
        self.external_secrets
            .start(&shared.runtime, &shared.metrics);
        self.cluster_external_secrets
            .start(&shared.runtime, &shared.metrics);
        self.push_secrets.start(&shared.runtime, &shared.metrics);
        info!(
            external_secrets = self.external_secrets.len(),
            "started the actors of every known resource"
        );
    }

    fn watches(&self) -> BoxStream<'static, Change> {
        let client = self.shared.kube.clone();
        let config = watcher::Config::default();
        let stores = watcher(
            Api::<DeserializeGuard<SecretStore>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::SecretStore)
                .unwrap_or_else(|e| Change::WatchFailed("secretstores", e.to_string()))
        });
        let cluster_stores = watcher(
            Api::<DeserializeGuard<ClusterSecretStore>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::ClusterSecretStore)
                .unwrap_or_else(|e| Change::WatchFailed("clustersecretstores", e.to_string()))
        });
        let external_secrets = watcher(
            Api::<DeserializeGuard<ExternalSecret>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::ExternalSecret)
                .unwrap_or_else(|e| Change::WatchFailed("externalsecrets", e.to_string()))
        });
        let cluster_external_secrets = watcher(
            Api::<DeserializeGuard<ClusterExternalSecret>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::ClusterExternalSecret)
                .unwrap_or_else(|e| Change::WatchFailed("clusterexternalsecrets", e.to_string()))
        });
        let push_secrets = watcher(
            Api::<DeserializeGuard<PushSecret>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::PushSecret)
                .unwrap_or_else(|e| Change::WatchFailed("pushsecrets", e.to_string()))
        });
        let namespaces = watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            config.clone(),
        )
        .default_backoff()
        .map(|event| {
            event
                .map(Change::Namespace)
                .unwrap_or_else(|e| Change::WatchFailed("namespaces", e.to_string()))
        });
        let secrets = watcher(Api::<PartialObjectMeta<Secret>>::all(client), config)
            .default_backoff()
            .map(|event| {
                event
                    .map(Change::Secret)
                    .unwrap_or_else(|e| Change::WatchFailed("secrets", e.to_string()))
            });
        let recoveries = self.shared.credentials_recovered.subscribe();
        let recovered = stream::unfold(recoveries, |mut recoveries| async move {
            recoveries.changed().await.ok()?;
            Some((Change::CredentialRecovered, recoveries))
        });
        stream::select_all([
            recovered.boxed(),
            namespaces.boxed(),
            stores.boxed(),
            cluster_stores.boxed(),
            secrets.boxed(),
            external_secrets.boxed(),
            cluster_external_secrets.boxed(),
            push_secrets.boxed(),
        ])
        .boxed()
    }

    fn watch_synced(&mut self, watch: &'static str) {
        debug_assert!(WATCHES.contains(&watch), "unknown watch {watch}");
        self.synced_watches.insert(watch);
        if self.synced_watches.len() == WATCHES.len() && !*self.synced.borrow() {
            info!("all watches synced");
            self.synced.send_replace(true);
            if self.leading {
                self.start_actors();
            }
        }
    }

    fn store_changed<K>(
        &mut self,
        kind: StoreKind,
        watch: &'static str,
        event: WatchEvent<DeserializeGuard<K>>,
    ) where
        K: kube::Resource + StoreSpecOf,
    {
        match event {
            WatchEvent::Apply(DeserializeGuard(object))
            | WatchEvent::InitApply(DeserializeGuard(object)) => match object {
                Ok(store) => {
                    let id = StoreId {
                        kind,
                        namespace: store.namespace().unwrap_or_default(),
                        name: store.name_any(),
                    };
                    // The spec's generation: status writes must not rebuild the client or drop the cache.
                    let version = store.meta().generation.unwrap_or_default().to_string();
                    self.shared.stores.upsert(
                        id,
                        store.spec_of(),
                        version,
                        store.conditions_of(),
                        store.labels().clone(),
                    );
                }
                Err(invalid) => warn!(
                    kind = ?kind,
                    name = %invalid.metadata.name.clone().unwrap_or_default(),
                    error = %invalid.error,
                    "ignoring a store that does not parse"
                ),
            },
            WatchEvent::Delete(DeserializeGuard(object)) => {
                let (namespace, name) = match &object {
                    Ok(store) => (store.namespace().unwrap_or_default(), store.name_any()),
                    Err(invalid) => (
                        invalid.metadata.namespace.clone().unwrap_or_default(),
                        invalid.metadata.name.clone().unwrap_or_default(),
                    ),
                };
                self.shared.metrics.deleted(kind.into(), &namespace, &name);
                self.shared.stores.remove(&StoreId {
                    kind,
                    namespace,
                    name,
                });
            }
            WatchEvent::Init => {}
            WatchEvent::InitDone => self.watch_synced(watch),
        }
    }

    fn secret_changed(&mut self, event: WatchEvent<PartialObjectMeta<Secret>>) {
        match event {
            WatchEvent::Apply(secret) => {
                let namespace = secret.namespace().unwrap_or_default();
                for id in self
                    .shared
                    .stores
                    .referencing_secret(&namespace, &secret.name_any())
                {
                    info!(store = %id.name, secret = %secret.name_any(), "credential secret changed, reconnecting store");
                    self.shared.stores.reconnect(&id);
                }
                self.push_sources_changed(&secret);
            }
            WatchEvent::Delete(secret) => self.push_sources_changed(&secret),
            WatchEvent::Init | WatchEvent::InitApply(_) => {}
            WatchEvent::InitDone => self.watch_synced("secrets"),
        }
    }

    /// Pushes again from every PushSecret that reads `secret`.
    fn push_sources_changed(&self, secret: &PartialObjectMeta<Secret>) {
        let namespace = secret.namespace().unwrap_or_default();
        let name = secret.name_any();
        for (key, source) in &self.push_sources {
            let reads = key.0 == namespace
                && match source {
                    PushSource::Name(source) => *source == name,
                    PushSource::Selector(selector) => selector_matches(selector, secret.labels()),
                };
            if reads {
                self.push_secrets.sync(key);
            }
        }
    }

    fn push_secret_changed(&mut self, event: WatchEvent<DeserializeGuard<PushSecret>>) {
        match &event {
            WatchEvent::Apply(DeserializeGuard(Ok(push)))
            | WatchEvent::InitApply(DeserializeGuard(Ok(push))) => {
                let key = (push.namespace().unwrap_or_default(), push.name_any());
                let source = match &push.spec.selector {
                    PushSecretSelector::Secret(secret) => match (&secret.name, &secret.selector) {
                        (Some(name), _) => Some(PushSource::Name(name.clone())),
                        (None, Some(selector)) => Some(PushSource::Selector(selector.clone())),
                        (None, None) => None,
                    },
                    PushSecretSelector::GeneratorRef(_) => None,
                };
                match source {
                    Some(source) => self.push_sources.insert(key, source),
                    None => self.push_sources.remove(&key),
                };
            }
            WatchEvent::Delete(DeserializeGuard(object)) => {
                let meta = match object {
                    Ok(push) => push.metadata.clone(),
                    Err(invalid) => invalid.metadata.clone(),
                };
                self.push_sources.remove(&(
                    meta.namespace.unwrap_or_default(),
                    meta.name.unwrap_or_default(),
                ));
            }
            _ => {}
        }
        if self
            .push_secrets
            .handle(&self.shared.runtime, &self.shared.metrics, event)
        {
            self.watch_synced("pushsecrets");
        }
    }

    fn namespace_changed(&mut self, event: WatchEvent<PartialObjectMeta<Namespace>>) {
        match event {
            WatchEvent::InitApply(namespace) => {
                self.shared
                    .namespaces
                    .set(namespace.name_any(), namespace.labels().clone());
            }
            WatchEvent::Apply(namespace) => {
                self.shared
                    .namespaces
                    .set(namespace.name_any(), namespace.labels().clone());
                self.cluster_external_secrets.sync_all();
            }
            WatchEvent::Delete(namespace) => {
                self.shared.namespaces.remove(&namespace.name_any());
                self.cluster_external_secrets.sync_all();
            }
            WatchEvent::Init => {}
            WatchEvent::InitDone => self.watch_synced("namespaces"),
        }
    }
}

/// The parts of SecretStore and ClusterSecretStore the supervisor reads.
pub trait StoreSpecOf {
    fn spec_of(&self) -> &akvsync_crds::SecretStoreSpec;
    fn conditions_of(&self) -> Vec<akvsync_crds::ClusterSecretStoreCondition>;
}

impl StoreSpecOf for SecretStore {
    fn spec_of(&self) -> &akvsync_crds::SecretStoreSpec {
        &self.spec
    }

    fn conditions_of(&self) -> Vec<akvsync_crds::ClusterSecretStoreCondition> {
        Vec::new()
    }
}

impl StoreSpecOf for ClusterSecretStore {
    fn spec_of(&self) -> &akvsync_crds::SecretStoreSpec {
        &self.spec
    }

    fn conditions_of(&self) -> Vec<akvsync_crds::ClusterSecretStoreCondition> {
        self.spec.conditions.clone().unwrap_or_default()
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(self.watches());
    }
}

impl StreamHandler<Change> for Supervisor {
    fn handle(&mut self, change: Change, _: &mut Context<Self>) {
        match change {
            Change::SecretStore(event) => {
                self.store_changed(StoreKind::SecretStore, "secretstores", event)
            }
            Change::ClusterSecretStore(event) => {
                self.store_changed(StoreKind::ClusterSecretStore, "clustersecretstores", event)
            }
            Change::ExternalSecret(event) => {
                if self
                    .external_secrets
                    .handle(&self.shared.runtime, &self.shared.metrics, event)
                {
                    self.watch_synced("externalsecrets");
                }
            }
            Change::PushSecret(event) => self.push_secret_changed(event),
            Change::ClusterExternalSecret(event) => {
                if self.cluster_external_secrets.handle(
                    &self.shared.runtime,
                    &self.shared.metrics,
                    event,
                ) {
                    self.watch_synced("clusterexternalsecrets");
                }
            }
            Change::Namespace(event) => self.namespace_changed(event),
            Change::Secret(event) => self.secret_changed(event),
            Change::WatchFailed(watch, error) => {
                warn!(watch, %error, "watch failed, retrying with backoff")
            }
            Change::CredentialRecovered => {
                // Which resources failed for want of that token is not tracked; retrying every
                // failing one is cheap, and healthy ones ignore it.
                self.external_secrets.retry_failing();
                self.push_secrets.retry_failing();
            }
        }
    }
}

/// Asks the supervisor how many ExternalSecrets it holds (their actors, or the resources kept
/// while standing by).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountExternalSecrets;

impl Handler<CountExternalSecrets> for Supervisor {
    type Result = usize;

    fn handle(&mut self, _: CountExternalSecrets, _: &mut Context<Self>) -> usize {
        self.external_secrets.len()
    }
}

/// Takes over after standing by: connects the stores and starts an actor for every resource
/// the watches already hold. Answered once every actor has been started, or, before the
/// watches have synced, once they start as soon as they have.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Lead;

impl Handler<Lead> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Lead, _: &mut Context<Self>) {
        self.leading = true;
        if *self.synced.borrow() {
            self.start_actors();
        }
    }
}

/// Stops the supervisor and its watches; resource actors stop with the runtime.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
