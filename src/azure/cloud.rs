//! `environmentType` and `customCloudConfig` → the authority host and Key Vault resource
//! (ESO `spec/eso-azurekv.md` §2.7, §2.8). Pure.

use akvsync_crds::{AzureKvProvider, EnvironmentType};

use super::error::StoreError;

/// The endpoints a store authenticates against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// Entra ID authority host, without a trailing slash (e.g. `https://login.microsoftonline.com`).
    pub authority_host: String,
    /// Key Vault token resource (e.g. `https://vault.azure.net`); `None` for Azure Stack unless
    /// `keyVaultEndpoint` is given. The SDK takes the real scope from the vault's challenge.
    pub key_vault_resource: Option<String>,
}

/// ESO's message for GermanCloud on the new SDK path.
pub const GERMAN_CLOUD_DISCONTINUED: &str = "Azure Germany (Microsoft Cloud Deutschland) was discontinued on October 29, 2021. Please use AzureStackCloud with custom configuration or migrate to public cloud regions";
/// ESO ValidateStore rule 5.
pub const CUSTOM_CLOUD_REQUIRES_SDK: &str = "CustomCloudConfig requires UseAzureSDK to be set to true - the legacy SDK does not support custom clouds";
/// ESO ValidateStore rule 6.
pub const ACTIVE_DIRECTORY_ENDPOINT_REQUIRED: &str =
    "activeDirectoryEndpoint is required in CustomCloudConfig";
/// ESO ValidateStore rule 7.
pub const AZURE_STACK_REQUIRES_CUSTOM_CLOUD: &str =
    "CustomCloudConfig is required when EnvironmentType is AzureStackCloud";

fn endpoints(authority_host: &str, resource: &str) -> CloudEndpoints {
    CloudEndpoints {
        authority_host: authority_host.to_owned(),
        key_vault_resource: Some(resource.to_owned()),
    }
}

/// The built-in endpoints of a cloud (`None` for Azure Stack, which has none).
fn builtin(environment: EnvironmentType) -> Option<CloudEndpoints> {
    match environment {
        EnvironmentType::PublicCloud => Some(endpoints(
            "https://login.microsoftonline.com",
            "https://vault.azure.net",
        )),
        EnvironmentType::USGovernmentCloud => Some(endpoints(
            "https://login.microsoftonline.us",
            "https://vault.usgovcloudapi.net",
        )),
        EnvironmentType::ChinaCloud => Some(endpoints(
            "https://login.chinacloudapi.cn",
            "https://vault.azure.cn",
        )),
        EnvironmentType::GermanCloud => Some(endpoints(
            "https://login.microsoftonline.de",
            "https://vault.microsoftazure.de",
        )),
        EnvironmentType::AzureStackCloud => None,
    }
}

/// The endpoints for a store, with ESO's rules: `customCloudConfig` needs `useAzureSDK: true`
/// and an `activeDirectoryEndpoint`, overrides the authority host of any cloud, and is required
/// for AzureStackCloud; GermanCloud keeps its legacy endpoints, but on the new SDK path without
/// a custom config it fails as in ESO.
pub fn cloud_endpoints(provider: &AzureKvProvider) -> Result<CloudEndpoints, StoreError> {
    let environment = provider.environment_type_or_default();
    let use_sdk = provider.use_azure_sdk.unwrap_or(false);
    match &provider.custom_cloud_config {
        Some(custom) => {
            if !use_sdk {
                return Err(StoreError::Validation(CUSTOM_CLOUD_REQUIRES_SDK.into()));
            }
            if custom.active_directory_endpoint.trim().is_empty() {
                return Err(StoreError::Validation(
                    ACTIVE_DIRECTORY_ENDPOINT_REQUIRED.into(),
                ));
            }
            let authority_host = custom
                .active_directory_endpoint
                .trim()
                .trim_end_matches('/')
                .to_owned();
            let key_vault_resource = match builtin(environment) {
                Some(base) => base.key_vault_resource,
                None => custom
                    .key_vault_endpoint
                    .as_deref()
                    .map(|e| e.trim().trim_end_matches('/').to_owned())
                    .filter(|e| !e.is_empty()),
            };
            Ok(CloudEndpoints {
                authority_host,
                key_vault_resource,
            })
        }
        None => match environment {
            EnvironmentType::AzureStackCloud => Err(StoreError::Validation(
                AZURE_STACK_REQUIRES_CUSTOM_CLOUD.into(),
            )),
            EnvironmentType::GermanCloud if use_sdk => Err(StoreError::InvalidProviderConfig(
                GERMAN_CLOUD_DISCONTINUED.into(),
            )),
            other => builtin(other).ok_or_else(|| {
                StoreError::InvalidProviderConfig(format!("unsupported environmentType {other:?}"))
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use akvsync_crds::AzureCustomCloudConfig;

    fn provider(
        environment: Option<EnvironmentType>,
        use_sdk: Option<bool>,
        custom: Option<&str>,
    ) -> AzureKvProvider {
        AzureKvProvider {
            auth_type: None,
            vault_url: "https://v.vault.azure.net".into(),
            tenant_id: None,
            environment_type: environment,
            auth_secret_ref: None,
            service_account_ref: None,
            identity_id: None,
            use_azure_sdk: use_sdk,
            custom_cloud_config: custom.map(|endpoint| AzureCustomCloudConfig {
                active_directory_endpoint: endpoint.into(),
                key_vault_endpoint: Some("https://vault.stack.example/".into()),
                key_vault_dns_suffix: None,
                resource_manager_endpoint: None,
                audience: None,
            }),
        }
    }

    fn authority(environment: Option<EnvironmentType>) -> (String, Option<String>) {
        let e = cloud_endpoints(&provider(environment, None, None)).unwrap();
        (e.authority_host, e.key_vault_resource)
    }

    #[test]
    fn every_cloud_maps_to_its_authority_and_vault_resource() {
        let expect = |a: &str, r: &str| (a.to_owned(), Some(r.to_owned()));
        assert_eq!(
            authority(None),
            expect(
                "https://login.microsoftonline.com",
                "https://vault.azure.net"
            )
        );
        assert_eq!(
            authority(Some(EnvironmentType::PublicCloud)),
            expect(
                "https://login.microsoftonline.com",
                "https://vault.azure.net"
            )
        );
        assert_eq!(
            authority(Some(EnvironmentType::USGovernmentCloud)),
            expect(
                "https://login.microsoftonline.us",
                "https://vault.usgovcloudapi.net"
            )
        );
        assert_eq!(
            authority(Some(EnvironmentType::ChinaCloud)),
            expect("https://login.chinacloudapi.cn", "https://vault.azure.cn")
        );
        assert_eq!(
            authority(Some(EnvironmentType::GermanCloud)),
            expect(
                "https://login.microsoftonline.de",
                "https://vault.microsoftazure.de"
            )
        );
        let stack = cloud_endpoints(&provider(
            Some(EnvironmentType::AzureStackCloud),
            Some(true),
            Some("https://login.stack.example/"),
        ))
        .unwrap();
        assert_eq!(stack.authority_host, "https://login.stack.example");
        assert_eq!(
            stack.key_vault_resource.as_deref(),
            Some("https://vault.stack.example")
        );
    }

    #[test]
    fn azure_stack_requires_custom_cloud_config() {
        let error = cloud_endpoints(&provider(
            Some(EnvironmentType::AzureStackCloud),
            None,
            None,
        ))
        .unwrap_err();
        assert_eq!(error.to_string(), AZURE_STACK_REQUIRES_CUSTOM_CLOUD);
        let error = cloud_endpoints(&provider(
            Some(EnvironmentType::AzureStackCloud),
            None,
            Some("https://login.stack.example"),
        ))
        .unwrap_err();
        assert_eq!(error.to_string(), CUSTOM_CLOUD_REQUIRES_SDK);
    }

    #[test]
    fn custom_cloud_config_requires_the_new_sdk_and_an_authority() {
        let error =
            cloud_endpoints(&provider(None, Some(false), Some("https://l.example"))).unwrap_err();
        assert_eq!(error.to_string(), CUSTOM_CLOUD_REQUIRES_SDK);
        let error = cloud_endpoints(&provider(None, Some(true), Some(""))).unwrap_err();
        assert_eq!(error.to_string(), ACTIVE_DIRECTORY_ENDPOINT_REQUIRED);
    }

    #[test]
    fn custom_cloud_config_overrides_the_authority_of_any_cloud() {
        let china = cloud_endpoints(&provider(
            Some(EnvironmentType::ChinaCloud),
            Some(true),
            Some("https://login.partner.microsoftonline.cn/"),
        ))
        .unwrap();
        assert_eq!(
            china.authority_host,
            "https://login.partner.microsoftonline.cn"
        );
        assert_eq!(
            china.key_vault_resource.as_deref(),
            Some("https://vault.azure.cn")
        );
        let german = cloud_endpoints(&provider(
            Some(EnvironmentType::GermanCloud),
            Some(true),
            Some("https://login.example.de"),
        ))
        .unwrap();
        assert_eq!(german.authority_host, "https://login.example.de");
    }

    #[test]
    fn german_cloud_on_the_new_sdk_without_custom_config_fails_as_in_eso() {
        let error = cloud_endpoints(&provider(
            Some(EnvironmentType::GermanCloud),
            Some(true),
            None,
        ))
        .unwrap_err();
        assert_eq!(error.to_string(), GERMAN_CLOUD_DISCONTINUED);
    }
}
