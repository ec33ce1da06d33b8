//! The logic of one store: every Key Vault call of the store passes through here, where it is
//! cached, coalesced with identical calls, and made to wait for the vault's budget.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::limiter::{Access, Priority, Tenant, Turn, VaultLimiter};
use super::listing::Listing;
use super::metrics::StoreMetrics;
use super::single_flight::{Served, SingleFlightCache};
use crate::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue, unix_now,
};

/// How often a call that got a 429 is tried again, each time after the vault's pause.
const MAX_THROTTLE_RETRIES: u32 = 5;

/// A cached secret is revalidated by the listing only when it was fetched at least this long
/// after its last change: Key Vault's `updated` counts whole seconds, and the operator's clock
/// may differ from the vault's by a little. A secret changed within this margin before its GET
/// is read again at its next refresh instead.
pub const REVALIDATE_AFTER_UPDATE: Duration = Duration::from_secs(5);

/// A listing answers requests that accept values up to `max_age` old when it is at most a tenth
/// of that old (at least a second): it stands for every value of the vault at once, so a change
/// reaches a refresh within its interval plus a tenth, not two intervals.
pub fn listing_max_age(max_age: Duration) -> Duration {
    (max_age / 10).max(Duration::from_secs(1))
}

/// How long a 403 on a listing stops the store from asking for one again (permissions may be
/// granted later), by default.
pub const LISTING_DENIED_FOR: Duration = Duration::from_secs(300);

/// Told when the store's permission to list secrets changes: `false` at a 403 on the listing,
/// `true` when a listing succeeds again after one.
pub type ListingAccessObserver = Arc<dyn Fn(bool) + Send + Sync>;

/// Tunables of a store's cache and pressure control.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Upper bound of cached bytes (values plus tags) per store.
    pub cache_max_bytes: u64,
    /// No cached value outlives this, whatever the requester accepts.
    pub cache_ttl: Duration,
    /// After a 403 on a listing, how long the store reads values one by one before it asks for
    /// a listing again.
    pub listing_denied_for: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            cache_max_bytes: 256 * 1024 * 1024,
            cache_ttl: Duration::from_secs(24 * 3600),
            listing_denied_for: LISTING_DENIED_FOR,
        }
    }
}

pub type ListResult = Result<Arc<Vec<RemoteItem>>, ProviderError>;
pub type FetchResult = Result<Arc<RemoteValue>, ProviderError>;

/// The store's owner of vault calls.
pub struct StoreCore<V> {
    vault: Arc<V>,
    limiter: Arc<VaultLimiter>,
    objects: SingleFlightCache<RemoteKey, Arc<RemoteValue>, ProviderError>,
    lists: SingleFlightCache<ObjectKind, Arc<Listing>, ProviderError>,
    metrics: Arc<StoreMetrics>,
    /// Until when the principal is taken to be denied listing (403): meanwhile stale values are
    /// read again one by one, without asking for the listing.
    listing_denied_until: Mutex<Option<Instant>>,
    listing_denied_for: Duration,
    /// Whether the observer was last told that listing is denied.
    listing_denied_told: AtomicBool,
    on_listing_access: Option<ListingAccessObserver>,
}

impl<V: KeyVault> StoreCore<V> {
    pub fn new(
        vault: V,
        limiter: Arc<VaultLimiter>,
        metrics: Arc<StoreMetrics>,
        config: &StoreConfig,
    ) -> Self {
        Self {
            vault: Arc::new(vault),
            limiter,
            objects: SingleFlightCache::new(config.cache_max_bytes, config.cache_ttl, |value| {
                value.weight()
            }),
            lists: SingleFlightCache::new(
                config.cache_max_bytes / 16,
                config.cache_ttl,
                |listing| listing.weight(),
            ),
            metrics,
            listing_denied_until: Mutex::new(None),
            listing_denied_for: config.listing_denied_for,
            listing_denied_told: AtomicBool::new(false),
            on_listing_access: None,
        }
    }

    /// Tells `observer` when the permission to list secrets is found missing, and found again.
    #[must_use]
    pub fn with_listing_observer(mut self, observer: ListingAccessObserver) -> Self {
        self.on_listing_access = Some(observer);
        self
    }

    fn listing_access(&self, allowed: bool) {
        let was_denied = self.listing_denied_told.swap(!allowed, Ordering::Relaxed);
        if was_denied == allowed
            && let Some(observer) = &self.on_listing_access
        {
            observer(allowed);
        }
    }

    pub fn vault_host(&self) -> &str {
        self.vault.vault_host()
    }

    /// One remote object, from the cache when it is at most `max_age` old, or when the vault's
    /// listing (itself at most `max_age` old, shared by every request) shows the cached latest
    /// secret unchanged; else from the vault.
    pub async fn fetch(&self, key: RemoteKey, max_age: Duration, turn: Turn) -> FetchResult {
        if let Some(value) = self.revalidated(&key, max_age, turn.clone()).await {
            self.metrics
                .served(self.vault.vault_host(), Served::Revalidated);
            return Ok(value);
        }
        let call = self.call(turn);
        let (result, served) = self
            .objects
            .get_or_load(key.clone(), max_age, call.get(key))
            .await;
        self.metrics.served(self.vault.vault_host(), served);
        result
    }

    /// Every object of `kind` in the vault (names, tags, enabled), from the cache when it is at
    /// most `max_age` old.
    pub async fn list(&self, kind: ObjectKind, max_age: Duration, turn: Turn) -> ListResult {
        self.list_timed(kind, max_age, turn)
            .await
            .map(|(listing, _)| Arc::clone(listing.items()))
    }

    /// As [`Self::list`], with when the listing was loaded.
    async fn list_timed(
        &self,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> Result<(Arc<Listing>, Instant), ProviderError> {
        let max_age = listing_max_age(max_age);
        let call = self.call(turn);
        let (result, served) = self
            .lists
            .get_or_load_timed(kind, max_age, call.list(kind))
            .await;
        self.metrics.served(self.vault.vault_host(), served);
        result
    }

    /// The listing that proves values unchanged, at most `max_age` old; `None` when the vault
    /// cannot give it now. A 403 (the principal may get but not list) is remembered for
    /// [`StoreConfig::listing_denied_for`], so that nobody asks again meanwhile.
    pub async fn revalidation_listing(
        &self,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> Option<Arc<Listing>> {
        self.revalidation_listing_timed(kind, max_age, turn)
            .await
            .map(|(listing, _)| listing)
    }

    async fn revalidation_listing_timed(
        &self,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> Option<(Arc<Listing>, Instant)> {
        if kind != ObjectKind::Secret || self.listing_denied() {
            return None;
        }
        match self.list_timed(kind, max_age, turn).await {
            Ok(listing) => {
                self.listing_access(true);
                Some(listing)
            }
            Err(ProviderError::Forbidden { .. }) => {
                *self.denied_until() = Some(Instant::now() + self.listing_denied_for);
                self.listing_access(false);
                None
            }
            Err(_) => None,
        }
    }

    fn denied_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.listing_denied_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn listing_denied(&self) -> bool {
        let mut until = self.denied_until();
        match *until {
            Some(deadline) if Instant::now() < deadline => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    /// The cached latest secret `key`, when it is older than `max_age` but the listing shows
    /// it unchanged since it was read (same `updated`, same enabled state); the cache then
    /// counts it as read when the listing was.
    async fn revalidated(
        &self,
        key: &RemoteKey,
        max_age: Duration,
        turn: Turn,
    ) -> Option<Arc<RemoteValue>> {
        if key.version.is_some() || key.kind != ObjectKind::Secret {
            return None;
        }
        let (cached, loaded_at) = self.objects.peek(key)?;
        if loaded_at.elapsed() <= max_age {
            return None;
        }
        let updated = cached.updated?;
        let read_at = SystemTime::now().checked_sub(loaded_at.elapsed())?;
        let changed_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(updated).ok()?);
        if read_at.duration_since(changed_at).ok()? < REVALIDATE_AFTER_UPDATE {
            return None;
        }
        let (listing, listed_at) = self
            .revalidation_listing_timed(key.kind, max_age, turn)
            .await?;
        let item = listing.get(&key.name)?;
        if item.updated != Some(updated) || item.enabled != cached.enabled {
            return None;
        }
        self.objects.confirm(key, listed_at);
        Some(cached)
    }

    /// Writes one object for `tenant` and forgets what the cache knew of it.
    pub async fn push(&self, request: PushRequest, tenant: Tenant) -> Result<(), ProviderError> {
        let call = self.call(Turn::new(Priority::Change, tenant));
        let result = call
            .write(request.key.kind, "push", |vault| {
                let request = request.clone();
                async move { vault.push(&request).await }
            })
            .await;
        self.forget(&request.key);
        result
    }

    /// Deletes one object for `tenant` and forgets what the cache knew of it.
    pub async fn delete(&self, key: RemoteKey, tenant: Tenant) -> Result<(), ProviderError> {
        let call = self.call(Turn::new(Priority::Change, tenant));
        let result = call
            .write(key.kind, "delete", |vault| {
                let key = key.clone();
                async move { vault.delete(&key).await }
            })
            .await;
        self.forget(&key);
        result
    }

    /// One remote call's owned context, in `turn`'s lane of the vault's limiter.
    fn call(&self, turn: Turn) -> Call<V> {
        Call {
            vault: Arc::clone(&self.vault),
            limiter: Arc::clone(&self.limiter),
            metrics: Arc::clone(&self.metrics),
            turn,
        }
    }

    fn forget(&self, key: &RemoteKey) {
        self.objects.invalidate(key);
        self.objects.invalidate(&RemoteKey {
            version: None,
            ..key.clone()
        });
        self.lists.invalidate(&key.kind);
    }

    /// Drops every cached value, as when the store's spec or credentials change.
    pub fn clear(&self) {
        self.objects.clear();
        self.lists.clear();
        *self.denied_until() = None;
    }

    pub fn cached_objects(&self) -> u64 {
        self.objects.entry_count()
    }
}

/// One remote call with its limiter wait, 429 handling and accounting; owned so that a shared
/// flight can outlive the request that started it.
struct Call<V> {
    vault: Arc<V>,
    limiter: Arc<VaultLimiter>,
    metrics: Arc<StoreMetrics>,
    turn: Turn,
}

impl<V: KeyVault> Call<V> {
    async fn get(self, key: RemoteKey) -> FetchResult {
        self.run(Access::Read, key.kind, "get", |vault| {
            let key = key.clone();
            async move {
                let mut value = vault.get(&key).await?;
                value.read_at = Some(unix_now());
                Ok(Arc::new(value))
            }
        })
        .await
    }

    async fn list(self, kind: ObjectKind) -> Result<Arc<Listing>, ProviderError> {
        let mut items = Vec::new();
        let mut page = None;
        loop {
            let (mut batch, next) = self
                .run(Access::Read, kind, "list", |vault| {
                    let page = page.clone();
                    async move { vault.list_page(kind, page).await }
                })
                .await?;
            items.append(&mut batch);
            match next {
                Some(next) => page = Some(next),
                None => return Ok(Arc::new(Listing::new(items))),
            }
        }
    }

    async fn write<T, F, Fut>(
        &self,
        kind: ObjectKind,
        operation: &'static str,
        request: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn(Arc<V>) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.run(Access::Write, kind, operation, request).await
    }

    async fn run<T, F, Fut>(
        &self,
        access: Access,
        kind: ObjectKind,
        operation: &'static str,
        request: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn(Arc<V>) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let host = self.vault.vault_host();
        let mut attempt = 0;
        loop {
            let waiting = Instant::now();
            // The budget first: requests wait for it fairly, and only admitted ones hold a slot.
            self.limiter.acquire(access, &self.turn).await;
            let permit = self.limiter.in_flight(&self.turn).await;
            self.metrics.limiter_waited(host, waiting.elapsed());
            let started = Instant::now();
            let result = request(Arc::clone(&self.vault)).await;
            drop(permit);
            self.metrics
                .remote_call(host, kind, operation, &result, started.elapsed());
            match result {
                Err(ProviderError::Throttled { retry_after }) if attempt < MAX_THROTTLE_RETRIES => {
                    let pause = self.limiter.throttled(retry_after);
                    self.metrics.paused(host, pause);
                    attempt += 1;
                }
                Err(error) => return Err(error),
                Ok(value) => {
                    self.limiter.succeeded();
                    return Ok(value);
                }
            }
        }
    }
}
