//! What every actor of the operator shares: the Kubernetes client, the actor runtime, the
//! stores, the Azure network settings and credential cache, limiters and metrics.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use akvsync_actors::fair::{FairSemaphore, Fairness};
use akvsync_actors::mailbox::MailboxMetrics;
use akvsync_actors::runtime::Runtime;
use akvsync_actors::store::{LimiterRegistry, StoreConfig, StoreMetrics, Tenant};
use kube::runtime::events::{Recorder, Reporter};

use super::external_secret::TargetKinds;
use super::scope::Scope;
use super::stores::{ControllerClass, StoreConnector, Stores};
use super::targets::TargetSecrets;
use super::tenants::{TenantConfig, WaitNotices};
use crate::azure::{AzureNetwork, CredentialCache, TokenObserver, TokenOwner};
use crate::generate::AcrTokens;
use crate::observability::{ControllerMetrics, ResourceKind};

/// Syncs in their Kubernetes phase at once by default (twice the default Kubernetes request
/// concurrency); `--concurrent` sets it.
pub const KUBE_PHASES: u32 = 64;

/// The field manager and event reporter name of the operator.
pub const CONTROLLER_NAME: &str = "akvsync";

/// Shared handles; cloning is cheap.
#[derive(Clone)]
pub struct Shared {
    pub kube: kube::Client,
    pub runtime: Runtime,
    pub stores: Stores,
    /// Counts credentials that acquired a token again after failing their callers: the
    /// supervisor has resources that failed meanwhile retry at once.
    pub credentials_recovered: Arc<tokio::sync::watch::Sender<u64>>,
    pub metrics: Arc<ControllerMetrics>,
    pub mailbox_metrics: MailboxMetrics,
    pub recorder: Recorder,
    pub namespaces: NamespaceLabels,
    /// The managed Secrets' versions as watched and as last applied.
    pub targets: TargetSecrets,
    pub in_flight: InFlight,
    /// Syncs in their Kubernetes phase (read the target, build and write it, status, events) at
    /// once. Fetching waits outside it, so a slow vault does not hold it; a cold start of 100k
    /// resources builds a few dozen Secrets at a time, not 100k. Changes go first, and tenants
    /// take turns.
    pub kube_phases: Arc<FairSemaphore>,
    /// The namespace label whose value names a namespace's tenant (`--tenant-label`).
    pub tenant_label: Option<Arc<str>>,
    /// Every vault's limiter, for telling a waiting tenant why it waits.
    pub limiters: LimiterRegistry,
    pub wait_notices: Arc<WaitNotices>,
    /// The API resources of generic targets' kinds.
    pub target_kinds: TargetKinds,
    /// The ACRAccessToken generator's registry client.
    pub acr: Arc<AcrTokens>,
    /// This replica's name in events.
    pub instance: String,
    /// What this operator watches and serves.
    pub scope: Arc<Scope>,
}

/// The controllers' side of the operator's configuration.
pub struct ControllerSettings {
    /// This replica's name in events.
    pub instance: String,
    pub scope: Scope,
    /// Syncs in their Kubernetes phase at once (ESO's `--concurrent`).
    pub concurrent: u32,
    /// Who takes turns where resources wait.
    pub tenants: TenantConfig,
}

/// How stores connect: the Azure side of the operator's configuration.
pub struct StoreSettings {
    pub network: AzureNetwork,
    pub limiters: LimiterRegistry,
    pub store_metrics: Arc<StoreMetrics>,
    pub store_config: StoreConfig,
    /// `--naive`: stores serve with the benchmark's baseline instead of the store core.
    pub naive: bool,
    /// Which stores are this operator's.
    pub class: ControllerClass,
}

impl Shared {
    pub fn new(
        kube: kube::Client,
        runtime: Runtime,
        settings: StoreSettings,
        metrics: Arc<ControllerMetrics>,
        mailbox_metrics: MailboxMetrics,
        controller: ControllerSettings,
    ) -> Self {
        let credentials_recovered = Arc::new(tokio::sync::watch::Sender::new(0));
        let concurrent = controller.concurrent.max(1) as usize;
        metrics.max_concurrent_reconciles(ResourceKind::ExternalSecret, concurrent);
        let reporter = Reporter {
            controller: CONTROLLER_NAME.to_owned(),
            instance: Some(controller.instance.clone()),
        };
        let acr = Arc::new(AcrTokens::new(settings.network.clone()));
        let connector = StoreConnector {
            kube: kube.clone(),
            network: settings.network,
            credentials: CredentialCache::with_observer(Arc::new(TokenEvents {
                metrics: Arc::clone(&metrics),
                recovered: Arc::clone(&credentials_recovered),
            })),
            limiters: settings.limiters.clone(),
            store_metrics: settings.store_metrics,
            metrics: Arc::clone(&metrics),
            store_config: settings.store_config,
            naive: settings.naive,
        };
        Self {
            recorder: Recorder::new(kube.clone(), reporter),
            kube,
            stores: Stores::new(runtime.clone(), connector, settings.class),
            runtime,
            credentials_recovered,
            metrics,
            mailbox_metrics,
            namespaces: NamespaceLabels::default(),
            targets: TargetSecrets::default(),
            in_flight: InFlight::default(),
            kube_phases: Arc::new(FairSemaphore::new(
                concurrent,
                Fairness::turns(controller.tenants.policy.fair),
            )),
            tenant_label: controller.tenants.label.as_deref().map(Arc::from),
            limiters: settings.limiters,
            wait_notices: Arc::default(),
            target_kinds: TargetKinds::default(),
            acr,
            instance: controller.instance,
            scope: Arc::new(controller.scope),
        }
    }
}

impl Shared {
    /// The tenant a namespace's resources are served as: the namespace, or the value of its
    /// `--tenant-label` (a namespace without the label is a tenant of its own).
    pub fn tenant(&self, namespace: &str) -> Tenant {
        self.tenant_label
            .as_deref()
            .and_then(|key| self.namespaces.label(namespace, key))
            .map_or_else(|| Tenant::new(namespace), Tenant::new)
    }
}

/// Where credentials report their token requests: the metrics, and recoveries for the supervisor.
struct TokenEvents {
    metrics: Arc<ControllerMetrics>,
    recovered: Arc<tokio::sync::watch::Sender<u64>>,
}

impl TokenObserver for TokenEvents {
    fn token_requested(&self, owner: &TokenOwner, ok: bool) {
        self.metrics.token_requested(owner, ok);
    }

    fn token_backoff_rejected(&self, owner: &TokenOwner) {
        TokenObserver::token_backoff_rejected(self.metrics.as_ref(), owner);
    }

    fn token_recovered(&self, _: &TokenOwner) {
        self.recovered.send_modify(|count| *count += 1);
    }

    fn credential_built(&self, owner: &TokenOwner) {
        self.metrics.credential_built(owner);
    }
}

/// The labels of every namespace, kept by the supervisor's namespace watch, for
/// ClusterSecretStore conditions.
#[derive(Clone, Default)]
pub struct NamespaceLabels(Arc<RwLock<BTreeMap<String, BTreeMap<String, String>>>>);

impl NamespaceLabels {
    /// The value of one label of `namespace`, when the namespace has it.
    pub fn label(&self, namespace: &str, key: &str) -> Option<String> {
        self.0
            .read()
            .expect("namespace labels lock")
            .get(namespace)?
            .get(key)
            .cloned()
    }

    pub fn get(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .0
            .read()
            .expect("namespace labels lock")
            .get(namespace)
            .cloned()
            .unwrap_or_default();
        labels
            .entry("kubernetes.io/metadata.name".to_owned())
            .or_insert_with(|| namespace.to_owned());
        labels
    }

    /// Every known namespace and its labels.
    pub fn all(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let names: Vec<String> = self
            .0
            .read()
            .expect("namespace labels lock")
            .keys()
            .cloned()
            .collect();
        names
            .into_iter()
            .map(|name| {
                let labels = self.get(&name);
                (name, labels)
            })
            .collect()
    }

    pub fn set(&self, namespace: String, labels: BTreeMap<String, String>) {
        self.0
            .write()
            .expect("namespace labels lock")
            .insert(namespace, labels);
    }

    pub fn remove(&self, namespace: &str) {
        self.0
            .write()
            .expect("namespace labels lock")
            .remove(namespace);
    }
}

/// Counts reconciles under way, so a stop can wait for their writes.
#[derive(Clone, Default)]
pub struct InFlight(Arc<tokio::sync::watch::Sender<usize>>);

impl InFlight {
    /// Marks one reconcile as running until the guard drops.
    pub fn enter(&self) -> InFlightGuard {
        self.0.send_modify(|count| *count += 1);
        InFlightGuard(self.clone())
    }

    /// Waits until no reconcile runs, or `limit` passed.
    pub async fn drained(&self, limit: std::time::Duration) {
        let mut receiver = self.0.subscribe();
        let _ = tokio::time::timeout(limit, receiver.wait_for(|count| *count == 0)).await;
    }
}

pub struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|count| *count -= 1);
    }
}
