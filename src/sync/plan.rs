//! Resolve references: which store each entry of an ExternalSecret reads from, and what it asks.

use std::collections::BTreeMap;

use akvsync_actors::remote::{RemoteKey, RemoteKeyError};
use akvsync_crds::{
    ConversionStrategy, DecodingStrategy, ExternalSecretDataRemoteRef, ExternalSecretRewrite,
    ExternalSecretSpec, GeneratorRef, GoDurationError, MetadataPolicy, NullBytePolicy,
    SecretStoreRef, StoreKind, StoreSourceRef, parse_go_duration,
};
use regex::Regex;

use super::windows::{SyncGate, WindowError};

/// A store an entry reads from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreName {
    pub kind: StoreKind,
    pub name: String,
}

/// What a spec asks for, resolved and validated; the actor fetches it and `build` assembles it.
#[derive(Clone, Debug)]
pub struct Plan {
    pub data: Vec<DataEntry>,
    pub data_from: Vec<DataFromEntry>,
}

impl Plan {
    /// Every store an entry reads from (with repeats).
    pub fn stores(&self) -> impl Iterator<Item = &StoreName> {
        let data = self.data.iter().map(|entry| &entry.store);
        data.chain(
            self.data_from
                .iter()
                .filter_map(|entry| entry.source.store()),
        )
    }
}

/// One `spec.data[i]`.
#[derive(Clone, Debug)]
pub struct DataEntry {
    pub index: usize,
    pub secret_key: String,
    pub store: StoreName,
    pub remote: RemoteRead,
}

/// One `remoteRef` or `extract`: an object, and what to take from it.
#[derive(Clone, Debug)]
pub struct RemoteRead {
    /// `remoteRef.key` as written, for messages and ESO's key naming.
    pub raw_key: String,
    pub key: RemoteKey,
    pub property: String,
    pub metadata: MetadataPolicy,
    pub decoding: DecodingStrategy,
    pub null_bytes: NullBytePolicy,
}

/// One `spec.dataFrom[i]`.
#[derive(Clone, Debug)]
pub struct DataFromEntry {
    pub index: usize,
    pub source: DataFromSource,
    pub rewrite: Vec<ExternalSecretRewrite>,
    pub conversion: ConversionStrategy,
    pub decoding: DecodingStrategy,
    pub null_bytes: NullBytePolicy,
}

#[derive(Clone, Debug)]
pub enum DataFromSource {
    Extract {
        store: StoreName,
        read: RemoteRead,
    },
    Find {
        store: StoreName,
        filter: FindFilter,
    },
    /// `sourceRef.generatorRef`: values made by a generator, not read from a store.
    Generate(GeneratorRef),
}

impl DataFromSource {
    /// The store read from; `None` for a generator.
    pub fn store(&self) -> Option<&StoreName> {
        match self {
            DataFromSource::Extract { store, .. } | DataFromSource::Find { store, .. } => {
                Some(store)
            }
            DataFromSource::Generate(_) => None,
        }
    }

    /// The entry's field as ESO names it in messages: `spec.dataFrom[i].extract`, `.find` or
    /// `.sourceRef.generatorRef`.
    pub fn context(&self, index: usize) -> String {
        let part = match self {
            DataFromSource::Extract { .. } => "extract",
            DataFromSource::Find { .. } => "find",
            DataFromSource::Generate(_) => "sourceRef.generatorRef",
        };
        format!("spec.dataFrom[{index}].{part}")
    }
}

/// `dataFrom.find`: enabled secrets whose name matches and whose tags include these.
#[derive(Clone, Debug)]
pub struct FindFilter {
    pub name: Option<Regex>,
    pub tags: BTreeMap<String, String>,
}

impl FindFilter {
    pub fn matches(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        self.name.as_ref().is_none_or(|regex| regex.is_match(name))
            && self
                .tags
                .iter()
                .all(|(key, value)| tags.get(key) == Some(value))
    }
}

/// A spec that cannot be synced as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("either data or dataFrom should be specified")]
    NothingToSync,
    #[error(
        "spec.{field}: no store given: set spec.secretStoreRef or the entry's sourceRef.storeRef"
    )]
    MissingStore { field: String },
    /// ESO's admission message (`data[].sourceRef.generatorRef` is deprecated and ignored by
    /// ESO; akvsync refuses it rather than ignore it).
    #[error(
        "spec.{field}.sourceRef.generatorRef: generatorRef is not implemented in .data[], use dataFrom[]"
    )]
    GeneratorInData { field: String },
    /// ESO's admission message.
    #[error(
        "spec.dataFrom[{index}]: extract, find, or generatorRef cannot be set at the same time"
    )]
    AmbiguousDataFrom { index: usize },
    /// ESO's admission message.
    #[error("spec.dataFrom[{index}]: either extract, find, or sourceRef must be set to dataFrom")]
    EmptyDataFrom { index: usize },
    /// `spec.syncWindows` cannot be evaluated (ESO skips such windows silently).
    #[error("{0}")]
    InvalidSyncWindows(#[from] WindowError),
    /// Not a non-negative Go duration: never a silent default.
    #[error("spec.refreshInterval: {source}")]
    InvalidRefreshInterval { source: GoDurationError },
    /// ESO's words, wrapped as its controller wraps provider errors: `context` is
    /// `spec.data[i] (key: k)` or `spec.dataFrom[i].extract`.
    #[error("error processing {context}, err: {source}")]
    UnknownObjectType {
        context: String,
        source: RemoteKeyError,
    },
    #[error("spec.dataFrom[{index}].find.name.regexp: invalid regular expression: {message}")]
    InvalidRegexp { index: usize, message: String },
    #[error(
        "error processing spec.dataFrom[{index}].extract, err: cannot get use dataFrom to get {what} secret"
    )]
    ExtractUnsupported { index: usize, what: &'static str },
}

/// Resolves a spec into a plan: default and per-entry stores, object types, filters.
pub fn plan(spec: &ExternalSecretSpec) -> Result<Plan, PlanError> {
    if let Some(interval) = &spec.refresh_interval {
        parse_go_duration(interval)
            .map_err(|source| PlanError::InvalidRefreshInterval { source })?;
    }
    if let Some(windows) = &spec.sync_windows {
        SyncGate::parse(windows)?;
    }
    let data_entries = spec.data.as_deref().unwrap_or_default();
    let data_from_entries = spec.data_from.as_deref().unwrap_or_default();
    if data_entries.is_empty() && data_from_entries.is_empty() {
        return Err(PlanError::NothingToSync);
    }
    let default_store = spec.secret_store_ref.as_ref();
    let mut data = Vec::with_capacity(data_entries.len());
    for (index, entry) in data_entries.iter().enumerate() {
        let field = format!("data[{index}]");
        let source = match &entry.source_ref {
            Some(StoreSourceRef::GeneratorRef(_)) => {
                return Err(PlanError::GeneratorInData { field });
            }
            Some(StoreSourceRef::StoreRef(store)) => Some(store),
            None => None,
        };
        data.push(DataEntry {
            index,
            secret_key: entry.secret_key.clone(),
            store: resolve_store(default_store, source, &field)?,
            remote: remote_read(
                &entry.remote_ref,
                &format!("spec.{field} (key: {})", entry.remote_ref.key),
            )?,
        });
    }
    let mut data_from = Vec::with_capacity(data_from_entries.len());
    for (index, entry) in data_from_entries.iter().enumerate() {
        let field = format!("dataFrom[{index}]");
        let (store_ref, generator) = match &entry.source_ref {
            Some(StoreSourceRef::StoreRef(store)) => (Some(store), None),
            Some(StoreSourceRef::GeneratorRef(generator)) => (None, Some(generator)),
            None => (None, None),
        };
        if let Some(generator) = generator {
            if entry.extract.is_some() || entry.find.is_some() {
                return Err(PlanError::AmbiguousDataFrom { index });
            }
            // ESO applies only the rewrites to generated keys.
            data_from.push(DataFromEntry {
                index,
                source: DataFromSource::Generate(generator.clone()),
                rewrite: entry.rewrite.clone().unwrap_or_default(),
                conversion: ConversionStrategy::default(),
                decoding: DecodingStrategy::None,
                null_bytes: NullBytePolicy::default(),
            });
            continue;
        }
        let store = resolve_store(default_store, store_ref, &field)?;
        let (source, conversion, decoding, null_bytes) = match (&entry.extract, &entry.find) {
            (Some(extract), None) => {
                let read = remote_read(extract, &format!("spec.{field}.extract"))?;
                let what = match read.key.kind {
                    akvsync_actors::remote::ObjectKind::Secret => None,
                    akvsync_actors::remote::ObjectKind::Key => Some("key"),
                    akvsync_actors::remote::ObjectKind::Certificate => Some("certificate"),
                };
                if let Some(what) = what {
                    return Err(PlanError::ExtractUnsupported { index, what });
                }
                let conversion = extract.conversion_strategy.unwrap_or_default();
                let (decoding, null_bytes) = (read.decoding, read.null_bytes);
                (
                    DataFromSource::Extract { store, read },
                    conversion,
                    decoding,
                    null_bytes,
                )
            }
            (None, Some(find)) => {
                let name = find
                    .name
                    .as_ref()
                    .and_then(|name| name.regexp.as_deref())
                    .map(|regexp| {
                        Regex::new(regexp).map_err(|error| PlanError::InvalidRegexp {
                            index,
                            message: error.to_string(),
                        })
                    })
                    .transpose()?;
                let filter = FindFilter {
                    name,
                    tags: find.tags.clone().unwrap_or_default(),
                };
                (
                    DataFromSource::Find { store, filter },
                    find.conversion_strategy.unwrap_or_default(),
                    find.decoding_strategy.unwrap_or_default(),
                    find.null_byte_policy.unwrap_or_default(),
                )
            }
            (Some(_), Some(_)) => return Err(PlanError::AmbiguousDataFrom { index }),
            (None, None) => return Err(PlanError::EmptyDataFrom { index }),
        };
        data_from.push(DataFromEntry {
            index,
            source,
            rewrite: entry.rewrite.clone().unwrap_or_default(),
            conversion,
            decoding,
            null_bytes,
        });
    }
    Ok(Plan { data, data_from })
}

/// The entry's own `storeRef`, else the ExternalSecret's.
fn resolve_store(
    default: Option<&SecretStoreRef>,
    own: Option<&SecretStoreRef>,
    field: &str,
) -> Result<StoreName, PlanError> {
    match own.or(default) {
        Some(SecretStoreRef {
            name: Some(name),
            kind,
        }) if !name.is_empty() => Ok(StoreName {
            kind: kind.unwrap_or_default(),
            name: name.clone(),
        }),
        _ => Err(PlanError::MissingStore {
            field: field.to_owned(),
        }),
    }
}

/// One `remoteRef` or `extract`; `context` names it in errors as ESO's controller does.
fn remote_read(
    remote: &ExternalSecretDataRemoteRef,
    context: &str,
) -> Result<RemoteRead, PlanError> {
    let key = RemoteKey::parse(&remote.key, remote.version.as_deref()).map_err(|source| {
        PlanError::UnknownObjectType {
            context: context.to_owned(),
            source,
        }
    })?;
    Ok(RemoteRead {
        raw_key: remote.key.clone(),
        key,
        property: remote.property.clone().unwrap_or_default(),
        metadata: remote.metadata_policy.unwrap_or_default(),
        decoding: remote.decoding_strategy.unwrap_or_default(),
        null_bytes: remote.null_byte_policy.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> ExternalSecretSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn entries_use_the_default_store_unless_they_name_their_own() {
        let plan = plan(&spec(serde_json::json!({
            "secretStoreRef": {"name": "default", "kind": "SecretStore"},
            "data": [
                {"secretKey": "a", "remoteRef": {"key": "a"}},
                {"secretKey": "b", "remoteRef": {"key": "b"},
                 "sourceRef": {"storeRef": {"name": "other", "kind": "ClusterSecretStore"}}}
            ]
        })))
        .unwrap();
        assert_eq!(
            plan.data[0].store,
            StoreName {
                kind: StoreKind::SecretStore,
                name: "default".into()
            }
        );
        assert_eq!(
            plan.data[1].store,
            StoreName {
                kind: StoreKind::ClusterSecretStore,
                name: "other".into()
            }
        );
    }

    #[test]
    fn a_generator_entry_needs_no_store() {
        let plan = plan(&spec(serde_json::json!({
            "dataFrom": [{"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}},
                          "rewrite": [{"regexp": {"source": "password", "target": "pw"}}]}]
        })))
        .unwrap();
        assert_eq!(plan.stores().count(), 0);
        let entry = &plan.data_from[0];
        assert!(
            matches!(&entry.source, DataFromSource::Generate(reference) if reference.name == "p")
        );
        assert_eq!(entry.rewrite.len(), 1);
        assert_eq!(
            entry.source.context(entry.index),
            "spec.dataFrom[0].sourceRef.generatorRef"
        );
    }

    #[test]
    fn invalid_specs_are_rejected_with_the_field_named() {
        let cases = [
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}}),
                "either data or dataFrom should be specified",
            ),
            (
                serde_json::json!({"data": [{"secretKey": "a", "remoteRef": {"key": "a"}}]}),
                "spec.data[0]: no store given",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"find": {"name": {"regexp": "("}}}]}),
                "spec.dataFrom[0].find.name.regexp: invalid regular expression",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "key/k"}}]}),
                "error processing spec.dataFrom[0].extract, err: cannot get use dataFrom to get key secret",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "a", "remoteRef": {"key": "blob/a"}}]}),
                "error processing spec.data[0] (key: blob/a), err: unknown Azure Keyvault object Type for a",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "refreshInterval": "banana", "data": [{"secretKey": "a", "remoteRef": {"key": "a"}}]}),
                r#"spec.refreshInterval: invalid duration "banana""#,
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "refreshInterval": "-5s", "data": [{"secretKey": "a", "remoteRef": {"key": "a"}}]}),
                r#"spec.refreshInterval: negative duration "-5s""#,
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "blob/b/c"}}]}),
                "error processing spec.dataFrom[0].extract, err: unknown Azure Keyvault object Type for b",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "a"}, "sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]}),
                "spec.dataFrom[0]: extract, find, or generatorRef cannot be set at the same time",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "a"}, "find": {"tags": {"a": "b"}}}]}),
                "spec.dataFrom[0]: extract, find, or generatorRef cannot be set at the same time",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"rewrite": []}]}),
                "spec.dataFrom[0]: either extract, find, or sourceRef must be set to dataFrom",
            ),
            (
                serde_json::json!({"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "a", "remoteRef": {"key": "a"}, "sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]}),
                "spec.data[0].sourceRef.generatorRef: generatorRef is not implemented in .data[], use dataFrom[]",
            ),
        ];
        for (json, expected) in cases {
            let error = plan(&spec(json.clone())).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn find_filters_match_unanchored_names_and_all_tags() {
        let filter = FindFilter {
            name: Some(Regex::new("db-").unwrap()),
            tags: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        };
        let prod = BTreeMap::from([
            ("env".to_owned(), "prod".to_owned()),
            ("x".to_owned(), "y".to_owned()),
        ]);
        assert!(filter.matches("app-db-password", &prod));
        assert!(!filter.matches("app-db-password", &BTreeMap::new()));
        assert!(!filter.matches("cache", &prod));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Any spec shape the API server could hand over plans or fails with a message.
        #[test]
        fn specs_plan_or_fail_with_a_message(
            keys in prop::collection::vec("\\PC{0,30}", 0..4),
            regexp in "\\PC{0,20}",
            interval in "\\PC{0,8}",
        ) {
            let data: Vec<serde_json::Value> = keys
                .iter()
                .map(|key| serde_json::json!({"secretKey": "k", "remoteRef": {"key": key}}))
                .collect();
            let spec: ExternalSecretSpec = serde_json::from_value(serde_json::json!({
                "secretStoreRef": {"name": "s"},
                "refreshInterval": interval,
                "data": data,
                "dataFrom": [{"find": {"name": {"regexp": regexp}}}],
            }))
            .unwrap();
            if let Err(error) = plan(&spec) {
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}
