//! Build the Secret's data from fetched remote values, as ESO's `getProviderSecretData` does:
//! `dataFrom` entries first, then `data` entries, which win on equal keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use akvsync_actors::remote::{ProviderError, RemoteValue};
use akvsync_crds::{DeletionPolicy, ExternalSecretRewrite, MetadataPolicy, NullBytePolicy};
use serde_json::value::RawValue;

use super::decode::{convert_key, decode, is_valid_secret_key};
use super::merge::rewrite_merge;
use super::plan::{DataFromEntry, DataFromSource, Plan, RemoteRead, StoreName};
use super::property;

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
    #[error("error processing {context}, err: {what} is not supported by akvsync yet")]
    Unsupported { context: String, what: &'static str },
}

/// A strategy as the user wrote it (`Base64URL`, not the Rust variant name).
fn strategy_name(strategy: impl serde::Serialize) -> String {
    serde_json::to_value(strategy)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Assembles the Secret data from `fetched`, which holds one result per plan entry.
pub fn build(plan: &Plan, fetched: &Fetched, options: BuildOptions) -> Result<Built, BuildError> {
    let mut built = Built::default();
    let mut writers = Writers::default();
    for (entry, result) in plan.data_from.iter().zip(&fetched.data_from) {
        let field = format!("dataFrom[{}]", entry.index);
        let context = match &entry.source {
            DataFromSource::Extract(_) => format!("spec.{field}.extract"),
            DataFromSource::Find(_) => format!("spec.{field}.find"),
        };
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(error) => {
                let (key, source) = match &entry.source {
                    DataFromSource::Extract(read) => (read.raw_key.as_str(), Source::One),
                    DataFromSource::Find(_) => ("", Source::All),
                };
                skip_or_fail(&mut built, options, &field, key, &context, source, error)?;
                continue;
            }
        };
        let map = match (fetched, &entry.source) {
            (FetchedFrom::Extract(value), DataFromSource::Extract(read)) => extract_map(
                value,
                read,
                &context,
                options.metadata_attributes(&entry.store),
            )?,
            (FetchedFrom::Find(values), _) => values
                .iter()
                .map(|(name, value)| (name.clone(), value.value.expose().to_vec()))
                .collect(),
            (FetchedFrom::Extract(_), DataFromSource::Find(_)) => {
                return Err(BuildError::Unsupported {
                    context,
                    what: "an extract result for a find entry",
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

/// The bytes one `remoteRef` yields: the value or its metadata, through `property`.
fn read_value(
    value: &RemoteValue,
    read: &RemoteRead,
    context: &str,
    attributes: bool,
) -> Result<Vec<u8>, BuildError> {
    if read.metadata == MetadataPolicy::Fetch {
        return read_metadata(value, &read.property, context, attributes);
    }
    if read.key.kind == akvsync_actors::remote::ObjectKind::Certificate {
        // Certificates are DER; ESO ignores `property` for them.
        return Ok(value.value.expose().to_vec());
    }
    property::extract(value.value.expose(), &read.property).ok_or_else(|| {
        BuildError::MissingProperty {
            context: context.to_owned(),
            property: read.property.clone(),
            key: read.raw_key.clone(),
        }
    })
}

/// Tags (and, on ESO's legacy path, `attribute.*`) of an object, as ESO's metadata map.
fn metadata_map(value: &RemoteValue, attributes: bool) -> BTreeMap<String, String> {
    let mut map = value.tags.clone();
    if attributes {
        let attributes = [
            ("attribute.expires", value.expires),
            ("attribute.created", value.created),
            ("attribute.updated", value.updated),
            ("attribute.notBefore", value.not_before),
        ];
        for (name, seconds) in attributes {
            if let Some(time) =
                seconds.and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
            {
                map.insert(
                    name.to_owned(),
                    time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                );
            }
        }
    }
    map
}

fn read_metadata(
    value: &RemoteValue,
    property: &str,
    context: &str,
    attributes: bool,
) -> Result<Vec<u8>, BuildError> {
    let map = metadata_map(value, attributes);
    if property.is_empty() {
        return Ok(go_json(&map).into_bytes());
    }
    if let Some(tag) = map.get(property) {
        return Ok(tag.clone().into_bytes());
    }
    let missing = || BuildError::MissingTag {
        context: context.to_owned(),
        property: property.to_owned(),
    };
    let (tag, path) = property.split_once('.').ok_or_else(missing)?;
    let tag_value = map.get(tag).ok_or_else(missing)?;
    property::extract(tag_value.as_bytes(), path).ok_or_else(missing)
}

/// Go's `json.Unmarshal` message for a value that does not decode into `target` (a Go map
/// type), for the cases users meet; other syntax errors keep serde's wording.
pub(super) fn go_json_error(bytes: &[u8], error: &serde_json::Error, target: &str) -> String {
    let trimmed = bytes.trim_ascii_start();
    let Some(&first) = trimmed.first() else {
        return "unexpected end of JSON input".to_owned();
    };
    if !matches!(
        first,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    ) {
        return format!(
            "invalid character {} looking for beginning of value",
            go_quote_char(first)
        );
    }
    if error.is_eof() {
        return "unexpected end of JSON input".to_owned();
    }
    let kind = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::String(_)) => "string",
        Ok(serde_json::Value::Number(_)) => "number",
        Ok(serde_json::Value::Array(_)) => "array",
        Ok(serde_json::Value::Bool(_)) => "bool",
        _ => return error.to_string(),
    };
    format!("json: cannot unmarshal {kind} into Go value of type {target}")
}

/// A JSON value as Go's encoder writes it: keys sorted, `U+2028`/`U+2029` escaped, and with
/// `escape_html` (`json.Marshal`) `<`, `>` and `&` too.
pub(super) fn go_json_string(value: &serde_json::Value, escape_html: bool) -> String {
    let text = serde_json::to_string(value)
        .expect("a JSON value serializes")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    if escape_html {
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    } else {
        text
    }
}

/// Go's `quoteChar` in `encoding/json`.
fn go_quote_char(byte: u8) -> String {
    match byte {
        b'\'' => r"'\''".to_owned(),
        b'"' => r#"'"'"#.to_owned(),
        b'\n' => r"'\n'".to_owned(),
        b'\r' => r"'\r'".to_owned(),
        b'\t' => r"'\t'".to_owned(),
        b'\\' => r"'\\'".to_owned(),
        0x20..=0x7e => format!("'{}'", byte as char),
        _ => format!("'\\x{byte:02x}'"),
    }
}

/// Go's `json.Marshal` of a string map: sorted keys, `<`, `>` and `&` escaped.
fn go_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map)
        .expect("a string map serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `dataFrom.extract`: the secret's JSON object as keys, or with `metadataPolicy: Fetch` its tags.
fn extract_map(
    value: &RemoteValue,
    read: &RemoteRead,
    context: &str,
    attributes: bool,
) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    if read.metadata == MetadataPolicy::Fetch {
        return Ok(extract_metadata_map(value, read, attributes));
    }
    let bytes = property::extract(value.value.expose(), &read.property).ok_or_else(|| {
        BuildError::MissingProperty {
            context: context.to_owned(),
            property: read.property.clone(),
            key: read.raw_key.clone(),
        }
    })?;
    if bytes.trim_ascii() == b"null" {
        // Go unmarshals `null` into an empty map.
        return Ok(BTreeMap::new());
    }
    let object: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(&bytes).map_err(|error| BuildError::NotAJsonObject {
            context: context.to_owned(),
            message: go_json_error(&bytes, &error, "map[string]json.RawMessage"),
        })?;
    Ok(object
        .into_iter()
        .map(|(key, raw)| {
            let text = raw.get();
            let value = match serde_json::from_str::<String>(text) {
                Ok(string) => string.into_bytes(),
                Err(_) => text.as_bytes().to_vec(),
            };
            (key, value)
        })
        .collect())
}

/// ESO's `<name>_<tag>` map, expanding tags whose value is a flat JSON object of strings.
fn extract_metadata_map(
    value: &RemoteValue,
    read: &RemoteRead,
    attributes: bool,
) -> BTreeMap<String, Vec<u8>> {
    let name = &read.key.name;
    let mut map = BTreeMap::new();
    for (tag, tag_value) in metadata_map(value, attributes) {
        match serde_json::from_str::<BTreeMap<String, String>>(&tag_value) {
            Ok(object) => {
                for (key, inner) in object {
                    map.insert(format!("{name}_{tag}_{key}"), inner.into_bytes());
                }
            }
            Err(_) => {
                map.insert(format!("{name}_{tag}"), tag_value.into_bytes());
            }
        }
    }
    if read.property.is_empty() {
        return map;
    }
    // ESO names the single key after the full `remoteRef.key`; it looks the value up by the
    // object's name (ESO looks it up by the full key too, which loses prefixed keys' values).
    let value = map
        .remove(&format!("{name}_{}", read.property))
        .unwrap_or_default();
    BTreeMap::from([(format!("{}_{}", read.raw_key, read.property), value)])
}

/// ESO's order for one `dataFrom` entry: rewrite (or convert) keys, validate every key, decode
/// every value, then apply the null-byte policy, so the first error is the one ESO reports.
fn post_process(
    map: BTreeMap<String, Vec<u8>>,
    entry: &DataFromEntry,
    context: &str,
) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    let mut map = map;
    if entry.rewrite.is_empty() {
        let mut converted = BTreeMap::new();
        for (key, value) in map {
            let new_key = convert_key(&key, entry.conversion);
            if converted.insert(new_key.clone(), value).is_some() {
                return Err(BuildError::KeyCollision {
                    context: context.to_owned(),
                    strategy: strategy_name(entry.conversion),
                    key: new_key,
                });
            }
        }
        map = converted;
    } else {
        for (index, rewrite) in entry.rewrite.iter().enumerate() {
            map = apply_rewrite(map, rewrite, context, index)?;
        }
    }
    // ESO drops empty keys silently.
    map.retain(|key, _| !key.is_empty());
    if let Some(reason) = map.keys().find_map(|key| invalid_key_reason(key)) {
        return Err(BuildError::InvalidKey {
            context: context.to_owned(),
            reason,
        });
    }
    let mut result = BTreeMap::new();
    for (key, value) in map {
        let decoded = decode(&value, entry.decoding).map_err(|message| BuildError::Decode {
            context: context.to_owned(),
            strategy: strategy_name(entry.decoding),
            message: format!("failure decoding key {key}: {message}"),
        })?;
        result.insert(key, decoded);
    }
    for (key, value) in &result {
        check_null_bytes(context, key, value, entry.null_bytes)?;
    }
    Ok(result)
}

/// ESO's `ValidateKeys` message for a key Kubernetes would refuse, if it would.
fn invalid_key_reason(key: &str) -> Option<String> {
    if is_valid_secret_key(key) {
        return None;
    }
    if key.len() > 253 {
        let truncated: String = key.chars().take(253).collect();
        return Some(format!(
            "key has length {} but max is 253: (following is truncated): {truncated}",
            key.len()
        ));
    }
    let bad = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))?;
    Some(format!(
        "key has invalid character {bad}, only alphanumeric, '-', '.' and '_' are allowed: {key}"
    ))
}

/// `nullBytePolicy: Fail` refuses values with a NUL byte (after decoding).
fn check_null_bytes(
    context: &str,
    key: &str,
    value: &[u8],
    policy: NullBytePolicy,
) -> Result<(), BuildError> {
    if policy == NullBytePolicy::Fail && value.contains(&0) {
        return Err(BuildError::NullByte {
            context: context.to_owned(),
            key: key.to_owned(),
        });
    }
    Ok(())
}

fn apply_rewrite(
    map: BTreeMap<String, Vec<u8>>,
    rewrite: &ExternalSecretRewrite,
    context: &str,
    index: usize,
) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    match rewrite {
        ExternalSecretRewrite::Regexp(regexp) => {
            let regex =
                regex::Regex::new(&regexp.source).map_err(|error| BuildError::InvalidRewrite {
                    context: context.to_owned(),
                    index,
                    message: error.to_string(),
                })?;
            Ok(map
                .into_iter()
                .map(|(key, value)| {
                    (
                        regex.replace_all(&key, regexp.target.as_str()).into_owned(),
                        value,
                    )
                })
                .collect())
        }
        ExternalSecretRewrite::Transform(transform) => {
            let invalid = |message: String| BuildError::InvalidTransform {
                context: context.to_owned(),
                index,
                message,
            };
            let template = akvsync_template::Engine::global()
                .parse("transform", &transform.template)
                .map_err(|error| invalid(format!("failed to parse template: {error}")))?;
            let mut rewritten = BTreeMap::new();
            for (key, value) in map {
                let dot = akvsync_template::Value::from_json(&serde_json::json!({ "value": key }));
                let bytes = template.execute_value(dot).map_err(|error| {
                    invalid(format!(
                        "failed to execute template for key {key:?}: {error}"
                    ))
                })?;
                let new_key = String::from_utf8(bytes)
                    .map_err(|_| invalid("the rewritten key is not UTF-8".into()))?;
                rewritten.insert(new_key, value);
            }
            Ok(rewritten)
        }
        ExternalSecretRewrite::Merge(merge) => {
            rewrite_merge(merge, map).map_err(|message| BuildError::Rewrite {
                context: context.to_owned(),
                index,
                message,
            })
        }
    }
}
