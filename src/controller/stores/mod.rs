//! The stores the operator knows and their actors: one store actor per SecretStore, per
//! ClusterSecretStore, and per (ClusterSecretStore, namespace) for referent authentication.
//!
//! [`StoreRegistry`] is the plain map of store resources and actors; [`Stores`] shares it and
//! starts actors, each of which connects itself through the [`StoreConnector`].

mod class;
mod connector;
mod naive;
mod registry;
#[cfg(test)]
mod registry_tests;
mod report;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::Addr;
use akvsync_actors::runtime::Runtime;
use akvsync_actors::store::{Reconfigure, Reconnect, Retire, StoreActor};
use akvsync_crds::{ClusterSecretStoreCondition, ExternalSecretSpec, SecretStoreSpec, StoreKind};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub use class::{ControllerClass, DEFAULT_CONTROLLER_CLASS};
pub use connector::{StoreConnection, StoreConnector};
pub use registry::{ActorKey, StoreId, StoreLookupError, StoreRegistry, StoreResource};
pub use report::{STORE_VALIDATED, STORE_VALIDATED_LISTING_FORBIDDEN};

use self::class::ForeignStores;
use crate::azure::{StoreError, StoreSource};

pub type VaultActor = Addr<StoreActor>;

/// The registry shared by the supervisor and the resource actors, and what starts store actors.
#[derive(Clone)]
pub struct Stores {
    registry: Arc<Mutex<StoreRegistry<VaultActor>>>,
    runtime: Runtime,
    connector: Arc<StoreConnector>,
    class: Arc<ControllerClass>,
    foreign: Arc<Mutex<ForeignStores>>,
}

impl Stores {
    pub fn new(runtime: Runtime, connector: StoreConnector, class: ControllerClass) -> Self {
        Self {
            registry: Arc::default(),
            runtime,
            connector: Arc::new(connector),
            class: Arc::new(class),
            foreign: Arc::default(),
        }
    }

    fn foreign(&self) -> MutexGuard<'_, ForeignStores> {
        self.foreign.lock().expect("foreign stores lock")
    }

    fn registry(&self) -> MutexGuard<'_, StoreRegistry<VaultActor>> {
        self.registry.lock().expect("store registry lock")
    }

    /// A store actor for `key` that connects itself as soon as it starts.
    fn start(&self, key: &ActorKey, source: &Result<StoreSource, StoreError>) -> VaultActor {
        let connection = self.connection(key, source);
        self.runtime.spawn(move |_| StoreActor::new(connection))
    }

    fn connection(
        &self,
        key: &ActorKey,
        source: &Result<StoreSource, StoreError>,
    ) -> Arc<StoreConnection> {
        Arc::new(StoreConnection::new(
            Arc::clone(&self.connector),
            key.clone(),
            source.clone(),
        ))
    }

    /// Records a store's latest spec; a changed spec reconnects its actors (new client, empty
    /// cache), and a store that is not referent gets its actor at once so its status tells
    /// whether it works. A store of another controller class is forgotten as if deleted (no
    /// actor, no status, no vault call), and the resources using it are left alone. Returns
    /// whether the store changed hands: it came to this class or left it.
    pub fn upsert(
        &self,
        id: StoreId,
        spec: &SecretStoreSpec,
        version: String,
        conditions: Vec<ClusterSecretStoreCondition>,
        labels: BTreeMap<String, String>,
    ) -> bool {
        if !self.class.serves(spec.controller.as_deref()) {
            let reason = format!(
                "{:?} {} belongs to controller class {:?}",
                id.kind,
                id.name,
                spec.controller.as_deref().unwrap_or_default()
            );
            for actor in self.registry().remove(&id) {
                deliver(actor, Retire(reason.clone()));
            }
            return self.foreign().insert(id, labels);
        }
        let came = self.foreign().remove(&id);
        let resource = StoreResource::new(&id, spec, version, conditions, labels);
        let changed = self
            .registry()
            .upsert(id, resource, |key, source| self.start(key, source));
        for (key, actor, source) in changed {
            let connection = self.connection(&key, &source);
            deliver(actor, Reconfigure(connection));
        }
        came
    }

    /// Whether `kind/name`, as seen from `namespace`, belongs to another controller class.
    pub fn is_foreign(&self, kind: StoreKind, name: &str, namespace: &str) -> bool {
        self.foreign().contains(kind, name, namespace)
    }

    /// Whether an ExternalSecret spec in `namespace` references a store of another class: ESO
    /// then leaves the whole resource to the other operator. `cluster_only` looks at
    /// ClusterSecretStores alone (a ClusterExternalSecret's SecretStores depend on the namespace).
    pub fn uses_foreign(
        &self,
        spec: &ExternalSecretSpec,
        namespace: &str,
        cluster_only: bool,
    ) -> bool {
        let foreign = self.foreign();
        spec.store_refs().any(|reference| {
            let kind = reference.kind_or_default();
            (!cluster_only || kind == StoreKind::ClusterSecretStore)
                && reference
                    .name
                    .as_deref()
                    .is_some_and(|name| foreign.contains(kind, name, namespace))
        })
    }

    /// Whether a store of another class matches a PushSecret's store selector.
    pub fn foreign_matching(
        &self,
        kind: StoreKind,
        namespace: &str,
        selector: &LabelSelector,
    ) -> bool {
        self.foreign().any_matching(kind, namespace, selector)
    }

    /// Records stores from now on without starting actors, as a standby replica must.
    pub fn stand_by(&self) {
        self.registry().stand_by();
    }

    /// Ends standing by: starts the actor of every store that is not referent.
    pub fn activate(&self) {
        self.registry()
            .activate(|key, source| self.start(key, source));
    }

    /// Forgets a deleted store; its actors fail every request from now on.
    pub fn remove(&self, id: &StoreId) {
        self.foreign().remove(id);
        let reason = format!("{:?} {} was deleted", id.kind, id.name);
        for actor in self.registry().remove(id) {
            deliver(actor, Retire(reason.clone()));
        }
    }

    /// Reconnects every actor of `id`, as after a credential rotation.
    pub fn reconnect(&self, id: &StoreId) {
        for actor in self.registry().actors_of(id) {
            deliver(actor, Reconnect);
        }
    }

    /// The actor serving `kind/name` to a resource in `namespace`; a referent cluster store's
    /// actor for that namespace starts on first use.
    pub fn actor_for(
        &self,
        kind: StoreKind,
        name: &str,
        namespace: &str,
        namespace_labels: &BTreeMap<String, String>,
    ) -> Result<VaultActor, StoreLookupError> {
        self.registry()
            .actor_for(kind, name, namespace, namespace_labels, |key, source| {
                self.start(key, source)
            })
    }

    /// The names of the stores of `kind` (SecretStores in `namespace`) whose labels match `selector`.
    pub fn matching(
        &self,
        kind: StoreKind,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<String> {
        self.registry().matching(kind, namespace, selector)
    }

    /// The version (uid and spec generation) of `kind/name` as seen from `namespace`.
    pub fn version_of(&self, kind: StoreKind, name: &str, namespace: &str) -> Option<String> {
        self.registry().version_of(kind, name, namespace)
    }

    /// Whether `kind/name`, as seen from `namespace`, sets `useAzureSDK: true`.
    pub fn uses_azure_sdk(&self, kind: StoreKind, name: &str, namespace: &str) -> bool {
        self.registry().uses_azure_sdk(kind, name, namespace)
    }

    /// A store that reads its credentials from Secret `namespace/name`.
    pub fn credentials_user(&self, namespace: &str, name: &str) -> Option<StoreId> {
        self.registry().credentials_user(namespace, name)
    }

    /// Stores whose actors read credentials from Secret `namespace/name`.
    pub fn referencing_secret(&self, namespace: &str, name: &str) -> Vec<StoreId> {
        self.registry().referencing_secret(namespace, name)
    }
}

/// Sends a store actor a lifecycle message without blocking the caller; the send waits for
/// room in the actor's bounded mailbox.
fn deliver<M>(actor: VaultActor, message: M)
where
    M: actix::Message<Result = ()> + Send + 'static,
    StoreActor: actix::Handler<M>,
{
    actix::spawn(async move {
        // A stopped actor has nothing left to update.
        let _ = actor.send(message).await;
    });
}
