//! The metrics and health HTTP servers.
//!
//! `/metrics` (on `--metrics-addr`, default `:8080`) serves the Prometheus text format from the
//! registry passed in; `/healthz` and `/readyz` (on `--health-addr`, default `:8081`, the
//! controller-runtime convention) answer the kubelet's probes. `/healthz` is 200 while the
//! process serves; `/readyz` is 200 only once the watches are synced and the leader election
//! state is known (leader or standby), and 503 with the reason otherwise. Both servers stop
//! gracefully when the shutdown token is cancelled.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::leader::LeaderState;

/// Path of the Prometheus endpoint.
pub const METRICS_PATH: &str = "/metrics";
/// Path of the liveness probe.
pub const HEALTHZ_PATH: &str = "/healthz";
/// Path of the readiness probe.
pub const READYZ_PATH: &str = "/readyz";
/// Default metrics listener (ESO's `--metrics-addr`).
pub const DEFAULT_METRICS_ADDRESS: &str = ":8080";
/// Default probe listener (controller-runtime's health port).
pub const DEFAULT_HEALTH_ADDRESS: &str = ":8081";

/// Listener flags, to `#[command(flatten)]` into the CLI.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address of the Prometheus `/metrics` endpoint (`:8080` means every interface).
    #[arg(long = "metrics-addr", default_value = DEFAULT_METRICS_ADDRESS, value_parser = parse_listen_address)]
    pub metrics_address: SocketAddr,
    /// Address of the `/healthz` and `/readyz` probes.
    #[arg(long = "health-addr", default_value = DEFAULT_HEALTH_ADDRESS, value_parser = parse_listen_address)]
    pub health_address: SocketAddr,
}

/// Parses a listen address as Go does: `:8080` is every IPv4 interface, otherwise `host:port`.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("invalid port in listen address {text:?}"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    text.parse()
        .map_err(|_| format!("invalid listen address {text:?}, expected host:port or :port"))
}

/// Errors of the HTTP servers.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the {server} server failed")]
    Serve {
        server: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Where the leader-election state comes from.
#[derive(Debug)]
enum LeaderSource {
    Fixed(LeaderState),
    Watched(watch::Receiver<LeaderState>),
}

#[derive(Debug)]
struct ReadinessInner {
    watches_synced: AtomicBool,
    leader: Mutex<LeaderSource>,
}

/// What `/readyz` reports; cheap to clone and share with the controller and the elector.
#[derive(Debug, Clone)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// Not ready: watches not synced, leader state unknown.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(ReadinessInner {
                watches_synced: AtomicBool::new(false),
                leader: Mutex::new(LeaderSource::Fixed(LeaderState::Unknown)),
            }),
        }
    }

    /// Records whether every watch has listed its initial state.
    pub fn set_watches_synced(&self, synced: bool) {
        self.inner.watches_synced.store(synced, Ordering::SeqCst);
    }

    /// Sets a fixed leader state (e.g. [`LeaderState::Leader`] when leader election is off).
    pub fn set_leader_state(&self, state: LeaderState) {
        *self.lock_leader() = LeaderSource::Fixed(state);
    }

    /// Follows the elector's state channel from now on.
    pub fn follow_leader(&self, states: watch::Receiver<LeaderState>) {
        *self.lock_leader() = LeaderSource::Watched(states);
    }

    /// `Ok` when ready, otherwise the reason.
    pub fn check(&self) -> Result<(), &'static str> {
        if !self.inner.watches_synced.load(Ordering::SeqCst) {
            return Err("watches not synced");
        }
        let known = match &*self.lock_leader() {
            LeaderSource::Fixed(state) => *state != LeaderState::Unknown,
            LeaderSource::Watched(states) => *states.borrow() != LeaderState::Unknown,
        };
        if known {
            Ok(())
        } else {
            Err("leader election state unknown")
        }
    }

    fn lock_leader(&self) -> std::sync::MutexGuard<'_, LeaderSource> {
        self.inner
            .leader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Both servers, bound and not yet serving.
pub struct HttpServer {
    metrics: TcpListener,
    /// `None` when the health address equals the metrics address: one listener serves all paths.
    health: Option<TcpListener>,
    registry: Registry,
    readiness: Readiness,
}

impl HttpServer {
    /// Binds both listeners (one when both addresses are the same non-ephemeral address).
    pub async fn bind(
        metrics_address: SocketAddr,
        health_address: SocketAddr,
        registry: Registry,
        readiness: Readiness,
    ) -> Result<Self, HttpError> {
        let metrics = bind(metrics_address).await?;
        let health = if metrics_address == health_address && metrics_address.port() != 0 {
            None
        } else {
            Some(bind(health_address).await?)
        };
        Ok(Self {
            metrics,
            health,
            registry,
            readiness,
        })
    }

    /// Binds the addresses of the CLI flags.
    pub async fn bind_args(
        args: &HttpArgs,
        registry: Registry,
        readiness: Readiness,
    ) -> Result<Self, HttpError> {
        Self::bind(
            args.metrics_address,
            args.health_address,
            registry,
            readiness,
        )
        .await
    }

    /// The bound metrics address (useful with port 0).
    pub fn metrics_address(&self) -> SocketAddr {
        local_address(&self.metrics)
    }

    /// The bound probe address.
    pub fn health_address(&self) -> SocketAddr {
        self.health
            .as_ref()
            .map_or_else(|| self.metrics_address(), local_address)
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), HttpError> {
        let metrics_routes = metrics_router(self.registry);
        let health_routes = health_router(self.readiness);
        match self.health {
            None => {
                serve_one(
                    "metrics",
                    self.metrics,
                    metrics_routes.merge(health_routes),
                    shutdown,
                )
                .await
            }
            Some(health) => {
                let (metrics, health) = tokio::join!(
                    serve_one("metrics", self.metrics, metrics_routes, shutdown.clone()),
                    serve_one("health", health, health_routes, shutdown),
                );
                metrics.and(health)
            }
        }
    }
}

async fn bind(address: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| HttpError::Bind { address, source })
}

fn local_address(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound TCP listener has a local address")
}

async fn serve_one(
    server: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| HttpError::Serve { server, source })
}

/// The `/metrics` route over `registry`.
pub fn metrics_router(registry: Registry) -> Router {
    Router::new()
        .route(METRICS_PATH, get(metrics))
        .with_state(registry)
}

/// The `/healthz` and `/readyz` routes.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route(HEALTHZ_PATH, get(|| async { "ok" }))
        .route(READYZ_PATH, get(readyz))
        .with_state(readiness)
}

async fn metrics(State(registry): State<Registry>) -> Response {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type())], body).into_response(),
        Err(error) => {
            tracing::warn!(%error, "encoding metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
    }
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    match readiness.check() {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}
