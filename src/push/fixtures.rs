//! Test builders: PushSecret specs, source data, remote values, keys and certificates, and the
//! seed's examples (`examples/azkv-pushsecret-*.yaml`).

use std::collections::BTreeMap;

use akvsync_actors::remote::{ObjectKind, RemoteKey, RemoteValue, SecretBytes};
use akvsync_crds::PushSecretSpec;
use akvsync_template::crypto::encode_pem;
use base64::Engine as _;

use super::metadata::{MANAGED_BY_TAG, MANAGED_BY_VALUE};
use super::{PushItem, WriteDecision, plan_push};

/// A spec from the JSON of its `data` (and other fields), with one store and a named Secret.
pub fn spec(extra: serde_json::Value) -> PushSecretSpec {
    let mut json = serde_json::json!({
        "secretStoreRefs": [{"name": "azure-store", "kind": "SecretStore"}],
        "selector": {"secret": {"name": "source"}},
    });
    let object = json.as_object_mut().expect("an object");
    for (key, value) in extra.as_object().expect("extra fields are an object") {
        object.insert(key.clone(), value.clone());
    }
    serde_json::from_value(json).expect("a valid PushSecret spec")
}

/// Source data from string pairs.
pub fn source(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.as_bytes().to_vec()))
        .collect()
}

/// Tags from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// `pairs` plus `managed-by: external-secrets`.
pub fn managed_tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut tags = tags(pairs);
    tags.insert(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
    tags
}

/// A remote value as the store's fetch returns it.
pub fn remote_value(value: &[u8], tags: BTreeMap<String, String>) -> RemoteValue {
    RemoteValue {
        value: SecretBytes::new(value),
        tags,
        enabled: true,
        ..RemoteValue::default()
    }
}

/// The single item a spec with one `data` entry plans.
pub fn only_item(spec: &PushSecretSpec, data: &BTreeMap<String, Vec<u8>>) -> PushItem {
    let mut items = plan_push(spec, data).expect("the spec plans");
    assert_eq!(items.len(), 1, "one item expected");
    items.remove(0)
}

/// An item pushing `value` to `remote_key` with user tags.
pub fn item(remote_key: &str, value: &[u8], user_tags: &[(&str, &str)]) -> PushItem {
    let spec = spec(serde_json::json!({"data": [{
        "match": {"secretKey": "value", "remoteRef": {"remoteKey": remote_key}},
        "metadata": {
            "apiVersion": "kubernetes.external-secrets.io/v1alpha1",
            "kind": "PushSecretMetadata",
            "spec": {"tags": tags(user_tags)},
        },
    }]}));
    let mut data = BTreeMap::new();
    data.insert("value".to_owned(), value.to_vec());
    only_item(&spec, &data)
}

/// The request of a decision that must be a write.
pub fn expect_write(decision: WriteDecision) -> akvsync_actors::remote::PushRequest {
    match decision {
        WriteDecision::Write(request) => request,
        WriteDecision::Unchanged => panic!("expected a write, got Unchanged"),
    }
}

/// What the vault holds after `request` was written (value as `get` returns it: the public
/// JWK for keys, the leaf DER for certificates).
pub fn stored(request: &akvsync_actors::remote::PushRequest, returned: &[u8]) -> RemoteValue {
    RemoteValue {
        value: SecretBytes::new(returned),
        content_type: request.content_type.clone(),
        tags: request.tags.clone(),
        expires: request.expires,
        enabled: true,
        ..RemoteValue::default()
    }
}

/// The remote key of a certificate or key item.
pub fn remote(kind: ObjectKind, name: &str) -> RemoteKey {
    RemoteKey::new(kind, name, None)
}

/// The YAML documents of a seed example.
pub fn example_documents(text: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize as _;
    serde_yaml::Deserializer::from_str(text)
        .map(|document| serde_yaml::Value::deserialize(document).expect("valid YAML"))
        .collect()
}

/// The source Secret's data and the PushSecret's spec of a seed example.
pub fn example(text: &str) -> (BTreeMap<String, Vec<u8>>, PushSecretSpec) {
    let documents = example_documents(text);
    let kind = |document: &serde_yaml::Value| document["kind"].as_str().map(str::to_owned);
    let secret = documents
        .iter()
        .find(|d| kind(d).as_deref() == Some("Secret"))
        .expect("the example has a Secret");
    let push = documents
        .iter()
        .find(|d| kind(d).as_deref() == Some("PushSecret"))
        .expect("the example has a PushSecret");
    (secret_data(secret), spec_of(push))
}

/// The spec of a PushSecret document.
pub fn spec_of(document: &serde_yaml::Value) -> PushSecretSpec {
    // Through JSON: serde_yaml reads enums only from YAML tags, the CRD's are externally tagged maps.
    let json = serde_json::to_value(&document["spec"]).expect("YAML is JSON-compatible");
    serde_json::from_value(json).expect("a valid PushSecret spec")
}

/// A Secret document's `data` (base64) and `stringData`.
pub fn secret_data(document: &serde_yaml::Value) -> BTreeMap<String, Vec<u8>> {
    let mut data = BTreeMap::new();
    if let Some(map) = document["data"].as_mapping() {
        for (key, value) in map {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().expect("base64 text"))
                .expect("valid base64");
            data.insert(key.as_str().expect("a key").to_owned(), decoded);
        }
    }
    if let Some(map) = document["stringData"].as_mapping() {
        for (key, value) in map {
            let text = value.as_str().expect("text").as_bytes().to_vec();
            data.insert(key.as_str().expect("a key").to_owned(), text);
        }
    }
    data
}

pub const SECRET_EXAMPLE: &str = include_str!("../../examples/azkv-pushsecret-secret.yaml");
pub const KEY_EXAMPLE: &str = include_str!("../../examples/azkv-pushsecret-key.yaml");
pub const P12_EXAMPLE: &str = include_str!("../../examples/azkv-pushsecret-certificate-p12.yaml");
pub const PEM_EXAMPLE: &str = include_str!("../../examples/azkv-pushsecret-certificate-pem.yaml");
pub const CERT_MANAGER_EXAMPLE: &str =
    include_str!("../../examples/azkv-pushsecret-certificate-cert-manager.yaml");

/// The PKCS#8 PEM key of the key example (P-256).
pub fn example_ec_key() -> Vec<u8> {
    example(KEY_EXAMPLE).0.remove("key.pem").expect("key.pem")
}

/// The PKCS#8 PEM RSA key and certificate of the PEM example.
pub fn example_rsa_key_and_cert() -> (Vec<u8>, Vec<u8>) {
    let mut data = example(PEM_EXAMPLE).0;
    (
        data.remove("tls.key").expect("tls.key"),
        data.remove("tls.crt").expect("tls.crt"),
    )
}

/// The inner key of a PKCS#8 PEM: PKCS#1 for RSA, SEC1 for EC, re-armoured with `label`.
pub fn inner_key_pem(pkcs8_pem: &[u8], label: &str) -> Vec<u8> {
    let block = akvsync_template::crypto::parse_pem_blocks(pkcs8_pem)
        .into_iter()
        .next()
        .expect("a PEM block");
    let info = pkcs8::PrivateKeyInfoRef::try_from(block.der.as_slice()).expect("PKCS#8");
    encode_pem(label, info.private_key.as_bytes()).into_bytes()
}

/// A CA, and a leaf for `dns` signed by it: (leaf PEM, CA PEM, leaf key PKCS#8 PEM).
pub fn ca_and_leaf(dns: &str, ec: bool) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(vec![]).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("a CA");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = if ec {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("an EC key")
    } else {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("an RSA key")
    };
    let leaf = rcgen::CertificateParams::new(vec![dns.into()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("a leaf");
    (leaf.pem(), ca.pem(), leaf_key.serialize_pem())
}

/// The DER of the first certificate of a PEM.
pub fn first_cert_der(pem: &[u8]) -> Vec<u8> {
    akvsync_template::crypto::parse_pem_blocks(pem)
        .into_iter()
        .find(|block| block.label == "CERTIFICATE")
        .expect("a certificate")
        .der
}
