//! Metrics of the stores: Key Vault pressure per vault, and what the cache and coalescing saved.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::single_flight::Served;
use crate::remote::{ObjectKind, ProviderError};

/// The ESO provider label of every Key Vault call.
pub const ESO_PROVIDER: &str = "Azure/KeyVault";

/// Counters and histograms of every store, labelled by vault host (bounded: one per vault).
pub struct StoreMetrics {
    keyvault_requests: IntCounterVec,
    keyvault_request_duration: HistogramVec,
    provider_api_calls: IntCounterVec,
    cache_requests: IntCounterVec,
    limiter_wait: HistogramVec,
    throttle_pauses: IntCounterVec,
}

impl StoreMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.keyvault_requests.clone()))?;
        registry.register(Box::new(metrics.keyvault_request_duration.clone()))?;
        registry.register(Box::new(metrics.provider_api_calls.clone()))?;
        registry.register(Box::new(metrics.cache_requests.clone()))?;
        registry.register(Box::new(metrics.limiter_wait.clone()))?;
        registry.register(Box::new(metrics.throttle_pauses.clone()))?;
        Ok(metrics)
    }

    /// Metrics that no registry exports, for tests and tools that only read them back.
    pub fn unregistered() -> prometheus::Result<Self> {
        Ok(Self {
            keyvault_requests: IntCounterVec::new(
                Opts::new(
                    "akvsync_keyvault_requests_total",
                    "Key Vault requests by vault, operation and result",
                ),
                &["vault", "operation", "result"],
            )?,
            keyvault_request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "akvsync_keyvault_request_duration_seconds",
                    "Key Vault request latency",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["vault", "operation"],
            )?,
            provider_api_calls: IntCounterVec::new(
                Opts::new(
                    "externalsecret_provider_api_calls_count",
                    "Number of API calls to the provider (ESO compatible)",
                ),
                &["provider", "call", "status"],
            )?,
            cache_requests: IntCounterVec::new(
                Opts::new(
                    "akvsync_store_requests_total",
                    "Store requests by how they were served: hit, coalesced or loaded",
                ),
                &["vault", "served"],
            )?,
            limiter_wait: HistogramVec::new(
                HistogramOpts::new(
                    "akvsync_limiter_wait_seconds",
                    "Time a Key Vault request waited for the vault's budget",
                )
                .buckets(vec![
                    0.0, 0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
                &["vault"],
            )?,
            throttle_pauses: IntCounterVec::new(
                Opts::new(
                    "akvsync_keyvault_throttle_pauses_total",
                    "Pauses of a vault's limiter after a 429",
                ),
                &["vault"],
            )?,
        })
    }

    pub(crate) fn served(&self, vault: &str, served: Served) {
        let label = match served {
            Served::Hit => "hit",
            Served::Coalesced => "coalesced",
            Served::Loaded => "loaded",
            Served::Revalidated => "revalidated",
        };
        self.cache_requests.with_label_values(&[vault, label]).inc();
    }

    pub(crate) fn limiter_waited(&self, vault: &str, waited: Duration) {
        self.limiter_wait
            .with_label_values(&[vault])
            .observe(waited.as_secs_f64());
    }

    pub(crate) fn paused(&self, vault: &str, _pause: Duration) {
        self.throttle_pauses.with_label_values(&[vault]).inc();
    }

    pub fn remote_call<T>(
        &self,
        vault: &str,
        kind: ObjectKind,
        operation: &str,
        result: &Result<T, ProviderError>,
        took: Duration,
    ) {
        self.provider_call(kind, operation, result.is_ok());
        let outcome = match result {
            Ok(_) => "ok",
            Err(error) => error.category(),
        };
        self.keyvault_requests
            .with_label_values(&[vault, operation, outcome])
            .inc();
        self.keyvault_request_duration
            .with_label_values(&[vault, operation])
            .observe(took.as_secs_f64());
    }

    /// Counts one call under ESO's `externalsecret_provider_api_calls_count` name.
    fn provider_call(&self, kind: ObjectKind, operation: &str, ok: bool) {
        let call = match (operation, kind) {
            ("get", ObjectKind::Secret) => "GetSecret",
            ("get", ObjectKind::Key) => "GetKey",
            ("get", ObjectKind::Certificate) => "GetCertificate",
            ("list", _) => "GetSecrets",
            ("push", ObjectKind::Secret) => "SetSecret",
            ("push", ObjectKind::Key) => "ImportKey",
            ("push", ObjectKind::Certificate) => "ImportCertificate",
            ("delete", ObjectKind::Secret) => "DeleteSecret",
            ("delete", ObjectKind::Key) => "DeleteKey",
            ("delete", ObjectKind::Certificate) => "DeleteCertificate",
            _ => "Other",
        };
        let status = if ok { "success" } else { "error" };
        self.provider_api_calls
            .with_label_values(&[ESO_PROVIDER, call, status])
            .inc();
    }

    /// Requests of `vault` served as `served` ("hit", "coalesced" or "loaded").
    pub fn served_count(&self, vault: &str, served: &str) -> u64 {
        self.cache_requests
            .with_label_values(&[vault, served])
            .get()
    }

    /// Remote calls of `vault` for `operation` that ended as `result` ("ok" or an error category).
    pub fn request_count(&self, vault: &str, operation: &str, result: &str) -> u64 {
        self.keyvault_requests
            .with_label_values(&[vault, operation, result])
            .get()
    }

    pub fn pause_count(&self, vault: &str) -> u64 {
        self.throttle_pauses.with_label_values(&[vault]).get()
    }
}
