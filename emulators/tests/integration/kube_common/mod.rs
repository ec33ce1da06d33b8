//! Shared helpers for the Kubernetes emulator tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

/// Upper bound for any single await in these tests.
pub const STEP: Duration = Duration::from_secs(20);

/// Awaits `future` or fails the test after [`STEP`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .expect("step timed out")
}

pub async fn start() -> KubeEmulator {
    start_with(KubeConfig::default()).await
}

pub async fn start_with(config: KubeConfig) -> KubeEmulator {
    within(KubeEmulator::start(config))
        .await
        .expect("emulator starts")
}

/// A namespace-scoped CRD `widgets.example.com` (v1 storage, v1beta1 served) with a status
/// subresource, short name, category, printer columns, enum, default and required fields.
pub fn widget_crd() -> Value {
    serde_yaml::from_str(include_str!("../fixtures/widgets-crd.yaml")).expect("fixture parses")
}

pub async fn install_widget_crd(client: &kube::Client) {
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_value(widget_crd()).expect("CRD deserialises");
    within(crds.create(&PostParams::default(), &crd))
        .await
        .expect("CRD created");
}

pub fn widget(name: &str, size: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}})
}

/// The dynamic Api for widgets in `namespace`.
pub fn widgets(client: &kube::Client, namespace: &str) -> Api<kube::api::DynamicObject> {
    let resource = kube::api::ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

pub async fn create_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    within(namespaces.create(&PostParams::default(), &namespace))
        .await
        .expect("namespace created");
}

/// The ApiResource of the test CRD's storage version.
pub fn widget_resource() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    }
}
