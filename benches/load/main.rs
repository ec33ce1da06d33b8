//! The load benchmark (issue 10): one scenario, run against the emulators by akvsync and then by
//! its naive mode (ESO's call pattern), with fresh emulators per mode, and the figures side by
//! side under `target/bench/`.
//!
//! ```sh
//! cargo bench --bench load -- --preset small            # or medium, s100k
//! cargo bench --bench load -- --preset small --modes akvsync --refresh 20
//! cargo bench --bench load -- --preset soak --minutes 30   # the chaos soak (soak.rs)
//! cargo bench --bench load -- --preset noisy            # the noisy neighbour (noisy.rs)
//! cargo bench --bench load -- --preset scaling          # 1k…100k, fitted (scaling.rs)
//! ```
//!
//! The operator runs as its own process (the `akvsync` binary cargo builds for this bench, with
//! `run --kubeconfig … --extra-ca-file … --authority-host …`), so its memory and CPU are its own.
//! The Azure emulator runs as its binary (`azure-emulator`, built by this runner with
//! `cargo build -p akvsync-emulators --bins` in the bench's profile unless `--no-build`) with Key
//! Vault's real limits. The Kubernetes emulator runs inside this process, because its binary has
//! no stats endpoint and the run counts the operator's writes.

// report.rs builds the results JSON with one `json!` of about a hundred fields.
#![recursion_limit = "256"]

mod changes;
mod chart;
mod measure;
mod noisy;
mod probes;
mod processes;
mod report;
mod run;
mod scaling;
mod scenario;
mod seed;
mod soak;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::run::Mode;
use crate::scenario::Scenario;

/// What the command line asks for.
struct Options {
    scenario: Scenario,
    modes: Vec<Mode>,
    output: PathBuf,
    build: bool,
    /// The soak's length.
    minutes: u64,
    /// The scaling run's sizes.
    sizes: Vec<usize>,
}

const USAGE: &str = "usage: cargo bench --bench load -- [--preset small|medium|s100k|soak|noisy|scaling] \
[--sizes N,N,... (scaling)] [--minutes N (soak)] [--modes akvsync,naive] [--refresh SECONDS] [--external-secrets N] \
[--metrics-granularity per-resource|per-namespace] [--out DIR] [--no-build]";

fn options() -> anyhow::Result<Options> {
    let mut preset = "small".to_owned();
    let mut modes = vec![Mode::Akvsync, Mode::Naive];
    let mut refresh = None;
    let mut external_secrets = None;
    let mut output = None;
    let mut metrics_granularity = None;
    let mut build = true;
    let mut minutes = 30;
    let mut sizes = scaling::DEFAULT_SIZES.to_vec();
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .with_context(|| format!("{argument} needs a value\n{USAGE}"))
        };
        match argument.as_str() {
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            "--preset" => preset = value()?,
            "--modes" => {
                modes = value()?
                    .split(',')
                    .map(|mode| match mode {
                        "akvsync" => Ok(Mode::Akvsync),
                        "naive" => Ok(Mode::Naive),
                        other => bail!("unknown mode {other}\n{USAGE}"),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--refresh" => {
                refresh = Some(value()?.parse::<u64>().context("--refresh takes seconds")?)
            }
            "--external-secrets" => {
                external_secrets = Some(
                    value()?
                        .parse::<usize>()
                        .context("--external-secrets takes a count")?,
                );
            }
            "--metrics-granularity" => {
                metrics_granularity = Some(match value()?.as_str() {
                    "per-resource" => "per-resource",
                    "per-namespace" => "per-namespace",
                    other => bail!("unknown metrics granularity {other}\n{USAGE}"),
                });
            }
            "--out" => output = Some(PathBuf::from(value()?)),
            "--minutes" => {
                minutes = value()?
                    .parse::<u64>()
                    .context("--minutes takes a count")?
                    .max(1);
            }
            "--sizes" => {
                sizes = value()?
                    .split(',')
                    .map(|size| size.trim().parse::<usize>().map(|size| size.max(1)))
                    .collect::<Result<_, _>>()
                    .context("--sizes takes counts, e.g. 1000,10000")?;
            }
            "--no-build" => build = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let mut scenario = if preset == "noisy" {
        noisy::scenario(external_secrets.unwrap_or(noisy::NOISY_EXTERNAL_SECRETS))
    } else if preset == "scaling" {
        Scenario {
            preset: preset.clone(),
            ..Scenario::scaled(sizes[0])
        }
    } else {
        Scenario::preset(&preset).with_context(|| format!("unknown preset {preset}\n{USAGE}"))?
    };
    if let Some(seconds) = refresh {
        scenario.refresh = Duration::from_secs(seconds.max(5));
    }
    if let Some(count) = external_secrets
        && preset != "noisy"
    {
        scenario.external_secrets = count.max(1);
    }
    if let Some(granularity) = metrics_granularity {
        scenario.metrics_granularity = granularity;
    }
    let output = output.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
                PathBuf::from,
            )
            .join("bench")
    });
    Ok(Options {
        scenario,
        modes,
        output,
        build,
        minutes,
        sizes,
    })
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    // kube and reqwest share one rustls provider (the workspace's aws-lc-rs).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    std::fs::create_dir_all(&options.output)
        .with_context(|| format!("create {}", options.output.display()))?;
    let binaries = processes::Binaries::locate(options.build)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if options.scenario.preset == "soak" {
        let http = run::http_client()?;
        let result = runtime.block_on(soak::run_soak(
            &options.scenario,
            options.minutes,
            &binaries,
            &options.output,
            &http,
        ))?;
        print_table(&options.output, "load-soak.md");
        let broken = result.invariant_violations > 0
            || result.changes_late > 0
            || result.panics > 0
            || !result.operator_alive_at_end
            || !result.notes.is_empty();
        if broken {
            bail!("the soak broke an invariant: see load-soak.md");
        }
        return Ok(());
    }
    if options.scenario.preset == "scaling" {
        runtime.block_on(scaling::run_scaling(
            &options.sizes,
            &binaries,
            &options.output,
        ))?;
        print_table(&options.output, "load-scaling.md");
        return Ok(());
    }
    if options.scenario.preset == "noisy" {
        let http = run::http_client()?;
        let noisy = noisy::noisy_count(&options.scenario);
        runtime.block_on(noisy::run_noisy(
            &options.scenario,
            noisy,
            &binaries,
            &options.output,
            &http,
        ))?;
        print_table(&options.output, "load-noisy.md");
        return Ok(());
    }
    let results = runtime.block_on(run::run_all(
        &options.scenario,
        &options.modes,
        &binaries,
        &options.output,
    ))?;
    let written = report::write(&options.scenario, &results, &options.output)?;
    println!("{}", written.table);
    println!("wrote {}", written.paths.join(", "));
    Ok(())
}

/// Prints a report's Markdown table, as the run wrote it.
fn print_table(output: &std::path::Path, file: &str) {
    println!(
        "{}",
        std::fs::read_to_string(output.join(file)).unwrap_or_default()
    );
}
