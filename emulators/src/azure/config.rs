//! Configuration and seed types: what the emulator starts with, as a library config or a seed
//! file (YAML or JSON, camelCase keys).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Access a principal has to one kind of object (secrets, keys or certificates) in a vault.
/// Levels from `list` on are cumulative: each includes the ones before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// Nothing.
    #[default]
    None,
    /// Get objects by name, no listing: an access policy granting `Get` without `List` (Key
    /// Vault RBAC has no such role). Outside the cumulative order.
    GetOnly,
    /// List and read metadata (for keys and certificates: get the public parts too).
    List,
    /// Also read secret values.
    Read,
    /// Also set, update, create and import.
    Write,
    /// Also delete, recover, purge, backup and restore.
    All,
}

/// A principal's access to one vault, per object kind (like Key Vault RBAC roles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Grant {
    /// Access to secrets.
    pub secrets: Access,
    /// Access to keys.
    pub keys: Access,
    /// Access to certificates.
    pub certificates: Access,
}

impl Grant {
    /// Everything on every kind ("Key Vault Administrator").
    pub fn all() -> Self {
        Self {
            secrets: Access::All,
            keys: Access::All,
            certificates: Access::All,
        }
    }

    /// Read secret values only ("Key Vault Secrets User").
    pub fn secrets_read() -> Self {
        Self {
            secrets: Access::Read,
            ..Self::default()
        }
    }

    /// Sets the access to secrets.
    pub fn with_secrets(mut self, access: Access) -> Self {
        self.secrets = access;
        self
    }

    /// Sets the access to keys.
    pub fn with_keys(mut self, access: Access) -> Self {
        self.keys = access;
        self
    }

    /// Sets the access to certificates.
    pub fn with_certificates(mut self, access: Access) -> Self {
        self.certificates = access;
        self
    }
}

/// Per-vault request limits, modeled on Key Vault's service limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Reads (get, list) allowed per window per vault; the real service allows about 4,000 per 10 s.
    pub reads: u32,
    /// Writes (set, create, import, update, delete, recover, purge) per window per vault;
    /// the real service allows about 300 creates per 10 s.
    pub writes: u32,
    /// The window length, in milliseconds.
    pub window_ms: u64,
    /// Whether a 429 carries `Retry-After` (the real service often omits it).
    pub retry_after: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            reads: 4_000,
            writes: 300,
            window_ms: 10_000,
            retry_after: true,
        }
    }
}

impl Limits {
    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms.max(1))
    }
}

/// Whether a principal is a managed identity, and which kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagedIdentityKind {
    /// The host's system-assigned identity (selected when the request names no client id).
    System,
    /// A user-assigned identity, selected by client id or object id.
    User,
}

/// A federated identity credential: which external tokens may act as the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    /// The external issuer (`iss`), matched exactly.
    pub issuer: String,
    /// The external subject (`sub`), e.g. `system:serviceaccount:ns:name`, matched exactly.
    pub subject: String,
    /// Accepted audiences; defaults to `api://AzureADTokenExchange`.
    #[serde(default = "default_federated_audiences")]
    pub audiences: Vec<String>,
}

fn default_federated_audiences() -> Vec<String> {
    vec![FEDERATED_AUDIENCE.to_string()]
}

/// The audience Entra requires on federated (workload identity) assertions.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// An application (service principal) or managed identity in a tenant.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PrincipalSpec {
    /// Display name.
    pub name: String,
    /// Application (client) id; generated when empty.
    pub client_id: String,
    /// Service principal object id; generated when empty.
    pub object_id: String,
    /// Accepted client secrets.
    pub client_secrets: Vec<String>,
    /// PEM certificates whose keys may sign client assertions.
    pub certificates: Vec<String>,
    /// Federated identity credentials (workload identity).
    pub federated: Vec<FederatedCredential>,
    /// Set when this principal is a managed identity.
    pub managed_identity: Option<ManagedIdentityKind>,
}

impl PrincipalSpec {
    /// An application with a generated client id and the given secret.
    pub fn with_secret(name: &str, secret: &str) -> Self {
        Self {
            name: name.to_string(),
            client_secrets: vec![secret.to_string()],
            ..Self::default()
        }
    }
}

/// Optional properties of a secret version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretOptions {
    /// `contentType`.
    pub content_type: Option<String>,
    /// Tags (at most 15).
    pub tags: BTreeMap<String, String>,
    /// `enabled` (default true).
    pub enabled: Option<bool>,
    /// Not-before, unix seconds.
    pub nbf: Option<i64>,
    /// Expiry, unix seconds.
    pub exp: Option<i64>,
    /// When the version was created (and last updated), unix seconds: a seeded vault whose
    /// secrets predate the emulator. Now when absent.
    pub created: Option<i64>,
}

/// One secret version in a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionSeed {
    /// The value.
    pub value: String,
    /// Its properties.
    #[serde(flatten)]
    pub options: SecretOptions,
}

/// A secret in a seed: either `value` (+ options) or a list of `versions`, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSeed {
    /// Name.
    pub name: String,
    /// Single-version shorthand.
    #[serde(default)]
    pub value: Option<String>,
    /// Options for the single-version shorthand.
    #[serde(flatten)]
    pub options: SecretOptions,
    /// Versions, oldest first.
    #[serde(default)]
    pub versions: Vec<SecretVersionSeed>,
}

/// A key in a seed: a JWK to import, or a type to generate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySeed {
    /// Name.
    pub name: String,
    /// A JWK (RSA or EC, private parts optional) to import.
    #[serde(default)]
    pub jwk: Option<serde_json::Value>,
    /// Key type to generate when no JWK is given: `RSA` (default) or `EC`.
    #[serde(default)]
    pub kty: Option<String>,
    /// RSA size (2048, 3072, 4096).
    #[serde(default)]
    pub key_size: Option<u32>,
    /// EC curve (`P-256`, `P-384`, `P-521`).
    #[serde(default)]
    pub crv: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A certificate in a seed: PFX (base64) or PEM (key + certificates).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSeed {
    /// Name.
    pub name: String,
    /// Base64 PFX, or PEM text.
    pub value: String,
    /// PFX password.
    #[serde(default)]
    pub password: Option<String>,
    /// Content type of the linked secret (`application/x-pkcs12` or `application/x-pem-file`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A role assignment in a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantSeed {
    /// The principal's client id.
    pub principal: String,
    /// The access.
    #[serde(flatten)]
    pub grant: Grant,
}

/// A vault in a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultSeed {
    /// Vault name (3–24 characters, letters, digits, dashes).
    pub name: String,
    /// Tenant id that owns the vault.
    pub tenant: String,
    /// Role assignments.
    #[serde(default)]
    pub grants: Vec<GrantSeed>,
    /// Limits; defaults to the real service's.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Secrets.
    #[serde(default)]
    pub secrets: Vec<SecretSeed>,
    /// Keys.
    #[serde(default)]
    pub keys: Vec<KeySeed>,
    /// Certificates.
    #[serde(default)]
    pub certificates: Vec<CertificateSeed>,
}

/// A tenant in a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSeed {
    /// Tenant id (letters, digits, dots, dashes).
    pub id: String,
    /// Applications and managed identities.
    #[serde(default)]
    pub principals: Vec<PrincipalSpec>,
}

/// A trusted external token issuer (e.g. the Kubernetes emulator's service-account issuer).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSeed {
    /// Issuer URL (`iss`).
    pub issuer: String,
    /// Its JWKS document.
    pub jwks: serde_json::Value,
}

/// Everything the emulator starts with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Seed {
    /// Tenants and their principals.
    pub tenants: Vec<TenantSeed>,
    /// Vaults and their contents.
    pub vaults: Vec<VaultSeed>,
    /// Trusted external issuers for federated credentials.
    pub trusted_issuers: Vec<IssuerSeed>,
    /// Container registries and their role assignments.
    pub registries: Vec<RegistrySeed>,
}

/// A container registry in a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySeed {
    /// Registry name (5–50 letters and digits); its login server is
    /// `<name>.azurecr.localhost:<httpsPort>`.
    pub name: String,
    /// Tenant id that owns the registry.
    pub tenant: String,
    /// Role assignments.
    #[serde(default)]
    pub roles: Vec<RegistryRoleSeed>,
}

/// An ACR role assignment in a seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRoleSeed {
    /// Client id.
    pub principal: String,
    /// `Pull` (AcrPull) or `Push` (AcrPush).
    pub role: super::model::AcrRole,
}

/// How to start an [`AzureEmulator`](super::AzureEmulator).
#[derive(Clone, Debug)]
pub struct AzureConfig {
    /// Initial world.
    pub seed: Seed,
    /// Default limits for vaults that set none.
    pub limits: Limits,
    /// Lifetime of issued access tokens (the SDK refreshes 300 s before expiry).
    pub token_lifetime: Duration,
    /// Key Vault resource (token audience, challenge `resource`). Vault hosts must end with
    /// "." + its host, so the SDK's challenge check passes: `https://vault.localhost`.
    pub resource: String,
    /// Directory for the CA file; a temporary directory when `None`.
    pub ca_dir: Option<PathBuf>,
    /// Optional state file: loaded at start when present, written after every change.
    pub state_file: Option<PathBuf>,
    /// TLS port (0 = ephemeral).
    pub https_port: u16,
    /// Plain HTTP port for managed identity and admin (0 = ephemeral).
    pub http_port: u16,
    /// Value managed-identity callers must send in `x-identity-header`; generated when `None`.
    pub identity_header: Option<String>,
}

impl Default for AzureConfig {
    fn default() -> Self {
        Self {
            seed: Seed::default(),
            limits: Limits::default(),
            token_lifetime: Duration::from_secs(3_600),
            resource: DEFAULT_RESOURCE.to_string(),
            ca_dir: None,
            state_file: None,
            https_port: 0,
            http_port: 0,
            identity_header: None,
        }
    }
}

/// The default Key Vault resource of the emulator.
pub const DEFAULT_RESOURCE: &str = "https://vault.localhost";
