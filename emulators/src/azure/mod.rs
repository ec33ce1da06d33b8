//! Azure world: a Key Vault + Entra ID + managed-identity emulator on loopback.
//!
//! One TLS port serves every vault as `https://<vault>.vault.localhost:<port>` and Entra ID as
//! `https://login.localhost:<port>` (routed by `Host`), with certificates from the emulator's
//! own CA. A plain HTTP port serves managed identity (App Service and IMDS path shapes) and the
//! admin endpoint. The unmodified Azure SDK for Rust works against it once its transport and
//! authority host point here: see [`client::client_options`] and
//! [`AzureEmulator::client_options`].

pub mod acr;
mod admin;
pub mod client;
pub mod config;
pub mod crypto;
pub mod directory;
mod emulator;
pub mod entra;
pub mod faults;
pub mod http;
pub mod jwt;
pub mod model;
mod msi;
mod oidc;
pub mod pkcs;
mod server;
mod state;
pub mod stats;
pub mod tls;
pub mod vault;

pub use client::{ClientError, LoopbackResolver, client_options, http_client};
pub use config::{
    Access, AzureConfig, CertificateSeed, DEFAULT_RESOURCE, FEDERATED_AUDIENCE,
    FederatedCredential, Grant, GrantSeed, IssuerSeed, KeySeed, Limits, ManagedIdentityKind,
    PrincipalSpec, RegistryRoleSeed, RegistrySeed, SecretOptions, SecretSeed, SecretVersionSeed,
    Seed, TenantSeed, VaultSeed,
};
pub use directory::WorldError;
pub use emulator::{AzureEmulator, Faults, PrincipalInfo};
pub use faults::FaultConfig;
pub use model::AcrRole;
pub use stats::Snapshot;
