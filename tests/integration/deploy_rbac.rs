//! The rendered RBAC is what the operator needs and no more: `kubectl kustomize deploy/…` is
//! applied to the Kubernetes emulator as admin, then the emulator's operator user — the
//! ServiceAccount `akvsync-system/akvsync`, the same subject the manifests bind — does every
//! call the operator makes (watch ESO resources, write their status and finalizers, manage
//! Secrets, record Events, request tokens, hold the Lease) and gets 403 for what it must not do.

use std::time::Duration;

use crate::kubectl;

use akvsync::observability::leader::{LeaderElectionConfig, LeaderElector};
use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use futures::StreamExt;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret, ServiceAccount};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client};
use serde_json::json;

const OPERATOR_NAMESPACE: &str = "akvsync-system";
const OPERATOR_SERVICE_ACCOUNT: &str = "akvsync";
const TENANT_NAMESPACE: &str = "team-a";
/// Bound on every API call and kubectl run.
const STEP: Duration = Duration::from_secs(30);

/// An emulator with `directory`'s render applied by the admin (server-side, as the CRDs are
/// too big for the last-applied annotation), and a tenant namespace with one ExternalSecret.
async fn installed(directory: &str) -> Option<KubeEmulator> {
    let manifests = kubectl::kustomize(directory).await;
    let emulator = KubeEmulator::start(KubeConfig {
        operator_namespace: OPERATOR_NAMESPACE.into(),
        operator_service_account: OPERATOR_SERVICE_ACCOUNT.into(),
        ..KubeConfig::default()
    })
    .await
    .expect("emulator starts");
    let kubeconfig = emulator
        .kubeconfig_path(emulator.admin_user())
        .expect("admin kubeconfig");
    kubectl::apply(kubeconfig, &manifests, &[]).await;
    let admin = emulator.client();
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": TENANT_NAMESPACE}})).expect("ns");
    step(Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &namespace))
        .await
        .expect("tenant namespace");
    for namespace in [TENANT_NAMESPACE, OPERATOR_NAMESPACE] {
        let external_secret: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {
                "secretStoreRef": {"kind": "SecretStore", "name": "vault"},
                "target": {"name": "db"},
                "data": [{"secretKey": "password", "remoteRef": {"key": "db-password"}}],
            },
        }))
        .expect("ExternalSecret");
        step(
            external_secrets(admin.clone(), Some(namespace))
                .create(&PostParams::default(), &external_secret),
        )
        .await
        .expect("ExternalSecret created by admin");
    }
    Some(emulator)
}

async fn step<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, call)
        .await
        .expect("API call in time")
}

fn operator(emulator: &KubeEmulator) -> Client {
    assert_eq!(
        emulator.operator_user(),
        format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"),
        "the emulator's operator user is the ServiceAccount the manifests bind"
    );
    emulator
        .client_as(emulator.operator_user())
        .expect("operator client")
}

fn external_secrets(client: Client, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "external-secrets.io",
        "v1",
        "ExternalSecret",
    ));
    match namespace {
        Some(namespace) => Api::namespaced_with(client, namespace, &resource),
        None => Api::all_with(client, &resource),
    }
}

fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>, what: &str) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// Watches from resourceVersion 0 and returns the name of the first object the watch sends.
async fn first_watched(api: &Api<DynamicObject>) -> Result<String, kube::Error> {
    let stream = step(api.watch(&WatchParams::default().timeout(5), "0")).await?;
    let mut stream = Box::pin(stream);
    match step(stream.next()).await {
        Some(Ok(WatchEvent::Added(object))) => Ok(object.metadata.name.unwrap_or_default()),
        Some(Ok(other)) => panic!("unexpected first watch event {other:?}"),
        Some(Err(error)) => Err(error),
        None => panic!("the watch ended without events"),
    }
}

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }))
    .expect("Secret")
}

#[tokio::test]
async fn the_cluster_wide_rbac_allows_every_operator_call() {
    let Some(emulator) = installed("deploy/base").await else {
        return;
    };
    let client = operator(&emulator);

    // Watch and read ESO's resources in every namespace.
    let all = external_secrets(client.clone(), None);
    let listed = step(all.list(&ListParams::default()))
        .await
        .expect("list ExternalSecrets in all namespaces");
    assert_eq!(listed.items.len(), 2);
    assert_eq!(first_watched(&all).await.expect("watch"), "db");

    // Status and finalizers.
    let tenant = external_secrets(client.clone(), Some(TENANT_NAMESPACE));
    step(tenant.patch_status(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"refreshTime": "2026-01-01T00:00:00Z"}})),
    ))
    .await
    .expect("patch ExternalSecret status");
    step(tenant.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["externalsecrets.external-secrets.io/externalsecret-cleanup"]}})),
    ))
    .await
    .expect("add a finalizer");

    // Secrets: create, update, delete.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), TENANT_NAMESPACE);
    let created = step(secrets.create(&PostParams::default(), &secret("db")))
        .await
        .expect("create Secret");
    step(secrets.replace("db", &PostParams::default(), &created))
        .await
        .expect("update Secret");
    step(secrets.delete("db", &DeleteParams::default()))
        .await
        .expect("delete Secret");

    // Referenced objects are readable.
    step(
        Api::<ConfigMap>::namespaced(client.clone(), TENANT_NAMESPACE).list(&ListParams::default()),
    )
    .await
    .expect("list ConfigMaps");
    step(Api::<Namespace>::all(client.clone()).list(&ListParams::default()))
        .await
        .expect("list Namespaces");

    // Events through both APIs.
    let core_event: Event = serde_json::from_value(json!({
        "metadata": {"name": "db.1", "namespace": TENANT_NAMESPACE},
        "involvedObject": {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "db", "namespace": TENANT_NAMESPACE},
        "reason": "Updated", "message": "secret synced", "type": "Normal",
    }))
    .expect("core Event");
    step(
        Api::<Event>::namespaced(client.clone(), TENANT_NAMESPACE)
            .create(&PostParams::default(), &core_event),
    )
    .await
    .expect("create core Event");
    let events_v1: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), TENANT_NAMESPACE);
    let event: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "db.2", "namespace": TENANT_NAMESPACE},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "akvsync", "reportingInstance": "akvsync-0",
        "action": "Sync", "reason": "Updated", "type": "Normal", "note": "secret synced",
        "regarding": {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "db", "namespace": TENANT_NAMESPACE},
    }))
    .expect("events.k8s.io Event");
    step(events_v1.create(&PostParams::default(), &event))
        .await
        .expect("create events.k8s.io Event");

    // Workload identity: a token for a tenant's ServiceAccount.
    let request: TokenRequest = serde_json::from_value(json!({
        "spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 600},
    }))
    .expect("TokenRequest");
    let token: TokenRequest = step(
        Api::<ServiceAccount>::namespaced(client.clone(), TENANT_NAMESPACE).create_subresource(
            "token",
            "default",
            &PostParams::default(),
            &request,
        ),
    )
    .await
    .expect("create a TokenRequest");
    assert!(!token.status.expect("token status").token.is_empty());

    // The Lease: the real elector creates it, then renews it (an update).
    let mut elector = LeaderElector::new(
        client.clone(),
        LeaderElectionConfig::new(OPERATOR_NAMESPACE, "akvsync-controller", "akvsync-0"),
    )
    .expect("elector");
    assert!(
        step(elector.try_acquire_or_renew())
            .await
            .expect("create the Lease")
    );
    assert!(
        step(elector.try_acquire_or_renew())
            .await
            .expect("renew the Lease")
    );
}

#[tokio::test]
async fn the_cluster_wide_rbac_refuses_what_the_operator_does_not_need() {
    let Some(emulator) = installed("deploy/base").await else {
        return;
    };
    let client = operator(&emulator);
    assert_forbidden(
        step(
            Api::<Namespace>::all(client.clone())
                .delete(TENANT_NAMESPACE, &DeleteParams::default()),
        )
        .await,
        "delete a Namespace",
    );
    let config_map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "x"}})).expect("ConfigMap");
    assert_forbidden(
        step(
            Api::<ConfigMap>::namespaced(client.clone(), TENANT_NAMESPACE)
                .create(&PostParams::default(), &config_map),
        )
        .await,
        "create a ConfigMap",
    );
    // Leases only in the operator's namespace.
    let lease: Lease =
        serde_json::from_value(json!({"metadata": {"name": "akvsync-controller"}})).expect("Lease");
    assert_forbidden(
        step(
            Api::<Lease>::namespaced(client.clone(), TENANT_NAMESPACE)
                .create(&PostParams::default(), &lease),
        )
        .await,
        "create a Lease outside the operator namespace",
    );
    assert_forbidden(
        step(
            Api::<Lease>::namespaced(client.clone(), OPERATOR_NAMESPACE)
                .delete("akvsync-controller", &DeleteParams::default()),
        )
        .await,
        "delete the Lease",
    );
    // No RBAC writes (no privilege escalation path) and no deleting stores.
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "escalate"}, "rules": []}))
            .expect("role");
    assert_forbidden(
        step(
            Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(client.clone())
                .create(&PostParams::default(), &role),
        )
        .await,
        "create a ClusterRole",
    );
    assert_forbidden(
        step(
            Api::<ServiceAccount>::namespaced(client.clone(), TENANT_NAMESPACE)
                .delete("default", &DeleteParams::default()),
        )
        .await,
        "delete a ServiceAccount",
    );
}

#[tokio::test]
async fn the_single_namespace_rbac_reaches_only_the_operator_namespace() {
    let Some(emulator) = installed("deploy/overlays/single-namespace").await else {
        return;
    };
    let client = operator(&emulator);
    let own = external_secrets(client.clone(), Some(OPERATOR_NAMESPACE));
    let listed = step(own.list(&ListParams::default()))
        .await
        .expect("list ExternalSecrets in its namespace");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(first_watched(&own).await.expect("watch"), "db");
    step(
        Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
            .create(&PostParams::default(), &secret("db")),
    )
    .await
    .expect("create a Secret in its namespace");
    let mut elector = LeaderElector::new(
        client.clone(),
        LeaderElectionConfig::new(OPERATOR_NAMESPACE, "akvsync-controller", "akvsync-0"),
    )
    .expect("elector");
    assert!(
        step(elector.try_acquire_or_renew())
            .await
            .expect("create the Lease")
    );
    assert!(
        step(elector.try_acquire_or_renew())
            .await
            .expect("renew the Lease")
    );

    let everywhere = external_secrets(client.clone(), None);
    assert_forbidden(
        step(everywhere.list(&ListParams::default())).await,
        "list ExternalSecrets in all namespaces",
    );
    assert_forbidden(
        first_watched(&everywhere).await,
        "watch ExternalSecrets in all namespaces",
    );
    assert_forbidden(
        step(
            Api::<Secret>::namespaced(client.clone(), TENANT_NAMESPACE)
                .create(&PostParams::default(), &secret("db")),
        )
        .await,
        "create a Secret in another namespace",
    );
    assert_forbidden(
        step(Api::<Namespace>::all(client.clone()).list(&ListParams::default())).await,
        "list Namespaces",
    );
}
