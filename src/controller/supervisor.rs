//! The supervisor: runs the watches, keeps the registry of live ExternalSecret actors, routes
//! changes to them, and keeps the stores and namespace labels current.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use akvsync_actors::resource::{ResourceActor, Stop, Update};
use akvsync_crds::{ClusterSecretStore, ExternalSecret, SecretStore, StoreKind};
use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::watch;
use tracing::{info, warn};

use super::context::Shared;
use super::external_secret::ExternalSecretReconciler;
use super::stores::StoreId;

type EsActor = Addr<ResourceActor<ExternalSecretReconciler>>;

/// One change from any of the supervisor's watches.
pub enum Change {
    SecretStore(WatchEvent<DeserializeGuard<SecretStore>>),
    ClusterSecretStore(WatchEvent<DeserializeGuard<ClusterSecretStore>>),
    ExternalSecret(WatchEvent<DeserializeGuard<ExternalSecret>>),
    Namespace(WatchEvent<PartialObjectMeta<Namespace>>),
    Secret(WatchEvent<PartialObjectMeta<Secret>>),
    WatchFailed(&'static str, String),
}

/// The watches that have listed everything once; the supervisor is synced when all have.
const WATCHES: [&str; 5] = [
    "secretstores",
    "clustersecretstores",
    "externalsecrets",
    "namespaces",
    "secrets",
];

pub struct Supervisor {
    shared: Shared,
    reconciler: Arc<ExternalSecretReconciler>,
    external_secrets: HashMap<(String, String), EsActor>,
    /// Keys seen during a relist, to stop the actors of resources that vanished meanwhile.
    relisting: Option<HashSet<(String, String)>>,
    synced_watches: HashSet<&'static str>,
    synced: watch::Sender<bool>,
}

impl Supervisor {
    pub fn new(shared: Shared, synced: watch::Sender<bool>) -> Self {
        let reconciler = Arc::new(ExternalSecretReconciler::new(shared.clone()));
        Self {
            shared,
            reconciler,
            external_secrets: HashMap::new(),
            relisting: None,
            synced_watches: HashSet::new(),
            synced,
        }
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
        stream::select_all([
            namespaces.boxed(),
            stores.boxed(),
            cluster_stores.boxed(),
            secrets.boxed(),
            external_secrets.boxed(),
        ])
        .boxed()
    }

    fn watch_synced(&mut self, watch: &'static str) {
        self.synced_watches.insert(watch);
        if self.synced_watches.len() == WATCHES.len() && !*self.synced.borrow() {
            info!("all watches synced");
            self.synced.send_replace(true);
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
                    let version = store.resource_version().unwrap_or_default();
                    self.shared.stores.upsert(
                        &self.shared,
                        id,
                        store.spec_of(),
                        version,
                        store.conditions_of(),
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

    fn external_secret_changed(&mut self, event: WatchEvent<DeserializeGuard<ExternalSecret>>) {
        match event {
            WatchEvent::Init => self.relisting = Some(HashSet::new()),
            WatchEvent::InitDone => {
                if let Some(seen) = self.relisting.take() {
                    let gone: Vec<_> = self
                        .external_secrets
                        .keys()
                        .filter(|key| !seen.contains(*key))
                        .cloned()
                        .collect();
                    for key in gone {
                        if let Some(actor) = self.external_secrets.remove(&key) {
                            actor.do_send(Stop);
                        }
                    }
                }
                self.watch_synced("externalsecrets");
            }
            WatchEvent::Apply(DeserializeGuard(object))
            | WatchEvent::InitApply(DeserializeGuard(object)) => match object {
                Ok(es) => {
                    let key = (es.namespace().unwrap_or_default(), es.name_any());
                    if let Some(seen) = &mut self.relisting {
                        seen.insert(key.clone());
                    }
                    let es = Arc::new(es);
                    match self.external_secrets.get(&key) {
                        Some(actor) if actor.connected() => actor.do_send(Update(es)),
                        _ => {
                            let reconciler = Arc::clone(&self.reconciler);
                            let actor = self
                                .shared
                                .runtime
                                .spawn(move |_| ResourceActor::new(reconciler, es));
                            self.external_secrets.insert(key, actor);
                        }
                    }
                }
                Err(invalid) => warn!(
                    namespace = %invalid.metadata.namespace.clone().unwrap_or_default(),
                    name = %invalid.metadata.name.clone().unwrap_or_default(),
                    error = %invalid.error,
                    "ignoring an ExternalSecret that does not parse"
                ),
            },
            WatchEvent::Delete(DeserializeGuard(object)) => {
                let meta = match &object {
                    Ok(es) => es.metadata.clone(),
                    Err(invalid) => invalid.metadata.clone(),
                };
                let key = (
                    meta.namespace.unwrap_or_default(),
                    meta.name.unwrap_or_default(),
                );
                if let Some(actor) = self.external_secrets.remove(&key) {
                    actor.do_send(Stop);
                }
            }
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
                    self.shared.stores.reconnect(&self.shared, &id);
                }
            }
            WatchEvent::Delete(_) | WatchEvent::Init | WatchEvent::InitApply(_) => {}
            WatchEvent::InitDone => self.watch_synced("secrets"),
        }
    }

    fn namespace_changed(&mut self, event: WatchEvent<PartialObjectMeta<Namespace>>) {
        match event {
            WatchEvent::Apply(namespace) | WatchEvent::InitApply(namespace) => {
                let labels: BTreeMap<String, String> = namespace.labels().clone();
                self.shared.namespaces.set(namespace.name_any(), labels);
            }
            WatchEvent::Delete(namespace) => self.shared.namespaces.remove(&namespace.name_any()),
            WatchEvent::Init => {}
            WatchEvent::InitDone => self.watch_synced("namespaces"),
        }
    }

    /// How many ExternalSecret actors are alive.
    pub fn external_secret_actors(&self) -> usize {
        self.external_secrets.len()
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
            Change::ExternalSecret(event) => self.external_secret_changed(event),
            Change::Namespace(event) => self.namespace_changed(event),
            Change::Secret(event) => self.secret_changed(event),
            Change::WatchFailed(watch, error) => {
                warn!(watch, %error, "watch failed, retrying with backoff")
            }
        }
    }
}

/// Asks the supervisor how many ExternalSecret actors it runs.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountExternalSecrets;

impl Handler<CountExternalSecrets> for Supervisor {
    type Result = usize;

    fn handle(&mut self, _: CountExternalSecrets, _: &mut Context<Self>) -> usize {
        self.external_secret_actors()
    }
}
