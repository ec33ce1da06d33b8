//! The remote side of a push: write an item through a store actor (unless it is unchanged or,
//! with `IfNotExists`, present), and delete recorded objects that are no longer pushed.

use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, ProviderError, RemoteKey, RemoteValue};
use akvsync_actors::store::{Delete, Fetch, Priority, Push, StoreRequestError, Tenant, Turn};

use super::Synced;
use super::error::DeleteError;
use super::source::parse_store_key;
use crate::controller::context::Shared;
use crate::controller::stores::VaultActor;
use crate::push::{
    DeleteDecision, PushError, PushItem, WriteDecision, kind_word, prepare_delete, prepare_write,
};

/// Why a remote write did not happen, with the context ESO's Azure provider gives each step.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Push(#[from] PushError),
    /// `updatePolicy: IfNotExists` could not tell whether the object exists.
    #[error("could not verify if secret exists in store: {0}")]
    Exists(StoreRequestError),
    #[error("cannot get {} {}: {}{source}", kind_word(&.key.kind), .key.name, unexpected_api_error(source, !*.azure_sdk))]
    Get {
        key: RemoteKey,
        source: StoreRequestError,
        /// The store has `useAzureSDK: true`, whose path in ESO does not add the prefix.
        azure_sdk: bool,
    },
    #[error("{} {}: {source}", set_verb(&.key.kind), .key.name)]
    Set {
        key: RemoteKey,
        source: StoreRequestError,
    },
    /// keyvault_new_sdk.go (`useAzureSDK: true`) words a foreign object without the legacy
    /// path's `cannot get <kind> <name>:` context.
    #[error("{} {name} not managed by external-secrets", kind_word(.kind))]
    NotManagedAzureSdk { kind: ObjectKind, name: String },
    #[error("store actor unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
}

/// ESO's `canCreate` / `canDelete` wrap a Key Vault error answering the existence check (any
/// status but 404) in `unexpected api error: ` (on the legacy SDK path only, for writes).
pub fn unexpected_api_error(error: &StoreRequestError, applies: bool) -> &'static str {
    match error {
        StoreRequestError::Provider(_) if applies => "unexpected api error: ",
        _ => "",
    }
}

/// ESO's words for a failed write of each object type.
fn set_verb(kind: &ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "could not set secret",
        ObjectKind::Key => "could not import key",
        ObjectKind::Certificate => "could not import certificate",
    }
}

pub async fn write_item(
    actor: &VaultActor,
    item: &PushItem,
    if_not_exists: bool,
    azure_sdk: bool,
    tenant: &Tenant,
) -> Result<(), WriteError> {
    let existing = fetch_latest(actor, &item.remote, tenant)
        .await?
        .map_err(|source| {
            if if_not_exists {
                WriteError::Exists(source)
            } else {
                WriteError::Get {
                    key: item.remote.clone(),
                    source,
                    azure_sdk,
                }
            }
        })?;
    if if_not_exists && existing.is_some() {
        return Ok(());
    }
    let decision = match prepare_write(item, existing.as_deref()) {
        Err(PushError::NotManaged { kind, name, .. }) if azure_sdk => {
            return Err(WriteError::NotManagedAzureSdk { kind, name });
        }
        decision => decision?,
    };
    match decision {
        WriteDecision::Write(request) => {
            actor
                .send(Push(request, tenant.clone()))
                .await?
                .map_err(|source| WriteError::Set {
                    key: item.remote.clone(),
                    source,
                })
        }
        WriteDecision::Unchanged => Ok(()),
    }
}

/// The remote object's latest version, `None` when it does not exist.
async fn fetch_latest(
    actor: &VaultActor,
    key: &RemoteKey,
    tenant: &Tenant,
) -> Result<Result<Option<Arc<RemoteValue>>, StoreRequestError>, actix::MailboxError> {
    let fetched = actor
        .send(Fetch {
            key: key.clone(),
            max_age: Duration::ZERO,
            turn: Turn::new(Priority::Change, tenant.clone()),
        })
        .await?;
    Ok(match fetched {
        Ok(value) => Ok(Some(value)),
        Err(StoreRequestError::Provider(ProviderError::NotFound { .. })) => Ok(None),
        Err(error) => Err(error),
    })
}

/// Deletes the remote objects recorded in `previous` that `current` no longer holds.
pub async fn delete_entries(
    shared: &Shared,
    namespace: &str,
    previous: &Synced,
    current: &Synced,
) -> Result<(), DeleteError> {
    let labels = shared.namespaces.get(namespace);
    let tenant = shared.tenant(namespace);
    for (store_key, entries) in previous {
        let Some((kind, store_name)) = parse_store_key(store_key) else {
            continue;
        };
        let kept = current.get(store_key);
        for (status_key, data) in entries {
            if kept.is_some_and(|kept| kept.contains_key(status_key)) {
                continue;
            }
            let remote = crate::push::parse_remote_key(&data.match_.remote_ref.remote_key)
                .map_err(DeleteError::RemoteKey)?;
            let actor = shared
                .stores
                .actor_for(kind, store_name, namespace, &labels)?;
            let existing = fetch_latest(&actor, &remote, &tenant)
                .await?
                .map_err(|error| DeleteError::Get {
                    key: remote.clone(),
                    error,
                })?;
            let decision = match prepare_delete(&remote, existing.as_deref()) {
                // keyvault_new_sdk.go's canDeleteWithNewSDK leaves a foreign object alone and
                // reports success; the legacy path refuses with `not managed by external-secrets`.
                Err(PushError::NotManaged { .. })
                    if shared.stores.uses_azure_sdk(kind, store_name, namespace) =>
                {
                    DeleteDecision::AlreadyGone
                }
                decision => decision.map_err(DeleteError::Refused)?,
            };
            if let DeleteDecision::Delete(key) = decision {
                actor
                    .send(Delete(key, tenant.clone()))
                    .await?
                    .map_err(|error| DeleteError::Delete { key: remote, error })?;
            }
        }
    }
    Ok(())
}
