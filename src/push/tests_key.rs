use akvsync_actors::remote::{ObjectKind, PushRequest};
use azure_security_keyvault_keys::models::JsonWebKey;

use super::fixtures::{
    KEY_EXAMPLE, example, example_ec_key, example_rsa_key_and_cert, expect_write, inner_key_pem,
    item, managed_tags, only_item, remote, stored,
};
use super::{PushError, WriteDecision, prepare_write};
use crate::azure::{JwkFieldOrder, jwk_json};

/// What `get` returns after `request` was imported: the public JWK, as the Azure adapter
/// renders it.
fn vault_copy(request: &PushRequest, order: JwkFieldOrder) -> akvsync_actors::remote::RemoteValue {
    let mut key: JsonWebKey =
        serde_json::from_slice(request.value.expose()).expect("the adapter parses the import JWK");
    key.kid = Some(format!(
        "https://v.vault.azure.net/keys/{}/1",
        request.key.name
    ));
    stored(request, jwk_json(&key, order).as_bytes())
}

fn json(request: &PushRequest) -> serde_json::Value {
    serde_json::from_slice(request.value.expose()).unwrap()
}

#[test]
fn the_seed_key_example_becomes_an_ec_import_jwk() {
    let (data, spec) = example(KEY_EXAMPLE);
    let item = only_item(&spec, &data);
    let request = expect_write(prepare_write(&item, None).unwrap());
    assert_eq!(request.key, remote(ObjectKind::Key, "my-azkv-key-name"));
    assert_eq!(request.tags, managed_tags(&[]));
    assert_eq!(request.content_type, None);
    let jwk = json(&request);
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    for field in ["x", "y", "d"] {
        assert!(
            jwk[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}"
        );
    }
}

#[test]
fn an_identical_ec_key_is_not_re_imported() {
    let item = item("key/ec", &example_ec_key(), &[("env", "prod")]);
    let request = expect_write(prepare_write(&item, None).unwrap());
    for order in [JwkFieldOrder::Legacy, JwkFieldOrder::Sorted] {
        let existing = vault_copy(&request, order);
        assert_eq!(
            prepare_write(&item, Some(&existing)).unwrap(),
            WriteDecision::Unchanged
        );
    }
}

#[test]
fn a_tag_change_or_another_key_re_imports() {
    let item = item("key/ec", &example_ec_key(), &[("env", "prod")]);
    let request = expect_write(prepare_write(&item, None).unwrap());
    let mut retagged = vault_copy(&request, JwkFieldOrder::Legacy);
    retagged.tags = managed_tags(&[("env", "dev")]);
    assert_eq!(
        expect_write(prepare_write(&item, Some(&retagged)).unwrap()),
        request
    );

    let (_, _, other_key) = super::fixtures::ca_and_leaf("other.local", true);
    let other = super::fixtures::item("key/ec", other_key.as_bytes(), &[("env", "prod")]);
    let other_request = expect_write(prepare_write(&other, None).unwrap());
    let existing = vault_copy(&other_request, JwkFieldOrder::Legacy);
    assert_eq!(
        expect_write(prepare_write(&item, Some(&existing)).unwrap()),
        request
    );
}

#[test]
fn pkcs8_pkcs1_and_sec1_keys_are_accepted_and_the_same_key_compares_equal() {
    let (rsa_pkcs8, _) = example_rsa_key_and_cert();
    let rsa_pkcs1 = inner_key_pem(&rsa_pkcs8, "RSA PRIVATE KEY");
    let ec_pkcs8 = example_ec_key();
    let ec_sec1 = inner_key_pem(&ec_pkcs8, "EC PRIVATE KEY");
    for (pkcs8, other, kty) in [(rsa_pkcs8, rsa_pkcs1, "RSA"), (ec_pkcs8, ec_sec1, "EC")] {
        let first = expect_write(prepare_write(&item("key/k", &pkcs8, &[]), None).unwrap());
        let second_item = item("key/k", &other, &[]);
        let second = expect_write(prepare_write(&second_item, None).unwrap());
        assert_eq!(json(&first)["kty"], kty);
        assert_eq!(first.value, second.value, "{kty}: same key, same JWK");
        let existing = vault_copy(&first, JwkFieldOrder::Legacy);
        assert_eq!(
            prepare_write(&second_item, Some(&existing)).unwrap(),
            WriteDecision::Unchanged
        );
    }
}

#[test]
fn an_hsm_key_with_the_same_public_parts_is_unchanged() {
    let (rsa_pkcs8, _) = example_rsa_key_and_cert();
    let item = item("key/k", &rsa_pkcs8, &[]);
    let request = expect_write(prepare_write(&item, None).unwrap());
    let import = json(&request);
    let padded_n = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut n = engine.decode(import["n"].as_str().unwrap()).unwrap();
        n.insert(0, 0);
        engine.encode(n)
    };
    let returned = serde_json::json!({"kty": "RSA-HSM", "n": padded_n, "e": import["e"]});
    let existing = stored(&request, returned.to_string().as_bytes());
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );
}

#[test]
fn other_pem_types_are_esos_unsupported_key_type_error() {
    let (_, cert) = example_rsa_key_and_cert();
    let error = prepare_write(&item("key/k", &cert, &[]), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not load private key k: key type CERTIFICATE is not supported"
    );
    assert_eq!(error.category(), "invalid_value");
}

#[test]
fn a_non_pem_value_is_refused_as_a_symmetric_key_needing_managed_hsm() {
    let error = prepare_write(&item("key/k", b"raw-symmetric-bytes", &[]), None).unwrap_err();
    assert_eq!(error, PushError::SymmetricKey { name: "k".into() });
    assert!(error.to_string().contains("Managed HSM"));
    assert!(!error.to_string().contains("raw-symmetric-bytes"));
}

#[test]
fn a_corrupt_private_key_is_an_error_without_its_material() {
    let pem = akvsync_template::crypto::encode_pem("PRIVATE KEY", b"not a key");
    let error = prepare_write(&item("key/k", pem.as_bytes(), &[]), None).unwrap_err();
    assert!(
        matches!(error, PushError::ParsePrivateKey { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("could not load private key k: ")
    );
}

#[test]
fn a_key_is_parsed_before_the_ownership_check() {
    let error = prepare_write(
        &item("key/k", b"raw", &[]),
        Some(&super::fixtures::remote_value(
            b"{}",
            super::fixtures::tags(&[]),
        )),
    )
    .unwrap_err();
    assert_eq!(error, PushError::SymmetricKey { name: "k".into() });
}
