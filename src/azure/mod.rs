//! The Azure Key Vault provider: implements [`akvsync_actors::remote::KeyVault`] over the Azure
//! SDK for Rust, with ESO's authentication methods, clouds, validation rules and messages.
//!
//! The entry point is [`connect`]: it validates a store's `azurekv` block, resolves its
//! credential (service principal with secret or certificate, managed identity, workload
//! identity mounted or referenced), and returns an [`AzureKeyVault`] whose calls go straight to
//! the vault, without SDK retries: the store core owns retries and 429 pauses. Credentials are
//! shared through a [`CredentialCache`], one per (store, namespace) and credential material, so
//! tokens are fetched once per lifetime, not once per reconcile.
//!
//! [`AzureNetwork`] carries the operator flags that point the adapter at non-Azure worlds (an
//! extra trusted CA, an authority host override, a managed-identity endpoint override) and the
//! one HTTP client every call uses.

mod cloud;
mod connect;
mod credential;
mod error;
mod jwk;
mod network;
mod provider_error;
pub(crate) mod secret_ref;
mod source;
mod transport;
mod validate;
mod vault;

pub use cloud::{CloudEndpoints, cloud_endpoints};
pub(crate) use connect::access_token;
pub use connect::connect;
pub use credential::cache::CredentialCache;
pub use credential::certificate::{CertificateError, ClientCertificate};
pub use credential::token::{SharedTokenCredential, TokenObserver, TokenOwner, TokenPolicy};
pub use error::StoreError;
pub use jwk::{JwkFieldOrder, jwk_json};
pub use network::{
    AzureNetwork, EnvSource, ManagedIdentityEndpoint, MapEnv, NetworkSettings, ProcessEnv,
};
pub use provider_error::provider_error;
pub use source::StoreSource;
pub use transport::{LocalhostResolver, TransportError};
pub use validate::validate_store;
pub use vault::AzureKeyVault;
