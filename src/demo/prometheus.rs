//! A real Prometheus (Debian's `prometheus` package) scraping the operator, with the repository's
//! alert rules loaded: `akvsync demo --prometheus`, and the tests that evaluate every alert and
//! dashboard query against what the operator exports.
//!
//! The rules are the ones a cluster gets: the `spec` of the monitoring overlay's PrometheusRule
//! (`deploy/overlays/monitoring/prometheusrule.yaml`), which is a Prometheus rules file as is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The monitoring overlay's PrometheusRule, as committed.
pub const PROMETHEUS_RULE: &str =
    include_str!("../../deploy/overlays/monitoring/prometheusrule.yaml");

/// The program the demo and the tests start.
pub const PROMETHEUS_PROGRAM: &str = "prometheus";

/// How long Prometheus may take to load its rules and answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The PrometheusRule's `spec` (its rule groups) as a Prometheus rules file.
pub fn alert_rules_file() -> anyhow::Result<String> {
    let rule: serde_yaml::Value =
        serde_yaml::from_str(PROMETHEUS_RULE).context("parse the PrometheusRule")?;
    let spec = rule
        .get("spec")
        .filter(|spec| spec.get("groups").is_some())
        .context("the PrometheusRule has no spec.groups")?;
    serde_yaml::to_string(spec).context("write the rules file")
}

/// The configuration: scrape `targets`' `/metrics` every `interval`, evaluate `rules` as often.
pub fn config(targets: &[SocketAddr], interval: Duration, rules: &Path) -> String {
    let targets: Vec<String> = targets
        .iter()
        .map(|target| format!("\"{target}\""))
        .collect();
    let interval = format!("{}ms", interval.as_millis().max(1));
    format!(
        "global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n\
         rule_files:\n  - \"{rules}\"\n\
         scrape_configs:\n  - job_name: akvsync\n    static_configs:\n      - targets: [{targets}]\n",
        rules = rules.display(),
        targets = targets.join(", ")
    )
}

/// A running Prometheus; stopped (and its data directory removed) when dropped.
pub struct Prometheus {
    child: tokio::process::Child,
    url: String,
    _directory: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus on `listen` scraping `targets`, with the alert rules, and waits until it
    /// is ready. Fails with the install command when Prometheus is not installed.
    pub async fn start(
        listen: SocketAddr,
        targets: &[SocketAddr],
        interval: Duration,
    ) -> anyhow::Result<Self> {
        let program = find_program(PROMETHEUS_PROGRAM).with_context(|| {
            format!("{PROMETHEUS_PROGRAM} is not installed; install Debian's package with: apt-get install -y prometheus")
        })?;
        let directory = tempfile::Builder::new()
            .prefix("akvsync-prometheus-")
            .tempdir()
            .context("create Prometheus's directory")?;
        let rules = directory.path().join("rules.yaml");
        std::fs::write(&rules, alert_rules_file()?).context("write the rules file")?;
        let config_file = directory.path().join("prometheus.yml");
        std::fs::write(&config_file, config(targets, interval, &rules))
            .context("write Prometheus's configuration")?;
        let log = std::fs::File::create(directory.path().join("prometheus.log"))
            .context("create Prometheus's log")?;
        let child = tokio::process::Command::new(&program)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                directory.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let mut prometheus = Self {
            child,
            url: format!("http://{listen}"),
            _directory: directory,
        };
        prometheus.wait_ready().await?;
        Ok(prometheus)
    }

    /// The base URL of the web UI and HTTP API.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Prometheus's own log so far (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._directory.path().join("prometheus.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let ready = format!("{}/-/ready", self.url);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("watch Prometheus")? {
                bail!("Prometheus exited ({status}): {}", self.log().trim());
            }
            let answered = client
                .get(&ready)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "Prometheus was not ready within {READY_TIMEOUT:?}: {}",
                    self.log().trim()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs an instant query; returns the result vector (or scalar/matrix) as JSON.
    pub async fn query(&self, expression: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let url = url::Url::parse_with_params(
            &format!("{}/api/v1/query", self.url),
            [("query", expression)],
        )
        .context("build the query URL")?;
        let response: serde_json::Value = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .with_context(|| format!("query {expression}"))?
            .json()
            .await
            .with_context(|| format!("read the answer to {expression}"))?;
        if response["status"] != "success" {
            bail!("query {expression} failed: {response}");
        }
        Ok(match &response["data"]["result"] {
            serde_json::Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        })
    }

    /// The loaded rule groups, as `/api/v1/rules` answers.
    pub async fn rules(&self) -> anyhow::Result<serde_json::Value> {
        let response: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/rules", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .context("ask Prometheus for its rules")?
            .json()
            .await
            .context("read Prometheus's rules")?;
        Ok(response["data"]["groups"].clone())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// `program` on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|directory| directory.join(program))
            .find(|candidate| candidate.is_file())
    })
}
