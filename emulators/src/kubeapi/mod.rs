//! A Kubernetes API server emulator that kube-rs and kubectl use unchanged.
//!
//! It serves the core kinds akvsync touches (Namespaces, Secrets, ConfigMaps, ServiceAccounts
//! with TokenRequest, Events in both APIs, Leases), CustomResourceDefinitions and the custom
//! resources they define, and stores other built-in kinds (Deployments, Services, RBAC, …) as
//! plain objects. Semantics follow the real apiserver: one resourceVersion counter, optimistic
//! concurrency, finalizers and garbage collection, four patch types with server-side apply and
//! managedFields, schema validation, watches with bookmarks, resume and "too old" (410),
//! Tables for kubectl, RBAC with impersonation and the review APIs, ServiceAccount tokens from an
//! OIDC issuer, OpenAPI v3 and v2, and a plain-HTTP admin endpoint for faults. See
//! `emulators/README.md`.

mod admin;
mod apply;
mod auth;
mod discovery;
mod errors;
mod events;
mod faults;
mod gc;
mod handlers;
mod kinds;
mod openapi;
mod openapi_v2;
mod patch;
mod protobuf;
mod resources;
mod reviews;
mod selectors;
mod server;
mod state_file;
mod store;
mod table;
mod tokens;
mod validation;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use serde_json::json;

pub use faults::{
    FaultMatch, FaultResponse, FaultRule, FaultSettings, FaultSettingsError, Faults,
    LatencyHistogram, RequestKey, RequestLatency, RuleSettings, StatsSnapshot,
};

use auth::{User, Users};
use handlers::State;
use resources::Registry;
use server::Shared;
use store::{ObjectKey, Store};
use tokens::TokenIssuer;

/// The admin user: member of `system:masters`, never subject to RBAC.
pub const ADMIN_USER: &str = "admin";
/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// Serve HTTPS with a fresh CA (written into the kubeconfigs); plain HTTP when false.
    pub tls: bool,
    /// Port on 127.0.0.1; 0 picks an ephemeral one.
    pub port: u16,
    /// Watch history length: a watch resuming from a resourceVersion older than this many
    /// changes gets "too old" (ERROR 410).
    pub history_limit: usize,
    /// How often idle watches that asked for bookmarks get one (the apiserver: about a minute).
    pub bookmark_interval: Duration,
    /// How often the garbage collector sweeps for orphans and terminating namespaces.
    pub gc_interval: Duration,
    /// The operator's ServiceAccount identity (`system:serviceaccount:<ns>:<name>`), authorized by RBAC.
    pub operator_namespace: String,
    pub operator_service_account: String,
    /// More RBAC-subject users (plain user names), each with a token and kubeconfig.
    pub extra_users: Vec<String>,
    /// Where kubeconfig files go; a temporary directory (removed on drop) when `None`.
    pub kubeconfig_dir: Option<PathBuf>,
    /// Objects are loaded from and saved to this file (on shutdown and every `gc_interval`).
    pub state_file: Option<PathBuf>,
    /// Port on 127.0.0.1 of the plain-HTTP admin endpoint (faults, compaction, counters; see
    /// [`KubeEmulator::admin_url`]); 0 picks an ephemeral one.
    pub admin_port: u16,
}

impl Default for KubeConfig {
    fn default() -> Self {
        Self {
            tls: true,
            port: 0,
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(60),
            gc_interval: Duration::from_secs(1),
            operator_namespace: "akvsync-system".into(),
            operator_service_account: "akvsync".into(),
            extra_users: Vec::new(),
            kubeconfig_dir: None,
            state_file: None,
            admin_port: 0,
        }
    }
}

/// A running emulator. Dropping it (or [`KubeEmulator::shutdown`]) stops the server.
pub struct KubeEmulator {
    shared: Arc<Shared>,
    url: String,
    ca_pem: Option<String>,
    kubeconfigs: BTreeMap<String, PathBuf>,
    admin_url: String,
    operator_user: String,
    admin_client: kube::Client,
    state_file: Option<PathBuf>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _temporary_dir: Option<tempfile::TempDir>,
}

fn file_name_for(user: &str) -> String {
    let safe: String = user
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' {
                character
            } else {
                '-'
            }
        })
        .collect();
    format!("kubeconfig-{safe}.yaml")
}

impl KubeEmulator {
    /// Starts the emulator on 127.0.0.1 (on a tokio runtime) and writes a kubeconfig per user.
    ///
    /// Installs aws-lc-rs as the process's default rustls provider if none is installed yet,
    /// because kube's client needs one.
    pub async fn start(config: KubeConfig) -> anyhow::Result<KubeEmulator> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .context("binding the kube emulator listener")?;
        let address = listener.local_addr()?;
        let url = server::base_url(address, config.tls);
        let admin_listener = tokio::net::TcpListener::bind(("127.0.0.1", config.admin_port))
            .await
            .context("binding the kube emulator admin listener")?;
        let admin_url = format!("http://{}/admin", admin_listener.local_addr()?);
        let tls = if config.tls {
            Some(server::tls_material()?)
        } else {
            None
        };
        let mut state = State {
            store: Store::new(config.history_limit),
            registry: Registry::with_builtins(),
        };
        let restored = match &config.state_file {
            Some(path) => state_file::load(&mut state, path)
                .with_context(|| format!("loading state file {}", path.display()))?,
            None => false,
        };
        if !restored {
            seed(&mut state);
        }
        let mut users = Users::default();
        let operator =
            User::service_account(&config.operator_namespace, &config.operator_service_account);
        let operator_user = operator.name.clone();
        users.add(random_token(), User::admin(ADMIN_USER));
        users.add(random_token(), operator);
        for extra in &config.extra_users {
            users.add(random_token(), User::plain(extra));
        }
        let (temporary_dir, directory) = match &config.kubeconfig_dir {
            Some(directory) => {
                std::fs::create_dir_all(directory)?;
                (None, directory.clone())
            }
            None => {
                let temporary = tempfile::tempdir()?;
                let path = temporary.path().to_path_buf();
                (Some(temporary), path)
            }
        };
        let ca_pem = tls.as_ref().map(|tls| tls.ca_pem.clone());
        let mut kubeconfigs = BTreeMap::new();
        for (token, user) in users.all() {
            let path = directory.join(file_name_for(&user.name));
            std::fs::write(
                &path,
                kubeconfig_yaml(&url, ca_pem.as_deref(), &user.name, token)?,
            )?;
            kubeconfigs.insert(user.name.clone(), path);
        }
        let tokens = TokenIssuer::new(url.clone())?;
        let shared = Arc::new(Shared::new(
            state,
            users,
            tokens,
            config.bookmark_interval,
            address.to_string(),
        ));
        let mut tasks = vec![tokio::spawn(server::serve(
            listener,
            tls.map(|tls| tls.acceptor),
            shared.clone(),
        ))];
        tasks.push(tokio::spawn(admin::serve(admin_listener, shared.clone())));
        tasks.push(tokio::spawn(background(
            shared.clone(),
            config.gc_interval,
            config.state_file.clone(),
        )));
        let admin_token = shared
            .users
            .token_of(ADMIN_USER)
            .unwrap_or_default()
            .to_owned();
        let admin_client = build_client(&url, ca_pem.as_deref(), &admin_token)?;
        Ok(KubeEmulator {
            shared,
            url,
            ca_pem,
            kubeconfigs,
            admin_url,
            operator_user,
            admin_client,
            state_file: config.state_file,
            tasks,
            _temporary_dir: temporary_dir,
        })
    }

    /// Base URL, `https://127.0.0.1:<port>` (or `http://`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) clients must trust, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A client authenticated as the admin (`system:masters`).
    pub fn client(&self) -> kube::Client {
        self.admin_client.clone()
    }

    /// A client authenticated as `user` (see [`KubeEmulator::users`]).
    pub fn client_as(&self, user: &str) -> anyhow::Result<kube::Client> {
        let token = self
            .shared
            .users
            .token_of(user)
            .with_context(|| format!("no emulator user named {user:?}"))?;
        build_client(&self.url, self.ca_pem.as_deref(), token)
    }

    /// The bearer token of `user`, for raw HTTP clients.
    pub fn token_for(&self, user: &str) -> Option<&str> {
        self.shared.users.token_of(user)
    }

    /// A client that authenticates with a bearer token (for example a TokenRequest token).
    pub fn client_with_token(&self, token: &str) -> anyhow::Result<kube::Client> {
        build_client(&self.url, self.ca_pem.as_deref(), token)
    }

    /// The kubeconfig file written for `user`.
    pub fn kubeconfig_path(&self, user: &str) -> Option<&Path> {
        self.kubeconfigs.get(user).map(PathBuf::as_path)
    }

    /// Every user name with a kubeconfig.
    pub fn users(&self) -> Vec<String> {
        self.kubeconfigs.keys().cloned().collect()
    }

    /// The operator's user name, `system:serviceaccount:<namespace>:<name>`, subject to RBAC.
    pub fn operator_user(&self) -> &str {
        &self.operator_user
    }

    /// The admin's user name.
    pub fn admin_user(&self) -> &str {
        ADMIN_USER
    }

    /// The ServiceAccount token issuer (`iss` of TokenRequest tokens), equal to [`Self::url`].
    pub fn issuer_url(&self) -> &str {
        self.shared.tokens.issuer()
    }

    /// The issuer's JSON Web Key Set, as served at `/openid/v1/jwks`.
    pub fn jwks_json(&self) -> String {
        self.shared.tokens.jwks().to_string()
    }

    /// Request counters, Secret writes, open watches and request latency.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Reads [`Self::stats`] from elsewhere (a sampling task), for as long as it is held.
    pub fn stats_reader(&self) -> impl Fn() -> StatsSnapshot + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.stats.snapshot()
    }

    /// The admin endpoint's base URL, `http://127.0.0.1:<adminPort>/admin` (see `admin.rs`).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Runtime fault injection.
    pub fn faults(&self) -> Arc<Faults> {
        self.shared.faults.clone()
    }

    /// Drops all watch history: any watch resuming from an earlier resourceVersion gets ERROR 410.
    pub fn compact_history(&self) {
        self.shared.lock_state().store.compact();
    }

    /// Changes the watch history length at runtime.
    pub fn set_history_limit(&self, limit: usize) {
        self.shared.lock_state().store.set_history_limit(limit);
    }

    /// The current resourceVersion counter.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock_state().store.resource_version()
    }

    /// Stops serving (open watches end), saving the state file if one is configured.
    pub fn shutdown(&mut self) {
        self.shared.begin_shutdown();
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(path) = &self.state_file
            && let Err(error) = state_file::save(&self.shared.lock_state(), path)
        {
            tracing::warn!(%error, path = %path.display(), "saving the kube emulator state failed");
        }
    }
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn seed(state: &mut State) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for namespace in INITIAL_NAMESPACES {
        state.store.put(
            ObjectKey::new("/namespaces", "", namespace),
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now, "labels": {"kubernetes.io/metadata.name": namespace}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        );
        state.store.put(
            ObjectKey::new("/serviceaccounts", namespace, "default"),
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now},
            }),
        );
    }
}

async fn background(shared: Arc<Shared>, interval: Duration, state_file: Option<PathBuf>) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    loop {
        ticker.tick().await;
        let mut state = shared.lock_state();
        gc::sweep(&mut state);
        if let Some(path) = &state_file
            && let Err(error) = state_file::save(&state, path)
        {
            tracing::warn!(%error, path = %path.display(), "saving the kube emulator state failed");
        }
    }
}

/// A kubeconfig for one user.
pub fn kubeconfig_yaml(
    url: &str,
    ca_pem: Option<&str>,
    user: &str,
    token: &str,
) -> anyhow::Result<String> {
    let mut cluster = json!({"server": url});
    if let Some(ca_pem) = ca_pem {
        cluster["certificate-authority-data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(ca_pem));
    }
    let document = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "akvsync-emulator", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "akvsync-emulator", "user": user, "namespace": "default"}}],
        "current-context": user,
    });
    Ok(serde_yaml::to_string(&document)?)
}

fn build_client(url: &str, ca_pem: Option<&str>, token: &str) -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::new(url.parse()?);
    if let Some(ca_pem) = ca_pem {
        let der = pem_to_der(ca_pem)?;
        config.root_cert = Some(vec![der]);
    }
    config.auth_info = serde_json::from_value(json!({"token": token}))?;
    Ok(kube::Client::try_from(config)?)
}

fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}
