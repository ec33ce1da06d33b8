//! Command line: `akvsync run`, `akvsync demo`, `akvsync crds`.

mod run;

use clap::{Parser, Subcommand};

pub use run::{RunArgs, shutdown_signal};

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
    Run(Box<RunArgs>),
    /// Start embedded Key Vault and Kubernetes emulators, apply the examples and run the operator.
    Demo(crate::demo::DemoArgs),
    /// Print the CustomResourceDefinitions akvsync serves, as YAML.
    Crds,
}

/// Runs one command to completion.
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Demo(args) => crate::demo::run(args),
        Command::Crds => {
            print!("{}", akvsync_crds::crds_yaml());
            Ok(())
        }
    }
}
