//! Small builders for tests across the workspace: `ExternalSecret::test("app", "team-a")
//! .with_store(StoreKind::SecretStore, "vault").with_data("password", "db-password")`.
//! They build plain values (no defaults applied), as a user would write them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{
    AuthType, AzureKvProvider, ClusterSecretStore, ClusterSecretStoreSpec, ExternalSecret,
    ExternalSecretData, ExternalSecretDataRemoteRef, ExternalSecretSpec, ExternalSecretTarget,
    PushSecret, PushSecretData, PushSecretMatch, PushSecretRemoteRef, PushSecretSecret,
    PushSecretSelector, PushSecretSpec, PushSecretStoreRef, SecretStore, SecretStoreProvider,
    SecretStoreRef, SecretStoreSpec, StoreKind,
};

fn metadata(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

fn azurekv_spec(vault_url: &str, auth_type: AuthType) -> SecretStoreSpec {
    SecretStoreSpec {
        controller: None,
        provider: SecretStoreProvider {
            azurekv: Some(AzureKvProvider {
                auth_type: Some(auth_type),
                vault_url: vault_url.to_owned(),
                tenant_id: None,
                environment_type: None,
                auth_secret_ref: None,
                service_account_ref: None,
                identity_id: None,
                use_azure_sdk: None,
                custom_cloud_config: None,
            }),
            other: Default::default(),
        },
        retry_settings: None,
        refresh_interval: None,
        conditions: None,
    }
}

impl SecretStore {
    /// A SecretStore for `vault_url` with the given auth type and nothing else set.
    pub fn test(name: &str, namespace: &str, vault_url: &str, auth_type: AuthType) -> Self {
        SecretStore {
            metadata: metadata(name, Some(namespace)),
            spec: azurekv_spec(vault_url, auth_type),
            status: None,
        }
    }
}

impl ClusterSecretStore {
    /// A ClusterSecretStore for `vault_url` with the given auth type and nothing else set.
    pub fn test(name: &str, vault_url: &str, auth_type: AuthType) -> Self {
        ClusterSecretStore {
            metadata: metadata(name, None),
            spec: ClusterSecretStoreSpec(azurekv_spec(vault_url, auth_type)),
            status: None,
        }
    }
}

impl ExternalSecret {
    /// An ExternalSecret with no store, target or data.
    pub fn test(name: &str, namespace: &str) -> Self {
        ExternalSecret {
            metadata: metadata(name, Some(namespace)),
            spec: ExternalSecretSpec::default(),
            status: None,
        }
    }

    /// Sets `spec.secretStoreRef`.
    pub fn with_store(mut self, kind: StoreKind, name: &str) -> Self {
        self.spec.secret_store_ref = Some(SecretStoreRef {
            name: Some(name.to_owned()),
            kind: Some(kind),
        });
        self
    }

    /// Appends a `data[]` entry storing remote key `remote_key` under `secret_key`.
    pub fn with_data(mut self, secret_key: &str, remote_key: &str) -> Self {
        self.spec
            .data
            .get_or_insert_with(Vec::new)
            .push(ExternalSecretData {
                secret_key: secret_key.to_owned(),
                remote_ref: ExternalSecretDataRemoteRef {
                    key: remote_key.to_owned(),
                    metadata_policy: None,
                    property: None,
                    version: None,
                    conversion_strategy: None,
                    decoding_strategy: None,
                    null_byte_policy: None,
                },
                source_ref: None,
            });
        self
    }

    /// Sets `spec.target.name`.
    pub fn with_target_name(mut self, name: &str) -> Self {
        self.spec
            .target
            .get_or_insert_with(ExternalSecretTarget::default)
            .name = Some(name.to_owned());
        self
    }

    /// Sets `spec.refreshInterval`.
    pub fn with_refresh_interval(mut self, interval: &str) -> Self {
        self.spec.refresh_interval = Some(interval.to_owned());
        self
    }
}

impl PushSecret {
    /// A PushSecret reading the Secret `source_secret`, with no stores or data.
    pub fn test(name: &str, namespace: &str, source_secret: &str) -> Self {
        PushSecret {
            metadata: metadata(name, Some(namespace)),
            spec: PushSecretSpec {
                refresh_interval: None,
                secret_store_refs: Vec::new(),
                update_policy: None,
                deletion_policy: None,
                selector: PushSecretSelector::Secret(PushSecretSecret {
                    name: Some(source_secret.to_owned()),
                    selector: None,
                }),
                data: None,
                data_to: None,
                template: None,
            },
            status: None,
        }
    }

    /// Appends a store to `spec.secretStoreRefs`.
    pub fn with_store(mut self, kind: StoreKind, name: &str) -> Self {
        self.spec.secret_store_refs.push(PushSecretStoreRef {
            name: Some(name.to_owned()),
            label_selector: None,
            kind: Some(kind),
        });
        self
    }

    /// Appends a `data[]` entry pushing `secret_key` to `remote_key`.
    pub fn with_data(mut self, secret_key: &str, remote_key: &str) -> Self {
        self.spec
            .data
            .get_or_insert_with(Vec::new)
            .push(PushSecretData {
                match_: PushSecretMatch {
                    secret_key: Some(secret_key.to_owned()),
                    remote_ref: PushSecretRemoteRef {
                        remote_key: remote_key.to_owned(),
                        property: None,
                    },
                },
                metadata: None,
                conversion_strategy: None,
            });
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builders_produce_the_manifests_a_user_would_write() {
        let es = ExternalSecret::test("app", "team-a")
            .with_store(StoreKind::ClusterSecretStore, "vault")
            .with_target_name("app-secret")
            .with_refresh_interval("15s")
            .with_data("password", "secret/db-password");
        assert_eq!(
            serde_json::to_value(&es).expect("serializes"),
            json!({
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "metadata": {"name": "app", "namespace": "team-a"},
                "spec": {
                    "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
                    "target": {"name": "app-secret"},
                    "refreshInterval": "15s",
                    "data": [{"secretKey": "password", "remoteRef": {"key": "secret/db-password"}}]
                }
            })
        );

        let store = SecretStore::test(
            "vault",
            "team-a",
            "https://v.vault.azure.net",
            AuthType::ManagedIdentity,
        );
        assert_eq!(
            serde_json::to_value(&store).expect("serializes")["spec"],
            json!({"provider": {"azurekv": {"authType": "ManagedIdentity", "vaultUrl": "https://v.vault.azure.net"}}})
        );
        let cluster_store = ClusterSecretStore::test(
            "vault",
            "https://v.vault.azure.net",
            AuthType::WorkloadIdentity,
        );
        assert_eq!(
            cluster_store
                .spec
                .provider
                .azurekv
                .as_ref()
                .map(|p| p.auth_type),
            Some(Some(AuthType::WorkloadIdentity))
        );

        let push = PushSecret::test("push", "team-a", "source")
            .with_store(StoreKind::SecretStore, "vault")
            .with_data("key", "cert/my-cert");
        assert_eq!(
            serde_json::to_value(&push).expect("serializes")["spec"],
            json!({
                "secretStoreRefs": [{"name": "vault", "kind": "SecretStore"}],
                "selector": {"secret": {"name": "source"}},
                "data": [{"match": {"secretKey": "key", "remoteRef": {"remoteKey": "cert/my-cert"}}}]
            })
        );
    }
}
