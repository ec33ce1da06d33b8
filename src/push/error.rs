//! Why a push, or a delete, of one remote object cannot go ahead. Messages are ESO's where ESO
//! has one (users search for them), lowercase otherwise, and never contain secret material.

use akvsync_actors::remote::ObjectKind;

/// Whether the refused operation was a write or a delete: ESO words the two differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Write,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// `data[].match.secretKey` names a key the (templated, converted) source Secret lacks.
    #[error("secret key {key} does not exist")]
    MissingSourceKey { key: String },
    /// `conversionStrategy: ReverseUnicode` turned two source keys into one.
    #[error(
        "could not apply conversion strategy to keys: secret name collision during conversion: {key}"
    )]
    ConvertSourceKeys { key: String },
    /// `spec.template` failed to render.
    #[error("spec.template.{field}: {message}")]
    RenderTemplate { field: String, message: String },
    /// A `spec.template` feature that needs other objects than the source Secret.
    #[error("spec.template.templateFrom[{index}]: {what} is not supported by akvsync yet")]
    UnsupportedTemplate { index: usize, what: &'static str },
    /// A `remoteKey` prefix other than `secret/`, `key/` or `cert/`.
    /// `secret_key` is the entry's `match.secretKey`, for ESO's message around this one.
    #[error("secret type {object_type} not supported")]
    UnsupportedObjectType {
        object_type: String,
        secret_key: String,
    },
    /// Key Vault names hold 1 to 127 letters, digits and dashes; Key Vault would answer 400.
    #[error(
        "invalid Key Vault object name {name:?} (from remote key {remote_key:?}): names hold 1 to 127 letters, digits and '-'"
    )]
    InvalidRemoteName { remote_key: String, name: String },
    /// `data[].metadata` is not a `PushSecretMetadata` (unknown fields, wrong apiVersion or kind).
    #[error("failed to parse push secret metadata: {message}")]
    ParseMetadata { message: String },
    #[error(
        "error parsing expiration date in metadata: {message}. Expected format: YYYY-MM-DDTHH:MM:SSZ (RFC3339). Example: 2024-12-31T20:00:00Z"
    )]
    ParseExpirationDate { message: String },
    #[error("error parsing tags in metadata: Cannot specify a 'managed-by' tag")]
    ManagedByTag,
    /// Key Vault allows 15 tags per object and every pushed object carries `managed-by`.
    #[error(
        "error parsing tags in metadata: {count} tags given, at most 14 are allowed (Key Vault allows 15 and akvsync adds managed-by)"
    )]
    TooManyTags { count: usize },
    /// A `dataTo` entry is invalid or could not be expanded.
    #[error("dataTo[{index}]: {message}")]
    ExpandDataTo { index: usize, message: String },
    /// Two entries would write the same remote object.
    #[error(
        "duplicate remote key {remote_key:?}: source keys {first:?} and {second:?} both map to the same remote key"
    )]
    DuplicateRemoteKey {
        remote_key: String,
        first: String,
        second: String,
    },
    /// The remote object exists without `managed-by: external-secrets`: akvsync never overwrites
    /// or deletes what it did not create.
    #[error("{} {} {name}: not managed by external-secrets", .operation.prefix(), kind_word(.kind))]
    NotManaged {
        operation: Operation,
        kind: ObjectKind,
        name: String,
    },
    /// `secret/<name>` is the backing secret of certificate `<name>`: Key Vault refuses writes.
    #[error(
        "cannot set secret {name}: it backs the Key Vault certificate {name}; push to cert/{name} instead"
    )]
    CertificateBackedSecret { name: String },
    #[error("could not load private key {name}: key type {pem_type} is not supported")]
    UnsupportedKeyType { name: String, pem_type: String },
    #[error("could not load private key {name}: {message}")]
    ParsePrivateKey { name: String, message: String },
    /// ESO imports non-PEM values as symmetric (`oct`) keys, which only Managed HSM accepts.
    #[error(
        "could not load private key {name}: the value is not PEM; symmetric (oct) keys can only be imported into a Managed HSM, which akvsync does not support: push a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
    )]
    SymmetricKey { name: String },
    #[error(
        "value from secret is not a valid certificate: could not parse certificate value as PKCS#12, DER or PEM"
    )]
    InvalidCertificate,
    #[error(
        "value from secret is not a valid certificate: the PKCS#12 is password-protected; Key Vault imports only password-less PKCS#12"
    )]
    EncryptedPkcs12,
    #[error(
        "certificate {name}: the value holds no private key; Key Vault imports a certificate together with its key: push a password-less PKCS#12 with the key, or the PEM certificate and its PKCS#8 key"
    )]
    CertificateWithoutKey { name: String },
    /// A PEM certificate with a PKCS#1 or SEC1 key: the seed's guidance is to use PKCS#8.
    #[error(
        "certificate {name}: the private key is a PEM {label}; Key Vault does not support it, use PKCS#8 (-----BEGIN PRIVATE KEY-----): with cert-manager set spec.privateKey.encoding: PKCS8, or build a PKCS#12 with the fullPemToPkcs12 template function"
    )]
    NotPkcs8Key { name: String, label: String },
    #[error("certificate {name}: the private key does not match the certificate")]
    CertificateKeyMismatch { name: String },
    #[error("certificate {name}: {message}")]
    BuildPkcs12 { name: String, message: String },
}

impl Operation {
    fn prefix(self) -> &'static str {
        match self {
            Operation::Write => "cannot get",
            Operation::Delete => "error getting",
        }
    }
}

/// ESO's word for an object type in messages.
pub fn kind_word(kind: &ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "secret",
        ObjectKind::Key => "key",
        ObjectKind::Certificate => "certificate",
    }
}

impl PushError {
    /// A short fixed category for metric labels and condition reasons.
    pub fn category(&self) -> &'static str {
        match self {
            PushError::MissingSourceKey { .. }
            | PushError::ConvertSourceKeys { .. }
            | PushError::RenderTemplate { .. } => "source",
            PushError::UnsupportedTemplate { .. }
            | PushError::UnsupportedObjectType { .. }
            | PushError::InvalidRemoteName { .. }
            | PushError::ExpandDataTo { .. }
            | PushError::DuplicateRemoteKey { .. } => "invalid_spec",
            PushError::ParseMetadata { .. }
            | PushError::ParseExpirationDate { .. }
            | PushError::ManagedByTag
            | PushError::TooManyTags { .. } => "invalid_metadata",
            PushError::NotManaged { .. } | PushError::CertificateBackedSecret { .. } => {
                "not_managed"
            }
            PushError::UnsupportedKeyType { .. }
            | PushError::ParsePrivateKey { .. }
            | PushError::SymmetricKey { .. }
            | PushError::InvalidCertificate
            | PushError::EncryptedPkcs12
            | PushError::CertificateWithoutKey { .. }
            | PushError::NotPkcs8Key { .. }
            | PushError::CertificateKeyMismatch { .. }
            | PushError::BuildPkcs12 { .. } => "invalid_value",
        }
    }

    /// Whether trying again without anyone changing anything may succeed. Never: every error
    /// here is about the spec, the source data or a foreign remote object.
    pub fn is_transient(&self) -> bool {
        false
    }
}
