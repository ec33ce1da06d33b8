//! What one fetched remote object yields: for `remoteRef` its value (or metadata) through
//! `property`, for `dataFrom.extract` its JSON object (or tags) as a key/value map.

use std::collections::BTreeMap;

use akvsync_actors::remote::{ObjectKind, RemoteValue};
use akvsync_crds::MetadataPolicy;
use serde_json::value::RawValue;

use super::build::BuildError;
use super::go_json::{go_json, go_json_error};
use super::plan::RemoteRead;
use super::property;

/// The bytes one `remoteRef` yields: the value or its metadata, through `property`.
pub(super) fn read_value(
    value: &RemoteValue,
    read: &RemoteRead,
    context: &str,
    attributes: bool,
) -> Result<Vec<u8>, BuildError> {
    if read.metadata == MetadataPolicy::Fetch {
        return read_metadata(value, &read.property, context, attributes);
    }
    if read.key.kind == ObjectKind::Certificate {
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

/// ESO's `metadataPolicy: Fetch` read: the metadata map as JSON, or one tag (a `tag.path`
/// property reads into a tag holding JSON).
fn read_metadata(
    value: &RemoteValue,
    property: &str,
    context: &str,
    attributes: bool,
) -> Result<Vec<u8>, BuildError> {
    let map = metadata_map(value, attributes);
    if property.is_empty() {
        return Ok(go_json(&map, true).into_bytes());
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

/// `dataFrom.extract`: the secret's JSON object as keys, or with `metadataPolicy: Fetch` its tags.
pub(super) fn extract_map(
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
