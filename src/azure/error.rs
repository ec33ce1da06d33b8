//! Why a store cannot be used: the message for its `Ready=False` condition.

use akvsync_crds::constants::{REASON_INVALID_PROVIDER_CONFIG, REASON_VALIDATION_FAILED};

/// A store's configuration or credential failed. `Display` is the user-facing message (ESO's
/// text where ESO has one); it never contains secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// ESO's `ValidateStore` rejected the spec (admission-time rules, §1.3).
    #[error("{0}")]
    Validation(String),
    /// Client construction failed on the spec itself (missing tenant, both secret and
    /// certificate, a bad certificate, a missing annotation, …).
    #[error("{0}")]
    InvalidProviderConfig(String),
    /// A referenced Secret or ServiceAccount could not be read from Kubernetes.
    #[error("{message}")]
    ResolveReference {
        /// ESO's message, e.g. `cannot get Kubernetes secret "x" from namespace "y": …`.
        message: String,
        /// Whether the API server failure was transient (not a 404/403).
        transient: bool,
    },
    /// Building the credential failed for a reason outside the spec (token file unreadable,
    /// Kubernetes TokenRequest failed).
    #[error("{message}")]
    Credential {
        /// What failed.
        message: String,
        /// Whether trying again later may succeed.
        transient: bool,
    },
}

impl StoreError {
    /// ESO's condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            StoreError::Validation(_) => REASON_VALIDATION_FAILED,
            _ => REASON_INVALID_PROVIDER_CONFIG,
        }
    }

    /// Whether trying again later, without a spec change, may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Validation(_) | StoreError::InvalidProviderConfig(_) => false,
            StoreError::ResolveReference { transient, .. }
            | StoreError::Credential { transient, .. } => *transient,
        }
    }

    /// A short fixed category for metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            StoreError::Validation(_) => "validation",
            StoreError::InvalidProviderConfig(_) => "invalid_config",
            StoreError::ResolveReference { .. } => "resolve_reference",
            StoreError::Credential { .. } => "credential",
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        StoreError::InvalidProviderConfig(message.into())
    }
}
