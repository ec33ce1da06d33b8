//! The whole operator against both emulators: a tenant with a vault and a service principal, the
//! CRDs installed, and the operator running on its own thread.
#![allow(dead_code)]

pub mod eso;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use akvsync::azure::{MapEnv, NetworkSettings};
use akvsync::operator::{self, KubeSource, OperatorConfig, OperatorHandle};
use akvsync_crds::{ExternalSecret, SecretStore};
use akvsync_emulators::azure::{
    AzureConfig, AzureEmulator, Grant, PrincipalInfo, PrincipalSpec, SecretOptions,
};
use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

/// Every wait in these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub const TENANT: &str = "tenant-a";
pub const VAULT: &str = "vault1";
pub const CLIENT_SECRET: &str = "sp-client-secret";
pub const NAMESPACE: &str = "team-a";

pub async fn timed<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("the operation timed out")
}

/// Polls `check` until it returns `Some`, failing after [`TIMEOUT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct World {
    pub azure: AzureEmulator,
    pub kube: KubeEmulator,
    pub app: PrincipalInfo,
    pub operator: Option<OperatorHandle>,
}

impl World {
    /// Both emulators, CRDs installed, namespace [`NAMESPACE`] with the principal's credentials
    /// in Secret `azure-creds`, and a SecretStore `vault` using them. The operator is not started.
    pub async fn new() -> World {
        let azure = timed(AzureEmulator::start(AzureConfig::default()))
            .await
            .expect("start the Azure emulator");
        let kube = timed(KubeEmulator::start(KubeConfig::default()))
            .await
            .expect("start the Kubernetes emulator");
        azure.add_tenant(TENANT).unwrap();
        azure.add_vault(VAULT, TENANT).unwrap();
        let app = azure
            .add_principal(TENANT, PrincipalSpec::with_secret("app", CLIENT_SECRET))
            .unwrap();
        azure.grant(VAULT, &app.client_id, Grant::all()).unwrap();
        let world = World {
            azure,
            kube,
            app,
            operator: None,
        };
        let crds: Api<CustomResourceDefinition> = Api::all(world.kube.client());
        for crd in akvsync_crds::all_crds() {
            timed(crds.create(&PostParams::default(), &crd))
                .await
                .expect("install CRD");
        }
        world.namespace_with_store(NAMESPACE).await;
        world
    }

    /// Namespace `namespace` with the principal's credentials in Secret `azure-creds` and a
    /// SecretStore `vault` using them.
    pub async fn namespace_with_store(&self, namespace: &str) {
        self.namespace(namespace).await;
        let client_id = self.app.client_id.clone();
        self.secret(
            namespace,
            "azure-creds",
            &[("client-id", &client_id), ("client-secret", CLIENT_SECRET)],
        )
        .await;
        self.apply_yaml(&self.store_yaml(namespace, "vault", TENANT))
            .await;
    }

    pub fn operator_config(&self) -> OperatorConfig {
        OperatorConfig {
            kube: KubeSource::Kubeconfig(
                self.kube
                    .kubeconfig_path("admin")
                    .expect("admin kubeconfig")
                    .to_owned(),
            ),
            network: NetworkSettings {
                extra_ca_pem: Some(self.azure.ca_pem().to_owned()),
                authority_host: Some(self.azure.authority_host()),
                managed_identity_endpoint: None,
                env: Arc::new(MapEnv::default()),
            },
            workers: 2,
            ..OperatorConfig::default()
        }
    }

    /// The operator as an installed Deployment runs it: `run` is the container's parsed
    /// arguments, in a pod of `pod_namespace`, as the emulator's operator user (the
    /// ServiceAccount the install binds), against the test's emulators, without listeners.
    pub fn installed_config(
        &self,
        run: &akvsync::cli::RunArgs,
        pod_namespace: &str,
    ) -> OperatorConfig {
        let mut config = run
            .operator_config()
            .expect("the rendered arguments make a config");
        let operator = self
            .kube
            .kubeconfig_path(self.kube.operator_user())
            .expect("operator kubeconfig");
        config.kube = KubeSource::Kubeconfig(operator.to_owned());
        config.network = self.operator_config().network;
        config.http = None;
        if let Some(leader) = &mut config.leader {
            // In the pod, POD_NAMESPACE (set by the Deployment) names the Lease's namespace.
            leader.namespace = pod_namespace.to_owned();
        }
        config
    }

    /// Starts the operator and waits until its watches have synced.
    pub async fn start_operator(&mut self) {
        self.start_operator_with(self.operator_config()).await;
    }

    pub async fn start_operator_with(&mut self, config: OperatorConfig) {
        let mut handle = operator::spawn(config).expect("start the operator");
        timed(handle.synced()).await.expect("watches sync");
        self.operator = Some(handle);
    }

    pub fn stop_operator(&mut self) {
        if let Some(operator) = self.operator.take() {
            operator.stop().expect("stop the operator");
        }
    }

    pub fn store_yaml(&self, namespace: &str, name: &str, tenant: &str) -> String {
        format!(
            r#"apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: {name}
  namespace: {namespace}
spec:
  provider:
    azurekv:
      vaultUrl: "{url}"
      tenantId: "{tenant}"
      authSecretRef:
        clientId:
          name: azure-creds
          key: client-id
        clientSecret:
          name: azure-creds
          key: client-secret
"#,
            url = self.azure.vault_url(VAULT)
        )
    }

    pub fn set_secret(&self, name: &str, value: &str) {
        self.azure
            .set_secret(VAULT, name, value, SecretOptions::default())
            .expect("set vault secret");
    }

    /// Sets a secret whose new version was created `ago` before now, as in a vault whose
    /// secrets changed before the operator read them.
    pub fn set_secret_changed_ago(&self, name: &str, value: &str, ago: std::time::Duration) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970");
        let created = i64::try_from(now.saturating_sub(ago).as_secs()).expect("seconds fit");
        let options = SecretOptions {
            created: Some(created),
            ..SecretOptions::default()
        };
        self.azure
            .set_secret(VAULT, name, value, options)
            .expect("set vault secret");
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

    pub async fn secret(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let api = Api::<Secret>::namespaced(self.kube.client(), namespace);
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        timed(api.patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        ))
        .await
        .expect("apply secret");
    }

    /// Server-side applies one manifest given as YAML (a typed external-secrets.io object or a
    /// core Secret/Namespace).
    pub async fn apply_yaml(&self, yaml: &str) {
        self.try_apply_yaml(yaml).await.expect("apply manifest");
    }

    /// [`World::apply_yaml`], returning what the API server answered.
    pub async fn try_apply_yaml(&self, yaml: &str) -> Result<(), kube::Error> {
        let object: kube::api::DynamicObject = serde_yaml::from_str(yaml).expect("parse manifest");
        let types = object.types.clone().expect("apiVersion and kind");
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &types.kind);
        let resource = kube::api::ApiResource::from_gvk(&gvk);
        let api: Api<kube::api::DynamicObject> = match object.namespace() {
            Some(namespace) => Api::namespaced_with(self.kube.client(), &namespace, &resource),
            None => Api::all_with(self.kube.client(), &resource),
        };
        timed(api.patch(
            &object.name_any(),
            &PatchParams::apply("test").force(),
            &Patch::Apply(&object),
        ))
        .await
        .map(drop)
    }

    /// Applies ExternalSecrets `es-0` … `es-{count-1}` in [`NAMESPACE`], each refreshing hourly
    /// and reading `remote` into key `key` from the store `vault`.
    pub async fn apply_external_secrets(&self, count: usize, key: &str, remote: &str) {
        for index in 0..count {
            self.apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &format!("es-{index}"),
                "1h",
                &[(key, remote)],
            ))
            .await;
        }
    }

    pub async fn delete_external_secret(&self, namespace: &str, name: &str) {
        let api = Api::<ExternalSecret>::namespaced(self.kube.client(), namespace);
        timed(api.delete(name, &DeleteParams::default()))
            .await
            .expect("delete ExternalSecret");
    }

    /// Secret reads and listings the vault answered: what refreshes cost it, whether they read
    /// a secret or found it unchanged in a listing.
    pub fn vault_reads(&self) -> u64 {
        let stats = self.azure.stats();
        stats.gets(VAULT) + stats.operation(VAULT, "ListSecrets")
    }

    pub async fn delete_secret(&self, namespace: &str, name: &str) {
        let api = Api::<Secret>::namespaced(self.kube.client(), namespace);
        timed(api.delete(name, &Default::default()))
            .await
            .expect("delete secret");
    }

    pub async fn k8s_secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        timed(Api::<Secret>::namespaced(self.kube.client(), namespace).get_opt(name))
            .await
            .expect("get secret")
    }

    /// The ExternalSecret, or `None` while it does not exist (yet).
    pub async fn external_secret_opt(&self, namespace: &str, name: &str) -> Option<ExternalSecret> {
        timed(Api::<ExternalSecret>::namespaced(self.kube.client(), namespace).get_opt(name))
            .await
            .expect("get ExternalSecret")
    }

    pub async fn external_secret(&self, namespace: &str, name: &str) -> ExternalSecret {
        timed(Api::<ExternalSecret>::namespaced(self.kube.client(), namespace).get(name))
            .await
            .expect("get ExternalSecret")
    }

    pub async fn secret_store(&self, namespace: &str, name: &str) -> SecretStore {
        timed(Api::<SecretStore>::namespaced(self.kube.client(), namespace).get(name))
            .await
            .expect("get SecretStore")
    }

    /// The (type, reason) of every event about object `name` in `namespace`.
    pub async fn events(&self, namespace: &str, name: &str) -> Vec<(String, String)> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.kube.client(), namespace);
        let list = timed(api.list(&Default::default()))
            .await
            .expect("list events");
        list.items
            .into_iter()
            .filter(|event| event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|event| {
                (
                    event.type_.unwrap_or_default(),
                    event.reason.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits until Secret `name` holds `key` = `value`.
    pub async fn wait_for_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> Secret {
        eventually(
            &format!("secret {namespace}/{name} to hold {key}"),
            || async {
                let secret = self.k8s_secret(namespace, name).await?;
                let data = secret.data.as_ref()?.get(key)?;
                (data.0 == value.as_bytes()).then_some(secret)
            },
        )
        .await
    }

    /// Waits until the ExternalSecret's Ready condition has `status` and returns its reason and message.
    pub async fn wait_for_ready(
        &self,
        namespace: &str,
        name: &str,
        status: &str,
    ) -> (String, String) {
        let condition = self
            .wait_for_condition(namespace, name, &format!("Ready={status}"), |c| {
                c.status == status
            })
            .await;
        (
            condition.reason.unwrap_or_default(),
            condition.message.unwrap_or_default(),
        )
    }

    /// Waits until the ExternalSecret's Ready condition has `reason` and returns its status and message.
    pub async fn wait_for_reason(
        &self,
        namespace: &str,
        name: &str,
        reason: &str,
    ) -> (String, String) {
        let condition = self
            .wait_for_condition(namespace, name, &format!("Ready reason {reason}"), |c| {
                c.reason.as_deref() == Some(reason)
            })
            .await;
        (condition.status, condition.message.unwrap_or_default())
    }

    async fn wait_for_condition(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        wanted: impl Fn(&akvsync_crds::Condition) -> bool,
    ) -> akvsync_crds::Condition {
        eventually(
            &format!("ExternalSecret {namespace}/{name} {what}"),
            || async {
                let es = self.external_secret_opt(namespace, name).await?;
                es.status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.type_ == "Ready" && wanted(c))
            },
        )
        .await
    }

    /// Waits until the SecretStore's Ready condition has `status` and returns its message.
    pub async fn wait_for_store(&self, namespace: &str, name: &str, status: &str) -> String {
        eventually(
            &format!("SecretStore {namespace}/{name} Ready={status}"),
            || async {
                let store = self.secret_store(namespace, name).await;
                let condition = store
                    .status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.type_ == "Ready")?;
                (condition.status == status).then(|| condition.message.unwrap_or_default())
            },
        )
        .await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop_operator();
    }
}

/// A ClusterSecretStore `shared` on the world's vault, with team-a's credentials.
pub fn cluster_store_yaml(world: &World) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata:\n  name: shared\nspec:\n  provider:\n    azurekv:\n      vaultUrl: \"{}\"\n      tenantId: \"{TENANT}\"\n      authSecretRef:\n        clientId: {{name: azure-creds, key: client-id, namespace: {NAMESPACE}}}\n        clientSecret: {{name: azure-creds, key: client-secret, namespace: {NAMESPACE}}}\n",
        world.azure.vault_url(VAULT)
    )
}

/// Sets (or, with `None`, removes) label `key` on `namespace`.
pub async fn label_namespace(world: &World, namespace: &str, key: &str, value: Option<&str>) {
    let patch = serde_json::json!({"metadata": {"labels": {key: value}}});
    let api = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(world.kube.client());
    let params = kube::api::PatchParams::default();
    timed(api.patch(namespace, &params, &kube::api::Patch::Merge(&patch)))
        .await
        .expect("label namespace");
}

/// An ExternalSecret reading `data` entries (secretKey, remote key) from store `vault`.
pub fn external_secret_yaml(
    namespace: &str,
    name: &str,
    refresh: &str,
    data: &[(&str, &str)],
) -> String {
    let entries: String = data
        .iter()
        .map(|(secret_key, remote)| {
            format!("    - secretKey: {secret_key}\n      remoteRef:\n        key: {remote}\n")
        })
        .collect();
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  refreshInterval: {refresh}\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n  data:\n{entries}"
    )
}
