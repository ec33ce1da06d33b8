//! The README's first commands as tests: `akvsync demo --exit-when-synced`, and `akvsync demo
//! --prometheus` run as a user runs it, reading the addresses it prints.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use akvsync::demo::prometheus::{PROMETHEUS_PROGRAM, find_program};
use akvsync::demo::{DemoArgs, run};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Every wait of these tests is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn the_demo_syncs_every_example_external_secret() {
    let free = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let args = DemoArgs {
        exit_when_synced: true,
        timeout: TIMEOUT,
        examples: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples"),
        metrics_address: free,
        health_address: free,
        prometheus: false,
        prometheus_address: free,
    };
    run(args).expect("the demo syncs every ExternalSecret");
}

/// The word after `marker` in `line`, up to a space or comma.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &line[line.find(marker)? + marker.len()..];
    Some(rest.split([' ', ',']).next().unwrap_or(rest))
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Polls `check` every 250 ms until it returns `Some`, failing after [`TIMEOUT`].
async fn eventually<T, Fut: Future<Output = Option<T>>>(what: &str, check: impl Fn() -> Fut) -> T {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_metrics_and_probes_and_starts_prometheus_with_the_alert_rules() {
    assert!(
        find_program(PROMETHEUS_PROGRAM).is_some(),
        "prometheus is missing: apt-get install -y prometheus (scripts/test installs it)"
    );
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_akvsync"))
        .args(["demo", "--prometheus"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start akvsync demo");
    let mut lines = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let read_until_synced = async {
        while let Some(line) = lines.next_line().await.expect("read the demo's output") {
            let done = line.starts_with("Press Ctrl-C");
            printed.push(line);
            if done {
                return;
            }
        }
        panic!("the demo exited early:\n{}", printed.join("\n"));
    };
    tokio::time::timeout(TIMEOUT, read_until_synced)
        .await
        .expect("the demo syncs and prints its hints");
    let output = printed.join("\n");
    let find = |marker: &str| {
        printed
            .iter()
            .find_map(|line| after(line, marker))
            .unwrap_or_else(|| panic!("no {marker:?} in the demo's output:\n{output}"))
            .to_owned()
    };
    let metrics = find("metrics at ");
    let healthz = find("probes at ");
    let prometheus = find("Prometheus at ");
    assert!(
        output.contains(&format!("curl -s {metrics}")),
        "a curl line beside the kubectl one:\n{output}"
    );
    assert!(output.contains("kubectl get es -A"), "{output}");

    // The operator's metrics and probes.
    let (status, text) = get(&metrics).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"externalsecret_status_condition{condition="Ready",name="example-external-secret",namespace="default",status="True"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("akvsync_keyvault_requests_total"), "{text}");
    assert_eq!(get(&healthz).await.0, 200);
    let readyz = healthz.replace("/healthz", "/readyz");
    assert_eq!(get(&readyz).await.0, 200);

    // Prometheus scrapes the operator and holds the alert rules.
    let query = format!(
        "{prometheus}/api/v1/query?query=externalsecret_status_condition%7Bcondition%3D%22Ready%22%2Cstatus%3D%22True%22%7D"
    );
    eventually("Prometheus to have scraped the operator", || async {
        let (_, text) = get(&query).await;
        text.contains("example-external-secret").then_some(())
    })
    .await;
    let (_, rules) = get(&format!("{prometheus}/api/v1/rules")).await;
    for alert in [
        "AkvsyncExternalSecretSyncErrors",
        "AkvsyncSecretStoreNotReady",
        "AkvsyncKeyVaultThrottled",
    ] {
        assert!(rules.contains(alert), "{alert} loaded: {rules}");
    }

    // Ctrl-C stops everything, Prometheus included.
    let pid = demo.id().expect("running").to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let status = tokio::time::timeout(TIMEOUT, demo.wait())
        .await
        .expect("the demo stops on Ctrl-C")
        .expect("wait");
    assert!(status.success(), "{status}");
    let stopped = reqwest::Client::new()
        .get(format!("{prometheus}/-/ready"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        stopped.is_err(),
        "Prometheus still answers after the demo stopped"
    );
}

#[test]
fn the_demo_says_how_to_install_prometheus_when_it_is_missing() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_akvsync"))
        .args(["demo", "--prometheus"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("run akvsync demo");
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("apt-get install -y prometheus"),
        "the demo names the install command: {said}"
    );
}
