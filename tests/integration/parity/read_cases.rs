//! ESO's read cases: `TestAzureKeyVaultSecretManagerGetSecret`, `…GetSecretMap` and
//! `…GetAllSecrets`, each through a legacy store and a `useAzureSDK: true` store.

use akvsync_emulators::azure::SecretOptions;

use super::fixtures::*;
use super::model::*;

/// `TestAzureKeyVaultSecretManagerGetSecret`.
pub(crate) fn get_secret_cases(m: &Material) -> Vec<Case> {
    let hello = || vec![secret("test-secret", "Hello World!", vec![])];
    let changed = |tags| vec![secret("test-secret", SECRET_STRING, tags)];
    let json_with_tag = |tag: &str| {
        vec![secret(
            "test-secret",
            JSON_TEST_STRING,
            tags(&[("foo", tag)]),
        )]
    };
    let fetch =
        |property: &str| format!("key: test-secret, metadataPolicy: Fetch, property: {property}");
    let no_tag = |key: &str| data_error(0, key, "tag something does not exist");
    let mut cases = vec![
        get_secret(
            "makeValidSecretManagerTestCase",
            hello(),
            "key: test-secret",
            out("Hello World!"),
            out("Hello World!"),
        ),
        get_secret(
            "setSecretString",
            changed(vec![]),
            "key: test-secret",
            out(SECRET_STRING),
            out(SECRET_STRING),
        ),
        get_secret(
            "setSecretStringWithVersion",
            vec![Object::Versions(
                "test-secret",
                vec![SECRET_STRING, "a later version"],
            )],
            "key: test-secret, version: \"@v0@\"",
            out(SECRET_STRING),
            out(SECRET_STRING),
        ),
        get_secret(
            "setSecretWithProperty",
            vec![secret("test-secret", JSON_TEST_STRING, vec![])],
            "key: test-secret, property: Name",
            out("External"),
            out("External"),
        ),
        get_secret(
            "badSecretWithProperty",
            vec![secret("test-secret", JSON_TEST_STRING, vec![])],
            "key: test-secret, property: Age",
            Expect::Failed(data_error(
                0,
                "test-secret",
                "property Age does not exist in key test-secret",
            )),
            Expect::Failed(data_error(
                0,
                "test-secret",
                "property Age does not exist in key test-secret",
            )),
        ),
        get_secret(
            "setPubRSAKey",
            vec![rsa_key(vec![])],
            "key: key/keyname",
            out(&rsa_jwk(false)),
            out(&rsa_jwk(true)),
        ),
        get_secret(
            "setPubECKey",
            vec![Object::ImportedKey {
                name: "keyname",
                jwk: JWK_PUB_EC,
                tags: vec![],
            }],
            "key: key/keyname",
            out(&ec_jwk(false)),
            out(&ec_jwk(true)),
        ),
        get_secret(
            "secretNotFound",
            vec![],
            "key: test-secret",
            Expect::Failed(data_error(0, "test-secret", "Secret does not exist")),
            Expect::Failed(data_error(0, "test-secret", "Secret does not exist")),
        ),
        get_secret(
            "certNotFound",
            vec![],
            "key: cert/certname",
            Expect::Failed(data_error(0, "cert/certname", "Secret does not exist")),
            Expect::Failed(data_error(0, "cert/certname", "Secret does not exist")),
        ),
        get_secret(
            "keyNotFound",
            vec![],
            "key: key/keyname",
            Expect::Failed(data_error(0, "key/keyname", "Secret does not exist")),
            Expect::Failed(data_error(0, "key/keyname", "Secret does not exist")),
        ),
        get_secret(
            "badSecretType",
            vec![],
            "key: example/name",
            Expect::Failed(data_error(
                0,
                "example/name",
                "unknown Azure Keyvault object Type for name",
            )),
            Expect::Failed(data_error(
                0,
                "example/name",
                "unknown Azure Keyvault object Type for name",
            )),
        ),
        get_secret(
            "setSecretWithExpiresAttribute",
            vec![Object::Secret {
                name: "test-secret",
                value: SECRET_STRING.into(),
                options: SecretOptions {
                    exp: Some(1_893_456_000),
                    ..Default::default()
                },
            }],
            &fetch("attribute.expires"),
            out("2030-01-01T00:00:00Z"),
            // keyvault_new_sdk.go reads tags only: the property is looked up as a tag.
            Expect::Failed(data_error(
                0,
                "test-secret",
                "tag attribute.expires does not exist",
            )),
        ),
        get_secret(
            "setSecretWithTag",
            changed(tag_map()),
            &fetch("tagname"),
            out("tagvalue"),
            out("tagvalue"),
        ),
        get_secret(
            "badSecretWithTag",
            hello(),
            &fetch("something"),
            Expect::Failed(no_tag("test-secret")),
            Expect::Failed(no_tag("test-secret")),
        ),
        get_secret(
            "setSecretWithNoSpecificTag",
            changed(tag_map()),
            "key: test-secret, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(tag_map()),
            out(JSON_TAG_TEST_STRING),
        ),
        get_secret(
            "setSecretWithNoTags",
            changed(vec![]),
            "key: test-secret, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(vec![]),
            out("{}"),
        ),
        get_secret(
            "setCertWithTag",
            vec![certificate(m, tag_map())],
            "key: cert/certname, metadataPolicy: Fetch, property: tagname",
            out("tagvalue"),
            out("tagvalue"),
        ),
        get_secret(
            "badCertWithTag",
            vec![certificate(m, vec![])],
            "key: cert/certname, metadataPolicy: Fetch, property: something",
            Expect::Failed(no_tag("cert/certname")),
            Expect::Failed(no_tag("cert/certname")),
        ),
        get_secret(
            "setCertWithNoSpecificTag",
            vec![certificate(m, tag_map())],
            "key: cert/certname, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(tag_map()),
            out(JSON_TAG_TEST_STRING),
        ),
        get_secret(
            "setCertWithNoTags",
            vec![certificate(m, vec![])],
            "key: cert/certname, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(vec![]),
            out("{}"),
        ),
        get_secret(
            "setKeyWithTag",
            vec![rsa_key(tag_map())],
            "key: key/keyname, metadataPolicy: Fetch, property: tagname",
            out("tagvalue"),
            out("tagvalue"),
        ),
        get_secret(
            "badKeyWithTag",
            vec![rsa_key(tag_map())],
            "key: key/keyname, metadataPolicy: Fetch, property: something",
            Expect::Failed(no_tag("key/keyname")),
            Expect::Failed(no_tag("key/keyname")),
        ),
        get_secret(
            "setKeyWithNoSpecificTag",
            vec![rsa_key(tag_map())],
            "key: key/keyname, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(tag_map()),
            out(JSON_TAG_TEST_STRING),
        ),
        get_secret(
            "setKeyWithNoTags",
            vec![rsa_key(vec![])],
            "key: key/keyname, metadataPolicy: Fetch",
            Expect::TagsJsonWithAttributes(vec![]),
            out("{}"),
        ),
        get_secret(
            "badPropertyTag",
            hello(),
            "key: test-secret, property: tagname",
            Expect::Failed(data_error(
                0,
                "test-secret",
                "property tagname does not exist in key test-secret",
            )),
            Expect::Failed(data_error(
                0,
                "test-secret",
                "property tagname does not exist in key test-secret",
            )),
        ),
        get_secret(
            "fetchSingleTag",
            json_with_tag("bar"),
            &fetch("foo"),
            out("bar"),
            out("bar"),
        ),
        get_secret(
            "fetchJSONTag",
            json_with_tag(r#"{"key":"value"}"#),
            &fetch("foo"),
            out(r#"{"key":"value"}"#),
            out(r#"{"key":"value"}"#),
        ),
        get_secret(
            "fetchDottedJSONTag",
            json_with_tag(r#"{"key":"value"}"#),
            &fetch("foo.key"),
            out("value"),
            out("value"),
        ),
        get_secret(
            "fetchNestedJSONTag",
            json_with_tag(r#"{"key":"value", "nested": {"foo":"bar"}}"#),
            &fetch("foo.nested"),
            out(r#"{"foo":"bar"}"#),
            out(r#"{"foo":"bar"}"#),
        ),
        get_secret(
            "fetchNestedDottedJSONTag",
            json_with_tag(r#"{"key":"value", "nested": {"foo":"bar"}}"#),
            &fetch("foo.nested.foo"),
            out("bar"),
            out("bar"),
        ),
        get_secret(
            "fetchDottedKeyJSONTag",
            json_with_tag(r#"{"foo.json":"bar"}"#),
            &fetch("foo.foo.json"),
            out("bar"),
            out("bar"),
        ),
        get_secret(
            "fetchDottedSecretJSONTag",
            vec![secret("test-secret", r#"{"foo.json":"bar"}"#, vec![])],
            "key: test-secret, property: foo.json",
            out("bar"),
            out("bar"),
        ),
    ];
    // setCertificate: the certificate's DER (`Cer`), byte for byte.
    let der = Expect::Data(vec![("out".into(), m.certificate.chain[0].clone())]);
    cases.push(get_secret(
        "setCertificate",
        vec![certificate(m, vec![])],
        "key: cert/certname",
        der.clone(),
        der,
    ));
    cases
}

/// `TestAzureKeyVaultSecretManagerGetSecretMap`.
pub(crate) fn get_secret_map_cases() -> Vec<Case> {
    let json = |value: &str| vec![secret("test-secret", value, vec![])];
    let both = |eso, objects, remote_ref: &str, expect: Expect| {
        get_secret_map(eso, objects, remote_ref, expect.clone(), expect)
    };
    vec![
        both(
            "badSecretString",
            json(SECRET_STRING),
            "key: test-secret",
            Expect::Failed(extract_error(
                "error unmarshalling json data: invalid character 'c' looking for beginning of value",
            )),
        ),
        both(
            "setSecretJSON",
            json(JSON_SINGLE_TEST_STRING),
            "key: test-secret",
            data(&[("Name", "External"), ("LastName", "Secret")]),
        ),
        both(
            "setSecretJSONWithProperty",
            json(JSON_TEST_STRING),
            "key: test-secret, property: Address",
            data(&[("Street", "Myroad st."), ("CP", "J4K4T4")]),
        ),
        both(
            "badSecretWithProperty",
            json(JSON_TEST_STRING),
            "key: test-secret, property: Age",
            Expect::Failed(extract_error(
                "property Age does not exist in key test-secret",
            )),
        ),
        both(
            "badPubRSAKey",
            vec![rsa_key(vec![])],
            "key: key/keyname",
            Expect::Failed(extract_error("cannot get use dataFrom to get key secret")),
        ),
        both(
            "badCertificate",
            vec![],
            "key: cert/certname",
            Expect::Failed(extract_error(
                "cannot get use dataFrom to get certificate secret",
            )),
        ),
        both(
            "badSecretType",
            vec![],
            "key: example/name",
            Expect::Failed(extract_error("unknown Azure Keyvault object Type for name")),
        ),
        get_secret_map(
            "setSecretTags",
            vec![secret("test-secret", "v", tag_map())],
            "key: test-secret, metadataPolicy: Fetch",
            Expect::DataWithAttributes(
                vec![
                    ("test-secret_tagname".into(), b"tagvalue".to_vec()),
                    ("test-secret_tagname2".into(), b"tagvalue2".to_vec()),
                ],
                "test-secret",
            ),
            data(&[
                ("test-secret_tagname", "tagvalue"),
                ("test-secret_tagname2", "tagvalue2"),
            ]),
        ),
        get_secret_map(
            "setSecretWithJSONTag",
            vec![secret(
                "test-secret",
                SECRET_STRING,
                tags(&[("json", r#"{"keyname":"keyvalue","x":"y"}"#)]),
            )],
            "key: test-secret, metadataPolicy: Fetch",
            Expect::DataWithAttributes(
                vec![
                    ("test-secret_json_keyname".into(), b"keyvalue".to_vec()),
                    ("test-secret_json_x".into(), b"y".to_vec()),
                ],
                "test-secret",
            ),
            data(&[
                ("test-secret_json_keyname", "keyvalue"),
                ("test-secret_json_x", "y"),
            ]),
        ),
        get_secret_map(
            "setSecretWithNoTags",
            vec![secret("test-secret", "v", vec![])],
            "key: test-secret, metadataPolicy: Fetch",
            Expect::DataWithAttributes(vec![], "test-secret"),
            data(&[]),
        ),
        both(
            "nestedJSONNoProperty",
            json(JSON_TEST_STRING),
            "key: test-secret",
            data(&[
                ("Name", "External"),
                ("LastName", "Secret"),
                ("Address", r#"{ "Street": "Myroad st.", "CP": "J4K4T4" }"#),
            ]),
        ),
        both(
            "setNestedJSONTag",
            vec![secret(
                "test-secret",
                "v",
                tags(&[
                    ("dev", r#"{"foo":"bar","nested.tag":{"foo":"bar"}}"#),
                    ("bug", "1137"),
                ]),
            )],
            "key: test-secret, metadataPolicy: Fetch, property: dev",
            data(&[(
                "test-secret_dev",
                r#"{"foo":"bar","nested.tag":{"foo":"bar"}}"#,
            )]),
        ),
    ]
}

/// `TestAzureKeyVaultSecretManagerGetAllSecrets`, plus ESO's `isValidSecret` skipping disabled
/// secrets.
pub(crate) fn get_all_secrets_cases() -> Vec<Case> {
    let example = |tags| secret("example-1", SECRET_STRING, tags);
    vec![
        get_all_secrets(
            "setOneSecretByName",
            vec![example(vec![])],
            "name: {regexp: ^example}",
            data(&[("example-1", SECRET_STRING)]),
        ),
        get_all_secrets(
            "setTwoSecretsByName",
            vec![example(vec![]), secret("not-valid", SECRET_STRING, vec![])],
            "name: {regexp: ^example}",
            data(&[("example-1", SECRET_STRING)]),
        ),
        get_all_secrets(
            "setOneSecretByTag",
            vec![
                example(tags(&[("environment", "dev")])),
                secret("example-2", "x", vec![]),
            ],
            "name: {regexp: ^example}, tags: {environment: dev}",
            data(&[("example-1", SECRET_STRING)]),
        ),
        get_all_secrets(
            "setTwoSecretsByTag",
            vec![
                example(tags(&[("environment", "dev"), ("author", "seb")])),
                secret("example-2", "x", tags(&[("environment", "dev")])),
            ],
            "name: {regexp: ^example}, tags: {environment: dev, author: seb}",
            data(&[("example-1", SECRET_STRING)]),
        ),
        get_all_secrets(
            "isValidSecret: disabled secrets are skipped",
            vec![
                example(vec![]),
                Object::Secret {
                    name: "example-disabled",
                    value: "x".into(),
                    options: SecretOptions {
                        enabled: Some(false),
                        ..Default::default()
                    },
                },
            ],
            "name: {regexp: ^example}",
            data(&[("example-1", SECRET_STRING)]),
        ),
    ]
}
