//! The supervisor: runs the watches, keeps the live resource actors ([`Actors`]), routes
//! changes to them, and keeps the stores and namespace labels current.
//!
//! A standby replica (leader election on, Lease held by another) runs the same watches but
//! starts no actors and connects no stores: it keeps the latest version of every resource, so
//! its caches are warm and `/readyz` can pass, and writes nothing and calls no vault. On
//! [`Lead`] it connects its stores and starts one actor per resource it already knows, so a
//! takeover relists nothing.

mod actors;
mod store_events;
mod watches;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use actix::prelude::*;
use akvsync_crds::constants::LABEL_MANAGED;
use akvsync_crds::{
    ClusterExternalSecret, ClusterPushSecret, ClusterSecretStore, ExternalSecret, PushSecret,
    PushSecretSelector, SecretStore, StoreKind,
};
use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::ResourceExt;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::watcher::{self, Event as WatchEvent};
use tokio::sync::watch;
use tracing::{info, warn};

pub use self::actors::{Actors, Key};
use self::watches::watch;

use super::cluster_external_secret::ClusterExternalSecretReconciler;
use super::cluster_push_secret::ClusterPushSecretReconciler;
use super::context::Shared;
use super::external_secret::ExternalSecretReconciler;
use super::namespaces::selector_matches;
use super::push_secret::PushSecretReconciler;

/// How soon notices that found a full mailbox are tried again.
const RETRY_DEFERRED: Duration = Duration::from_millis(50);

/// One change from any of the supervisor's watches.
pub enum Change {
    SecretStore(WatchEvent<DeserializeGuard<SecretStore>>),
    ClusterSecretStore(WatchEvent<DeserializeGuard<ClusterSecretStore>>),
    ExternalSecret(WatchEvent<DeserializeGuard<ExternalSecret>>),
    ClusterExternalSecret(WatchEvent<DeserializeGuard<ClusterExternalSecret>>),
    PushSecret(WatchEvent<DeserializeGuard<PushSecret>>),
    ClusterPushSecret(WatchEvent<DeserializeGuard<ClusterPushSecret>>),
    Namespace(WatchEvent<PartialObjectMeta<Namespace>>),
    Secret(WatchEvent<PartialObjectMeta<Secret>>),
    WatchFailed(&'static str, String),
    /// A credential has a token again after its callers failed.
    CredentialRecovered,
}

/// Where a PushSecret reads from.
enum PushSource {
    Name(String),
    Selector(LabelSelector),
}

pub struct Supervisor {
    shared: Shared,
    external_secrets: Actors<ExternalSecretReconciler>,
    cluster_external_secrets: Actors<ClusterExternalSecretReconciler>,
    push_secrets: Actors<PushSecretReconciler>,
    cluster_push_secrets: Actors<ClusterPushSecretReconciler>,
    /// The source Secret of each PushSecret, to push again when it changes.
    push_sources: HashMap<(String, String), PushSource>,
    synced_watches: HashSet<&'static str>,
    synced: watch::Sender<bool>,
    /// Whether this replica leads (always, without leader election).
    leading: bool,
    /// Whether the resource actors run: once leading and every watch has synced.
    started: bool,
    /// Whether a retry of deferred notices is scheduled.
    retrying: bool,
}

impl Supervisor {
    /// A supervisor that starts its actors once every watch has synced, when `leading`, or
    /// stands by until [`Lead`]. Waiting for the initial lists, as ESO waits for its caches,
    /// means no resource syncs before the stores it names are known (a PushSecret or
    /// ExternalSecret would otherwise report its store missing on every restart).
    pub fn new(shared: Shared, synced: watch::Sender<bool>, leading: bool) -> Self {
        if !leading {
            shared.stores.stand_by();
        }
        let mailboxes = &shared.mailbox_metrics;
        Self {
            external_secrets: Actors::new(
                "ExternalSecret",
                ExternalSecretReconciler::new(shared.clone()),
                mailboxes.clone(),
            ),
            cluster_external_secrets: Actors::new(
                "ClusterExternalSecret",
                ClusterExternalSecretReconciler::new(shared.clone()),
                mailboxes.clone(),
            ),
            push_secrets: Actors::new(
                "PushSecret",
                PushSecretReconciler::new(shared.clone()),
                mailboxes.clone(),
            ),
            cluster_push_secrets: Actors::new(
                "ClusterPushSecret",
                ClusterPushSecretReconciler::new(shared.clone()),
                mailboxes.clone(),
            ),
            push_sources: HashMap::new(),
            shared,
            synced_watches: HashSet::new(),
            synced,
            leading,
            started: false,
            retrying: false,
        }
    }

    /// Schedules delivery of the notices that found a full mailbox, until none waits.
    fn retry_deferred(&mut self, ctx: &mut Context<Self>) {
        if self.retrying {
            return;
        }
        self.retrying = true;
        ctx.run_later(RETRY_DEFERRED, |supervisor, ctx| {
            supervisor.retrying = false;
            let es = supervisor.external_secrets.retry_deferred();
            let ces = supervisor.cluster_external_secrets.retry_deferred();
            let push = supervisor.push_secrets.retry_deferred();
            let cps = supervisor.cluster_push_secrets.retry_deferred();
            if es || ces || push || cps {
                supervisor.retry_deferred(ctx);
            }
        });
    }

    fn has_deferred(&self) -> bool {
        self.external_secrets.has_deferred()
            || self.cluster_external_secrets.has_deferred()
            || self.push_secrets.has_deferred()
            || self.cluster_push_secrets.has_deferred()
    }

    /// Connects the stores and starts an actor for every resource the watches hold, once.
    fn start_actors(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let shared = &self.shared;
        shared.stores.activate();
        self.external_secrets
            .start(&shared.runtime, &shared.metrics);
        self.cluster_external_secrets
            .start(&shared.runtime, &shared.metrics);
        self.push_secrets.start(&shared.runtime, &shared.metrics);
        self.cluster_push_secrets
            .start(&shared.runtime, &shared.metrics);
        info!(
            external_secrets = self.external_secrets.len(),
            "started the actors of every known resource"
        );
    }

    fn watches(&self) -> BoxStream<'static, Change> {
        let client = &self.shared.kube;
        let scope = &self.shared.scope;
        let recoveries = self.shared.credentials_recovered.subscribe();
        let recovered = stream::unfold(recoveries, |mut recoveries| async move {
            recoveries.changed().await.ok()?;
            Some((Change::CredentialRecovered, recoveries))
        });
        let all = watcher::Config::default;
        let mut watches = vec![recovered.boxed()];
        for name in scope.watch_names() {
            let client = client.clone();
            watches.push(match name {
                "namespaces" => watch(
                    Api::all(client),
                    scope.namespaces_watch(),
                    name,
                    Change::Namespace,
                ),
                "secretstores" => watch(
                    scope.namespaced_api(client),
                    all(),
                    name,
                    Change::SecretStore,
                ),
                "clustersecretstores" => {
                    watch(Api::all(client), all(), name, Change::ClusterSecretStore)
                }
                "secrets" => watch(scope.namespaced_api(client), all(), name, Change::Secret),
                "externalsecrets" => watch(
                    scope.namespaced_api(client),
                    all(),
                    name,
                    Change::ExternalSecret,
                ),
                "clusterexternalsecrets" => {
                    watch(Api::all(client), all(), name, Change::ClusterExternalSecret)
                }
                "pushsecrets" => watch(
                    scope.namespaced_api(client),
                    all(),
                    name,
                    Change::PushSecret,
                ),
                "clusterpushsecrets" => {
                    watch(Api::all(client), all(), name, Change::ClusterPushSecret)
                }
                other => unreachable!("no watch named {other}"),
            });
        }
        stream::select_all(watches).boxed()
    }

    fn watch_synced(&mut self, watch: &'static str) {
        debug_assert!(self.shared.scope.watches(watch), "unknown watch {watch}");
        self.synced_watches.insert(watch);
        if self.synced_watches.len() == self.shared.scope.watch_names().len()
            && !*self.synced.borrow()
        {
            info!("all watches synced");
            self.synced.send_replace(true);
            if self.leading {
                self.start_actors();
            }
        }
    }

    fn secret_changed(&mut self, event: WatchEvent<PartialObjectMeta<Secret>>) {
        let targets = &self.shared.targets;
        match &event {
            WatchEvent::Init => targets.relist_started(),
            WatchEvent::InitDone => targets.relist_done(),
            WatchEvent::Apply(secret) | WatchEvent::InitApply(secret) => targets.observed(
                &secret.namespace().unwrap_or_default(),
                &secret.name_any(),
                secret.metadata.resource_version.as_deref(),
                secret.labels().contains_key(LABEL_MANAGED),
            ),
            WatchEvent::Delete(secret) => {
                targets.deleted(&secret.namespace().unwrap_or_default(), &secret.name_any())
            }
        }
        match event {
            WatchEvent::Apply(secret) => {
                let namespace = secret.namespace().unwrap_or_default();
                for id in self
                    .shared
                    .stores
                    .referencing_secret(&namespace, &secret.name_any())
                {
                    info!(store = %id.name, secret = %secret.name_any(), "credential secret changed, reconnecting store");
                    self.shared.stores.reconnect(&id);
                }
                self.push_sources_changed(&secret);
            }
            WatchEvent::Delete(secret) => self.push_sources_changed(&secret),
            WatchEvent::Init | WatchEvent::InitApply(_) => {}
            WatchEvent::InitDone => self.watch_synced("secrets"),
        }
    }

    /// Pushes again from every PushSecret that reads `secret`.
    fn push_sources_changed(&mut self, secret: &PartialObjectMeta<Secret>) {
        let namespace = secret.namespace().unwrap_or_default();
        let name = secret.name_any();
        let readers: Vec<Key> = self
            .push_sources
            .iter()
            .filter(|(key, source)| {
                key.0 == namespace
                    && match source {
                        PushSource::Name(source) => *source == name,
                        PushSource::Selector(selector) => {
                            selector_matches(selector, secret.labels())
                        }
                    }
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &readers {
            self.push_secrets.sync(key);
        }
    }

    fn push_secret_changed(&mut self, event: WatchEvent<DeserializeGuard<PushSecret>>) {
        match &event {
            WatchEvent::Apply(DeserializeGuard(Ok(push)))
            | WatchEvent::InitApply(DeserializeGuard(Ok(push))) => {
                let key = (push.namespace().unwrap_or_default(), push.name_any());
                let source = match &push.spec.selector {
                    PushSecretSelector::Secret(secret) => match (&secret.name, &secret.selector) {
                        (Some(name), _) => Some(PushSource::Name(name.clone())),
                        (None, Some(selector)) => Some(PushSource::Selector(selector.clone())),
                        (None, None) => None,
                    },
                    PushSecretSelector::GeneratorRef(_) => None,
                };
                match source {
                    Some(source) => self.push_sources.insert(key, source),
                    None => self.push_sources.remove(&key),
                };
            }
            WatchEvent::Delete(DeserializeGuard(object)) => {
                let meta = match object {
                    Ok(push) => push.metadata.clone(),
                    Err(invalid) => invalid.metadata.clone(),
                };
                self.push_sources.remove(&(
                    meta.namespace.unwrap_or_default(),
                    meta.name.unwrap_or_default(),
                ));
            }
            _ => {}
        }
        if self
            .push_secrets
            .handle(&self.shared.runtime, &self.shared.metrics, event)
        {
            self.watch_synced("pushsecrets");
        }
    }

    fn namespace_changed(&mut self, event: WatchEvent<PartialObjectMeta<Namespace>>) {
        match event {
            WatchEvent::InitApply(namespace) => {
                self.shared
                    .namespaces
                    .set(namespace.name_any(), namespace.labels().clone());
            }
            WatchEvent::Apply(namespace) => {
                self.shared
                    .namespaces
                    .set(namespace.name_any(), namespace.labels().clone());
                self.cluster_external_secrets.sync_all();
                self.cluster_push_secrets.sync_all();
            }
            WatchEvent::Delete(namespace) => {
                self.shared.namespaces.remove(&namespace.name_any());
                self.cluster_external_secrets.sync_all();
                self.cluster_push_secrets.sync_all();
            }
            WatchEvent::Init => {}
            WatchEvent::InitDone => self.watch_synced("namespaces"),
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(self.watches());
    }
}

impl StreamHandler<Change> for Supervisor {
    fn handle(&mut self, change: Change, ctx: &mut Context<Self>) {
        self.route(change);
        if self.has_deferred() {
            self.retry_deferred(ctx);
        }
    }
}

impl Supervisor {
    fn route(&mut self, change: Change) {
        match change {
            Change::SecretStore(event) => {
                self.store_changed(StoreKind::SecretStore, "secretstores", event)
            }
            Change::ClusterSecretStore(event) => {
                self.store_changed(StoreKind::ClusterSecretStore, "clustersecretstores", event)
            }
            Change::ExternalSecret(event) => {
                if self
                    .external_secrets
                    .handle(&self.shared.runtime, &self.shared.metrics, event)
                {
                    self.watch_synced("externalsecrets");
                }
            }
            Change::PushSecret(event) => self.push_secret_changed(event),
            Change::ClusterExternalSecret(event) => {
                if self.cluster_external_secrets.handle(
                    &self.shared.runtime,
                    &self.shared.metrics,
                    event,
                ) {
                    self.watch_synced("clusterexternalsecrets");
                }
            }
            Change::ClusterPushSecret(event) => {
                if self.cluster_push_secrets.handle(
                    &self.shared.runtime,
                    &self.shared.metrics,
                    event,
                ) {
                    self.watch_synced("clusterpushsecrets");
                }
            }
            Change::Namespace(event) => self.namespace_changed(event),
            Change::Secret(event) => self.secret_changed(event),
            Change::WatchFailed(watch, error) => {
                warn!(watch, %error, "watch failed, retrying with backoff")
            }
            Change::CredentialRecovered => {
                // Which resources failed for want of that token is not tracked; retrying every
                // failing one is cheap, and healthy ones ignore it.
                self.external_secrets.retry_failing();
                self.push_secrets.retry_failing();
            }
        }
    }
}

/// Asks the supervisor how many ExternalSecrets it holds (their actors, or the resources kept
/// while standing by).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountExternalSecrets;

impl Handler<CountExternalSecrets> for Supervisor {
    type Result = usize;

    fn handle(&mut self, _: CountExternalSecrets, _: &mut Context<Self>) -> usize {
        self.external_secrets.len()
    }
}

/// Takes over after standing by: connects the stores and starts an actor for every resource
/// the watches already hold. Answered once every actor has been started, or, before the
/// watches have synced, once they start as soon as they have.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Lead;

impl Handler<Lead> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Lead, _: &mut Context<Self>) {
        self.leading = true;
        if *self.synced.borrow() {
            self.start_actors();
        }
    }
}

/// Stops the supervisor and its watches; resource actors stop with the runtime.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
