//! The stores' side: token requests per store (`akvsync_token_*`) and the request budget
//! akvsync allows itself per vault.

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntCounterVec, Opts};

use super::{ControllerMetrics, ResourceKind, StoreKind};
use crate::azure::{TokenObserver, TokenOwner};

/// The `result` label values of `akvsync_token_acquisitions_total`.
const TOKEN_OK: &str = "ok";
const TOKEN_ERROR: &str = "error";

pub(super) struct StoreFamilies {
    token_acquisitions: IntCounterVec,
    token_backoff_rejections: IntCounterVec,
    vault_budget: GaugeVec,
}

impl StoreFamilies {
    pub(super) fn new() -> prometheus::Result<Self> {
        Ok(Self {
            token_acquisitions: IntCounterVec::new(
                Opts::new(
                    "akvsync_token_acquisitions_total",
                    "Token requests to Entra ID (or the managed identity endpoint) per store (kind, namespace, name) and result (ok, error)",
                ),
                &["store_kind", "namespace", "store", "result"],
            )?,
            token_backoff_rejections: IntCounterVec::new(
                Opts::new(
                    "akvsync_token_backoff_rejections_total",
                    "Callers answered with a store's last token error during its backoff, without a token request",
                ),
                &["store_kind", "namespace", "store"],
            )?,
            vault_budget: GaugeVec::new(
                Opts::new(
                    "akvsync_keyvault_budget_requests_per_second",
                    "The request budget akvsync allows itself per vault and operation class",
                ),
                &["vault", "class"],
            )?,
        })
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.token_acquisitions.clone()),
            Box::new(self.token_backoff_rejections.clone()),
            Box::new(self.vault_budget.clone()),
        ]
    }

    /// Creates a store's token series at 0, so a rate over them starts from the first request.
    fn touch(&self, store_kind: &str, namespace: &str, store: &str) {
        for result in [TOKEN_OK, TOKEN_ERROR] {
            self.token_acquisitions
                .with_label_values(&[store_kind, namespace, store, result]);
        }
        self.token_backoff_rejections
            .with_label_values(&[store_kind, namespace, store]);
    }

    /// A store was deleted: its token series go away.
    pub(super) fn forget(&self, store_kind: &str, namespace: &str, store: &str) {
        for result in [TOKEN_OK, TOKEN_ERROR] {
            let _ = self
                .token_acquisitions
                .remove_label_values(&[store_kind, namespace, store, result]);
        }
        let _ = self
            .token_backoff_rejections
            .remove_label_values(&[store_kind, namespace, store]);
    }
}

impl ControllerMetrics {
    /// A store's token request succeeded (`ok`) or failed (`error`).
    pub fn token_acquired(&self, kind: StoreKind, namespace: &str, store: &str, ok: bool) {
        let result = if ok { TOKEN_OK } else { TOKEN_ERROR };
        self.stores
            .token_acquisitions
            .with_label_values(&[
                ResourceKind::from(kind).controller(),
                namespace,
                store,
                result,
            ])
            .inc();
    }

    /// A caller got a store's last token error during its backoff, without a request.
    pub fn token_backoff_rejected(&self, kind: StoreKind, namespace: &str, store: &str) {
        self.stores
            .token_backoff_rejections
            .with_label_values(&[ResourceKind::from(kind).controller(), namespace, store])
            .inc();
    }

    /// The budget akvsync allows itself on `vault` for `class` (`"read"` or `"write"`), in
    /// requests per second, so dashboards can draw requests against it.
    pub fn vault_budget(&self, vault: &str, class: &'static str, per_second: f64) {
        self.stores
            .vault_budget
            .with_label_values(&[vault, class])
            .set(per_second);
    }
}

/// The credentials' token requests, as `akvsync_token_*` metrics.
impl TokenObserver for ControllerMetrics {
    fn token_requested(&self, owner: &TokenOwner, ok: bool) {
        self.token_acquired(owner.kind.into(), &owner.namespace, &owner.name, ok);
    }

    fn credential_built(&self, owner: &TokenOwner) {
        let kind = ResourceKind::from(StoreKind::from(owner.kind)).controller();
        self.stores.touch(kind, &owner.namespace, &owner.name);
    }

    fn token_backoff_rejected(&self, owner: &TokenOwner) {
        self.token_backoff_rejected(owner.kind.into(), &owner.namespace, &owner.name);
    }
}
