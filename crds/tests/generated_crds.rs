//! The committed CRD YAML is exactly what the types generate, parses as apiextensions/v1, has
//! structural schemas, and carries ESO's names, versions, columns and subresources.

use std::collections::BTreeSet;

use akvsync_crds::{all_crds, crds_yaml};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;
use serde_json::Value;

const COMMITTED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/external-secrets.io.yaml");
const REGENERATE: &str = "cargo run -q -- crds > crds/external-secrets.io.yaml";

fn committed_documents() -> Vec<CustomResourceDefinition> {
    let text =
        std::fs::read_to_string(COMMITTED_PATH).expect("crds/external-secrets.io.yaml is readable");
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            CustomResourceDefinition::deserialize(document).expect("each document is a CRD")
        })
        .collect()
}

fn crd<'a>(crds: &'a [CustomResourceDefinition], kind: &str) -> &'a CustomResourceDefinition {
    crds.iter()
        .find(|crd| crd.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"))
}

fn schema_json(crd: &CustomResourceDefinition, version: &str) -> Value {
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .unwrap_or_else(|| panic!("{} has no version {version}", crd.spec.names.kind));
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema"),
    )
    .expect("schema serializes")
}

#[test]
fn committed_crd_yaml_matches_the_types() {
    let committed = std::fs::read_to_string(COMMITTED_PATH).unwrap_or_default();
    assert!(
        committed == crds_yaml(),
        "crds/external-secrets.io.yaml is out of date with the types in crds/src; regenerate it with `{REGENERATE}` (never edit it by hand)"
    );
}

#[test]
fn committed_yaml_parses_as_apiextensions_v1_crds_in_a_fixed_order() {
    let documents = committed_documents();
    let names: Vec<_> = documents
        .iter()
        .map(|crd| crd.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "clusterexternalsecrets.external-secrets.io",
            "clusterpushsecrets.external-secrets.io",
            "clustersecretstores.external-secrets.io",
            "externalsecrets.external-secrets.io",
            "pushsecrets.external-secrets.io",
            "secretstores.external-secrets.io",
            "acraccesstokens.generators.external-secrets.io",
            "clustergenerators.generators.external-secrets.io",
            "passwords.generators.external-secrets.io",
            "uuids.generators.external-secrets.io",
        ]
    );
    assert_eq!(documents, all_crds());
    let text = std::fs::read_to_string(COMMITTED_PATH).expect("readable");
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(document).expect("yaml");
        assert_eq!(value["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(value["kind"], "CustomResourceDefinition");
    }
}

#[test]
fn names_scopes_and_categories_match_eso() {
    let crds = all_crds();
    for (kind, plural, short, scope) in [
        ("SecretStore", "secretstores", "ss", "Namespaced"),
        (
            "ClusterSecretStore",
            "clustersecretstores",
            "css",
            "Cluster",
        ),
        ("ExternalSecret", "externalsecrets", "es", "Namespaced"),
        (
            "ClusterExternalSecret",
            "clusterexternalsecrets",
            "ces",
            "Cluster",
        ),
        ("PushSecret", "pushsecrets", "ps", "Namespaced"),
    ] {
        let crd = crd(&crds, kind);
        assert_eq!(crd.spec.group, "external-secrets.io");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_owned()][..]),
            "{kind}"
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["external-secrets".to_owned()][..]),
            "{kind}"
        );
        assert_eq!(crd.spec.scope, scope, "{kind}");
        for version in &crd.spec.versions {
            let status = version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref());
            assert!(
                status.is_some(),
                "{kind} {} has a status subresource",
                version.name
            );
        }
    }
}

#[test]
fn served_and_storage_versions_match_eso() {
    let crds = all_crds();
    let versions = |kind: &str| -> Vec<(String, bool, bool)> {
        crd(&crds, kind)
            .spec
            .versions
            .iter()
            .map(|v| (v.name.clone(), v.served, v.storage))
            .collect()
    };
    for kind in ["SecretStore", "ClusterSecretStore"] {
        assert_eq!(
            versions(kind),
            [("v1".into(), true, true), ("v1beta1".into(), true, false)],
            "{kind}"
        );
        let crd = crd(&crds, kind);
        assert_eq!(
            schema_json(crd, "v1"),
            schema_json(crd, "v1beta1"),
            "{kind} v1beta1 schema is v1's"
        );
    }
    for kind in ["ExternalSecret", "ClusterExternalSecret"] {
        assert_eq!(versions(kind), [("v1".into(), true, true)], "{kind}");
    }
    for kind in [
        "PushSecret",
        "ClusterPushSecret",
        "Password",
        "UUID",
        "ACRAccessToken",
        "ClusterGenerator",
    ] {
        assert_eq!(versions(kind), [("v1alpha1".into(), true, true)], "{kind}");
    }
}

#[test]
fn generator_names_scopes_and_categories_match_eso() {
    let crds = all_crds();
    for (kind, plural, scope) in [
        ("Password", "passwords", "Namespaced"),
        ("UUID", "uuids", "Namespaced"),
        ("ACRAccessToken", "acraccesstokens", "Namespaced"),
        ("ClusterGenerator", "clustergenerators", "Cluster"),
    ] {
        let crd = crd(&crds, kind);
        assert_eq!(crd.spec.group, "generators.external-secrets.io");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(
                &[
                    "external-secrets".to_owned(),
                    "external-secrets-generators".to_owned()
                ][..]
            ),
            "{kind}"
        );
        assert_eq!(crd.spec.scope, scope, "{kind}");
    }
    let password = schema_json(crd(&crds, "Password"), "v1alpha1");
    let spec = &password["properties"]["spec"]["properties"];
    assert_eq!(spec["length"]["default"], 24);
    assert_eq!(spec["encoding"]["default"], "raw");
    assert_eq!(
        spec["encoding"]["enum"],
        serde_json::json!(["base64", "base64url", "base32", "hex", "raw"])
    );
    assert_eq!(spec["secretKeys"]["minItems"], 1);
}

#[test]
fn printer_columns_match_eso() {
    let crds = all_crds();
    let ready_reason = r#".status.conditions[?(@.type=="Ready")].reason"#;
    let ready_status = r#".status.conditions[?(@.type=="Ready")].status"#;
    let columns = |kind: &str| -> Vec<(String, String, String)> {
        let version = &crd(&crds, kind).spec.versions[0];
        version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.clone(), c.type_.clone(), c.json_path.clone()))
            .collect()
    };
    let column =
        |name: &str, type_: &str, path: &str| (name.to_owned(), type_.to_owned(), path.to_owned());
    let store_columns = vec![
        column("AGE", "date", ".metadata.creationTimestamp"),
        column("Status", "string", ready_reason),
        column("Capabilities", "string", ".status.capabilities"),
        column("Ready", "string", ready_status),
    ];
    assert_eq!(columns("SecretStore"), store_columns);
    assert_eq!(columns("ClusterSecretStore"), store_columns);
    assert_eq!(
        columns("ExternalSecret"),
        vec![
            column("StoreType", "string", ".spec.secretStoreRef.kind"),
            column("Store", "string", ".spec.secretStoreRef.name"),
            column("Refresh Interval", "string", ".spec.refreshInterval"),
            column("Status", "string", ready_reason),
            column("Ready", "string", ready_status),
            column("Last Sync", "date", ".status.refreshTime"),
        ]
    );
    assert_eq!(
        columns("ClusterExternalSecret"),
        vec![
            column(
                "Store",
                "string",
                ".spec.externalSecretSpec.secretStoreRef.name"
            ),
            column("Refresh Interval", "string", ".spec.refreshTime"),
            column("Ready", "string", ready_status),
        ]
    );
    assert_eq!(
        columns("PushSecret"),
        vec![
            column("AGE", "date", ".metadata.creationTimestamp"),
            column("Status", "string", ready_reason),
            column("Last Sync", "date", ".status.refreshTime"),
        ]
    );
    assert_eq!(
        columns("ClusterPushSecret"),
        vec![
            column("AGE", "date", ".metadata.creationTimestamp"),
            column("Status", "string", ready_reason),
        ]
    );
}

/// Keywords a structural schema forbids inside `allOf`/`anyOf`/`oneOf`/`not`.
const FORBIDDEN_IN_JUNCTORS: [&str; 5] = [
    "type",
    "description",
    "default",
    "nullable",
    "additionalProperties",
];

/// Walks a schema, recording structural-schema violations and the paths that preserve unknown
/// fields.
fn check_node(
    node: &Value,
    path: &str,
    problems: &mut Vec<String>,
    preserved: &mut BTreeSet<String>,
) {
    let Some(object) = node.as_object() else {
        problems.push(format!("{path}: schema is not an object"));
        return;
    };
    for forbidden in ["$ref", "definitions", "$defs", "$schema"] {
        if object.contains_key(forbidden) {
            problems.push(format!("{path}: has {forbidden}"));
        }
    }
    let preserves = object.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if preserves {
        preserved.insert(path.to_owned());
    }
    if !object.contains_key("type") && !preserves && !int_or_string {
        problems.push(format!("{path}: no type"));
    }
    if let (Some(values), Some(default)) = (object.get("enum"), object.get("default"))
        && !values
            .as_array()
            .is_some_and(|values| values.contains(default))
    {
        problems.push(format!("{path}: default {default} is not one of {values}"));
    }
    let properties = object.get("properties").and_then(Value::as_object);
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (index, branch) in object
            .get(junctor)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let branch_path = format!("{path}.{junctor}[{index}]");
            for keyword in FORBIDDEN_IN_JUNCTORS {
                if branch.get(keyword).is_some() {
                    problems.push(format!("{branch_path}: sets {keyword}"));
                }
            }
            for name in branch
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if !properties.is_some_and(|p| p.contains_key(name)) {
                    problems.push(format!(
                        "{branch_path}: property {name} is not declared outside the junctor"
                    ));
                }
            }
        }
    }
    if object.contains_key("not") {
        problems.push(format!("{path}: uses not"));
    }
    for (name, child) in properties.into_iter().flatten() {
        check_node(child, &format!("{path}.{name}"), problems, preserved);
    }
    if let Some(items) = object.get("items") {
        check_node(items, &format!("{path}[]"), problems, preserved);
    }
    if let Some(additional) = object.get("additionalProperties").filter(|a| a.is_object()) {
        check_node(additional, &format!("{path}.*"), problems, preserved);
    }
}

#[test]
fn schemas_are_structural_and_preserve_unknown_fields_only_where_eso_does() {
    let crds = all_crds();
    let mut problems = Vec::new();
    let mut preserved = BTreeSet::new();
    for crd in &crds {
        for version in &crd.spec.versions {
            let root = format!("{}/{}", crd.spec.names.kind, version.name);
            check_node(
                &schema_json(crd, &version.name),
                &root,
                &mut problems,
                &mut preserved,
            );
        }
    }
    assert!(
        problems.is_empty(),
        "non-structural schema nodes:\n{}",
        problems.join("\n")
    );
    let expected: BTreeSet<String> = [
        "ClusterSecretStore/v1.spec.provider",
        "ClusterSecretStore/v1beta1.spec.provider",
        "SecretStore/v1.spec.provider",
        "SecretStore/v1beta1.spec.provider",
        "PushSecret/v1alpha1.spec.data[].metadata",
        "PushSecret/v1alpha1.spec.dataTo[].metadata",
        "PushSecret/v1alpha1.status.syncedPushSecrets.*.*.metadata",
        "ClusterPushSecret/v1alpha1.spec.pushSecretSpec.data[].metadata",
        "ClusterPushSecret/v1alpha1.spec.pushSecretSpec.dataTo[].metadata",
        "ClusterGenerator/v1alpha1.spec.generator",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(preserved, expected);
}

#[test]
fn store_schema_requires_vault_url_and_enumerates_azure_values() {
    let crds = all_crds();
    let schema = schema_json(crd(&crds, "SecretStore"), "v1");
    let azurekv = &schema["properties"]["spec"]["properties"]["provider"]["properties"]["azurekv"];
    assert_eq!(azurekv["required"], serde_json::json!(["vaultUrl"]));
    let auth_type = &azurekv["properties"]["authType"];
    assert_eq!(
        auth_type["enum"],
        serde_json::json!(["ServicePrincipal", "ManagedIdentity", "WorkloadIdentity"])
    );
    assert_eq!(auth_type["default"], "ServicePrincipal");
    let environment = &azurekv["properties"]["environmentType"];
    assert_eq!(
        environment["enum"],
        serde_json::json!([
            "PublicCloud",
            "USGovernmentCloud",
            "ChinaCloud",
            "GermanCloud",
            "AzureStackCloud"
        ])
    );
    assert_eq!(environment["default"], "PublicCloud");
    let custom_cloud = &azurekv["properties"]["customCloudConfig"];
    assert_eq!(
        custom_cloud["required"],
        serde_json::json!(["activeDirectoryEndpoint"])
    );
    assert_eq!(
        schema["properties"]["spec"]["required"],
        serde_json::json!(["provider"])
    );
}

#[test]
fn every_schema_property_has_a_description_for_kubectl_explain() {
    fn walk(node: &Value, path: &str, missing: &mut Vec<String>) {
        for (name, child) in node
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let child_path = format!("{path}.{name}");
            // metadata is the API server's ObjectMeta; apiVersion/kind are implicit.
            let implicit = path.matches('.').count() == 0
                && ["metadata", "apiVersion", "kind"].contains(&name.as_str());
            if !implicit
                && child
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                missing.push(child_path.clone());
            }
            walk(child, &child_path, missing);
        }
        if let Some(items) = node.get("items") {
            walk(items, &format!("{path}[]"), missing);
        }
        if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
            walk(additional, &format!("{path}.*"), missing);
        }
    }
    let mut missing = Vec::new();
    for crd in all_crds() {
        for version in &crd.spec.versions {
            walk(
                &schema_json(&crd, &version.name),
                &format!("{}/{}", crd.spec.names.kind, version.name),
                &mut missing,
            );
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a description:\n{}",
        missing.join("\n")
    );
}

#[test]
fn structural_checker_flags_what_the_api_server_rejects() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "reference": {"$ref": "#/definitions/x", "type": "object"},
            "choice": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "oneOf": [{"type": "object", "properties": {"b": {"type": "string"}}}]
            },
            "free": {"x-kubernetes-preserve-unknown-fields": true},
            "level": {"type": "string", "enum": ["A"], "default": "B"}
        }
    });
    let mut problems = Vec::new();
    let mut preserved = BTreeSet::new();
    check_node(&bad, "root", &mut problems, &mut preserved);
    assert_eq!(
        problems,
        [
            "root.choice.oneOf[0]: sets type",
            "root.choice.oneOf[0]: property b is not declared outside the junctor",
            "root.level: default \"B\" is not one of [\"A\"]",
            "root.reference: has $ref",
            "root.untyped: no type",
        ]
    );
    assert_eq!(preserved, BTreeSet::from(["root.free".to_owned()]));
}
