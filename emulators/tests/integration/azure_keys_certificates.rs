//! The Azure SDK key and certificate clients against the emulator.

use crate::azure_support;

use akvsync_emulators::azure::pkcs;
use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use azure_security_keyvault_certificates::models::{
    CertificatePolicy, ImportCertificateParameters, SecretProperties,
};
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, CurveName, ImportKeyParameters, JsonWebKey, KeyType,
};
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_support::*;
use base64::Engine as _;
use futures::TryStreamExt;

fn ec_jwk(d_override: Option<Vec<u8>>) -> JsonWebKey {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let d = d_override.unwrap_or_else(|| {
        let bin: EcPrivateKeyBin<'static> = pair.private_key().as_be_bytes().unwrap();
        bin.as_ref().to_vec()
    });
    JsonWebKey {
        kty: Some(KeyType::Ec),
        crv: Some(CurveName::P256),
        x: Some(point[1..33].to_vec()),
        y: Some(point[33..].to_vec()),
        d: Some(d),
        ..Default::default()
    }
}

#[tokio::test]
async fn keys_import_create_and_lifecycle_never_return_private_parts() {
    let emulator = start().await;
    let client = admin_keys(&emulator);
    let imported = ImportKeyParameters {
        key: Some(ec_jwk(None)),
        ..Default::default()
    };
    let key = within(client.import_key("signing", imported.try_into().unwrap(), None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let jwk = key.key.unwrap();
    assert_eq!(jwk.kty, Some(KeyType::Ec));
    assert!(jwk.d.is_none(), "private parts are never returned");
    assert!(jwk.kid.unwrap().contains("/keys/signing/"));

    let mismatched = ImportKeyParameters {
        key: Some(ec_jwk(Some(vec![7u8; 32]))),
        ..Default::default()
    };
    let error = within(client.import_key("broken", mismatched.try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));

    let create = CreateKeyParameters {
        kty: Some(KeyType::Rsa),
        key_size: Some(2048),
        ..Default::default()
    };
    let created = within(client.create_key("wrapping", create.try_into().unwrap(), None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let rsa = created.key.unwrap();
    assert_eq!(rsa.n.unwrap().len(), 256);
    assert!(rsa.d.is_none() && rsa.p.is_none());

    let fetched = within(client.get_key("wrapping", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(fetched.key.unwrap().kty, Some(KeyType::Rsa));
    let listed: Vec<_> = within(
        client
            .list_key_properties(None)
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 2);

    within(client.delete_key("wrapping", None)).await.unwrap();
    let error = within(client.get_key("wrapping", None)).await.unwrap_err();
    assert_eq!(status_and_code(&error), (404, "KeyNotFound".into()));
    within(client.get_deleted_key("wrapping", None))
        .await
        .unwrap();
    within(client.recover_deleted_key("wrapping", None))
        .await
        .unwrap();
    within(client.get_key("wrapping", None)).await.unwrap();
    within(client.delete_key("wrapping", None)).await.unwrap();
    within(client.purge_deleted_key("wrapping", None))
        .await
        .unwrap();
    let error = within(client.get_deleted_key("wrapping", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "KeyNotFound".into()));
}

#[tokio::test]
async fn certificate_import_pfx_creates_linked_key_and_secret_with_one_version() {
    let emulator = start().await;
    let material = pkcs::self_signed("web.example", true).unwrap();
    let pfx = pkcs::to_pkcs12(&material, "pass").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pfx);
    let certificates = admin_certificates(&emulator);
    let import = ImportCertificateParameters {
        base64_encoded_certificate: Some(b64),
        password: Some("pass".into()),
        ..Default::default()
    };
    let certificate =
        within(certificates.import_certificate("web", import.try_into().unwrap(), None))
            .await
            .unwrap()
            .into_model()
            .unwrap();
    assert_eq!(
        certificate.cer.as_deref(),
        Some(material.chain[0].as_slice())
    );
    let version = certificate
        .id
        .as_ref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        certificate
            .kid
            .as_ref()
            .unwrap()
            .ends_with(&format!("/keys/web/{version}"))
    );
    assert!(
        certificate
            .sid
            .as_ref()
            .unwrap()
            .ends_with(&format!("/secrets/web/{version}"))
    );

    let secret = within(admin_secrets(&emulator).get_secret("web", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.content_type.as_deref(), Some(pkcs::PKCS12));
    assert_eq!(secret.managed, Some(true));
    let exported = base64::engine::general_purpose::STANDARD
        .decode(secret.value.unwrap())
        .unwrap();
    let reread = pkcs::read_pkcs12(&exported, "").expect("a password-less PFX");
    assert_eq!(reread.chain[0], material.chain[0]);
    assert_eq!(reread.key_pkcs8, material.key_pkcs8);

    let as_pem = SecretClientGetSecretOptions {
        out_content_type: Some(azure_security_keyvault_secrets::models::ContentType::Pem),
        ..Default::default()
    };
    let pem = within(admin_secrets(&emulator).get_secret("web", Some(as_pem)))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(
        pem.value
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    let key = within(admin_keys(&emulator).get_key("web", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(key.managed, Some(true));
    assert!(key.key.unwrap().kid.unwrap().ends_with(&version));

    let policy = within(certificates.get_certificate_policy("web", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        policy.secret_properties.unwrap().content_type.as_deref(),
        Some(pkcs::PKCS12)
    );
    let listed: Vec<_> = within(
        certificates
            .list_certificate_properties(None)
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 1);

    let error = within(admin_secrets(&emulator).delete_secret("web", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (409, "Conflict".into()));
    within(certificates.delete_certificate("web", None))
        .await
        .unwrap();
    let error = within(admin_secrets(&emulator).get_secret("web", None))
        .await
        .unwrap_err();
    assert_eq!(
        status_and_code(&error),
        (404, "SecretNotFound".into()),
        "the linked secret goes with the certificate"
    );
    within(certificates.recover_deleted_certificate("web", None))
        .await
        .unwrap();
    within(admin_secrets(&emulator).get_secret("web", None))
        .await
        .expect("and comes back with it");
}

#[tokio::test]
async fn certificate_import_pem_keeps_pem_and_bad_input_is_rejected() {
    let emulator = start().await;
    let material = pkcs::self_signed("pem.example", false).unwrap();
    let text = pkcs::to_pem(&material, true);
    let certificates = admin_certificates(&emulator);
    let import = ImportCertificateParameters {
        base64_encoded_certificate: Some(text.clone()),
        certificate_policy: Some(CertificatePolicy {
            secret_properties: Some(SecretProperties {
                content_type: Some(pkcs::PEM.into()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    within(certificates.import_certificate("pem", import.try_into().unwrap(), None))
        .await
        .unwrap();
    let secret = within(admin_secrets(&emulator).get_secret("pem", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.content_type.as_deref(), Some(pkcs::PEM));
    assert_eq!(secret.value.as_deref(), Some(text.as_str()));
    let key = within(admin_keys(&emulator).get_key("pem", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(key.key.unwrap().kty, Some(KeyType::Ec));

    let garbage = ImportCertificateParameters {
        base64_encoded_certificate: Some("bm90IGEgY2VydGlmaWNhdGU=".into()),
        ..Default::default()
    };
    let error = within(certificates.import_certificate("junk", garbage.try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));
    let error = within(certificates.get_certificate("absent", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "CertificateNotFound".into()));
}
