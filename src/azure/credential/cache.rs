//! One credential per (store, namespace) and credential material, shared by every connection
//! made for it, so tokens are fetched once per lifetime rather than once per reconcile.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;

use super::token::{SharedTokenCredential, TokenObserver, TokenOwner, TokenPolicy};

/// Bound on cached credentials: one per store and consumer namespace in use.
const MAX_CREDENTIALS: u64 = 10_000;
/// A credential nobody connected with for this long is dropped (with its tokens).
const IDLE_TIMEOUT: Duration = Duration::from_secs(6 * 3_600);

/// The key: the store's id, the namespace its references resolved in, and a SHA-256 over the
/// resolved credential inputs (so a rotated client secret gets a new credential).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub store: String,
    pub namespace: Option<String>,
    pub fingerprint: [u8; 32],
}

/// Credentials shared across connections; clone freely. Each credential's tokens are shared by
/// its callers, backed off after failures and refreshed ahead of expiry
/// ([`SharedTokenCredential`]).
#[derive(Clone)]
pub struct CredentialCache {
    inner: moka::sync::Cache<CacheKey, Arc<dyn TokenCredential>>,
    policy: TokenPolicy,
    observer: Option<Arc<dyn TokenObserver>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("entries", &self.inner.entry_count())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(MAX_CREDENTIALS)
                .time_to_idle(IDLE_TIMEOUT)
                .support_invalidation_closures()
                .build(),
            policy: TokenPolicy::default(),
            observer: None,
        }
    }

    /// An empty cache whose credentials report their token requests to `observer`.
    pub fn with_observer(observer: Arc<dyn TokenObserver>) -> Self {
        Self {
            observer: Some(observer),
            ..Self::new()
        }
    }

    /// The cached credential for `key`, or the one `build` makes for `owner` (then shared and
    /// cached).
    pub(crate) fn get_or_try_insert<E>(
        &self,
        key: CacheKey,
        owner: TokenOwner,
        build: impl FnOnce() -> Result<Arc<dyn TokenCredential>, E>,
    ) -> Result<Arc<dyn TokenCredential>, E> {
        if let Some(found) = self.inner.get(&key) {
            return Ok(found);
        }
        let credential: Arc<dyn TokenCredential> = Arc::new(SharedTokenCredential::new(
            build()?,
            self.policy,
            owner,
            self.observer.clone(),
        ));
        self.inner.insert(key, credential.clone());
        Ok(credential)
    }

    /// Drops every credential of `store` (its id as in `StoreSource::id`), e.g. when the store
    /// is deleted.
    pub fn invalidate_store(&self, store: &str) {
        let store = store.to_owned();
        // The predicate only reads the key; moka runs it lazily on reads and maintenance.
        let _ = self
            .inner
            .invalidate_entries_if(move |key, _| key.store == store);
    }

    /// The number of cached credentials.
    pub fn len(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
