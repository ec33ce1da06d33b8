//! The operator process: an actix System with one arbiter per core, the supervisor, the metrics
//! and health servers, optional leader election, and an ordered stop. `akvsync run`, the demo and
//! the integration tests all start it from here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::mailbox::MailboxMetrics;
use akvsync_actors::runtime::Runtime;
use akvsync_actors::store::{LimiterRegistry, StoreConfig, StoreMetrics, VaultBudget};
use anyhow::Context as _;
use prometheus::Registry;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::azure::{AzureNetwork, NetworkSettings};
use crate::controller::context::{ControllerSettings, KUBE_PHASES, Shared, StoreSettings};
use crate::controller::scope::Scope;
use crate::controller::stores::ControllerClass;
use crate::controller::supervisor::{Lead, Shutdown, Supervisor};
use crate::controller::tenants::{self, TenantConfig};
use crate::observability::http::HttpError;
use crate::observability::{
    ControllerMetrics, HttpServer, LeaderElectionConfig, LeaderElector, LeaderState,
    MetricsGranularity, Readiness, TenantMetrics,
};

/// How long a stop waits for reconciles that are writing to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where the operator finds its cluster.
#[derive(Clone, Debug, Default)]
pub enum KubeSource {
    /// In-cluster config, else the kubeconfig of `KUBECONFIG` / `~/.kube/config`.
    #[default]
    Infer,
    Kubeconfig(PathBuf),
}

/// Everything `run` needs.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    pub kube: KubeSource,
    pub network: NetworkSettings,
    /// Arbiters to run actors on; 0 means one per core.
    pub workers: usize,
    pub budget: VaultBudget,
    pub store: StoreConfig,
    /// `--naive`: ESO's call pattern (no cache, coalescing or limiter; a new client per call),
    /// the load benchmark's baseline.
    pub naive: bool,
    /// Identifies this replica in events and the leader lease.
    pub instance: String,
    /// Metrics and health listeners; none in embedded uses.
    pub http: Option<(SocketAddr, SocketAddr)>,
    /// Lease-based leader election; none means this replica always leads.
    pub leader: Option<LeaderElectionConfig>,
    pub granularity: MetricsGranularity,
    /// Which stores, and so which resources, this operator serves (ESO's `--controller-class`).
    pub class: ControllerClass,
    /// Which namespaces and kinds it watches (ESO's `--namespace`, `--enable-…-reconciler`).
    pub scope: Scope,
    /// Syncs in their Kubernetes phase at once (ESO's `--concurrent`).
    pub concurrent: u32,
    /// Who takes turns where resources wait (`--tenant-label`, `--tenant-fairness`,
    /// `--tenant-max-share`).
    pub tenants: TenantConfig,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            kube: KubeSource::Infer,
            network: NetworkSettings::default(),
            workers: 0,
            budget: VaultBudget::default(),
            store: StoreConfig::default(),
            naive: false,
            instance: std::env::var("HOSTNAME").unwrap_or_else(|_| "akvsync".to_owned()),
            http: None,
            leader: None,
            granularity: MetricsGranularity::PerResource,
            class: ControllerClass::default(),
            scope: Scope::default(),
            concurrent: KUBE_PHASES,
            tenants: TenantConfig::default(),
        }
    }
}

/// The process's one metrics registry and the metrics registered on it.
#[derive(Clone)]
pub struct Telemetry {
    pub registry: Registry,
    pub store: Arc<StoreMetrics>,
    pub controller: Arc<ControllerMetrics>,
    pub mailbox: MailboxMetrics,
    pub tenants: Arc<TenantMetrics>,
}

impl Telemetry {
    pub fn new(granularity: MetricsGranularity) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let store = Arc::new(StoreMetrics::register(&registry)?);
        let controller = Arc::new(ControllerMetrics::register(&registry, granularity)?);
        let kinds = ["ExternalSecret", "ClusterExternalSecret", "PushSecret"];
        let mailbox = MailboxMetrics::register(&registry, &kinds)?;
        let tenants = TenantMetrics::register(&registry)?;
        Ok(Self {
            registry,
            store,
            controller,
            mailbox,
            tenants,
        })
    }
}

/// Installs the process's one rustls crypto provider (kube and the Azure SDK would otherwise
/// each pull their own).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

async fn kube_client(source: &KubeSource) -> anyhow::Result<kube::Client> {
    let config = match source {
        KubeSource::Infer => kube::Config::infer()
            .await
            .context("find the cluster configuration")?,
        KubeSource::Kubeconfig(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .context("load the kubeconfig")?
        }
    };
    kube::Client::try_from(config).context("build the Kubernetes client")
}

/// What a running operator tells its embedder: watches synced (also on a standby), and leading
/// (its actors started: at once without leader election, on gaining the Lease with it).
#[derive(Debug)]
pub struct Progress {
    pub synced: watch::Sender<bool>,
    pub leading: watch::Sender<bool>,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            synced: watch::channel(false).0,
            leading: watch::channel(false).0,
        }
    }
}

/// A running operator on its own thread.
pub struct OperatorHandle {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    synced: watch::Receiver<bool>,
    leading: watch::Receiver<bool>,
    pub telemetry: Telemetry,
}

impl OperatorHandle {
    /// Waits until every watch has listed once.
    pub async fn synced(&mut self) -> anyhow::Result<()> {
        self.synced
            .wait_for(|synced| *synced)
            .await
            .context("the operator stopped before its watches synced")?;
        Ok(())
    }

    /// Waits until this replica leads and has started its actors.
    pub async fn leading(&mut self) -> anyhow::Result<()> {
        self.leading
            .wait_for(|leading| *leading)
            .await
            .context("the operator stopped before it led")?;
        Ok(())
    }

    /// Whether this replica leads now.
    pub fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// Stops the operator and waits for its thread.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the operator thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for OperatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts the operator on a new thread; it runs until the handle is stopped or dropped.
pub fn spawn(config: OperatorConfig) -> anyhow::Result<OperatorHandle> {
    let (stop, stopped) = oneshot::channel::<()>();
    let progress = Progress::default();
    let synced = progress.synced.subscribe();
    let leading = progress.leading.subscribe();
    let telemetry = Telemetry::new(config.granularity)?;
    let shared_telemetry = telemetry.clone();
    let thread = std::thread::Builder::new()
        .name("akvsync-operator".into())
        .spawn(move || {
            run(config, shared_telemetry, progress, async {
                let _ = stopped.await;
            })
        })
        .context("start the operator thread")?;
    Ok(OperatorHandle {
        stop: Some(stop),
        thread: Some(thread),
        synced,
        leading,
        telemetry,
    })
}

/// Runs the operator on this thread until `shutdown` resolves (or leadership is lost, which is
/// an error: the process exits and its replacement campaigns again).
///
/// With leader election, a standby runs the supervisor's watches from the start (warm caches,
/// ready) but no actors; on gaining the Lease it starts them from what the watches hold.
pub fn run(
    config: OperatorConfig,
    telemetry: Telemetry,
    progress: Progress,
    shutdown: impl Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    let Progress { synced, leading } = progress;
    install_crypto_provider();
    let system = actix::System::new();
    system.block_on(async move {
        let kube = kube_client(&config.kube).await?;
        let network = AzureNetwork::new(config.network.clone()).context("build the Azure HTTP client")?;
        let cancel = CancellationToken::new();
        let readiness = Readiness::new();
        let server = match config.http {
            Some((metrics, health)) => {
                let server = HttpServer::bind(metrics, health, telemetry.registry.clone(), readiness.clone())
                    .await
                    .context("bind the metrics and health listeners")?;
                info!(metrics = %server.metrics_address(), health = %server.health_address(), "serving metrics and probes");
                Some(actix::spawn(server.serve(cancel.clone())))
            }
            None => None,
        };
        follow_sync(&synced, &readiness);
        let mut leader_states = match config.leader.clone() {
            Some(leader) => {
                let elector = LeaderElector::new(kube.clone(), leader).context("configure leader election")?;
                let states = elector.subscribe();
                readiness.follow_leader(states.clone());
                let token = cancel.clone();
                actix::spawn(async move {
                    if let Err(error) = elector.run(token).await {
                        warn!(%error, "leader election stopped");
                    }
                });
                Some(states)
            }
            None => {
                readiness.set_leader_state(LeaderState::Leader);
                None
            }
        };
        let runtime = if config.workers == 0 { Runtime::per_core() } else { Runtime::start(config.workers) };
        let limiters = LimiterRegistry::with_tenants(config.budget, config.tenants.policy);
        let settings = StoreSettings {
            network,
            limiters: limiters.clone(),
            store_metrics: Arc::clone(&telemetry.store),
            store_config: config.store.clone(),
            naive: config.naive,
            class: config.class.clone(),
        };
        let shared = Shared::new(
            kube,
            runtime.clone(),
            settings,
            Arc::clone(&telemetry.controller),
            telemetry.mailbox.clone(),
            ControllerSettings {
                instance: config.instance.clone(),
                scope: config.scope.clone(),
                concurrent: config.concurrent,
                tenants: config.tenants.clone(),
            },
        );
        telemetry.tenants.set_source(tenants::queue_source(limiters, Arc::clone(&shared.kube_phases)));
        let supervisor = actix::Actor::start(Supervisor::new(shared.clone(), synced, leader_states.is_none()));
        let mut shutdown = std::pin::pin!(shutdown);
        if let Some(states) = &mut leader_states {
            info!("standing by: watching, waiting to become the leader");
            tokio::select! {
                () = &mut shutdown => {
                    supervisor.do_send(Shutdown);
                    runtime.stop();
                    return stop(cancel, server).await;
                }
                leading = states.wait_for(LeaderState::is_leader) => { leading.context("leader election stopped")?; }
            }
            supervisor.send(Lead).await.context("the supervisor stopped")?;
            info!("leading");
        }
        leading.send_replace(true);
        let lost = async {
            match &mut leader_states {
                Some(states) => {
                    let _ = states.wait_for(|state| !state.is_leader()).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let lost_leadership = tokio::select! {
            () = &mut shutdown => false,
            () = lost => true,
        };
        info!("stopping: no new syncs, waiting for in-flight writes");
        leading.send_replace(false);
        supervisor.do_send(Shutdown);
        shared.in_flight.drained(SHUTDOWN_GRACE).await;
        runtime.stop();
        stop(cancel, server).await?;
        if lost_leadership {
            anyhow::bail!("lost the leader lease");
        }
        Ok(())
    })
}

/// Cancels the elector (which releases the Lease) and the HTTP server, then waits for the server.
async fn stop(
    cancel: CancellationToken,
    server: Option<tokio::task::JoinHandle<Result<(), HttpError>>>,
) -> anyhow::Result<()> {
    cancel.cancel();
    if let Some(server) = server {
        server
            .await
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")?;
    }
    // Let the elector's release request go out.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// Mirrors the supervisor's synced flag into the readiness probe.
fn follow_sync(synced: &watch::Sender<bool>, readiness: &Readiness) {
    let mut receiver = synced.subscribe();
    let readiness = readiness.clone();
    actix::spawn(async move {
        loop {
            readiness.set_watches_synced(*receiver.borrow_and_update());
            if receiver.changed().await.is_err() {
                break;
            }
        }
    });
}
