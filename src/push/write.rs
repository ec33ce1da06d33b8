//! Decide a write or a delete of one remote object, given what the vault holds at its latest
//! version: refuse foreign objects, skip unchanged ones, and build the request otherwise.

use akvsync_actors::remote::{ObjectKind, PushRequest, RemoteKey, RemoteValue, SecretBytes};

use super::cert::import_certificate;
use super::error::Operation;
use super::key::{import_key, public_parts};
use super::metadata::{desired_tags, is_managed};
use super::{PushError, PushItem};

/// What to do about one planned item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteDecision {
    /// Send this request to the store (it creates a new version of the object).
    Write(PushRequest),
    /// The vault already holds this value with these tags (and content type and expiry).
    Unchanged,
}

/// What to do about a remote object that is no longer pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteDecision {
    /// Delete it (Key Vault soft-deletes it when the vault has soft delete on).
    Delete(RemoteKey),
    /// It does not exist (any more): nothing to do.
    AlreadyGone,
}

/// Decides the write of `item` given `existing`, the store's fetch of the same object at its
/// latest version (`None`: Key Vault answered 404). For `updatePolicy: IfNotExists`, the caller
/// skips items whose object exists before calling this.
///
/// Every write carries `managed-by: external-secrets` plus the user tags, which replace the
/// object's tags. An existing object without that tag is refused ([`PushError::NotManaged`]).
///
/// - Secrets are unchanged when value, expiry, content type (when the metadata sets one; else
///   the existing content type is carried over) and tags are equal. ESO ignores tag-only changes;
///   akvsync writes them.
/// - Keys (PEM `PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) become Key Vault's import JWK;
///   they are unchanged when the existing key's public parts and the tags are equal. ESO
///   re-imports EC keys on every reconcile; akvsync does not.
/// - Certificates are unchanged when the existing certificate's DER equals our leaf and the tags
///   are equal; the request value is a password-less PKCS#12.
pub fn prepare_write(
    item: &PushItem,
    existing: Option<&RemoteValue>,
) -> Result<WriteDecision, PushError> {
    let tags = desired_tags(&item.tags);
    let name = &item.remote.name;
    match item.remote.kind {
        ObjectKind::Secret => {
            check_owner(&item.remote, existing, Operation::Write)?;
            if existing.is_some_and(|existing| existing.managed) {
                return Err(PushError::CertificateBackedSecret { name: name.clone() });
            }
            let content_type = item
                .content_type
                .clone()
                .or_else(|| existing.and_then(|existing| existing.content_type.clone()));
            let unchanged = existing.is_some_and(|existing| {
                existing.value == item.value
                    && existing.expires == item.expires
                    && existing.content_type == content_type
                    && existing.tags == tags
            });
            Ok(decide(unchanged, || PushRequest {
                key: item.remote.clone(),
                value: item.value.clone(),
                content_type,
                tags,
                expires: item.expires,
            }))
        }
        ObjectKind::Key => {
            let key = import_key(name, item.value.expose())?;
            check_owner(&item.remote, existing, Operation::Write)?;
            let unchanged = existing.is_some_and(|existing| {
                existing.tags == tags
                    && serde_json::from_slice(existing.value.expose())
                        .ok()
                        .and_then(|jwk| public_parts(&jwk))
                        .is_some_and(|public| public == key.public)
            });
            Ok(decide(unchanged, || PushRequest {
                key: item.remote.clone(),
                value: SecretBytes::from(key.jwk_json),
                content_type: None,
                tags,
                expires: None,
            }))
        }
        ObjectKind::Certificate => {
            let certificate = import_certificate(name, item.value.expose())?;
            check_owner(&item.remote, existing, Operation::Write)?;
            let unchanged = existing.is_some_and(|existing| {
                existing.tags == tags && existing.value.expose() == certificate.leaf_der
            });
            if unchanged {
                return Ok(WriteDecision::Unchanged);
            }
            Ok(WriteDecision::Write(PushRequest {
                key: item.remote.clone(),
                value: SecretBytes::from(certificate.into_pfx(name)?),
                content_type: None,
                tags,
                expires: None,
            }))
        }
    }
}

/// Decides the delete of `remote` given `existing`, its latest version (`None`: 404). Objects
/// without `managed-by: external-secrets` are refused, as ESO's default (legacy SDK) path does.
pub fn prepare_delete(
    remote: &RemoteKey,
    existing: Option<&RemoteValue>,
) -> Result<DeleteDecision, PushError> {
    if existing.is_none() {
        return Ok(DeleteDecision::AlreadyGone);
    }
    check_owner(remote, existing, Operation::Delete)?;
    Ok(DeleteDecision::Delete(RemoteKey::new(
        remote.kind,
        remote.name.clone(),
        None,
    )))
}

fn decide(unchanged: bool, request: impl FnOnce() -> PushRequest) -> WriteDecision {
    if unchanged {
        WriteDecision::Unchanged
    } else {
        WriteDecision::Write(request())
    }
}

fn check_owner(
    remote: &RemoteKey,
    existing: Option<&RemoteValue>,
    operation: Operation,
) -> Result<(), PushError> {
    match existing {
        Some(existing) if !is_managed(&existing.tags) => Err(PushError::NotManaged {
            operation,
            kind: remote.kind,
            name: remote.name.clone(),
        }),
        _ => Ok(()),
    }
}
