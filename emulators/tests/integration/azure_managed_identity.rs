//! ManagedIdentityCredential against the emulator's App Service endpoint. The SDK reads
//! `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` only from the environment, and the workspace
//! forbids `unsafe` (`set_var`), so the parent test re-runs this binary with the variables set
//! and the child test does the SDK calls. The IMDS path shape is checked over raw HTTP: the SDK
//! would send it to 169.254.169.254, which a test must never contact.

use crate::azure_support;

use std::process::Command;

use akvsync_emulators::azure::{Grant, ManagedIdentityKind, PrincipalSpec, SecretOptions};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use azure_support::*;

const CHILD: &str = "AKVSYNC_MI_CHILD";

#[tokio::test]
async fn managed_identity_credential_reads_through_app_service_endpoint() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let emulator = start().await;
    emulator
        .set_secret(VAULT, "s", "from-mi", SecretOptions::default())
        .unwrap();
    let system = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "host".into(),
                managed_identity: Some(ManagedIdentityKind::System),
                ..Default::default()
            },
        )
        .unwrap();
    let user = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "uami".into(),
                managed_identity: Some(ManagedIdentityKind::User),
                ..Default::default()
            },
        )
        .unwrap();
    emulator
        .grant(VAULT, &system.client_id, Grant::secrets_read())
        .unwrap();
    emulator
        .grant(VAULT, &user.client_id, Grant::secrets_read())
        .unwrap();
    let ca = emulator.ca_path().to_path_buf();
    let exe = std::env::current_exe().unwrap();
    // The test's name within this binary: its module path without the crate's name.
    let child_test = module_path!()
        .split_once("::")
        .map_or(String::new(), |(_, module)| format!("{module}::"))
        + "child_reads_with_managed_identity";
    let user_client_id = user.client_id.clone();
    let output = within(tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(["--exact", &child_test, "--ignored", "--nocapture"])
            .env(CHILD, "1")
            .env("IDENTITY_ENDPOINT", emulator_endpoint(&emulator))
            .env("IDENTITY_HEADER", emulator.identity_header())
            .env("MI_VAULT_URL", emulator.vault_url(VAULT))
            .env("MI_AUTHORITY", emulator.authority_host())
            .env("MI_CA", ca)
            .env("MI_USER_CLIENT_ID", &user_client_id)
            .output()
            .map(|o| (o, emulator))
    }))
    .await
    .unwrap()
    .unwrap();
    let (output, emulator) = output;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = emulator.stats();
    assert_eq!(
        stats.token_requests_by("", 200),
        1,
        "system-assigned: no client id sent"
    );
    assert_eq!(stats.token_requests_by(&user.client_id, 200), 1);
    assert!(stats.by_principal(&system.client_id) >= 1 && stats.by_principal(&user.client_id) >= 1);
}

fn emulator_endpoint(emulator: &akvsync_emulators::azure::AzureEmulator) -> String {
    emulator.identity_endpoint()
}

#[tokio::test]
#[ignore = "run by managed_identity_credential_reads_through_app_service_endpoint with the environment set"]
async fn child_reads_with_managed_identity() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent test"))
    };
    let ca = std::fs::read_to_string(var("MI_CA")).unwrap();
    let options = || akvsync_emulators::azure::client_options(&ca, &var("MI_AUTHORITY")).unwrap();
    for user in [None, Some(var("MI_USER_CLIENT_ID"))] {
        let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: user.map(UserAssignedId::ClientId),
            client_options: options(),
        }))
        .unwrap();
        let client = SecretClient::new(
            &var("MI_VAULT_URL"),
            credential,
            Some(SecretClientOptions {
                client_options: options(),
                ..Default::default()
            }),
        )
        .unwrap();
        let secret = within(client.get_secret("s", None))
            .await
            .unwrap()
            .into_model()
            .unwrap();
        assert_eq!(secret.value.as_deref(), Some("from-mi"));
    }
}

#[tokio::test]
async fn imds_path_and_app_service_header_are_checked() {
    let emulator = start().await;
    let system = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "host".into(),
                managed_identity: Some(ManagedIdentityKind::System),
                ..Default::default()
            },
        )
        .unwrap();
    let http = emulator.http_client().unwrap();
    let query = "api-version=2019-08-01&resource=https://vault.localhost";
    let no_metadata = within(
        http.get(format!("{}?{query}", emulator.imds_endpoint()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(no_metadata.status().as_u16(), 400);
    let ok = within(
        http.get(format!("{}?{query}", emulator.imds_endpoint()))
            .header("metadata", "true")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let body: serde_json::Value = within(ok.json()).await.unwrap();
    assert!(
        body["expires_on"].is_string(),
        "expires_on must be a string"
    );
    assert_eq!(body["client_id"], system.client_id.as_str());
    assert_eq!(body["resource"], "https://vault.localhost");

    let wrong_header = within(
        http.get(format!("{}?{query}", emulator.identity_endpoint()))
            .header("x-identity-header", "nope")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(wrong_header.status().as_u16(), 401);
    let unknown = within(
        http.get(format!(
            "{}?{query}&client_id=00000000-0000-0000-0000-000000000000",
            emulator.identity_endpoint()
        ))
        .header("x-identity-header", emulator.identity_header())
        .send(),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status().as_u16(), 400);
}
