//! Plan a push: render `spec.template` over the source data, then turn every `data[]` entry
//! and every expanded `dataTo[]` entry into one [`PushItem`] (what to write to which remote
//! object, with which metadata), as ESO's PushSecret controller and Azure provider do.

use std::collections::BTreeMap;

use akvsync_actors::remote::{RemoteKey, RemoteKeyError, SecretBytes};
use akvsync_crds::{
    ExternalSecretTemplate, PushConversionStrategy, PushSecretData, PushSecretSpec,
    PushSecretStoreRef,
};

use super::PushError;
use super::metadata::{PushMetadata, parse_metadata};
use crate::sync::go_json::go_json;

/// One remote object to write, fully resolved. Its `Debug` never shows the value.
#[derive(Clone, Debug, PartialEq)]
pub struct PushItem {
    /// `"<remoteKey>[/<property>]"`: the key of this entry in `status.syncedPushSecrets`.
    pub status_key: String,
    /// The remote object, at its latest version (`version` is always `None`).
    pub remote: RemoteKey,
    /// The bytes selected from the source: a key's raw value, or the JSON of the whole Secret.
    /// For `key/` a PEM private key and for `cert/` a PKCS#12 or PEM: [`super::prepare_write`]
    /// converts them.
    pub value: SecretBytes,
    /// `metadata.spec.contentType` (secrets only).
    pub content_type: Option<String>,
    /// User tags from the metadata, without `managed-by`.
    pub tags: BTreeMap<String, String>,
    /// `metadata.spec.expirationDate` as Unix seconds (secrets only).
    pub expires: Option<i64>,
    /// For items from `dataTo`: only stores this reference selects receive the item. `None`
    /// (from `data[]`): every store of `spec.secretStoreRefs`.
    pub store_filter: Option<PushSecretStoreRef>,
    /// The entry as ESO records it in `status.syncedPushSecrets` (for `dataTo`, the synthesised
    /// per-key entry).
    pub source: PushSecretData,
}

/// Plans the writes of a PushSecret from its source Secret's data (`source`: key → bytes).
///
/// The template is applied to an in-memory copy first (source keys stay, template keys are
/// added or overwritten, template metadata is ignored). Then each `data[]` entry yields one
/// item; `dataTo[]` entries yield one item per matched key, or one bundle item with
/// `remoteKey`. Explicit `data[]` wins over `dataTo` for the same source key; two items for the
/// same remote key are an error (for `dataTo` entries with different `storeRef`s only when the
/// references are equal: use [`check_duplicates`] on the items of one store to be exact).
pub fn plan_push(
    spec: &PushSecretSpec,
    source: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<PushItem>, PushError> {
    let data = match &spec.template {
        Some(template) => apply_template(template, source)?,
        None => source.clone(),
    };
    let mut explicit = Vec::new();
    for entry in spec.data.iter().flatten() {
        explicit.push(plan_data(entry, &data)?);
    }
    let mut bulk = Vec::new();
    for (index, entry) in spec.data_to.iter().flatten().enumerate() {
        let items = super::data_to::plan_data_to(entry, &data)
            .map_err(|error| wrap_data_to(index, error))?;
        bulk.extend(items);
    }
    let explicit_keys: Vec<&str> = explicit
        .iter()
        .filter_map(|item| item.source.match_.secret_key.as_deref())
        .collect();
    bulk.retain(|item| {
        item.source
            .match_
            .secret_key
            .as_deref()
            .is_none_or(|key| !explicit_keys.contains(&key))
    });
    let mut items = bulk;
    items.extend(explicit);
    check_overlaps(&items)?;
    Ok(items)
}

/// Fails when two items write the same remote key (ESO compares `remoteKey` and `property`).
/// Call it on the items one store receives.
pub fn check_duplicates(items: &[&PushItem]) -> Result<(), PushError> {
    let mut seen: BTreeMap<&str, &PushItem> = BTreeMap::new();
    for item in items {
        if let Some(first) = seen.insert(&item.status_key, item) {
            return Err(duplicate(first, item));
        }
    }
    Ok(())
}

fn check_overlaps(items: &[PushItem]) -> Result<(), PushError> {
    for (index, item) in items.iter().enumerate() {
        for earlier in &items[..index] {
            let may_share_a_store = match (&earlier.store_filter, &item.store_filter) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if may_share_a_store && earlier.status_key == item.status_key {
                return Err(duplicate(earlier, item));
            }
        }
    }
    Ok(())
}

fn duplicate(first: &PushItem, second: &PushItem) -> PushError {
    PushError::DuplicateRemoteKey {
        remote_key: second.status_key.clone(),
        first: first.source.match_.secret_key.clone().unwrap_or_default(),
        second: second.source.match_.secret_key.clone().unwrap_or_default(),
    }
}

fn wrap_data_to(index: usize, error: PushError) -> PushError {
    match error {
        PushError::ExpandDataTo { message, .. } => PushError::ExpandDataTo { index, message },
        other => PushError::ExpandDataTo {
            index,
            message: other.to_string(),
        },
    }
}

fn plan_data(
    entry: &PushSecretData,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<PushItem, PushError> {
    let converted = reverse_keys(entry.conversion_strategy.unwrap_or_default(), data)?;
    let value = match entry.match_.secret_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => converted
            .get(key)
            .cloned()
            .ok_or_else(|| PushError::MissingSourceKey {
                key: key.to_owned(),
            })?,
        None => whole_secret_json(&converted),
    };
    let metadata = parse_metadata(entry.metadata.as_ref())?;
    let remote =
        parse_remote_key(&entry.match_.remote_ref.remote_key).map_err(|error| match error {
            PushError::UnsupportedObjectType { object_type, .. } => {
                PushError::UnsupportedObjectType {
                    object_type,
                    secret_key: entry.match_.secret_key.clone().unwrap_or_default(),
                }
            }
            error => error,
        })?;
    Ok(item(entry.clone(), remote, value, metadata, None))
}

pub(super) fn item(
    source: PushSecretData,
    remote: RemoteKey,
    value: Vec<u8>,
    metadata: PushMetadata,
    store_filter: Option<PushSecretStoreRef>,
) -> PushItem {
    PushItem {
        status_key: status_key(&source),
        remote,
        value: SecretBytes::from(value),
        content_type: metadata.content_type,
        tags: metadata.tags,
        expires: metadata.expires,
        store_filter,
        source,
    }
}

/// The key of a data entry in `status.syncedPushSecrets`: `"<remoteKey>[/<property>]"`.
pub fn status_key(data: &PushSecretData) -> String {
    let remote = &data.match_.remote_ref;
    match remote.property.as_deref().filter(|p| !p.is_empty()) {
        Some(property) => format!("{}/{property}", remote.remote_key),
        None => remote.remote_key.clone(),
    }
}

/// ESO's `getObjType` for push ([`RemoteKey::parse`]), and the name must be a valid Key Vault
/// object name.
pub fn parse_remote_key(remote_key: &str) -> Result<RemoteKey, PushError> {
    let remote = RemoteKey::parse(remote_key, None).map_err(|error| match error {
        RemoteKeyError::UnknownObjectType { object_type, .. } => PushError::UnsupportedObjectType {
            object_type,
            secret_key: String::new(),
        },
    })?;
    let valid = (1..=127).contains(&remote.name.len())
        && remote
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(PushError::InvalidRemoteName {
            remote_key: remote_key.to_owned(),
            name: remote.name,
        });
    }
    Ok(remote)
}

/// The whole Secret as ESO's `esutils.JSONMarshal` writes it: a compact object with sorted
/// keys, values as strings, HTML characters not escaped.
pub fn whole_secret_json(data: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let strings: BTreeMap<&str, String> = data
        .iter()
        .map(|(key, value)| (key.as_str(), String::from_utf8_lossy(value).into_owned()))
        .collect();
    go_json(&strings, false).into_bytes()
}

/// `conversionStrategy: ReverseUnicode` turns `_Uxxxx_` back into the character in every
/// source key (ESO's `esutils.ReverseKeys`).
pub fn reverse_keys(
    strategy: PushConversionStrategy,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, PushError> {
    if strategy == PushConversionStrategy::None {
        return Ok(data.clone());
    }
    let mut out = BTreeMap::new();
    for (key, value) in data {
        let converted = reverse_unicode(key);
        if out.insert(converted.clone(), value.clone()).is_some() {
            return Err(PushError::ConvertSourceKeys { key: converted });
        }
    }
    Ok(out)
}

fn reverse_unicode(key: &str) -> String {
    static ESCAPE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new("_U([0-9a-fA-F]{4})_").expect("the pattern is valid")
    });
    ESCAPE
        .replace_all(key, |captures: &regex::Captures<'_>| {
            u32::from_str_radix(&captures[1], 16)
                .ok()
                .and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_else(|| captures[0].to_owned())
        })
        .into_owned()
}

/// Renders `spec.template` over a copy of the source data: template keys (from `templateFrom`
/// literals, then `data`) are added to or overwrite the source keys. Metadata, `type` and
/// `mergePolicy` do not apply to a push.
pub fn apply_template(
    template: &ExternalSecretTemplate,
    source: &BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, PushError> {
    let render = |field: String, text: &str| {
        akvsync_template::render_bytes(text, source).map_err(|error| PushError::RenderTemplate {
            field,
            message: error.to_string(),
        })
    };
    let mut data = source.clone();
    for (index, from) in template.template_from.iter().flatten().enumerate() {
        if from.config_map.is_some() {
            return Err(PushError::UnsupportedTemplate {
                index,
                what: "configMap",
            });
        }
        if from.secret.is_some() {
            return Err(PushError::UnsupportedTemplate {
                index,
                what: "secret",
            });
        }
        let Some(literal) = &from.literal else {
            continue;
        };
        let field = format!("templateFrom[{index}].literal");
        if !from
            .target
            .as_deref()
            .is_none_or(|target| target.eq_ignore_ascii_case("data"))
        {
            // Labels and annotations of a Secret that is never written: nothing to do.
            continue;
        }
        let rendered = render(field.clone(), literal)?;
        let map: BTreeMap<String, String> =
            serde_yaml::from_slice(&rendered).map_err(|error| PushError::RenderTemplate {
                field: field.clone(),
                message: format!("rendered literal is not a map of strings: {error}"),
            })?;
        data.extend(map.into_iter().map(|(k, v)| (k, v.into_bytes())));
    }
    for (key, text) in template.data.iter().flatten() {
        data.insert(key.clone(), render(format!("data[{key}]"), text)?);
    }
    Ok(data)
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// A PushSecret's remote key yields a valid Key Vault name or a refusal naming it.
        #[test]
        fn push_remote_keys_parse_to_valid_names_or_are_refused(key in "\\PC{0,140}") {
            match parse_remote_key(&key) {
                Ok(remote) => prop_assert!(
                    (1..=127).contains(&remote.name.len())
                        && remote.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                ),
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }
}
