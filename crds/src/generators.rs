//! The `generators.external-secrets.io/v1alpha1` kinds akvsync runs: [`Password`], [`Uuid`]
//! (kind `UUID`), [`AcrAccessToken`] (kind `ACRAccessToken`), and [`ClusterGenerator`] wrapping
//! any of them. ExternalSecrets use them in `dataFrom[].sourceRef.generatorRef`, PushSecrets in
//! `selector.generatorRef`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::azurekv::EnvironmentType;
use crate::meta::{SecretKeySelector, ServiceAccountSelector};

/// The API group of every generator kind.
pub const GENERATORS_GROUP: &str = "generators.external-secrets.io";

/// The `apiVersion` ESO defaults a `generatorRef` to.
pub const GENERATORS_API_VERSION: &str = "generators.external-secrets.io/v1alpha1";

/// How the Password generator builds a password (ESO `PasswordSpec`).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Password",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Password generates a random password from the parameters in spec: length, character set and encoding."
)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSpec {
    /// Length of each password. Defaults to 24.
    #[serde(default = "default_length")]
    #[schemars(extend("default" = 24))]
    pub length: i64,
    /// How many digits each password has. Defaults to 25% of the length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<i64>,
    /// How many symbols each password has. Defaults to 25% of the length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbols: Option<i64>,
    /// The symbols to choose from. Defaults to ``~!@#$%^&*()_+`-={}|[]\:"<>?,./``.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol_characters: Option<String>,
    /// No uppercase letters.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub no_upper: bool,
    /// Let characters repeat within a password.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub allow_repeat: bool,
    /// The keys to fill, each with its own password. Defaults to `password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("items" = {"type": "string", "minLength": 1}))]
    pub secret_keys: Option<Vec<String>>,
    /// How each password is encoded: `raw` (default), `base64`, `base64url`, `base32` or `hex`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "raw"))]
    pub encoding: Option<PasswordEncoding>,
}

fn default_length() -> i64 {
    24
}

/// How a generated password is encoded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PasswordEncoding {
    /// Standard base64.
    #[serde(rename = "base64")]
    Base64,
    /// URL-safe base64.
    #[serde(rename = "base64url")]
    Base64Url,
    /// Base32.
    #[serde(rename = "base32")]
    Base32,
    /// Lowercase hexadecimal.
    #[serde(rename = "hex")]
    Hex,
    /// The password as generated.
    #[default]
    #[serde(rename = "raw")]
    Raw,
}

/// The UUID generator has no parameters (ESO `UUIDSpec`).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "UUID",
    root = "Uuid",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "UUID generates a random (version 4) UUID under the key `uuid`."
)]
pub struct UuidSpec {}

/// How the ACRAccessToken generator gets an Azure Container Registry token (ESO
/// `ACRAccessTokenSpec`): an Entra token for Azure Resource Manager, exchanged at the registry.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ACRAccessToken",
    root = "AcrAccessToken",
    namespaced,
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "ACRAccessToken returns an Azure Container Registry token for pushing and pulling images: a refresh token with the identity's access, or, with spec.scope, an access token for those repositories."
)]
#[serde(rename_all = "camelCase")]
pub struct AcrAccessTokenSpec {
    /// How to authenticate with Entra ID: exactly one method.
    pub auth: AcrAuth,
    /// The Entra tenant; required for a service principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The registry's login server, e.g. `myregistry.azurecr.io`.
    pub registry: String,
    /// Repository scopes for an access token, e.g. `repository:app:pull,push`; without it the
    /// generator returns a refresh token with the identity's full access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The Azure cloud: `PublicCloud` (default), `USGovernmentCloud`, `ChinaCloud` or
    /// `GermanCloud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "PublicCloud"))]
    pub environment_type: Option<EnvironmentType>,
}

/// The authentication methods of the ACRAccessToken generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrAuth {
    /// A service principal's client id and secret, from a Secret in the namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<AcrServicePrincipal>,
    /// The pod's managed identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<AcrManagedIdentity>,
    /// Workload identity: the operator's mounted token, or a ServiceAccount's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<AcrWorkloadIdentity>,
}

/// Service principal credentials for the ACRAccessToken generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrServicePrincipal {
    /// Where the client id and secret are.
    pub secret_ref: AcrServicePrincipalSecretRef,
}

/// The Secret keys holding a service principal's client id and secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrServicePrincipalSecretRef {
    /// The client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretKeySelector>,
    /// The client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
}

/// Managed identity for the ACRAccessToken generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrManagedIdentity {
    /// The user-assigned identity's client id or resource id, when the pod has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
}

/// Workload identity for the ACRAccessToken generator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrWorkloadIdentity {
    /// The ServiceAccount whose token is exchanged; the operator's own when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// A generator for every namespace: a kind and that kind's spec (ESO `ClusterGeneratorSpec`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterGenerator",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "ClusterGenerator is a generator any namespace can reference: `kind` names the generator, `generator` holds its spec."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGeneratorSpec {
    /// The generator kind, e.g. `Password` or `UUID`.
    pub kind: String,
    /// The spec of that kind, under its field (`passwordSpec`, `uuidSpec`, …).
    pub generator: GeneratorSpec,
}

/// One generator's spec, under the field named after its kind. Specs of kinds akvsync does not
/// run are kept as written.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct GeneratorSpec {
    /// The spec when `kind` is `Password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_spec: Option<PasswordSpec>,
    /// The spec when `kind` is `UUID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid_spec: Option<UuidSpec>,
    /// The spec when `kind` is `ACRAccessToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr_access_token_spec: Option<AcrAccessTokenSpec>,
    /// Specs of other kinds, kept as written.
    #[serde(flatten)]
    #[schemars(skip)]
    pub other: BTreeMap<String, serde_json::Value>,
}
