//! Fetching: every value a plan needs, from the store actors, concurrently. The actors cache,
//! coalesce and rate-limit; a failure is the entry's, reported by the build.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, ProviderError, RemoteKey};
use akvsync_actors::store::{Fetch, List, StoreRequestError, Turn};
use futures::future::join_all;

use crate::controller::context::Shared;
use crate::controller::stores::StoreLookupError;
use crate::generate;
use crate::sync::{DataFromSource, Fetched, FetchedFrom, Plan, RemoteRead, StoreName};

/// How fresh a value must be, and which lane of the vault's limiter the request waits in.
#[derive(Clone)]
pub struct Ask {
    pub max_age: Duration,
    pub turn: Turn,
}

/// Asks the stores for every value the plan needs, concurrently.
pub async fn fetch(shared: &Shared, plan: &Plan, namespace: &str, ask: &Ask) -> Fetched {
    let labels = shared.namespaces.get(namespace);
    let data = plan
        .data
        .iter()
        .map(|entry| fetch_one(shared, &entry.store, &entry.remote, namespace, &labels, ask));
    let data_from = plan.data_from.iter().map(|entry| {
        let labels = &labels;
        async move {
            match &entry.source {
                DataFromSource::Extract { store, read } => {
                    fetch_one(shared, store, read, namespace, labels, ask)
                        .await
                        .map(FetchedFrom::Extract)
                }
                DataFromSource::Generate(reference) => Ok(FetchedFrom::Generated(
                    generate::generate(&shared.kube, namespace, reference, &shared.acr).await,
                )),
                DataFromSource::Find { store, filter } => {
                    let actor = shared
                        .stores
                        .actor_for(store.kind, &store.name, namespace, labels)
                        .map_err(lookup_error)?;
                    let items = actor
                        .send(List {
                            kind: ObjectKind::Secret,
                            max_age: ask.max_age,
                            turn: ask.turn.clone(),
                        })
                        .await
                        .map_err(mailbox_error)?
                        .map_err(request_error)?;
                    let wanted = items
                        .iter()
                        .filter(|item| item.enabled && filter.matches(&item.name, &item.tags));
                    let fetches = wanted.map(|item| {
                        let actor = actor.clone();
                        let key = RemoteKey::new(ObjectKind::Secret, item.name.clone(), None);
                        async move {
                            let value = actor
                                .send(Fetch {
                                    key,
                                    max_age: ask.max_age,
                                    turn: ask.turn.clone(),
                                })
                                .await
                                .map_err(mailbox_error)?
                                .map_err(request_error)?;
                            Ok::<_, ProviderError>((item.name.clone(), value))
                        }
                    });
                    let found: Result<Vec<_>, _> = join_all(fetches).await.into_iter().collect();
                    found.map(FetchedFrom::Find)
                }
            }
        }
    });
    let (data, data_from) = futures::join!(join_all(data), join_all(data_from));
    Fetched { data, data_from }
}

async fn fetch_one(
    shared: &Shared,
    store: &StoreName,
    read: &RemoteRead,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    ask: &Ask,
) -> Result<Arc<akvsync_actors::remote::RemoteValue>, ProviderError> {
    let actor = shared
        .stores
        .actor_for(store.kind, &store.name, namespace, labels)
        .map_err(lookup_error)?;
    actor
        .send(Fetch {
            key: read.key.clone(),
            max_age: ask.max_age,
            turn: ask.turn.clone(),
        })
        .await
        .map_err(mailbox_error)?
        .map_err(request_error)
}

pub fn lookup_error(error: StoreLookupError) -> ProviderError {
    ProviderError::Invalid {
        message: error.to_string(),
    }
}

fn mailbox_error(error: actix::MailboxError) -> ProviderError {
    ProviderError::Transient {
        message: format!("store actor unavailable: {error}"),
    }
}

fn request_error(error: StoreRequestError) -> ProviderError {
    match error {
        StoreRequestError::Provider(error) => error,
        StoreRequestError::NotReady(message) => ProviderError::Invalid {
            message: format!("store is not ready: {message}"),
        },
    }
}
