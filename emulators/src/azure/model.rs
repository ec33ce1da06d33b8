//! The emulator's world: tenants, principals, vaults and their versioned objects. Plain data,
//! serialisable so an optional state file can keep it across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{FederatedCredential, Grant, Limits, ManagedIdentityKind};

/// Soft-delete retention (90 days), in seconds.
pub const RETENTION_SECONDS: i64 = 90 * 24 * 3600;
/// Recovery level reported with soft delete on and purge protection off.
pub const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
/// Days a deleted object stays recoverable.
pub const RECOVERABLE_DAYS: i64 = 90;

/// Everything the emulator knows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct World {
    /// Tenants by id (lowercase).
    pub tenants: BTreeMap<String, Tenant>,
    /// Vaults by name (lowercase).
    pub vaults: BTreeMap<String, Vault>,
    /// Trusted external issuers: issuer URL → JWKS.
    pub issuers: BTreeMap<String, Value>,
    /// Container registries by name (lowercase).
    #[serde(default)]
    pub registries: BTreeMap<String, Registry>,
}

/// An Azure Container Registry: its tenant and who may pull or push.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    /// Name as configured.
    pub name: String,
    /// Tenant that owns it.
    pub tenant: String,
    /// Role assignments by client id.
    pub roles: BTreeMap<String, AcrRole>,
}

/// ACR's built-in data-plane roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AcrRole {
    /// `AcrPull`: pull.
    Pull,
    /// `AcrPush`: pull and push.
    Push,
}

impl AcrRole {
    /// The repository actions the role allows.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            AcrRole::Pull => &["pull"],
            AcrRole::Push => &["pull", "push"],
        }
    }
}

/// A directory tenant.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tenant {
    /// Tenant id as configured.
    pub id: String,
    /// Principals by client id.
    pub principals: BTreeMap<String, Principal>,
}

/// A certificate registered on an application for client assertions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisteredCertificate {
    /// SHA-1 of the DER certificate (`x5t`).
    pub sha1: Vec<u8>,
    /// SHA-256 of the DER certificate (`x5t#S256`).
    pub sha256: Vec<u8>,
    /// The certificate's public key as a JWK.
    pub jwk: Value,
}

/// An application or managed identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Principal {
    /// Display name.
    pub name: String,
    /// Tenant id.
    pub tenant: String,
    /// Client (application) id.
    pub client_id: String,
    /// Object id of the service principal.
    pub object_id: String,
    /// Accepted client secrets.
    pub client_secrets: Vec<String>,
    /// Certificates for client assertions.
    pub certificates: Vec<RegisteredCertificate>,
    /// Federated credentials.
    pub federated: Vec<FederatedCredential>,
    /// Managed identity kind, if any.
    pub managed: Option<ManagedIdentityKind>,
}

/// Attributes common to every object version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    /// Enabled.
    pub enabled: bool,
    /// Not-before (unix seconds).
    pub nbf: Option<i64>,
    /// Expiry (unix seconds).
    pub exp: Option<i64>,
    /// Created (unix seconds).
    pub created: i64,
    /// Updated (unix seconds).
    pub updated: i64,
}

/// One version of an object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Version<T> {
    /// 32 lowercase hex characters.
    pub id: String,
    /// Attributes.
    pub attributes: Attributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Kind-specific data.
    pub data: T,
}

/// When an object was soft-deleted.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Deletion {
    /// Deleted date (unix seconds).
    pub deleted: i64,
    /// Scheduled purge date (unix seconds).
    pub purge: i64,
}

/// A named object with its versions, oldest first; the last one is the latest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item<T> {
    /// Name as first given (lookups are case-insensitive).
    pub name: String,
    /// Versions, oldest first.
    pub versions: Vec<Version<T>>,
    /// Set while soft-deleted.
    pub deleted: Option<Deletion>,
}

impl<T> Item<T> {
    /// The latest version.
    pub fn latest(&self) -> Option<&Version<T>> {
        self.versions.last()
    }

    /// A version by id (case-insensitive), or the latest when `version` is `None`.
    pub fn version(&self, version: Option<&str>) -> Option<&Version<T>> {
        match version {
            None => self.latest(),
            Some(v) => self.versions.iter().find(|x| x.id.eq_ignore_ascii_case(v)),
        }
    }

    /// Mutable form of [`Item::version`].
    pub fn version_mut(&mut self, version: Option<&str>) -> Option<&mut Version<T>> {
        match version {
            None => self.versions.last_mut(),
            Some(v) => self
                .versions
                .iter_mut()
                .find(|x| x.id.eq_ignore_ascii_case(v)),
        }
    }
}

/// Secret payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecretData {
    /// The value.
    pub value: String,
    /// `contentType`.
    pub content_type: Option<String>,
    /// Set when the secret backs a certificate.
    pub managed: bool,
}

/// Key payload. The private parts are kept (for the state file) and never returned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyData {
    /// Public JWK fields (`kty`, `key_ops`, `n`/`e` or `crv`/`x`/`y`), without `kid`.
    pub public: Value,
    /// Private JWK fields, if the key has them.
    pub private: Option<Value>,
    /// Set when the key backs a certificate.
    pub managed: bool,
    /// `exportable` attribute, when given.
    pub exportable: Option<bool>,
}

/// Certificate payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertData {
    /// Leaf certificate DER.
    pub der: Vec<u8>,
    /// The policy, as served (without `id`).
    pub policy: Value,
    /// `preserveCertOrder`.
    pub preserve_cert_order: bool,
}

/// A vault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vault {
    /// Name as configured.
    pub name: String,
    /// Tenant that owns it.
    pub tenant: String,
    /// Role assignments by client id.
    pub grants: BTreeMap<String, Grant>,
    /// Limits for this vault; the emulator default when `None`.
    pub limits: Option<Limits>,
    /// Secrets by lowercase name.
    pub secrets: BTreeMap<String, Item<SecretData>>,
    /// Keys by lowercase name.
    pub keys: BTreeMap<String, Item<KeyData>>,
    /// Certificates by lowercase name.
    pub certificates: BTreeMap<String, Item<CertData>>,
}

impl Vault {
    /// An empty vault.
    pub fn new(name: &str, tenant: &str) -> Self {
        Self {
            name: name.to_string(),
            tenant: tenant.to_string(),
            grants: BTreeMap::new(),
            limits: None,
            secrets: BTreeMap::new(),
            keys: BTreeMap::new(),
            certificates: BTreeMap::new(),
        }
    }
}

/// A fresh version id: 32 lowercase hex characters.
pub fn new_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
