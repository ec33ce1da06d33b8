//! The store actor: the one owner of a store's Key Vault client. It holds the store's state
//! (connecting, ready with its core, or failed) and answers fetch, list, push and delete
//! requests from resource actors.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::watch;

use super::core::StoreCore;
use super::limiter::Priority;
use crate::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue,
};

/// How long a request waits for a connecting store before it fails.
const CONNECT_WAIT: Duration = Duration::from_secs(60);

/// Store mailboxes are larger than resource ones: every resource of the store sends here, and a
/// full mailbox makes senders wait (backpressure) rather than lose requests.
pub const STORE_MAILBOX_CAPACITY: usize = 1024;

/// A store's readiness.
pub enum StoreState<V> {
    Connecting,
    Ready(Arc<StoreCore<V>>),
    /// The store cannot serve: its message is the user-facing reason.
    Failed(String),
}

impl<V> Clone for StoreState<V> {
    fn clone(&self) -> Self {
        match self {
            StoreState::Connecting => StoreState::Connecting,
            StoreState::Ready(core) => StoreState::Ready(Arc::clone(core)),
            StoreState::Failed(message) => StoreState::Failed(message.clone()),
        }
    }
}

/// Why a store request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreRequestError {
    #[error("store is not ready: {0}")]
    NotReady(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl StoreRequestError {
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreRequestError::Provider(ProviderError::NotFound { .. })
        )
    }
}

pub struct StoreActor<V> {
    state: watch::Sender<StoreState<V>>,
}

impl<V: KeyVault> StoreActor<V> {
    pub fn new() -> Self {
        Self {
            state: watch::Sender::new(StoreState::Connecting),
        }
    }

    /// A future that resolves to the store's core once it is connected.
    fn ready(
        &self,
    ) -> impl Future<Output = Result<Arc<StoreCore<V>>, StoreRequestError>> + 'static {
        let mut state = self.state.subscribe();
        async move {
            let waited = tokio::time::timeout(
                CONNECT_WAIT,
                state.wait_for(|s| !matches!(s, StoreState::Connecting)),
            )
            .await;
            match waited {
                Ok(Ok(state)) => match &*state {
                    StoreState::Ready(core) => Ok(Arc::clone(core)),
                    StoreState::Failed(message) => {
                        Err(StoreRequestError::NotReady(message.clone()))
                    }
                    StoreState::Connecting => {
                        Err(StoreRequestError::NotReady("still connecting".into()))
                    }
                },
                Ok(Err(_)) => Err(StoreRequestError::NotReady("store was stopped".into())),
                Err(_) => Err(StoreRequestError::NotReady(
                    "timed out waiting for the store to connect".into(),
                )),
            }
        }
    }
}

impl<V: KeyVault> Default for StoreActor<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: KeyVault> Actor for StoreActor<V> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(STORE_MAILBOX_CAPACITY);
    }
}

/// Sets the store's state: a new core (client rebuilt, cache empty), a failure, or connecting.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetState<V>(pub StoreState<V>);

impl<V: KeyVault> Handler<SetState<V>> for StoreActor<V> {
    type Result = ();

    fn handle(&mut self, SetState(state): SetState<V>, _: &mut Context<Self>) {
        self.state.send_replace(state);
    }
}

/// One remote object, at most `max_age` old.
#[derive(Message)]
#[rtype(result = "Result<Arc<RemoteValue>, StoreRequestError>")]
pub struct Fetch {
    pub key: RemoteKey,
    pub max_age: Duration,
    pub priority: Priority,
}

impl<V: KeyVault> Handler<Fetch> for StoreActor<V> {
    type Result = ResponseFuture<Result<Arc<RemoteValue>, StoreRequestError>>;

    fn handle(
        &mut self,
        Fetch {
            key,
            max_age,
            priority,
        }: Fetch,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.fetch(key, max_age, priority).await?) })
    }
}

/// Every object of a kind, at most `max_age` old.
#[derive(Message)]
#[rtype(result = "Result<Arc<Vec<RemoteItem>>, StoreRequestError>")]
pub struct List {
    pub kind: ObjectKind,
    pub max_age: Duration,
    pub priority: Priority,
}

impl<V: KeyVault> Handler<List> for StoreActor<V> {
    type Result = ResponseFuture<Result<Arc<Vec<RemoteItem>>, StoreRequestError>>;

    fn handle(
        &mut self,
        List {
            kind,
            max_age,
            priority,
        }: List,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.list(kind, max_age, priority).await?) })
    }
}

/// Writes one object.
#[derive(Message)]
#[rtype(result = "Result<(), StoreRequestError>")]
pub struct Push(pub PushRequest);

impl<V: KeyVault> Handler<Push> for StoreActor<V> {
    type Result = ResponseFuture<Result<(), StoreRequestError>>;

    fn handle(&mut self, Push(request): Push, _: &mut Context<Self>) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.push(request).await?) })
    }
}

/// Deletes one object.
#[derive(Message)]
#[rtype(result = "Result<(), StoreRequestError>")]
pub struct Delete(pub RemoteKey);

impl<V: KeyVault> Handler<Delete> for StoreActor<V> {
    type Result = ResponseFuture<Result<(), StoreRequestError>>;

    fn handle(&mut self, Delete(key): Delete, _: &mut Context<Self>) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.delete(key).await?) })
    }
}
