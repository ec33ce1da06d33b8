//! The seed page's PKCS#12 → `kubernetes.io/tls` example: a certificate's backing secret
//! (`secret/<cert>`, base64 PFX as Key Vault stores it, or PEM) rendered with ESO's template into
//! `tls.crt` / `tls.key` that parse and belong together (the key signs, the certificate verifies).

use akvsync_template::crypto::{Certificate, PrivateKey, PublicKey, parse_pem_blocks};
use akvsync_template::{Values, render};
use base64::Engine as _;

mod common;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Signs with the key and verifies with the certificate's public key.
fn assert_key_signs_and_cert_verifies(tls_crt: &str, tls_key: &str) {
    let blocks = parse_pem_blocks(tls_crt.as_bytes());
    assert!(!blocks.is_empty() && blocks.iter().all(|b| b.label == "CERTIFICATE"));
    let leaf = Certificate::from_der(&blocks[0].der).unwrap();
    let key = PrivateKey::from_pem(tls_key.as_bytes()).unwrap();
    assert!(tls_key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let message = b"akvsync tls example";
    match (key, PublicKey::from_spki_der(leaf.spki_der()).unwrap()) {
        (PrivateKey::Rsa(k), PublicKey::Rsa(p)) => {
            let sig = k.pkcs1v15_sign::<rsa::sha2::Sha256>(message).unwrap();
            p.pkcs1v15_verify::<rsa::sha2::Sha256>(message, &sig)
                .expect("certificate verifies the key's signature");
        }
        (PrivateKey::P256(k), PublicKey::P256(p)) => {
            use p256::ecdsa::signature::{Signer, Verifier};
            let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign(message);
            p256::ecdsa::VerifyingKey::from(p)
                .verify(message, &sig)
                .expect("certificate verifies the key's signature");
        }
        (k, _) => panic!("key {k:?} does not match the certificate's algorithm"),
    }
}

fn tls_secret(crt_template: &str, key_template: &str, data: &Values) -> (String, String) {
    (
        render(crt_template, data).unwrap(),
        render(key_template, data).unwrap(),
    )
}

#[test]
fn pfx_backing_secret_renders_matching_tls_crt_and_key() {
    for file in [
        "chain-modern-nopass.pfx",
        "chain-rc2-nopass.pfx",
        "ec-nopass.pfx",
    ] {
        let stored = base64::engine::general_purpose::STANDARD.encode(fixture(file));
        let mut data = Values::new();
        data.insert("tls".into(), stored.into_bytes());
        let (crt, key) = tls_secret(
            "{{ .tls | b64dec | pkcs12cert }}",
            "{{ .tls | b64dec | pkcs12key }}",
            &data,
        );
        assert_key_signs_and_cert_verifies(&crt, &key);
    }
}

#[test]
fn password_protected_pfx_uses_the_pass_variants() {
    let stored = base64::engine::general_purpose::STANDARD.encode(fixture("chain-3des-pass.pfx"));
    let data = common::data(&[("tls", &stored), ("pass", "s3cret")]);
    let (crt, key) = tls_secret(
        "{{ .tls | b64dec | pkcs12certPass .pass }}",
        "{{ .tls | b64dec | pkcs12keyPass .pass }}",
        &data,
    );
    assert_key_signs_and_cert_verifies(&crt, &key);
    assert_eq!(
        parse_pem_blocks(crt.as_bytes()).len(),
        3,
        "leaf, intermediate and root"
    );
    let e = common::err("{{ .tls | b64dec | pkcs12key }}", &[("tls", &stored)]);
    assert!(
        e.contains("error calling pkcs12key: unable to decode pkcs12"),
        "{e}"
    );
}

#[test]
fn pem_backing_secret_renders_matching_tls_crt_and_key() {
    // application/x-pem-file: key and chain in one PEM document.
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    let pem = format!(
        "{}{}{}",
        read("leaf.key"),
        read("leaf.crt"),
        read("cas.pem")
    );
    let data = common::data(&[("tls", &pem)]);
    let (crt, key) = tls_secret(
        r#"{{ .tls | filterPEM "CERTIFICATE" }}"#,
        r#"{{ .tls | filterPEM "PRIVATE KEY" }}"#,
        &data,
    );
    assert_key_signs_and_cert_verifies(&crt, &key);
    let leaf_only = render(r#"{{ .tls | filterCertChain "leaf" }}"#, &data).unwrap();
    assert_key_signs_and_cert_verifies(&leaf_only, &key);
}

#[test]
fn pem_to_pkcs12_round_trips_through_pkcs12_functions() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    let chain = format!("{}{}", read("leaf.crt"), read("cas.pem"));
    // PushSecret recipe: fullPemToPkcs12 (index . "tls.crt") (index . "tls.key") | b64dec.
    let data = common::data(&[("tls.crt", &chain), ("tls.key", &read("leaf.pkcs1.key"))]);
    let crt = render(
        r#"{{ fullPemToPkcs12 (index . "tls.crt") (index . "tls.key") | b64dec | pkcs12cert }}"#,
        &data,
    )
    .unwrap();
    let key = render(
        r#"{{ fullPemToPkcs12 (index . "tls.crt") (index . "tls.key") | b64dec | pkcs12key }}"#,
        &data,
    )
    .unwrap();
    assert_key_signs_and_cert_verifies(&crt, &key);
    assert_eq!(parse_pem_blocks(crt.as_bytes()).len(), 3);
    let single = render(
        r#"{{ pemToPkcs12 (index . "tls.crt") (index . "tls.key") | b64dec | pkcs12cert }}"#,
        &data,
    )
    .unwrap();
    assert_eq!(
        parse_pem_blocks(single.as_bytes()).len(),
        1,
        "pemToPkcs12 keeps the first certificate only"
    );
    let pass = render(r#"{{ pemToPkcs12Pass (index . "tls.crt") (index . "tls.key") "pw" | b64dec | pkcs12keyPass "pw" }}"#, &data).unwrap();
    assert_eq!(pass, key);
    let full_pass = render(r#"{{ fullPemToPkcs12Pass (index . "tls.crt") (index . "tls.key") "pw" | b64dec | pkcs12certPass "pw" }}"#, &data).unwrap();
    assert_eq!(full_pass, crt);
}
