use std::collections::BTreeMap;

use akvsync_actors::remote::{ObjectKind, PushRequest};
use akvsync_template::crypto::{
    Certificate, PrivateKey, read_pkcs12, write_pkcs12, write_truststore,
};

use super::fixtures::{
    CERT_MANAGER_EXAMPLE, P12_EXAMPLE, PEM_EXAMPLE, ca_and_leaf, example, example_documents,
    example_rsa_key_and_cert, expect_write, first_cert_der, inner_key_pem, item, managed_tags,
    only_item, remote, spec_of, stored,
};
use super::{PushError, WriteDecision, prepare_write};

/// The leaf (first) certificate and whether a key is inside a password-less PFX.
fn open_pfx(request: &PushRequest) -> (Vec<u8>, usize, bool) {
    let contents = read_pkcs12(request.value.expose(), "").expect("a password-less PFX");
    (
        contents.certs[0].der().to_vec(),
        contents.certs.len(),
        contents.key.is_some(),
    )
}

#[test]
fn the_seed_p12_example_is_imported_as_it_is() {
    let (data, spec) = example(P12_EXAMPLE);
    let item = only_item(&spec, &data);
    let request = expect_write(prepare_write(&item, None).unwrap());
    assert_eq!(
        request.key,
        remote(ObjectKind::Certificate, "my-azkv-cert-name")
    );
    assert_eq!(request.value.expose(), data["cert.p12"].as_slice());
    assert_eq!(request.tags, managed_tags(&[]));
    let (leaf, _, has_key) = open_pfx(&request);
    assert!(has_key);

    let existing = stored(&request, &leaf);
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );
}

#[test]
fn the_seed_pem_example_is_converted_by_its_template_into_a_pfx() {
    let (data, spec) = example(PEM_EXAMPLE);
    let item = only_item(&spec, &data);
    assert_eq!(item.source.match_.secret_key.as_deref(), Some("cert.p12"));
    let request = expect_write(prepare_write(&item, None).unwrap());
    let (leaf, _, has_key) = open_pfx(&request);
    assert!(has_key);
    assert_eq!(leaf, first_cert_der(&data["tls.crt"]));
    assert_eq!(
        prepare_write(&item, Some(&stored(&request, &leaf))).unwrap(),
        WriteDecision::Unchanged
    );
}

/// A Secret as cert-manager writes it with `privateKey.encoding: PKCS8`.
fn cert_manager_secret(ec: bool) -> BTreeMap<String, Vec<u8>> {
    let (leaf, ca, key) = ca_and_leaf("dummy.local", ec);
    let mut data = BTreeMap::new();
    data.insert("tls.crt".to_owned(), format!("{leaf}{ca}").into_bytes());
    data.insert("tls.key".to_owned(), key.into_bytes());
    data.insert("ca.crt".to_owned(), ca.into_bytes());
    data
}

#[test]
fn the_cert_manager_example_pushes_the_leaf_with_its_chain_and_key() {
    let push = example_documents(CERT_MANAGER_EXAMPLE)
        .into_iter()
        .find(|d| d["kind"].as_str() == Some("PushSecret"))
        .expect("a PushSecret");
    let spec = spec_of(&push);
    for ec in [false, true] {
        let data = cert_manager_secret(ec);
        let item = only_item(&spec, &data);
        assert_eq!(item.remote.name, "my-azkv-cert-manager-cert");
        let request = expect_write(prepare_write(&item, None).unwrap());
        let (leaf, count, has_key) = open_pfx(&request);
        assert!(has_key);
        assert_eq!(count, 2, "leaf and CA");
        assert_eq!(leaf, first_cert_der(&data["tls.crt"]));
    }
}

#[test]
fn a_pem_certificate_with_a_pkcs8_key_is_converted_to_a_pfx() {
    let data = cert_manager_secret(true);
    let pem = [data["tls.key"].as_slice(), data["tls.crt"].as_slice()].concat();
    let request =
        expect_write(prepare_write(&item("cert/web", &pem, &[("a", "b")]), None).unwrap());
    let (leaf, count, has_key) = open_pfx(&request);
    assert!(has_key, "the key travels in the PFX");
    assert_eq!(count, 2);
    assert_eq!(leaf, first_cert_der(&data["tls.crt"]));
    assert_eq!(request.tags, managed_tags(&[("a", "b")]));
}

#[test]
fn a_pkcs1_key_is_refused_with_the_seeds_guidance() {
    let (key, cert) = example_rsa_key_and_cert();
    let pkcs1 = inner_key_pem(&key, "RSA PRIVATE KEY");
    let pem = [cert.as_slice(), pkcs1.as_slice()].concat();
    let error = prepare_write(&item("cert/web", &pem, &[]), None).unwrap_err();
    assert_eq!(
        error,
        PushError::NotPkcs8Key {
            name: "web".into(),
            label: "RSA PRIVATE KEY".into()
        }
    );
    let message = error.to_string();
    assert!(message.contains("use PKCS#8"), "{message}");
    assert!(message.contains("privateKey.encoding: PKCS8"), "{message}");
}

#[test]
fn the_template_route_accepts_a_pkcs1_key_because_it_writes_pkcs8_into_the_pfx() {
    let (key, cert) = example_rsa_key_and_cert();
    let (mut data, spec) = example(PEM_EXAMPLE);
    data.insert("tls.key".into(), inner_key_pem(&key, "RSA PRIVATE KEY"));
    data.insert("tls.crt".into(), cert);
    let item = only_item(&spec, &data);
    let request = expect_write(prepare_write(&item, None).unwrap());
    assert!(open_pfx(&request).2);
}

#[test]
fn certificates_without_a_private_key_are_refused() {
    let (leaf, ca, _) = ca_and_leaf("web.local", true);
    let leaf_der = first_cert_der(leaf.as_bytes());
    let truststore = write_truststore(&[Certificate::from_der(&leaf_der).unwrap()], "").unwrap();
    for value in [
        leaf_der.clone(),
        format!("{leaf}{ca}").into_bytes(),
        truststore,
    ] {
        assert_eq!(
            prepare_write(&item("cert/web", &value, &[]), None).unwrap_err(),
            PushError::CertificateWithoutKey { name: "web".into() }
        );
    }
}

#[test]
fn a_value_that_is_no_certificate_is_esos_parse_error() {
    for value in [
        &b"garbage"[..],
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        assert_eq!(
            prepare_write(&item("cert/web", value, &[]), None)
                .unwrap_err()
                .to_string(),
            "value from secret is not a valid certificate: could not parse certificate value as PKCS#12, DER or PEM"
        );
    }
}

#[test]
fn a_password_protected_pfx_is_refused_clearly() {
    let (leaf, _, key) = ca_and_leaf("web.local", true);
    let key = PrivateKey::from_pem(key.as_bytes()).unwrap();
    let leaf = Certificate::from_der(&first_cert_der(leaf.as_bytes())).unwrap();
    let pfx = write_pkcs12(&key, &leaf, &[], "s3cret").unwrap();
    assert_eq!(
        prepare_write(&item("cert/web", &pfx, &[]), None).unwrap_err(),
        PushError::EncryptedPkcs12
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let (leaf, _, _) = ca_and_leaf("web.local", true);
    let (_, _, other_key) = ca_and_leaf("other.local", true);
    let pem = format!("{leaf}{other_key}");
    assert_eq!(
        prepare_write(&item("cert/web", pem.as_bytes(), &[]), None).unwrap_err(),
        PushError::CertificateKeyMismatch { name: "web".into() }
    );
}

#[test]
fn only_the_leaf_and_the_tags_decide_a_re_import() {
    let data = cert_manager_secret(true);
    let with_chain = [data["tls.crt"].as_slice(), data["tls.key"].as_slice()].concat();
    let leaf_only = [
        akvsync_template::crypto::encode_pem("CERTIFICATE", &first_cert_der(&data["tls.crt"]))
            .as_bytes(),
        data["tls.key"].as_slice(),
    ]
    .concat();
    let item_with_chain = item("cert/web", &with_chain, &[]);
    let request = expect_write(prepare_write(&item_with_chain, None).unwrap());
    let existing = stored(&request, &first_cert_der(&data["tls.crt"]));
    // A changed chain with the same leaf is not re-imported (as in ESO).
    assert_eq!(
        prepare_write(&item("cert/web", &leaf_only, &[]), Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );
    let mut retagged = existing.clone();
    retagged.tags = managed_tags(&[("old", "tag")]);
    assert!(matches!(
        prepare_write(&item_with_chain, Some(&retagged)).unwrap(),
        WriteDecision::Write(_)
    ));
    let renewed = cert_manager_secret(true);
    let renewed_pem = [renewed["tls.crt"].as_slice(), renewed["tls.key"].as_slice()].concat();
    assert!(matches!(
        prepare_write(&item("cert/web", &renewed_pem, &[]), Some(&existing)).unwrap(),
        WriteDecision::Write(_)
    ));
}
