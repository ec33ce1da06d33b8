//! ESO's `ValidateStore` for azurekv (spec §1.3), in ESO's order and with its messages.

use akvsync_crds::meta::StoreKind;

use super::cloud::cloud_endpoints;
use super::error::StoreError;
use super::source::StoreSource;

/// The tail of ESO's namespace messages (rules 2–4).
const NAMESPACE_RULE: &str = "namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore";

/// Checks a store spec before any network call; the error's message is ESO's.
pub fn validate_store(store: &StoreSource) -> Result<(), StoreError> {
    let provider = &store.provider;
    if store.kind == StoreKind::SecretStore {
        let own = store.namespace.as_deref();
        let foreign = |namespace: Option<&str>| namespace.is_some_and(|ns| Some(ns) != own);
        if let Some(auth) = &provider.auth_secret_ref {
            if foreign(auth.client_id.as_ref().and_then(|s| s.namespace.as_deref())) {
                return Err(StoreError::Validation(format!(
                    "invalid AuthSecretRef.ClientID: {NAMESPACE_RULE}"
                )));
            }
            if foreign(
                auth.client_secret
                    .as_ref()
                    .and_then(|s| s.namespace.as_deref()),
            ) {
                return Err(StoreError::Validation(format!(
                    "invalid AuthSecretRef.ClientSecret: {NAMESPACE_RULE}"
                )));
            }
        }
        if foreign(
            provider
                .service_account_ref
                .as_ref()
                .and_then(|sa| sa.namespace.as_deref()),
        ) {
            return Err(StoreError::Validation(format!(
                "invalid ServiceAccountRef: {NAMESPACE_RULE}"
            )));
        }
    }
    // Rules 5–7 are the cloud rules; only their validation errors count at this stage.
    match cloud_endpoints(provider) {
        Err(error @ StoreError::Validation(_)) => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use akvsync_crds::meta::{SecretKeySelector, ServiceAccountSelector};
    use akvsync_crds::{AzureCustomCloudConfig, AzureKvAuth, AzureKvProvider, EnvironmentType};

    fn selector(namespace: Option<&str>) -> SecretKeySelector {
        SecretKeySelector {
            name: Some("creds".into()),
            namespace: namespace.map(str::to_owned),
            key: Some("k".into()),
        }
    }

    fn store(kind: StoreKind, provider: AzureKvProvider) -> StoreSource {
        StoreSource {
            kind,
            name: "s".into(),
            namespace: (kind == StoreKind::SecretStore).then(|| "team".to_owned()),
            provider,
        }
    }

    fn base() -> AzureKvProvider {
        AzureKvProvider {
            auth_type: None,
            vault_url: "https://v.vault.azure.net".into(),
            tenant_id: Some("t".into()),
            environment_type: None,
            auth_secret_ref: None,
            service_account_ref: None,
            identity_id: None,
            use_azure_sdk: None,
            custom_cloud_config: None,
        }
    }

    fn custom(endpoint: &str) -> Option<AzureCustomCloudConfig> {
        Some(AzureCustomCloudConfig {
            active_directory_endpoint: endpoint.into(),
            key_vault_endpoint: None,
            key_vault_dns_suffix: None,
            resource_manager_endpoint: None,
            audience: None,
        })
    }

    fn message(kind: StoreKind, provider: AzureKvProvider) -> Option<String> {
        validate_store(&store(kind, provider))
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn eso_validate_store_table() {
        use StoreKind::{ClusterSecretStore as Css, SecretStore as Ss};
        let auth = |id: Option<&str>, secret: Option<&str>| AzureKvProvider {
            auth_secret_ref: Some(AzureKvAuth {
                client_id: Some(selector(id)),
                client_secret: Some(selector(secret)),
                ..AzureKvAuth::default()
            }),
            ..base()
        };
        let sa = |ns: Option<&str>| AzureKvProvider {
            service_account_ref: Some(ServiceAccountSelector {
                name: "sa".into(),
                namespace: ns.map(str::to_owned),
                audiences: None,
            }),
            ..base()
        };
        let cases: Vec<(&str, StoreKind, AzureKvProvider, Option<String>)> = vec![
            ("valid", Ss, auth(None, None), None),
            ("same namespace", Ss, auth(Some("team"), Some("team")), None),
            (
                "clientId elsewhere",
                Ss,
                auth(Some("other"), None),
                Some(format!("invalid AuthSecretRef.ClientID: {NAMESPACE_RULE}")),
            ),
            (
                "clientSecret elsewhere",
                Ss,
                auth(None, Some("other")),
                Some(format!("invalid AuthSecretRef.ClientSecret: {NAMESPACE_RULE}")),
            ),
            (
                "service account elsewhere",
                Ss,
                sa(Some("other")),
                Some(format!("invalid ServiceAccountRef: {NAMESPACE_RULE}")),
            ),
            ("cluster store may name any namespace", Css, auth(Some("a"), Some("b")), None),
            ("cluster store service account", Css, sa(Some("x")), None),
            (
                "custom cloud without sdk",
                Ss,
                AzureKvProvider {
                    custom_cloud_config: custom("https://login.example"),
                    ..base()
                },
                Some(
                    "CustomCloudConfig requires UseAzureSDK to be set to true - the legacy SDK does not support custom clouds"
                        .into(),
                ),
            ),
            (
                "custom cloud without authority",
                Ss,
                AzureKvProvider {
                    custom_cloud_config: custom(""),
                    use_azure_sdk: Some(true),
                    ..base()
                },
                Some("activeDirectoryEndpoint is required in CustomCloudConfig".into()),
            ),
            (
                "azure stack without custom cloud",
                Ss,
                AzureKvProvider {
                    environment_type: Some(EnvironmentType::AzureStackCloud),
                    ..base()
                },
                Some("CustomCloudConfig is required when EnvironmentType is AzureStackCloud".into()),
            ),
            (
                "german cloud passes admission",
                Ss,
                AzureKvProvider {
                    environment_type: Some(EnvironmentType::GermanCloud),
                    use_azure_sdk: Some(true),
                    ..base()
                },
                None,
            ),
        ];
        for (name, kind, provider, expected) in cases {
            assert_eq!(message(kind, provider), expected, "{name}");
        }
    }

    #[test]
    fn namespace_rules_come_before_cloud_rules() {
        let provider = AzureKvProvider {
            auth_secret_ref: Some(AzureKvAuth {
                client_id: Some(selector(Some("other"))),
                ..AzureKvAuth::default()
            }),
            environment_type: Some(EnvironmentType::AzureStackCloud),
            ..base()
        };
        assert!(
            message(StoreKind::SecretStore, provider)
                .unwrap()
                .starts_with("invalid AuthSecretRef.ClientID")
        );
    }

    #[test]
    fn validation_errors_have_the_validation_reason() {
        let error = validate_store(&store(
            StoreKind::SecretStore,
            AzureKvProvider {
                environment_type: Some(EnvironmentType::AzureStackCloud),
                ..base()
            },
        ))
        .unwrap_err();
        assert_eq!(error.reason(), "ValidationFailed");
        assert!(!error.is_transient());
    }
}
