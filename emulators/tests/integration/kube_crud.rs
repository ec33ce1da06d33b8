//! Create, read, update, delete and list semantics of the Kubernetes emulator, through kube-rs.

use crate::kube_common;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube_common::{start, within};
use serde_json::json;

fn secret(name: &str, data: serde_json::Value) -> Secret {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": "demo"}}, "data": data}),
    )
    .unwrap()
}

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(response) => *response,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_cluster_has_the_standard_namespaces_and_default_service_accounts() {
    let emulator = start().await;
    let namespaces: Api<Namespace> = Api::all(emulator.client());
    let names: Vec<String> = within(namespaces.list(&ListParams::default()))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|namespace| namespace.metadata.name)
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    kube_common::create_namespace(&emulator.client(), "team-a").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(emulator.client(), "team-a");
    let account = within(accounts.get("default"))
        .await
        .expect("default service account exists");
    assert!(account.metadata.uid.is_some());
    let created: Namespace = within(namespaces.get("team-a")).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
}

#[tokio::test]
async fn create_stamps_metadata_and_a_second_create_is_already_exists() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let created =
        within(secrets.create(&PostParams::default(), &secret("s1", json!({"a": "YQ=="}))))
            .await
            .unwrap();
    let metadata = &created.metadata;
    assert!(metadata.uid.as_ref().is_some_and(|uid| uid.len() == 36));
    assert!(
        metadata
            .resource_version
            .as_ref()
            .is_some_and(|rv| rv.parse::<u64>().is_ok())
    );
    assert!(metadata.creation_timestamp.is_some());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let error = api_error(
        within(secrets.create(&PostParams::default(), &secret("s1", json!({}))))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(error.message, "secrets \"s1\" already exists");
    let missing = api_error(within(secrets.get("nope")).await.unwrap_err());
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (404, "secrets \"nope\" not found")
    );
    let elsewhere: Api<Secret> = Api::namespaced(emulator.client(), "ghost");
    let no_namespace = api_error(
        within(elsewhere.create(&PostParams::default(), &secret("s", json!({}))))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (no_namespace.code, no_namespace.message.as_str()),
        (404, "namespaces \"ghost\" not found")
    );
}

#[tokio::test]
async fn updates_with_a_stale_resource_version_conflict() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let first = within(secrets.create(&PostParams::default(), &secret("s", json!({"a": "YQ=="}))))
        .await
        .unwrap();
    let mut second = first.clone();
    second
        .data
        .as_mut()
        .unwrap()
        .insert("b".into(), k8s_openapi::ByteString(b"b".to_vec()));
    let updated = within(secrets.replace("s", &PostParams::default(), &second))
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        first.metadata.resource_version
    );
    let stale = api_error(
        within(secrets.replace("s", &PostParams::default(), &second))
            .await
            .unwrap_err(),
    );
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(
        stale.message.starts_with(
            "Operation cannot be fulfilled on secrets \"s\": the object has been modified"
        ),
        "{}",
        stale.message
    );
    let mut unconditional = updated.clone();
    unconditional.metadata.resource_version = None;
    unconditional
        .data
        .as_mut()
        .unwrap()
        .insert("c".into(), k8s_openapi::ByteString(b"c".to_vec()));
    let replaced = within(secrets.replace("s", &PostParams::default(), &unconditional))
        .await
        .expect("a Secret PUT without resourceVersion is unconditional");
    assert_eq!(replaced.data.unwrap().len(), 3);
}

#[tokio::test]
async fn an_unchanged_update_keeps_the_resource_version() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let created = within(secrets.create(
        &PostParams::default(),
        &secret("same", json!({"a": "YQ=="})),
    ))
    .await
    .unwrap();
    let again = within(secrets.replace("same", &PostParams::default(), &created))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );
}

#[tokio::test]
async fn secret_rules_string_data_base64_type_immutable_and_size() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let with_string_data: Secret = serde_json::from_value(
        json!({"metadata": {"name": "sd"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee"}}),
    )
    .unwrap();
    let created = within(secrets.create(&PostParams::default(), &with_string_data))
        .await
        .unwrap();
    assert!(created.string_data.is_none());
    assert_eq!(created.data.as_ref().unwrap()["b"].0, b"bee");
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        emulator.client(),
        "default",
        &kube::api::ApiResource::erase::<Secret>(&()),
    );
    let bad: kube::api::DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"a": "%%%"}})).unwrap();
    let error = api_error(
        within(raw.create(&PostParams::default(), &bad))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 400);
    assert!(
        error
            .message
            .contains("illegal base64 data at input byte 0"),
        "{}",
        error.message
    );
    let mut retyped = created.clone();
    retyped.type_ = Some("kubernetes.io/basic-auth".into());
    let error = api_error(
        within(secrets.replace("sd", &PostParams::default(), &retyped))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .contains("type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"),
        "{}",
        error.message
    );
    let frozen: Secret = serde_json::from_value(
        json!({"metadata": {"name": "frozen"}, "data": {"a": "YQ=="}, "immutable": true}),
    )
    .unwrap();
    let mut frozen = within(secrets.create(&PostParams::default(), &frozen))
        .await
        .unwrap();
    frozen
        .data
        .as_mut()
        .unwrap()
        .insert("a".into(), k8s_openapi::ByteString(b"changed".to_vec()));
    let error = api_error(
        within(secrets.replace("frozen", &PostParams::default(), &frozen))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{}",
        error.message
    );
    let huge = secret(
        "huge",
        json!({"big": base64_of(&vec![b'x'; 1024 * 1024 + 1])}),
    );
    let error = api_error(
        within(secrets.create(&PostParams::default(), &huge))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .contains("data: Too long: must have at most 1048576 bytes"),
        "{}",
        error.message
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors_and_page_with_continue() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    for index in 0..7 {
        let mut object = secret(&format!("s{index}"), json!({}));
        if index % 2 == 0 {
            object.metadata.labels = Some([("tier".to_owned(), "even".to_owned())].into());
        }
        if index == 3 {
            object.type_ = Some("example.com/special".into());
        }
        within(secrets.create(&PostParams::default(), &object))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<Secret>| {
        list.items
            .into_iter()
            .filter_map(|item| item.metadata.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            within(secrets.list(&ListParams::default().labels("tier=even")))
                .await
                .unwrap()
        ),
        vec!["s0", "s2", "s4", "s6"]
    );
    assert_eq!(
        names(
            within(secrets.list(&ListParams::default().labels("tier!=even,app in (demo)")))
                .await
                .unwrap()
        ),
        vec!["s1", "s3", "s5"]
    );
    assert_eq!(
        names(
            within(secrets.list(&ListParams::default().fields("metadata.name=s5")))
                .await
                .unwrap()
        ),
        vec!["s5"]
    );
    assert_eq!(
        names(
            within(secrets.list(&ListParams::default().fields("type=example.com/special")))
                .await
                .unwrap()
        ),
        vec!["s3"]
    );
    let unsupported = api_error(
        within(secrets.list(&ListParams::default().fields("spec.foo=bar")))
            .await
            .unwrap_err(),
    );
    assert_eq!(unsupported.code, 400);
    let first = within(secrets.list(&ListParams::default().limit(3)))
        .await
        .unwrap();
    let token = first.metadata.continue_.clone().expect("continue token");
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let rv = first.metadata.resource_version.clone();
    let second = within(secrets.list(&ListParams::default().limit(3).continue_token(&token)))
        .await
        .unwrap();
    let third = within(
        secrets.list(
            &ListParams::default()
                .limit(3)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        ),
    )
    .await
    .unwrap();
    assert!(third.metadata.continue_.is_none());
    assert_eq!(
        second.metadata.resource_version, rv,
        "pages share the first page's snapshot resourceVersion"
    );
    let all: Vec<String> = [first, second, third].into_iter().flat_map(names).collect();
    assert_eq!(
        all,
        (0..7).map(|index| format!("s{index}")).collect::<Vec<_>>()
    );
    let everywhere: Api<Secret> = Api::all(emulator.client());
    assert_eq!(
        within(everywhere.list(&ListParams::default()))
            .await
            .unwrap()
            .items
            .len(),
        7
    );
}

#[tokio::test]
async fn config_maps_and_leases_round_trip_with_micro_time() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "cm-"}, "data": {"k": "v"}}))
            .unwrap();
    let created = within(maps.create(&PostParams::default(), &map))
        .await
        .unwrap();
    let name = created.metadata.name.unwrap();
    assert!(name.starts_with("cm-") && name.len() == 8, "{name}");
    let leases: Api<Lease> = Api::namespaced(emulator.client(), "default");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": "2026-11-27T10:00:00.123456Z", "leaseTransitions": 0}})).unwrap();
    let created = within(leases.create(&PostParams::default(), &lease))
        .await
        .unwrap();
    let raw = serde_json::to_value(&created).unwrap();
    assert_eq!(raw["spec"]["renewTime"], "2026-11-27T10:00:00.123456Z");
    let mut taken = created.clone();
    taken.spec.as_mut().unwrap().holder_identity = Some("b".into());
    within(leases.replace("leader", &PostParams::default(), &taken))
        .await
        .unwrap();
    let mut late = created.clone();
    late.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let error = api_error(
        within(leases.replace("leader", &PostParams::default(), &late))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 409, "the loser of a lease race gets Conflict");
    within(leases.delete("leader", &DeleteParams::default()))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_page_of_a_list_reads_the_first_page_revision_until_it_is_compacted() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map = |name: &str, value: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
    };
    for name in ["a", "c", "e"] {
        within(maps.create(&PostParams::default(), &map(name, "old")))
            .await
            .unwrap();
    }
    let first = within(maps.list(&ListParams::default().limit(1)))
        .await
        .unwrap();
    let token = first.metadata.continue_.clone().expect("continue token");
    assert_eq!(first.metadata.remaining_item_count, Some(2));

    // After the first page: two objects created between and after the rest, one changed, one
    // deleted. None of it is visible at the first page's revision.
    within(maps.create(&PostParams::default(), &map("b", "new")))
        .await
        .unwrap();
    within(maps.create(&PostParams::default(), &map("f", "new")))
        .await
        .unwrap();
    within(maps.replace("c", &PostParams::default(), &{
        let mut changed = within(maps.get("c")).await.unwrap();
        changed.data = Some([("v".to_owned(), "new".to_owned())].into());
        changed
    }))
    .await
    .unwrap();
    within(maps.delete("e", &DeleteParams::default()))
        .await
        .unwrap();

    let second = within(maps.list(&ListParams::default().limit(1).continue_token(&token)))
        .await
        .unwrap();
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(second.metadata.remaining_item_count, Some(1));
    let third = within(
        maps.list(
            &ListParams::default()
                .limit(1)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        ),
    )
    .await
    .unwrap();
    assert!(third.metadata.continue_.is_none());
    let seen: Vec<(String, String)> = [&first, &second, &third]
        .into_iter()
        .flat_map(|page| page.items.iter())
        .map(|item| {
            (
                item.metadata.name.clone().unwrap(),
                item.data.as_ref().unwrap()["v"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("a", "old"), ("c", "old"), ("e", "old")]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
    );

    // A fresh list sees the present; a token older than the compaction window is 410 Expired.
    let now = within(maps.list(&ListParams::default())).await.unwrap();
    let names: Vec<String> = now
        .items
        .iter()
        .map(|item| item.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c", "f"]);
    emulator.compact_history();
    let expired = api_error(
        within(maps.list(&ListParams::default().limit(1).continue_token(&token)))
            .await
            .unwrap_err(),
    );
    assert_eq!((expired.code, expired.reason.as_str()), (410, "Expired"));
}
