//! Creation and deletion policies, missing and disabled remote secrets, cluster store
//! conditions and throttling, end to end against both emulators.

use crate::operator_world;

use akvsync_crds::ExternalSecret;
use akvsync_emulators::azure::{Limits, SecretOptions};
use kube::Api;
use operator_world::{NAMESPACE, TENANT, VAULT, World, eventually, external_secret_yaml, timed};

fn with_target(yaml: &str, target: &str) -> String {
    let (head, tail) = yaml.split_once("  target:\n").expect("a target block");
    let (name_line, rest) = tail.split_once('\n').expect("target name");
    format!("{head}  target:\n{name_line}\n{target}{rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_decide_what_a_removed_remote_secret_does() {
    let mut world = World::new().await;
    for name in ["kept", "gone"] {
        world.set_secret(name, "value");
    }
    world.start_operator().await;
    for (es, policy) in [
        ("retain", "Retain"),
        ("delete", "Delete"),
        ("merge", "Merge"),
    ] {
        let yaml = external_secret_yaml(NAMESPACE, es, "1s", &[("kept", "kept"), ("gone", "gone")]);
        world
            .apply_yaml(&with_target(
                &yaml,
                &format!("    deletionPolicy: {policy}\n"),
            ))
            .await;
        world.wait_for_value(NAMESPACE, es, "gone", "value").await;
    }
    world.azure.delete_secret(VAULT, "gone").unwrap();

    // Retain: the sync fails and the Secret keeps every key.
    let (reason, message) = world.wait_for_ready(NAMESPACE, "retain", "False").await;
    assert_eq!(reason, "SecretSyncedError");
    assert!(message.contains("spec.data[1] (key: gone)"), "{message}");
    let retained = world.k8s_secret(NAMESPACE, "retain").await.unwrap();
    assert!(retained.data.unwrap().contains_key("gone"));

    // Delete and Merge: the missing entry is skipped and its key leaves the Secret.
    for es in ["delete", "merge"] {
        eventually(&format!("{es} to drop the removed key"), || async {
            let data = world.k8s_secret(NAMESPACE, es).await?.data?;
            (!data.contains_key("gone") && data.contains_key("kept")).then_some(())
        })
        .await;
    }

    // Delete with nothing left deletes the Secret.
    world.azure.delete_secret(VAULT, "kept").unwrap();
    eventually("the Delete policy to delete the Secret", || async {
        world
            .k8s_secret(NAMESPACE, "delete")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    // ESO: Ready stays True with reason SecretDeleted.
    let (status, message) = world
        .wait_for_reason(NAMESPACE, "delete", "SecretDeleted")
        .await;
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("True", "secret deleted due to DeletionPolicy=Delete")
    );
}

fn find_yaml(name: &str, regexp: &str, deletion_policy: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n    deletionPolicy: {deletion_policy}\n  dataFrom:\n    - find:\n        name:\n          regexp: \"{regexp}\"\n"
    )
}

/// ESO (`externalsecret_controller.go`, `len(dataMap) == 0`): no provider data at all creates
/// nothing with Retain, deletes the Secret with Delete, and goes on to write with Merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_provider_data_follows_the_deletion_policy_as_eso_does() {
    let mut world = World::new().await;
    world.set_secret("app-one", "1");
    world.start_operator().await;

    world
        .apply_yaml(&find_yaml("retain", "^nothing-", "Retain"))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "retain", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "SecretSynced",
            "secret retained due to DeletionPolicy=Retain"
        )
    );
    assert!(
        world.k8s_secret(NAMESPACE, "retain").await.is_none(),
        "Retain with no data creates no Secret"
    );

    world
        .apply_yaml(&find_yaml("merge", "^nothing-", "Merge"))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "merge", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("SecretSynced", "secret synced")
    );
    let merged = world
        .k8s_secret(NAMESPACE, "merge")
        .await
        .expect("Merge writes the Secret");
    assert!(merged.data.unwrap_or_default().is_empty());

    world
        .apply_yaml(&find_yaml("delete", "^app-", "Delete"))
        .await;
    world
        .wait_for_value(NAMESPACE, "delete", "app-one", "1")
        .await;
    world.azure.delete_secret(VAULT, "app-one").unwrap();
    let (status, message) = world
        .wait_for_reason(NAMESPACE, "delete", "SecretDeleted")
        .await;
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("True", "secret deleted due to DeletionPolicy=Delete")
    );
    assert!(world.k8s_secret(NAMESPACE, "delete").await.is_none());
    assert!(
        world
            .events(NAMESPACE, "delete")
            .await
            .contains(&("Normal".into(), "Deleted".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_policies_own_orphan_merge_or_leave_the_secret() {
    let mut world = World::new().await;
    world.set_secret("v", "remote");
    world
        .secret(NAMESPACE, "existing", &[("local", "kept")])
        .await;
    world.start_operator().await;

    let merge = with_target(
        &external_secret_yaml(NAMESPACE, "existing", "1h", &[("v", "v")]),
        "    creationPolicy: Merge\n",
    );
    world.apply_yaml(&merge).await;
    let merged = world
        .wait_for_value(NAMESPACE, "existing", "v", "remote")
        .await;
    assert!(
        merged.data.as_ref().unwrap().contains_key("local"),
        "Merge keeps the Secret's own keys"
    );
    assert!(merged.metadata.owner_references.is_none());

    let merge_missing = with_target(
        &external_secret_yaml(NAMESPACE, "absent", "1h", &[("v", "v")]),
        "    creationPolicy: Merge\n",
    );
    world.apply_yaml(&merge_missing).await;
    // ESO: Ready stays True with reason SecretMissing.
    let (reason, message) = world.wait_for_ready(NAMESPACE, "absent", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "SecretMissing",
            "secret will not be created due to CreationPolicy=Merge"
        )
    );

    let orphan = with_target(
        &external_secret_yaml(NAMESPACE, "orphan", "1h", &[("v", "v")]),
        "    creationPolicy: Orphan\n",
    );
    world.apply_yaml(&orphan).await;
    let orphaned = world
        .wait_for_value(NAMESPACE, "orphan", "v", "remote")
        .await;
    assert!(orphaned.metadata.owner_references.is_none());

    let none = with_target(
        &external_secret_yaml(NAMESPACE, "none", "1h", &[("v", "v")]),
        "    creationPolicy: None\n",
    );
    world.apply_yaml(&none).await;
    world.wait_for_ready(NAMESPACE, "none", "True").await;
    assert!(world.k8s_secret(NAMESPACE, "none").await.is_none());

    // A Secret controlled by something else is never overwritten.
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "first",
            "1h",
            &[("v", "v")],
        ))
        .await;
    world
        .wait_for_value(NAMESPACE, "first", "v", "remote")
        .await;
    let second = external_secret_yaml(NAMESPACE, "second", "1h", &[("other", "v")])
        .replace("    name: second\n  data", "    name: first\n  data");
    world.apply_yaml(&second).await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "second", "False").await;
    assert_eq!(message, "target is owned by another ExternalSecret");
    let first = world.k8s_secret(NAMESPACE, "first").await.unwrap();
    assert!(!first.data.unwrap().contains_key("other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_secret_is_an_error_that_keeps_the_synced_secret() {
    let mut world = World::new().await;
    world.set_secret("toggle", "on");
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "toggle",
            "1s",
            &[("v", "toggle")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "toggle", "v", "on").await;
    world.azure.disable_secret(VAULT, "toggle", None).unwrap();
    let (reason, message) = world.wait_for_ready(NAMESPACE, "toggle", "False").await;
    assert_eq!(reason, "SecretSyncedError");
    assert!(message.contains("access denied"), "{message}");
    assert_eq!(
        world
            .k8s_secret(NAMESPACE, "toggle")
            .await
            .unwrap()
            .data
            .unwrap()["v"]
            .0,
        b"on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_store_serves_only_the_namespaces_its_conditions_allow() {
    let mut world = World::new().await;
    world.set_secret("v", "shared");
    world.namespace("denied").await;
    let cluster_store = world
        .store_yaml(NAMESPACE, "cluster", operator_world::TENANT)
        .replace("kind: SecretStore", "kind: ClusterSecretStore")
        .replace(&format!("  namespace: {NAMESPACE}\n"), "")
        .replace(
            "          key: client-id",
            &format!("          key: client-id\n          namespace: {NAMESPACE}"),
        )
        .replace(
            "          key: client-secret",
            &format!("          key: client-secret\n          namespace: {NAMESPACE}"),
        )
        .replace(
            "spec:\n",
            &format!("spec:\n  conditions:\n    - namespaces: [\"{NAMESPACE}\"]\n"),
        );
    world.apply_yaml(&cluster_store).await;
    world.start_operator().await;
    for namespace in [NAMESPACE, "denied"] {
        let yaml = external_secret_yaml(namespace, "from-cluster", "1h", &[("v", "v")]).replace(
            "name: vault\n    kind: SecretStore",
            "name: cluster\n    kind: ClusterSecretStore",
        );
        world.apply_yaml(&yaml).await;
    }
    world
        .wait_for_value(NAMESPACE, "from-cluster", "v", "shared")
        .await;
    let (_, message) = world
        .wait_for_ready("denied", "from-cluster", "False")
        .await;
    assert!(
        message.contains("not allowed from namespace \"denied\""),
        "{message}"
    );
    assert!(world.k8s_secret("denied", "from-cluster").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_vault_changes_no_secret_and_sees_bounded_requests() {
    let mut world = World::new().await;
    for index in 0..20 {
        world.set_secret(&format!("s{index}"), "steady");
    }
    world.start_operator().await;
    for index in 0..20 {
        let name = format!("es{index}");
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &name,
                "2s",
                &[("v", &format!("s{index}"))],
            ))
            .await;
    }
    for index in 0..20 {
        world
            .wait_for_value(NAMESPACE, &format!("es{index}"), "v", "steady")
            .await;
    }
    let writes_before = world.kube.stats().secret_writes;
    // A storm: 10 reads per 10 s, 429 with Retry-After beyond that.
    world
        .azure
        .set_vault_limits(
            VAULT,
            Limits {
                reads: 10,
                writes: 10,
                window_ms: 10_000,
                retry_after: true,
            },
        )
        .unwrap();
    world.azure.reset_stats();
    eventually("429s to be answered", || async {
        (world.azure.stats().throttled(VAULT) > 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let stats = world.azure.stats();
    // The limiter pauses the whole vault on a 429: each pause lets at most a handful through.
    assert!(
        stats.throttled(VAULT) <= 10,
        "{} requests were throttled",
        stats.throttled(VAULT)
    );
    assert_eq!(
        world.kube.stats().secret_writes,
        writes_before,
        "no Secret was written during the storm"
    );
    let api: Api<ExternalSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    for index in 0..20 {
        let secret = world
            .k8s_secret(NAMESPACE, &format!("es{index}"))
            .await
            .expect("the Secret survives");
        assert_eq!(secret.data.unwrap()["v"].0, b"steady");
        timed(api.get(&format!("es{index}"))).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referent_cluster_store_authenticates_with_each_namespaces_own_credentials() {
    let mut world = World::new().await;
    world.set_secret("v", "shared");
    world.namespace("team-b").await;
    let client_id = world.app.client_id.clone();
    world
        .secret(
            "team-b",
            "azure-creds",
            &[
                ("client-id", &client_id),
                ("client-secret", "team-b-has-no-access"),
            ],
        )
        .await;
    // No namespace on the refs: each consuming namespace's own `azure-creds` is used.
    let referent = world
        .store_yaml(NAMESPACE, "referent", operator_world::TENANT)
        .replace("kind: SecretStore", "kind: ClusterSecretStore")
        .replace(&format!("  namespace: {NAMESPACE}\n"), "");
    world.apply_yaml(&referent).await;
    world.start_operator().await;
    for namespace in [NAMESPACE, "team-b"] {
        let yaml = external_secret_yaml(namespace, "via-referent", "1h", &[("v", "v")]).replace(
            "name: vault\n    kind: SecretStore",
            "name: referent\n    kind: ClusterSecretStore",
        );
        world.apply_yaml(&yaml).await;
    }
    world
        .wait_for_value(NAMESPACE, "via-referent", "v", "shared")
        .await;
    let (_, message) = world
        .wait_for_ready("team-b", "via-referent", "False")
        .await;
    assert!(
        message.contains("AADSTS7000215"),
        "team-b used its own (wrong) secret: {message}"
    );
}

fn metadata_yaml(name: &str, store: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    name: {store}\n    kind: SecretStore\n  target:\n    name: {name}\n  data:\n    - secretKey: tags\n      remoteRef:\n        key: tagged\n        metadataPolicy: Fetch\n"
    )
}

/// ESO's new SDK path (`useAzureSDK: true`) answers `metadataPolicy: Fetch` with the tags alone
/// (`keyvault_new_sdk.go`); the legacy path adds `attribute.*` entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_fetch_has_attributes_only_on_the_legacy_sdk_path() {
    let mut world = World::new().await;
    let tags = SecretOptions {
        tags: [
            ("tagname".to_owned(), "tagvalue".to_owned()),
            ("tagname2".to_owned(), "tagvalue2".to_owned()),
        ]
        .into(),
        ..Default::default()
    };
    world.azure.set_secret(VAULT, "tagged", "v", tags).unwrap();
    world.start_operator().await;
    let sdk_store = format!(
        "{}      useAzureSDK: true\n",
        world.store_yaml(NAMESPACE, "sdk", TENANT)
    );
    world.apply_yaml(&sdk_store).await;
    world.apply_yaml(&metadata_yaml("sdk-meta", "sdk")).await;
    world
        .apply_yaml(&metadata_yaml("legacy-meta", "vault"))
        .await;

    world.wait_for_ready(NAMESPACE, "sdk-meta", "True").await;
    let sdk = world.k8s_secret(NAMESPACE, "sdk-meta").await.unwrap();
    assert_eq!(
        String::from_utf8(sdk.data.unwrap()["tags"].0.clone()).unwrap(),
        r#"{"tagname":"tagvalue","tagname2":"tagvalue2"}"#
    );

    world.wait_for_ready(NAMESPACE, "legacy-meta", "True").await;
    let legacy = world.k8s_secret(NAMESPACE, "legacy-meta").await.unwrap();
    let legacy: serde_json::Value =
        serde_json::from_slice(&legacy.data.unwrap()["tags"].0).unwrap();
    assert_eq!(legacy["tagname"], "tagvalue");
    assert!(legacy.get("attribute.created").is_some(), "{legacy}");
}

/// Replaces the installed CRD `name` with one whose schema has no `pattern`s, as ESO's own CRDs
/// (which a team switching from ESO may keep) have none for durations.
async fn drop_schema_patterns(world: &World, name: &str) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("pattern");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let api: Api<CustomResourceDefinition> = Api::all(world.kube.client());
    let crd = timed(api.get(name)).await.unwrap();
    let mut json = serde_json::to_value(&crd).unwrap();
    strip(&mut json["spec"]);
    let relaxed: CustomResourceDefinition = serde_json::from_value(json).unwrap();
    timed(api.replace(name, &Default::default(), &relaxed))
        .await
        .unwrap();
}

/// A duration that does not parse is never replaced by a default: our CRDs reject it at the API
/// server, and under ESO's CRDs (no pattern) the ExternalSecret reports the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_refresh_interval_is_refused_or_reported_never_defaulted() {
    let mut world = World::new().await;
    world.set_secret("v", "value");
    world.start_operator().await;
    let bad = external_secret_yaml(NAMESPACE, "bad", "banana", &[("v", "v")]);
    let refused = world.try_apply_yaml(&bad).await.unwrap_err().to_string();
    assert!(
        refused.contains("spec.refreshInterval") && refused.contains("should match"),
        "{refused}"
    );

    drop_schema_patterns(&world, "externalsecrets.external-secrets.io").await;
    for (name, interval, cause) in [
        ("bad", "banana", r#"invalid duration "banana""#),
        ("negative", "-5s", r#"negative duration "-5s""#),
    ] {
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                name,
                interval,
                &[("v", "v")],
            ))
            .await;
        let (reason, message) = world.wait_for_ready(NAMESPACE, name, "False").await;
        assert_eq!(reason, "SecretSyncedError");
        assert!(
            message.ends_with(&format!("spec.refreshInterval: {cause}")),
            "{message}"
        );
        assert!(world.k8s_secret(NAMESPACE, name).await.is_none());
        assert!(
            world
                .events(NAMESPACE, name)
                .await
                .contains(&("Warning".into(), "UpdateFailed".into()))
        );
    }
}

/// akvsync never takes over the Secret a store reads its credentials from (ESO does, and the
/// store breaks): the ExternalSecret says why, and the credentials stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stores_credentials_secret_is_never_adopted() {
    let mut world = World::new().await;
    world.set_secret("v", "value");
    world.start_operator().await;
    let before = world.k8s_secret(NAMESPACE, "azure-creds").await.unwrap();
    let yaml = external_secret_yaml(NAMESPACE, "takeover", "1h", &[("client-secret", "v")])
        .replace(
            "    name: takeover\n  data",
            "    name: azure-creds\n  data",
        );
    world.apply_yaml(&yaml).await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "takeover", "False").await;
    assert_eq!(reason, "SecretSyncedError");
    assert_eq!(
        message,
        "could not update secret: secret azure-creds holds the credentials of SecretStore vault; akvsync never writes a store's credentials Secret: choose another spec.target.name"
    );
    let after = world.k8s_secret(NAMESPACE, "azure-creds").await.unwrap();
    assert_eq!(before.data, after.data);
    assert_eq!(
        before.metadata.resource_version,
        after.metadata.resource_version
    );
    world.wait_for_store(NAMESPACE, "vault", "True").await;
}

/// Two entries writing one key: the later wins, as in ESO, and a Warning event names both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_entries_writing_one_key_keep_the_later_and_warn() {
    let mut world = World::new().await;
    world.set_secret("first", "1");
    world.set_secret("second", "2");
    world.start_operator().await;
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "twice",
            "1h",
            &[("k", "first"), ("k", "second")],
        ))
        .await;
    world.wait_for_value(NAMESPACE, "twice", "k", "2").await;
    eventually("a DuplicateSecretKey warning", || async {
        world
            .events(NAMESPACE, "twice")
            .await
            .contains(&("Warning".into(), "DuplicateSecretKey".into()))
            .then_some(())
    })
    .await;
}

/// `rewrite.merge` (ESO v0.17+): the JSON objects found by `find` become one Secret's keys, or
/// one JSON value under `into`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_merge_combines_found_objects_as_eso_does() {
    let mut world = World::new().await;
    world.set_secret("db-a", r#"{"user":"u","port":5432}"#);
    world.set_secret("db-b", r#"{"password":"p"}"#);
    world.start_operator().await;
    let yaml = |name: &str, merge: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n  dataFrom:\n    - find:\n        name:\n          regexp: \"^db-\"\n      rewrite:\n        - merge: {merge}\n"
        )
    };
    world.apply_yaml(&yaml("merged", "{}")).await;
    world
        .apply_yaml(&yaml("merged-json", "{strategy: JSON, into: config}"))
        .await;
    let merged = world
        .wait_for_value(NAMESPACE, "merged", "password", "p")
        .await;
    let data = merged.data.unwrap();
    assert_eq!(data["user"].0, b"u");
    assert_eq!(data["port"].0, b"5432");
    assert_eq!(data.len(), 3);
    let json = world
        .wait_for_value(
            NAMESPACE,
            "merged-json",
            "config",
            r#"{"password":"p","port":5432,"user":"u"}"#,
        )
        .await;
    assert!(json.data.unwrap().contains_key("db-a"));
}

/// `syncWindows` (ESO v2.7+) gate periodic refreshes only: inside a deny window a changed remote
/// value is not read, while an allow window lets refreshes run; a change to the ExternalSecret
/// syncs at once whatever the windows say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_windows_gate_periodic_refreshes_but_not_changes() {
    let mut world = World::new().await;
    for name in ["free", "allowed", "denied"] {
        world.set_secret(name, "old");
    }
    world.start_operator().await;
    // A window opens every minute and stays open an hour: always active.
    let windowed = |name: &str, kind: &str| {
        external_secret_yaml(NAMESPACE, name, "1s", &[("v", name)]).replace(
            "  refreshInterval: 1s\n",
            &format!(
                "  refreshInterval: 1s\n  syncWindows:\n    kind: {kind}\n    windows:\n      - schedule: \"* * * * *\"\n        duration: 1h\n"
            ),
        )
    };
    world
        .apply_yaml(&external_secret_yaml(
            NAMESPACE,
            "free",
            "1s",
            &[("v", "free")],
        ))
        .await;
    world.apply_yaml(&windowed("allowed", "allow")).await;
    world.apply_yaml(&windowed("denied", "deny")).await;
    for name in ["free", "allowed", "denied"] {
        world.wait_for_value(NAMESPACE, name, "v", "old").await;
    }
    for name in ["free", "allowed", "denied"] {
        world.set_secret(name, "new");
    }
    world.wait_for_value(NAMESPACE, "allowed", "v", "new").await;
    world.wait_for_value(NAMESPACE, "free", "v", "new").await;
    // Several more refreshes of the ungated ExternalSecret have run since.
    let before = world.vault_reads();
    eventually("three more refreshes", || async {
        (world.vault_reads() >= before + 6).then_some(())
    })
    .await;
    let denied = world.k8s_secret(NAMESPACE, "denied").await.unwrap();
    assert_eq!(denied.data.unwrap()["v"].0, b"old", "the deny window holds");

    // A change to the ExternalSecret is not a periodic refresh.
    world
        .apply_yaml(&windowed("denied", "deny").replace(
            "  name: denied\n",
            "  name: denied\n  annotations:\n    external-secrets.io/force-sync: \"1\"\n",
        ))
        .await;
    world.wait_for_value(NAMESPACE, "denied", "v", "new").await;
}
