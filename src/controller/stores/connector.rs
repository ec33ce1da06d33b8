//! Connecting a store: build its authenticated Key Vault client, validate it, and wrap it in
//! the store's service. Reporting the result (status, metrics) is a step of its own.

use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::KeyVault;
use akvsync_actors::store::{
    Connect, ConnectFailure, Connection, LimiterRegistry, ListingAccessObserver, StoreConfig,
    StoreCore, StoreMetrics, StoreService,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use tracing::{info, warn};

use super::naive::NaiveStore;
use super::registry::{ActorKey, StoreId};
use super::report;
use crate::azure::{AzureNetwork, CredentialCache, StoreError, StoreSource};
use crate::observability::ControllerMetrics;

/// How long a store whose connection failed for a transient reason waits before trying again.
const RECONNECT_AFTER: Duration = Duration::from_secs(30);

/// What connecting a store needs, and nothing more.
pub struct StoreConnector {
    pub kube: kube::Client,
    pub network: AzureNetwork,
    pub credentials: CredentialCache,
    pub limiters: LimiterRegistry,
    pub store_metrics: Arc<StoreMetrics>,
    pub metrics: Arc<ControllerMetrics>,
    pub store_config: StoreConfig,
    /// The load benchmark's baseline (ESO's call pattern): stores serve with [`NaiveStore`].
    pub naive: bool,
}

impl StoreConnector {
    /// An authenticated, validated client for `source` (as seen from `consumer_namespace` for
    /// a referent cluster store), behind the store's cache and the vault's limiter.
    pub async fn connect(
        &self,
        source: &StoreSource,
        consumer_namespace: Option<&str>,
        listing_observer: Option<ListingAccessObserver>,
    ) -> Result<Arc<dyn StoreService>, StoreError> {
        let vault = crate::azure::connect(
            source,
            consumer_namespace,
            self.kube.clone(),
            &self.network,
            &self.credentials,
        )
        .await?;
        vault
            .validate()
            .await
            .map_err(|error| StoreError::Credential {
                message: format!("unable to validate store: {error}"),
                transient: error.is_transient(),
            })?;
        let limiter = self.limiters.limiter(vault.vault_host());
        let budget = limiter.budget();
        let host = limiter.host();
        let per_second = |per_10s: u32| f64::from(per_10s) / 10.0;
        self.metrics
            .vault_budget(host, "read", per_second(budget.reads_per_10s));
        self.metrics
            .vault_budget(host, "write", per_second(budget.writes_per_10s));
        if self.naive {
            return Ok(Arc::new(NaiveStore {
                host: host.to_owned(),
                source: source.clone(),
                consumer_namespace: consumer_namespace.map(str::to_owned),
                kube: self.kube.clone(),
                network: self.network.clone(),
                metrics: Arc::clone(&self.store_metrics),
            }));
        }
        let core = StoreCore::new(
            vault,
            limiter,
            Arc::clone(&self.store_metrics),
            &self.store_config,
        );
        Ok(Arc::new(match listing_observer {
            Some(observer) => core.with_listing_observer(observer),
            None => core,
        }))
    }
}

/// One store actor's connection: connects with the shared connector, then reports.
pub struct StoreConnection {
    connector: Arc<StoreConnector>,
    key: ActorKey,
    source: Result<StoreSource, StoreError>,
}

impl StoreConnection {
    pub fn new(
        connector: Arc<StoreConnector>,
        key: ActorKey,
        source: Result<StoreSource, StoreError>,
    ) -> Self {
        Self {
            connector,
            key,
            source,
        }
    }
}

impl Connect for StoreConnection {
    fn connect(&self) -> BoxFuture<'static, Connection> {
        let (connector, key, source) = (
            Arc::clone(&self.connector),
            self.key.clone(),
            self.source.clone(),
        );
        async move {
            let started = tokio::time::Instant::now();
            let store = &key.store;
            // A referent cluster store's per-namespace actors do not own the store's status.
            let owns_status = key.consumer_namespace.is_none();
            let observer = owns_status.then(|| listing_observer(&connector, store));
            let result = match &source {
                Ok(source) => {
                    connector
                        .connect(source, key.consumer_namespace.as_deref(), observer)
                        .await
                }
                Err(error) => Err(error.clone()),
            };
            match &result {
                Ok(_) => info!(store = %store.name, namespace = %store.namespace, "store connected"),
                Err(error) => {
                    warn!(store = %store.name, namespace = %store.namespace, %error, "store cannot connect")
                }
            }
            if owns_status {
                let outcome = result.as_ref().map(drop).map_err(Clone::clone);
                report::connected(&connector, store, &outcome, started.elapsed()).await;
            }
            result.map_err(|error| ConnectFailure {
                retry_after: error.is_transient().then_some(RECONNECT_AFTER),
                message: error.to_string(),
            })
        }
        .boxed()
    }
}

/// Rewrites the store's Ready message when its principal turns out not to be allowed to list
/// secrets, and back when it is again.
fn listing_observer(connector: &Arc<StoreConnector>, store: &StoreId) -> ListingAccessObserver {
    let (connector, store) = (Arc::clone(connector), store.clone());
    Arc::new(move |allowed| {
        let (connector, store) = (Arc::clone(&connector), store.clone());
        if !allowed {
            warn!(store = %store.name, namespace = %store.namespace, "listing secrets is forbidden: refreshes read every secret");
        }
        tokio::spawn(async move { report::listing_access(&connector, &store, allowed).await });
    })
}
