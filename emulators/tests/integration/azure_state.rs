//! The optional state file keeps the world across restarts.

use crate::azure_support;

use akvsync_emulators::azure::{AzureConfig, AzureEmulator, SecretOptions};
use azure_support::*;

#[tokio::test]
async fn restarted_emulator_keeps_its_data_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let first = start_with(AzureConfig {
        state_file: Some(state.clone()),
        ..AzureConfig::default()
    })
    .await;
    first
        .set_secret(VAULT, "kept", "still-here", SecretOptions::default())
        .unwrap();
    within(first.shutdown()).await;

    let second = within(AzureEmulator::start(AzureConfig {
        state_file: Some(state),
        ..AzureConfig::default()
    }))
    .await
    .unwrap();
    let secret = within(admin_secrets(&second).get_secret("kept", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.value.as_deref(), Some("still-here"));
}
