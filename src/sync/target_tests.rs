//! The target Secret an ExternalSecret yields, and what happens when one already exists.

use std::collections::BTreeMap;

use akvsync_crds::ExternalSecret;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::target::{
    Decision, DesiredSecret, Refusal, TargetError, TemplateSources, decide, desired_secret,
};

fn es(target: serde_json::Value) -> ExternalSecret {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "team-a", "uid": "uid-1",
                     "labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {"secretStoreRef": {"name": "vault"}, "target": target,
                 "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}
    }))
    .unwrap()
}

fn build_desired(
    es: &ExternalSecret,
    data: BTreeMap<String, Vec<u8>>,
) -> Result<DesiredSecret, TargetError> {
    desired_secret(es, data, &TemplateSources::new())
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn strings(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
        .collect()
}

#[test]
fn an_owned_secret_carries_eso_bookkeeping_and_the_es_metadata() {
    let desired = build_desired(
        &es(serde_json::json!({"name": "app-secret"})),
        data(&[("password", "p")]),
    )
    .unwrap();
    let Decision::Create(secret) = decide(&desired, None) else {
        panic!("expected a create")
    };
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    assert_eq!(labels["reconcile.external-secrets.io/created-by"].len(), 56);
    assert_eq!(labels["team"], "a");
    let annotations = secret.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["note"], "x");
    assert_eq!(
        annotations["reconcile.external-secrets.io/data-hash"].len(),
        56
    );
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("ExternalSecret", "uid-1", Some(true))
    );
    assert_eq!(secret.metadata.name.as_deref(), Some("app-secret"));
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        strings(&secret),
        BTreeMap::from([("password".into(), "p".into())])
    );
}

#[test]
fn an_unchanged_secret_is_not_rewritten() {
    let desired = build_desired(&es(serde_json::json!({})), data(&[("a", "1")])).unwrap();
    let Decision::Create(created) = decide(&desired, None) else {
        panic!()
    };
    assert_eq!(decide(&desired, Some(&created)), Decision::Unchanged);
    let changed = build_desired(&es(serde_json::json!({})), data(&[("a", "2")])).unwrap();
    let Decision::Update(updated) = decide(&changed, Some(&created)) else {
        panic!()
    };
    assert_eq!(strings(&updated)["a"], "2");
}

#[test]
fn templates_render_data_type_and_metadata() {
    let target = serde_json::json!({"template": {
        "type": "kubernetes.io/basic-auth",
        "metadata": {"labels": {"user": "{{ .user }}"}},
        "data": {"username": "{{ .user | upper }}", "url": "postgres://{{ .user }}:{{ .password }}@db"}
    }});
    let desired = build_desired(&es(target), data(&[("user", "ann"), ("password", "pw")])).unwrap();
    assert_eq!(desired.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(desired.labels["user"], "ann");
    assert!(
        !desired.labels.contains_key("team"),
        "a template replaces the copied ES labels"
    );
    let keys: Vec<_> = desired.data.keys().cloned().collect();
    assert_eq!(
        keys,
        ["url", "username"],
        "provider keys are dropped under mergePolicy Replace"
    );
    assert_eq!(desired.data["username"], b"ANN");
}

#[test]
fn merge_policy_keeps_provider_keys_under_templated_ones() {
    let target = serde_json::json!({"template": {"mergePolicy": "Merge", "data": {"user": "x-{{ .user }}"}}});
    let desired = build_desired(&es(target), data(&[("user", "ann"), ("password", "pw")])).unwrap();
    assert_eq!(desired.data["user"], b"x-ann");
    assert_eq!(desired.data["password"], b"pw");
}

#[test]
fn an_invalid_template_is_an_error_naming_the_key() {
    let target = serde_json::json!({"template": {"data": {"bad": "{{ .missing }}"}}});
    let error = build_desired(&es(target), data(&[("user", "ann")]))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("spec.target.template.data[bad]:"),
        "{error}"
    );
}

#[test]
fn creation_policies_decide_over_existing_secrets() {
    let existing = Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("app".into()),
            namespace: Some("team-a".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "kept".to_owned(),
            ByteString(b"old".to_vec()),
        )])),
        ..Default::default()
    };
    let merge = build_desired(
        &es(serde_json::json!({"creationPolicy": "Merge"})),
        data(&[("new", "v")]),
    )
    .unwrap();
    assert_eq!(decide(&merge, None), Decision::Missing);
    let Decision::Update(merged) = decide(&merge, Some(&existing)) else {
        panic!()
    };
    assert_eq!(
        strings(&merged).keys().cloned().collect::<Vec<_>>(),
        ["kept", "new"]
    );
    assert!(merged.metadata.owner_references.is_none());

    let none = build_desired(
        &es(serde_json::json!({"creationPolicy": "None"})),
        data(&[("new", "v")]),
    )
    .unwrap();
    assert_eq!(decide(&none, Some(&existing)), Decision::Skip);

    let owner = build_desired(&es(serde_json::json!({})), data(&[("new", "v")])).unwrap();
    let Decision::Update(adopted) = decide(&owner, Some(&existing)) else {
        panic!()
    };
    assert_eq!(
        strings(&adopted).keys().cloned().collect::<Vec<_>>(),
        ["new"],
        "Owner replaces the data"
    );
    assert_eq!(adopted.metadata.owner_references.unwrap()[0].uid, "uid-1");
}

#[test]
fn secrets_controlled_by_others_or_immutable_are_refused() {
    let desired = build_desired(&es(serde_json::json!({})), data(&[("a", "1")])).unwrap();
    let controlled_by = |kind: &str| Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: kind.into(),
                name: "other".into(),
                uid: "uid-2".into(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        decide(&desired, Some(&controlled_by("ExternalSecret"))),
        Decision::Refuse(Refusal::OwnedByAnotherExternalSecret)
    );
    assert!(matches!(
        decide(&desired, Some(&controlled_by("Deployment"))),
        Decision::Refuse(Refusal::OwnedByAnotherController { .. })
    ));

    let orphan = build_desired(
        &es(serde_json::json!({"creationPolicy": "Orphan"})),
        data(&[("a", "1")]),
    )
    .unwrap();
    let immutable = Secret {
        immutable: Some(true),
        data: Some(BTreeMap::new()),
        ..Default::default()
    };
    assert_eq!(
        decide(&orphan, Some(&immutable)),
        Decision::Refuse(Refusal::Immutable)
    );
}

#[test]
fn template_from_config_maps_and_secrets_render_values_or_key_value_maps() {
    let target = serde_json::json!({"template": {"templateFrom": [
        {"configMap": {"name": "tpl", "items": [
            {"key": "config.yaml", "templateAs": "Values"},
            {"key": "pairs", "templateAs": "KeysAndValues"}
        ]}},
        {"secret": {"name": "tpl-secret", "items": [{"key": "labels"}]}, "target": "Labels"}
    ]}});
    let mut sources = TemplateSources::new();
    sources.insert(
        ("configMap", "tpl".into()),
        data(&[
            ("config.yaml", "user: {{ .user }}"),
            (
                "pairs",
                "{{ range $k, $v := . }}{{ $k }}-copy: {{ $v }}\n{{ end }}",
            ),
        ]),
    );
    sources.insert(
        ("secret", "tpl-secret".into()),
        data(&[("labels", "owner-{{ .user }}")]),
    );
    let desired = desired_secret(&es(target.clone()), data(&[("user", "ann")]), &sources).unwrap();
    assert_eq!(desired.data["config.yaml"], b"user: ann");
    assert_eq!(desired.data["user-copy"], b"ann");
    assert_eq!(desired.labels["labels"], "owner-ann");
    assert!(
        !desired.data.contains_key("user"),
        "templated data replaces the provider data"
    );

    let error = desired_secret(
        &es(target),
        data(&[("user", "ann")]),
        &TemplateSources::new(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "spec.target.template.templateFrom[0]: configMap tpl was not found"
    );
}
