//! The plain map of store resources and their actors. It holds no runtime: whoever changes it
//! passes a `start` function for the actors it may need, so it is tested with any handle type.

use std::collections::{BTreeMap, HashMap, HashSet};

use akvsync_crds::{ClusterSecretStoreCondition, SecretStoreSpec, StoreKind};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::azure::{StoreError, StoreSource};
use crate::controller::namespaces::{namespace_allowed, selector_matches};

/// A store resource: `(kind, namespace, name)`, namespace empty for cluster stores.
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
    /// The uid and spec generation the actors were built from.
    pub version: String,
}

impl StoreResource {
    pub fn new(
        id: &StoreId,
        spec: &SecretStoreSpec,
        version: String,
        conditions: Vec<ClusterSecretStoreCondition>,
        labels: BTreeMap<String, String>,
    ) -> Self {
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
        Self {
            source,
            conditions,
            labels,
            version,
        }
    }

    fn is_referent(&self) -> bool {
        self.source.as_ref().is_ok_and(StoreSource::is_referent)
    }
}

/// Whether store `id` with `labels` is one of the stores of `kind` (SecretStores in `namespace`)
/// that `selector` picks.
pub fn selected(
    id: &StoreId,
    labels: &BTreeMap<String, String>,
    kind: StoreKind,
    namespace: &str,
    selector: &LabelSelector,
) -> bool {
    id.kind == kind
        && (kind == StoreKind::ClusterSecretStore || id.namespace == namespace)
        && selector_matches(selector, labels)
}

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

/// An actor to reconnect: its key, its handle, and the source to connect with.
pub type Reconfigured<A> = (ActorKey, A, Result<StoreSource, StoreError>);

pub struct StoreRegistry<A> {
    resources: HashMap<StoreId, StoreResource>,
    actors: HashMap<ActorKey, A>,
    /// A standby replica records stores but starts no actor (no token, no vault call, no
    /// status write) until [`StoreRegistry::activate`].
    standing_by: bool,
}

impl<A> Default for StoreRegistry<A> {
    fn default() -> Self {
        Self {
            resources: HashMap::new(),
            actors: HashMap::new(),
            standing_by: false,
        }
    }
}

impl<A: Clone> StoreRegistry<A> {
    /// Records a store's latest spec. Returns the actors to reconnect when the spec changed;
    /// starts the eager actor of a store that is not referent and has none.
    pub fn upsert(
        &mut self,
        id: StoreId,
        resource: StoreResource,
        start: impl FnOnce(&ActorKey, &Result<StoreSource, StoreError>) -> A,
    ) -> Vec<Reconfigured<A>> {
        let unchanged = self
            .resources
            .get(&id)
            .is_some_and(|known| known.version == resource.version);
        let source = resource.source.clone();
        let eager = !resource.is_referent();
        self.resources.insert(id.clone(), resource);
        if unchanged || self.standing_by {
            return Vec::new();
        }
        let existing: Vec<Reconfigured<A>> = self
            .actors
            .iter()
            .filter(|(key, _)| key.store == id)
            .map(|(key, actor)| (key.clone(), actor.clone(), source.clone()))
            .collect();
        if existing.is_empty() && eager {
            let key = ActorKey {
                store: id,
                consumer_namespace: None,
            };
            let actor = start(&key, &source);
            self.actors.insert(key, actor);
        }
        existing
    }

    /// Records stores from now on without starting actors.
    pub fn stand_by(&mut self) {
        self.standing_by = true;
    }

    /// Ends standing by: starts the actor of every store that is not referent (referent
    /// cluster stores start per namespace when first used).
    pub fn activate(
        &mut self,
        mut start: impl FnMut(&ActorKey, &Result<StoreSource, StoreError>) -> A,
    ) {
        if !std::mem::take(&mut self.standing_by) {
            return;
        }
        for (id, resource) in &self.resources {
            if resource.is_referent() {
                continue;
            }
            let key = ActorKey {
                store: id.clone(),
                consumer_namespace: None,
            };
            self.actors
                .entry(key)
                .or_insert_with_key(|key| start(key, &resource.source));
        }
    }

    /// Forgets a deleted store; returns its actors.
    pub fn remove(&mut self, id: &StoreId) -> Vec<A> {
        self.resources.remove(id);
        let keys: Vec<ActorKey> = self
            .actors
            .keys()
            .filter(|key| &key.store == id)
            .cloned()
            .collect();
        keys.iter()
            .filter_map(|key| self.actors.remove(key))
            .collect()
    }

    /// The actors of a store.
    pub fn actors_of(&self, id: &StoreId) -> Vec<A> {
        self.actors
            .iter()
            .filter(|(key, _)| &key.store == id)
            .map(|(_, actor)| actor.clone())
            .collect()
    }

    /// The actor serving `kind/name` to a resource in `namespace`, started if needed.
    pub fn actor_for(
        &mut self,
        kind: StoreKind,
        name: &str,
        namespace: &str,
        namespace_labels: &BTreeMap<String, String>,
        start: impl FnOnce(&ActorKey, &Result<StoreSource, StoreError>) -> A,
    ) -> Result<A, StoreLookupError> {
        let id = StoreId::referenced(kind, name, namespace);
        let resource = self
            .resources
            .get(&id)
            .ok_or_else(|| StoreLookupError::NotFound {
                kind,
                name: name.to_owned(),
            })?;
        if kind == StoreKind::ClusterSecretStore {
            let allowed = namespace_allowed(&resource.conditions, namespace, namespace_labels)
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
        let key = ActorKey {
            store: id,
            consumer_namespace: resource.is_referent().then(|| namespace.to_owned()),
        };
        let source = &resource.source;
        Ok(self
            .actors
            .entry(key)
            .or_insert_with_key(|key| start(key, source))
            .clone())
    }

    /// The names of the stores of `kind` (SecretStores in `namespace`) whose labels match `selector`.
    pub fn matching(
        &self,
        kind: StoreKind,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<String> {
        let mut names: Vec<String> = self
            .resources
            .iter()
            .filter(|(id, resource)| selected(id, &resource.labels, kind, namespace, selector))
            .map(|(id, _)| id.name.clone())
            .collect();
        names.sort();
        names
    }

    /// The version (uid and spec generation) of `kind/name` as seen from `namespace`.
    pub fn version_of(&self, kind: StoreKind, name: &str, namespace: &str) -> Option<String> {
        let id = StoreId::referenced(kind, name, namespace);
        self.resources
            .get(&id)
            .map(|resource| resource.version.clone())
    }

    /// Whether `kind/name`, as seen from `namespace`, sets `useAzureSDK: true` (ESO's new SDK
    /// path, which shapes fetched metadata differently).
    pub fn uses_azure_sdk(&self, kind: StoreKind, name: &str, namespace: &str) -> bool {
        let id = StoreId::referenced(kind, name, namespace);
        self.resources.get(&id).is_some_and(|resource| {
            resource
                .source
                .as_ref()
                .is_ok_and(|source| source.provider.use_azure_sdk == Some(true))
        })
    }

    /// A store (SecretStore or ClusterSecretStore) that reads its credentials from Secret
    /// `namespace/name`, whether or not any actor uses it yet. A referent ClusterSecretStore
    /// (credential refs without a namespace) reads them from every consuming namespace.
    pub fn credentials_user(&self, namespace: &str, name: &str) -> Option<StoreId> {
        self.resources
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
            .min_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
            .cloned()
    }

    /// Stores whose actors read credentials from Secret `namespace/name`.
    pub fn referencing_secret(&self, namespace: &str, name: &str) -> Vec<StoreId> {
        let mut ids = HashSet::new();
        for key in self.actors.keys() {
            let Some(Ok(source)) = self.resources.get(&key.store).map(|r| r.source.as_ref()) else {
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
