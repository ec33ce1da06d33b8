//! The child processes of a run: the Azure emulator binary and the operator binary. Each is held
//! by a guard that kills it when dropped (end of a mode, error or panic), so a run leaves nothing
//! behind.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// How long a child may take to print its ready line or to exit after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the operator may take to answer `/readyz` (or open its watches) after it starts.
/// How long a started operator may take to become ready: its initial lists, plus one actor per
/// existing ExternalSecret on a warm restart (100k of them take minutes on 2 cores).
const READY_TIMEOUT: Duration = Duration::from_secs(900);

/// Where the binaries are: next to the bench's own `akvsync` (`CARGO_BIN_EXE_akvsync`), which
/// cargo builds before the bench; the emulators come from the same profile directory.
pub struct Binaries {
    pub akvsync: PathBuf,
    pub azure_emulator: PathBuf,
}

impl Binaries {
    /// Builds the emulator binaries with the bench's profile unless `build` is false.
    pub fn locate(build: bool) -> anyhow::Result<Binaries> {
        let akvsync = PathBuf::from(env!("CARGO_BIN_EXE_akvsync"));
        let directory = akvsync.parent().context("akvsync has a directory")?;
        let azure_emulator = directory.join("azure-emulator");
        if build {
            let profile = directory
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("release");
            let mut command = std::process::Command::new(env!("CARGO"));
            command
                .args(["build", "-q", "-p", "akvsync-emulators", "--bins"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if profile == "release" {
                command.arg("--release");
            }
            let status = command
                .status()
                .context("run cargo build for the emulators")?;
            if !status.success() {
                bail!("cargo build -p akvsync-emulators --bins failed: {status}");
            }
        }
        if !azure_emulator.exists() {
            bail!(
                "{} is missing: run `cargo build --release -p akvsync-emulators --bins`",
                azure_emulator.display()
            );
        }
        Ok(Binaries {
            akvsync,
            azure_emulator,
        })
    }
}

/// A child process killed when dropped.
pub struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after [`STOP_TIMEOUT`]).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.pid();
        if pid != 0 {
            // Only our own child, by its id.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                status.with_context(|| format!("wait for {}", self.name))?;
            }
            Err(_) => {
                self.child.start_kill().ok();
                self.child.wait().await.ok();
                bail!("{} did not stop within {STOP_TIMEOUT:?}", self.name);
            }
        }
        Ok(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

/// The Azure emulator's ready line (the fields the bench uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureReady {
    pub authority_host: String,
    pub vaults: std::collections::BTreeMap<String, String>,
    pub admin_url: String,
    pub ca_path: PathBuf,
}

pub struct AzureProcess {
    pub guard: ChildGuard,
    pub ready: AzureReady,
}

/// Starts `azure-emulator` with Key Vault's real limits (4,000 reads / 300 writes per 10 s per
/// vault, `Retry-After` on 429) and the seed, and waits for its ready line.
pub async fn start_azure(
    binaries: &Binaries,
    seed: &Path,
    directory: &Path,
    log: &Path,
) -> anyhow::Result<AzureProcess> {
    let mut child = Command::new(&binaries.azure_emulator)
        .arg("--seed")
        .arg(seed)
        .arg("--ca-dir")
        .arg(directory)
        .args(["--reads", "4000", "--writes", "300", "--window-ms", "10000"])
        .stdout(Stdio::piped())
        .stderr(File::create(log).context("create the Azure emulator log")?)
        .kill_on_drop(true)
        .spawn()
        .context("start azure-emulator")?;
    let stdout = child.stdout.take().context("azure-emulator stdout")?;
    let guard = ChildGuard {
        name: "azure-emulator",
        child,
    };
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(START_TIMEOUT, lines.next_line())
        .await
        .context("azure-emulator ready line timed out")??
        .context("azure-emulator exited before its ready line")?;
    let ready: AzureReady = serde_json::from_str(&line).context("parse the ready line")?;
    // Keep draining stdout so the emulator never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(AzureProcess { guard, ready })
}

/// What the operator is started with.
pub struct OperatorLaunch<'a> {
    pub binaries: &'a Binaries,
    /// Whether `run` takes `--log-level` (then the operator logs warnings and errors only).
    pub log_level: bool,
    pub kubeconfig: &'a Path,
    pub azure: &'a AzureReady,
    pub naive: bool,
    pub metrics_granularity: &'a str,
    pub log: &'a Path,
    /// More `run` flags (the noisy preset's `--tenant-fairness`).
    pub extra_args: &'a [String],
}

/// The operator's HTTP ports, when its `run` accepts `--metrics-addr` / `--health-addr`.
#[derive(Clone, Copy, Debug)]
pub struct OperatorPorts {
    pub metrics: u16,
    pub health: u16,
}

/// Whether `akvsync run --help` lists `flag`.
pub fn operator_accepts(binaries: &Binaries, flag: &str) -> bool {
    std::process::Command::new(&binaries.akvsync)
        .args(["run", "--help"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).contains(flag))
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub struct OperatorProcess {
    pub guard: ChildGuard,
    pub ports: Option<OperatorPorts>,
}

pub fn start_operator(
    launch: &OperatorLaunch<'_>,
    with_http: bool,
) -> anyhow::Result<OperatorProcess> {
    // A profiler to run the operator under, e.g. `AKVSYNC_BENCH_OPERATOR_WRAPPER="heaptrack -o
    // target/bench/operator"`. The RSS and CPU figures are then the wrapper's, and a wrapper that
    // does not pass SIGTERM on leaves the operator running: stop it by its pid.
    let wrapper = std::env::var("AKVSYNC_BENCH_OPERATOR_WRAPPER").unwrap_or_default();
    let mut wrapper = wrapper.split_whitespace();
    let mut command = match wrapper.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(wrapper).arg(&launch.binaries.akvsync);
            command
        }
        None => Command::new(&launch.binaries.akvsync),
    };
    command
        .arg("run")
        .arg("--kubeconfig")
        .arg(launch.kubeconfig)
        .arg("--extra-ca-file")
        .arg(&launch.azure.ca_path)
        .arg("--authority-host")
        .arg(&launch.azure.authority_host);
    if launch.naive {
        command.arg("--naive");
    }
    command.args(launch.extra_args);
    if launch.log_level {
        command.args(["--log-level", "warn"]);
    }
    let ports = if with_http {
        command.args(["--metrics-granularity", launch.metrics_granularity]);
        let ports = OperatorPorts {
            metrics: free_port()?,
            health: free_port()?,
        };
        command
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{}", ports.metrics))
            .arg("--health-addr")
            .arg(format!("127.0.0.1:{}", ports.health));
        Some(ports)
    } else {
        None
    };
    let log = File::options()
        .create(true)
        .append(true)
        .open(launch.log)
        .context("open the operator log")?;
    let child = command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("start akvsync run")?;
    Ok(OperatorProcess {
        guard: ChildGuard {
            name: "akvsync",
            child,
        },
        ports,
    })
}

/// Waits until the operator is ready: `/readyz` answers 200 when it has a health port, else
/// until `watches_open` reports that its watches are open and have stayed so for a second.
pub async fn wait_operator_ready<F>(
    operator: &mut OperatorProcess,
    http: &reqwest::Client,
    mut watches_open: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> bool,
{
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut stable_since: Option<tokio::time::Instant> = None;
    loop {
        if let Ok(Some(status)) = operator.guard.child.try_wait() {
            bail!("the operator exited before it was ready: {status}");
        }
        let ready = match operator.ports {
            Some(ports) => http
                .get(format!("http://127.0.0.1:{}/readyz", ports.health))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success()),
            None => {
                if watches_open() {
                    let since = *stable_since.get_or_insert_with(tokio::time::Instant::now);
                    since.elapsed() >= Duration::from_secs(1)
                } else {
                    stable_since = None;
                    false
                }
            }
        };
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the operator was not ready within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resident memory and CPU time of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessUsage {
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub cpu_seconds: f64,
}

pub fn usage(pid: u32, clock_ticks: f64) -> anyhow::Result<ProcessUsage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    let cpu_ticks = ticks(11) + ticks(12);
    Ok(ProcessUsage {
        rss_bytes: kib("VmRSS:"),
        peak_rss_bytes: kib("VmHWM:"),
        cpu_seconds: cpu_ticks as f64 / clock_ticks,
    })
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when it cannot be asked).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}
