//! The `spec.provider.azurekv` block of a SecretStore / ClusterSecretStore (ESO
//! `AzureKVProvider`), field for field.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{SecretKeySelector, ServiceAccountSelector};

/// How to authenticate to Azure Key Vault.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum AuthType {
    /// A service principal: `tenantId` plus a client id and a client secret or certificate from
    /// `authSecretRef` (the default).
    #[default]
    ServicePrincipal,
    /// The managed identity assigned to the pod (AAD Pod Identity / IMDS); `identityId` picks one
    /// of several user-assigned identities.
    ManagedIdentity,
    /// Azure Workload Identity: a federated Kubernetes service account token, from the
    /// controller's own mounted account or from `serviceAccountRef`.
    WorkloadIdentity,
}

/// The Azure cloud whose endpoints to use.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum EnvironmentType {
    /// Azure public cloud (the default).
    #[default]
    PublicCloud,
    /// Azure US Government.
    USGovernmentCloud,
    /// Azure China (21Vianet).
    ChinaCloud,
    /// Azure Germany (discontinued; legacy SDK only).
    GermanCloud,
    /// Azure Stack Hub / Edge; requires `customCloudConfig` and `useAzureSDK: true`.
    AzureStackCloud,
}

/// Configures a store to sync secrets with Azure Key Vault.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKvProvider {
    /// How to authenticate to the Key Vault service: `ServicePrincipal` (default),
    /// `ManagedIdentity` or `WorkloadIdentity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ServicePrincipal"))]
    pub auth_type: Option<AuthType>,
    /// URL of the vault the secrets are read from and written to, e.g.
    /// `https://<name>.vault.azure.net`. Used as-is as the base URL of data-plane requests.
    pub vault_url: String,
    /// The Entra ID tenant to authenticate against. Required for ServicePrincipal, optional for
    /// WorkloadIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The Azure cloud whose endpoints to use: `PublicCloud` (default), `USGovernmentCloud`,
    /// `ChinaCloud`, `GermanCloud` or `AzureStackCloud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "PublicCloud"))]
    pub environment_type: Option<EnvironmentType>,
    /// Secrets holding the credentials. Required for ServicePrincipal, optional for
    /// WorkloadIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<AzureKvAuth>,
    /// The service account whose federated token is used with WorkloadIdentity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// With ManagedIdentity: the client id of the user-assigned identity to use when several are
    /// assigned to the pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    /// Use the new (azcore-based) Azure SDK code path instead of the legacy one. Required for
    /// `customCloudConfig`. Defaults to false.
    #[serde(rename = "useAzureSDK", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub use_azure_sdk: Option<bool>,
    /// Custom cloud endpoints (Azure Stack Hub/Edge, Azure China with AKS workload identity).
    /// Requires `useAzureSDK: true`; required when `environmentType` is `AzureStackCloud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_cloud_config: Option<AzureCustomCloudConfig>,
}

impl AzureKvProvider {
    /// The authentication type, applying ESO's default (`ServicePrincipal`).
    pub fn auth_type_or_default(&self) -> AuthType {
        self.auth_type.unwrap_or_default()
    }

    /// The environment, applying ESO's default (`PublicCloud`).
    pub fn environment_type_or_default(&self) -> EnvironmentType {
        self.environment_type.unwrap_or_default()
    }
}

/// Kubernetes Secret references holding the credentials used to authenticate with Azure (ESO
/// `AzureKVAuth`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKvAuth {
    /// The client id of the service principal or managed identity used for authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretKeySelector>,
    /// The tenant id of the managed identity used for authentication (WorkloadIdentity with
    /// `serviceAccountRef`; ServicePrincipal reads `spec.provider.azurekv.tenantId` instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<SecretKeySelector>,
    /// The client secret of the service principal used for authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
    /// The client certificate (PEM with CERTIFICATE and PRIVATE KEY blocks) of the service
    /// principal used for authentication. Mutually exclusive with `clientSecret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<SecretKeySelector>,
}

/// Custom cloud endpoints for private Azure environments (ESO `AzureCustomCloudConfig`). Only
/// supported with `useAzureSDK: true`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureCustomCloudConfig {
    /// The Entra ID (Azure Active Directory) endpoint used for authentication.
    pub active_directory_endpoint: String,
    /// The Key Vault service endpoint (accepted, not used: the vault URL covers it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_vault_endpoint: Option<String>,
    /// The DNS suffix of Key Vault URLs (accepted, not used: the vault URL covers it).
    #[serde(rename = "keyVaultDNSSuffix", skip_serializing_if = "Option::is_none")]
    pub key_vault_dns_suffix: Option<String>,
    /// The Azure Resource Manager endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_manager_endpoint: Option<String>,
    /// The audience of workload identity federated credentials in a custom cloud; must match
    /// the audience configured on the federated credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}
