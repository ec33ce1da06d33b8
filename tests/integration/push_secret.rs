//! PushSecrets end to end: Kubernetes Secrets pushed into the Key Vault emulator as secrets, keys
//! and certificates, read back with the Azure SDK for Rust.

use crate::operator_world;

use std::sync::Arc;

use akvsync_crds::PushSecret;
use akvsync_emulators::azure::{Access, Grant, PrincipalSpec, SecretOptions};
use azure_core::credentials::Secret as Credential;
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use kube::{Api, ResourceExt};
use operator_world::{NAMESPACE, TENANT, VAULT, World, eventually, timed};

fn push_yaml(name: &str, source: &str, extra: &str, data: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRefs:\n    - name: vault\n      kind: SecretStore\n  selector:\n    secret:\n      name: {source}\n{extra}  data:\n{data}"
    )
}

async fn wait_for_push(world: &World, name: &str, status: &str) -> (String, String) {
    let last = std::sync::Mutex::new(None);
    let waited = tokio::time::timeout(operator_world::TIMEOUT, async {
        loop {
            let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
            let push = timed(api.get(name)).await.unwrap();
            let ready = push
                .status
                .and_then(|s| s.conditions)
                .and_then(|c| c.into_iter().find(|c| c.type_ == "Ready"));
            if let Some(condition) = ready {
                if condition.status == status {
                    return (
                        condition.reason.unwrap_or_default(),
                        condition.message.unwrap_or_default(),
                    );
                }
                *last.lock().unwrap() = condition.message;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        panic!(
            "PushSecret {name} never became Ready={status}; last message: {:?}",
            last.lock().unwrap()
        )
    })
}

fn sdk_options(world: &World) -> azure_core::http::ClientOptions {
    world.azure.client_options().unwrap()
}

fn credential(world: &World) -> Arc<ClientSecretCredential> {
    ClientSecretCredential::new(
        TENANT,
        world.app.client_id.clone(),
        Credential::new(operator_world::CLIENT_SECRET),
        Some(ClientSecretCredentialOptions {
            client_options: sdk_options(world),
        }),
    )
    .unwrap()
}

pub(crate) fn secret_client(world: &World) -> SecretClient {
    let options = SecretClientOptions {
        client_options: sdk_options(world),
        ..Default::default()
    };
    SecretClient::new(
        &world.azure.vault_url(VAULT),
        credential(world),
        Some(options),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_with_metadata_is_pushed_once_and_again_only_when_it_changes() {
    let mut world = World::new().await;
    world
        .secret(NAMESPACE, "source", &[("password", "p@ss")])
        .await;
    world.start_operator().await;
    let data = "    - match:\n        secretKey: password\n        remoteRef:\n          remoteKey: pushed-password\n      metadata:\n        apiVersion: kubernetes.external-secrets.io/v1alpha1\n        kind: PushSecretMetadata\n        spec:\n          contentType: text/plain\n          tags:\n            team: payments\n";
    world
        .apply_yaml(&push_yaml("push", "source", "", data))
        .await;
    let (reason, message) = wait_for_push(&world, "push", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Synced", "PushSecret synced successfully")
    );

    let client = secret_client(&world);
    let pushed = timed(client.get_secret("pushed-password", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(pushed.value.as_deref(), Some("p@ss"));
    assert_eq!(pushed.content_type.as_deref(), Some("text/plain"));
    let tags = pushed.tags.unwrap();
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("external-secrets")
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("payments"));

    // Refreshes every second find nothing to write.
    let writes = || world.azure.stats().operation(VAULT, "SetSecret");
    assert_eq!(writes(), 1);
    let gets_before = world.azure.stats().operation(VAULT, "GetSecret");
    eventually("two more refreshes", || async {
        (world.azure.stats().operation(VAULT, "GetSecret") >= gets_before + 2).then_some(())
    })
    .await;
    assert_eq!(writes(), 1, "an unchanged source is not pushed again");

    world
        .secret(NAMESPACE, "source", &[("password", "n3w")])
        .await;
    eventually("the new value in the vault", || async {
        let secret = timed(client.get_secret("pushed-password", None))
            .await
            .ok()?
            .into_model()
            .ok()?;
        (secret.value.as_deref() == Some("n3w")).then_some(())
    })
    .await;
    assert_eq!(writes(), 2, "a change is exactly one write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_objects_are_refused_and_if_not_exists_leaves_them_alone() {
    let mut world = World::new().await;
    world
        .azure
        .set_secret(VAULT, "foreign", "theirs", SecretOptions::default())
        .unwrap();
    world.secret(NAMESPACE, "source", &[("v", "ours")]).await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: foreign\n";
    world
        .apply_yaml(&push_yaml("replace", "source", "", data))
        .await;
    let (reason, message) = wait_for_push(&world, "replace", "False").await;
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("not managed by external-secrets"),
        "{message}"
    );

    world
        .apply_yaml(&push_yaml(
            "if-not-exists",
            "source",
            "  updatePolicy: IfNotExists\n",
            data,
        ))
        .await;
    let (_, message) = wait_for_push(&world, "if-not-exists", "True").await;
    assert_eq!(
        message,
        "PushSecret synced successfully. Existing secrets in providers unchanged."
    );
    let client = secret_client(&world);
    let kept = timed(client.get_secret("foreign", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(kept.value.as_deref(), Some("theirs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_delete_removes_what_it_pushed() {
    let mut world = World::new().await;
    world
        .secret(NAMESPACE, "source", &[("a", "1"), ("b", "2")])
        .await;
    world.start_operator().await;
    let both = "    - match:\n        secretKey: a\n        remoteRef:\n          remoteKey: pushed-a\n    - match:\n        secretKey: b\n        remoteRef:\n          remoteKey: pushed-b\n";
    world
        .apply_yaml(&push_yaml(
            "cleanup",
            "source",
            "  deletionPolicy: Delete\n",
            both,
        ))
        .await;
    wait_for_push(&world, "cleanup", "True").await;
    let client = secret_client(&world);
    let exists = |name: &'static str| {
        let client = &client;
        async move { timed(client.get_secret(name, None)).await.is_ok() }
    };
    assert!(exists("pushed-a").await && exists("pushed-b").await);

    // Removing an entry deletes its remote object.
    let only_a =
        "    - match:\n        secretKey: a\n        remoteRef:\n          remoteKey: pushed-a\n";
    world
        .apply_yaml(&push_yaml(
            "cleanup",
            "source",
            "  deletionPolicy: Delete\n",
            only_a,
        ))
        .await;
    eventually("pushed-b to be deleted", || async {
        (!exists("pushed-b").await).then_some(())
    })
    .await;
    assert!(exists("pushed-a").await);

    // Deleting the PushSecret deletes the rest, then releases the finalizer.
    let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    timed(api.delete("cleanup", &Default::default()))
        .await
        .unwrap();
    eventually("pushed-a to be deleted", || async {
        (!exists("pushed-a").await).then_some(())
    })
    .await;
    eventually("the PushSecret to go", || async {
        timed(api.get_opt("cleanup"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_without_write_permission_gets_a_clear_status() {
    let mut world = World::new().await;
    let reader = world
        .azure
        .add_principal(
            TENANT,
            PrincipalSpec::with_secret("reader", "reader-secret"),
        )
        .unwrap();
    world
        .azure
        .grant(
            VAULT,
            &reader.client_id,
            Grant {
                secrets: Access::Read,
                ..Grant::default()
            },
        )
        .unwrap();
    world
        .secret(
            NAMESPACE,
            "reader-creds",
            &[
                ("client-id", &reader.client_id),
                ("client-secret", "reader-secret"),
            ],
        )
        .await;
    world
        .apply_yaml(
            &world
                .store_yaml(NAMESPACE, "read-only", TENANT)
                .replace("azure-creds", "reader-creds"),
        )
        .await;
    world.secret(NAMESPACE, "source", &[("v", "x")]).await;
    world.start_operator().await;
    let data = "    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: not-allowed\n";
    world
        .apply_yaml(
            &push_yaml("denied", "source", "", data).replace("name: vault", "name: read-only"),
        )
        .await;
    let (reason, message) = wait_for_push(&world, "denied", "False").await;
    assert_eq!(reason, "Errored");
    assert!(
        message.starts_with(
            "set secret failed: could not write remote ref v to target secretstore read-only: could not set secret not-allowed: access denied"
        ),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_certificates_are_imported_once() {
    let mut world = World::new().await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["pushed.example".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pushed.example");
    let cert = params.self_signed(&key).unwrap();
    world
        .secret(
            NAMESPACE,
            "tls",
            &[("tls.key", &key.serialize_pem()), ("tls.crt", &cert.pem())],
        )
        .await;
    world.start_operator().await;
    let data = "    - match:\n        secretKey: tls.key\n        remoteRef:\n          remoteKey: key/pushed-key\n    - match:\n        secretKey: p12\n        remoteRef:\n          remoteKey: cert/pushed-cert\n";
    let template = "  template:\n    data:\n      p12: '{{ fullPemToPkcs12 (index . \"tls.crt\" | toString) (index . \"tls.key\" | toString) | b64dec }}'\n";
    world
        .apply_yaml(&push_yaml("tls", "tls", template, data))
        .await;
    let (_, message) = wait_for_push(&world, "tls", "True").await;
    assert_eq!(message, "PushSecret synced successfully");

    let options = KeyClientOptions {
        client_options: sdk_options(&world),
        ..Default::default()
    };
    let keys = KeyClient::new(
        &world.azure.vault_url(VAULT),
        credential(&world),
        Some(options),
    )
    .unwrap();
    let pushed = timed(keys.get_key("pushed-key", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let jwk = pushed.key.unwrap();
    assert_eq!(jwk.x.as_deref().map(<[u8]>::len), Some(32));
    assert!(jwk.d.is_none(), "the private key is never returned");
    assert_eq!(
        pushed.tags.unwrap().get("managed-by").map(String::as_str),
        Some("external-secrets")
    );

    let stats = || {
        (
            world.azure.stats().operation(VAULT, "ImportKey"),
            world.azure.stats().operation(VAULT, "ImportCertificate"),
        )
    };
    assert_eq!(stats(), (1, 1));
    let reads = world.azure.stats().operation(VAULT, "GetKey");
    eventually("more refreshes", || async {
        (world.azure.stats().operation(VAULT, "GetKey") >= reads + 2).then_some(())
    })
    .await;
    assert_eq!(
        stats(),
        (1, 1),
        "an identical key and certificate are not imported again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_to_a_soft_deleted_name_says_so() {
    let mut world = World::new().await;
    world
        .azure
        .set_secret(VAULT, "reused", "old", SecretOptions::default())
        .unwrap();
    world.azure.delete_secret(VAULT, "reused").unwrap();
    world.secret(NAMESPACE, "source", &[("v", "new")]).await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: reused\n";
    world
        .apply_yaml(&push_yaml("reuse", "source", "", data))
        .await;
    let (reason, message) = wait_for_push(&world, "reuse", "False").await;
    assert_eq!(reason, "Errored");
    assert!(
        message.starts_with(
            "set secret failed: could not write remote ref v to target secretstore vault: could not set secret reused: "
        ) && message.contains("deleted but recoverable"),
        "{message}"
    );
}

/// A quiet PushSecret (long interval): adding the finalizer bumps the resourceVersion, and the
/// status written after the push must still land, or a later delete would find nothing to remove.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_push_secret_records_what_it_pushed_and_deletes_it_on_deletion() {
    let mut world = World::new().await;
    world.secret(NAMESPACE, "source", &[("a", "1")]).await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: a\n        remoteRef:\n          remoteKey: quiet-a\n";
    let yaml = push_yaml("quiet", "source", "  deletionPolicy: Delete\n", data)
        .replace("refreshInterval: 1s", "refreshInterval: 1h");
    world.apply_yaml(&yaml).await;
    wait_for_push(&world, "quiet", "True").await;
    let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    let push = timed(api.get("quiet")).await.unwrap();
    assert_eq!(
        push.finalizers(),
        ["pushsecret.externalsecrets.io/finalizer"]
    );
    let synced = push.status.unwrap().synced_push_secrets.unwrap_or_default();
    assert!(
        synced
            .get("SecretStore/vault")
            .is_some_and(|entries| entries.contains_key("quiet-a")),
        "syncedPushSecrets records the pushed entry: {synced:?}"
    );

    let client = secret_client(&world);
    timed(api.delete("quiet", &Default::default()))
        .await
        .unwrap();
    eventually("the PushSecret to go", || async {
        timed(api.get_opt("quiet"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        timed(client.get_secret("quiet-a", None)).await.is_err(),
        "the remote secret is deleted before the finalizer goes"
    );
}

/// ESO: a remote delete that fails keeps the finalizer, reports `Ready=False` with `Failed to
/// Delete Secrets from Provider: …`, and is retried until it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_remote_delete_keeps_the_finalizer_and_says_why() {
    let mut world = World::new().await;
    world.secret(NAMESPACE, "source", &[("a", "1")]).await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: a\n        remoteRef:\n          remoteKey: taken-a\n";
    world
        .apply_yaml(&push_yaml(
            "taken",
            "source",
            "  deletionPolicy: Delete\n",
            data,
        ))
        .await;
    wait_for_push(&world, "taken", "True").await;
    // Someone else writes a version without the ownership tag.
    world
        .azure
        .set_secret(VAULT, "taken-a", "theirs", SecretOptions::default())
        .unwrap();
    let api: Api<PushSecret> = Api::namespaced(world.kube.client(), NAMESPACE);
    timed(api.delete("taken", &Default::default()))
        .await
        .unwrap();
    let (reason, message) = wait_for_push(&world, "taken", "False").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "Errored",
            "Failed to Delete Secrets from Provider: error getting secret taken-a: not managed by external-secrets"
        )
    );
    let push = timed(api.get("taken")).await.unwrap();
    assert_eq!(
        push.finalizers(),
        ["pushsecret.externalsecrets.io/finalizer"],
        "the finalizer stays while the remote object remains"
    );
    let events = world.events(NAMESPACE, "taken").await;
    assert!(
        events.contains(&("Warning".into(), "Errored".into())),
        "{events:?}"
    );

    // Once the object is ours again, the retry deletes it and the PushSecret goes.
    let ours = SecretOptions {
        tags: [("managed-by".to_owned(), "external-secrets".to_owned())].into(),
        ..Default::default()
    };
    world.azure.set_secret(VAULT, "taken-a", "1", ours).unwrap();
    eventually("the PushSecret to go", || async {
        timed(api.get_opt("taken"))
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let client = secret_client(&world);
    assert!(timed(client.get_secret("taken-a", None)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_secret_is_named() {
    let mut world = World::new().await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: a\n        remoteRef:\n          remoteKey: lonely-a\n";
    world
        .apply_yaml(&push_yaml("lonely", "absent", "", data))
        .await;
    let (reason, message) = wait_for_push(&world, "lonely", "False").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "Errored",
            format!("could not get source secret: Secret {NAMESPACE}/absent not found").as_str()
        )
    );
}

/// ESO's provider refuses an unknown object type inside its write, or inside the existence check
/// of `updatePolicy: IfNotExists`; the Ready messages carry that context verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_object_type_is_refused_with_esos_messages() {
    let mut world = World::new().await;
    world.secret(NAMESPACE, "source", &[("v", "x")]).await;
    world.start_operator().await;
    let data =
        "    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: blob/x\n";
    world
        .apply_yaml(&push_yaml("blob", "source", "", data))
        .await;
    world
        .apply_yaml(&push_yaml(
            "blob-if-not-exists",
            "source",
            "  updatePolicy: IfNotExists\n",
            data,
        ))
        .await;
    let (_, message) = wait_for_push(&world, "blob", "False").await;
    assert_eq!(
        message,
        "set secret failed: could not write remote ref v to target secretstore vault: secret type blob not supported"
    );
    let (_, message) = wait_for_push(&world, "blob-if-not-exists", "False").await;
    assert_eq!(
        message,
        "set secret failed: could not verify if secret exists in store: secret type 'blob' is not supported"
    );
}

/// Resources sync only after every watch has listed once, as ESO waits for its caches: a
/// PushSecret that exists when the operator starts never reports its store missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_secret_present_at_startup_never_reports_its_store_missing() {
    let mut world = World::new().await;
    world.secret(NAMESPACE, "source", &[("v", "x")]).await;
    let data =
        "    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: early-v\n";
    for index in 0..10 {
        world
            .apply_yaml(&push_yaml(&format!("early-{index}"), "source", "", data))
            .await;
    }
    world.start_operator().await;
    for index in 0..10 {
        let name = format!("early-{index}");
        wait_for_push(&world, &name, "True").await;
        let events = world.events(NAMESPACE, &name).await;
        assert!(
            !events.iter().any(|(type_, _)| type_ == "Warning"),
            "{name}: {events:?}"
        );
    }
}
