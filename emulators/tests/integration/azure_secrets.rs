//! The Azure SDK secret client against the emulator: every secret operation and its errors.

use crate::azure_support;

use std::collections::HashMap;

use akvsync_emulators::azure::SecretOptions;
use azure_security_keyvault_secrets::ResourceExt;
use azure_security_keyvault_secrets::models::{
    SecretClientGetSecretOptions, SecretClientListSecretPropertiesOptions,
    SecretClientUpdateSecretPropertiesOptions, SetSecretParameters,
    UpdateSecretPropertiesParameters,
};
use azure_support::*;
use futures::TryStreamExt;

fn params(value: &str) -> SetSecretParameters {
    SetSecretParameters {
        value: Some(value.to_string()),
        ..SetSecretParameters::default()
    }
}

#[tokio::test]
async fn set_get_update_and_list_versions_round_trip() {
    let emulator = start().await;
    let client = admin_secrets(&emulator);
    let first = SetSecretParameters {
        value: Some("one".into()),
        content_type: Some("text/plain".into()),
        tags: Some(HashMap::from([("env".to_string(), "dev".to_string())])),
        ..SetSecretParameters::default()
    };
    let first = within(client.set_secret("db-pass", first.try_into().unwrap(), None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let first_version = first.resource_id().unwrap().version.unwrap();
    assert_eq!(first_version.len(), 32);
    assert_eq!(first.value.as_deref(), Some("one"));
    assert_eq!(first.content_type.as_deref(), Some("text/plain"));
    assert_eq!(first.tags.as_ref().unwrap()["env"], "dev");
    let attributes = first.attributes.as_ref().unwrap();
    assert_eq!(attributes.enabled, Some(true));
    assert!(attributes.created.is_some() && attributes.recovery_level.is_some());

    let second = within(client.set_secret("db-pass", params("two").try_into().unwrap(), None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        second.previous_version.as_deref(),
        Some(first_version.as_str())
    );

    let latest = within(client.get_secret("DB-PASS", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        latest.value.as_deref(),
        Some("two"),
        "names are case-insensitive"
    );
    let old = SecretClientGetSecretOptions {
        secret_version: Some(first_version.clone()),
        ..Default::default()
    };
    let old = within(client.get_secret("db-pass", Some(old)))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(old.value.as_deref(), Some("one"));

    let update = UpdateSecretPropertiesParameters {
        content_type: Some("application/json".into()),
        tags: Some(HashMap::from([("team".to_string(), "a".to_string())])),
        ..Default::default()
    };
    let options = SecretClientUpdateSecretPropertiesOptions {
        secret_version: Some(first_version.clone()),
        ..Default::default()
    };
    let updated = within(client.update_secret_properties(
        "db-pass",
        update.try_into().unwrap(),
        Some(options),
    ))
    .await
    .unwrap()
    .into_model()
    .unwrap();
    assert_eq!(updated.content_type.as_deref(), Some("application/json"));
    assert_eq!(updated.tags.unwrap()["team"], "a");
    assert!(updated.value.is_none(), "update does not return the value");

    let versions: Vec<_> = within(
        client
            .list_secret_properties_versions("db-pass", None)
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().all(|v| {
        v.id.as_ref()
            .unwrap()
            .ends_with(&v.resource_id().unwrap().version.unwrap())
    }));

    let stats = emulator.stats();
    assert_eq!(
        stats.challenges(VAULT),
        1,
        "one challenge, then the token is reused"
    );
    assert_eq!(stats.gets(VAULT), 2);
    assert_eq!(stats.requests(VAULT, "SetSecret", 200), 2);
    assert_eq!(stats.token_requests(TENANT), 1);
}

#[tokio::test]
async fn list_pages_with_next_link_and_never_returns_values() {
    let emulator = start().await;
    for i in 0..7 {
        emulator
            .set_secret(VAULT, &format!("s{i}"), "v", SecretOptions::default())
            .unwrap();
    }
    emulator.disable_secret(VAULT, "s3", None).unwrap();
    let seeded_at = 1_690_000_000;
    let old = SecretOptions {
        created: Some(seeded_at),
        ..SecretOptions::default()
    };
    emulator.set_secret(VAULT, "s6", "v", old).unwrap();
    let client = admin_secrets(&emulator);
    let options = SecretClientListSecretPropertiesOptions {
        maxresults: Some(3),
        ..Default::default()
    };
    let items: Vec<_> = within(
        client
            .list_secret_properties(Some(options))
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 7);
    let disabled = items
        .iter()
        .find(|i| i.resource_id().unwrap().name == "s3")
        .unwrap();
    assert_eq!(disabled.attributes.as_ref().unwrap().enabled, Some(false));
    // Listings carry each secret's last change; a seed may date it in the past.
    let seeded = items
        .iter()
        .find(|i| i.resource_id().unwrap().name == "s6")
        .unwrap();
    let updated = seeded.attributes.as_ref().unwrap().updated.unwrap();
    assert_eq!(updated.unix_timestamp(), seeded_at);
    assert!(
        items
            .iter()
            .filter(|i| i.resource_id().unwrap().name != "s6")
            .all(|i| i
                .attributes
                .as_ref()
                .unwrap()
                .updated
                .unwrap()
                .unix_timestamp()
                > seeded_at)
    );
    assert!(
        items
            .iter()
            .all(|i| i.resource_id().unwrap().version.is_none()),
        "list ids carry no version"
    );
    assert_eq!(emulator.stats().requests(VAULT, "ListSecrets", 200), 3);

    let too_many = SecretClientListSecretPropertiesOptions {
        maxresults: Some(26),
        ..Default::default()
    };
    let error = within(
        client
            .list_secret_properties(Some(too_many))
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));
}

#[tokio::test]
async fn delete_is_soft_then_recover_and_purge_work() {
    let emulator = start().await;
    let client = admin_secrets(&emulator);
    within(client.set_secret("gone", params("v1").try_into().unwrap(), None))
        .await
        .unwrap();
    within(client.set_secret("gone", params("v2").try_into().unwrap(), None))
        .await
        .unwrap();
    let deleted = within(client.delete_secret("gone", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(
        deleted
            .recovery_id
            .as_ref()
            .unwrap()
            .ends_with("/deletedsecrets/gone")
    );
    assert!(deleted.scheduled_purge_date.is_some() && deleted.deleted_date.is_some());

    let error = within(client.get_secret("gone", None)).await.unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
    let error = within(client.set_secret("gone", params("v3").try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (409, "Conflict".into()));

    let found = within(client.get_deleted_secret("gone", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(found.id.unwrap().contains("/secrets/gone/"));
    let listed: Vec<_> = within(
        client
            .list_deleted_secret_properties(None)
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 1);

    within(client.recover_deleted_secret("gone", None))
        .await
        .unwrap();
    let back = within(client.get_secret("gone", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(back.value.as_deref(), Some("v2"));
    let versions: Vec<_> = within(
        client
            .list_secret_properties_versions("gone", None)
            .unwrap()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    assert_eq!(versions.len(), 2, "recover restores every version");

    within(client.delete_secret("gone", None)).await.unwrap();
    within(client.purge_deleted_secret("gone", None))
        .await
        .unwrap();
    assert_eq!(
        emulator.stats().requests(VAULT, "PurgeDeletedSecret", 204),
        1
    );
    let error = within(client.get_deleted_secret("gone", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
    within(client.set_secret("gone", params("fresh").try_into().unwrap(), None))
        .await
        .expect("a purged name is free again");
    let error = within(client.purge_deleted_secret("never-deleted", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
    let error = within(client.recover_deleted_secret("never-deleted", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
}

#[tokio::test]
async fn disabled_versions_are_forbidden_but_listed() {
    let emulator = start().await;
    let v1 = emulator
        .set_secret(VAULT, "flag", "old", SecretOptions::default())
        .unwrap();
    emulator
        .set_secret(VAULT, "flag", "new", SecretOptions::default())
        .unwrap();
    emulator.disable_secret(VAULT, "flag", None).unwrap();
    let client = admin_secrets(&emulator);
    let error = within(client.get_secret("flag", None)).await.unwrap_err();
    assert_eq!(status_and_code(&error), (403, "Forbidden".into()));
    let old = SecretClientGetSecretOptions {
        secret_version: Some(v1),
        ..Default::default()
    };
    let old = within(client.get_secret("flag", Some(old)))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        old.value.as_deref(),
        Some("old"),
        "an enabled older version still reads"
    );
}

#[tokio::test]
async fn invalid_input_gets_bad_parameter_and_missing_gets_not_found() {
    let emulator = start().await;
    let client = admin_secrets(&emulator);
    let error = within(client.set_secret("bad_name", params("v").try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));

    let too_big = "x".repeat(25 * 1024 + 1);
    let error = within(client.set_secret("big", params(&too_big).try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));
    let at_limit = "x".repeat(25 * 1024);
    within(client.set_secret("big", params(&at_limit).try_into().unwrap(), None))
        .await
        .expect("25 KB is allowed");

    let tags: HashMap<String, String> = (0..16)
        .map(|i| (format!("t{i}"), "v".to_string()))
        .collect();
    let tagged = SetSecretParameters {
        tags: Some(tags),
        ..params("v")
    };
    let error = within(client.set_secret("tagged", tagged.try_into().unwrap(), None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (400, "BadParameter".into()));

    let error = within(client.get_secret("missing", None))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
    let missing_version = SecretClientGetSecretOptions {
        secret_version: Some("0123456789abcdef0123456789abcdef".into()),
        ..Default::default()
    };
    within(client.set_secret("present", params("v").try_into().unwrap(), None))
        .await
        .unwrap();
    let error = within(client.get_secret("present", Some(missing_version)))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (404, "SecretNotFound".into()));
}

#[tokio::test]
async fn read_only_principal_gets_forbidden_by_rbac_on_write() {
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "shared", "v", SecretOptions::default())
        .unwrap();
    let reader = secrets(
        &emulator,
        VAULT,
        credential(&emulator, TENANT, READER),
        false,
    );
    let value = within(reader.get_secret("shared", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(value.value.as_deref(), Some("v"));
    let error = within(reader.set_secret("shared", params("w").try_into().unwrap(), None))
        .await
        .unwrap_err();
    // The real RBAC message holds "\r\n" escapes, which azure_core 1.x cannot borrow while
    // parsing, so the SDK reports the status as the code; the body still says why.
    assert_eq!(error.http_status().map(u16::from), Some(403));
    let body = error_body(&error);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "ForbiddenByRbac");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secrets/setSecret/action")
    );
    let error = within(reader.delete_secret("shared", None))
        .await
        .unwrap_err();
    assert_eq!(
        error_body(&error)["error"]["innererror"]["code"],
        "ForbiddenByRbac"
    );
    let stats = emulator.stats();
    assert_eq!(stats.requests(VAULT, "SetSecret", 403), 1);
    assert_eq!(stats.by_principal(READER), 3);
}

#[tokio::test]
async fn unknown_paths_methods_and_missing_tokens_never_succeed() {
    let emulator = start().await;
    let http = emulator.http_client().unwrap();
    let base = emulator.vault_url(VAULT);

    let challenge = within(
        http.put(format!("{base}secrets/x?api-version=2025-07-01"))
            .body("{")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(challenge.status().as_u16(), 401);
    let header = challenge.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        header.contains(&format!("resource=\"{}\"", emulator.resource())),
        "{header}"
    );
    assert!(header.contains(&format!(
        "authorization=\"{}/{TENANT}\"",
        emulator.authority_host()
    )));

    let token = credential(&emulator, TENANT, ADMIN)
        .get_token(&[&format!("{}/.default", emulator.resource())], None)
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.token.secret());
    let not_found = within(
        http.get(format!("{base}nothing/here?api-version=2025-07-01"))
            .header("authorization", &bearer)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(not_found.status().as_u16(), 404);
    let body: serde_json::Value = within(not_found.json()).await.unwrap();
    assert!(body["error"]["code"].is_string());

    let wrong_method = within(
        http.post(format!("{base}secrets?api-version=2025-07-01"))
            .header("authorization", &bearer)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);

    let no_version = within(
        http.get(format!("{base}secrets"))
            .header("authorization", &bearer)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(no_version.status().as_u16(), 400);

    let bad_json = within(
        http.put(format!("{base}secrets/x?api-version=2025-07-01"))
            .header("authorization", &bearer)
            .body("{")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(bad_json.status().as_u16(), 400);
}
