//! State shared by every endpoint of one emulator: the world, settings, counters, keys.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;

use super::config::Limits;
use super::faults::{FaultConfig, Throttle};
use super::jwt::RsaSigner;
use super::model::{Principal, World, now};
use super::stats::Stats;
use super::tls::Pki;

/// Settings that tests change at runtime.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Default limits for vaults without their own.
    pub limits: Limits,
    /// Fault injection.
    pub faults: FaultConfig,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
}

/// Everything one emulator's endpoints share.
#[derive(Debug)]
pub struct Shared {
    /// The world.
    pub world: Mutex<World>,
    /// Runtime settings.
    pub settings: Mutex<Settings>,
    /// Counters.
    pub stats: Stats,
    /// Throttling windows.
    pub throttle: Throttle,
    /// The Entra emulator's token signing key.
    pub signer: RsaSigner,
    /// TLS CA.
    pub pki: Arc<Pki>,
    /// Key Vault resource (audience).
    pub resource: String,
    /// TLS port.
    pub https_port: u16,
    /// Plain HTTP port.
    pub http_port: u16,
    /// Managed-identity secret header value.
    pub identity_header: String,
    /// Where to persist the world, if anywhere.
    pub state_file: Option<PathBuf>,
}

impl Shared {
    /// Locks the world.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the settings.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the settings.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        change(&mut self.settings.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Writes the world to the state file, if one is configured.
    pub fn persist(&self, world: &World) {
        let Some(path) = &self.state_file else {
            return;
        };
        match serde_json::to_vec(world) {
            Ok(bytes) => {
                let tmp = path.with_extension("tmp");
                if let Err(error) =
                    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path))
                {
                    tracing::warn!(%error, path = %path.display(), "cannot write state file");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot serialise state"),
        }
    }

    /// `https://login.localhost:<port>`.
    pub fn authority_host(&self) -> String {
        format!("https://login.localhost:{}", self.https_port)
    }

    /// `https://<vault>.vault.localhost:<port>` (the vault's own base URL).
    pub fn vault_url(&self, vault: &str) -> String {
        format!(
            "https://{}.vault.localhost:{}",
            vault.to_ascii_lowercase(),
            self.https_port
        )
    }

    /// Mints an access token for `principal` and `resource`; returns it with its lifetime.
    /// `appidacr` is "1" for a secret, "2" for a certificate or assertion, "0" for managed identity.
    pub fn issue_token(
        &self,
        principal: &Principal,
        resource: &str,
        appidacr: &str,
    ) -> (String, Duration) {
        let lifetime = self.settings().token_lifetime;
        let token = self.mint_token(principal, resource, appidacr, lifetime.as_secs() as i64);
        (token, lifetime)
    }

    /// Mints a token valid for `lifetime_seconds` from now (negative: already expired).
    pub fn mint_token(
        &self,
        principal: &Principal,
        resource: &str,
        appidacr: &str,
        lifetime_seconds: i64,
    ) -> String {
        let now = now();
        let issuer = format!("https://sts.windows.net/{}/", principal.tenant);
        let claims = json!({
            "aud": resource,
            "iss": issuer,
            "iat": now - 5,
            "nbf": now - 5,
            "exp": now + lifetime_seconds,
            "appid": principal.client_id,
            "appidacr": appidacr,
            "idp": issuer,
            "idtyp": "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": principal.tenant,
            "ver": "1.0",
            "uti": uuid::Uuid::new_v4().simple().to_string(),
        });
        self.signer
            .sign(&json!({"x5t": self.signer.kid()}), &claims)
    }
}
