//! `data[].metadata` for Azure Key Vault: ESO's strict `PushSecretMetadata` document with
//! `spec.expirationDate`, `spec.contentType` and `spec.tags` (`runtime/esutils/metadata`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PushError;

/// The only accepted `apiVersion`.
pub const METADATA_API_VERSION: &str = "kubernetes.external-secrets.io/v1alpha1";
/// The only accepted `kind`.
pub const METADATA_KIND: &str = "PushSecretMetadata";
/// Tags Key Vault allows per object.
const KEY_VAULT_MAX_TAGS: usize = 15;
/// The ownership tag every pushed object carries.
pub const MANAGED_BY_TAG: &str = "managed-by";
/// ESO's value of the ownership tag; akvsync uses it too so vaults shared with ESO keep working.
pub const MANAGED_BY_VALUE: &str = "external-secrets";

/// What the metadata asks for. Empty strings count as unset, as in ESO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushMetadata {
    /// Unix seconds (secrets only; ignored for keys and certificates, as in ESO).
    pub expires: Option<i64>,
    /// Secrets only.
    pub content_type: Option<String>,
    /// User tags, without `managed-by`.
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    spec: Option<Spec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    expiration_date: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// Parses `data[].metadata` (or `dataTo[].metadata`); `None` or JSON `null` is no metadata.
pub fn parse_metadata(raw: Option<&serde_json::Value>) -> Result<PushMetadata, PushError> {
    let Some(raw) = raw.filter(|raw| !raw.is_null()) else {
        return Ok(PushMetadata::default());
    };
    let document = Document::deserialize(raw).map_err(|error| PushError::ParseMetadata {
        message: format!("failed to parse {METADATA_API_VERSION} {METADATA_KIND}: {error}"),
    })?;
    if document.api_version != METADATA_API_VERSION {
        return Err(PushError::ParseMetadata {
            message: format!(
                "unexpected apiVersion {:?}, expected {METADATA_API_VERSION:?}",
                document.api_version
            ),
        });
    }
    if document.kind != METADATA_KIND {
        return Err(PushError::ParseMetadata {
            message: format!(
                "unexpected kind {:?}, expected {METADATA_KIND:?}",
                document.kind
            ),
        });
    }
    let spec = document.spec.unwrap_or_default();
    let expires = match spec.expiration_date.filter(|date| !date.is_empty()) {
        None => None,
        Some(date) => Some(
            chrono::DateTime::parse_from_rfc3339(&date)
                .map_err(|error| PushError::ParseExpirationDate {
                    message: format!("parsing time {date:?}: {error}"),
                })?
                .timestamp(),
        ),
    };
    let tags = spec.tags.unwrap_or_default();
    if tags.contains_key(MANAGED_BY_TAG) {
        return Err(PushError::ManagedByTag);
    }
    if tags.len() >= KEY_VAULT_MAX_TAGS {
        return Err(PushError::TooManyTags { count: tags.len() });
    }
    Ok(PushMetadata {
        expires,
        content_type: spec
            .content_type
            .filter(|content_type| !content_type.is_empty()),
        tags,
    })
}

/// The tags akvsync writes: the user's plus `managed-by: external-secrets`. They replace the
/// object's tags; they are not merged with them.
pub fn desired_tags(user_tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut tags = user_tags.clone();
    tags.insert(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
    tags
}

/// Whether an existing object carries ESO's ownership tag.
pub fn is_managed(tags: &BTreeMap<String, String>) -> bool {
    tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
}
