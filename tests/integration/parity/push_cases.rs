//! ESO's write cases: `TestAzureKeyVaultPushSecret`, `…SecretExists` and `…DeleteSecret`, and
//! keyvault_new_sdk.go's ownership checks.

use akvsync_emulators::azure::pkcs;
use akvsync_emulators::azure::{Access, Grant, SecretOptions};

use super::fixtures::*;
use super::model::*;

/// `TestAzureKeyVaultPushSecret`.
pub(crate) fn push_cases(m: &Material) -> Vec<Case> {
    let old = |tags| vec![secret("example-1", "old", tags)];
    let with_content_type = |content_type: Option<&str>, exp: Option<i64>| {
        vec![Object::Secret {
            name: "example-1",
            value: "old".into(),
            options: SecretOptions {
                tags: managed().into_iter().collect(),
                content_type: content_type.map(str::to_owned),
                exp,
                ..Default::default()
            },
        }]
    };
    let vault_secret = |value: &str, tags, content_type, expires| Check::VaultSecret {
        name: "example-1",
        value: value.into(),
        tags,
        content_type,
        expires,
    };
    let mut tagged = managed();
    tagged.extend(tags(&[("fakeTagKey", "fakeTagValue")]));
    let tag_metadata = Some("tags: {fakeTagKey: fakeTagValue}");
    let json_metadata = Some("contentType: application/json");
    let managed_key = || {
        vec![Object::NewKey {
            name: "keyname",
            tags: managed(),
        }]
    };
    let managed_cert = |tags| vec![certificate(m, tags)];
    let p12 = pkcs::to_pkcs12(&m.certificate, "").unwrap();
    let p12_chain = pkcs::to_pkcs12(&m.chain, "").unwrap();
    let cert_not_managed = push_error(&format!(
        "cannot get certificate certname: {ERR_NOT_MANAGED}"
    ));
    let key_not_managed = push_error(&format!("cannot get key keyname: {ERR_NOT_MANAGED}"));
    let secret_not_managed = push_error(&format!("cannot get secret example-1: {ERR_NOT_MANAGED}"));
    // A certificate without its key (PEM or DER), as ESO's `certPEMSuccess`/`certDERSuccess`:
    // README "Where akvsync differs from ESO on purpose": a certificate Key Vault would reject
    // (no private key) is refused with a message before any call.
    let no_key = |eso, value: Vec<u8>| {
        push(
            eso,
            managed_cert(managed()),
            &value,
            "cert/certname",
            None,
            vec![
                Check::Push {
                    ready: false,
                    message: push_error("certificate certname: the value holds no private key"),
                    exact: false,
                },
                Check::Writes("ImportCertificate", 0),
            ],
        )
    };
    let mut rsa_pem_with_pkcs1 = pem_block(
        "RSA PRIVATE KEY",
        &pkcs8_inner(&m.rsa_certificate.key_pkcs8),
    );
    rsa_pem_with_pkcs1.extend(pem_block("CERTIFICATE", &m.rsa_certificate.chain[0]));

    vec![
        push(
            "certP12Success",
            vec![Object::Certificate {
                name: SECRET_CERTIFICATE_NAME,
                material: m.chain.clone(),
                tags: managed(),
            }],
            &p12,
            "cert/certname",
            None,
            vec![
                push_ok(),
                Check::Writes("ImportCertificate", 1),
                Check::VaultCertificate("certname", m.certificate.chain[0].clone(), managed()),
            ],
        ),
        push(
            "certP12ChainLegacySuccess",
            managed_cert(managed()),
            &legacy_pkcs12(&m.chain),
            "cert/certname",
            None,
            vec![
                push_ok(),
                Check::VaultCertificate("certname", m.chain.chain[0].clone(), managed()),
            ],
        ),
        push(
            "certP12ChainModernSuccess",
            managed_cert(managed()),
            &p12_chain,
            "cert/certname",
            None,
            vec![
                push_ok(),
                Check::VaultCertificate("certname", m.chain.chain[0].clone(), managed()),
            ],
        ),
        push(
            "certPEMSuccess (certificate and PKCS#8 key)",
            vec![],
            pkcs::to_pem(&m.chain, true).as_bytes(),
            "cert/certname",
            None,
            vec![
                push_ok(),
                Check::VaultCertificate("certname", m.chain.chain[0].clone(), managed()),
            ],
        ),
        no_key("certPEMSuccess", pkcs::to_pem(&m.chain, false).into_bytes()),
        no_key("certDERSuccess", m.chain.chain[0].clone()),
        push(
            "certPEMWithGarbageSuccess",
            vec![],
            &rsa_pem_with_pkcs1,
            "cert/certname",
            None,
            // README "Where akvsync differs from ESO on purpose": a PKCS#1 key inside PEM input
            // is refused with a message before any call.
            vec![Check::Push {
                ready: false,
                message: push_error(
                    "certificate certname: the private key is a PEM RSA PRIVATE KEY; Key Vault does not support it",
                ),
                exact: false,
            }],
        ),
        push(
            "certFingerprintMatches",
            managed_cert(managed()),
            pkcs::to_pem(&m.certificate, true).as_bytes(),
            "cert/certname",
            None,
            vec![push_ok(), Check::Writes("ImportCertificate", 0)],
        ),
        push(
            "certNotManagedByES",
            managed_cert(tags(&[("managed-by", "foobar")])),
            &p12_chain,
            "cert/certname",
            None,
            vec![
                push_failed(cert_not_managed.clone()),
                Check::Writes("ImportCertificate", 0),
            ],
        ),
        push(
            "certNoManagerTags",
            managed_cert(vec![]),
            &p12_chain,
            "cert/certname",
            None,
            vec![
                push_failed(cert_not_managed),
                Check::Writes("ImportCertificate", 0),
            ],
        ),
        push(
            "certNotACertificate",
            managed_cert(vec![]),
            b"foobar",
            "cert/certname",
            None,
            vec![push_failed(push_error(
                "value from secret is not a valid certificate: could not parse certificate value as PKCS#12, DER or PEM",
            ))],
        ),
        push(
            "certWithTags",
            managed_cert(tagged.clone()),
            &p12_chain,
            "cert/certname",
            tag_metadata,
            vec![
                push_ok(),
                Check::VaultCertificate("certname", m.chain.chain[0].clone(), tagged.clone()),
            ],
        ),
        push(
            "keySuccess",
            managed_key(),
            &m.good_key,
            "key/keyname",
            None,
            vec![
                push_ok(),
                Check::Writes("ImportKey", 1),
                Check::VaultKeyTags("keyname", managed()),
            ],
        ),
        push(
            "symmetricKeySuccess",
            managed_key(),
            b"secret",
            "key/keyname",
            None,
            // README "Where akvsync differs from ESO on purpose": a symmetric key is refused with
            // a message before any call (Key Vault imports `oct` keys only into a Managed HSM).
            vec![
                push_failed(push_error(
                    "could not load private key keyname: the value is not PEM; symmetric (oct) keys can only be imported into a Managed HSM, which akvsync does not support: push a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY",
                )),
                Check::Writes("ImportKey", 0),
            ],
        ),
        push(
            "RSAKeySuccess",
            managed_key(),
            &m.rsa_key,
            "key/keyname",
            None,
            vec![push_ok(), Check::Writes("ImportKey", 1)],
        ),
        push(
            "ECKeySuccess",
            managed_key(),
            &m.ec_key,
            "key/keyname",
            None,
            vec![push_ok(), Check::Writes("ImportKey", 1)],
        ),
        push(
            "invalidKey",
            managed_key(),
            pkcs::to_pem(&m.certificate, false).as_bytes(),
            "key/keyname",
            None,
            vec![push_failed(push_error(
                "could not load private key keyname: key type CERTIFICATE is not supported",
            ))],
        ),
        push(
            "keyNotFound",
            vec![],
            &m.good_key,
            "key/keyname",
            None,
            vec![push_ok(), Check::VaultKeyTags("keyname", managed())],
        ),
        push(
            "noTags",
            vec![Object::NewKey {
                name: "keyname",
                tags: vec![],
            }],
            &m.good_key,
            "key/keyname",
            None,
            vec![
                push_failed(key_not_managed.clone()),
                Check::Writes("ImportKey", 0),
            ],
        ),
        push(
            "wrongTags",
            vec![Object::NewKey {
                name: "keyname",
                tags: tags(&[("managed-by", "internal-secrets")]),
            }],
            &m.good_key,
            "key/keyname",
            None,
            vec![push_failed(key_not_managed), Check::Writes("ImportKey", 0)],
        ),
        push(
            "keyWithTags",
            vec![Object::NewKey {
                name: "keyname",
                tags: tagged.clone(),
            }],
            &m.good_key,
            "key/keyname",
            tag_metadata,
            vec![push_ok(), Check::VaultKeyTags("keyname", tagged.clone())],
        ),
        push(
            "secretSuccess",
            old(managed()),
            b"secret",
            "example-1",
            None,
            vec![push_ok(), vault_secret("secret", managed(), None, None)],
        ),
        push(
            "secretNoChange",
            old(managed()),
            b"old",
            "example-1",
            None,
            vec![push_ok(), Check::Writes("SetSecret", 0)],
        ),
        push(
            "secretExpiryChange",
            with_content_type(None, Some(1_700_000_000)),
            b"old",
            "example-1",
            Some("expirationDate: \"2099-12-31T23:59:59Z\""),
            vec![
                push_ok(),
                Check::Writes("SetSecret", 1),
                vault_secret("old", managed(), None, Some(4_102_444_799)),
            ],
        ),
        push(
            "secretWrongTags",
            old(tags(&[("managed-by", "nope")])),
            b"old",
            "example-1",
            None,
            vec![
                push_failed(secret_not_managed.clone()),
                Check::Writes("SetSecret", 0),
            ],
        ),
        push(
            "secretNoTags",
            old(vec![]),
            b"old",
            "example-1",
            None,
            vec![
                push_failed(secret_not_managed),
                Check::Writes("SetSecret", 0),
            ],
        ),
        push(
            "secretNotFound",
            vec![],
            b"old",
            "example-1",
            None,
            vec![push_ok(), vault_secret("old", managed(), None, None)],
        ),
        push(
            "typeNotSupported",
            vec![],
            b"old",
            "badtype/secret",
            None,
            vec![push_failed(push_error("secret type badtype not supported"))],
        ),
        {
            let mut case = Case::new("wholeSecretNoKey", old(managed()));
            case.source = vec![
                ("key1".into(), b"value1".to_vec()),
                ("key2".into(), b"value2".to_vec()),
            ];
            case.manifests = vec![push_secret("", &entry(None, "example-1", None))];
            case.checks = vec![
                push_ok(),
                vault_secret(
                    r#"{"key1":"value1","key2":"value2"}"#,
                    managed(),
                    None,
                    None,
                ),
            ];
            case
        },
        push(
            "secretWithTags",
            vec![secret("example-1", "old", tagged.clone())],
            b"old",
            "example-1",
            tag_metadata,
            vec![push_ok(), Check::Writes("SetSecret", 0)],
        ),
        push(
            "secretWithContentType",
            with_content_type(Some(CONTENT_TYPE_JSON), None),
            b"newSecret",
            "example-1",
            json_metadata,
            vec![
                push_ok(),
                vault_secret("newSecret", managed(), Some(CONTENT_TYPE_JSON), None),
            ],
        ),
        push(
            "secretNoChangeWithContentType",
            with_content_type(Some(CONTENT_TYPE_JSON), None),
            b"old",
            "example-1",
            json_metadata,
            vec![push_ok(), Check::Writes("SetSecret", 0)],
        ),
        push(
            "secretContentTypeChange",
            with_content_type(Some("text/plain"), None),
            b"old",
            "example-1",
            json_metadata,
            vec![
                push_ok(),
                Check::Writes("SetSecret", 1),
                vault_secret("old", managed(), Some(CONTENT_TYPE_JSON), None),
            ],
        ),
        push(
            "secretContentTypeAddedToExisting",
            with_content_type(None, None),
            b"old",
            "example-1",
            json_metadata,
            vec![
                push_ok(),
                Check::Writes("SetSecret", 1),
                vault_secret("old", managed(), Some(CONTENT_TYPE_JSON), None),
            ],
        ),
        push(
            "secretContentTypeOmittedFromRequest",
            with_content_type(Some(CONTENT_TYPE_JSON), None),
            b"old",
            "example-1",
            None,
            vec![
                push_ok(),
                Check::Writes("SetSecret", 0),
                vault_secret("old", managed(), Some(CONTENT_TYPE_JSON), None),
            ],
        ),
        push(
            "secretContentTypeWithExpiration",
            with_content_type(Some(CONTENT_TYPE_JSON), Some(4_102_444_799)),
            b"old",
            "example-1",
            Some("contentType: application/json, expirationDate: \"2099-12-31T23:59:59Z\""),
            vec![push_ok(), Check::Writes("SetSecret", 0)],
        ),
    ]
}

/// `TestAzureKeyVaultSecretExists`, through `updatePolicy: IfNotExists`.
pub(crate) fn exists_cases() -> Vec<Case> {
    let unchanged = || Check::Push {
        ready: true,
        message: "PushSecret synced successfully. Existing secrets in providers unchanged.".into(),
        exact: true,
    };
    vec![
        exists(
            "unsupportedType",
            vec![],
            "yadayada/foo",
            vec![push_failed(
                "set secret failed: could not verify if secret exists in store: secret type 'yadayada' is not supported".into(),
            )],
        ),
        exists(
            "secretFound",
            vec![secret("example-1", "foo", managed())],
            "example-1",
            vec![unchanged(), Check::Writes("SetSecret", 0)],
        ),
        exists(
            "secretFoundNoUsefulTags",
            vec![secret("example-1", "foo", tags(&[("someTag", "someUselessValue")]))],
            "example-1",
            vec![unchanged(), Check::Writes("SetSecret", 0)],
        ),
        exists(
            "secretNotFound",
            vec![],
            "example-1",
            vec![unchanged(), Check::Writes("SetSecret", 1)],
        ),
    ]
}

/// `TestAzureKeyVaultDeleteSecret`. ESO's mock 403s become a grant without the permission, so
/// the message is ESO's wrapping around Key Vault's own 403 (checked up to the wrapped error).
pub(crate) fn delete_cases(m: &Material) -> Vec<Case> {
    let p12 = pkcs::to_pkcs12(&m.certificate, "").unwrap();
    let key = m.good_key.as_slice();
    let not_managed = |what: &str| {
        push_failed(format!(
            "Failed to Delete Secrets from Provider: error getting {what}: {ERR_NOT_MANAGED}"
        ))
    };
    let forbidden = |prefix: String| Check::Push {
        ready: false,
        message: format!("Failed to Delete Secrets from Provider: {prefix}"),
        exact: false,
    };
    let no_get = |what: &str| forbidden(format!("error getting {what}: unexpected api error: "));
    let no_delete = |what: &str| forbidden(format!("error deleting {what}: "));
    let all = Grant::all();
    let restrict = Mutation::Restrict;
    vec![
        delete(
            "secretSuccess",
            b"foo",
            "example-1",
            Mutation::Nothing,
            vec![push_ok(), Check::Gone("secrets/example-1")],
            key,
        ),
        delete(
            "secretNotFound",
            b"foo",
            "example-1",
            Mutation::Delete("secrets/example-1"),
            vec![push_ok()],
            key,
        ),
        delete(
            "secretNotManaged",
            b"foo",
            "example-1",
            Mutation::DropTags("secrets/example-1"),
            vec![not_managed("secret example-1")],
            key,
        ),
        delete(
            "secretNoDeletePermissions",
            b"foo",
            "example-1",
            restrict(all.with_secrets(Access::Write)),
            vec![no_delete("secret example-1")],
            key,
        ),
        delete(
            "secretNoGetPermissions",
            b"foo",
            "example-1",
            restrict(all.with_secrets(Access::None)),
            vec![no_get("secret example-1")],
            key,
        ),
        delete(
            "certificateSuccess",
            &p12,
            "cert/certname",
            Mutation::Nothing,
            vec![push_ok(), Check::Gone("certificates/certname")],
            key,
        ),
        delete(
            "certNotFound",
            &p12,
            "cert/certname",
            Mutation::Delete("certificates/certname"),
            vec![push_ok()],
            key,
        ),
        delete(
            "certNotManaged",
            &p12,
            "cert/certname",
            Mutation::DropTags("certificates/certname"),
            vec![not_managed("certificate certname")],
            key,
        ),
        delete(
            "certNoDeletePermissions",
            &p12,
            "cert/certname",
            restrict(all.with_certificates(Access::Write)),
            vec![no_delete("certificate certname")],
            key,
        ),
        delete(
            "certNoGetPermissions",
            &p12,
            "cert/certname",
            restrict(all.with_certificates(Access::None)),
            vec![no_get("certificate certname")],
            key,
        ),
        delete(
            "keySuccess",
            key,
            "key/keyname",
            Mutation::Nothing,
            vec![push_ok(), Check::Gone("keys/keyname")],
            key,
        ),
        delete(
            "keyNotFound",
            key,
            "key/keyname",
            Mutation::Delete("keys/keyname"),
            vec![push_ok()],
            key,
        ),
        delete(
            "keyNotManaged",
            key,
            "key/keyname",
            Mutation::DropTags("keys/keyname"),
            vec![not_managed("key keyname")],
            key,
        ),
        delete(
            "keyNoDeletePermissions",
            key,
            "key/keyname",
            restrict(all.with_keys(Access::Write)),
            vec![no_delete("key keyname")],
            key,
        ),
        delete(
            "keyNoGetPermissions",
            key,
            "key/keyname",
            restrict(all.with_keys(Access::None)),
            vec![no_get("key keyname")],
            key,
        ),
    ]
}

/// ESO's push cases whose mock answered 403: a grant without the permission on the case's vault.
pub(crate) fn forbidden_push_cases(m: &Material) -> Vec<Case> {
    let forbidden = |prefix: &str| Check::Push {
        ready: false,
        message: push_error(prefix),
        exact: false,
    };
    let restricted = |mut case: Case, grant: Grant| {
        case.grant = grant;
        case
    };
    let all = Grant::all();
    let p12 = pkcs::to_pkcs12(&m.chain, "").unwrap();
    vec![
        restricted(
            push(
                "failedGetSecret",
                vec![secret("example-1", "old", managed())],
                b"old",
                "example-1",
                None,
                vec![forbidden(
                    "cannot get secret example-1: unexpected api error: ",
                )],
            ),
            all.with_secrets(Access::None),
        ),
        restricted(
            push(
                "errorGetKey",
                vec![Object::NewKey {
                    name: "keyname",
                    tags: managed(),
                }],
                &m.good_key,
                "key/keyname",
                None,
                vec![forbidden("cannot get key keyname: unexpected api error: ")],
            ),
            all.with_keys(Access::None),
        ),
        restricted(
            push(
                "certNoPermissions",
                vec![certificate(m, vec![])],
                &p12,
                "cert/certname",
                None,
                vec![forbidden(
                    "cannot get certificate certname: unexpected api error: ",
                )],
            ),
            all.with_certificates(Access::None),
        ),
        restricted(
            push(
                "failedSetSecret",
                vec![],
                b"old",
                "example-1",
                None,
                vec![forbidden("could not set secret example-1: ")],
            ),
            all.with_secrets(Access::Read),
        ),
        restricted(
            push(
                "certImportCertificateError",
                vec![certificate(m, managed())],
                &p12,
                "cert/certname",
                None,
                vec![forbidden("could not import certificate certname: ")],
            ),
            all.with_certificates(Access::Read),
        ),
        // keyvault_new_sdk.go (`useAzureSDK: true`) wraps the same 403 without the prefix:
        // `cannot get secret example-1: <azcore error>`.
        restricted(
            on_azure_sdk(push(
                "failedGetSecret (useAzureSDK)",
                vec![secret("example-1", "old", managed())],
                b"old",
                "example-1",
                None,
                vec![Check::Push {
                    ready: false,
                    message: format!(
                        "set secret failed: could not write remote ref {SECRET_KEY} to target secretstore sdk: cannot get secret example-1: access denied: 403"
                    ),
                    exact: false,
                }],
            )),
            all.with_secrets(Access::None),
        ),
        restricted(
            push(
                "importKeyFailed",
                vec![],
                &m.good_key,
                "key/keyname",
                None,
                vec![forbidden("could not import key keyname: ")],
            ),
            all.with_keys(Access::Read),
        ),
    ]
}

pub(crate) fn to_azure_sdk_store(manifest: &str) -> String {
    manifest.replace(
        "    - name: vault\n      kind: SecretStore",
        "    - name: sdk\n      kind: SecretStore",
    )
}

/// The case's PushSecrets write through store `sdk` (`useAzureSDK: true`).
pub(crate) fn on_azure_sdk(mut case: Case) -> Case {
    case.manifests = case
        .manifests
        .iter()
        .map(|m| to_azure_sdk_store(m))
        .collect();
    case
}

/// keyvault_new_sdk.go's ownership checks (`useAzureSDK: true`), which keyvault_test.go does not
/// reach: a foreign object is refused as `<kind> <name> not managed by external-secrets`, and a
/// delete leaves it alone and succeeds (`canDeleteWithNewSDK`).
pub(crate) fn azure_sdk_ownership_cases(m: &Material) -> Vec<Case> {
    let refused = |what: &str| {
        push_failed(format!(
            "set secret failed: could not write remote ref {SECRET_KEY} to target secretstore sdk: {what} not managed by external-secrets"
        ))
    };
    let p12 = pkcs::to_pkcs12(&m.chain, "").unwrap();
    let mut unmanaged_delete = on_azure_sdk(delete(
        "secretNotManaged (useAzureSDK)",
        b"foo",
        "example-1",
        Mutation::DropTags("secrets/example-1"),
        vec![push_ok()],
        &m.good_key,
    ));
    if let Some(then) = unmanaged_delete.then.as_mut() {
        then.manifests = then
            .manifests
            .iter()
            .map(|m| to_azure_sdk_store(m))
            .collect();
        then.checks.push(Check::VaultSecret {
            name: "example-1",
            value: "foo".into(),
            tags: vec![],
            content_type: None,
            expires: None,
        });
    }
    vec![
        on_azure_sdk(push(
            "secretNoTags (useAzureSDK)",
            vec![secret("example-1", "old", vec![])],
            b"old",
            "example-1",
            None,
            vec![refused("secret example-1"), Check::Writes("SetSecret", 0)],
        )),
        on_azure_sdk(push(
            "noTags (useAzureSDK)",
            vec![Object::NewKey {
                name: "keyname",
                tags: vec![],
            }],
            &m.good_key,
            "key/keyname",
            None,
            vec![refused("key keyname"), Check::Writes("ImportKey", 0)],
        )),
        on_azure_sdk(push(
            "certNoManagerTags (useAzureSDK)",
            vec![certificate(m, vec![])],
            &p12,
            "cert/certname",
            None,
            vec![
                refused("certificate certname"),
                Check::Writes("ImportCertificate", 0),
            ],
        )),
        unmanaged_delete,
    ]
}
