//! The vault a store actor owns: the shared, authenticated client, or, in `--naive` mode (the
//! benchmark's baseline, ESO's call pattern), a client and credential rebuilt for every call.

use akvsync_actors::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue,
};

use crate::azure::{AzureKeyVault, AzureNetwork, CredentialCache, StoreSource, connect};

pub enum OperatorVault {
    Shared(Box<AzureKeyVault>),
    Rebuilt(Box<Rebuilding>),
}

/// Everything `connect` needs, kept to build a fresh client (and token) per call.
pub struct Rebuilding {
    pub host: String,
    pub source: StoreSource,
    pub consumer_namespace: Option<String>,
    pub kube: kube::Client,
    pub network: AzureNetwork,
}

impl Rebuilding {
    async fn client(&self) -> Result<AzureKeyVault, ProviderError> {
        // A fresh credential cache: a new credential, so a new token, every time.
        connect(
            &self.source,
            self.consumer_namespace.as_deref(),
            self.kube.clone(),
            &self.network,
            &CredentialCache::new(),
        )
        .await
        .map_err(|error| ProviderError::Unauthorized {
            message: error.to_string(),
        })
    }
}

impl KeyVault for OperatorVault {
    fn vault_host(&self) -> &str {
        match self {
            OperatorVault::Shared(vault) => vault.vault_host(),
            OperatorVault::Rebuilt(rebuilding) => &rebuilding.host,
        }
    }

    async fn get(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        match self {
            OperatorVault::Shared(vault) => vault.get(key).await,
            OperatorVault::Rebuilt(rebuilding) => rebuilding.client().await?.get(key).await,
        }
    }

    async fn list_page(
        &self,
        kind: ObjectKind,
        page: Option<String>,
    ) -> Result<(Vec<RemoteItem>, Option<String>), ProviderError> {
        match self {
            OperatorVault::Shared(vault) => vault.list_page(kind, page).await,
            OperatorVault::Rebuilt(rebuilding) => {
                rebuilding.client().await?.list_page(kind, page).await
            }
        }
    }

    async fn push(&self, request: &PushRequest) -> Result<(), ProviderError> {
        match self {
            OperatorVault::Shared(vault) => vault.push(request).await,
            OperatorVault::Rebuilt(rebuilding) => rebuilding.client().await?.push(request).await,
        }
    }

    async fn delete(&self, key: &RemoteKey) -> Result<(), ProviderError> {
        match self {
            OperatorVault::Shared(vault) => vault.delete(key).await,
            OperatorVault::Rebuilt(rebuilding) => rebuilding.client().await?.delete(key).await,
        }
    }
}
