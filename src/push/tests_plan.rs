use akvsync_actors::remote::ObjectKind;
use akvsync_crds::PushSecretStoreRef;

use super::fixtures::{SECRET_EXAMPLE, example, only_item, source, spec, tags};
use super::{PushError, check_duplicates, plan_push, status_key};

fn metadata(spec_fields: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "kubernetes.external-secrets.io/v1alpha1",
        "kind": "PushSecretMetadata",
        "spec": spec_fields,
    })
}

fn one(secret_key: Option<&str>, remote_key: &str) -> serde_json::Value {
    let mut matched = serde_json::json!({"remoteRef": {"remoteKey": remote_key}});
    if let Some(key) = secret_key {
        matched["secretKey"] = key.into();
    }
    serde_json::json!({"data": [{"match": matched}]})
}

fn plan_error(fields: serde_json::Value, data: &[(&str, &str)]) -> String {
    plan_push(&spec(fields), &source(data))
        .expect_err("the plan fails")
        .to_string()
}

#[test]
fn the_seed_secret_example_pushes_its_value_with_content_type_expiry_and_tags() {
    let (data, spec) = example(SECRET_EXAMPLE);
    let item = only_item(&spec, &data);
    assert_eq!(item.remote.kind, ObjectKind::Secret);
    assert_eq!(item.remote.name, "my-azkv-secret-name");
    assert_eq!(item.remote.version, None);
    assert_eq!(item.value.expose(), b"my-secret-value");
    assert_eq!(item.content_type.as_deref(), Some("text/plain"));
    // 2099-12-31T23:59:59Z
    assert_eq!(item.expires, Some(4_102_444_799));
    assert_eq!(
        item.tags,
        tags(&[("environment", "production"), ("team", "platform")])
    );
    assert_eq!(item.status_key, "my-azkv-secret-name");
    assert_eq!(item.store_filter, None);
    assert_eq!(&item.source, &spec.data.as_ref().unwrap()[0]);
}

#[test]
fn a_missing_source_key_is_an_error_in_eso_words() {
    assert_eq!(
        plan_error(one(Some("absent"), "name"), &[("present", "v")]),
        "secret key absent does not exist"
    );
}

#[test]
fn without_a_secret_key_the_whole_secret_is_compact_sorted_json_without_html_escaping() {
    let item = only_item(
        &spec(one(None, "whole")),
        &source(&[("b", "<a&b>"), ("a", "line\nsep\u{2028}"), ("c", "\"q\"")]),
    );
    assert_eq!(
        String::from_utf8(item.value.expose().to_vec()).unwrap(),
        r#"{"a":"line\nsep\u2028","b":"<a&b>","c":"\"q\""}"#
    );
    assert_eq!(item.source.match_.secret_key, None);
}

#[test]
fn the_object_type_comes_from_the_prefix_and_extra_segments_are_dropped() {
    let data = source(&[("v", "x")]);
    for (remote_key, kind, name) in [
        ("plain", ObjectKind::Secret, "plain"),
        ("secret/s-1", ObjectKind::Secret, "s-1"),
        ("key/k", ObjectKind::Key, "k"),
        ("cert/c", ObjectKind::Certificate, "c"),
        ("secret/first/ignored", ObjectKind::Secret, "first"),
    ] {
        let item = only_item(&spec(one(Some("v"), remote_key)), &data);
        assert_eq!((item.remote.kind, item.remote.name.as_str()), (kind, name));
        assert_eq!(item.status_key, remote_key);
    }
}

#[test]
fn an_unknown_prefix_is_esos_unsupported_type_error() {
    assert_eq!(
        plan_error(one(Some("v"), "blob/x"), &[("v", "x")]),
        "secret type blob not supported"
    );
}

#[test]
fn names_key_vault_rejects_are_refused_before_any_call() {
    for remote_key in ["db_password", "secret/", "key/a.b", &"n".repeat(128)] {
        let error = plan_push(&spec(one(Some("v"), remote_key)), &source(&[("v", "x")]))
            .expect_err("an invalid name");
        assert!(
            matches!(error, PushError::InvalidRemoteName { .. }),
            "{remote_key}: {error}"
        );
    }
    assert!(
        plan_push(
            &spec(one(Some("v"), &"n".repeat(127))),
            &source(&[("v", "x")])
        )
        .is_ok()
    );
}

#[test]
fn the_status_key_appends_the_property_which_azure_otherwise_ignores() {
    let spec = spec(serde_json::json!({"data": [{"match": {
        "secretKey": "v",
        "remoteRef": {"remoteKey": "name", "property": "field"},
    }}]}));
    let item = only_item(&spec, &source(&[("v", "x")]));
    assert_eq!(item.status_key, "name/field");
    assert_eq!(status_key(&item.source), "name/field");
    assert_eq!(item.value.expose(), b"x");
}

#[test]
fn reverse_unicode_converts_source_keys_before_the_lookup() {
    let data = source(&[("db_U002f_password", "s3cret")]);
    let with = |strategy: &str| {
        let mut fields = one(Some("db/password"), "db-password");
        fields["data"][0]["conversionStrategy"] = strategy.into();
        plan_push(&spec(fields), &data)
    };
    let item = with("ReverseUnicode").expect("converted").remove(0);
    assert_eq!(item.value.expose(), b"s3cret");
    assert_eq!(
        with("None").expect_err("not converted").to_string(),
        "secret key db/password does not exist"
    );
}

#[test]
fn a_reverse_unicode_collision_is_an_error() {
    let mut fields = one(Some("a/b"), "ab");
    fields["data"][0]["conversionStrategy"] = "ReverseUnicode".into();
    assert_eq!(
        plan_error(fields, &[("a_U002f_b", "1"), ("a/b", "2")]),
        "could not apply conversion strategy to keys: secret name collision during conversion: a/b"
    );
}

#[test]
fn the_template_adds_and_overwrites_keys_and_keeps_the_source_keys() {
    let mut fields = serde_json::json!({"data": [
        {"match": {"secretKey": "greeting", "remoteRef": {"remoteKey": "greeting"}}},
        {"match": {"secretKey": "user", "remoteRef": {"remoteKey": "user"}}},
        {"match": {"secretKey": "untouched", "remoteRef": {"remoteKey": "untouched"}}},
        {"match": {"secretKey": "from-literal", "remoteRef": {"remoteKey": "literal"}}},
    ]});
    fields["template"] = serde_json::json!({
        "metadata": {"labels": {"ignored": "{{ .missing }}"}},
        "data": {
            "greeting": "hello {{ .user }}",
            "user": "{{ .user | upper }}",
        },
        "templateFrom": [{"literal": "from-literal: \"{{ .user }}!\""}],
    });
    let items = plan_push(
        &spec(fields),
        &source(&[("user", "admin"), ("untouched", "same")]),
    )
    .expect("the template renders");
    let values: Vec<(&str, &[u8])> = items
        .iter()
        .map(|item| (item.status_key.as_str(), item.value.expose()))
        .collect();
    assert_eq!(
        values,
        [
            ("greeting", &b"hello admin"[..]),
            ("user", b"ADMIN"),
            ("untouched", b"same"),
            ("literal", b"admin!"),
        ]
    );
}

#[test]
fn a_failing_template_names_its_field() {
    let mut fields = one(Some("v"), "v");
    fields["template"] = serde_json::json!({"data": {"v": "{{ .missing.deeper }}"}});
    let error = plan_push(&spec(fields), &source(&[("other", "x")])).expect_err("fails");
    assert!(matches!(error, PushError::RenderTemplate { .. }), "{error}");
    assert!(
        error.to_string().starts_with("spec.template.data[v]: "),
        "{error}"
    );
}

#[test]
fn metadata_is_parsed_strictly_with_esos_messages() {
    let with = |metadata: serde_json::Value| {
        let mut fields = one(Some("v"), "name");
        fields["data"][0]["metadata"] = metadata;
        plan_push(&spec(fields), &source(&[("v", "x")])).map(|mut items| items.remove(0))
    };
    let message = |metadata: serde_json::Value| with(metadata).expect_err("fails").to_string();

    let mut wrong_version = metadata(serde_json::json!({}));
    wrong_version["apiVersion"] = "v1".into();
    assert_eq!(
        message(wrong_version),
        r#"failed to parse push secret metadata: unexpected apiVersion "v1", expected "kubernetes.external-secrets.io/v1alpha1""#
    );
    let mut wrong_kind = metadata(serde_json::json!({}));
    wrong_kind["kind"] = "Other".into();
    assert_eq!(
        message(wrong_kind),
        r#"failed to parse push secret metadata: unexpected kind "Other", expected "PushSecretMetadata""#
    );
    let unknown_spec_field = message(metadata(serde_json::json!({"contentTyp": "x"})));
    assert!(
        unknown_spec_field.starts_with(
            "failed to parse push secret metadata: failed to parse kubernetes.external-secrets.io/v1alpha1 PushSecretMetadata: "
        ) && unknown_spec_field.contains("contentTyp"),
        "{unknown_spec_field}"
    );
    let mut unknown_top_field = metadata(serde_json::json!({}));
    unknown_top_field["extra"] = 1.into();
    assert!(message(unknown_top_field).contains("extra"));
    assert_eq!(
        message(metadata(
            serde_json::json!({"expirationDate": "2099-12-31"})
        )),
        "error parsing expiration date in metadata: parsing time \"2099-12-31\": premature end of input. Expected format: YYYY-MM-DDTHH:MM:SSZ (RFC3339). Example: 2024-12-31T20:00:00Z"
    );
    assert_eq!(
        message(metadata(serde_json::json!({"tags": {"managed-by": "me"}}))),
        "error parsing tags in metadata: Cannot specify a 'managed-by' tag"
    );

    let many = |count: usize| {
        let tags: serde_json::Map<String, serde_json::Value> = (0..count)
            .map(|i| (format!("t{i}"), serde_json::Value::from("v")))
            .collect();
        with(metadata(serde_json::json!({"tags": tags})))
    };
    assert_eq!(many(14).expect("14 user tags fit").tags.len(), 14);
    assert!(matches!(
        many(15),
        Err(PushError::TooManyTags { count: 15 })
    ));

    let offset = with(metadata(
        serde_json::json!({"expirationDate": "2030-01-01T02:00:00+02:00", "contentType": ""}),
    ))
    .expect("valid metadata");
    assert_eq!(offset.expires, Some(1_893_456_000));
    assert_eq!(offset.content_type, None);
    assert_eq!(
        with(serde_json::Value::Null).expect("null is none").tags,
        tags(&[])
    );
}

fn data_to(entry: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"dataTo": [entry]})
}

fn store(name: &str) -> serde_json::Value {
    serde_json::json!({"name": name})
}

#[test]
fn data_to_pushes_each_matched_key_rewritten_to_its_store() {
    let fields = data_to(serde_json::json!({
        "storeRef": store("azure-store"),
        "match": {"regexp": "^app_"},
        "rewrite": [
            {"regexp": {"source": "^app_", "target": "app-"}},
            {"transform": {"template": "{{ .value | replace \"_\" \"-\" }}"}},
        ],
        "metadata": metadata(serde_json::json!({"tags": {"team": "a"}})),
    }));
    let items = plan_push(
        &spec(fields),
        &source(&[("app_db_user", "u"), ("app_token", "t"), ("other", "o")]),
    )
    .expect("expands");
    let pushed: Vec<(&str, &[u8], Option<&str>)> = items
        .iter()
        .map(|item| {
            (
                item.remote.name.as_str(),
                item.value.expose(),
                item.source.match_.secret_key.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        pushed,
        [
            ("app-db-user", &b"u"[..], Some("app_db_user")),
            ("app-token", b"t", Some("app_token")),
        ]
    );
    let expected_store = PushSecretStoreRef {
        name: Some("azure-store".into()),
        ..PushSecretStoreRef::default()
    };
    for item in &items {
        assert_eq!(item.store_filter.as_ref(), Some(&expected_store));
        assert_eq!(item.tags, tags(&[("team", "a")]));
        assert_eq!(item.status_key, item.source.match_.remote_ref.remote_key);
        assert!(item.source.metadata.is_some());
    }
}

#[test]
fn data_to_with_a_remote_key_bundles_the_matched_keys_as_json() {
    let fields = data_to(serde_json::json!({
        "storeRef": store("azure-store"),
        "remoteKey": "secret/app-config",
        "match": {"regexp": "^db_"},
    }));
    let item = only_item(
        &spec(fields),
        &source(&[("db_user", "u"), ("db_pass", "<p>"), ("other", "o")]),
    );
    assert_eq!(item.remote.name, "app-config");
    assert_eq!(item.value.expose(), br#"{"db_pass":"<p>","db_user":"u"}"#);
    assert_eq!(item.source.match_.secret_key, None);
    assert_eq!(item.status_key, "secret/app-config");
}

#[test]
fn data_to_converts_keys_before_matching() {
    let fields = data_to(serde_json::json!({
        "storeRef": store("azure-store"),
        "match": {"regexp": "^a/"},
        "rewrite": [{"regexp": {"source": "/", "target": "-"}}],
        "conversionStrategy": "ReverseUnicode",
    }));
    let item = only_item(&spec(fields), &source(&[("a_U002f_b", "v")]));
    assert_eq!(item.remote.name, "a-b");
    assert_eq!(item.source.match_.secret_key.as_deref(), Some("a/b"));
}

#[test]
fn data_to_that_matches_nothing_pushes_nothing() {
    let fields = data_to(serde_json::json!({
        "storeRef": store("azure-store"),
        "match": {"regexp": "^nothing$"},
    }));
    assert_eq!(
        plan_push(&spec(fields), &source(&[("a", "v")])).unwrap(),
        []
    );
}

#[test]
fn explicit_data_wins_over_data_to_for_the_same_source_key() {
    let mut fields = data_to(serde_json::json!({"storeRef": store("azure-store")}));
    fields["data"] = serde_json::json!([
        {"match": {"secretKey": "a", "remoteRef": {"remoteKey": "explicit-a"}}},
    ]);
    let items = plan_push(&spec(fields), &source(&[("a", "1"), ("b", "2")])).unwrap();
    let names: Vec<(&str, bool)> = items
        .iter()
        .map(|item| (item.remote.name.as_str(), item.store_filter.is_some()))
        .collect();
    assert_eq!(names, [("b", true), ("explicit-a", false)]);
}

#[test]
fn duplicate_remote_keys_are_errors() {
    let two_data = serde_json::json!({"data": [
        {"match": {"secretKey": "a", "remoteRef": {"remoteKey": "same"}}},
        {"match": {"secretKey": "b", "remoteRef": {"remoteKey": "same"}}},
    ]});
    assert_eq!(
        plan_error(two_data, &[("a", "1"), ("b", "2")]),
        r#"duplicate remote key "same": source keys "a" and "b" both map to the same remote key"#
    );

    let rewrite_collision = data_to(serde_json::json!({
        "storeRef": store("azure-store"),
        "rewrite": [{"regexp": {"source": "[0-9]", "target": ""}}],
    }));
    assert_eq!(
        plan_error(rewrite_collision, &[("x1", "1"), ("x2", "2")]),
        r#"dataTo[0]: duplicate remote key "x" from source key "x2" (conflicts with x1)"#
    );

    let mut data_and_data_to = data_to(serde_json::json!({"storeRef": store("azure-store")}));
    data_and_data_to["data"] = serde_json::json!([
        {"match": {"secretKey": "a", "remoteRef": {"remoteKey": "b"}}},
    ]);
    assert!(matches!(
        plan_push(&spec(data_and_data_to), &source(&[("a", "1"), ("b", "2")])),
        Err(PushError::DuplicateRemoteKey { .. })
    ));
}

#[test]
fn data_to_entries_for_different_stores_may_share_a_remote_key_but_not_within_one_store() {
    let fields = serde_json::json!({"dataTo": [
        {"storeRef": store("store-a")},
        {"storeRef": store("store-b")},
    ]});
    let items = plan_push(&spec(fields), &source(&[("k", "v")])).expect("no conflict");
    assert_eq!(items.len(), 2);
    assert!(check_duplicates(&[&items[0]]).is_ok());
    assert!(matches!(
        check_duplicates(&[&items[0], &items[1]]),
        Err(PushError::DuplicateRemoteKey { .. })
    ));

    let same_store = serde_json::json!({"dataTo": [
        {"storeRef": store("store-a")},
        {"storeRef": store("store-a")},
    ]});
    assert!(matches!(
        plan_push(&spec(same_store), &source(&[("k", "v")])),
        Err(PushError::DuplicateRemoteKey { .. })
    ));
}

#[test]
fn invalid_data_to_entries_are_errors_naming_the_entry() {
    let data = [("a", "1")];
    assert_eq!(
        plan_error(data_to(serde_json::json!({})), &data),
        "dataTo[0]: storeRef is required"
    );
    assert_eq!(
        plan_error(
            data_to(serde_json::json!({"storeRef": {"kind": "SecretStore"}})),
            &data
        ),
        "dataTo[0]: storeRef must specify either name or labelSelector"
    );
    let both = data_to(serde_json::json!({
        "storeRef": store("s"),
        "remoteKey": "bundle",
        "rewrite": [{"regexp": {"source": "a", "target": "b"}}],
    }));
    assert!(
        plan_error(both, &data)
            .starts_with("dataTo[0]: remoteKey and rewrite are mutually exclusive")
    );
    let bad_regexp = data_to(serde_json::json!({"storeRef": store("s"), "match": {"regexp": "("}}));
    assert!(
        plan_error(bad_regexp, &data)
            .starts_with("dataTo[0]: match failed: failed to compile regexp pattern \"(\"")
    );
    let bad_rewrite = data_to(serde_json::json!({
        "storeRef": store("s"),
        "rewrite": [{"regexp": {"source": "[", "target": ""}}],
    }));
    assert!(
        plan_error(bad_rewrite, &data)
            .starts_with("dataTo[0]: rewrite failed: rewrite[0]: invalid regexp: ")
    );
    let empty = data_to(serde_json::json!({
        "storeRef": store("s"),
        "rewrite": [{"regexp": {"source": ".*", "target": ""}}],
    }));
    assert_eq!(
        plan_error(empty, &data),
        r#"dataTo[0]: empty remote key produced for source key "a""#
    );
    let bad_metadata = data_to(serde_json::json!({
        "storeRef": store("s"),
        "metadata": metadata(serde_json::json!({"tags": {"managed-by": "x"}})),
    }));
    assert_eq!(
        plan_error(bad_metadata, &data),
        "dataTo[0]: error parsing tags in metadata: Cannot specify a 'managed-by' tag"
    );
}

#[test]
fn debug_output_never_shows_values() {
    let item = only_item(&spec(one(Some("v"), "name")), &source(&[("v", "hunter2")]));
    assert!(!format!("{item:?}").contains("hunter2"));
}
