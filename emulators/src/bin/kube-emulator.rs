//! `kube-emulator`: runs the Kubernetes API server emulator on 127.0.0.1 until Ctrl-C, writes a
//! kubeconfig per user, and prints one JSON line when ready.

use std::path::PathBuf;
use std::time::Duration;

use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use anyhow::Context;
use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Kubernetes API server emulator for akvsync tests and demos")]
struct Arguments {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve plain HTTP instead of HTTPS with a generated CA.
    #[arg(long)]
    http: bool,
    /// Directory for the kubeconfig files (and `ca.crt`).
    #[arg(long, default_value = "kube-emulator")]
    dir: PathBuf,
    /// Keep objects in this file across restarts.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Watch history length before "too old resource version".
    #[arg(long, default_value_t = 10_000)]
    history_limit: usize,
    /// Seconds between watch bookmarks.
    #[arg(long, default_value_t = 60)]
    bookmark_interval_seconds: u64,
    /// The operator's ServiceAccount namespace.
    #[arg(long, default_value = "akvsync-system")]
    operator_namespace: String,
    /// The operator's ServiceAccount name.
    #[arg(long, default_value = "akvsync")]
    operator_service_account: String,
    /// Additional plain users (repeatable), subject to RBAC.
    #[arg(long = "user")]
    users: Vec<String>,
    /// Port on 127.0.0.1 of the plain-HTTP admin endpoint (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    admin_port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let config = KubeConfig {
        tls: !arguments.http,
        port: arguments.port,
        history_limit: arguments.history_limit,
        bookmark_interval: Duration::from_secs(arguments.bookmark_interval_seconds.max(1)),
        operator_namespace: arguments.operator_namespace,
        operator_service_account: arguments.operator_service_account,
        extra_users: arguments.users,
        kubeconfig_dir: Some(arguments.dir.clone()),
        state_file: arguments.state_file,
        admin_port: arguments.admin_port,
        ..KubeConfig::default()
    };
    let mut emulator = KubeEmulator::start(config).await?;
    let ca_file = match emulator.ca_pem() {
        Some(pem) => {
            let path = arguments.dir.join("ca.crt");
            std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let kubeconfigs: serde_json::Map<String, serde_json::Value> = emulator
        .users()
        .into_iter()
        .filter_map(|user| {
            emulator
                .kubeconfig_path(&user)
                .map(|path| (user, json!(path)))
        })
        .collect();
    let ready = json!({
        "url": emulator.url(),
        "kubeconfigs": kubeconfigs,
        "admin_kubeconfig": emulator.kubeconfig_path(emulator.admin_user()),
        "operator_kubeconfig": emulator.kubeconfig_path(emulator.operator_user()),
        "operator_user": emulator.operator_user(),
        "ca_file": ca_file,
        "ca_pem": emulator.ca_pem(),
        "issuer": emulator.issuer_url(),
        "admin_url": emulator.admin_url(),
    });
    println!("{ready}");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    emulator.shutdown();
    Ok(())
}
