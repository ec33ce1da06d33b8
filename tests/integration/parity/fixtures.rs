//! ESO's test constants, its message wrappings, the generated keys and certificates that stand
//! in for its base64 fixtures, and the builders that turn a case into manifests.

use akvsync_emulators::azure::pkcs::{self, KeyAndChain};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::Value;

use super::model::*;

// ESO's test constants (keyvault_test.go), verbatim.
pub(crate) const JWK_PUB_RSA: &str = r#"{"kid":"ex","kty":"RSA","key_ops":["sign","verify","wrapKey","unwrapKey","encrypt","decrypt"],"n":"p2VQo8qCfWAZmdWBVaYuYb-a-tWWm78K6Sr9poCvNcmv8rUPSLACxitQWR8gZaSH1DklVkqz-Ed8Cdlf8lkDg4Ex5tkB64jRdC1Uvn4CDpOH6cp-N2s8hTFLqy9_YaDmyQS7HiqthOi9oVjil1VMeWfaAbClGtFt6UnKD0Vb_DvLoWYQSqlhgBArFJi966b4E1pOq5Ad02K8pHBDThlIIx7unibLehhDU6q3DCwNH_OOLx6bgNtmvGYJDd1cywpkLQ3YzNCUPWnfMBJRP3iQP_WI21uP6cvo0DqBPBM4wvVzHbCT0vnIflwkbgEWkq1FprqAitZlop9KjLqzjp9vyQ","e":"AQAB"}"#;
pub(crate) const JWK_PUB_EC: &str = r#"{"kid":"https://example.vault.azure.net/keys/ec-p-521/e3d0e9c179b54988860c69c6ae172c65","kty":"EC","key_ops":["sign","verify"],"crv":"P-521","x":"AedOAtb7H7Oz1C_cPKI_R4CN_eai5nteY6KFW07FOoaqgQfVCSkQDK22fCOiMT_28c8LZYJRsiIFz_IIbQUW7bXj","y":"AOnchHnmBphIWXvanmMAmcCDkaED6ycW8GsAl9fQ43BMVZTqcTkJYn6vGnhn7MObizmkNSmgZYTwG-vZkIg03HHs"}"#;
pub(crate) const JSON_TEST_STRING: &str = r#"{"Name": "External", "LastName": "Secret", "Address": { "Street": "Myroad st.", "CP": "J4K4T4" } }"#;
pub(crate) const JSON_SINGLE_TEST_STRING: &str = r#"{"Name": "External", "LastName": "Secret" }"#;
pub(crate) const JSON_TAG_TEST_STRING: &str = r#"{"tagname":"tagvalue","tagname2":"tagvalue2"}"#;
pub(crate) const SECRET_STRING: &str = "changedvalue";
pub(crate) const SECRET_CERTIFICATE_NAME: &str = "certname";
pub(crate) const SECRET_KEY: &str = "fakeSecretKey";
pub(crate) const ERR_NOT_MANAGED: &str = "not managed by external-secrets";
pub(crate) const CONTENT_TYPE_JSON: &str = "application/json";

/// ESO's Ready message for an ExternalSecret whose provider data failed (README: akvsync appends
/// the cause after ESO's fixed text).
pub(crate) fn data_error(index: usize, key: &str, cause: &str) -> String {
    format!(
        "could not get secret data from provider: error processing spec.data[{index}] (key: {key}), err: {cause}"
    )
}

pub(crate) fn extract_error(cause: &str) -> String {
    format!(
        "could not get secret data from provider: error processing spec.dataFrom[0].extract, err: {cause}"
    )
}

/// ESO's PushSecret Ready message when writing item `fakeSecretKey` to store `vault` failed.
pub(crate) fn push_error(cause: &str) -> String {
    format!(
        "set secret failed: could not write remote ref {SECRET_KEY} to target secretstore vault: {cause}"
    )
}

pub(crate) fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn tag_map() -> Vec<(String, String)> {
    tags(&[("tagname", "tagvalue"), ("tagname2", "tagvalue2")])
}

pub(crate) fn managed() -> Vec<(String, String)> {
    tags(&[("managed-by", "external-secrets")])
}

pub(crate) fn external_secret(name: &str, store: &str, body: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: \"@ns@\"\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    name: {store}\n    kind: SecretStore\n  target:\n    name: {name}\n{body}"
    )
}

/// A GetSecret case: `data[0]` (`secretKey: out`) with `remote_ref` (YAML flow mapping body), read
/// through the legacy store (`legacy`) and the `useAzureSDK: true` store (`sdk`).
pub(crate) fn get_secret(
    eso: &'static str,
    objects: Vec<Object>,
    remote_ref: &str,
    legacy: Expect,
    sdk: Expect,
) -> Case {
    let body = format!("  data:\n    - secretKey: out\n      remoteRef: {{{remote_ref}}}\n");
    let mut case = Case::new(eso, objects);
    case.manifests = vec![
        external_secret("legacy", "vault", &body),
        external_secret("sdk", "sdk", &body),
    ];
    case.checks = vec![
        Check::ExternalSecret("legacy", legacy),
        Check::ExternalSecret("sdk", sdk),
    ];
    case
}

/// A GetSecretMap case: `dataFrom[0].extract` with `remote_ref`, through both stores.
pub(crate) fn get_secret_map(
    eso: &'static str,
    objects: Vec<Object>,
    remote_ref: &str,
    legacy: Expect,
    sdk: Expect,
) -> Case {
    let body = format!("  dataFrom:\n    - extract: {{{remote_ref}}}\n");
    let mut case = Case::new(eso, objects);
    case.manifests = vec![
        external_secret("legacy", "vault", &body),
        external_secret("sdk", "sdk", &body),
    ];
    case.checks = vec![
        Check::ExternalSecret("legacy", legacy),
        Check::ExternalSecret("sdk", sdk),
    ];
    case
}

/// A GetAllSecrets case: `dataFrom[0].find` with `find` (flow mapping body), both stores.
pub(crate) fn get_all_secrets(
    eso: &'static str,
    objects: Vec<Object>,
    find: &str,
    expect: Expect,
) -> Case {
    let body = format!("  dataFrom:\n    - find: {{{find}}}\n");
    let mut case = Case::new(eso, objects);
    case.manifests = vec![
        external_secret("legacy", "vault", &body),
        external_secret("sdk", "sdk", &body),
    ];
    case.checks = vec![
        Check::ExternalSecret("legacy", expect.clone()),
        Check::ExternalSecret("sdk", expect),
    ];
    case
}

/// One PushSecret `data` entry pushing `secret_key` (all keys when `None`) to `remote_key`, with
/// PushSecretMetadata `spec` (a flow mapping body) when given.
pub(crate) fn entry(secret_key: Option<&str>, remote_key: &str, metadata: Option<&str>) -> String {
    let mut out = String::from("    - match:\n");
    if let Some(key) = secret_key {
        out.push_str(&format!("        secretKey: {key}\n"));
    }
    out.push_str(&format!(
        "        remoteRef:\n          remoteKey: {remote_key}\n"
    ));
    if let Some(spec) = metadata {
        out.push_str(&format!(
            "      metadata:\n        apiVersion: kubernetes.external-secrets.io/v1alpha1\n        kind: PushSecretMetadata\n        spec: {{{spec}}}\n"
        ));
    }
    out
}

pub(crate) fn push_secret(extra: &str, entries: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: push\n  namespace: \"@ns@\"\nspec:\n  refreshInterval: 1h\n  secretStoreRefs:\n    - name: vault\n      kind: SecretStore\n  selector:\n    secret:\n      name: source\n{extra}  data:\n{entries}"
    )
}

/// A PushSecret case: source `fakeSecretKey` = `value`, one entry to `remote_key`.
pub(crate) fn push(
    eso: &'static str,
    objects: Vec<Object>,
    value: &[u8],
    remote_key: &str,
    metadata: Option<&str>,
    checks: Vec<Check>,
) -> Case {
    let mut case = Case::new(eso, objects);
    case.source = vec![(SECRET_KEY.into(), value.to_vec())];
    case.manifests = vec![push_secret(
        "",
        &entry(Some(SECRET_KEY), remote_key, metadata),
    )];
    case.checks = checks;
    case
}

/// A SecretExists case, through `updatePolicy: IfNotExists`.
pub(crate) fn exists(
    eso: &'static str,
    objects: Vec<Object>,
    remote_key: &str,
    checks: Vec<Check>,
) -> Case {
    let mut case = Case::new(eso, objects);
    case.source = vec![(SECRET_KEY.into(), b"pushed".to_vec())];
    case.manifests = vec![push_secret(
        "  updatePolicy: IfNotExists\n",
        &entry(Some(SECRET_KEY), remote_key, None),
    )];
    case.checks = checks;
    case
}

/// A DeleteSecret case: a PushSecret (`deletionPolicy: Delete`) pushes `value` to `remote_key`;
/// then `mutation` changes the vault and the entry is replaced by one to `secret/keep`, so ESO's
/// DeleteSecretFromProviders deletes `remote_key`.
pub(crate) fn delete(
    eso: &'static str,
    value: &[u8],
    remote_key: &str,
    mutation: Mutation,
    checks: Vec<Check>,
    key_pem: &[u8],
) -> Case {
    let mut case = Case::new(eso, vec![]);
    // The entry that stays is of another kind, so a restricted grant on the deleted object's
    // kind does not fail it first.
    let (keep_remote, keep_value) = if remote_key.contains('/') {
        ("keep", b"kept".to_vec())
    } else {
        ("key/keep", key_pem.to_vec())
    };
    case.source = vec![
        (SECRET_KEY.into(), value.to_vec()),
        ("keep".into(), keep_value),
    ];
    case.manifests = vec![push_secret(
        "  deletionPolicy: Delete\n",
        &entry(Some(SECRET_KEY), remote_key, None),
    )];
    case.checks = vec![push_ok()];
    case.then = Some(Then {
        mutation,
        manifests: vec![push_secret(
            "  deletionPolicy: Delete\n",
            &entry(Some("keep"), keep_remote, None),
        )],
        checks,
    });
    case
}

/// Generated material standing in for ESO's base64 fixtures.
pub(crate) struct Material {
    /// A P-256 key and self-signed certificate.
    pub(crate) certificate: KeyAndChain,
    /// A leaf signed by a CA, chain leaf first.
    pub(crate) chain: KeyAndChain,
    /// An RSA key and self-signed certificate.
    pub(crate) rsa_certificate: KeyAndChain,
    /// `-----BEGIN PRIVATE KEY-----` (RSA, PKCS#8): ESO's `goodKey`.
    pub(crate) good_key: Vec<u8>,
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1).
    pub(crate) rsa_key: Vec<u8>,
    /// `-----BEGIN EC PRIVATE KEY-----` (SEC1).
    pub(crate) ec_key: Vec<u8>,
}

pub(crate) fn pem_block(label: &str, der: &[u8]) -> Vec<u8> {
    ::pem::encode(&::pem::Pem::new(label, der.to_vec())).into_bytes()
}

/// The inner key of a PKCS#8 `PrivateKeyInfo` (PKCS#1 for RSA).
pub(crate) fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der).expect("PKCS#8");
    info.private_key.as_bytes().to_vec()
}

/// A password-less PKCS#12 with the legacy encryption (PBE-SHA1-3DES, HMAC-SHA1 MAC) of
/// `openssl pkcs12 -legacy`, as ESO's `p12CertChainLegacy`.
pub(crate) fn legacy_pkcs12(material: &KeyAndChain) -> Vec<u8> {
    use p12_keystore::{
        Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
        PrivateKeyChain,
    };
    let certificates: Vec<Certificate> = material
        .chain
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    let mut store = KeyStore::new();
    store.add_entry(
        "1",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            vec![1u8],
            PrivateKey::from_der(&material.key_pkcs8).unwrap(),
            certificates,
        )),
    );
    store
        .writer("")
        .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
        .mac_algorithm(MacAlgorithm::HmacSha1)
        .write()
        .unwrap()
}

pub(crate) fn material() -> Material {
    let certificate = pkcs::self_signed(SECRET_CERTIFICATE_NAME, false).unwrap();
    let rsa_certificate = pkcs::self_signed(SECRET_CERTIFICATE_NAME, true).unwrap();

    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "parity CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![SECRET_CERTIFICATE_NAME.into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let chain = KeyAndChain {
        key_pkcs8: leaf_key.serialize_der(),
        chain: vec![leaf.der().to_vec(), ca.der().to_vec()],
    };

    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap_or_else(|_| {
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap()
    });
    let rsa_pkcs8 = rsa.serialize_der();
    let ec = rcgen::KeyPair::generate().unwrap();
    let ec_secret = p256::SecretKey::from_pkcs8_der(&ec.serialize_der()).unwrap();
    let ec_sec1 = ec_secret.to_sec1_der().unwrap();
    Material {
        certificate,
        chain,
        rsa_certificate,
        good_key: pem_block("PRIVATE KEY", &rsa_pkcs8),
        rsa_key: pem_block("RSA PRIVATE KEY", &pkcs8_inner(&rsa_pkcs8)),
        ec_key: pem_block("EC PRIVATE KEY", &ec_sec1),
    }
}

/// ESO's `jwkPubRSA` / `jwkPubEC` as the vault returns them, in ESO's field order: the legacy
/// SDK's struct order, or sorted for the new SDK (README: `useAzureSDK` selects the order).
pub(crate) fn rsa_jwk(sorted: bool) -> String {
    let jwk: Value = serde_json::from_str(JWK_PUB_RSA).unwrap();
    let ops = jwk["key_ops"].to_string();
    let (n, e) = (&jwk["n"], &jwk["e"]);
    if sorted {
        format!(r#"{{"e":{e},"key_ops":{ops},"kid":"@kid@","kty":"RSA","n":{n}}}"#)
    } else {
        format!(r#"{{"kid":"@kid@","kty":"RSA","key_ops":{ops},"n":{n},"e":{e}}}"#)
    }
}

pub(crate) fn ec_jwk(sorted: bool) -> String {
    let jwk: Value = serde_json::from_str(JWK_PUB_EC).unwrap();
    let ops = jwk["key_ops"].to_string();
    let (x, y) = (&jwk["x"], &jwk["y"]);
    if sorted {
        format!(r#"{{"crv":"P-521","key_ops":{ops},"kid":"@kid@","kty":"EC","x":{x},"y":{y}}}"#)
    } else {
        format!(r#"{{"kid":"@kid@","kty":"EC","key_ops":{ops},"crv":"P-521","x":{x},"y":{y}}}"#)
    }
}

pub(crate) fn rsa_key(tags: Vec<(String, String)>) -> Object {
    Object::ImportedKey {
        name: "keyname",
        jwk: JWK_PUB_RSA,
        tags,
    }
}

pub(crate) fn certificate(material: &Material, tags: Vec<(String, String)>) -> Object {
    Object::Certificate {
        name: SECRET_CERTIFICATE_NAME,
        material: material.certificate.clone(),
        tags,
    }
}
