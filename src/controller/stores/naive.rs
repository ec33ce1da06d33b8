//! `--naive`, the load benchmark's baseline (ESO's call pattern): no cache, no coalescing, no
//! limiter, and a new client and credential (so a new token) for every call. The connector
//! chooses it at startup in place of the store core, which knows nothing of it.

use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{KeyVault, ObjectKind, ProviderError, PushRequest, RemoteKey};
use akvsync_actors::store::{
    FetchResult, ListResult, Listing, StoreMetrics, StoreService, Tenant, Turn,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::azure::{AzureKeyVault, AzureNetwork, CredentialCache, StoreSource, connect};

/// Everything `connect` needs, kept to build a fresh client per call.
pub struct NaiveStore {
    pub host: String,
    pub source: StoreSource,
    pub consumer_namespace: Option<String>,
    pub kube: kube::Client,
    pub network: AzureNetwork,
    pub metrics: Arc<StoreMetrics>,
}

impl NaiveStore {
    async fn client(&self) -> Result<AzureKeyVault, ProviderError> {
        connect(
            &self.source,
            self.consumer_namespace.as_deref(),
            self.kube.clone(),
            &self.network,
            &CredentialCache::new(),
        )
        .await
        .map_err(|error| ProviderError::Unauthorized {
            message: error.to_string(),
        })
    }

    /// One call on a fresh client, counted as the store core counts its calls.
    async fn call<T, F, Fut>(
        &self,
        kind: ObjectKind,
        operation: &str,
        request: F,
    ) -> Result<T, ProviderError>
    where
        F: FnOnce(AzureKeyVault) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let client = self.client().await?;
        let started = Instant::now();
        let result = request(client).await;
        self.metrics
            .remote_call(&self.host, kind, operation, &result, started.elapsed());
        result
    }
}

impl StoreService for NaiveStore {
    fn fetch(
        self: Arc<Self>,
        key: RemoteKey,
        _: Duration,
        _: Turn,
    ) -> BoxFuture<'static, FetchResult> {
        async move {
            self.call(key.kind, "get", |vault| async move {
                vault.get(&key).await.map(Arc::new)
            })
            .await
        }
        .boxed()
    }

    fn list(
        self: Arc<Self>,
        kind: ObjectKind,
        _: Duration,
        _: Turn,
    ) -> BoxFuture<'static, ListResult> {
        async move {
            let mut items = Vec::new();
            let mut page = None;
            loop {
                let (mut batch, next) = self
                    .call(kind, "list", |vault| async move {
                        vault.list_page(kind, page).await
                    })
                    .await?;
                items.append(&mut batch);
                match next {
                    Some(next) => page = Some(next),
                    None => return Ok(Arc::new(items)),
                }
            }
        }
        .boxed()
    }

    /// ESO proves nothing by listing: every refresh reads every value.
    fn revalidation_listing(
        self: Arc<Self>,
        _: ObjectKind,
        _: Duration,
        _: Turn,
    ) -> BoxFuture<'static, Option<Arc<Listing>>> {
        futures::future::ready(None).boxed()
    }

    fn push(
        self: Arc<Self>,
        request: PushRequest,
        _: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        async move {
            self.call(request.key.kind, "push", |vault| async move {
                vault.push(&request).await
            })
            .await
        }
        .boxed()
    }

    fn delete(
        self: Arc<Self>,
        key: RemoteKey,
        _: Tenant,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        async move {
            self.call(key.kind, "delete", |vault| async move {
                vault.delete(&key).await
            })
            .await
        }
        .boxed()
    }
}
