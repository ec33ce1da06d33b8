//! The `akvsync` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
