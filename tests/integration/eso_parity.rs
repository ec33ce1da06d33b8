//! ESO's own Azure Key Vault provider tests (`providers/v1/azure/keyvault/keyvault_test.go`),
//! replayed against the operator: each case's mock client becomes real contents of its own vault in
//! the Key Vault emulator, each case's `ref` becomes an ExternalSecret or PushSecret in its own
//! namespace (with its own credentials Secret and stores `vault` and, for reads, `sdk` with
//! `useAzureSDK: true`), and ESO's expected output becomes the Secret's data byte for byte or the
//! Ready message verbatim (`<ESO's fixed text>: <ESO's wrapped error>`). All cases are applied at
//! once to one operator and checked together, so the suite costs one world. The case tables are
//! in `tests/integration/parity/read_cases.rs` and `push_cases.rs`, the harness in `tests/integration/parity/harness.rs`.
//!
//! Adapting a mock to a real vault:
//! - ESO's default `ref` has `Version: "default"`, which its mock ignores; the manifests leave
//!   `version` out, as ESO users do, and pin a real version id where the case pins one.
//! - Version ids, key ids and timestamps are the vault's own: a pinned version is the id the vault
//!   gave, a key's `kid` is its real id, and on the legacy SDK path `metadataPolicy: Fetch`
//!   answers carry `attribute.created`/`attribute.updated` that ESO's mock bundles leave out
//!   (checked for presence; the tags are checked byte for byte).
//! - ESO's mock JWKs (`jwkPubRSA`, `jwkPubEC`) are imported as they are; certificates and keys to
//!   push are generated (a fresh P-256 or RSA key and self-signed certificate) instead of ESO's
//!   base64 blobs, in the same encodings (PKCS#12, PEM, DER, PKCS#8, PKCS#1, SEC1).
//! - A mock that returned a value without calling anything (SetSecret "should not be called") is
//!   checked with the emulator's per-vault write counters.
//! - ESO's mock 403s (`Forbidden`, `No Permissions`) and its failed imports (`error`) become a
//!   grant without that permission on the case's vault: Key Vault answers its own 403, so the
//!   message is checked up to ESO's wrapping (`cannot get secret example-1: unexpected api
//!   error: `, `error deleting key keyname: `); the wrapped error is Key Vault's text.
//!
//! Cases that need a mock, and why a real vault cannot express them:
//! - Push `failedNotParseableError` (`crash`) and Delete `secretUnexpectedError` (`boom`),
//!   `certUnexpectedError` (`crash`), `keyUnexpectedError` (`tls timeout`): the client returns an
//!   arbitrary Go error that is not an HTTP answer, which ESO then wraps as `could not parse
//!   error: …`; no vault answers with a bare string.
//! - Delete `unsupportedType` (`yadayada/foo`): a PushSecret never records a remote key whose
//!   push failed, so nothing ever deletes one; the same check is replayed through SecretExists
//!   (`updatePolicy: IfNotExists`), whose message ESO's controller reports.
//! - `TestValidateStore` (8 cases): `ValidateStore` on Go structs (nil store, nil spec, nil
//!   provider), which no API object can be; the two that a manifest can express (a foreign
//!   namespace on `clientId` / `clientSecret`) are store checks, asserted with ESO's messages in
//!   `tests/integration/azure_provider_auth.rs` (`misconfigurations_give_esos_messages`).
//!
//! Replayed differently from the mock, with the reason:
//! - GetSecret `badSecretWithProperty`, `badSecretWithTag`, `badCertWithTag`, `badKeyWithTag`,
//!   `badPropertyTag` and GetSecretMap `badSecretWithProperty` make the mock *call* fail with the
//!   text the provider's own check produces; here the call succeeds and the check produces it.
//! - Push `secretContentTypeChange` and `secretContentTypeAddedToExisting` fail the mock's
//!   SetSecret to prove it was called; here it succeeds and the vault's content type changed.
//! - Push `certFingerprintMatches` (a mock certificate whose `Cer` is another certificate and
//!   whose import fails): here the vault holds the pushed certificate and nothing is imported.
//! - Push `certPEMSuccess`, `certDERSuccess` (a certificate without its key) and
//!   `certPEMWithGarbageSuccess` (a PKCS#1 key in PEM) and `symmetricKeySuccess` assert
//!   akvsync's refusal: README "Where akvsync differs from ESO on purpose" (Key Vault would
//!   reject them).

use crate::operator_world;
use crate::parity;

use std::collections::BTreeMap;
use std::time::Duration;

use akvsync_emulators::azure::Grant;
use operator_world::{TENANT, World};
use parity::fixtures::material;
use parity::harness::*;
use parity::model::*;
use parity::push_cases::*;
use parity::read_cases::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esos_azure_keyvault_provider_cases_give_esos_outputs_and_messages() {
    let material = material();
    let mut cases = get_secret_cases(&material);
    cases.extend(get_secret_map_cases());
    cases.extend(get_all_secrets_cases());
    cases.extend(push_cases(&material));
    cases.extend(exists_cases());
    cases.extend(forbidden_push_cases(&material));
    cases.extend(delete_cases(&material));
    cases.extend(azure_sdk_ownership_cases(&material));

    let mut world = World::new().await;
    let mut seeded = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let namespace = slug(index);
        world.azure.add_vault(&namespace, TENANT).unwrap();
        world
            .azure
            .grant(&namespace, &world.app.client_id, Grant::all())
            .unwrap();
        let substitutions = seed(&world, &namespace, &case.objects).await;
        world
            .azure
            .grant(&namespace, &world.app.client_id, case.grant)
            .unwrap();
        let stats = world.azure.stats();
        let baseline: BTreeMap<&'static str, u64> = WRITE_OPERATIONS
            .iter()
            .map(|op| (*op, stats.operation(&namespace, op)))
            .collect();
        prepare_namespace(&world, &namespace, &case.source).await;
        for manifest in &case.manifests {
            let manifest = substitute(manifest, &substitutions).replace("@ns@", &namespace);
            world.apply_yaml(&manifest).await;
        }
        seeded.push((namespace, substitutions, baseline));
    }
    world.start_operator().await;

    let pending = cases
        .iter()
        .zip(&seeded)
        .flat_map(|(case, (namespace, _, _))| objects_to_wait_for(namespace, &case.checks))
        .collect();
    wait_until_settled(&world, pending).await;
    let mut problems = Vec::new();
    for (case, (namespace, substitutions, baseline)) in cases.iter().zip(&seeded) {
        problems.extend(
            verify(
                &world,
                case,
                namespace,
                &case.checks,
                baseline,
                substitutions,
            )
            .await,
        );
    }

    // Second phase (DeleteSecret): change the vault, drop the pushed entry, check again.
    let mut second = Vec::new();
    for (case, (namespace, _, _)) in cases.iter().zip(&seeded) {
        let Some(then) = &case.then else { continue };
        let before = synced_push_secrets(&world, namespace).await;
        match then.mutation {
            Mutation::Nothing => {}
            Mutation::Delete(path) => {
                let (status, body) =
                    vault_call(&world, reqwest::Method::DELETE, namespace, path, None).await;
                assert_eq!(status, 200, "{}: delete {path}: {body}", case.eso);
            }
            Mutation::Restrict(grant) => {
                world
                    .azure
                    .grant(namespace, &world.app.client_id, grant)
                    .unwrap();
            }
            Mutation::DropTags(path) => {
                let (status, body) = vault_call(
                    &world,
                    reqwest::Method::PATCH,
                    namespace,
                    path,
                    Some(json!({"tags": {}})),
                )
                .await;
                assert_eq!(status, 200, "{}: untag {path}: {body}", case.eso);
            }
        }
        for manifest in &then.manifests {
            world.apply_yaml(&manifest.replace("@ns@", namespace)).await;
        }
        second.push((case, namespace, before));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (case, namespace, before) in &second {
        // Settled when the synced map changed (deleted) or Ready turned False (refused).
        while tokio::time::Instant::now() < deadline {
            let now = synced_push_secrets(&world, namespace).await;
            let failed = ready(&world, namespace, "PushSecret", "push")
                .await
                .is_some_and(|(status, _, _)| status == "False");
            if (now != *before && now.contains("keep")) || failed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let then = case.then.as_ref().unwrap();
        problems.extend(verify(&world, case, namespace, &then.checks, &BTreeMap::new(), &[]).await);
    }

    assert!(
        problems.is_empty(),
        "{} difference(s) from ESO:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
