//! Shared test world for the Azure provider tests: both emulators, a tenant with a vault and a
//! service principal, Kubernetes namespaces, and helpers to build stores and Secrets.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use akvsync::azure::{
    AzureKeyVault, AzureNetwork, CredentialCache, MapEnv, NetworkSettings, StoreError, StoreSource,
    connect,
};
use akvsync_crds::{ClusterSecretStore, SecretStore};
use akvsync_emulators::azure::{AzureConfig, AzureEmulator, Grant, PrincipalInfo, PrincipalSpec};
use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

/// Every await in these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub const TENANT: &str = "tenant-a";
pub const VAULT: &str = "vault1";
pub const APP_SECRET: &str = "s3cret-value";
pub const NAMESPACE: &str = "team";

/// Awaits `future` or fails the test after [`TIMEOUT`].
pub async fn timed<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("the operation timed out")
}

pub struct World {
    pub azure: AzureEmulator,
    pub kube: KubeEmulator,
    pub app: PrincipalInfo,
    pub cache: CredentialCache,
}

impl World {
    pub async fn start() -> World {
        let azure = timed(AzureEmulator::start(AzureConfig::default()))
            .await
            .expect("start the Azure emulator");
        let kube = timed(KubeEmulator::start(KubeConfig::default()))
            .await
            .expect("start the Kubernetes emulator");
        azure.add_tenant(TENANT).unwrap();
        azure.add_vault(VAULT, TENANT).unwrap();
        let app = azure
            .add_principal(TENANT, PrincipalSpec::with_secret("app", APP_SECRET))
            .unwrap();
        azure.grant(VAULT, &app.client_id, Grant::all()).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&kube.jwks_json()).unwrap();
        azure.trust_issuer(kube.issuer_url(), jwks);
        let world = World {
            azure,
            kube,
            app,
            cache: CredentialCache::new(),
        };
        for namespace in [NAMESPACE, "other", "tenant-b"] {
            world.namespace(namespace).await;
        }
        let client_id = world.app.client_id.clone();
        world
            .secret(
                NAMESPACE,
                "azure-creds",
                &[("clientid", &client_id), ("clientsecret", APP_SECRET)],
            )
            .await;
        world
    }

    /// The operator's network settings for this world: trust the emulator CA, its authority
    /// host, and `env` as the environment.
    pub fn network_with(&self, env: MapEnv) -> AzureNetwork {
        AzureNetwork::new(NetworkSettings {
            extra_ca_pem: Some(self.azure.ca_pem().to_owned()),
            authority_host: Some(self.azure.authority_host()),
            managed_identity_endpoint: None,
            env: Arc::new(env),
        })
        .expect("build the network")
    }

    pub fn network(&self) -> AzureNetwork {
        self.network_with(MapEnv::default())
    }

    pub fn vault_url(&self) -> String {
        self.azure.vault_url(VAULT)
    }

    pub async fn namespace(&self, name: &str) {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        timed(Api::<Namespace>::all(self.kube.client()).create(&PostParams::default(), &namespace))
            .await
            .expect("create namespace");
    }

    /// Creates or replaces a Secret.
    pub async fn secret(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        self.secret_bytes(
            namespace,
            name,
            &data
                .iter()
                .map(|(k, v)| (*k, v.as_bytes().to_vec()))
                .collect::<Vec<_>>(),
        )
        .await;
    }

    pub async fn secret_bytes(&self, namespace: &str, name: &str, data: &[(&str, Vec<u8>)]) {
        let api = Api::<Secret>::namespaced(self.kube.client(), namespace);
        let _ = timed(api.delete(name, &Default::default())).await;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.clone())))
                    .collect(),
            ),
            ..Default::default()
        };
        timed(api.create(&PostParams::default(), &secret))
            .await
            .expect("create secret");
    }

    pub async fn service_account(&self, namespace: &str, name: &str, annotations: &[(&str, &str)]) {
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        timed(
            Api::<ServiceAccount>::namespaced(self.kube.client(), namespace)
                .create(&PostParams::default(), &account),
        )
        .await
        .expect("create service account");
    }

    pub async fn connect(
        &self,
        store: &StoreSource,
        consumer: Option<&str>,
        network: &AzureNetwork,
    ) -> Result<AzureKeyVault, StoreError> {
        timed(connect(
            store,
            consumer,
            self.kube.client(),
            network,
            &self.cache,
        ))
        .await
    }

    /// A SecretStore in [`NAMESPACE`] with `azurekv` given as YAML (indented for the block).
    pub fn secret_store(&self, azurekv: &str) -> StoreSource {
        let yaml = format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: store\n  namespace: {NAMESPACE}\nspec:\n  provider:\n    azurekv:\n      vaultUrl: {}\n{}",
            self.vault_url(),
            indent(azurekv)
        );
        let store: SecretStore = serde_yaml::from_str(&yaml).expect("parse SecretStore");
        StoreSource::from_secret_store(&store).expect("azurekv store")
    }

    /// A ClusterSecretStore with `azurekv` given as YAML.
    pub fn cluster_store(&self, azurekv: &str) -> StoreSource {
        let yaml = format!(
            "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata:\n  name: cluster-store\nspec:\n  provider:\n    azurekv:\n      vaultUrl: {}\n{}",
            self.vault_url(),
            indent(azurekv)
        );
        let store: ClusterSecretStore =
            serde_yaml::from_str(&yaml).expect("parse ClusterSecretStore");
        StoreSource::from_cluster_secret_store(&store).expect("azurekv store")
    }

    /// The SP-with-secret block referencing `azure-creds` (namespace-less: referent in a CSS).
    pub fn sp_secret_yaml(&self) -> String {
        format!(
            "tenantId: {TENANT}\nauthSecretRef:\n  clientId:\n    name: azure-creds\n    key: clientid\n  clientSecret:\n    name: azure-creds\n    key: clientsecret\n"
        )
    }
}

fn indent(block: &str) -> String {
    block
        .lines()
        .map(|line| format!("      {line}\n"))
        .collect()
}
