//! Shared fixtures for the Azure emulator tests: a small world, SDK clients pointed at it,
//! and a timeout around every await.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use akvsync_emulators::azure::{
    AzureConfig, AzureEmulator, Grant, PrincipalInfo, PrincipalSpec, Seed, TenantSeed, VaultSeed,
};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

/// Tenant that owns [`VAULT`].
pub const TENANT: &str = "tenant-a";
/// A second tenant, owning [`OTHER_VAULT`].
pub const OTHER_TENANT: &str = "tenant-b";
/// The main vault.
pub const VAULT: &str = "main-vault";
/// A vault of the other tenant.
pub const OTHER_VAULT: &str = "other-vault";
/// Client id of the admin app in [`TENANT`].
pub const ADMIN: &str = "11111111-0000-0000-0000-000000000001";
/// Client id of a read-only app in [`TENANT`].
pub const READER: &str = "11111111-0000-0000-0000-000000000002";
/// Client id of an app in [`OTHER_TENANT`].
pub const STRANGER: &str = "22222222-0000-0000-0000-000000000001";
/// The secret of every seeded app.
pub const SECRET: &str = "app-secret-value";

/// Upper bound for any single await in a test.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Awaits `f` or panics after [`TIMEOUT`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, f).await.expect("timed out")
}

fn app(client_id: &str, name: &str) -> PrincipalSpec {
    PrincipalSpec {
        name: name.into(),
        client_id: client_id.into(),
        client_secrets: vec![SECRET.into()],
        ..PrincipalSpec::default()
    }
}

/// The seed every test starts from: two tenants, a vault each, an admin and a reader.
pub fn seed() -> Seed {
    Seed {
        tenants: vec![
            TenantSeed {
                id: TENANT.into(),
                principals: vec![app(ADMIN, "admin"), app(READER, "reader")],
            },
            TenantSeed {
                id: OTHER_TENANT.into(),
                principals: vec![app(STRANGER, "stranger")],
            },
        ],
        vaults: vec![
            VaultSeed {
                name: VAULT.into(),
                tenant: TENANT.into(),
                grants: vec![
                    akvsync_emulators::azure::GrantSeed {
                        principal: ADMIN.into(),
                        grant: Grant::all(),
                    },
                    akvsync_emulators::azure::GrantSeed {
                        principal: READER.into(),
                        grant: Grant::secrets_read(),
                    },
                ],
                ..VaultSeed::default()
            },
            VaultSeed {
                name: OTHER_VAULT.into(),
                tenant: OTHER_TENANT.into(),
                grants: vec![akvsync_emulators::azure::GrantSeed {
                    principal: STRANGER.into(),
                    grant: Grant::all(),
                }],
                ..VaultSeed::default()
            },
        ],
        trusted_issuers: vec![],
        registries: vec![],
    }
}

/// Starts an emulator with [`seed`].
pub async fn start() -> AzureEmulator {
    start_with(AzureConfig::default()).await
}

/// Starts an emulator with [`seed`] and `config`'s other settings.
pub async fn start_with(config: AzureConfig) -> AzureEmulator {
    within(AzureEmulator::start(AzureConfig {
        seed: seed(),
        ..config
    }))
    .await
    .expect("emulator starts")
}

/// SDK client options pointed at the emulator, with retries off unless `retry`.
pub fn options(emulator: &AzureEmulator, retry: bool) -> ClientOptions {
    let mut options = emulator.client_options().expect("client options");
    if !retry {
        options.retry = RetryOptions::none();
    }
    options
}

/// A client-secret credential for `client_id` in `tenant`.
pub fn credential(
    emulator: &AzureEmulator,
    tenant: &str,
    client_id: &str,
) -> Arc<dyn TokenCredential> {
    ClientSecretCredential::new(
        tenant,
        client_id.to_string(),
        Secret::new(SECRET.to_string()),
        Some(ClientSecretCredentialOptions {
            client_options: options(emulator, true),
        }),
    )
    .expect("credential")
}

/// A secret client for `vault` using `credential`.
pub fn secrets(
    emulator: &AzureEmulator,
    vault: &str,
    credential: Arc<dyn TokenCredential>,
    retry: bool,
) -> SecretClient {
    SecretClient::new(
        &emulator.vault_url(vault),
        credential,
        Some(SecretClientOptions {
            client_options: options(emulator, retry),
            ..SecretClientOptions::default()
        }),
    )
    .expect("secret client")
}

/// A secret client for [`VAULT`] as [`ADMIN`], retries off.
pub fn admin_secrets(emulator: &AzureEmulator) -> SecretClient {
    secrets(emulator, VAULT, credential(emulator, TENANT, ADMIN), false)
}

/// A key client for [`VAULT`] as [`ADMIN`], retries off.
pub fn admin_keys(emulator: &AzureEmulator) -> KeyClient {
    KeyClient::new(
        &emulator.vault_url(VAULT),
        credential(emulator, TENANT, ADMIN),
        Some(KeyClientOptions {
            client_options: options(emulator, false),
            ..KeyClientOptions::default()
        }),
    )
    .expect("key client")
}

/// A certificate client for [`VAULT`] as [`ADMIN`], retries off.
pub fn admin_certificates(emulator: &AzureEmulator) -> CertificateClient {
    CertificateClient::new(
        &emulator.vault_url(VAULT),
        credential(emulator, TENANT, ADMIN),
        Some(CertificateClientOptions {
            client_options: options(emulator, false),
            ..CertificateClientOptions::default()
        }),
    )
    .expect("certificate client")
}

/// Status and error code of an SDK error.
pub fn status_and_code(error: &azure_core::Error) -> (u16, String) {
    match error.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => (u16::from(*status), error_code.clone().unwrap_or_default()),
        other => panic!("expected an HTTP error, got {other:?}: {error}"),
    }
}

/// The principal info of `client_id`.
pub fn principal(emulator: &AzureEmulator, client_id: &str) -> PrincipalInfo {
    emulator
        .principals()
        .into_iter()
        .find(|p| p.client_id == client_id)
        .expect("seeded principal")
}

/// The raw body of an SDK HTTP error.
pub fn error_body(error: &azure_core::Error) -> serde_json::Value {
    match error.kind() {
        ErrorKind::HttpResponse {
            raw_response: Some(raw),
            ..
        } => serde_json::from_slice(raw.body()).expect("error bodies are JSON"),
        other => panic!("expected an HTTP error with a body, got {other:?}"),
    }
}
