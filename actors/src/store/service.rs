//! What a connected store actor serves requests with, and how it gets one.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::core::{FetchResult, ListResult, StoreCore};
use super::limiter::{Tenant, Turn};
use super::listing::Listing;
use crate::remote::{KeyVault, ObjectKind, ProviderError, PushRequest, RemoteKey};

/// A connected store: [`StoreCore`] in production; a startup choice may put another in its place
/// (the load benchmark's naive baseline calls the vault directly).
pub trait StoreService: Send + Sync + 'static {
    fn fetch(
        self: Arc<Self>,
        key: RemoteKey,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, FetchResult>;

    fn list(
        self: Arc<Self>,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, ListResult>;

    /// The listing that proves cached or applied values unchanged; `None` when there is none.
    fn revalidation_listing(
        self: Arc<Self>,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, Option<Arc<Listing>>>;

    /// Writes one object for `tenant`.
    fn push(
        self: Arc<Self>,
        request: PushRequest,
        tenant: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>>;

    /// Deletes one object for `tenant`.
    fn delete(
        self: Arc<Self>,
        key: RemoteKey,
        tenant: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>>;
}

impl<V: KeyVault> StoreService for StoreCore<V> {
    fn fetch(
        self: Arc<Self>,
        key: RemoteKey,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, FetchResult> {
        async move { StoreCore::fetch(&self, key, max_age, turn).await }.boxed()
    }

    fn list(
        self: Arc<Self>,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, ListResult> {
        async move { StoreCore::list(&self, kind, max_age, turn).await }.boxed()
    }

    fn revalidation_listing(
        self: Arc<Self>,
        kind: ObjectKind,
        max_age: Duration,
        turn: Turn,
    ) -> BoxFuture<'static, Option<Arc<Listing>>> {
        async move { StoreCore::revalidation_listing(&self, kind, max_age, turn).await }.boxed()
    }

    fn push(
        self: Arc<Self>,
        request: PushRequest,
        tenant: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        async move { StoreCore::push(&self, request, tenant).await }.boxed()
    }

    fn delete(
        self: Arc<Self>,
        key: RemoteKey,
        tenant: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        async move { StoreCore::delete(&self, key, tenant).await }.boxed()
    }
}

/// Why a store could not connect: the user-facing reason, and when to try again (`None`: not
/// until something changes, as for an invalid spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectFailure {
    pub message: String,
    pub retry_after: Option<Duration>,
}

pub type Connection = Result<Arc<dyn StoreService>, ConnectFailure>;

/// Builds a store's service: authenticates, validates, and reports the result. A store actor
/// calls it when it starts, when told to reconnect, and after a transient failure.
pub trait Connect: Send + Sync + 'static {
    fn connect(&self) -> BoxFuture<'static, Connection>;
}
