//! Every external-secrets.io manifest in `examples/` (and the all-fields fixture) loads into the
//! typed API and serializes back to the same JSON; wrong manifests fail naming the field.

use std::path::{Path, PathBuf};

use akvsync_crds::decode::{self, DecodeError};
use akvsync_crds::{
    AuthType, ClusterExternalSecret, ClusterSecretStore, CreationPolicy, ExternalSecret,
    ExternalSecretRewrite, PushSecret, PushSecretSelector, SecretStore, StoreKind, StoreSourceRef,
};
use serde::Deserialize;
use serde_json::{Value, json};

const EXAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The `{% include %}` snippets the Azure Key Vault docs page refers to.
const SEED_INCLUDES: [&str; 14] = [
    "azkv-secret-store-spn-secret.yaml",
    "azkv-secret-store-spn-certificate.yaml",
    "azkv-secret-store-mi.yaml",
    "azkv-workload-identity-mounted.yaml",
    "azkv-workload-identity.yaml",
    "azkv-workload-identity-secretref.yaml",
    "azkv-external-secret.yaml",
    "azkv-datafrom-external-secret.yaml",
    "azkv-pkcs12-cert-external-secret.yaml",
    "azkv-pushsecret-secret.yaml",
    "azkv-pushsecret-key.yaml",
    "azkv-pushsecret-certificate-p12.yaml",
    "azkv-pushsecret-certificate-pem.yaml",
    "azkv-pushsecret-certificate-cert-manager.yaml",
];

/// The inline manifests of the docs page.
const SEED_INLINE: [&str; 4] = [
    "seed-secret-store.yaml",
    "seed-cluster-secret-store.yaml",
    "seed-azure-china-workload-identity.yaml",
    "seed-azure-stack.yaml",
];

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{dir} is readable: {error}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn documents(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn is_eso(document: &Value) -> bool {
    document["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("external-secrets.io/"))
}

/// Decodes an external-secrets.io document into its type and serializes it back.
fn round_trip(document: &Value) -> Result<Value, DecodeError> {
    fn again<T: serde::de::DeserializeOwned + serde::Serialize>(
        document: &Value,
    ) -> Result<Value, DecodeError> {
        let typed: T = decode::from_value(document.clone())?;
        Ok(serde_json::to_value(typed).expect("typed resources serialize"))
    }
    match document["kind"].as_str().unwrap_or_default() {
        "SecretStore" => again::<SecretStore>(document),
        "ClusterSecretStore" => again::<ClusterSecretStore>(document),
        "ExternalSecret" => again::<ExternalSecret>(document),
        "ClusterExternalSecret" => again::<ClusterExternalSecret>(document),
        "PushSecret" => again::<PushSecret>(document),
        other => panic!("unexpected external-secrets.io kind {other:?}"),
    }
}

/// The document as the typed API writes it: stores are served as v1beta1 too, but the types
/// are the v1 storage version.
fn as_storage_version(document: &Value) -> Value {
    let mut expected = document.clone();
    if expected["apiVersion"] == "external-secrets.io/v1beta1" {
        expected["apiVersion"] = json!("external-secrets.io/v1");
    }
    expected
}

fn assert_round_trips(path: &Path) -> usize {
    let mut count = 0;
    for document in documents(path).iter().filter(|d| is_eso(d)) {
        let name = format!(
            "{} {} {}",
            path.display(),
            document["kind"],
            document["metadata"]["name"]
        );
        let written =
            round_trip(document).unwrap_or_else(|error| panic!("{name} does not load: {error}"));
        assert_eq!(
            written,
            as_storage_version(document),
            "{name} changes in a serialize → parse round trip"
        );
        count += 1;
    }
    count
}

#[test]
fn examples_cover_every_manifest_of_the_docs_page() {
    for file in SEED_INCLUDES.iter().chain(&SEED_INLINE) {
        let path = Path::new(EXAMPLES_DIR).join(file);
        assert!(path.is_file(), "examples/{file} is missing");
        assert!(
            documents(&path).iter().any(is_eso),
            "examples/{file} has no external-secrets.io manifest"
        );
    }
}

#[test]
fn every_example_loads_and_round_trips_without_loss() {
    let total: usize = yaml_files(EXAMPLES_DIR)
        .iter()
        .map(|path| assert_round_trips(path))
        .sum();
    assert!(
        total >= SEED_INCLUDES.len() + SEED_INLINE.len(),
        "only {total} manifests checked"
    );
}

#[test]
fn the_all_fields_fixture_round_trips_without_loss() {
    let total: usize = yaml_files(FIXTURES_DIR)
        .iter()
        .map(|path| assert_round_trips(path))
        .sum();
    assert_eq!(total, 7);
}

#[test]
fn round_trip_comparison_notices_a_dropped_field() {
    // Guards the round-trip test itself: a field the types do not know is lost and detected.
    let mut document = documents(&Path::new(EXAMPLES_DIR).join("seed-secret-store.yaml")).remove(0);
    document["spec"]["provider"]["azurekv"]["notAField"] = json!("lost");
    assert_ne!(round_trip(&document).expect("still loads"), document);
}

#[test]
fn examples_load_into_the_shapes_the_operator_reads() {
    let load = |file: &str| documents(&Path::new(EXAMPLES_DIR).join(file));

    let stack: SecretStore =
        decode::from_value(load("seed-azure-stack.yaml").remove(0)).expect("v1beta1 store");
    let azurekv = stack.spec.provider.azurekv.as_ref().expect("azurekv");
    assert_eq!(azurekv.auth_type_or_default(), AuthType::ServicePrincipal);
    assert_eq!(azurekv.use_azure_sdk, Some(true));
    assert_eq!(
        azurekv
            .custom_cloud_config
            .as_ref()
            .map(|c| c.active_directory_endpoint.as_str()),
        Some("https://login.microsoftonline.com/")
    );

    let china: ClusterSecretStore =
        decode::from_value(load("seed-azure-china-workload-identity.yaml").remove(0)).expect("css");
    let azurekv = china.spec.provider.azurekv.as_ref().expect("azurekv");
    assert_eq!(azurekv.auth_type, Some(AuthType::WorkloadIdentity));
    assert_eq!(
        azurekv
            .service_account_ref
            .as_ref()
            .map(|sa| sa.name.as_str()),
        Some("my-service-account")
    );

    let datafrom: ExternalSecret =
        decode::from_value(load("azkv-datafrom-external-secret.yaml").remove(0)).expect("es");
    let spec = &datafrom.spec;
    assert_eq!(
        spec.secret_store_ref.as_ref().map(|r| r.kind_or_default()),
        Some(StoreKind::SecretStore)
    );
    assert_eq!(
        spec.target.as_ref().map(|t| t.creation_policy_or_default()),
        Some(CreationPolicy::Owner)
    );
    assert_eq!(spec.data_from.as_ref().map(Vec::len), Some(4));

    let push: PushSecret =
        decode::from_value(load("azkv-pushsecret-certificate-pem.yaml").remove(1)).expect("ps");
    assert!(
        matches!(&push.spec.selector, PushSecretSelector::Secret(s) if s.name.as_deref() == Some("source-certificate"))
    );
    let template = push
        .spec
        .template
        .as_ref()
        .and_then(|t| t.data.as_ref())
        .expect("template data");
    assert!(template["cert.p12"].contains("fullPemToPkcs12"));
}

#[test]
fn one_of_choices_load_as_enums() {
    let fixture = documents(&Path::new(FIXTURES_DIR).join("every-field.yaml"));
    let es: ExternalSecret = decode::from_value(fixture[3].clone()).expect("es");
    let data = es.spec.data.as_ref().expect("data");
    assert!(
        matches!(&data[0].source_ref, Some(StoreSourceRef::StoreRef(r)) if r.name.as_deref() == Some("other-store"))
    );
    assert!(
        matches!(&data[1].source_ref, Some(StoreSourceRef::GeneratorRef(g)) if g.kind == "Password")
    );
    let rewrites = es.spec.data_from.as_ref().expect("dataFrom")[0]
        .rewrite
        .as_ref()
        .expect("rewrite");
    assert!(matches!(rewrites[0], ExternalSecretRewrite::Regexp(_)));
    assert!(matches!(rewrites[1], ExternalSecretRewrite::Transform(_)));
    assert!(matches!(rewrites[2], ExternalSecretRewrite::Merge(_)));
}

#[test]
fn a_store_naming_another_provider_loads_with_that_provider_kept_verbatim() {
    let fixture = documents(&Path::new(FIXTURES_DIR).join("every-field.yaml"));
    let store: SecretStore = decode::from_value(fixture[2].clone()).expect("aws store loads");
    assert!(store.spec.provider.azurekv.is_none());
    assert_eq!(
        store
            .spec
            .provider
            .unsupported_providers()
            .collect::<Vec<_>>(),
        ["aws"]
    );
    assert_eq!(store.spec.provider.other["aws"]["region"], "eu-central-1");
}

#[test]
fn store_refresh_interval_accepts_seconds_and_go_durations() {
    let fixture = documents(&Path::new(FIXTURES_DIR).join("every-field.yaml"));
    let seconds: ClusterSecretStore = decode::from_value(fixture[0].clone()).expect("css");
    assert_eq!(
        seconds.spec.refresh_interval(),
        Some(Ok(std::time::Duration::from_secs(300)))
    );
    let duration: SecretStore = decode::from_value(fixture[1].clone()).expect("ss");
    assert_eq!(
        duration.spec.refresh_interval(),
        Some(Ok(std::time::Duration::from_secs(300)))
    );
}

/// Builds a SecretStore manifest around an `azurekv` block.
fn store_with_azurekv(azurekv: Value) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": {"name": "broken", "namespace": "default"},
        "spec": {"provider": {"azurekv": azurekv}}
    })
}

fn rejection<T: serde::de::DeserializeOwned + std::fmt::Debug>(document: Value) -> DecodeError {
    decode::from_value::<T>(document).expect_err("the manifest must be rejected")
}

#[test]
fn an_unknown_auth_type_is_rejected_naming_the_field() {
    let error = rejection::<SecretStore>(store_with_azurekv(
        json!({"vaultUrl": "https://v.vault.azure.net", "authType": "Password"}),
    ));
    assert_eq!(error.path, "spec.provider.azurekv.authType");
    assert!(
        error.message.contains("unknown variant `Password`"),
        "{error}"
    );
    assert!(error.message.contains("WorkloadIdentity"), "{error}");
}

#[test]
fn a_missing_vault_url_is_rejected_naming_the_field() {
    let error =
        rejection::<SecretStore>(store_with_azurekv(json!({"authType": "ManagedIdentity"})));
    assert_eq!(error.path, "spec.provider.azurekv");
    assert!(
        error.message.contains("missing field `vaultUrl`"),
        "{error}"
    );
}

#[test]
fn a_wrongly_typed_field_is_rejected_naming_the_field() {
    let mut es = documents(&Path::new(EXAMPLES_DIR).join("azkv-external-secret.yaml")).remove(0);
    es["spec"]["refreshInterval"] = json!({"hours": 1});
    let error = rejection::<ExternalSecret>(es);
    assert_eq!(error.path, "spec.refreshInterval");
    assert!(error.message.contains("expected a string"), "{error}");

    let mut store = store_with_azurekv(json!({"vaultUrl": "https://v.vault.azure.net"}));
    store["spec"]["refreshInterval"] = json!({"seconds": 5});
    let error = rejection::<SecretStore>(store);
    assert_eq!(error.path, "spec.refreshInterval");

    let error = rejection::<SecretStore>(store_with_azurekv(
        json!({"vaultUrl": "https://v", "useAzureSDK": "yes"}),
    ));
    assert_eq!(error.path, "spec.provider.azurekv.useAzureSDK");
}

#[test]
fn errors_deep_in_a_list_name_the_index() {
    let mut es = documents(&Path::new(EXAMPLES_DIR).join("azkv-external-secret.yaml")).remove(0);
    es["spec"]["data"][2]["remoteRef"]["decodingStrategy"] = json!("Rot13");
    let error = rejection::<ExternalSecret>(es);
    assert_eq!(error.path, "spec.data[2].remoteRef.decodingStrategy");
}

#[test]
fn yaml_input_errors_name_the_field_too() {
    let yaml = "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: x}\nspec:\n  provider:\n    azurekv:\n      vaultUrl: https://v\n      environmentType: MarsCloud\n";
    let error = decode::from_yaml_str::<SecretStore>(yaml).expect_err("rejected");
    assert_eq!(error.path, "spec.provider.azurekv.environmentType");
    assert!(
        error
            .to_string()
            .starts_with("spec.provider.azurekv.environmentType: unknown variant `MarsCloud`"),
        "{error}"
    );
}
