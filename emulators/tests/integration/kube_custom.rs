//! CustomResourceDefinitions and custom resources: registration, schema validation with
//! defaults and enums, the status subresource, generation, and the four patch types including
//! server-side apply with managedFields and conflicts.

use crate::kube_common;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, discovery};
use kube_common::{install_widget_crd, start, widget, widgets, within};
use serde_json::{Value, json};

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn object(value: Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_crd_registers_its_served_versions_in_discovery() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let discovered = within(discovery::Discovery::new(emulator.client()).run())
        .await
        .unwrap();
    let group = discovered.get("example.com").expect("group discovered");
    let versions: Vec<&str> = group.versions().collect();
    assert_eq!(versions, vec!["v1", "v1beta1"]);
    let (resource, capabilities) = group.recommended_kind("Widget").expect("kind discovered");
    assert_eq!(resource.plural, "widgets");
    assert_eq!(capabilities.scope, discovery::Scope::Namespaced);
    assert!(
        capabilities
            .subresources
            .iter()
            .any(|(sub, _)| sub.plural == "widgets/status" || sub.plural == "status")
    );
    let crds: Api<DynamicObject> = Api::all_with(
        emulator.client(),
        &kube::api::ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        },
    );
    let crd = within(crds.get("widgets.example.com")).await.unwrap();
    let conditions = crd.data["status"]["conditions"].as_array().unwrap();
    assert!(
        conditions
            .iter()
            .any(|condition| condition["type"] == "Established" && condition["status"] == "True")
    );
    let beta: Api<DynamicObject> = Api::namespaced_with(
        emulator.client(),
        "default",
        &kube::api::ApiResource {
            group: "example.com".into(),
            version: "v1beta1".into(),
            api_version: "example.com/v1beta1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
        },
    );
    within(
        widgets(&emulator.client(), "default")
            .create(&PostParams::default(), &object(widget("w", 2))),
    )
    .await
    .unwrap();
    let through_beta = within(beta.get("w")).await.unwrap();
    assert_eq!(
        through_beta.types.unwrap().api_version,
        "example.com/v1beta1"
    );
}

#[tokio::test]
async fn schema_defaults_are_applied_and_violations_are_422_with_field_paths() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let api = widgets(&emulator.client(), "default");
    let created = within(api.create(&PostParams::default(), &object(widget("w", 2))))
        .await
        .unwrap();
    assert_eq!(
        created.data["spec"]["mode"], "Fast",
        "the schema default is applied"
    );
    let mut bad = widget("bad", 0);
    bad["spec"]["mode"] = json!("Medium");
    let error = api_error(
        within(api.create(&PostParams::default(), &object(bad)))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error.message.starts_with("Widget \"bad\" is invalid: ["),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(
            "spec.mode: Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\""
        ),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
        ),
        "{}",
        error.message
    );
    let fields: Vec<String> = error
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|cause| cause.field)
        .collect();
    assert_eq!(fields, vec!["spec.mode", "spec.size"]);
    let missing = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "m"}, "spec": {}});
    let error = api_error(
        within(api.create(&PostParams::default(), &object(missing)))
            .await
            .unwrap_err(),
    );
    assert!(
        error.message.contains("spec.size: Required value"),
        "{}",
        error.message
    );
    let mut unknown = widget("u", 1);
    unknown["spec"]["colour"] = json!("red");
    let pruned = within(api.create(&PostParams::default(), &object(unknown)))
        .await
        .unwrap();
    assert!(
        pruned.data["spec"].get("colour").is_none(),
        "unknown fields are pruned"
    );
}

#[tokio::test]
async fn status_and_spec_are_written_separately_and_generation_tracks_spec_only() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let api = widgets(&emulator.client(), "default");
    let mut with_status = widget("w", 1);
    with_status["status"] = json!({"observedGeneration": 9});
    let created = within(api.create(&PostParams::default(), &object(with_status)))
        .await
        .unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is ignored on create"
    );
    assert_eq!(created.metadata.generation, Some(1));
    let status = Patch::Merge(
        json!({"status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}, "spec": {"size": 50}}),
    );
    let patched = within(api.patch_status("w", &PatchParams::default(), &status))
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["observedGeneration"], 1);
    assert_eq!(
        patched.data["spec"]["size"], 1,
        "spec changes through /status are ignored"
    );
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status writes keep the generation"
    );
    let labelled = within(api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    ))
    .await
    .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata writes keep the generation"
    );
    let resized = within(api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 3}, "status": {"observedGeneration": 7}})),
    ))
    .await
    .unwrap();
    assert_eq!(resized.metadata.generation, Some(2));
    assert_eq!(
        resized.data["status"]["observedGeneration"], 1,
        "status changes through the main resource are ignored"
    );
    let mut stale = resized.clone();
    stale.metadata.resource_version = None;
    let error = api_error(
        within(api.replace("w", &PostParams::default(), &stale))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);
    assert!(
        error.message.contains(
            "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        ),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn json_patch_test_ops_treat_absent_paths_as_null_and_failures_are_422() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let api = widgets(&emulator.client(), "default");
    within(api.create(&PostParams::default(), &object(widget("w", 1))))
        .await
        .unwrap();
    let add_first: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]},
    ]))
    .unwrap();
    let patched = within(api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Json::<()>(add_first.clone()),
    ))
    .await
    .unwrap();
    assert_eq!(
        patched.metadata.finalizers,
        Some(vec!["example.com/cleanup".to_owned()])
    );
    let error = api_error(
        within(api.patch("w", &PatchParams::default(), &Patch::Json::<()>(add_first)))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422, "a failed test op is Invalid");
    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "example.com/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]))
    .unwrap();
    let removed = within(api.patch("w", &PatchParams::default(), &Patch::Json::<()>(remove)))
        .await
        .unwrap();
    assert_eq!(
        removed.metadata.finalizers, None,
        "an emptied finalizer list is dropped"
    );
    let strategic = api_error(
        within(api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 2}})),
        ))
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (strategic.code, strategic.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
}

#[tokio::test]
async fn strategic_merge_patches_merge_finalizers_and_owner_references_of_built_in_kinds() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "c", "finalizers": ["a"]}, "data": {"x": "1"}}),
    )
    .unwrap();
    within(api.create(&PostParams::default(), &map))
        .await
        .unwrap();
    let patch = json!({"metadata": {"finalizers": ["b"]}, "data": {"y": "2"}});
    let patched = within(api.patch("c", &PatchParams::default(), &Patch::Strategic(patch)))
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.finalizers,
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(patched.data.unwrap().len(), 2);
    let delete_a = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "b"]}});
    let cleared = within(api.patch("c", &PatchParams::default(), &Patch::Strategic(delete_a)))
        .await
        .unwrap();
    assert_eq!(cleared.metadata.finalizers, None);
}

#[tokio::test]
async fn server_side_apply_creates_tracks_managers_and_reports_conflicts() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let api = widgets(&emulator.client(), "default");
    let mut config = widget("w", 2);
    config["metadata"]["labels"] = json!({"team": "a"});
    let applied = within(api.patch("w", &PatchParams::apply("operator"), &Patch::Apply(&config)))
        .await
        .expect("apply creates");
    let managers = applied.metadata.managed_fields.clone().unwrap();
    assert_eq!(managers.len(), 1);
    assert_eq!(
        (
            managers[0].manager.as_deref(),
            managers[0].operation.as_deref()
        ),
        (Some("operator"), Some("Apply"))
    );
    let fields = serde_json::to_value(&managers[0].fields_v1).unwrap();
    assert_eq!(
        fields,
        json!({"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:size": {}}})
    );

    let rival = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 5}});
    let error = api_error(
        within(api.patch("w", &PatchParams::apply("rival"), &Patch::Apply(&rival)))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        error.message,
        "Apply failed with 1 conflict: conflict with \"operator\": .spec.size"
    );
    let forced = within(api.patch(
        "w",
        &PatchParams::apply("rival").force(),
        &Patch::Apply(&rival),
    ))
    .await
    .unwrap();
    assert_eq!(forced.data["spec"]["size"], 5);

    let mut shrink = widget("w", 2);
    shrink["spec"].as_object_mut().unwrap().remove("size");
    shrink["spec"]["mode"] = json!("Slow");
    let after = within(api.patch("w", &PatchParams::apply("operator"), &Patch::Apply(&shrink)))
        .await
        .unwrap();
    assert!(
        after.metadata.labels.is_none(),
        "a label the manager stopped applying is removed"
    );
    assert_eq!(
        after.data["spec"]["size"], 5,
        "a field now owned by another manager stays"
    );
    assert_eq!(after.data["spec"]["mode"], "Slow");

    let no_manager = api_error(
        within(api.patch("w", &PatchParams::default(), &Patch::Apply(&shrink)))
            .await
            .unwrap_err(),
    );
    assert_eq!(no_manager.code, 422);
    assert!(
        no_manager
            .message
            .contains("fieldManager: Required value: is required for apply patch"),
        "{}",
        no_manager.message
    );

    let update = within(api.patch(
        "w",
        &PatchParams {
            field_manager: Some("editor".into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"spec": {"size": 6}})),
    ))
    .await
    .unwrap();
    let editor = update
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .find(|entry| entry.manager.as_deref() == Some("editor"))
        .expect("editor entry");
    assert_eq!(editor.operation.as_deref(), Some("Update"));
}

#[tokio::test]
async fn deleting_a_crd_removes_its_resources_and_stops_serving_them() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let api = widgets(&emulator.client(), "default");
    within(api.create(&PostParams::default(), &object(widget("w", 1))))
        .await
        .unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(emulator.client());
    within(crds.delete("widgets.example.com", &Default::default()))
        .await
        .unwrap();
    let error = api_error(within(api.get("w")).await.unwrap_err());
    assert_eq!(error.code, 404);
    install_widget_crd(&emulator.client()).await;
    let error = api_error(within(api.get("w")).await.unwrap_err());
    assert_eq!(error.code, 404, "the old custom resources are gone");
}

#[tokio::test]
async fn apply_conflicts_name_update_managers_with_version_and_time_and_group_several_fields() {
    let emulator = start().await;
    let api: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "1"}}))
            .unwrap();
    let created = within(api.create(
        &PostParams {
            field_manager: Some("editor".into()),
            ..PostParams::default()
        },
        &map,
    ))
    .await
    .unwrap();
    let entry = serde_json::to_value(&created).unwrap()["metadata"]["managedFields"][0].clone();
    assert_eq!(entry["operation"], "Update");
    let time = entry["time"].as_str().unwrap().to_owned();

    let one = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    let error = api_error(
        within(api.patch("c", &PatchParams::apply("applier"), &Patch::Apply(&one)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.message,
        format!(
            "Apply failed with 1 conflict: conflict with \"editor\" using v1 at {time}: .data.a"
        )
    );
    let cause = &error.details.unwrap().causes[0];
    assert_eq!(
        (
            cause.reason.as_str(),
            cause.message.as_str(),
            cause.field.as_str()
        ),
        (
            "FieldManagerConflict",
            format!("conflict with \"editor\" using v1 at {time}").as_str(),
            ".data.a"
        )
    );

    let both = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2", "b": "2"}});
    let error = api_error(
        within(api.patch("c", &PatchParams::apply("applier"), &Patch::Apply(&both)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.message,
        format!(
            "Apply failed with 2 conflicts: conflicts with \"editor\" using v1 at {time}:\n- .data.a\n- .data.b"
        )
    );
}
