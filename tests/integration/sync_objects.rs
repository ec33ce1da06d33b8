//! Keys, certificates and PKCS#12 → TLS templates end to end: the bytes an ExternalSecret yields
//! are checked by decoding them with independent parsers, not against akvsync's own output.

use crate::operator_world;

use akvsync_emulators::azure::pkcs::{self, KeyAndChain};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use operator_world::{NAMESPACE, VAULT, World, external_secret_yaml};

/// A P-256 leaf signed by a CA: key (PKCS#8 DER), leaf DER, CA DER.
fn chain(leaf_name: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec![leaf_name.into()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, leaf_name);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (
        leaf_key.serialize_der(),
        leaf.der().to_vec(),
        ca.der().to_vec(),
    )
}

fn common_name(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a DER certificate");
    cert.subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// The key signs and the certificate's public key verifies the signature.
fn assert_key_matches_certificate(key_pem: &[u8], cert_pem: &[u8]) {
    let key = ::pem::parse(key_pem).expect("tls.key is PEM");
    assert_eq!(key.tag(), "PRIVATE KEY");
    let certs = ::pem::parse_many(cert_pem).expect("tls.crt is PEM");
    assert_eq!(certs[0].tag(), "CERTIFICATE");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key.contents())
        .expect("a P-256 PKCS#8 key");
    let signature = pair.sign(&SystemRandom::new(), b"proof").unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(certs[0].contents()).unwrap();
    let public_key = cert.public_key().subject_public_key.data.to_vec();
    assert_eq!(public_key, pair.public_key().as_ref());
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
        .verify(b"proof", signature.as_ref())
        .expect("the certificate verifies the key's signature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_yield_public_jwk_json_in_esos_field_order() {
    let mut world = World::new().await;
    world
        .azure
        .create_key(
            VAULT,
            "rsa-key",
            &serde_json::json!({"kty": "RSA", "key_size": 2048}),
        )
        .unwrap();
    world
        .azure
        .create_key(
            VAULT,
            "ec-key",
            &serde_json::json!({"kty": "EC", "crv": "P-256"}),
        )
        .unwrap();
    world.start_operator().await;
    let mut yaml = external_secret_yaml(
        NAMESPACE,
        "keys",
        "1h",
        &[("rsa", "key/rsa-key"), ("ec", "key/ec-key")],
    );
    yaml.push_str("    - secretKey: modulus\n      remoteRef:\n        key: key/rsa-key\n        property: n\n");
    world.apply_yaml(&yaml).await;
    let secret = operator_world::eventually("the keys Secret", || async {
        let secret = world.k8s_secret(NAMESPACE, "keys").await?;
        (secret.data.as_ref()?.len() == 3).then_some(secret)
    })
    .await;
    let data = secret.data.unwrap();

    let rsa_text = String::from_utf8(data["rsa"].0.clone()).unwrap();
    let rsa: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&rsa_text).unwrap();
    let fields: Vec<&str> = rsa.keys().map(String::as_str).collect();
    let order: Vec<usize> = ["kid", "kty", "key_ops", "n", "e"]
        .iter()
        .map(|f| rsa_text.find(&format!("\"{f}\"")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "legacy field order: {rsa_text}"
    );
    assert!(!fields.contains(&"d"), "no private parts");
    assert_eq!(rsa["kty"], "RSA");
    let modulus = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
    assert_eq!(modulus.len(), 256);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(rsa["e"].as_str().unwrap()).unwrap(),
        [1, 0, 1]
    );
    assert_eq!(
        data["modulus"].0,
        rsa["n"].as_str().unwrap().as_bytes(),
        "property n selects the modulus"
    );

    let ec: serde_json::Value = serde_json::from_slice(&data["ec"].0).unwrap();
    assert_eq!(
        (ec["kty"].as_str(), ec["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(ec.get("d").is_none());
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(ec["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(ec["y"].as_str().unwrap()).unwrap());
    assert!(
        p256::PublicKey::from_sec1_bytes(&point).is_ok(),
        "x and y are a point on P-256"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_yield_the_leaf_der_and_pkcs12_or_pem_become_tls_secrets() {
    let mut world = World::new().await;
    let (key, leaf, ca) = chain("leaf.example");
    let material = KeyAndChain {
        key_pkcs8: key,
        chain: vec![leaf.clone(), ca],
    };
    let pfx = STANDARD.encode(pkcs::to_pkcs12(&material, "").unwrap());
    world
        .azure
        .import_certificate(VAULT, "from-pfx", &pfx, None, Some("application/x-pkcs12"))
        .unwrap();
    let pem_bundle = pkcs::to_pem(&material, true);
    world
        .azure
        .import_certificate(
            VAULT,
            "from-pem",
            &pem_bundle,
            None,
            Some("application/x-pem-file"),
        )
        .unwrap();
    world.start_operator().await;

    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "cert-der",
            "1h",
            &[("cert", "cert/from-pfx")],
        ))
        .await;
    let secret = operator_world::eventually("the cert Secret", || async {
        world.k8s_secret(NAMESPACE, "cert-der").await
    })
    .await;
    let der = secret.data.unwrap()["cert"].0.clone();
    assert_eq!(der, leaf, "cert/ yields the leaf's DER");
    assert_eq!(common_name(&der), "leaf.example");

    // The seed's PKCS#12 → kubernetes.io/tls example, from a PFX import and from a PEM import.
    let tls = |name: &str, remote: &str, crt: &str, key: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    template:\n      type: kubernetes.io/tls\n      engineVersion: v2\n      data:\n        tls.crt: \"{crt}\"\n        tls.key: \"{key}\"\n  data:\n    - secretKey: tls\n      remoteRef:\n        key: secret/{remote}\n"
        )
    };
    world
        .apply_yaml(&tls(
            "tls-pfx",
            "from-pfx",
            "{{ .tls | b64dec | pkcs12cert }}",
            "{{ .tls | b64dec | pkcs12key }}",
        ))
        .await;
    world
        .apply_yaml(&tls(
            "tls-pem",
            "from-pem",
            "{{ .tls | filterPEM \\\"CERTIFICATE\\\" }}",
            "{{ .tls | filterPEM \\\"PRIVATE KEY\\\" }}",
        ))
        .await;
    for name in ["tls-pfx", "tls-pem"] {
        let secret =
            operator_world::eventually(name, || async { world.k8s_secret(NAMESPACE, name).await })
                .await;
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        let data = secret.data.unwrap();
        assert_key_matches_certificate(&data["tls.key"].0, &data["tls.crt"].0);
        let certs = ::pem::parse_many(&data["tls.crt"].0).unwrap();
        assert_eq!(
            common_name(certs[0].contents()),
            "leaf.example",
            "{name}: the leaf comes first"
        );
        assert_eq!(certs.len(), 2, "{name}: the chain follows the leaf");
    }
}
