//! The metrics and health servers over real HTTP on 127.0.0.1: `/metrics` serves the passed
//! registry, `/healthz` is always 200, `/readyz` follows [`Readiness`], and cancelling the
//! shutdown token stops both servers.

use std::net::SocketAddr;
use std::time::Duration;

use akvsync::observability::http::{HttpServer, Readiness, parse_listen_address};
use akvsync::observability::{
    ControllerMetrics, LeaderState, MetricsGranularity, Outcome, ResourceKind,
};
use prometheus::Registry;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Every await in these tests is bounded by this.
const STEP: Duration = Duration::from_secs(10);

struct Running {
    metrics: SocketAddr,
    health: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), akvsync::observability::http::HttpError>>,
    client: reqwest::Client,
}

async fn start(registry: Registry, readiness: Readiness) -> Running {
    let localhost = parse_listen_address("127.0.0.1:0").expect("address");
    let server = HttpServer::bind(localhost, localhost, registry, readiness)
        .await
        .expect("binds");
    let (metrics, health) = (server.metrics_address(), server.health_address());
    assert_ne!(metrics, health, "port 0 gives two listeners");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.serve(shutdown.clone()));
    Running {
        metrics,
        health,
        shutdown,
        task,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    }
}

impl Running {
    async fn get(&self, address: SocketAddr, path: &str) -> (u16, String) {
        let response = tokio::time::timeout(
            STEP,
            self.client.get(format!("http://{address}{path}")).send(),
        )
        .await
        .expect("in time")
        .expect("response");
        let status = response.status().as_u16();
        let body = tokio::time::timeout(STEP, response.text())
            .await
            .expect("in time")
            .expect("body");
        (status, body)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(STEP, self.task)
            .await
            .expect("servers stop in time")
            .expect("task")
            .expect("servers ended cleanly");
    }
}

#[tokio::test]
async fn metrics_endpoint_serves_the_passed_registry_in_text_format() {
    let registry = Registry::new();
    let metrics =
        ControllerMetrics::register(&registry, MetricsGranularity::PerResource).expect("registers");
    metrics.reconciled(
        ResourceKind::ExternalSecret,
        "team-a",
        "db",
        Duration::from_millis(2),
        Outcome::Ready,
    );
    let server = start(registry, Readiness::new()).await;
    let (status, body) = server.get(server.metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE externalsecret_sync_calls_total counter"),
        "{body}"
    );
    assert!(
        body.contains(r#"externalsecret_sync_calls_total{name="db",namespace="team-a"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(
            r#"externalsecret_status_condition{condition="Ready",name="db",namespace="team-a",status="True"} 1"#
        ),
        "{body}"
    );
    // Probes live on the health port only.
    assert_eq!(server.get(server.metrics, "/healthz").await.0, 404);
    assert_eq!(server.get(server.health, "/metrics").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn readyz_needs_synced_watches_and_a_known_leader_state() {
    let readiness = Readiness::new();
    let server = start(Registry::new(), readiness.clone()).await;
    assert_eq!(
        server.get(server.health, "/healthz").await,
        (200, "ok".into())
    );

    let (status, body) = server.get(server.health, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "watches not synced"));

    readiness.set_watches_synced(true);
    let (status, body) = server.get(server.health, "/readyz").await;
    assert_eq!(
        (status, body.as_str()),
        (503, "leader election state unknown")
    );

    let (states, receiver) = watch::channel(LeaderState::Unknown);
    readiness.follow_leader(receiver);
    assert_eq!(server.get(server.health, "/readyz").await.0, 503);
    states.send_replace(LeaderState::Standby {
        holder: "other".into(),
    });
    assert_eq!(
        server.get(server.health, "/readyz").await,
        (200, "ok".into())
    );
    states.send_replace(LeaderState::Leader);
    assert_eq!(server.get(server.health, "/readyz").await.0, 200);
    states.send_replace(LeaderState::Unknown);
    assert_eq!(server.get(server.health, "/readyz").await.0, 503);

    readiness.set_leader_state(LeaderState::Leader);
    assert_eq!(server.get(server.health, "/readyz").await.0, 200);
    readiness.set_watches_synced(false);
    assert_eq!(server.get(server.health, "/readyz").await.0, 503);
    server.stop().await;
}

#[tokio::test]
async fn cancelling_the_token_stops_both_listeners() {
    let server = start(Registry::new(), Readiness::new()).await;
    let (metrics, health) = (server.metrics, server.health);
    let client = server.client.clone();
    server.stop().await;
    for address in [metrics, health] {
        let refused =
            tokio::time::timeout(STEP, client.get(format!("http://{address}/healthz")).send())
                .await
                .expect("in time");
        assert!(refused.is_err(), "{address} still answers");
    }
}

#[tokio::test]
async fn one_address_for_both_serves_every_path_on_one_listener() {
    let registry = Registry::new();
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("probe port");
    let address = probe.local_addr().expect("address");
    drop(probe);
    let readiness = Readiness::new();
    readiness.set_watches_synced(true);
    readiness.set_leader_state(LeaderState::Leader);
    let server = HttpServer::bind(address, address, registry, readiness)
        .await
        .expect("binds");
    assert_eq!(server.metrics_address(), server.health_address());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.serve(shutdown.clone()));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for path in ["/metrics", "/healthz", "/readyz"] {
        let response =
            tokio::time::timeout(STEP, client.get(format!("http://{address}{path}")).send())
                .await
                .expect("in time")
                .expect("response");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    shutdown.cancel();
    tokio::time::timeout(STEP, task)
        .await
        .expect("in time")
        .expect("task")
        .expect("clean");
}

#[test]
fn listen_addresses_parse_like_go() {
    assert_eq!(
        parse_listen_address(":8080").expect("parses"),
        "0.0.0.0:8080".parse::<SocketAddr>().expect("literal")
    );
    assert_eq!(
        parse_listen_address("127.0.0.1:9").expect("parses"),
        "127.0.0.1:9".parse::<SocketAddr>().expect("literal")
    );
    assert!(parse_listen_address(":http").is_err());
    assert!(parse_listen_address("localhost").is_err());
}
