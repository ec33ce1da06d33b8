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
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
    /// Not in this build: the demo was left out (cargo feature `demo`), as in the container image.
    #[cfg(not(feature = "demo"))]
    Demo(NoDemoArgs),
    /// Print the CustomResourceDefinitions akvsync serves, as YAML.
    Crds,
}

/// What `akvsync demo` says in a build without the demo.
#[cfg(not(feature = "demo"))]
pub const NO_DEMO: &str = "this akvsync was built without the demo (cargo feature `demo`, on by \
default; the container image leaves it out so the operator links no emulator code): \
run `cargo run --release -- demo` from the repository instead";

/// `akvsync demo`'s arguments in a build without the demo: accepted, so that any demo command
/// line gets the explanation above rather than a parse error.
#[cfg(not(feature = "demo"))]
#[derive(Debug, clap::Args)]
pub struct NoDemoArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub ignored: Vec<String>,
}

/// Runs one command to completion.
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(*args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => crate::demo::run(args),
        #[cfg(not(feature = "demo"))]
        Command::Demo(_) => anyhow::bail!("{NO_DEMO}"),
        Command::Crds => {
            print!("{}", akvsync_crds::crds_yaml());
            Ok(())
        }
    }
}
