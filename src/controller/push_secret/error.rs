//! Why a PushSecret sync stopped, named by the step; each error's text is ESO's Ready message.

use akvsync_actors::remote::RemoteKey;
use akvsync_actors::store::StoreRequestError;
use akvsync_crds::constants::{REASON_PUSH_ERRORED, REASON_PUSH_SOURCE_DELETED};

use super::remote::{WriteError, unexpected_api_error};
use crate::controller::stores::StoreLookupError;
use crate::generate::GenerateFailure;
use crate::push::{PushError, PushItem, kind_word, set_secret_failed_message};

#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    #[error("spec.refreshInterval: {0}")]
    RefreshInterval(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The source Secret does not exist; names what was looked for.
    #[error("could not get source secret: {0}")]
    SourceMissing(String),
    /// The source Secret is gone and the remote objects were deleted with it.
    #[error("source secret deleted; provider secrets cleaned up")]
    SourceDeleted,
    #[error("failed to cleanup provider secrets: {0}")]
    Cleanup(DeleteError),
    #[error("{}", plan_failed_message(.error, .first_store.as_deref(), *.if_not_exists))]
    Plan {
        error: PushError,
        first_store: Option<String>,
        if_not_exists: bool,
    },
    #[error(transparent)]
    Store(#[from] StoreLookupError),
    #[error("{}", write_failed_message(.secret_key, .store, .error))]
    Write {
        secret_key: String,
        store: String,
        error: WriteError,
    },
    #[error("Failed to Delete Secrets from Provider: {0}")]
    Delete(DeleteError),
}

impl PushFailure {
    /// ESO's condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            PushFailure::SourceDeleted => REASON_PUSH_SOURCE_DELETED,
            _ => REASON_PUSH_ERRORED,
        }
    }

    /// A bounded name for the failure, for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            PushFailure::RefreshInterval(_) | PushFailure::Plan { .. } => "invalid_spec",
            PushFailure::Source(_) | PushFailure::SourceMissing(_) => "source",
            PushFailure::SourceDeleted => "source_deleted",
            PushFailure::Store(_) => "store",
            PushFailure::Write { .. } => "provider_write",
            PushFailure::Cleanup(_) | PushFailure::Delete(_) => "provider_delete",
        }
    }

    pub fn write(item: &PushItem, store: &str, error: WriteError) -> Self {
        PushFailure::Write {
            secret_key: item.source.match_.secret_key.clone().unwrap_or_default(),
            store: store.to_owned(),
            error,
        }
    }
}

/// Why the source Secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// ESO's words, after its Ready message `could not get source secret`.
    #[error("could not get source secret: {}", generator_message(.0))]
    Generator(GenerateFailure),
    #[error("could not get source secret {name}: {source}")]
    Get { name: String, source: kube::Error },
    #[error("could not list source secrets: {0}")]
    List(kube::Error),
    #[error("spec.selector.secret.selector matches {0} Secrets; akvsync pushes from exactly one")]
    Ambiguous(usize),
    #[error("spec.selector.secret needs a name or a selector")]
    Unnamed,
}

/// Why a recorded remote object could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("{0}")]
    RemoteKey(PushError),
    #[error(transparent)]
    Store(#[from] StoreLookupError),
    #[error("error getting {} {}: {}{error}", kind_word(&.key.kind), .key.name, unexpected_api_error(.error, true))]
    Get {
        key: RemoteKey,
        error: StoreRequestError,
    },
    #[error("{0}")]
    Refused(PushError),
    #[error("error deleting {} {}: {error}", kind_word(&.key.kind), .key.name)]
    Delete {
        key: RemoteKey,
        error: StoreRequestError,
    },
    #[error("store actor unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
}

/// The Ready message of a spec the plan refuses. An unknown object type is refused by ESO's
/// provider inside its write (or its `IfNotExists` existence check), so it gets that context.
fn plan_failed_message(
    error: &PushError,
    first_store: Option<&str>,
    if_not_exists: bool,
) -> String {
    match (error, first_store) {
        (PushError::UnsupportedObjectType { object_type, .. }, Some(_)) if if_not_exists => {
            format!(
                "set secret failed: could not verify if secret exists in store: secret type '{object_type}' is not supported"
            )
        }
        (PushError::UnsupportedObjectType { secret_key, .. }, Some(store)) => {
            set_secret_failed_message(secret_key, store, error)
        }
        _ => error.to_string(),
    }
}

/// ESO's Ready message for a failed item: the existence check of `IfNotExists` is reported on
/// its own, every other failure as a failed write of the entry to the store.
fn write_failed_message(secret_key: &str, store: &str, error: &WriteError) -> String {
    match error {
        WriteError::Exists(_) => format!("set secret failed: {error}"),
        _ => set_secret_failed_message(secret_key, store, error),
    }
}

/// ESO's PushSecret controller words a generator's failure differently from its ExternalSecret
/// controller.
fn generator_message(failure: &GenerateFailure) -> String {
    match failure {
        GenerateFailure::Resolve(error) => {
            format!("unable to resolve generator: unable to get generator: {error}")
        }
        GenerateFailure::Generate(error) => format!("unable to generate: {error}"),
    }
}
