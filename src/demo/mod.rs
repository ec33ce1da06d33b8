//! `akvsync demo`: both emulators in-process, a vault seeded with what the examples read, the
//! examples applied, and the operator running against them, with a live table of results.

pub mod prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

use akvsync_crds::ExternalSecret;
use akvsync_emulators::azure::{
    AzureConfig, AzureEmulator, Grant, PrincipalSpec, SecretOptions, pkcs,
};
use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};

use crate::azure::{MapEnv, NetworkSettings};
use crate::observability::http::{HEALTHZ_PATH, METRICS_PATH, READYZ_PATH};
use crate::observability::{HttpServer, LeaderState, Readiness};
use crate::operator::{self, KubeSource, OperatorConfig};
use prometheus::{PROMETHEUS_PROGRAM, Prometheus};

/// The tenant, client and vault the examples name, so their manifests apply unchanged but for
/// the vault URL, which points at the emulator.
const TENANT: &str = "2ed1d494-6c5a-4c5d-aa24-479446fb844d";
const CLIENT_ID: &str = "7d8cdf74-0000-4000-8000-274d963d358b";
const CLIENT_SECRET: &str = "example-client-secret-value";
const VAULT: &str = "kvtestpushsecret";
const EXAMPLE_VAULT_URL: &str = "https://kvtestpushsecret.vault.azure.net";
const NAMESPACE: &str = "default";

/// The examples the demo applies, in order.
pub const DEMO_EXAMPLES: &[&str] = &[
    "azkv-secret-store-spn-secret.yaml",
    "azkv-external-secret.yaml",
    "azkv-datafrom-external-secret.yaml",
    "azkv-pkcs12-cert-external-secret.yaml",
    "azkv-generator-external-secret.yaml",
];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Exit 0 once every ExternalSecret is Ready (non-zero with the reason on timeout).
    #[arg(long)]
    pub exit_when_synced: bool,
    /// How long `--exit-when-synced` waits.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The folder holding the example manifests.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))]
    pub examples: PathBuf,
    /// Where the operator serves `/metrics` (a free port when this one is taken).
    #[arg(long = "metrics-addr", default_value_t = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)))]
    pub metrics_address: SocketAddr,
    /// Where the operator serves `/healthz` and `/readyz` (a free port when this one is taken).
    #[arg(long = "health-addr", default_value_t = SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)))]
    pub health_address: SocketAddr,
    /// Also start Prometheus (Debian's `prometheus` package) scraping the operator, with the
    /// repository's alert rules loaded.
    #[arg(long)]
    pub prometheus: bool,
    /// Where Prometheus listens with `--prometheus` (a free port when this one is taken).
    #[arg(long = "prometheus-addr", default_value_t = SocketAddr::from((Ipv4Addr::LOCALHOST, 9090)))]
    pub prometheus_address: SocketAddr,
}

/// How often the demo's Prometheus scrapes the operator and evaluates the alert rules.
const DEMO_SCRAPE_INTERVAL: Duration = Duration::from_secs(5);

/// Binds the metrics and probe listeners on the asked addresses, or on free loopback ports when
/// either is taken (another demo, or anything on 8080).
async fn bind_http(
    args: &DemoArgs,
    registry: ::prometheus::Registry,
    readiness: Readiness,
) -> anyhow::Result<HttpServer> {
    match HttpServer::bind(
        args.metrics_address,
        args.health_address,
        registry.clone(),
        readiness.clone(),
    )
    .await
    {
        Ok(server) => Ok(server),
        Err(_) => {
            let free = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            HttpServer::bind(free, free, registry, readiness)
                .await
                .context("bind the metrics and probe listeners")
        }
    }
}

/// `address`, or a free loopback port when it is taken.
fn free_or(address: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(address)
        .or_else(|_| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .context("find a port for Prometheus")?;
    Ok(listener.local_addr()?)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    akvsync_crds::parse_go_duration(text).map_err(|error| error.to_string())
}

/// Runs the demo; returns when synced (with `--exit-when-synced`) or on Ctrl-C.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    operator::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    if args.prometheus && prometheus::find_program(PROMETHEUS_PROGRAM).is_none() {
        bail!(
            "--prometheus needs Prometheus, which is not installed: apt-get install -y prometheus \
             (Debian's package), or run the demo without --prometheus"
        );
    }
    let azure = AzureEmulator::start(AzureConfig::default())
        .await
        .context("start the Azure emulator")?;
    let kube = KubeEmulator::start(KubeConfig::default())
        .await
        .context("start the Kubernetes emulator")?;
    seed_vault(&azure)?;
    let client = kube.client();
    install(&client, &azure, &args.examples).await?;

    let kubeconfig = kube
        .kubeconfig_path("admin")
        .context("the emulator wrote no admin kubeconfig")?
        .to_owned();
    let config = OperatorConfig {
        kube: KubeSource::Kubeconfig(kubeconfig.clone()),
        network: NetworkSettings {
            extra_ca_pem: Some(azure.ca_pem().to_owned()),
            authority_host: Some(azure.authority_host()),
            managed_identity_endpoint: None,
            env: Arc::new(MapEnv::default()),
        },
        ..OperatorConfig::default()
    };
    let mut handle = operator::spawn(config)?;
    // The operator's metrics and probes, served here because the demo picks free ports.
    let readiness = Readiness::new();
    readiness.set_leader_state(LeaderState::Leader);
    let server = bind_http(&args, handle.telemetry.registry.clone(), readiness.clone()).await?;
    let (metrics_address, health_address) = (server.metrics_address(), server.health_address());
    let stop_http = tokio_util::sync::CancellationToken::new();
    let http = tokio::spawn(server.serve(stop_http.clone()));
    handle.synced().await?;
    readiness.set_watches_synced(true);
    println!(
        "akvsync demo: Key Vault emulator at {}, Kubernetes emulator at {}",
        azure.vault_url(VAULT),
        kube.url()
    );
    let metrics_url = format!("http://{metrics_address}{METRICS_PATH}");
    println!(
        "akvsync demo: metrics at {metrics_url}, probes at http://{health_address}{HEALTHZ_PATH} and {READYZ_PATH}"
    );
    let prometheus = if args.prometheus {
        let server = Prometheus::start(
            free_or(args.prometheus_address)?,
            &[metrics_address],
            DEMO_SCRAPE_INTERVAL,
        )
        .await?;
        println!(
            "akvsync demo: Prometheus at {} (scraping every {}s, akvsync's alert rules loaded: {}/alerts)",
            server.url(),
            DEMO_SCRAPE_INTERVAL.as_secs(),
            server.url()
        );
        Some(server)
    } else {
        None
    };
    let stop = move |handle: operator::OperatorHandle| {
        stop_http.cancel();
        drop(prometheus);
        handle.stop()
    };
    println!(
        "{:<12} {:<32} {:<6} {:<18} SECRET (KEYS)",
        "NAMESPACE", "EXTERNALSECRET", "READY", "REASON"
    );

    let deadline = tokio::time::Instant::now() + args.timeout;
    // Ctrl-C or SIGTERM: stop the operator, the metrics server and Prometheus in order.
    let mut interrupted = std::pin::pin!(crate::cli::shutdown_signal());
    let mut shown = BTreeMap::new();
    loop {
        let (all_ready, rows) = table(&client).await?;
        for (key, row) in rows {
            if shown.get(&key) != Some(&row) {
                println!("{row}");
                shown.insert(key, row);
            }
        }
        if args.exit_when_synced {
            if all_ready {
                println!("akvsync demo: every ExternalSecret is Ready");
                stop(handle)?;
                return http.await?.context("the metrics server failed");
            }
            if tokio::time::Instant::now() > deadline {
                stop(handle)?;
                bail!(
                    "not every ExternalSecret became Ready within {:?}",
                    args.timeout
                );
            }
        } else if all_ready && !shown.contains_key("__hint") {
            println!();
            println!(
                "Everything is synced. Try: KUBECONFIG={} kubectl get es -A",
                kubeconfig.display()
            );
            println!("                      or: curl -s {metrics_url} | grep ^externalsecret_");
            println!("Press Ctrl-C to stop.");
            shown.insert("__hint".into(), String::new());
        }
        tokio::select! {
            () = &mut interrupted => {
                stop(handle)?;
                return http.await?.context("the metrics server failed");
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// What the examples read: secrets (with tags), a JSON secret, a key and certificates.
fn seed_vault(azure: &AzureEmulator) -> anyhow::Result<()> {
    azure.add_tenant(TENANT)?;
    azure.add_vault(VAULT, TENANT)?;
    let principal = PrincipalSpec {
        client_id: CLIENT_ID.into(),
        ..PrincipalSpec::with_secret("demo", CLIENT_SECRET)
    };
    azure.add_principal(TENANT, principal)?;
    azure.grant(VAULT, CLIENT_ID, Grant::all())?;
    let tags = |pairs: &[(&str, &str)]| SecretOptions {
        tags: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SecretOptions::default()
    };
    azure.set_secret(
        VAULT,
        "dev-secret-test",
        "a dev secret",
        tags(&[("author", "seb"), ("environment", "dev")]),
    )?;
    azure.set_secret(
        VAULT,
        "dev-json-secret",
        r#"{"username":"app-user","password":"app-pass"}"#,
        tags(&[]),
    )?;
    azure.set_secret(VAULT, "example-one", "first example", tags(&[]))?;
    azure.set_secret(VAULT, "example-two", "second example", tags(&[]))?;
    azure.set_secret(
        VAULT,
        "test",
        r#"{"host":"db.internal","port":"5432"}"#,
        tags(&[("owner", "platform")]),
    )?;
    azure.create_key(
        VAULT,
        "dev-key-test",
        &serde_json::json!({"kty": "EC", "crv": "P-256"}),
    )?;
    for name in ["dev-cert-test", "tls-client-credentials"] {
        let material = pkcs::self_signed(&format!("{name}.example"), false)?;
        let pfx = base64::engine::general_purpose::STANDARD.encode(pkcs::to_pkcs12(&material, "")?);
        azure.import_certificate(VAULT, name, &pfx, None, Some("application/x-pkcs12"))?;
    }
    Ok(())
}

/// Installs the CRDs and applies the demo's examples, pointing their vault URL at the emulator.
async fn install(
    client: &kube::Client,
    azure: &AzureEmulator,
    examples: &std::path::Path,
) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in akvsync_crds::all_crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .context("install the CRDs")?;
    }
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await;
    let vault_url = azure.vault_url(VAULT);
    for file in DEMO_EXAMPLES {
        let path = examples.join(file);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let text = text.replace(EXAMPLE_VAULT_URL, vault_url.trim_end_matches('/'));
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(document)?;
            if value.is_null() {
                continue;
            }
            apply(client, value)
                .await
                .with_context(|| format!("apply {file}"))?;
        }
    }
    Ok(())
}

use serde::Deserialize as _;

async fn apply(client: &kube::Client, value: serde_yaml::Value) -> anyhow::Result<()> {
    let mut object: DynamicObject = serde_yaml::from_value(value)?;
    let types = object
        .types
        .clone()
        .context("a manifest without apiVersion and kind")?;
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", types.api_version.as_str()));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
    let namespace = object.namespace().unwrap_or_else(|| NAMESPACE.to_owned());
    object.metadata.namespace = Some(namespace.clone());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    api.patch(
        &object.name_any(),
        &PatchParams::apply("akvsync-demo").force(),
        &Patch::Apply(&object),
    )
    .await?;
    Ok(())
}

/// One line per ExternalSecret, and whether all are Ready.
async fn table(client: &kube::Client) -> anyhow::Result<(bool, BTreeMap<String, String>)> {
    let list = Api::<ExternalSecret>::all(client.clone())
        .list(&Default::default())
        .await?;
    let mut all_ready = !list.items.is_empty();
    let mut rows = BTreeMap::new();
    for es in list.items {
        let namespace = es.namespace().unwrap_or_default();
        let ready = es
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
            .cloned();
        let (status, reason) = ready.map_or(("-".to_owned(), "-".to_owned()), |c| {
            (c.status, c.reason.unwrap_or_default())
        });
        all_ready &= status == "True";
        let target = crate::sync::target::target_name(&es);
        let keys: BTreeSet<String> = Api::<Secret>::namespaced(client.clone(), &namespace)
            .get_opt(&target)
            .await?
            .and_then(|secret| secret.data)
            .map(|data| data.into_keys().collect())
            .unwrap_or_default();
        let keys: Vec<String> = keys.into_iter().collect();
        let row = format!(
            "{:<12} {:<32} {:<6} {:<18} {} ({})",
            namespace,
            es.name_any(),
            status,
            reason,
            target,
            keys.join(", ")
        );
        rows.insert(format!("{namespace}/{}", es.name_any()), row);
    }
    Ok((all_ready, rows))
}
