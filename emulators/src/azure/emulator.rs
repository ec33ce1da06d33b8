//! The library handle: start the Azure world on loopback, seed and change it at runtime, read
//! its counters, inject faults, stop it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{self, ClientError};
use super::config::{
    AzureConfig, Grant, Limits, ManagedIdentityKind, PrincipalSpec, SecretOptions,
};
use super::directory::{self, WorldError};
use super::faults::FaultConfig;
use super::jwt::RsaSigner;
use super::model::{AcrRole, Principal, World};
use super::msi;
use super::server;
use super::state::{Settings, Shared};
use super::stats::Snapshot;
use super::tls::Pki;

/// A principal as the emulator knows it, for tests and the ready line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalInfo {
    /// Tenant id.
    pub tenant: String,
    /// Display name.
    pub name: String,
    /// Client (application) id.
    pub client_id: String,
    /// Object id.
    pub object_id: String,
    /// First client secret, if any.
    pub client_secret: Option<String>,
    /// Managed identity kind, if any.
    pub managed_identity: Option<ManagedIdentityKind>,
}

impl From<&Principal> for PrincipalInfo {
    fn from(p: &Principal) -> Self {
        Self {
            tenant: p.tenant.clone(),
            name: p.name.clone(),
            client_id: p.client_id.clone(),
            object_id: p.object_id.clone(),
            client_secret: p.client_secrets.first().cloned(),
            managed_identity: p.managed,
        }
    }
}

/// A running Azure emulator: Key Vault (many vaults), Entra ID (many tenants) and managed
/// identity, on 127.0.0.1. Dropping it stops the servers.
#[derive(Debug)]
pub struct AzureEmulator {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    ca_path: PathBuf,
    owned_dir: Option<PathBuf>,
}

impl AzureEmulator {
    /// Starts the emulator on 127.0.0.1 (ephemeral ports unless configured), writes the CA PEM
    /// to a file, and applies the seed (or loads the state file when it exists).
    pub async fn start(config: AzureConfig) -> anyhow::Result<Self> {
        let pki = Arc::new(Pki::new().context("create emulator CA")?);
        let (ca_dir, owned_dir) = match &config.ca_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "akvsync-azure-emulator-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                (dir.clone(), Some(dir))
            }
        };
        std::fs::create_dir_all(&ca_dir).with_context(|| format!("create {}", ca_dir.display()))?;
        let ca_path = ca_dir.join("azure-emulator-ca.pem");
        std::fs::write(&ca_path, pki.ca_pem())
            .with_context(|| format!("write {}", ca_path.display()))?;

        let https = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.https_port)))
            .await
            .context("bind TLS listener")?;
        let http = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.http_port)))
            .await
            .context("bind HTTP listener")?;
        let https_port = https.local_addr()?.port();
        let http_port = http.local_addr()?.port();

        let signer = tokio::task::spawn_blocking(RsaSigner::generate).await?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::default()),
            settings: Mutex::new(Settings {
                limits: config.limits,
                faults: FaultConfig::default(),
                token_lifetime: config.token_lifetime,
            }),
            stats: Default::default(),
            throttle: Default::default(),
            signer,
            pki: pki.clone(),
            resource: config.resource.trim_end_matches('/').to_string(),
            https_port,
            http_port,
            identity_header: config
                .identity_header
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
            state_file: config.state_file.clone(),
        });

        let restored = match &config.state_file {
            Some(path) if path.exists() => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
                let world: World = serde_json::from_slice(&bytes)
                    .with_context(|| format!("parse {}", path.display()))?;
                *shared.world() = world;
                true
            }
            _ => false,
        };
        if !restored {
            let seed = config.seed.clone();
            let shared_for_seed = shared.clone();
            tokio::task::spawn_blocking(move || {
                let mut world = shared_for_seed.world();
                directory::apply_seed(&mut world, &seed, |v| shared_for_seed.vault_url(v))?;
                shared_for_seed.persist(&world);
                Ok::<_, WorldError>(())
            })
            .await?
            .context("apply seed")?;
        }

        let (shutdown, receiver) = watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
        let tasks = vec![
            tokio::spawn(server::serve_tls(
                https,
                acceptor,
                shared.clone(),
                receiver.clone(),
            )),
            tokio::spawn(server::serve_plain(http, shared.clone(), receiver)),
        ];
        Ok(Self {
            shared,
            shutdown,
            tasks: Mutex::new(tasks),
            ca_path,
            owned_dir,
        })
    }

    /// `https://<vault>.vault.localhost:<port>/`.
    pub fn vault_url(&self, vault: &str) -> String {
        format!("{}/", self.shared.vault_url(vault))
    }

    /// `https://login.localhost:<port>`: the authority host for `azure_identity`.
    pub fn authority_host(&self) -> String {
        self.shared.authority_host()
    }

    /// The App Service managed identity endpoint (`IDENTITY_ENDPOINT`).
    pub fn identity_endpoint(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.shared.http_port,
            msi::APP_SERVICE_PATH
        )
    }

    /// The IMDS-shaped endpoint (same answers, requires `Metadata: true`).
    pub fn imds_endpoint(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.shared.http_port,
            msi::IMDS_PATH
        )
    }

    /// The value for `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.shared.identity_header
    }

    /// Base URL of the admin endpoint (`/admin/stats`, `/admin/faults`, `/admin/limits`).
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}/admin", self.shared.http_port)
    }

    /// The TLS port shared by every vault and the Entra host.
    pub fn https_port(&self) -> u16 {
        self.shared.https_port
    }

    /// The plain HTTP port (managed identity, admin).
    pub fn http_port(&self) -> u16 {
        self.shared.http_port
    }

    /// The Key Vault resource (token audience), e.g. `https://vault.localhost`.
    pub fn resource(&self) -> &str {
        &self.shared.resource
    }

    /// The CA certificate (PEM) that signs the emulator's TLS certificates.
    pub fn ca_pem(&self) -> &str {
        self.shared.pki.ca_pem()
    }

    /// The file holding [`AzureEmulator::ca_pem`].
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// A reqwest client that trusts the CA and resolves `*.localhost` to loopback.
    pub fn http_client(&self) -> Result<reqwest::Client, ClientError> {
        client::http_client(self.ca_pem())
    }

    /// Azure SDK `ClientOptions` (transport + authority host) pointing at this emulator.
    pub fn client_options(&self) -> Result<azure_core::http::ClientOptions, ClientError> {
        client::client_options(self.ca_pem(), &self.authority_host())
    }

    fn change<T>(
        &self,
        f: impl FnOnce(&mut World, &Shared) -> Result<T, WorldError>,
    ) -> Result<T, WorldError> {
        let mut world = self.shared.world();
        let result = f(&mut world, &self.shared)?;
        self.shared.persist(&world);
        Ok(result)
    }

    /// Adds a tenant.
    pub fn add_tenant(&self, id: &str) -> Result<(), WorldError> {
        self.change(|w, _| directory::add_tenant(w, id))
    }

    /// Adds an application or managed identity to a tenant.
    pub fn add_principal(
        &self,
        tenant: &str,
        spec: PrincipalSpec,
    ) -> Result<PrincipalInfo, WorldError> {
        self.change(|w, _| {
            directory::add_principal(w, tenant, &spec).map(|p| PrincipalInfo::from(&p))
        })
    }

    /// Adds a vault owned by `tenant`.
    pub fn add_vault(&self, name: &str, tenant: &str) -> Result<(), WorldError> {
        self.change(|w, _| directory::add_vault(w, name, tenant))
    }

    /// Adds a container registry owned by `tenant`; its login server is
    /// [`AzureEmulator::registry_login_server`].
    pub fn add_registry(&self, name: &str, tenant: &str) -> Result<(), WorldError> {
        self.change(|w, _| directory::add_registry(w, name, tenant))
    }

    /// Gives `client_id` an ACR role (`AcrPull` or `AcrPush`) on `registry`.
    pub fn assign_registry_role(
        &self,
        registry: &str,
        client_id: &str,
        role: AcrRole,
    ) -> Result<(), WorldError> {
        self.change(|w, _| directory::assign_registry_role(w, registry, client_id, role))
    }

    /// `<registry>.azurecr.localhost:<port>`: the registry's login server, as ACR's
    /// `<registry>.azurecr.io`.
    pub fn registry_login_server(&self, registry: &str) -> String {
        format!(
            "{}{}:{}",
            registry.to_ascii_lowercase(),
            super::acr::ACR_SUFFIX,
            self.shared.https_port
        )
    }

    /// Gives `client_id` the access `grant` on `vault` (replacing what it had).
    pub fn grant(&self, vault: &str, client_id: &str, grant: Grant) -> Result<(), WorldError> {
        self.change(|w, _| directory::grant(w, vault, client_id, grant))
    }

    /// Sets a new secret version; returns the version id.
    pub fn set_secret(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        options: SecretOptions,
    ) -> Result<String, WorldError> {
        let bundle = self.change(|w, s| {
            directory::set_secret(w, &s.vault_url(vault), vault, name, value, &options)
        })?;
        Ok(version_of(&bundle["id"]))
    }

    /// Disables a secret version (latest when `version` is `None`).
    pub fn disable_secret(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<(), WorldError> {
        self.change(|w, s| {
            directory::set_secret_enabled(w, &s.vault_url(vault), vault, name, version, false)
        })
        .map(drop)
    }

    /// Enables a secret version (latest when `version` is `None`).
    pub fn enable_secret(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<(), WorldError> {
        self.change(|w, s| {
            directory::set_secret_enabled(w, &s.vault_url(vault), vault, name, version, true)
        })
        .map(drop)
    }

    /// Soft-deletes a secret.
    pub fn delete_secret(&self, vault: &str, name: &str) -> Result<(), WorldError> {
        self.change(|w, s| directory::delete_secret(w, &s.vault_url(vault), vault, name))
            .map(drop)
    }

    /// Imports a certificate (base64 PFX or PEM); returns the shared version id.
    pub fn import_certificate(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        password: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<String, WorldError> {
        let bundle = self.change(|w, s| {
            directory::import_certificate(
                w,
                &s.vault_url(vault),
                vault,
                name,
                value,
                password,
                content_type,
            )
        })?;
        Ok(version_of(&bundle["id"]))
    }

    /// Imports a key from a JWK; returns the version id.
    pub fn import_key(&self, vault: &str, name: &str, jwk: &Value) -> Result<String, WorldError> {
        let bundle =
            self.change(|w, s| directory::import_key(w, &s.vault_url(vault), vault, name, jwk))?;
        Ok(version_of(&bundle["key"]["kid"]))
    }

    /// Creates a key, e.g. `{"kty":"EC","crv":"P-256"}`; returns the version id.
    pub fn create_key(
        &self,
        vault: &str,
        name: &str,
        request: &Value,
    ) -> Result<String, WorldError> {
        let bundle = self
            .change(|w, s| directory::create_key(w, &s.vault_url(vault), vault, name, request))?;
        Ok(version_of(&bundle["key"]["kid"]))
    }

    /// Trusts `issuer` for federated credentials, verifying its tokens with `jwks`.
    pub fn trust_issuer(&self, issuer: &str, jwks: Value) {
        let mut world = self.shared.world();
        world.issuers.insert(issuer.to_string(), jwks);
        self.shared.persist(&world);
    }

    /// Every principal, for reports.
    pub fn principals(&self) -> Vec<PrincipalInfo> {
        let world = self.shared.world();
        world
            .tenants
            .values()
            .flat_map(|t| t.principals.values())
            .map(PrincipalInfo::from)
            .collect()
    }

    /// A copy of every counter.
    pub fn stats(&self) -> Snapshot {
        self.shared.stats.snapshot()
    }

    /// Resets every counter.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Fault injection controls.
    pub fn faults(&self) -> Faults<'_> {
        Faults {
            shared: &self.shared,
        }
    }

    /// Default limits for vaults without their own (resets the throttling windows).
    pub fn set_limits(&self, limits: Limits) {
        self.shared.update_settings(|s| s.limits = limits);
        self.shared.throttle.reset();
    }

    /// Limits for one vault (resets the throttling windows).
    pub fn set_vault_limits(&self, vault: &str, limits: Limits) -> Result<(), WorldError> {
        self.change(|w, _| {
            w.vaults
                .get_mut(&vault.to_ascii_lowercase())
                .ok_or_else(|| WorldError::UnknownVault(vault.to_string()))?
                .limits = Some(limits);
            Ok(())
        })?;
        self.shared.throttle.reset();
        Ok(())
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.update_settings(|s| s.token_lifetime = lifetime);
    }

    /// Mints an access token for a principal directly (negative lifetime: already expired),
    /// for tests of token validation.
    pub fn mint_token(
        &self,
        tenant: &str,
        client_id: &str,
        resource: &str,
        lifetime_seconds: i64,
    ) -> Result<String, WorldError> {
        let principal = {
            let world = self.shared.world();
            world
                .tenants
                .get(&tenant.to_ascii_lowercase())
                .ok_or_else(|| WorldError::UnknownTenant(tenant.to_string()))?
                .principals
                .get(client_id)
                .cloned()
                .ok_or_else(|| WorldError::UnknownPrincipal(client_id.to_string()))?
        };
        Ok(self
            .shared
            .mint_token(&principal, resource, "1", lifetime_seconds))
    }

    /// The JWKS of the Entra emulator's token signing key.
    pub fn token_jwks(&self) -> Value {
        serde_json::json!({"keys": [self.shared.signer.jwk()]})
    }

    /// Stops the servers and waits for the accept loops to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for AzureEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            task.abort();
        }
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn version_of(id: &Value) -> String {
    id.as_str()
        .and_then(|id| id.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

/// Runtime fault injection on one emulator.
#[derive(Debug)]
pub struct Faults<'a> {
    shared: &'a Shared,
}

impl Faults<'_> {
    /// The current faults.
    pub fn get(&self) -> FaultConfig {
        self.shared.settings().faults
    }

    /// Replaces the faults.
    pub fn set(&self, faults: FaultConfig) {
        self.shared.update_settings(|s| s.faults = faults);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.set(FaultConfig::default());
    }

    /// Adds `latency` before every answer.
    pub fn latency(&self, latency: Duration) {
        self.shared
            .update_settings(|s| s.faults.latency_ms = latency.as_millis() as u64);
    }

    /// Answers a fraction `rate` of vault requests with `status`.
    pub fn error_rate(&self, rate: f64, status: u16) {
        self.shared.update_settings(|s| {
            s.faults.error_rate = rate;
            s.faults.error_status = status;
        });
    }

    /// Drops the connection of a fraction `rate` of vault requests.
    pub fn drop_rate(&self, rate: f64) {
        self.shared.update_settings(|s| s.faults.drop_rate = rate);
    }

    /// Makes the token and managed-identity endpoints answer `status` (or work again on `None`).
    pub fn token_outage(&self, status: Option<u16>) {
        self.shared
            .update_settings(|s| s.faults.token_outage = status);
    }
}
