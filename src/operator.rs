//! The operator process: an actix System with one arbiter per core, the supervisor, and a
//! clean stop. `akvsync run`, the demo and the integration tests all start it from here.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use akvsync_actors::runtime::Runtime;
use akvsync_actors::store::{LimiterRegistry, StoreConfig, StoreMetrics, VaultBudget};
use anyhow::Context as _;
use tokio::sync::{oneshot, watch};

use crate::azure::{AzureNetwork, NetworkSettings};
use crate::controller::context::Shared;
use crate::controller::supervisor::Supervisor;

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
    /// Identifies this replica in events and the leader lease.
    pub instance: String,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            kube: KubeSource::Infer,
            network: NetworkSettings::default(),
            workers: 0,
            budget: VaultBudget::default(),
            store: StoreConfig::default(),
            instance: std::env::var("HOSTNAME").unwrap_or_else(|_| "akvsync".to_owned()),
        }
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

/// A running operator on its own thread.
pub struct OperatorHandle {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    synced: watch::Receiver<bool>,
    pub store_metrics: Arc<StoreMetrics>,
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
    let (synced_tx, synced) = watch::channel(false);
    let store_metrics = Arc::new(StoreMetrics::unregistered()?);
    let metrics = Arc::clone(&store_metrics);
    let thread = std::thread::Builder::new()
        .name("akvsync-operator".into())
        .spawn(move || {
            run(config, metrics, synced_tx, async {
                let _ = stopped.await;
            })
        })
        .context("start the operator thread")?;
    Ok(OperatorHandle {
        stop: Some(stop),
        thread: Some(thread),
        synced,
        store_metrics,
    })
}

/// Runs the operator on this thread until `shutdown` resolves.
pub fn run(
    config: OperatorConfig,
    store_metrics: Arc<StoreMetrics>,
    synced: watch::Sender<bool>,
    shutdown: impl Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    install_crypto_provider();
    let system = actix::System::new();
    system.block_on(async move {
        let kube = kube_client(&config.kube).await?;
        let network =
            AzureNetwork::new(config.network.clone()).context("build the Azure HTTP client")?;
        let runtime = if config.workers == 0 {
            Runtime::per_core()
        } else {
            Runtime::start(config.workers)
        };
        let shared = Shared::new(
            kube,
            runtime.clone(),
            network,
            LimiterRegistry::new(config.budget),
            store_metrics,
            config.store.clone(),
            &config.instance,
        );
        let supervisor = actix::Actor::start(Supervisor::new(shared, synced));
        shutdown.await;
        drop(supervisor);
        runtime.stop();
        Ok(())
    })
}
