//! The store actor: the one owner of a store's Key Vault connection. It holds the store's state
//! (connecting, ready with its service, or failed) and answers fetch, list, push and delete
//! requests from resource actors.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::watch;

use super::limiter::{Tenant, Turn};
use super::listing::Listing;
use super::service::{Connect, StoreService};
use crate::remote::{ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue};

/// How long a request waits for a connecting store before it fails.
const CONNECT_WAIT: Duration = Duration::from_secs(60);

/// Store mailboxes are larger than resource ones: every resource of the store sends here, and a
/// full mailbox makes senders wait (backpressure) rather than lose requests.
pub const STORE_MAILBOX_CAPACITY: usize = 1024;

/// A store's readiness.
#[derive(Clone)]
pub enum StoreState {
    Connecting,
    Ready(Arc<dyn StoreService>),
    /// The store cannot serve: its message is the user-facing reason.
    Failed(String),
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

/// The one owner of a store's connection. It connects itself when it starts, again when told
/// ([`Reconnect`], [`Reconfigure`]) and after a transient failure, and until then serves with
/// the connection it has (requests wait while it first connects).
pub struct StoreActor {
    state: watch::Sender<StoreState>,
    connector: Arc<dyn Connect>,
    /// Counts connection attempts: only the latest one's result counts.
    attempt: u64,
    retry: Option<SpawnHandle>,
}

impl StoreActor {
    pub fn new(connector: Arc<dyn Connect>) -> Self {
        Self {
            state: watch::Sender::new(StoreState::Connecting),
            connector,
            attempt: 0,
            retry: None,
        }
    }

    /// Starts a connection attempt; the store keeps serving with its current state meanwhile.
    fn connect(&mut self, ctx: &mut Context<Self>) {
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        self.attempt += 1;
        let attempt = self.attempt;
        let connecting = self.connector.connect();
        ctx.spawn(
            connecting
                .into_actor(self)
                .map(move |connection, actor, ctx| {
                    if attempt != actor.attempt {
                        return;
                    }
                    match connection {
                        Ok(service) => {
                            actor.state.send_replace(StoreState::Ready(service));
                        }
                        Err(failure) => {
                            actor
                                .state
                                .send_replace(StoreState::Failed(failure.message));
                            if let Some(after) = failure.retry_after {
                                actor.retry = Some(ctx.run_later(after, |actor, ctx| {
                                    actor.retry = None;
                                    actor.connect(ctx);
                                }));
                            }
                        }
                    }
                }),
        );
    }

    /// A future that resolves to the store's service once it is connected.
    fn ready(
        &self,
    ) -> impl Future<Output = Result<Arc<dyn StoreService>, StoreRequestError>> + 'static {
        let mut state = self.state.subscribe();
        async move {
            let waited = tokio::time::timeout(
                CONNECT_WAIT,
                state.wait_for(|s| !matches!(s, StoreState::Connecting)),
            )
            .await;
            match waited {
                Ok(Ok(state)) => match &*state {
                    StoreState::Ready(service) => Ok(Arc::clone(service)),
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

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(STORE_MAILBOX_CAPACITY);
        self.connect(ctx);
    }
}

/// Connects again with the same connector, as after a credential rotation.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconnect;

impl Handler<Reconnect> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: Reconnect, ctx: &mut Context<Self>) {
        self.connect(ctx);
    }
}

/// Connects with a new connector, as after the store's spec changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure(pub Arc<dyn Connect>);

impl Handler<Reconfigure> for StoreActor {
    type Result = ();

    fn handle(&mut self, Reconfigure(connector): Reconfigure, ctx: &mut Context<Self>) {
        self.connector = connector;
        self.connect(ctx);
    }
}

/// The store is gone: requests fail with `reason` from now on, and it connects no more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire(pub String);

impl Handler<Retire> for StoreActor {
    type Result = ();

    fn handle(&mut self, Retire(reason): Retire, ctx: &mut Context<Self>) {
        if let Some(retry) = self.retry.take() {
            ctx.cancel_future(retry);
        }
        self.attempt += 1;
        self.state.send_replace(StoreState::Failed(reason));
    }
}

/// One remote object, at most `max_age` old.
#[derive(Message)]
#[rtype(result = "Result<Arc<RemoteValue>, StoreRequestError>")]
pub struct Fetch {
    pub key: RemoteKey,
    pub max_age: Duration,
    pub turn: Turn,
}

impl Handler<Fetch> for StoreActor {
    type Result = ResponseFuture<Result<Arc<RemoteValue>, StoreRequestError>>;

    fn handle(
        &mut self,
        Fetch { key, max_age, turn }: Fetch,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.fetch(key, max_age, turn).await?) })
    }
}

/// Every object of a kind, at most `max_age` old.
#[derive(Message)]
#[rtype(result = "Result<Arc<Vec<RemoteItem>>, StoreRequestError>")]
pub struct List {
    pub kind: ObjectKind,
    pub max_age: Duration,
    pub turn: Turn,
}

impl Handler<List> for StoreActor {
    type Result = ResponseFuture<Result<Arc<Vec<RemoteItem>>, StoreRequestError>>;

    fn handle(
        &mut self,
        List {
            kind,
            max_age,
            turn,
        }: List,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.list(kind, max_age, turn).await?) })
    }
}

/// The listing that proves values unchanged, at most `max_age` old: `None` when the vault
/// cannot give one (listing denied, a transient error), and the caller reads values instead.
#[derive(Message)]
#[rtype(result = "Result<Option<Arc<Listing>>, StoreRequestError>")]
pub struct RevalidationListing {
    pub kind: ObjectKind,
    pub max_age: Duration,
    pub turn: Turn,
}

impl Handler<RevalidationListing> for StoreActor {
    type Result = ResponseFuture<Result<Option<Arc<Listing>>, StoreRequestError>>;

    fn handle(
        &mut self,
        RevalidationListing {
            kind,
            max_age,
            turn,
        }: RevalidationListing,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.revalidation_listing(kind, max_age, turn).await) })
    }
}

/// Writes one object for a tenant.
#[derive(Message)]
#[rtype(result = "Result<(), StoreRequestError>")]
pub struct Push(pub PushRequest, pub Tenant);

impl Handler<Push> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreRequestError>>;

    fn handle(&mut self, Push(request, tenant): Push, _: &mut Context<Self>) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.push(request, tenant).await?) })
    }
}

/// Deletes one object for a tenant.
#[derive(Message)]
#[rtype(result = "Result<(), StoreRequestError>")]
pub struct Delete(pub RemoteKey, pub Tenant);

impl Handler<Delete> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreRequestError>>;

    fn handle(&mut self, Delete(key, tenant): Delete, _: &mut Context<Self>) -> Self::Result {
        let ready = self.ready();
        Box::pin(async move { Ok(ready.await?.delete(key, tenant).await?) })
    }
}
