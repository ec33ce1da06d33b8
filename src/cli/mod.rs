//! Command line: `akvsync run`, `akvsync demo`, `akvsync crds`.

use clap::{Parser, Subcommand};

/// Syncs Azure Key Vault secrets, keys and certificates into Kubernetes Secrets, and back.
#[derive(Debug, Parser)]
#[command(name = "akvsync", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator against the cluster in the kubeconfig or the in-cluster config.
    Run,
    /// Start embedded Key Vault and Kubernetes emulators, apply the examples and run the operator.
    Demo,
    /// Print the CustomResourceDefinitions akvsync serves, as YAML.
    Crds,
}

/// Runs one command to completion.
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run => anyhow::bail!("`akvsync run` is not built yet"),
        Command::Demo => anyhow::bail!("`akvsync demo` is not built yet"),
        Command::Crds => {
            print!("{}", akvsync_crds::crds_yaml());
            Ok(())
        }
    }
}
