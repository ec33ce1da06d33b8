//! Operations shared by secrets, keys and certificates: lookup, soft delete, recover, purge,
//! validation and paging.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::model::{Attributes, Deletion, Item, RETENTION_SECONDS, Version, now};
use super::error::KvError;
use super::route::Kind;

/// Most items a page may hold.
pub const MAX_PAGE: usize = 25;
/// Most tags an object may carry.
pub const MAX_TAGS: usize = 15;
/// Longest tag name or value.
pub const MAX_TAG_LENGTH: usize = 512;
/// Longest `contentType`.
pub const MAX_CONTENT_TYPE: usize = 255;

/// Request context for rendering ids and links.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://<vault>.vault.localhost:<port>` as the client addressed it.
    pub base: String,
    /// `api-version` sent.
    pub api_version: String,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
}

/// Checks an object name: 1–127 of `[0-9a-zA-Z-]`.
pub fn validate_name(name: &str) -> Result<(), KvError> {
    if name.is_empty()
        || name.len() > 127
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(KvError::bad_parameter(format!(
            "The request URI contains an invalid name: {name}"
        )));
    }
    Ok(())
}

/// Parses and checks `tags` from a request body.
pub fn parse_tags(body: &Value) -> Result<Option<BTreeMap<String, String>>, KvError> {
    let tags = match &body["tags"] {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => return Err(KvError::bad_parameter("Property 'tags' has invalid value")),
    };
    if tags.len() > MAX_TAGS {
        return Err(KvError::bad_parameter(format!(
            "The number of tags exceeds the maximum allowed ({MAX_TAGS})."
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in tags {
        let v = v
            .as_str()
            .ok_or_else(|| KvError::bad_parameter(format!("Tag '{k}' has invalid value")))?;
        if k.chars().count() > MAX_TAG_LENGTH || v.chars().count() > MAX_TAG_LENGTH {
            return Err(KvError::bad_parameter(format!(
                "Tag '{k}' exceeds the maximum length of {MAX_TAG_LENGTH} characters."
            )));
        }
        out.insert(k.clone(), v.to_string());
    }
    Ok(Some(out))
}

/// Parses and checks `contentType`.
pub fn parse_content_type(body: &Value) -> Result<Option<String>, KvError> {
    match &body["contentType"] {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= MAX_CONTENT_TYPE => Ok(Some(s.clone())),
        Value::String(_) => Err(KvError::bad_parameter(format!(
            "Property 'contentType' exceeds the maximum length of {MAX_CONTENT_TYPE} characters."
        ))),
        _ => Err(KvError::bad_parameter(
            "Property 'contentType' has invalid value",
        )),
    }
}

/// Applies `attributes` from a request body onto `attributes`.
pub fn apply_attributes(attributes: &mut Attributes, body: &Value) -> Result<(), KvError> {
    let given = &body["attributes"];
    if given.is_null() {
        return Ok(());
    }
    if !given.is_object() {
        return Err(KvError::bad_parameter(
            "Property 'attributes' has invalid value",
        ));
    }
    match &given["enabled"] {
        Value::Null => {}
        Value::Bool(b) => attributes.enabled = *b,
        _ => {
            return Err(KvError::bad_parameter(
                "Property 'enabled' has invalid value",
            ));
        }
    }
    for (field, slot) in [("nbf", &mut attributes.nbf), ("exp", &mut attributes.exp)] {
        match &given[field] {
            Value::Null => {}
            Value::Number(n) => *slot = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            _ => {
                return Err(KvError::bad_parameter(format!(
                    "Property '{field}' has invalid value"
                )));
            }
        }
    }
    Ok(())
}

/// Fresh attributes for a new version.
pub fn new_attributes() -> Attributes {
    let now = now();
    Attributes {
        enabled: true,
        nbf: None,
        exp: None,
        created: now,
        updated: now,
    }
}

/// The active (not deleted) object `name`.
pub fn active<'a, T>(
    map: &'a BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<&'a Item<T>, KvError> {
    map.get(&name.to_ascii_lowercase())
        .filter(|item| item.deleted.is_none())
        .ok_or_else(|| KvError::not_found(kind, name, None))
}

/// A version of the active object `name`.
pub fn active_version<'a, T>(
    map: &'a BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
    version: Option<&str>,
) -> Result<(&'a Item<T>, &'a Version<T>), KvError> {
    let item = active(map, kind, name)?;
    let found = item
        .version(version)
        .ok_or_else(|| KvError::not_found(kind, name, version))?;
    Ok((item, found))
}

/// Mutable access to a version of the active object `name`.
pub fn active_version_mut<'a, T>(
    map: &'a mut BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
    version: Option<&str>,
) -> Result<&'a mut Version<T>, KvError> {
    map.get_mut(&name.to_ascii_lowercase())
        .filter(|item| item.deleted.is_none())
        .ok_or_else(|| KvError::not_found(kind, name, None))?
        .version_mut(version)
        .ok_or_else(|| KvError::not_found(kind, name, version))
}

/// Whether `name` may take a new version (fails when soft-deleted).
pub fn check_writable<T>(
    map: &BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<(), KvError> {
    match map.get(&name.to_ascii_lowercase()) {
        Some(item) if item.deleted.is_some() => Err(KvError::deleted_but_recoverable(kind, name)),
        _ => Ok(()),
    }
}

/// Appends a version (creating the object when new); returns the previous latest version id.
pub fn push_version<T>(
    map: &mut BTreeMap<String, Item<T>>,
    name: &str,
    version: Version<T>,
) -> Option<String> {
    let item = map
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Item {
            name: name.to_string(),
            versions: Vec::new(),
            deleted: None,
        });
    let previous = item.latest().map(|v| v.id.clone());
    item.versions.push(version);
    previous
}

/// Soft-deletes `name`.
pub fn soft_delete<'a, T>(
    map: &'a mut BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<&'a Item<T>, KvError> {
    let item = map
        .get_mut(&name.to_ascii_lowercase())
        .filter(|item| item.deleted.is_none())
        .ok_or_else(|| KvError::not_found(kind, name, None))?;
    let deleted = now();
    item.deleted = Some(Deletion {
        deleted,
        purge: deleted + RETENTION_SECONDS,
    });
    Ok(item)
}

/// The soft-deleted object `name`.
pub fn deleted<'a, T>(
    map: &'a BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<&'a Item<T>, KvError> {
    map.get(&name.to_ascii_lowercase())
        .filter(|item| item.deleted.is_some())
        .ok_or_else(|| KvError::deleted_not_found(kind, name))
}

/// Recovers the soft-deleted object `name`.
pub fn recover<'a, T>(
    map: &'a mut BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<&'a Item<T>, KvError> {
    let item = map
        .get_mut(&name.to_ascii_lowercase())
        .filter(|item| item.deleted.is_some())
        .ok_or_else(|| KvError::deleted_not_found(kind, name))?;
    item.deleted = None;
    Ok(item)
}

/// Purges the soft-deleted object `name`.
pub fn purge<T>(
    map: &mut BTreeMap<String, Item<T>>,
    kind: Kind,
    name: &str,
) -> Result<(), KvError> {
    deleted(map, kind, name)?;
    map.remove(&name.to_ascii_lowercase());
    Ok(())
}

/// Renders common attributes.
pub fn attributes_json(attributes: &Attributes) -> Value {
    let mut out = json!({
        "enabled": attributes.enabled,
        "created": attributes.created,
        "updated": attributes.updated,
        "recoveryLevel": super::super::model::RECOVERY_LEVEL,
        "recoverableDays": super::super::model::RECOVERABLE_DAYS,
    });
    if let Some(nbf) = attributes.nbf {
        out["nbf"] = json!(nbf);
    }
    if let Some(exp) = attributes.exp {
        out["exp"] = json!(exp);
    }
    out
}

/// Adds the deleted-object fields to a bundle.
pub fn add_deletion(bundle: &mut Value, ctx: &Ctx, kind: Kind, item_name: &str, d: &Deletion) {
    bundle["recoveryId"] = json!(format!(
        "{}/deleted{}/{}",
        ctx.base,
        kind.collection(),
        item_name
    ));
    bundle["deletedDate"] = json!(d.deleted);
    bundle["scheduledPurgeDate"] = json!(d.purge);
}

/// One page of `items` per `maxresults` and `$skiptoken`, with `nextLink`.
pub fn page(ctx: &Ctx, path: &str, items: Vec<Value>) -> Result<Value, KvError> {
    let max = match ctx.query.get("maxresults") {
        None => MAX_PAGE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(KvError::bad_parameter(format!(
                    "Invalid value for parameter maxresults: {raw}. The value must be between 1 and {MAX_PAGE}."
                )));
            }
        },
    };
    let skip = match ctx.query.get("$skiptoken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| KvError::bad_parameter("The skip token is invalid."))?,
    };
    let end = (skip + max).min(items.len());
    let value: Vec<Value> = items.get(skip..end).unwrap_or(&[]).to_vec();
    let next = if end < items.len() {
        let mut link = format!(
            "{}{path}?api-version={}&$skiptoken={end}",
            ctx.base, ctx.api_version
        );
        if ctx.query.contains_key("maxresults") {
            link.push_str(&format!("&maxresults={max}"));
        }
        Value::String(link)
    } else {
        Value::Null
    };
    Ok(json!({"value": value, "nextLink": next}))
}
