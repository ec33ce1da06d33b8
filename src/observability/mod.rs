//! Observability and operations: Prometheus metrics, the metrics and health HTTP servers,
//! logging setup, and Lease-based leader election.

pub mod http;
pub mod leader;
pub mod logging;
pub mod metrics;

#[cfg(test)]
mod metrics_tests;

pub use http::{HttpArgs, HttpServer, Readiness};
pub use leader::{LeaderArgs, LeaderElectionConfig, LeaderElector, LeaderState};
pub use logging::{LogArgs, LogFormat};
pub use metrics::{
    ControllerMetrics, MetricsGranularity, Outcome, QueueSnapshot, QueueSource, ResourceKind,
    StoreKind, TenantMetrics, WriteVerb,
};

/// Every observability flag of `akvsync run`, to `#[command(flatten)]` in one line.
#[derive(Debug, Clone, clap::Args)]
pub struct ObservabilityArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub leader: LeaderArgs,
    /// `per-resource` (ESO's `name`/`namespace` labels) or `per-namespace` (name dropped, one
    /// series per namespace: for clusters with very many ExternalSecrets).
    #[arg(long, value_enum, default_value_t = MetricsGranularity::PerResource)]
    pub metrics_granularity: MetricsGranularity,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        observability: ObservabilityArgs,
    }

    #[test]
    fn defaults_match_the_deploy_manifests_and_eso() {
        let parsed = Command::try_parse_from(["akvsync"]).expect("parses");
        let args = parsed.observability;
        assert_eq!(args.http.metrics_address.port(), 8080);
        assert_eq!(args.http.health_address.port(), 8081);
        assert!(!args.leader.leader_elect);
        assert_eq!(args.leader.leader_election_id, leader::DEFAULT_LEASE_NAME);
        assert_eq!(
            args.leader.leader_election_lease_duration,
            leader::DEFAULT_LEASE_DURATION
        );
        assert_eq!(args.metrics_granularity, MetricsGranularity::PerResource);
        assert_eq!(args.log.log_format, None);
    }

    #[test]
    fn the_deployment_args_parse() {
        let parsed = Command::try_parse_from([
            "akvsync",
            "--leader-elect",
            "--metrics-addr=:9090",
            "--health-addr=127.0.0.1:9091",
            "--log-format=json",
            "--log-level=debug",
            "--metrics-granularity=per-namespace",
            "--leader-election-retry-period=500ms",
        ])
        .expect("parses");
        let args = parsed.observability;
        assert!(args.leader.leader_elect);
        assert_eq!(args.http.metrics_address.to_string(), "0.0.0.0:9090");
        assert_eq!(args.http.health_address.to_string(), "127.0.0.1:9091");
        assert_eq!(args.log.log_format, Some(LogFormat::Json));
        assert_eq!(args.log.log_level.as_deref(), Some("debug"));
        assert_eq!(args.metrics_granularity, MetricsGranularity::PerNamespace);
        assert_eq!(
            args.leader.leader_election_retry_period,
            std::time::Duration::from_millis(500)
        );
    }
}
