//! Crypto round trips and interop with PFX files made by the openssl CLI (see fixtures/).

use akvsync_template::crypto::{
    CertKind, Certificate, CryptoError, PrivateKey, PublicKey, decode_base64url, filter_cert_chain,
    jwk_private_key_pem, jwk_public_key_pem, order_chain, parse_pem_blocks, read_pkcs12,
    write_pkcs12, write_truststore,
};

const LEAF_CRT: &str = include_str!("fixtures/leaf.crt");
const INTERMEDIATE_CRT: &str = include_str!("fixtures/intermediate.crt");
const ROOT_CRT: &str = include_str!("fixtures/root.crt");
const LEAF_KEY: &str = include_str!("fixtures/leaf.key");
const LEAF_PKCS1_KEY: &str = include_str!("fixtures/leaf.pkcs1.key");
const EC_KEY: &str = include_str!("fixtures/ec.key");
const EC_SEC1_KEY: &str = include_str!("fixtures/ec.sec1.key");
const EC_CRT: &str = include_str!("fixtures/ec.crt");

fn cert(pem: &str) -> Certificate {
    Certificate::from_der(&parse_pem_blocks(pem.as_bytes())[0].der).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn reads_openssl_pfx_in_modern_and_legacy_encodings() {
    let expected = vec![cert(LEAF_CRT), cert(INTERMEDIATE_CRT), cert(ROOT_CRT)];
    for (file, password) in [
        ("chain-modern-nopass.pfx", ""),
        ("chain-modern-pass.pfx", "s3cret"),
        ("chain-3des-pass.pfx", "s3cret"),
        ("chain-rc2-nopass.pfx", ""),
    ] {
        let contents =
            read_pkcs12(&fixture(file), password).unwrap_or_else(|e| panic!("{file}: {e}"));
        let key = contents.key.expect("key present");
        assert_eq!(key.algorithm(), "RSA", "{file}");
        assert!(
            key.matches_certificate(LEAF_CRT_DER()).unwrap(),
            "{file}: key matches leaf"
        );
        assert_eq!(contents.certs, expected, "{file}: leaf, intermediate, root");
    }
    let ec = read_pkcs12(&fixture("ec-nopass.pfx"), "").unwrap();
    assert_eq!(ec.key.as_ref().unwrap().algorithm(), "P-256");
    assert_eq!(ec.certs, vec![cert(EC_CRT)]);
}

#[allow(non_snake_case)]
fn LEAF_CRT_DER() -> &'static [u8] {
    static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DER.get_or_init(|| parse_pem_blocks(LEAF_CRT.as_bytes())[0].der.clone())
}

#[test]
fn wrong_password_and_garbage_are_clear_errors() {
    let e = read_pkcs12(&fixture("chain-modern-pass.pfx"), "nope").unwrap_err();
    assert!(e.to_string().starts_with("unable to decode pkcs12"), "{e}");
    let e = read_pkcs12(b"definitely not a pfx", "").unwrap_err();
    assert!(matches!(e, CryptoError::DecodePkcs12(_)), "{e}");
    assert!(!e.to_string().contains("definitely"));
}

#[test]
fn writes_pkcs12_that_reads_back_with_and_without_password() {
    let key = PrivateKey::from_pem(LEAF_KEY.as_bytes()).unwrap();
    let cas = vec![cert(INTERMEDIATE_CRT), cert(ROOT_CRT)];
    for password in ["", "p@ss"] {
        let pfx = write_pkcs12(&key, &cert(LEAF_CRT), &cas, password).unwrap();
        let back = read_pkcs12(&pfx, password).unwrap();
        assert_eq!(
            back.key.unwrap().to_pkcs8_der().unwrap(),
            key.to_pkcs8_der().unwrap()
        );
        assert_eq!(
            back.certs,
            vec![cert(LEAF_CRT), cert(INTERMEDIATE_CRT), cert(ROOT_CRT)]
        );
        if !password.is_empty() {
            assert!(read_pkcs12(&pfx, "").is_err(), "password is enforced");
        }
    }
    let store = write_truststore(&[cert(ROOT_CRT)], "").unwrap();
    let back = read_pkcs12(&store, "").unwrap();
    assert!(back.key.is_none());
    assert_eq!(back.certs, vec![cert(ROOT_CRT)]);
}

#[test]
fn parses_pkcs8_pkcs1_and_sec1_private_keys() {
    let pkcs8 = PrivateKey::from_pem(LEAF_KEY.as_bytes()).unwrap();
    let pkcs1 = PrivateKey::from_pem(LEAF_PKCS1_KEY.as_bytes()).unwrap();
    assert_eq!(pkcs8.to_pkcs8_der().unwrap(), pkcs1.to_pkcs8_der().unwrap());
    let ec8 = PrivateKey::from_pem(EC_KEY.as_bytes()).unwrap();
    let sec1 = PrivateKey::from_pem(EC_SEC1_KEY.as_bytes()).unwrap();
    assert_eq!(ec8.public_key(), sec1.public_key());
    assert!(ec8.matches_certificate(cert(EC_CRT).der()).unwrap());
    assert!(!ec8.matches_certificate(LEAF_CRT_DER()).unwrap());
    assert_eq!(
        PrivateKey::from_pem(LEAF_CRT.as_bytes()).unwrap_err(),
        CryptoError::UnsupportedPemType("CERTIFICATE".into())
    );
    assert_eq!(
        PrivateKey::from_pem(b"nothing").unwrap_err(),
        CryptoError::NoPemBlock
    );
    // Debug never shows key material.
    assert_eq!(format!("{pkcs8:?}"), "PrivateKey::RSA(<redacted>)");
}

#[test]
fn import_jwk_has_keyvault_fields_and_round_trips_through_jwk_pem() {
    let rsa = PrivateKey::from_pem(LEAF_PKCS1_KEY.as_bytes()).unwrap();
    let jwk = rsa.to_import_jwk().unwrap();
    let json = serde_json::to_value(&jwk).unwrap();
    for field in ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"] {
        let v = json[field]
            .as_str()
            .unwrap_or_else(|| panic!("field {field}"));
        assert!(
            !v.contains('=') && !v.contains('+') && !v.contains('/'),
            "{field} is base64url without padding"
        );
    }
    assert_eq!(json["e"], "AQAB");
    let pem = jwk_private_key_pem(json.to_string().as_bytes()).unwrap();
    assert_eq!(
        PrivateKey::from_pem(pem.as_bytes())
            .unwrap()
            .to_pkcs8_der()
            .unwrap(),
        rsa.to_pkcs8_der().unwrap()
    );

    let ec = PrivateKey::from_pem(EC_KEY.as_bytes()).unwrap();
    let json = serde_json::to_value(ec.to_import_jwk().unwrap()).unwrap();
    assert_eq!(json["crv"], "P-256");
    assert_eq!(json["kty"], "EC");
    assert!(json.get("n").is_none());
    let pem = jwk_private_key_pem(json.to_string().as_bytes()).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(
        PrivateKey::from_pem(pem.as_bytes()).unwrap().public_key(),
        ec.public_key()
    );
}

#[test]
fn jwk_public_pem_is_pkix_parsed_by_rustcrypto() {
    use spki::DecodePublicKey;
    // Key Vault's public JWK (key/ object type): kid, kty, key_ops, n, e; HSM key types too.
    let rsa = PrivateKey::from_pem(LEAF_KEY.as_bytes()).unwrap();
    let full = serde_json::to_value(rsa.to_import_jwk().unwrap()).unwrap();
    let azure = serde_json::json!({
        "kid": "https://v.vault.azure.net/keys/k/1", "kty": "RSA-HSM",
        "key_ops": ["sign", "verify"], "n": full["n"], "e": full["e"],
    });
    let pem = jwk_public_key_pem(azure.to_string().as_bytes()).unwrap();
    let block = &parse_pem_blocks(pem.as_bytes())[0];
    assert_eq!(block.label, "PUBLIC KEY");
    let parsed = rsa::PublicKey::from_public_key_der(&block.der).unwrap();
    assert_eq!(PublicKey::Rsa(parsed), rsa.public_key());

    let ec = PrivateKey::from_pem(EC_KEY.as_bytes()).unwrap();
    let mut ec_jwk = serde_json::to_value(ec.to_import_jwk().unwrap()).unwrap();
    ec_jwk.as_object_mut().unwrap().remove("d");
    let pem = jwk_public_key_pem(ec_jwk.to_string().as_bytes()).unwrap();
    let parsed =
        p256::PublicKey::from_public_key_der(&parse_pem_blocks(pem.as_bytes())[0].der).unwrap();
    assert_eq!(PublicKey::P256(parsed), ec.public_key());
    assert_eq!(
        jwk_private_key_pem(ec_jwk.to_string().as_bytes()).unwrap_err(),
        CryptoError::JwkNotPrivate
    );
    assert!(jwk_public_key_pem(br#"{"kty":"oct","k":"AAAA"}"#).is_err());
    assert!(jwk_public_key_pem(b"not json").is_err());
}

#[test]
fn chain_is_ordered_leaf_first_whatever_the_input_order() {
    let shuffled = vec![cert(ROOT_CRT), cert(LEAF_CRT), cert(INTERMEDIATE_CRT)];
    let ordered = order_chain(shuffled.clone(), None).unwrap();
    assert_eq!(
        ordered,
        vec![cert(LEAF_CRT), cert(INTERMEDIATE_CRT), cert(ROOT_CRT)]
    );
    // With the key, the leaf is the certificate the key matches.
    let key = PrivateKey::from_pem(LEAF_KEY.as_bytes()).unwrap();
    assert_eq!(
        order_chain(shuffled, Some(&key)).unwrap()[0],
        cert(LEAF_CRT)
    );
    // Two unrelated leaves: no single chain.
    assert_eq!(
        order_chain(vec![cert(LEAF_CRT), cert(EC_CRT)], None).unwrap_err(),
        CryptoError::MultipleLeaves
    );
}

#[test]
fn filter_cert_chain_returns_leaf_intermediates_or_root() {
    let bundle = format!("{ROOT_CRT}{LEAF_CRT}{INTERMEDIATE_CRT}");
    let pem = |c: &str| cert(c).to_pem();
    assert_eq!(
        filter_cert_chain(CertKind::Leaf, bundle.as_bytes()).unwrap(),
        pem(LEAF_CRT)
    );
    assert_eq!(
        filter_cert_chain(CertKind::Intermediate, bundle.as_bytes()).unwrap(),
        pem(INTERMEDIATE_CRT)
    );
    assert_eq!(
        filter_cert_chain(CertKind::Root, bundle.as_bytes()).unwrap(),
        pem(ROOT_CRT)
    );
    // A self-signed certificate alone is a root, not a leaf.
    assert_eq!(
        filter_cert_chain(CertKind::Leaf, EC_CRT.as_bytes()).unwrap(),
        ""
    );
    assert_eq!(
        filter_cert_chain(CertKind::Root, EC_CRT.as_bytes()).unwrap(),
        pem(EC_CRT)
    );
    assert!("middle".parse::<CertKind>().is_err());
}

#[test]
fn jwk_fields_decode_with_or_without_padding_in_either_alphabet() {
    for text in ["-_8", "-_8=", "+/8", "+/8="] {
        assert_eq!(decode_base64url(text), Some(vec![0xfb, 0xff]), "{text}");
    }
    assert_eq!(decode_base64url("not base64!"), None);
}
