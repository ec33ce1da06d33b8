//! The scaling run (issue 15 §5): the S100k world's shape at 1k, 10k, 30k and 100k
//! ExternalSecrets, akvsync only, each with fresh emulators: cold start, then one quiet cycle.
//! Per size it records operator CPU per cycle, steady and peak RSS, and Key Vault and
//! Kubernetes requests per cycle; then fits each against N on log-log axes (least squares), so
//! the exponent says how the cost grows and the fit says what 1M would cost.
//!
//! ```sh
//! cargo bench --bench load -- --preset scaling                  # 1k, 10k, 30k, 100k
//! cargo bench --bench load -- --preset scaling --sizes 1000,5000
//! ```

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use crate::chart;
use crate::processes::Binaries;
use crate::report::machine;
use crate::run::{Mode, ModeResult, run_all};
use crate::scenario::Scenario;

/// The sizes of the run when `--sizes` is not given.
pub const DEFAULT_SIZES: [usize; 4] = [1_000, 10_000, 30_000, 100_000];
/// The size the fit is extrapolated to.
const EXTRAPOLATE_TO: f64 = 1_000_000.0;

/// One size's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub external_secrets: usize,
    pub unique_remote_secrets: usize,
    pub refresh_seconds: u64,
    pub cold_start_seconds: Option<f64>,
    pub cpu_seconds_per_cycle: Option<f64>,
    /// RSS after the quiet cycle, less the operator's RSS before any ExternalSecret existed.
    pub steady_rss_bytes: u64,
    /// Peak RSS (the kernel's high-water mark), less the same baseline.
    pub peak_rss_bytes: u64,
    /// GETs and listing pages in the quiet cycle.
    pub kv_requests_per_cycle: Option<u64>,
    pub k8s_reads_per_cycle: Option<u64>,
    pub k8s_writes_per_cycle: Option<u64>,
    pub throttled_429: u64,
    pub notes: Vec<String>,
}

impl Row {
    fn of(scenario: &Scenario, result: &ModeResult) -> Self {
        let cycle = result.k8s_writes_per_cycle.as_ref();
        Self {
            external_secrets: result.external_secrets,
            unique_remote_secrets: result.unique_remote_secrets,
            refresh_seconds: scenario.refresh.as_secs(),
            cold_start_seconds: result.cold_start_seconds,
            cpu_seconds_per_cycle: result.cpu_seconds_per_cycle,
            steady_rss_bytes: result.rss_bytes.saturating_sub(result.rss_baseline_bytes),
            peak_rss_bytes: result
                .peak_rss_bytes
                .saturating_sub(result.rss_baseline_bytes),
            kv_requests_per_cycle: result
                .kv_get_calls
                .zip(result.kv_list_pages)
                .map(|(gets, pages)| gets + pages),
            k8s_reads_per_cycle: cycle.map(|writes| writes.reads),
            k8s_writes_per_cycle: cycle.map(|writes| writes.total),
            throttled_429: result.throttled_429,
            notes: result.notes.clone(),
        }
    }
}

/// A quantity fitted as `coefficient × N^exponent`.
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    pub quantity: &'static str,
    pub exponent: f64,
    pub coefficient: f64,
    /// The fit at [`EXTRAPOLATE_TO`] ExternalSecrets.
    pub at_1m: f64,
    /// How many sizes had a value above zero (a fit needs two).
    pub points: usize,
}

/// Least squares on (ln N, ln y) over the points with y > 0.
pub fn fit(quantity: &'static str, points: &[(f64, f64)]) -> Option<Fit> {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(n, y)| *n > 0.0 && *y > 0.0)
        .map(|(n, y)| (n.ln(), y.ln()))
        .collect();
    if logs.len() < 2 {
        return None;
    }
    let count = logs.len() as f64;
    let mean_x = logs.iter().map(|(x, _)| x).sum::<f64>() / count;
    let mean_y = logs.iter().map(|(_, y)| y).sum::<f64>() / count;
    let spread: f64 = logs.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if spread == 0.0 {
        return None;
    }
    let exponent = logs
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum::<f64>()
        / spread;
    let coefficient = (mean_y - exponent * mean_x).exp();
    Some(Fit {
        quantity,
        exponent,
        coefficient,
        at_1m: coefficient * EXTRAPOLATE_TO.powf(exponent),
        points: logs.len(),
    })
}

/// The quantities fitted, each with how to read it from a row.
type Quantity = (&'static str, fn(&Row) -> Option<f64>);
const QUANTITIES: [Quantity; 6] = [
    ("operator CPU seconds per cycle", |row| {
        row.cpu_seconds_per_cycle
    }),
    ("steady RSS bytes", |row| Some(row.steady_rss_bytes as f64)),
    ("peak RSS bytes", |row| Some(row.peak_rss_bytes as f64)),
    ("Key Vault requests per cycle", |row| {
        row.kv_requests_per_cycle.map(|value| value as f64)
    }),
    ("Kubernetes reads per cycle", |row| {
        row.k8s_reads_per_cycle.map(|value| value as f64)
    }),
    ("cold start seconds", |row| row.cold_start_seconds),
];

/// Runs every size in turn, writing the report after each, so a failed size keeps the others.
pub async fn run_scaling(
    sizes: &[usize],
    binaries: &Binaries,
    output: &Path,
) -> anyhow::Result<Vec<Row>> {
    let per_size = output.join("scaling");
    std::fs::create_dir_all(&per_size).with_context(|| format!("create {}", per_size.display()))?;
    let mut rows = Vec::new();
    for &size in sizes {
        let scenario = Scenario::scaled(size);
        let results = run_all(&scenario, &[Mode::Akvsync], binaries, &per_size).await?;
        if let Some(result) = results.first() {
            rows.push(Row::of(&scenario, result));
        }
        write(&rows, output)?;
    }
    Ok(rows)
}

/// The fits of every quantity over `rows`.
pub fn fits(rows: &[Row]) -> Vec<Fit> {
    QUANTITIES
        .iter()
        .filter_map(|(quantity, read)| {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|row| Some((row.external_secrets as f64, read(row)?)))
                .collect();
            fit(quantity, &points)
        })
        .collect()
}

fn write(rows: &[Row], output: &Path) -> anyhow::Result<()> {
    let fits = fits(rows);
    let json = serde_json::json!({
        "preset": "scaling",
        "machine": machine(),
        "shape": "S100k's: a namespace per 100 ExternalSecrets, a vault per 2,000, a unique secret per 10, 5 items; per-namespace metrics",
        "sizes": rows,
        "fits": fits,
    });
    let json_path = output.join("load-scaling.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("write {}", json_path.display()))?;
    let markdown = output.join("load-scaling.md");
    std::fs::write(&markdown, table(rows, &fits))
        .with_context(|| format!("write {}", markdown.display()))?;
    // Each quantity relative to its value at the smallest size, on log-log axes.
    let series: Vec<(&str, Vec<(f64, f64)>)> = QUANTITIES
        .iter()
        .filter(|(quantity, _)| *quantity != "cold start seconds")
        .map(|(quantity, read)| {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|row| Some((row.external_secrets as f64, read(row)?)))
                .filter(|(_, value)| *value > 0.0)
                .collect();
            let base = points.first().map_or(1.0, |(_, value)| *value);
            (
                *quantity,
                points
                    .into_iter()
                    .map(|(size, value)| (size, value / base))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, points)| !points.is_empty())
        .collect();
    chart::draw_log_log(&output.join("load-scaling.png"), &series)?;
    Ok(())
}

fn table(rows: &[Row], fits: &[Fit]) -> String {
    let mut text = format!(
        "# Scaling run ({})\n\nS100k's shape at each size, akvsync only: cold start, then one quiet cycle.\n\n| ExternalSecrets | unique secrets | cycle | cold start | CPU s/cycle | steady RSS | peak RSS | KV req/cycle | K8s reads/cycle | K8s writes/cycle | 429 |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        machine()
    );
    let number = |value: Option<f64>, unit: &str| {
        value.map_or("—".to_owned(), |value| format!("{value:.2}{unit}"))
    };
    let count = |value: Option<u64>| value.map_or("—".to_owned(), |value| value.to_string());
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / 1_048_576.0);
    for row in rows {
        text.push_str(&format!(
            "| {} | {} | {} s | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.external_secrets,
            row.unique_remote_secrets,
            row.refresh_seconds,
            number(row.cold_start_seconds, " s"),
            number(row.cpu_seconds_per_cycle, ""),
            mib(row.steady_rss_bytes),
            mib(row.peak_rss_bytes),
            count(row.kv_requests_per_cycle),
            count(row.k8s_reads_per_cycle),
            count(row.k8s_writes_per_cycle),
            row.throttled_429,
        ));
    }
    text.push_str("\n| quantity | growth exponent (N^k) | fitted at 1M |\n|---|---:|---:|\n");
    for fit in fits {
        text.push_str(&format!(
            "| {} | {:.2} | {:.3e} |\n",
            fit.quantity, fit.exponent, fit.at_1m
        ));
    }
    for row in rows.iter().filter(|row| !row.notes.is_empty()) {
        text.push_str(&format!(
            "\n{} ExternalSecrets: {}\n",
            row.external_secrets,
            row.notes.join("; ")
        ));
    }
    text
}
