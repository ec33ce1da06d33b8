//! Build the Secret's data from fetched remote values, as ESO's `getProviderSecretData` does:
//! `dataFrom` entries first, then `data` entries, which win on equal keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use akvsync_actors::remote::{ProviderError, RemoteValue};
use akvsync_crds::DeletionPolicy;

use super::decode::decode;
use super::plan::{DataFromSource, Plan, StoreName};
use super::post_process::{check_null_bytes, post_process, strategy_name};
use super::read::{extract_map, read_value};
use crate::generate::GenerateFailure;

/// What the store actors returned for each entry of a plan, in the plan's order.
#[derive(Debug, Default)]
pub struct Fetched {
    pub data: Vec<Result<Arc<RemoteValue>, ProviderError>>,
    pub data_from: Vec<Result<FetchedFrom, ProviderError>>,
}

#[derive(Debug)]
pub enum FetchedFrom {
    Extract(Arc<RemoteValue>),
    /// Secret name and value of every secret the find matched.
    Find(Vec<(String, Arc<RemoteValue>)>),
    /// A generator's values, or why it made none.
    Generated(Result<BTreeMap<String, Vec<u8>>, GenerateFailure>),
}

/// The Secret data, and the entries skipped because their remote object is gone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Built {
    pub data: BTreeMap<String, Vec<u8>>,
    /// Messages for ESO's `MissingProviderSecret` events.
    pub missing: Vec<String>,
    /// One message per pair of entries that wrote the same key: the later entry wins, as in
    /// ESO, and a Warning event says so.
    pub overwritten: Vec<String>,
}

/// Which entry wrote each key so far, to name both entries when a later one overwrites it.
#[derive(Default)]
struct Writers {
    by_key: BTreeMap<String, String>,
    clashes: BTreeMap<(String, String), Vec<String>>,
}

impl Writers {
    fn write(
        &mut self,
        data: &mut BTreeMap<String, Vec<u8>>,
        field: &str,
        key: String,
        value: Vec<u8>,
    ) {
        if let Some(earlier) = self.by_key.insert(key.clone(), field.to_owned())
            && earlier != field
        {
            self.clashes
                .entry((earlier, field.to_owned()))
                .or_default()
                .push(key.clone());
        }
        data.insert(key, value);
    }

    fn messages(self) -> Vec<String> {
        self.clashes
            .into_iter()
            .map(|((earlier, later), keys)| {
                let keys: Vec<String> = keys.iter().map(|key| format!("{key:?}")).collect();
                format!(
                    "spec.{earlier} and spec.{later} both write key {}: spec.{later} wins, as it comes later",
                    keys.join(", ")
                )
            })
            .collect()
    }
}

/// Options that change how values are read.
#[derive(Clone, Copy, Debug)]
pub struct BuildOptions<'a> {
    pub deletion_policy: DeletionPolicy,
    /// Stores on ESO's new Azure SDK path (`useAzureSDK: true`), whose fetched metadata is the
    /// tags alone; ESO's legacy path (the default) adds `attribute.*` entries.
    pub azure_sdk_stores: &'a [StoreName],
}

impl BuildOptions<'_> {
    /// Whether metadata read through `store` carries `attribute.*` entries.
    fn metadata_attributes(&self, store: &StoreName) -> bool {
        !self.azure_sdk_stores.contains(store)
    }
}

/// Why building failed, in ESO's words: its controller wraps whatever goes wrong with one entry
/// as `error processing <context>, err: <cause>`, where `context` is `spec.data[i] (key: k)`,
/// `spec.dataFrom[i].extract` or `spec.dataFrom[i].find`, and the causes are ESO's texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("error processing {context}, err: {source}")]
    Fetch {
        context: String,
        source: ProviderError,
    },
    #[error("error processing {context}, err: error getting all secrets: {source}")]
    FetchAll {
        context: String,
        source: ProviderError,
    },
    #[error("error processing {context}, err: property {property} does not exist in key {key}")]
    MissingProperty {
        context: String,
        property: String,
        key: String,
    },
    #[error("error processing {context}, err: tag {property} does not exist")]
    MissingTag { context: String, property: String },
    #[error("error processing {context}, err: error unmarshalling json data: {message}")]
    NotAJsonObject { context: String, message: String },
    #[error(
        "error processing {context}, err: error applying decoding strategy {strategy} to data: {message}"
    )]
    Decode {
        context: String,
        strategy: String,
        message: String,
    },
    #[error(
        "error processing {context}, err: error applying conversion strategy {strategy} to keys: secret name collision during conversion: {key}"
    )]
    KeyCollision {
        context: String,
        strategy: String,
        key: String,
    },
    #[error(
        "error processing {context}, err: invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): {reason}"
    )]
    InvalidKey { context: String, reason: String },
    #[error(
        "error processing {context}, err: error applying rewrite to keys: failed rewrite operation[{index}]: regexp failed with failed to compile: {message}"
    )]
    InvalidRewrite {
        context: String,
        index: usize,
        message: String,
    },
    #[error(
        "error processing {context}, err: error applying rewrite to keys: failed rewrite operation[{index}]: {message}"
    )]
    Rewrite {
        context: String,
        index: usize,
        message: String,
    },
    #[error(
        "error processing {context}, err: error applying rewrite to keys: failed rewrite operation[{index}]: transform failed with {message}"
    )]
    InvalidTransform {
        context: String,
        index: usize,
        message: String,
    },
    #[error(
        "error processing {context}, err: fetched secret value for key {key:?} contains null bytes; use a text-safe format such as PEM/base64 or leave nullBytePolicy unset for intentional binary data"
    )]
    NullByte { context: String, key: String },
    #[error("error processing {context}, err: {source}")]
    Generate {
        context: String,
        source: GenerateFailure,
    },
    #[error("error processing {context}, err: {what} is not supported by akvsync yet")]
    Unsupported { context: String, what: &'static str },
}

/// Assembles the Secret data from `fetched`, which holds one result per plan entry.
pub fn build(plan: &Plan, fetched: &Fetched, options: BuildOptions) -> Result<Built, BuildError> {
    let mut built = Built::default();
    let mut writers = Writers::default();
    for (entry, result) in plan.data_from.iter().zip(&fetched.data_from) {
        let field = format!("dataFrom[{}]", entry.index);
        let context = entry.source.context(entry.index);
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(error) => {
                let (key, source) = match &entry.source {
                    DataFromSource::Extract { read, .. } => (read.raw_key.as_str(), Source::One),
                    DataFromSource::Find { .. } | DataFromSource::Generate(_) => ("", Source::All),
                };
                skip_or_fail(&mut built, options, &field, key, &context, source, error)?;
                continue;
            }
        };
        let map = match (fetched, &entry.source) {
            (FetchedFrom::Extract(value), DataFromSource::Extract { store, read }) => {
                extract_map(value, read, &context, options.metadata_attributes(store))?
            }
            (FetchedFrom::Find(values), DataFromSource::Find { .. }) => values
                .iter()
                .map(|(name, value)| (name.clone(), value.value.expose().to_vec()))
                .collect(),
            (FetchedFrom::Generated(generated), DataFromSource::Generate(_)) => {
                generated.clone().map_err(|source| BuildError::Generate {
                    context: context.clone(),
                    source,
                })?
            }
            _ => {
                return Err(BuildError::Unsupported {
                    context,
                    what: "a fetched result of another kind than its entry",
                });
            }
        };
        for (key, value) in post_process(map, entry, &context)? {
            writers.write(&mut built.data, &field, key, value);
        }
    }
    for (entry, result) in plan.data.iter().zip(&fetched.data) {
        let field = format!("data[{}]", entry.index);
        let context = format!("spec.{field} (key: {})", entry.remote.raw_key);
        match result {
            Ok(value) => {
                let attributes = options.metadata_attributes(&entry.store);
                let bytes = read_value(value, &entry.remote, &context, attributes)?;
                let decoded = decode(&bytes, entry.remote.decoding).map_err(|message| {
                    BuildError::Decode {
                        context: context.clone(),
                        strategy: strategy_name(entry.remote.decoding),
                        message,
                    }
                })?;
                check_null_bytes(
                    &context,
                    &entry.secret_key,
                    &decoded,
                    entry.remote.null_bytes,
                )?;
                writers.write(&mut built.data, &field, entry.secret_key.clone(), decoded);
            }
            Err(error) => skip_or_fail(
                &mut built,
                options,
                &field,
                &entry.remote.raw_key,
                &context,
                Source::One,
                error,
            )?,
        }
    }
    built.overwritten = writers.messages();
    Ok(built)
}

/// Whether a fetch asked for one object or listed a vault (`find`), which ESO words differently.
#[derive(Clone, Copy)]
enum Source {
    One,
    All,
}

/// A missing remote object is skipped unless the deletion policy is `Retain`; any other error fails.
fn skip_or_fail(
    built: &mut Built,
    options: BuildOptions,
    field: &str,
    key: &str,
    context: &str,
    source: Source,
    error: &ProviderError,
) -> Result<(), BuildError> {
    if matches!(error, ProviderError::NotFound { .. })
        && options.deletion_policy != DeletionPolicy::Retain
    {
        let key_note = if key.is_empty() {
            String::new()
        } else {
            format!(" (key={key})")
        };
        built.missing.push(format!(
            "secret does not exist at provider using spec.{field}{key_note}"
        ));
        return Ok(());
    }
    let context = context.to_owned();
    let source = match source {
        Source::One => BuildError::Fetch {
            context,
            source: error.clone(),
        },
        Source::All => BuildError::FetchAll {
            context,
            source: error.clone(),
        },
    };
    Err(source)
}
