//! `connect`: from a store spec to an authenticated [`AzureKeyVault`].

use akvsync_crds::meta::StoreKind;

use super::cloud::cloud_endpoints;
use super::credential::cache::CredentialCache;
use super::credential::credential_for;
use super::error::StoreError;
use super::jwk::JwkFieldOrder;
use super::network::AzureNetwork;
use super::source::StoreSource;
use super::validate::validate_store;
use super::vault::AzureKeyVault;

/// Validates `store` (ESO's ValidateStore, then its client-construction rules), resolves its
/// credential and returns the vault client.
///
/// `consumer_namespace` is the namespace of the ExternalSecret or PushSecret being served. A
/// SecretStore ignores it (its references resolve in its own namespace). A ClusterSecretStore
/// resolves references that name no namespace in it (referent auth): call `connect` once per
/// consumer namespace; each (store, namespace) pair gets its own credential from `cache`.
/// For a referent ClusterSecretStore ([`StoreSource::is_referent`]) with no consumer namespace
/// (store validation), ESO reports the store Ready without authenticating: call
/// [`validate_store`] instead.
///
/// Nothing here calls Key Vault; credentials are lazy except that Kubernetes references
/// (Secrets, ServiceAccounts, the mounted token file) are read now, so a missing one fails
/// the store with ESO's message.
pub async fn connect(
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    kube: kube::Client,
    network: &AzureNetwork,
    cache: &CredentialCache,
) -> Result<AzureKeyVault, StoreError> {
    validate_store(store)?;
    let endpoints = cloud_endpoints(&store.provider)?;
    let vault_url = store.provider.vault_url.trim();
    let parsed = url::Url::parse(vault_url)
        .map_err(|e| StoreError::config(format!("invalid vaultUrl {vault_url:?}: {e}")))?;
    if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
        return Err(StoreError::config(format!(
            "invalid vaultUrl {vault_url:?}: Key Vault requires an https URL with a host"
        )));
    }
    let consumer_namespace = match store.kind {
        StoreKind::SecretStore => store.namespace.as_deref(),
        StoreKind::ClusterSecretStore => consumer_namespace,
    };
    let credential =
        credential_for(store, consumer_namespace, &kube, network, &endpoints, cache).await?;
    let order = if store.provider.use_azure_sdk.unwrap_or(false) {
        JwkFieldOrder::Sorted
    } else {
        JwkFieldOrder::Legacy
    };
    AzureKeyVault::new(vault_url, credential, network.vault_client_options(), order)
        .map_err(|e| StoreError::config(format!("invalid vaultUrl {vault_url:?}: {e}")))
}

/// An Entra access token for `scope` (e.g. `https://management.azure.com/.default`) with the
/// credential `source` describes, its references resolved in `namespace`: for Azure services
/// other than Key Vault, such as the ACRAccessToken generator's registry exchange.
pub(crate) async fn access_token(
    source: &StoreSource,
    namespace: &str,
    kube: &kube::Client,
    network: &AzureNetwork,
    cache: &CredentialCache,
    scope: &str,
) -> Result<String, StoreError> {
    let endpoints = cloud_endpoints(&source.provider)?;
    let credential =
        credential_for(source, Some(namespace), kube, network, &endpoints, cache).await?;
    let token = credential
        .get_token(&[scope], None)
        .await
        .map_err(|error| StoreError::Credential {
            message: super::provider_error::credential_message(&error),
            transient: false,
        })?;
    Ok(token.token.secret().to_owned())
}
