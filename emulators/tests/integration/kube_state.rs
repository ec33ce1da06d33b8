//! The state file keeps objects across restarts, and the `kube-emulator` binary announces itself
//! with one JSON line and serves its kubeconfigs.

use crate::kube_common;

use std::process::Stdio;

use akvsync_emulators::kubeapi::KubeConfig;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, Config};
use kube_common::{install_widget_crd, start_with, widget, widgets, within};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn objects_and_crds_survive_a_restart_with_a_state_file() {
    let directory = tempfile::tempdir().unwrap();
    let config = KubeConfig {
        state_file: Some(directory.path().join("state.json")),
        ..KubeConfig::default()
    };
    let mut first = start_with(config.clone()).await;
    install_widget_crd(&first.client()).await;
    let created = within(widgets(&first.client(), "default").create(
        &PostParams::default(),
        &serde_json::from_value(widget("w", 2)).unwrap(),
    ))
    .await
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(first.client(), "default");
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "kept"}, "stringData": {"a": "b"}}))
            .unwrap();
    within(secrets.create(&PostParams::default(), &secret))
        .await
        .unwrap();
    let last_rv = first.resource_version();
    first.shutdown();
    drop(first);

    let second = start_with(config).await;
    let restored = within(widgets(&second.client(), "default").get("w"))
        .await
        .expect("custom resources are restored and served");
    assert_eq!(restored.metadata.uid, created.metadata.uid);
    let secrets: Api<Secret> = Api::namespaced(second.client(), "default");
    assert_eq!(
        within(secrets.get("kept")).await.unwrap().data.unwrap()["a"].0,
        b"b"
    );
    let namespaces: Api<Namespace> = Api::all(second.client());
    let listed = within(namespaces.list(&ListParams::default()))
        .await
        .unwrap();
    assert!(
        listed
            .metadata
            .resource_version
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= last_rv,
        "the counter continues"
    );
    assert_eq!(listed.items.len(), 4);
}

#[tokio::test]
async fn the_binary_prints_a_ready_line_and_serves_its_kubeconfigs() {
    let directory = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .arg("--dir")
        .arg(directory.path())
        .arg("--user")
        .arg("alice")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: Value = serde_json::from_str(
        &within(lines.next_line())
            .await
            .unwrap()
            .expect("a ready line"),
    )
    .unwrap();
    assert!(
        ready["url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(std::path::Path::new(ready["ca_file"].as_str().unwrap()).exists());
    assert!(ready["kubeconfigs"]["alice"].is_string());
    assert_eq!(
        ready["operator_user"],
        "system:serviceaccount:akvsync-system:akvsync"
    );
    let kubeconfig =
        kube::config::Kubeconfig::read_from(ready["admin_kubeconfig"].as_str().unwrap()).unwrap();
    let config = within(Config::from_custom_kubeconfig(
        kubeconfig,
        &Default::default(),
    ))
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client);
    assert_eq!(
        within(namespaces.list(&ListParams::default()))
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    within(child.kill()).await.unwrap();
}
