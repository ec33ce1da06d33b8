//! Store watch events: a SecretStore or ClusterSecretStore applied or deleted updates the stores.

use akvsync_crds::{ClusterSecretStore, SecretStore, StoreKind};
use kube::ResourceExt;
use kube::core::DeserializeGuard;
use kube::runtime::watcher::Event as WatchEvent;
use tracing::warn;

use super::Supervisor;
use crate::controller::stores::StoreId;

impl Supervisor {
    pub(super) fn store_changed<K>(
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
                    // The store's uid and spec generation: status writes must not rebuild the
                    // client or drop the cache; a store deleted and created again is new.
                    let version = format!(
                        "{}/{}",
                        store.meta().uid.as_deref().unwrap_or_default(),
                        store.meta().generation.unwrap_or_default()
                    );
                    let changed_hands = self.shared.stores.upsert(
                        id,
                        store.spec_of(),
                        version,
                        store.conditions_of(),
                        store.labels().clone(),
                    );
                    if changed_hands {
                        // Resources that use it are this operator's now, or no longer: the
                        // ones taken over sync at once, the others leave it alone.
                        self.external_secrets.sync_all();
                        self.cluster_external_secrets.sync_all();
                        self.push_secrets.sync_all();
                    }
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
