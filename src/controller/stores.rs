//! The stores the operator knows and their actors: one store actor per SecretStore, per
//! ClusterSecretStore, and per (ClusterSecretStore, namespace) for referent authentication.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use akvsync_actors::store::{SetState, StoreActor, StoreCore, StoreState};
use akvsync_crds::{ClusterSecretStoreCondition, SecretStoreSpec, StoreKind};
use tracing::{info, warn};

use super::context::Shared;
use super::namespaces::{namespace_allowed, selector_matches};
use super::vault::{OperatorVault, Rebuilding};
use crate::azure::{StoreError, StoreSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// How long a store whose connection failed for a transient reason waits before trying again.
const RECONNECT_AFTER: Duration = Duration::from_secs(30);

/// A store resource as last seen: `(kind, namespace, name)`, namespace empty for cluster stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreId {
    pub kind: StoreKind,
    pub namespace: String,
    pub name: String,
}

impl StoreId {
    /// The store a resource in `namespace` names as `kind/name`: a SecretStore in that
    /// namespace, or a ClusterSecretStore.
    pub fn referenced(kind: StoreKind, name: &str, namespace: &str) -> Self {
        let namespace = match kind {
            StoreKind::SecretStore => namespace.to_owned(),
            StoreKind::ClusterSecretStore => String::new(),
        };
        Self {
            kind,
            namespace,
            name: name.to_owned(),
        }
    }
}

/// One store actor: the store, and the consumer namespace for referent cluster stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActorKey {
    pub store: StoreId,
    pub consumer_namespace: Option<String>,
}

/// What the operator knows of one store resource.
#[derive(Clone)]
pub struct StoreResource {
    pub source: Result<StoreSource, StoreError>,
    pub conditions: Vec<ClusterSecretStoreCondition>,
    /// The store's labels, for PushSecret store selectors.
    pub labels: BTreeMap<String, String>,
    /// The spec generation the actors were built from.
    pub version: String,
}

pub type VaultActor = Addr<StoreActor<OperatorVault>>;

/// Why a resource cannot use a store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreLookupError {
    #[error("could not get {kind:?} {name:?}: not found")]
    NotFound { kind: StoreKind, name: String },
    #[error(
        "using cluster store {name:?} is not allowed from namespace {namespace:?}: denied by spec.conditions"
    )]
    NamespaceDenied { name: String, namespace: String },
    #[error("cluster store {name:?}: {message}")]
    InvalidConditions { name: String, message: String },
}

#[derive(Default)]
struct Registry {
    resources: HashMap<StoreId, StoreResource>,
    actors: HashMap<ActorKey, VaultActor>,
    /// A standby replica records stores but connects none (no token, no vault call, no status
    /// write) until [`Stores::activate`].
    standing_by: bool,
}

/// The stores and their actors, shared by the supervisor and the resource actors.
#[derive(Clone, Default)]
pub struct Stores {
    registry: Arc<Mutex<Registry>>,
}

impl Stores {
    /// Records a store's latest spec and rebuilds the clients of its actors when it changed.
    pub fn upsert(
        &self,
        shared: &Shared,
        id: StoreId,
        spec: &SecretStoreSpec,
        version: String,
        conditions: Vec<ClusterSecretStoreCondition>,
        labels: BTreeMap<String, String>,
    ) {
        let namespace = (id.kind == StoreKind::SecretStore).then(|| id.namespace.clone());
        let source = StoreSource::from_spec(id.kind, id.name.clone(), namespace, spec);
        let unsupported: Vec<&str> = spec.provider.unsupported_providers().collect();
        let source = match source {
            Err(_) if !unsupported.is_empty() => Err(StoreError::Validation(format!(
                "provider {} is not supported by akvsync: only azurekv is",
                unsupported.join(", ")
            ))),
            source => source,
        };
        let resource = StoreResource {
            source,
            conditions,
            labels,
            version,
        };
        let to_connect: Vec<(ActorKey, VaultActor)> = {
            let mut registry = self.registry.lock().expect("store registry lock");
            let unchanged = registry
                .resources
                .get(&id)
                .is_some_and(|known| known.version == resource.version);
            registry.resources.insert(id.clone(), resource.clone());
            if unchanged || registry.standing_by {
                return;
            }
            let mut actors: Vec<_> = registry
                .actors
                .iter()
                .filter(|(key, _)| key.store == id)
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect();
            let referent = resource.source.as_ref().is_ok_and(StoreSource::is_referent);
            if actors.is_empty() && !referent {
                // Stores connect eagerly so their status tells whether they work.
                let key = ActorKey {
                    store: id.clone(),
                    consumer_namespace: None,
                };
                let actor = shared.runtime.spawn(|_| StoreActor::new());
                registry.actors.insert(key.clone(), actor.clone());
                actors.push((key, actor));
            }
            actors
        };
        for (key, actor) in to_connect {
            self.connect(shared, key, resource.source.clone(), actor);
        }
    }

    /// Records stores from now on without connecting them, as a standby replica must.
    pub fn stand_by(&self) {
        self.registry
            .lock()
            .expect("store registry lock")
            .standing_by = true;
    }

    /// Ends standing by: connects every recorded store as [`Stores::upsert`] would have
    /// (referent cluster stores connect per namespace when first used).
    pub fn activate(&self, shared: &Shared) {
        let to_connect: Vec<(ActorKey, VaultActor, Result<StoreSource, StoreError>)> = {
            let mut registry = self.registry.lock().expect("store registry lock");
            if !registry.standing_by {
                return;
            }
            registry.standing_by = false;
            let eager: Vec<(StoreId, Result<StoreSource, StoreError>)> = registry
                .resources
                .iter()
                .filter(|(_, resource)| {
                    !resource.source.as_ref().is_ok_and(StoreSource::is_referent)
                })
                .map(|(id, resource)| (id.clone(), resource.source.clone()))
                .collect();
            eager
                .into_iter()
                .map(|(id, source)| {
                    let key = ActorKey {
                        store: id,
                        consumer_namespace: None,
                    };
                    let actor = registry
                        .actors
                        .entry(key.clone())
                        .or_insert_with(|| shared.runtime.spawn(|_| StoreActor::new()))
                        .clone();
                    (key, actor, source)
                })
                .collect()
        };
        for (key, actor, source) in to_connect {
            self.connect(shared, key, source, actor);
        }
    }

    /// The names of the stores of `kind` (SecretStores in `namespace`) whose labels match `selector`.
    pub fn matching(
        &self,
        kind: StoreKind,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<String> {
        let registry = self.registry.lock().expect("store registry lock");
        let mut names: Vec<String> = registry
            .resources
            .iter()
            .filter(|(id, resource)| {
                id.kind == kind
                    && (kind == StoreKind::ClusterSecretStore || id.namespace == namespace)
                    && selector_matches(selector, &resource.labels)
            })
            .map(|(id, _)| id.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Whether `kind/name`, as seen from `namespace`, sets `useAzureSDK: true` (ESO's new SDK
    /// path, which shapes fetched metadata differently).
    pub fn uses_azure_sdk(&self, kind: StoreKind, name: &str, namespace: &str) -> bool {
        let id = StoreId::referenced(kind, name, namespace);
        let registry = self.registry.lock().expect("store registry lock");
        registry.resources.get(&id).is_some_and(|resource| {
            resource
                .source
                .as_ref()
                .is_ok_and(|source| source.provider.use_azure_sdk == Some(true))
        })
    }

    /// Forgets a deleted store and stops its actors.
    pub fn remove(&self, id: &StoreId) {
        let mut registry = self.registry.lock().expect("store registry lock");
        registry.resources.remove(id);
        registry.actors.retain(|key, actor| {
            let keep = &key.store != id;
            if !keep {
                actor.do_send(SetState(StoreState::Failed(format!(
                    "{:?} {} was deleted",
                    id.kind, id.name
                ))));
            }
            keep
        });
    }

    /// The actor serving `kind/name` to a resource in `namespace`, starting it if needed.
    pub fn actor_for(
        &self,
        shared: &Shared,
        kind: StoreKind,
        name: &str,
        namespace: &str,
        namespace_labels: &BTreeMap<String, String>,
    ) -> Result<VaultActor, StoreLookupError> {
        let id = StoreId::referenced(kind, name, namespace);
        let (key, actor, source) =
            {
                let mut registry = self.registry.lock().expect("store registry lock");
                let resource = registry.resources.get(&id).cloned().ok_or_else(|| {
                    StoreLookupError::NotFound {
                        kind,
                        name: name.to_owned(),
                    }
                })?;
                if kind == StoreKind::ClusterSecretStore {
                    let allowed =
                        namespace_allowed(&resource.conditions, namespace, namespace_labels)
                            .map_err(|message| StoreLookupError::InvalidConditions {
                                name: name.to_owned(),
                                message,
                            })?;
                    if !allowed {
                        return Err(StoreLookupError::NamespaceDenied {
                            name: name.to_owned(),
                            namespace: namespace.to_owned(),
                        });
                    }
                }
                let referent = resource.source.as_ref().is_ok_and(StoreSource::is_referent);
                let key = ActorKey {
                    store: id,
                    consumer_namespace: referent.then(|| namespace.to_owned()),
                };
                if let Some(actor) = registry.actors.get(&key) {
                    return Ok(actor.clone());
                }
                let actor = shared.runtime.spawn(|_| StoreActor::new());
                registry.actors.insert(key.clone(), actor.clone());
                (key, actor, resource.source)
            };
        self.connect(shared, key, source, actor.clone());
        Ok(actor)
    }

    /// A store (SecretStore or ClusterSecretStore) that reads its credentials from Secret
    /// `namespace/name`, whether or not any actor uses it yet. A referent ClusterSecretStore
    /// (credential refs without a namespace) reads them from every consuming namespace.
    pub fn credentials_user(&self, namespace: &str, name: &str) -> Option<StoreId> {
        let registry = self.registry.lock().expect("store registry lock");
        let mut users: Vec<&StoreId> = registry
            .resources
            .iter()
            .filter(|(id, resource)| {
                let Ok(source) = resource.source.as_ref() else {
                    return false;
                };
                referenced_secrets(source)
                    .iter()
                    .any(|(ref_namespace, secret)| {
                        let secret_namespace = match id.kind {
                            StoreKind::SecretStore => Some(id.namespace.as_str()),
                            StoreKind::ClusterSecretStore => ref_namespace.as_deref(),
                        };
                        secret == name && secret_namespace.is_none_or(|ns| ns == namespace)
                    })
            })
            .map(|(id, _)| id)
            .collect();
        users.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        users.first().map(|id| (*id).clone())
    }

    /// Store ids whose actors read credentials from Secret `namespace/name`.
    pub fn referencing_secret(&self, namespace: &str, name: &str) -> Vec<StoreId> {
        let registry = self.registry.lock().expect("store registry lock");
        let mut ids = HashSet::new();
        for (key, _) in registry.actors.iter() {
            let Some(Ok(source)) = registry
                .resources
                .get(&key.store)
                .map(|r| r.source.as_ref())
            else {
                continue;
            };
            let ref_namespace = key
                .consumer_namespace
                .as_deref()
                .or(source.namespace.as_deref());
            if referenced_secrets(source).iter().any(|(ns, secret)| {
                secret == name && ns.as_deref().or(ref_namespace) == Some(namespace)
            }) {
                ids.insert(key.store.clone());
            }
        }
        ids.into_iter().collect()
    }

    /// Rebuilds the clients of every actor of `id`, as after a credential rotation.
    pub fn reconnect(&self, shared: &Shared, id: &StoreId) {
        let (actors, source) = {
            let registry = self.registry.lock().expect("store registry lock");
            let Some(resource) = registry.resources.get(id) else {
                return;
            };
            let actors: Vec<_> = registry
                .actors
                .iter()
                .filter(|(key, _)| &key.store == id)
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect();
            (actors, resource.source.clone())
        };
        for (key, actor) in actors {
            self.connect(shared, key, source.clone(), actor);
        }
    }

    /// Builds the store's client off the actor, then hands the actor its new state.
    fn connect(
        &self,
        shared: &Shared,
        key: ActorKey,
        source: Result<StoreSource, StoreError>,
        actor: VaultActor,
    ) {
        let shared = shared.clone();
        actix::spawn(async move {
            let started = tokio::time::Instant::now();
            let result = match &source {
                Ok(source) => {
                    crate::azure::connect(
                        source,
                        key.consumer_namespace.as_deref(),
                        shared.kube.clone(),
                        &shared.network,
                        &shared.credentials,
                    )
                    .await
                }
                Err(error) => Err(error.clone()),
            };
            let result = match result {
                Ok(vault) => match vault.validate().await {
                    Ok(()) => Ok(vault),
                    Err(error) => Err(StoreError::Credential {
                        message: format!("unable to validate store: {error}"),
                        transient: error.is_transient(),
                    }),
                },
                Err(error) => Err(error),
            };
            let outcome = match result {
                Ok(vault) => {
                    info!(store = %key.store.name, namespace = %key.store.namespace, "store connected");
                    let limiter = shared
                        .limiters
                        .limiter(akvsync_actors::remote::KeyVault::vault_host(&vault));
                    let budget = limiter.budget();
                    let host = limiter.host();
                    shared.metrics.vault_budget(
                        host,
                        "read",
                        f64::from(budget.reads_per_10s) / 10.0,
                    );
                    shared.metrics.vault_budget(
                        host,
                        "write",
                        f64::from(budget.writes_per_10s) / 10.0,
                    );
                    let vault = match (shared.store_config.naive, source) {
                        (true, Ok(source)) => OperatorVault::Rebuilt(Box::new(Rebuilding {
                            host: host.to_owned(),
                            source,
                            consumer_namespace: key.consumer_namespace.clone(),
                            kube: shared.kube.clone(),
                            network: shared.network.clone(),
                        })),
                        _ => OperatorVault::Shared(Box::new(vault)),
                    };
                    let core = StoreCore::new(
                        vault,
                        limiter,
                        Arc::clone(&shared.store_metrics),
                        &shared.store_config,
                    );
                    actor.do_send(SetState(StoreState::Ready(Arc::new(core))));
                    Ok(())
                }
                Err(error) => {
                    warn!(store = %key.store.name, namespace = %key.store.namespace, %error, "store cannot connect");
                    actor.do_send(SetState(StoreState::Failed(error.to_string())));
                    if error.is_transient() {
                        let stores = shared.stores.clone();
                        let retry_shared = shared.clone();
                        let id = key.store.clone();
                        actix::spawn(async move {
                            tokio::time::sleep(RECONNECT_AFTER).await;
                            stores.reconnect(&retry_shared, &id);
                        });
                    }
                    Err(error)
                }
            };
            if key.consumer_namespace.is_none() {
                // ESO's store reconcile metrics: duration, Ready, and an error when not Ready.
                let ended = if outcome.is_ok() {
                    crate::observability::Outcome::Ready
                } else {
                    crate::observability::Outcome::Failed
                };
                let (store, took) = (&key.store, started.elapsed());
                shared.metrics.reconciled(
                    store.kind.into(),
                    &store.namespace,
                    &store.name,
                    took,
                    ended,
                );
                super::status::write_store_status(&shared, &key.store, &outcome).await;
            }
        });
    }
}

/// The credential Secrets a store reads: `(namespace if given, name)`.
fn referenced_secrets(source: &StoreSource) -> Vec<(Option<String>, String)> {
    let Some(auth) = &source.provider.auth_secret_ref else {
        return Vec::new();
    };
    [
        &auth.client_id,
        &auth.client_secret,
        &auth.client_certificate,
        &auth.tenant_id,
    ]
    .into_iter()
    .flatten()
    .filter_map(|selector| Some((selector.namespace.clone(), selector.name.clone()?)))
    .collect()
}
