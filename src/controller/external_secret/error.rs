//! Why an ExternalSecret sync failed, named by the step that failed.

use akvsync_crds::{CreationPolicy, StoreKind};

use crate::sync::manifest::ManifestError;
use crate::sync::target::{Refusal, TargetError};
use crate::sync::{BuildError, PlanError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// akvsync never writes or deletes a Secret a store reads its credentials from: taking it
    /// over would break the store (ESO does overwrite it).
    #[error(
        "secret {name} holds the credentials of {kind:?} {store}; akvsync never writes a store's credentials Secret: choose another spec.target.name"
    )]
    CredentialsSecret {
        name: String,
        kind: StoreKind,
        store: String,
    },
    #[error("unable to delete secret {name}: creationPolicy={policy:?} is not Owner")]
    DeleteNotOwned {
        name: String,
        policy: CreationPolicy,
    },
    #[error("could not {operation} secret {name}: {source}")]
    Kube {
        operation: &'static str,
        name: String,
        source: kube::Error,
    },
    /// `spec.target.manifest` cannot be served: the flag is off, or the kind is cluster-scoped.
    #[error("{0}")]
    InvalidGenericTarget(String),
    #[error("{message}")]
    ResourceGet { message: String },
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("{message}")]
    ResourceWrite { message: String },
    #[error("{message}")]
    ResourceDelete { message: String },
    #[error("unable to delete resource: creationPolicy={policy:?} is not Owner")]
    ResourceDeleteNotOwned { policy: CreationPolicy },
}

impl SyncError {
    /// The Ready message: ESO's fixed text, then the cause unless it already starts with it.
    pub fn ready_message(&self) -> String {
        let cause = self.to_string();
        let eso = self.eso_message();
        if cause.starts_with(eso) {
            cause
        } else {
            format!("{eso}: {cause}")
        }
    }

    /// ESO's fixed Ready message for this failure.
    fn eso_message(&self) -> &'static str {
        match self {
            SyncError::Plan(_) | SyncError::Build(_) => "could not get secret data from provider",
            SyncError::Target(_) => "could not update secret",
            SyncError::Refused(Refusal::Immutable) => {
                "could not update secret, target is immutable"
            }
            SyncError::Refused(Refusal::OwnedByAnotherExternalSecret) => {
                "target is owned by another ExternalSecret"
            }
            SyncError::Refused(Refusal::OwnedByAnotherController { .. }) => {
                "failed to take ownership of target secret"
            }
            SyncError::CredentialsSecret { .. } => "could not update secret",
            SyncError::DeleteNotOwned { .. }
            | SyncError::Kube {
                operation: "delete",
                ..
            } => "could not delete secret",
            SyncError::Kube { .. } => "could not update secret",
            SyncError::InvalidGenericTarget(_) => "invalid generic target",
            SyncError::ResourceGet { .. } => "could not get target resource",
            SyncError::Manifest(_) => "could not apply template to manifest",
            SyncError::ResourceWrite { .. } => "could not update secret",
            SyncError::ResourceDelete { .. } | SyncError::ResourceDeleteNotOwned { .. } => {
                "could not delete resource"
            }
        }
    }

    /// A bounded name for the failure, for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            SyncError::Plan(_) => "invalid_spec",
            SyncError::Build(BuildError::Generate { .. }) => "generator",
            SyncError::Build(_) => "provider",
            SyncError::Target(_) => "invalid_target",
            SyncError::Refused(_) | SyncError::CredentialsSecret { .. } => "refused",
            SyncError::DeleteNotOwned { .. } => "invalid_target",
            SyncError::Kube { .. } => "kubernetes",
            SyncError::InvalidGenericTarget(_) => "invalid_spec",
            SyncError::Manifest(_) | SyncError::ResourceDeleteNotOwned { .. } => "invalid_target",
            SyncError::ResourceGet { .. }
            | SyncError::ResourceWrite { .. }
            | SyncError::ResourceDelete { .. } => "kubernetes",
        }
    }
}
