//! The `akvsync` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = akvsync::cli::Cli::parse();
    match akvsync::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("akvsync: {error:#}");
            ExitCode::FAILURE
        }
    }
}
