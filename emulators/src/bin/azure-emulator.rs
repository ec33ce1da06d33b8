//! `azure-emulator`: runs the Azure Key Vault + Entra ID + managed-identity emulator from a
//! seed file and prints one JSON line on stdout when ready (see emulators/README.md).

use std::path::PathBuf;
use std::time::Duration;

use akvsync_emulators::azure::{AzureConfig, AzureEmulator, Limits, Seed};
use anyhow::Context as _;
use clap::Parser;
use serde_json::json;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "azure-emulator",
    about = "Azure Key Vault + Entra ID + managed identity emulator on loopback"
)]
struct Args {
    /// Seed file (YAML or JSON): tenants, principals, vaults, objects.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// State file: loaded when present (the seed is then ignored), written after every change.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Directory for the CA certificate file.
    #[arg(long)]
    ca_dir: Option<PathBuf>,
    /// TLS port for vaults and Entra (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    https_port: u16,
    /// Plain HTTP port for managed identity and admin (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    http_port: u16,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Reads allowed per vault per window.
    #[arg(long, default_value_t = 4000)]
    reads: u32,
    /// Writes allowed per vault per window.
    #[arg(long, default_value_t = 300)]
    writes: u32,
    /// Throttling window in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    window_ms: u64,
    /// Omit `Retry-After` on 429 answers.
    #[arg(long)]
    no_retry_after: bool,
    /// Value managed-identity callers send as `x-identity-header` (generated when absent).
    #[arg(long)]
    identity_header: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read seed {}", path.display()))?;
            // YAML is a superset of JSON, so one parser reads both.
            serde_yaml::from_str::<Seed>(&text)
                .with_context(|| format!("parse seed {}", path.display()))?
        }
        None => Seed::default(),
    };
    let emulator = AzureEmulator::start(AzureConfig {
        seed: seed.clone(),
        limits: Limits {
            reads: args.reads,
            writes: args.writes,
            window_ms: args.window_ms,
            retry_after: !args.no_retry_after,
        },
        token_lifetime: Duration::from_secs(args.token_lifetime),
        ca_dir: args.ca_dir.clone(),
        state_file: args.state.clone(),
        https_port: args.https_port,
        http_port: args.http_port,
        identity_header: args.identity_header.clone(),
        ..AzureConfig::default()
    })
    .await?;
    let vaults: serde_json::Map<String, serde_json::Value> = seed
        .vaults
        .iter()
        .map(|v| (v.name.clone(), json!(emulator.vault_url(&v.name))))
        .collect();
    let ready = json!({
        "ready": true,
        "httpsPort": emulator.https_port(),
        "httpPort": emulator.http_port(),
        "authorityHost": emulator.authority_host(),
        "resource": emulator.resource(),
        "vaultUrlTemplate": format!("https://{{vault}}.vault.localhost:{}/", emulator.https_port()),
        "vaults": vaults,
        "identityEndpoint": emulator.identity_endpoint(),
        "imdsEndpoint": emulator.imds_endpoint(),
        "identityHeader": emulator.identity_header(),
        "adminUrl": emulator.admin_url(),
        "caPath": emulator.ca_path(),
        "principals": emulator.principals(),
    });
    println!("{ready}");
    tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    emulator.shutdown().await;
    Ok(())
}
