//! Which Secret data an ExternalSecret yields from given remote values.

use std::collections::BTreeMap;
use std::sync::Arc;

use akvsync_actors::remote::{ProviderError, RemoteValue, SecretBytes};
use akvsync_crds::{DeletionPolicy, ExternalSecretSpec};

use super::*;

fn spec(json: serde_json::Value) -> ExternalSecretSpec {
    let mut json = json;
    json["secretStoreRef"] = serde_json::json!({"name": "vault", "kind": "SecretStore"});
    serde_json::from_value(json).unwrap()
}

fn value(text: &str) -> Arc<RemoteValue> {
    Arc::new(RemoteValue {
        value: SecretBytes::from(text),
        enabled: true,
        ..Default::default()
    })
}

fn tagged(text: &str, tags: &[(&str, &str)]) -> Arc<RemoteValue> {
    let tags = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(RemoteValue {
        value: SecretBytes::from(text),
        enabled: true,
        tags,
        created: Some(1_700_000_000),
        ..Default::default()
    })
}

fn not_found() -> ProviderError {
    ProviderError::NotFound { key: "gone".into() }
}

/// Options for the store "vault" on ESO's new Azure SDK path (metadata without attributes).
fn options(deletion_policy: DeletionPolicy) -> BuildOptions<'static> {
    let vault = StoreName {
        kind: akvsync_crds::StoreKind::SecretStore,
        name: "vault".into(),
    };
    BuildOptions {
        deletion_policy,
        azure_sdk_stores: Vec::leak(vec![vault]),
    }
}

fn strings(built: &Built) -> BTreeMap<&str, &str> {
    built
        .data
        .iter()
        .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap()))
        .collect()
}

#[test]
fn data_entries_take_values_and_properties() {
    let plan = plan(&spec(serde_json::json!({"data": [
        {"secretKey": "password", "remoteRef": {"key": "db"}},
        {"secretKey": "user", "remoteRef": {"key": "secret/json", "property": "user.name"}},
    ]})))
    .unwrap();
    let fetched = Fetched {
        data: vec![
            Ok(value("hunter2")),
            Ok(value(r#"{"user":{"name":"ann"}}"#)),
        ],
        data_from: vec![],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([("password", "hunter2"), ("user", "ann")])
    );
}

#[test]
fn a_missing_property_is_an_error_naming_it() {
    let plan = plan(&spec(serde_json::json!({"data": [{"secretKey": "a", "remoteRef": {"key": "s", "property": "nope"}}]}))).unwrap();
    let fetched = Fetched {
        data: vec![Ok(value("{}"))],
        data_from: vec![],
    };
    let error = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "error processing spec.data[0] (key: s), err: property nope does not exist in key s"
    );
}

#[test]
fn data_wins_over_data_from_on_equal_keys() {
    let plan = plan(&spec(serde_json::json!({
        "data": [{"secretKey": "a", "remoteRef": {"key": "single"}}],
        "dataFrom": [{"extract": {"key": "json"}}],
    })))
    .unwrap();
    let fetched = Fetched {
        data: vec![Ok(value("from-data"))],
        data_from: vec![Ok(FetchedFrom::Extract(value(
            r#"{"a":"from-extract","b":"kept"}"#,
        )))],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([("a", "from-data"), ("b", "kept")])
    );
}

#[test]
fn extract_keeps_non_string_values_as_raw_json() {
    let plan = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "json"}}]}),
    ))
    .unwrap();
    let raw = r#"{"s":"text","n":123,"o":{ "Street": "Myroad st." },"t":true,"z":null}"#;
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(raw)))],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([
            ("s", "text"),
            ("n", "123"),
            ("o", r#"{ "Street": "Myroad st." }"#),
            ("t", "true"),
            ("z", "null")
        ])
    );
}

#[test]
fn extract_of_a_non_object_is_an_unmarshalling_error() {
    let plan = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "plain"}}]}),
    ))
    .unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value("certainly not json")))],
    };
    let error = build(&plan, &fetched, options(DeletionPolicy::Retain))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "error processing spec.dataFrom[0].extract, err: error unmarshalling json data: invalid character 'c' looking for beginning of value"
    );
}

#[test]
fn find_results_are_converted_rewritten_and_decoded() {
    let plan = plan(&spec(serde_json::json!({"dataFrom": [
        {"find": {"name": {"regexp": "^app-"}, "decodingStrategy": "Base64"},
         "rewrite": [{"regexp": {"source": "^app-(.*)$", "target": "$1"}}]}
    ]})))
    .unwrap();
    let found = vec![
        ("app-one".to_owned(), value("b25l")),
        ("app-two".to_owned(), value("dHdv")),
    ];
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Find(found))],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([("one", "one"), ("two", "two")])
    );
}

#[test]
fn unicode_conversion_collisions_and_invalid_keys_are_errors() {
    let plan_unicode =
        plan(&spec(serde_json::json!({"dataFrom": [{"extract": {"key": "j", "conversionStrategy": "Unicode"}}]}))).unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"a/b":"x"}"#)))],
    };
    let built = build(&plan_unicode, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(strings(&built), BTreeMap::from([("a_U002f_b", "x")]));

    let plan_default = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "j"}}]}),
    ))
    .unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"a/b":"x","a b":"y"}"#)))],
    };
    let error = build(&plan_default, &fetched, options(DeletionPolicy::Retain)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "error processing spec.dataFrom[0].extract, err: error applying conversion strategy Default to keys: secret name collision during conversion: a_b"
    );

    let plan_rewrite = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "j"},
        "rewrite": [{"regexp": {"source": "a", "target": "a/"}}]}]}),
    ))
    .unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"a":"x"}"#)))],
    };
    let error = build(&plan_rewrite, &fetched, options(DeletionPolicy::Retain))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "error processing spec.dataFrom[0].extract, err: invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): key has invalid character /, only alphanumeric, '-', '.' and '_' are allowed: a/"
    );
}

#[test]
fn a_missing_remote_secret_fails_under_retain_and_is_skipped_otherwise() {
    let plan = plan(&spec(serde_json::json!({"data": [
        {"secretKey": "a", "remoteRef": {"key": "gone"}},
        {"secretKey": "b", "remoteRef": {"key": "here"}},
    ]})))
    .unwrap();
    let fetched = || Fetched {
        data: vec![Err(not_found()), Ok(value("v"))],
        data_from: vec![],
    };
    let error = build(&plan, &fetched(), options(DeletionPolicy::Retain)).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("error processing spec.data[0] (key: gone), err:"),
        "{error}"
    );
    for policy in [DeletionPolicy::Delete, DeletionPolicy::Merge] {
        let built = build(&plan, &fetched(), options(policy)).unwrap();
        assert_eq!(strings(&built), BTreeMap::from([("b", "v")]));
        assert_eq!(
            built.missing,
            ["secret does not exist at provider using spec.data[0] (key=gone)"]
        );
    }
}

#[test]
fn transient_errors_fail_under_every_deletion_policy() {
    let plan = plan(&spec(
        serde_json::json!({"data": [{"secretKey": "a", "remoteRef": {"key": "a"}}]}),
    ))
    .unwrap();
    for policy in [
        DeletionPolicy::Delete,
        DeletionPolicy::Merge,
        DeletionPolicy::Retain,
    ] {
        let fetched = Fetched {
            data: vec![Err(ProviderError::Throttled { retry_after: None })],
            data_from: vec![],
        };
        assert!(build(&plan, &fetched, options(policy)).is_err());
    }
}

#[test]
fn metadata_fetch_returns_tags_as_go_json_or_one_tag() {
    let plan = plan(&spec(serde_json::json!({"data": [
        {"secretKey": "all", "remoteRef": {"key": "s", "metadataPolicy": "Fetch"}},
        {"secretKey": "one", "remoteRef": {"key": "s", "metadataPolicy": "Fetch", "property": "owner"}},
        {"secretKey": "nested", "remoteRef": {"key": "s", "metadataPolicy": "Fetch", "property": "cfg.a"}},
    ]})))
    .unwrap();
    let v = tagged("value", &[("owner", "team<a>&b"), ("cfg", r#"{"a":"1"}"#)]);
    let fetched = Fetched {
        data: vec![Ok(v.clone()), Ok(v.clone()), Ok(v)],
        data_from: vec![],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    let data = strings(&built);
    assert_eq!(
        data["all"],
        r#"{"cfg":"{\"a\":\"1\"}","owner":"team\u003ca\u003e\u0026b"}"#
    );
    assert_eq!(data["one"], "team<a>&b");
    assert_eq!(data["nested"], "1");

    let legacy = build(
        &plan,
        &Fetched {
            data: vec![Ok(tagged("v", &[])); 3],
            data_from: vec![],
        },
        BuildOptions {
            deletion_policy: DeletionPolicy::Delete,
            azure_sdk_stores: &[],
        },
    );
    let error = legacy.unwrap_err().to_string();
    assert_eq!(
        error,
        "error processing spec.data[1] (key: s), err: tag owner does not exist"
    );
}

#[test]
fn extract_with_metadata_fetch_prefixes_keys_with_the_secret_name() {
    let plan = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "app", "metadataPolicy": "Fetch"}}]}),
    ))
    .unwrap();
    let v = tagged("value", &[("env", "prod"), ("cfg", r#"{"a":"1","b":"2"}"#)]);
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(v))],
    };
    let built = build(
        &plan,
        &fetched,
        BuildOptions {
            deletion_policy: DeletionPolicy::Retain,
            azure_sdk_stores: &[],
        },
    )
    .unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([
            ("app_attribute.created", "2023-11-14T22:13:20Z"),
            ("app_cfg_a", "1"),
            ("app_cfg_b", "2"),
            ("app_env", "prod"),
        ])
    );
}

#[test]
fn rewrite_transform_templates_rename_keys() {
    let renaming = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "j"},
        "rewrite": [{"transform": {"template": "app_{{ .value | upper }}"}}]}]}),
    ))
    .unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"db":"x"}"#)))],
    };
    let built = build(&renaming, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(strings(&built), BTreeMap::from([("app_DB", "x")]));

    let broken = plan(&spec(
        serde_json::json!({"dataFrom": [{"extract": {"key": "j"},
        "rewrite": [{"transform": {"template": "{{ .value | nosuchfunction }}"}}]}]}),
    ))
    .unwrap();
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"db":"x"}"#)))],
    };
    let error = build(&broken, &fetched, options(DeletionPolicy::Retain))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        r#"error processing spec.dataFrom[0].extract, err: error applying rewrite to keys: failed rewrite operation[0]: transform failed with failed to parse template: template: transform:1: function "nosuchfunction" not defined"#
    );
}

#[test]
fn null_byte_policy_fail_refuses_values_with_nul() {
    let strict = plan(&spec(serde_json::json!({"data": [
        {"secretKey": "bin", "remoteRef": {"key": "b", "decodingStrategy": "Base64", "nullBytePolicy": "Fail"}}
    ]})))
    .unwrap();
    let fetched = || Fetched {
        data: vec![Ok(value("AAE="))],
        data_from: vec![],
    };
    let error = build(&strict, &fetched(), options(DeletionPolicy::Retain)).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"error processing spec.data[0] (key: b), err: fetched secret value for key "bin" contains null bytes; use a text-safe format such as PEM/base64 or leave nullBytePolicy unset for intentional binary data"#
    );
    let lenient = plan(&spec(serde_json::json!({"data": [
        {"secretKey": "bin", "remoteRef": {"key": "b", "decodingStrategy": "Base64"}}
    ]})))
    .unwrap();
    assert_eq!(
        build(&lenient, &fetched(), options(DeletionPolicy::Retain))
            .unwrap()
            .data["bin"],
        [0, 1]
    );
}

#[test]
fn two_entries_writing_one_key_keep_the_later_and_say_so() {
    let plan = plan(&spec(serde_json::json!({
        "data": [
            {"secretKey": "k", "remoteRef": {"key": "first"}},
            {"secretKey": "k", "remoteRef": {"key": "second"}},
        ],
        "dataFrom": [{"extract": {"key": "object"}}],
    })))
    .unwrap();
    let fetched = Fetched {
        data: vec![Ok(value("1")), Ok(value("2"))],
        data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"k":"0","other":"x"}"#)))],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(strings(&built)["k"], "2", "the later entry wins, as in ESO");
    assert_eq!(
        built.overwritten,
        [
            r#"spec.dataFrom[0] and spec.data[0] both write key "k": spec.data[0] wins, as it comes later"#,
            r#"spec.data[0] and spec.data[1] both write key "k": spec.data[1] wins, as it comes later"#,
        ]
    );
}

/// ESO's texts for what goes wrong inside one entry, wrapped as its controller wraps them.
#[test]
fn entry_errors_carry_esos_texts() {
    let cases: [(serde_json::Value, Fetched, &str); 5] = [
        (
            serde_json::json!({"data": [{"secretKey": "a", "remoteRef": {"key": "db", "decodingStrategy": "Base64"}}]}),
            Fetched {
                data: vec![Ok(value("dGVzd*=="))],
                data_from: vec![],
            },
            "error processing spec.data[0] (key: db), err: error applying decoding strategy Base64 to data: illegal base64 data at input byte 5",
        ),
        (
            serde_json::json!({"dataFrom": [{"extract": {"key": "j", "decodingStrategy": "Base64URL"}}]}),
            Fetched {
                data: vec![],
                data_from: vec![Ok(FetchedFrom::Extract(value(r#"{"k":"a"}"#)))],
            },
            "error processing spec.dataFrom[0].extract, err: error applying decoding strategy Base64URL to data: failure decoding key k: illegal base64 data at input byte 0",
        ),
        (
            serde_json::json!({"dataFrom": [{"extract": {"key": "j"}}]}),
            Fetched {
                data: vec![],
                data_from: vec![Ok(FetchedFrom::Extract(value(r#""text""#)))],
            },
            "error processing spec.dataFrom[0].extract, err: error unmarshalling json data: json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
        ),
        (
            serde_json::json!({"dataFrom": [{"find": {"name": {"regexp": "."}}}]}),
            Fetched {
                data: vec![],
                data_from: vec![Err(ProviderError::Forbidden {
                    message: "no".into(),
                })],
            },
            "error processing spec.dataFrom[0].find, err: error getting all secrets: access denied: no",
        ),
        (
            serde_json::json!({"data": [{"secretKey": "a", "remoteRef": {"key": "gone"}}]}),
            Fetched {
                data: vec![Err(not_found())],
                data_from: vec![],
            },
            "error processing spec.data[0] (key: gone), err: Secret does not exist",
        ),
    ];
    for (json, fetched, expected) in cases {
        let plan = plan(&spec(json)).unwrap();
        let error = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn generated_values_are_rewritten_and_merged_in_entry_order() {
    let plan = plan::plan(&spec(serde_json::json!({
        "dataFrom": [
            {"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}},
             "rewrite": [{"regexp": {"source": "^password$", "target": "db-password"}}]},
            {"extract": {"key": "config"}}
        ]
    })))
    .unwrap();
    let generated = BTreeMap::from([("password".to_owned(), b"s3cret".to_vec())]);
    let fetched = Fetched {
        data: vec![],
        data_from: vec![
            Ok(FetchedFrom::Generated(Ok(generated))),
            Ok(FetchedFrom::Extract(value(
                r#"{"db-password": "from-vault", "user": "u"}"#,
            ))),
        ],
    };
    let built = build(&plan, &fetched, options(DeletionPolicy::Retain)).unwrap();
    assert_eq!(
        strings(&built),
        BTreeMap::from([("db-password", "from-vault"), ("user", "u")])
    );
    assert_eq!(built.overwritten.len(), 1, "{:?}", built.overwritten);
}

#[test]
fn a_generator_failure_is_reported_in_esos_words() {
    let plan = plan::plan(&spec(serde_json::json!({
        "dataFrom": [{"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]
    })))
    .unwrap();
    let failure = crate::generate::GenerateFailure::Generate(
        crate::generate::PasswordError::ExceedsTotalLength.into(),
    );
    let fetched = Fetched {
        data: vec![],
        data_from: vec![Ok(FetchedFrom::Generated(Err(failure)))],
    };
    let error = build(&plan, &fetched, options(DeletionPolicy::Delete)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "error processing spec.dataFrom[0].sourceRef.generatorRef, err: error using generator: number of digits and symbols must be less than total length"
    );
}
