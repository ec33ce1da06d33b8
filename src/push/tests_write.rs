use akvsync_actors::remote::ObjectKind;
use akvsync_crds::UpdatePolicy;

use super::fixtures::{
    SECRET_EXAMPLE, example, expect_write, item, managed_tags, only_item, remote, remote_value,
    stored, tags,
};
use super::{
    DeleteDecision, PushError, WriteDecision, prepare_delete, prepare_write,
    set_secret_failed_message, synced_message,
};

#[test]
fn a_new_secret_is_written_with_the_ownership_tag_and_the_metadata() {
    let (data, spec) = example(SECRET_EXAMPLE);
    let item = only_item(&spec, &data);
    let request = expect_write(prepare_write(&item, None).unwrap());
    assert_eq!(
        request.key,
        remote(ObjectKind::Secret, "my-azkv-secret-name")
    );
    assert_eq!(request.value.expose(), b"my-secret-value");
    assert_eq!(request.content_type.as_deref(), Some("text/plain"));
    assert_eq!(request.expires, Some(4_102_444_799));
    assert_eq!(
        request.tags,
        managed_tags(&[("environment", "production"), ("team", "platform")])
    );
}

#[test]
fn a_secret_is_not_rewritten_when_value_expiry_content_type_and_tags_are_equal() {
    let (data, spec) = example(SECRET_EXAMPLE);
    let item = only_item(&spec, &data);
    let request = expect_write(prepare_write(&item, None).unwrap());
    let existing = stored(&request, request.value.expose());
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );

    let mut changed_value = existing.clone();
    changed_value.value = "old".into();
    let mut changed_expiry = existing.clone();
    changed_expiry.expires = Some(1);
    let mut changed_content_type = existing.clone();
    changed_content_type.content_type = Some("application/json".into());
    for existing in [changed_value, changed_expiry, changed_content_type] {
        assert_eq!(
            expect_write(prepare_write(&item, Some(&existing)).unwrap()),
            request
        );
    }
}

#[test]
fn a_tag_only_change_rewrites_the_secret_and_replaces_its_tags() {
    let item = item("name", b"value", &[("env", "prod")]);
    let mut existing = remote_value(b"value", managed_tags(&[("env", "dev"), ("extra", "x")]));
    let request = expect_write(prepare_write(&item, Some(&existing)).unwrap());
    assert_eq!(request.tags, managed_tags(&[("env", "prod")]));

    existing.tags = managed_tags(&[("env", "prod")]);
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );
}

#[test]
fn without_a_requested_content_type_the_existing_one_is_carried_over() {
    let item = item("name", b"value", &[]);
    let mut existing = remote_value(b"value", managed_tags(&[]));
    existing.content_type = Some("application/x-custom".into());
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap(),
        WriteDecision::Unchanged
    );
    existing.value = "old".into();
    let request = expect_write(prepare_write(&item, Some(&existing)).unwrap());
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-custom")
    );
}

#[test]
fn removing_the_expiration_date_rewrites_a_secret_that_has_one() {
    let item = item("name", b"value", &[]);
    let mut existing = remote_value(b"value", managed_tags(&[]));
    existing.expires = Some(4_102_444_799);
    let request = expect_write(prepare_write(&item, Some(&existing)).unwrap());
    assert_eq!(request.expires, None);
}

#[test]
fn objects_without_the_ownership_tag_are_never_overwritten() {
    let cases = [
        (
            "name",
            b"v".to_vec(),
            "cannot get secret name: not managed by external-secrets",
        ),
        (
            "key/k",
            super::fixtures::example_ec_key(),
            "cannot get key k: not managed by external-secrets",
        ),
        (
            "cert/c",
            {
                let (leaf, _, key) = super::fixtures::ca_and_leaf("c.local", true);
                format!("{leaf}{key}").into_bytes()
            },
            "cannot get certificate c: not managed by external-secrets",
        ),
    ];
    for (remote_key, value, message) in cases {
        let item = item(remote_key, &value, &[]);
        for foreign in [tags(&[]), tags(&[("managed-by", "someone-else")])] {
            let existing = remote_value(b"whatever", foreign);
            let error = prepare_write(&item, Some(&existing)).expect_err("refused");
            assert_eq!(error.to_string(), message);
            assert_eq!(error.category(), "not_managed");
            assert!(!error.is_transient());
        }
    }
}

#[test]
fn a_secret_backing_a_certificate_is_refused() {
    let item = item("secret/web", b"v", &[]);
    let mut existing = remote_value(b"pfx", managed_tags(&[]));
    existing.managed = true;
    assert_eq!(
        prepare_write(&item, Some(&existing)).unwrap_err(),
        PushError::CertificateBackedSecret { name: "web".into() }
    );
}

#[test]
fn deletes_remove_only_objects_akvsync_manages() {
    for (kind, word) in [
        (ObjectKind::Secret, "secret"),
        (ObjectKind::Key, "key"),
        (ObjectKind::Certificate, "certificate"),
    ] {
        let key = remote(kind, "n");
        assert_eq!(
            prepare_delete(&key, None).unwrap(),
            DeleteDecision::AlreadyGone
        );
        let managed = remote_value(b"v", managed_tags(&[("other", "x")]));
        assert_eq!(
            prepare_delete(&key, Some(&managed)).unwrap(),
            DeleteDecision::Delete(key.clone())
        );
        let foreign = remote_value(b"v", tags(&[("owner", "team")]));
        assert_eq!(
            prepare_delete(&key, Some(&foreign))
                .unwrap_err()
                .to_string(),
            format!("error getting {word} n: not managed by external-secrets")
        );
    }
}

#[test]
fn a_pinned_version_is_not_carried_into_the_delete() {
    let pinned = akvsync_actors::remote::RemoteKey::new(ObjectKind::Secret, "n", Some("v1".into()));
    let managed = remote_value(b"v", managed_tags(&[]));
    assert_eq!(
        prepare_delete(&pinned, Some(&managed)).unwrap(),
        DeleteDecision::Delete(remote(ObjectKind::Secret, "n"))
    );
}

#[test]
fn status_messages_are_esos() {
    assert_eq!(
        set_secret_failed_message("tls.key", "azure-store", &"boom"),
        "set secret failed: could not write remote ref tls.key to target secretstore azure-store: boom"
    );
    assert_eq!(
        synced_message(UpdatePolicy::Replace),
        "PushSecret synced successfully"
    );
    assert_eq!(
        synced_message(UpdatePolicy::IfNotExists),
        "PushSecret synced successfully. Existing secrets in providers unchanged."
    );
}

#[test]
fn requests_never_show_secret_material_in_debug_output() {
    let item = item("name", b"hunter2", &[]);
    let decision = prepare_write(&item, None).unwrap();
    assert!(!format!("{decision:?}").contains("hunter2"));
}
