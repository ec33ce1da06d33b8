//! The store a Key Vault connection is built for: its kind, name, namespace and `azurekv` block.

use akvsync_crds::meta::StoreKind;
use akvsync_crds::{AzureKvProvider, ClusterSecretStore, SecretStore, SecretStoreSpec};
use kube::ResourceExt as _;

use super::error::StoreError;

/// ESO ValidateStore rule 1, for a spec without an `azurekv` block.
pub const INVALID_AZURE_PROVIDER: &str = "invalid azure keyvault provider";

/// A SecretStore or ClusterSecretStore, reduced to what the Azure provider reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSource {
    /// SecretStore or ClusterSecretStore.
    pub kind: StoreKind,
    /// The store's name.
    pub name: String,
    /// The SecretStore's namespace; `None` for a ClusterSecretStore.
    pub namespace: Option<String>,
    /// `spec.provider.azurekv`.
    pub provider: AzureKvProvider,
}

impl StoreSource {
    /// From a SecretStore.
    pub fn from_secret_store(store: &SecretStore) -> Result<Self, StoreError> {
        Self::from_spec(
            StoreKind::SecretStore,
            store.name_any(),
            store.namespace(),
            &store.spec,
        )
    }

    /// From a ClusterSecretStore.
    pub fn from_cluster_secret_store(store: &ClusterSecretStore) -> Result<Self, StoreError> {
        Self::from_spec(
            StoreKind::ClusterSecretStore,
            store.name_any(),
            None,
            &store.spec,
        )
    }

    /// From a spec (`namespace` is ignored for a ClusterSecretStore).
    pub fn from_spec(
        kind: StoreKind,
        name: String,
        namespace: Option<String>,
        spec: &SecretStoreSpec,
    ) -> Result<Self, StoreError> {
        let provider = spec
            .provider
            .azurekv
            .clone()
            .ok_or_else(|| StoreError::Validation(INVALID_AZURE_PROVIDER.into()))?;
        let namespace = match kind {
            StoreKind::SecretStore => namespace,
            StoreKind::ClusterSecretStore => None,
        };
        Ok(Self {
            kind,
            name,
            namespace,
            provider,
        })
    }

    /// Whether this is a ClusterSecretStore.
    pub fn is_cluster(&self) -> bool {
        self.kind == StoreKind::ClusterSecretStore
    }

    /// ESO's `isReferentSpec`: a ClusterSecretStore whose `clientId`, `clientSecret` or
    /// `serviceAccountRef` has no namespace, so credentials resolve in each consumer's
    /// namespace. Such a store is Ready without credentials; `connect` needs the consumer's
    /// namespace.
    pub fn is_referent(&self) -> bool {
        if !self.is_cluster() {
            return false;
        }
        let auth = self.provider.auth_secret_ref.as_ref();
        let secret_without_namespace = |s: Option<&akvsync_crds::meta::SecretKeySelector>| {
            s.is_some_and(|s| s.namespace.is_none())
        };
        auth.is_some_and(|a| {
            secret_without_namespace(a.client_id.as_ref())
                || secret_without_namespace(a.client_secret.as_ref())
        }) || self
            .provider
            .service_account_ref
            .as_ref()
            .is_some_and(|sa| sa.namespace.is_none())
    }

    /// `SecretStore/ns/name` or `ClusterSecretStore/name`, for logs and cache keys.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind.as_str(), self.name),
            None => format!("{}/{}", self.kind.as_str(), self.name),
        }
    }

    /// The namespace references without an explicit namespace resolve in: the SecretStore's
    /// own, or for a ClusterSecretStore the consumer's (referent auth).
    pub fn default_namespace<'a>(&'a self, consumer: Option<&'a str>) -> Option<&'a str> {
        match self.kind {
            StoreKind::SecretStore => self.namespace.as_deref(),
            StoreKind::ClusterSecretStore => consumer,
        }
    }

    /// The namespace an explicit `namespace` of a reference resolves to: ignored for a
    /// SecretStore (ESO reads from the store's namespace), honoured for a ClusterSecretStore.
    pub fn reference_namespace<'a>(
        &'a self,
        explicit: Option<&'a str>,
        consumer: Option<&'a str>,
    ) -> Option<&'a str> {
        match self.kind {
            StoreKind::SecretStore => self.namespace.as_deref(),
            StoreKind::ClusterSecretStore => explicit.or(consumer),
        }
    }
}
