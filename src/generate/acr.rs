//! ESO's ACRAccessToken generator: an Entra token for Azure Resource Manager, from the same
//! authentication methods as a store (service principal, managed identity, workload identity),
//! exchanged at the registry's `/oauth2/exchange` for a refresh token, and, with `spec.scope`,
//! at `/oauth2/token` for an access token. Returns ESO's keys: `username` (the null GUID ACR
//! expects) and `password` (the token).

use std::collections::BTreeMap;

use akvsync_crds::meta::StoreKind;
use akvsync_crds::{AcrAccessTokenSpec, AuthType, AzureKvAuth, AzureKvProvider, EnvironmentType};
use serde_json::Value;

use crate::azure::{AzureNetwork, CredentialCache, StoreSource};

/// The user name of an ACR token login.
pub const ACR_USERNAME: &str = "00000000-0000-0000-0000-000000000000";

/// Why no registry token was made, in ESO's words where it has them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcrError {
    #[error(
        "spec.auth: set one of servicePrincipal, managedIdentity or workloadIdentity (found {0})"
    )]
    Auth(usize),
    #[error("spec.registry must name the registry's login server, e.g. myregistry.azurecr.io")]
    Registry,
    #[error("{0}")]
    Credential(String),
    #[error("count not generate refresh token, unexpected status code {0}, expected 200")]
    RefreshStatus(u16),
    #[error("could not generate access token, unexpected status code: {0}")]
    AccessStatus(u16),
    #[error("unable to get token")]
    NoToken,
    #[error("{0}")]
    Request(String),
}

/// Makes registry tokens; shares the operator's HTTP client and caches credentials.
pub struct AcrTokens {
    network: AzureNetwork,
    credentials: CredentialCache,
}

impl AcrTokens {
    pub fn new(network: AzureNetwork) -> Self {
        Self {
            network,
            credentials: CredentialCache::new(),
        }
    }

    /// A token for the registry `spec` names, as the generator `name` in `namespace`.
    pub async fn generate(
        &self,
        kube: &kube::Client,
        namespace: &str,
        name: &str,
        spec: &AcrAccessTokenSpec,
    ) -> Result<BTreeMap<String, Vec<u8>>, AcrError> {
        let registry = spec.registry.trim();
        if registry.is_empty() || registry.contains("://") {
            return Err(AcrError::Registry);
        }
        let source = StoreSource {
            kind: StoreKind::SecretStore,
            name: format!("ACRAccessToken/{name}"),
            namespace: Some(namespace.to_owned()),
            provider: provider(spec)?,
        };
        let environment = spec.environment_type.unwrap_or_default();
        let entra = crate::azure::access_token(
            &source,
            namespace,
            kube,
            &self.network,
            &self.credentials,
            &format!("{}/.default", management_resource(environment)),
        )
        .await
        .map_err(|error| AcrError::Credential(error.to_string()))?;
        let refresh = self
            .post(
                registry,
                "/oauth2/exchange",
                &[
                    ("grant_type", "access_token"),
                    ("service", registry),
                    ("tenant", spec.tenant_id.as_deref().unwrap_or_default()),
                    ("access_token", &entra),
                ],
                "refresh_token",
                AcrError::RefreshStatus,
            )
            .await?;
        let token = match spec.scope.as_deref().filter(|scope| !scope.is_empty()) {
            None => refresh,
            Some(scope) => {
                self.post(
                    registry,
                    "/oauth2/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("service", registry),
                        ("scope", scope),
                        ("refresh_token", &refresh),
                    ],
                    "access_token",
                    AcrError::AccessStatus,
                )
                .await?
            }
        };
        Ok(BTreeMap::from([
            ("username".to_owned(), ACR_USERNAME.as_bytes().to_vec()),
            ("password".to_owned(), token.into_bytes()),
        ]))
    }

    /// Posts `form` to the registry's `path` and returns the answer's `field`.
    async fn post(
        &self,
        registry: &str,
        path: &str,
        form: &[(&str, &str)],
        field: &str,
        status_error: fn(u16) -> AcrError,
    ) -> Result<String, AcrError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .network
            .http()
            .post(format!("https://{registry}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| AcrError::Request(error.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status_error(status));
        }
        let payload: Value = response
            .json()
            .await
            .map_err(|error| AcrError::Request(error.to_string()))?;
        payload[field]
            .as_str()
            .map(str::to_owned)
            .ok_or(AcrError::NoToken)
    }
}

/// The store-shaped description of the generator's credential, so it is resolved and cached
/// exactly as a store's is.
fn provider(spec: &AcrAccessTokenSpec) -> Result<AzureKvProvider, AcrError> {
    let auth = &spec.auth;
    let methods = usize::from(auth.service_principal.is_some())
        + usize::from(auth.managed_identity.is_some())
        + usize::from(auth.workload_identity.is_some());
    if methods != 1 {
        return Err(AcrError::Auth(methods));
    }
    let mut provider = AzureKvProvider {
        auth_type: None,
        vault_url: String::new(),
        tenant_id: spec.tenant_id.clone(),
        environment_type: spec.environment_type,
        auth_secret_ref: None,
        service_account_ref: None,
        identity_id: None,
        use_azure_sdk: None,
        custom_cloud_config: None,
    };
    if let Some(principal) = &auth.service_principal {
        provider.auth_type = Some(AuthType::ServicePrincipal);
        provider.auth_secret_ref = Some(AzureKvAuth {
            client_id: principal.secret_ref.client_id.clone(),
            client_secret: principal.secret_ref.client_secret.clone(),
            ..AzureKvAuth::default()
        });
    } else if let Some(identity) = &auth.managed_identity {
        provider.auth_type = Some(AuthType::ManagedIdentity);
        provider.identity_id = identity.identity_id.clone();
    } else if let Some(workload) = &auth.workload_identity {
        provider.auth_type = Some(AuthType::WorkloadIdentity);
        provider.service_account_ref = workload.service_account_ref.clone();
    }
    Ok(provider)
}

/// Azure Resource Manager's resource in each cloud: the audience ACR's exchange accepts.
fn management_resource(environment: EnvironmentType) -> &'static str {
    match environment {
        EnvironmentType::PublicCloud | EnvironmentType::AzureStackCloud => {
            "https://management.azure.com"
        }
        EnvironmentType::USGovernmentCloud => "https://management.usgovcloudapi.net",
        EnvironmentType::ChinaCloud => "https://management.chinacloudapi.cn",
        EnvironmentType::GermanCloud => "https://management.microsoftazure.de",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> AcrAccessTokenSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn each_auth_method_maps_to_the_stores_auth_type() {
        let principal = provider(&spec(serde_json::json!({
            "registry": "r.azurecr.io", "tenantId": "t",
            "auth": {"servicePrincipal": {"secretRef": {
                "clientId": {"name": "acr", "key": "id"},
                "clientSecret": {"name": "acr", "key": "secret"}}}}
        })))
        .unwrap();
        assert_eq!(principal.auth_type, Some(AuthType::ServicePrincipal));
        assert_eq!(principal.tenant_id.as_deref(), Some("t"));
        let secret_ref = principal.auth_secret_ref.unwrap();
        assert_eq!(
            secret_ref.client_secret.unwrap().key.as_deref(),
            Some("secret")
        );
        let identity = provider(&spec(serde_json::json!({
            "registry": "r.azurecr.io", "auth": {"managedIdentity": {"identityId": "id-1"}}
        })))
        .unwrap();
        assert_eq!(identity.auth_type, Some(AuthType::ManagedIdentity));
        assert_eq!(identity.identity_id.as_deref(), Some("id-1"));
        let workload = provider(&spec(serde_json::json!({
            "registry": "r.azurecr.io", "auth": {"workloadIdentity": {"serviceAccountRef": {"name": "puller"}}}
        })))
        .unwrap();
        assert_eq!(workload.auth_type, Some(AuthType::WorkloadIdentity));
        assert_eq!(workload.service_account_ref.unwrap().name, "puller");
    }

    #[test]
    fn exactly_one_auth_method_is_required() {
        for auth in [
            serde_json::json!({}),
            serde_json::json!({"managedIdentity": {}, "workloadIdentity": {}}),
        ] {
            let error = provider(&spec(
                serde_json::json!({"registry": "r.azurecr.io", "auth": auth}),
            ))
            .unwrap_err();
            assert!(
                error.to_string().starts_with("spec.auth: set one of"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_audience_is_resource_managers_in_each_cloud() {
        assert_eq!(
            management_resource(EnvironmentType::PublicCloud),
            "https://management.azure.com"
        );
        assert_eq!(
            management_resource(EnvironmentType::ChinaCloud),
            "https://management.chinacloudapi.cn"
        );
    }
}
