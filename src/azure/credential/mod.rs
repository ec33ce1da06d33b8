//! Builds (or reuses) the credential a store authenticates with, per ESO's auth dispatch
//! (spec §2): service principal with a client secret or certificate, managed identity, and
//! workload identity from the operator's mounted token or a referenced ServiceAccount.

pub(crate) mod cache;
pub(crate) mod certificate;
mod managed_identity;
mod resolve;
pub(crate) mod token;
mod workload;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};

use super::cloud::CloudEndpoints;
use super::error::StoreError;
use super::network::AzureNetwork;
use super::provider_error::credential_message;
use super::source::StoreSource;
use cache::{CacheKey, CredentialCache};
use certificate::CertificateAssertion;
use resolve::{Inputs, resolve_inputs};
use token::TokenOwner;
use workload::{ServiceAccountAssertion, TokenFileAssertion};

/// The store's credential: from `cache` when the same inputs were resolved before for this
/// (store, namespace), else newly built and cached.
pub(crate) async fn credential_for(
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    kube: &kube::Client,
    network: &AzureNetwork,
    endpoints: &CloudEndpoints,
    cache: &CredentialCache,
) -> Result<Arc<dyn TokenCredential>, StoreError> {
    let inputs = resolve_inputs(store, consumer_namespace, kube, network).await?;
    let authority = network.effective_authority_host(&endpoints.authority_host);
    let key = CacheKey {
        store: store.id(),
        namespace: store
            .default_namespace(consumer_namespace)
            .map(str::to_owned),
        fingerprint: inputs.fingerprint(&authority),
    };
    let owner = TokenOwner {
        kind: store.kind,
        namespace: store.namespace.clone().unwrap_or_default(),
        name: store.name.clone(),
    };
    cache.get_or_try_insert(key, owner, || {
        build(inputs, store, kube, network, endpoints)
    })
}

fn build(
    inputs: Inputs,
    store: &StoreSource,
    kube: &kube::Client,
    network: &AzureNetwork,
    endpoints: &CloudEndpoints,
) -> Result<Arc<dyn TokenCredential>, StoreError> {
    let options = network.credential_client_options(&endpoints.authority_host);
    let authority = network.effective_authority_host(&endpoints.authority_host);
    let invalid = |e: azure_core::Error| StoreError::config(credential_message(&e));
    let assertion_options = || {
        Some(ClientAssertionCredentialOptions {
            client_options: options.clone(),
        })
    };
    let credential: Arc<dyn TokenCredential> = match inputs {
        Inputs::ClientSecret {
            tenant,
            client_id,
            secret,
        } => ClientSecretCredential::new(
            &tenant,
            client_id,
            secret,
            Some(ClientSecretCredentialOptions {
                client_options: options.clone(),
            }),
        )
        .map_err(invalid)?,
        Inputs::ClientCertificate {
            tenant,
            client_id,
            certificate,
        } => {
            let token_url = format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            );
            ClientAssertionCredential::new(
                tenant,
                client_id.clone(),
                CertificateAssertion {
                    certificate,
                    client_id,
                    token_url,
                },
                assertion_options(),
            )
            .map_err(invalid)?
        }
        Inputs::ManagedIdentity { identity_id } => match network.managed_identity_endpoint() {
            Some(endpoint) => Arc::new(
                managed_identity::AppServiceManagedIdentity::new(
                    &endpoint,
                    identity_id,
                    network.http().clone(),
                )
                .map_err(StoreError::config)?,
            ),
            None => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: identity_id.map(UserAssignedId::ClientId),
                client_options: network.vault_client_options(),
            }))
            .map_err(invalid)?,
        },
        Inputs::TokenFile {
            tenant,
            client_id,
            path,
        } => ClientAssertionCredential::new(
            tenant,
            client_id,
            TokenFileAssertion { path: path.into() },
            assertion_options(),
        )
        .map_err(invalid)?,
        Inputs::ServiceAccount {
            tenant,
            client_id,
            namespace,
            name,
            audiences,
        } => ClientAssertionCredential::new(
            tenant,
            client_id,
            ServiceAccountAssertion::new(kube.clone(), namespace, name, audiences),
            assertion_options(),
        )
        .map_err(invalid)?,
    };
    tracing::debug!(store = %store.id(), "built a new Azure credential");
    Ok(credential)
}
