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
    ControllerMetrics, MetricsGranularity, Outcome, ResourceKind, StoreKind, WriteVerb,
};
