//! The pure core of a PushSecret: which remote objects its source Secret yields
//! ([`plan_push`]), and, given what the vault holds, whether to write, skip, refuse or delete
//! each one ([`prepare_write`], [`prepare_delete`]). No clock, no client, no actor: values in,
//! values out. The semantics are ESO's Azure Key Vault provider's (default, legacy SDK path),
//! with these deliberate differences:
//!
//! - a tag-only change rewrites a secret (ESO skips it);
//! - an unchanged EC key is not re-imported (ESO creates a new version on every reconcile);
//! - a non-PEM `key/` value is refused with an error naming Managed HSM (ESO sends an `oct` JWK
//!   that standard vaults reject);
//! - a `cert/` value without a private key (DER, PEM certificate only, PKCS#12 without key) is
//!   refused up front (ESO sends it and Key Vault rejects it), a PEM certificate with a PKCS#8 key
//!   is converted to a password-less PKCS#12 (ESO sends the PEM as if it were PKCS#12), and a PEM
//!   PKCS#1 or SEC1 key is refused with the seed's guidance (use PKCS#8);
//! - remote names that Key Vault would reject (not 1–127 letters, digits, `-`) are refused before
//!   any call;
//! - more than 14 user tags are refused (Key Vault allows 15 and `managed-by` is one);
//! - a `secret/<name>` that backs a certificate is refused instead of failing at Key Vault.
//!
//! The caller (the PushSecret actor) does the I/O: fetch the latest version of each item's
//! remote object through the store actor, call [`prepare_write`], send the `Push`, and record
//! `item.source` under `item.status_key` in `status.syncedPushSecrets`. With `updatePolicy:
//! IfNotExists` it skips items whose object exists (still recording them) and appends
//! [`IF_NOT_EXISTS_SUFFIX`] to the Ready message.

mod cert;
mod data_to;
mod error;
mod key;
pub mod metadata;
mod plan;
mod write;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests_cert;
#[cfg(test)]
mod tests_key;
#[cfg(test)]
mod tests_plan;
#[cfg(test)]
mod tests_write;

use akvsync_crds::UpdatePolicy;

pub use error::{Operation, PushError, kind_word};
pub use metadata::{MANAGED_BY_TAG, MANAGED_BY_VALUE, PushMetadata, parse_metadata};
pub use plan::{
    PushItem, apply_template, check_duplicates, parse_remote_key, plan_push, reverse_keys,
    status_key, whole_secret_json,
};
pub use write::{DeleteDecision, WriteDecision, prepare_delete, prepare_write};

/// ESO's Ready message after a successful push.
pub const SYNCED_MESSAGE: &str = "PushSecret synced successfully";
/// ESO's suffix of the Ready message with `updatePolicy: IfNotExists`.
pub const IF_NOT_EXISTS_SUFFIX: &str = ". Existing secrets in providers unchanged.";

/// The Ready message after a successful push, as ESO words it for the update policy.
pub fn synced_message(update_policy: UpdatePolicy) -> String {
    match update_policy {
        UpdatePolicy::Replace => SYNCED_MESSAGE.to_owned(),
        UpdatePolicy::IfNotExists => format!("{SYNCED_MESSAGE}{IF_NOT_EXISTS_SUFFIX}"),
    }
}

/// ESO's Ready message (reason `Errored`) when an item could not be written: `secret_key` is the
/// entry's `match.secretKey` (empty for a whole-Secret push), `store_name` the store's name.
pub fn set_secret_failed_message(
    secret_key: &str,
    store_name: &str,
    error: &dyn std::fmt::Display,
) -> String {
    format!(
        "set secret failed: could not write remote ref {secret_key} to target secretstore {store_name}: {error}"
    )
}
