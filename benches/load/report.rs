//! The run's output: a Markdown table (akvsync vs naive and their ratio), a JSON file with every
//! figure, and the PNG chart, all under the output directory.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use crate::chart;
use crate::run::{ModeResult, Writes};
use crate::scenario::Scenario;

/// Key Vault's documented read limit per vault and 10 s window (the emulator enforces it).
const VAULT_LIMIT_PER_10S: u64 = 4_000;
/// akvsync's default budget per vault: half the limit (`--reads-per-10s`).
const AKVSYNC_BUDGET_PER_10S: u64 = 2_000;

pub struct Written {
    pub table: String,
    pub paths: Vec<String>,
}

pub fn write(
    scenario: &Scenario,
    results: &[ModeResult],
    output: &Path,
) -> anyhow::Result<Written> {
    let stem = format!("load-{}", scenario.preset);
    let table = table(scenario, results);
    let markdown = output.join(format!("{stem}.md"));
    std::fs::write(&markdown, &table).with_context(|| format!("write {}", markdown.display()))?;
    let json_path = output.join(format!("{stem}.json"));
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&figures(scenario, results))?,
    )
    .with_context(|| format!("write {}", json_path.display()))?;
    let png = output.join(format!("{stem}.png"));
    let series: Vec<(&str, &[(f64, u64)])> = results
        .iter()
        .map(|result| (result.mode.as_str(), result.series.as_slice()))
        .collect();
    chart::draw(&png, &series, VAULT_LIMIT_PER_10S, AKVSYNC_BUDGET_PER_10S)?;
    Ok(Written {
        table,
        paths: [markdown, json_path, png]
            .iter()
            .map(|path| path.display().to_string())
            .collect(),
    })
}

fn find<'a>(results: &'a [ModeResult], mode: &str) -> Option<&'a ModeResult> {
    results.iter().find(|result| result.mode == mode)
}

/// The flat figures issue 10 names, then each mode in full.
fn figures(scenario: &Scenario, results: &[ModeResult]) -> serde_json::Value {
    let akvsync = find(results, "akvsync");
    let naive = find(results, "naive");
    let machine = machine();
    json!({
        "preset": scenario.preset,
        "scenario": scenario.describe(),
        "machine": machine,
        "refresh_interval_seconds": scenario.refresh.as_secs(),
        "nominal_refresh_interval_seconds": scenario.nominal_refresh.as_secs(),
        "external_secrets": scenario.external_secrets,
        "unique_remote_secrets": akvsync.or(naive).map(|r| r.unique_remote_secrets),
        "kv_get_calls": akvsync.and_then(|r| r.kv_get_calls),
        "kv_get_calls_per_unique_secret": akvsync.and_then(|r| r.kv_get_calls_per_unique_secret),
        "kv_list_pages_per_cycle": akvsync.and_then(|r| r.kv_list_pages),
        "kv_requests_per_cycle_per_unique_secret": akvsync.and_then(|r| r.kv_requests_per_unique_secret),
        "naive_kv_get_calls": naive.and_then(|r| r.kv_get_calls),
        "naive_kv_get_calls_per_unique_secret": naive.and_then(|r| r.kv_get_calls_per_unique_secret),
        "max_requests_per_10s_per_vault": akvsync.map(|r| r.max_requests_per_10s_per_vault),
        "naive_max_requests_per_10s_per_vault": naive.map(|r| r.max_requests_per_10s_per_vault),
        "vault_budget_per_10s": AKVSYNC_BUDGET_PER_10S,
        "vault_limit_per_10s": VAULT_LIMIT_PER_10S,
        "throttled_429": akvsync.map(|r| r.throttled_429),
        "naive_throttled_429": naive.map(|r| r.throttled_429),
        "token_requests": akvsync.map(|r| r.token_requests),
        "naive_token_requests": naive.map(|r| r.token_requests),
        "kube_token_requests": akvsync.map(|r| r.kube_token_requests),
        "cold_start_seconds": akvsync.and_then(|r| r.cold_start_seconds),
        "kube_emulator_peak_writes_per_second": akvsync.and_then(|r| r.kube_emulator_peak_writes_per_second),
        "kube_emulator_write_p99_seconds": akvsync.and_then(|r| r.kube_emulator_write_p99_seconds),
        "kube_emulator_read_p99_seconds": akvsync.and_then(|r| r.kube_emulator_read_p99_seconds),
        "naive_cold_start_seconds": naive.and_then(|r| r.cold_start_seconds),
        "first_sync_p50_seconds": akvsync.and_then(|r| r.first_sync_p50_seconds),
        "first_sync_p99_seconds": akvsync.and_then(|r| r.first_sync_p99_seconds),
        "refresh_lag_p99_seconds": akvsync.and_then(|r| r.refresh_lag_p99_seconds),
        "k8s_writes_per_cycle": akvsync.and_then(|r| r.k8s_writes_per_cycle.as_ref().map(|w| w.total)),
        "k8s_secret_reads_per_cycle": akvsync.and_then(|r| r.k8s_writes_per_cycle.as_ref().map(|w| w.secret_reads)),
        "k8s_reads_per_cycle": akvsync.and_then(|r| r.k8s_writes_per_cycle.as_ref().map(|w| w.reads)),
        "warm_restart_kv_get_calls": akvsync.and_then(|r| r.warm_restart_kv_get_calls),
        "kv_requests_per_cycle_per_unique_secret_1pct_changed": akvsync.and_then(|r| r.one_percent_changed.as_ref().map(|c| c.kv_requests_per_unique_secret)),
        "naive_kv_requests_per_cycle_per_unique_secret_1pct_changed": naive.and_then(|r| r.one_percent_changed.as_ref().map(|c| c.kv_requests_per_unique_secret)),
        "kv_get_calls_1pct_changed": akvsync.and_then(|r| r.one_percent_changed.as_ref().map(|c| c.kv_get_calls)),
        "k8s_writes_1pct_changed": akvsync.and_then(|r| r.one_percent_changed.as_ref().map(|c| c.k8s_writes.total)),
        "secret_change_to_synced_p99_seconds": akvsync.and_then(|r| r.one_percent_changed.as_ref().and_then(|c| c.change_to_synced_p99_seconds)),
        "warm_restart_k8s_writes": akvsync.and_then(|r| r.warm_restart_k8s_writes.as_ref().map(|w| w.total)),
        "rss_bytes_per_external_secret": akvsync.and_then(|r| r.rss_bytes_per_external_secret),
        "peak_rss_bytes_per_external_secret": akvsync.map(|r| r.peak_rss_bytes as f64 / scenario.external_secrets.max(1) as f64),
        "cpu_seconds_total": akvsync.map(|r| r.cpu_seconds_total),
        "modes": results,
    })
}

pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB RAM", kib as f64 / 1024.0 / 1024.0)
        });
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    format!("{cores} cores {model}{memory}")
}

/// One row: a figure, its value per mode, and naive ÷ akvsync.
struct Row {
    figure: &'static str,
    akvsync: Option<f64>,
    naive: Option<f64>,
    unit: Unit,
}

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Seconds,
    /// Seconds shown in milliseconds, for request latencies.
    Milliseconds,
    Ratio,
    Bytes,
}

fn format_value(value: Option<f64>, unit: Unit) -> String {
    match value {
        None => "–".to_owned(),
        Some(value) => match unit {
            Unit::Count => format!("{value:.0}"),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Milliseconds => {
                let millis = format!("{:.3}", value * 1000.0);
                format!("{} ms", millis.trim_end_matches('0').trim_end_matches('.'))
            }
            Unit::Ratio => format!("{value:.2}"),
            Unit::Bytes if value.abs() >= 1024.0 * 1024.0 => {
                format!("{:.1} MiB", value / 1024.0 / 1024.0)
            }
            Unit::Bytes => format!("{:.1} KiB", value / 1024.0),
        },
    }
}

fn table(scenario: &Scenario, results: &[ModeResult]) -> String {
    let akvsync = find(results, "akvsync");
    let naive = find(results, "naive");
    let pick = |f: &dyn Fn(&ModeResult) -> Option<f64>| (akvsync.and_then(f), naive.and_then(f));
    let writes = |w: &Option<Writes>| w.as_ref().map(|w| w.total as f64);
    let mut rows = Vec::new();
    let mut row = |figure: &'static str, unit: Unit, f: &dyn Fn(&ModeResult) -> Option<f64>| {
        let (a, n) = pick(f);
        rows.push(Row {
            figure,
            akvsync: a,
            naive: n,
            unit,
        });
    };
    row("cold start: all Ready", Unit::Seconds, &|r| {
        r.cold_start_seconds
    });
    row(
        "cold start: ExternalSecrets created in",
        Unit::Seconds,
        &|r| Some(r.create_seconds),
    );
    row("cold start: Key Vault GETs", Unit::Count, &|r| {
        Some(r.cold_start_kv_get_calls as f64)
    });
    row("refresh cycle: Key Vault GETs", Unit::Count, &|r| {
        r.kv_get_calls.map(|v| v as f64)
    });
    row("refresh cycle: GETs ÷ unique secrets", Unit::Ratio, &|r| {
        r.kv_get_calls_per_unique_secret
    });
    row("refresh cycle: Key Vault list pages", Unit::Count, &|r| {
        r.kv_list_pages.map(|v| v as f64)
    });
    row(
        "refresh cycle: Key Vault requests (GETs + list pages) ÷ unique secrets",
        Unit::Ratio,
        &|r| r.kv_requests_per_unique_secret,
    );
    row("peak requests / 10 s / vault", Unit::Count, &|r| {
        Some(r.max_requests_per_10s_per_vault as f64)
    });
    row("429 answers", Unit::Count, &|r| {
        Some(r.throttled_429 as f64)
    });
    row("Entra token requests", Unit::Count, &|r| {
        Some(r.token_requests as f64)
    });
    row("Kubernetes TokenRequests", Unit::Count, &|r| {
        Some(r.kube_token_requests as f64)
    });
    row("cold start: Kubernetes writes", Unit::Count, &|r| {
        Some(r.cold_start_k8s_writes.total as f64)
    });
    row("refresh cycle: Kubernetes writes", Unit::Count, &|r| {
        writes(&r.k8s_writes_per_cycle)
    });
    row(
        "refresh cycle: Kubernetes Secret reads",
        Unit::Count,
        &|r| {
            r.k8s_writes_per_cycle
                .as_ref()
                .map(|w| w.secret_reads as f64)
        },
    );
    row(
        "refresh cycle: Kubernetes reads (any resource)",
        Unit::Count,
        &|r| r.k8s_writes_per_cycle.as_ref().map(|w| w.reads as f64),
    );
    row("warm restart: Kubernetes writes", Unit::Count, &|r| {
        writes(&r.warm_restart_k8s_writes)
    });
    row("warm restart: Key Vault GETs", Unit::Count, &|r| {
        r.warm_restart_kv_get_calls.map(|v| v as f64)
    });
    row(
        "warm restart: Key Vault GETs in the first seconds after ready",
        Unit::Count,
        &|r| {
            r.warm_restart_kv_get_calls_first_seconds
                .map(|(_, gets)| gets as f64)
        },
    );
    let changed = |r: &ModeResult| r.one_percent_changed.clone();
    row(
        "1% changed: Key Vault requests ÷ unique secrets",
        Unit::Ratio,
        &|r| changed(r).map(|c| c.kv_requests_per_unique_secret),
    );
    row("1% changed: Key Vault GETs", Unit::Count, &|r| {
        changed(r).map(|c| c.kv_get_calls as f64)
    });
    row("1% changed: Kubernetes writes", Unit::Count, &|r| {
        changed(r).map(|c| c.k8s_writes.total as f64)
    });
    row(
        "1% changed: secret change → Secret p50",
        Unit::Seconds,
        &|r| changed(r).and_then(|c| c.change_to_synced_p50_seconds),
    );
    row(
        "1% changed: secret change → Secret p99",
        Unit::Seconds,
        &|r| changed(r).and_then(|c| c.change_to_synced_p99_seconds),
    );
    row("new ExternalSecret → synced p50", Unit::Seconds, &|r| {
        r.first_sync_p50_seconds
    });
    row("new ExternalSecret → synced p99", Unit::Seconds, &|r| {
        r.first_sync_p99_seconds
    });
    row(
        "changed ExternalSecret → synced p50",
        Unit::Seconds,
        &|r| r.changed_sync_p50_seconds,
    );
    row(
        "changed ExternalSecret → synced p99",
        Unit::Seconds,
        &|r| r.changed_sync_p99_seconds,
    );
    row("refresh lag p99 (bucket bound)", Unit::Seconds, &|r| {
        r.refresh_lag_p99_seconds
    });
    row(
        "Kubernetes emulator: busiest second of writes",
        Unit::Count,
        &|r| r.kube_emulator_peak_writes_per_second,
    );
    row(
        "Kubernetes emulator: write p99 (bucket bound)",
        Unit::Milliseconds,
        &|r| r.kube_emulator_write_p99_seconds,
    );
    row(
        "Kubernetes emulator: read p99 (bucket bound)",
        Unit::Milliseconds,
        &|r| r.kube_emulator_read_p99_seconds,
    );
    row("operator RSS before ExternalSecrets", Unit::Bytes, &|r| {
        Some(r.rss_baseline_bytes as f64)
    });
    row("operator RSS after a cycle", Unit::Bytes, &|r| {
        Some(r.rss_bytes as f64)
    });
    row("operator RSS per ExternalSecret", Unit::Bytes, &|r| {
        r.rss_bytes_per_external_secret
    });
    row(
        "operator peak RSS (VmHWM) per ExternalSecret",
        Unit::Bytes,
        &|r| Some(r.peak_rss_bytes as f64 / r.external_secrets.max(1) as f64),
    );
    row("operator CPU: cold start", Unit::Seconds, &|r| {
        Some(r.cpu_seconds_cold_start)
    });
    row("operator CPU: one refresh cycle", Unit::Seconds, &|r| {
        r.cpu_seconds_per_cycle
    });
    row("operator CPU: whole run", Unit::Seconds, &|r| {
        Some(r.cpu_seconds_total)
    });

    let mut text = format!(
        "# Load benchmark: {}\n\n{}.\nMachine: {}. Vault limit {VAULT_LIMIT_PER_10S} reads / 10 s (emulator), akvsync budget {AKVSYNC_BUDGET_PER_10S}.\n\n| figure | akvsync | naive | naive ÷ akvsync |\n|---|---:|---:|---:|\n",
        scenario.preset,
        scenario.describe(),
        machine()
    );
    for row in rows {
        let ratio = match (row.akvsync, row.naive) {
            (Some(a), Some(n)) if a > 0.0 => format!("{:.2}×", n / a),
            (Some(a), Some(n)) if a == 0.0 && n == 0.0 => "=".to_owned(),
            _ => "–".to_owned(),
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.figure,
            format_value(row.akvsync, row.unit),
            format_value(row.naive, row.unit),
            ratio
        ));
    }
    for result in results {
        for note in &result.notes {
            text.push_str(&format!("\n- {}: {}", result.mode, note));
        }
    }
    text.push('\n');
    text
}
