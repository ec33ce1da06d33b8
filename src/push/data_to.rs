//! `dataTo` expansion: every matching source key to its own remote key (with rewrites), or all
//! matching keys bundled as one JSON value under `remoteKey`, for the stores `storeRef` selects.

use std::collections::BTreeMap;

use akvsync_crds::{
    PushSecretData, PushSecretDataTo, PushSecretMatch, PushSecretRemoteRef, PushSecretRewrite,
};

use super::PushError;
use super::metadata::parse_metadata;
use super::plan::{PushItem, item, parse_remote_key, reverse_keys, whole_secret_json};

pub(super) fn plan_data_to(
    entry: &PushSecretDataTo,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<PushItem>, PushError> {
    let expand = |message: String| PushError::ExpandDataTo { index: 0, message };
    let store = entry
        .store_ref
        .clone()
        .ok_or_else(|| expand("storeRef is required".to_owned()))?;
    if store.name.as_deref().is_none_or(str::is_empty) && store.label_selector.is_none() {
        return Err(expand(
            "storeRef must specify either name or labelSelector".to_owned(),
        ));
    }
    let bundle = entry.remote_key.as_deref().filter(|k| !k.is_empty());
    let rewrites = entry.rewrite.as_deref().unwrap_or_default();
    if bundle.is_some() && !rewrites.is_empty() {
        return Err(expand(
            "remoteKey and rewrite are mutually exclusive: rewrite renames per-key remote keys, remoteKey bundles all keys into one".to_owned(),
        ));
    }
    let strategy = entry.conversion_strategy.unwrap_or_default();
    let converted = reverse_keys(strategy, data)
        .map_err(|error| expand(format!("conversion failed: {error}")))?;
    let pattern = entry
        .match_
        .as_ref()
        .and_then(|m| m.regexp.as_deref())
        .filter(|p| !p.is_empty());
    let matched: BTreeMap<String, Vec<u8>> = match pattern {
        None => converted,
        Some(pattern) => {
            let regex = regex::Regex::new(pattern).map_err(|error| {
                expand(format!(
                    "match failed: failed to compile regexp pattern {pattern:?}: {error}"
                ))
            })?;
            converted
                .into_iter()
                .filter(|(key, _)| regex.is_match(key))
                .collect()
        }
    };
    if matched.is_empty() {
        return Ok(Vec::new());
    }
    let metadata = parse_metadata(entry.metadata.as_ref())?;
    let data_entry = |secret_key: Option<String>, remote_key: String| PushSecretData {
        match_: PushSecretMatch {
            secret_key,
            remote_ref: PushSecretRemoteRef {
                remote_key,
                property: None,
            },
        },
        metadata: entry.metadata.clone(),
        conversion_strategy: entry.conversion_strategy,
    };
    if let Some(remote_key) = bundle {
        let remote = parse_remote_key(remote_key)?;
        let source = data_entry(None, remote_key.to_owned());
        let value = whole_secret_json(&matched);
        return Ok(vec![item(source, remote, value, metadata, Some(store))]);
    }
    let mut items = Vec::new();
    let mut remote_keys: BTreeMap<String, String> = BTreeMap::new();
    let rewrites = rewrites
        .iter()
        .enumerate()
        .map(|(index, rewrite)| {
            Rewrite::compile(rewrite)
                .map_err(|message| expand(format!("rewrite failed: rewrite[{index}]: {message}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (source_key, value) in matched {
        let mut remote_key = source_key.clone();
        for (index, rewrite) in rewrites.iter().enumerate() {
            remote_key = rewrite.apply(&remote_key).map_err(|message| {
                expand(format!(
                    "rewrite failed: rewrite[{index}] on key {remote_key:?}: {message}"
                ))
            })?;
        }
        if remote_key.is_empty() {
            return Err(expand(format!(
                "empty remote key produced for source key {source_key:?}"
            )));
        }
        if let Some(first) = remote_keys.insert(remote_key.clone(), source_key.clone()) {
            return Err(expand(format!(
                "duplicate remote key {remote_key:?} from source key {source_key:?} (conflicts with {first})"
            )));
        }
        let remote = parse_remote_key(&remote_key)?;
        let source = data_entry(Some(source_key), remote_key);
        items.push(item(
            source,
            remote,
            value,
            metadata.clone(),
            Some(store.clone()),
        ));
    }
    Ok(items)
}

/// A `dataTo` rewrite, compiled once for all keys.
enum Rewrite<'a> {
    Regexp(regex::Regex, &'a str),
    Transform(&'a str),
}

impl<'a> Rewrite<'a> {
    fn compile(rewrite: &'a PushSecretRewrite) -> Result<Self, String> {
        Ok(match rewrite {
            PushSecretRewrite::Regexp(regexp) => Rewrite::Regexp(
                regex::Regex::new(&regexp.source)
                    .map_err(|error| format!("invalid regexp: {error}"))?,
                &regexp.target,
            ),
            PushSecretRewrite::Transform(transform) => Rewrite::Transform(&transform.template),
        })
    }

    fn apply(&self, key: &str) -> Result<String, String> {
        match self {
            Rewrite::Regexp(regex, target) => Ok(regex.replace_all(key, *target).into_owned()),
            Rewrite::Transform(template) => {
                let mut values = akvsync_template::Values::new();
                values.insert("value".to_owned(), key.as_bytes().to_vec());
                akvsync_template::render(template, &values)
                    .map_err(|error| format!("template exec: {error}"))
            }
        }
    }
}
