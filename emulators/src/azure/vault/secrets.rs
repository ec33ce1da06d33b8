//! Secrets: set, get, update, list, versions, soft delete, recover, purge.

use serde_json::{Value, json};

use super::super::model::{Item, SecretData, Vault, Version, new_version_id, now};
use super::certificates;
use super::error::KvError;
use super::objects::{self, Ctx};
use super::route::{Action, Kind, Op};

/// Largest secret value, in bytes (25 KB).
pub const MAX_VALUE_BYTES: usize = 25 * 1024;

const KIND: Kind = Kind::Secret;

/// Runs a secret operation; returns status and body.
pub fn execute(
    vault: &mut Vault,
    op: &Op,
    ctx: &Ctx,
    body: &Value,
) -> Result<(u16, Option<Value>), KvError> {
    let name = op.name.as_deref().unwrap_or_default();
    let version = op.version.as_deref();
    let found = match op.action {
        Action::Put => set(vault, ctx, name, body)?,
        Action::Get => get(vault, ctx, name, version)?,
        Action::Update => update(vault, ctx, name, version, body)?,
        Action::Delete => {
            if objects::active(&vault.secrets, KIND, name)?
                .latest()
                .is_some_and(|v| v.data.managed)
            {
                return Err(KvError::managed(KIND, name));
            }
            let item = objects::soft_delete(&mut vault.secrets, KIND, name)?;
            deleted_bundle(ctx, item)
        }
        Action::List => {
            let items = vault
                .secrets
                .values()
                .filter(|i| i.deleted.is_none())
                .filter_map(|i| i.latest().map(|v| item_json(ctx, i, v, false)))
                .collect();
            objects::page(ctx, "/secrets", items)?
        }
        Action::ListVersions => {
            let item = objects::active(&vault.secrets, KIND, name)?;
            let items = item
                .versions
                .iter()
                .map(|v| item_json(ctx, item, v, true))
                .collect();
            objects::page(ctx, &format!("/secrets/{name}/versions"), items)?
        }
        Action::GetDeleted => deleted_bundle(ctx, objects::deleted(&vault.secrets, KIND, name)?),
        Action::ListDeleted => {
            let items = vault
                .secrets
                .values()
                .filter(|i| i.deleted.is_some())
                .map(|i| deleted_item(ctx, i))
                .collect();
            objects::page(ctx, "/deletedsecrets", items)?
        }
        Action::Purge => {
            objects::purge(&mut vault.secrets, KIND, name)?;
            return Ok((204, None));
        }
        Action::Recover => {
            let item = objects::recover(&mut vault.secrets, KIND, name)?;
            let latest = item
                .latest()
                .ok_or_else(|| KvError::not_found(KIND, name, None))?;
            bundle(ctx, item, latest, false)
        }
        Action::Create | Action::Import | Action::GetPolicy => {
            return Err(KvError::new(
                404,
                "NotFound",
                "The requested resource was not found.",
            ));
        }
    };
    Ok((200, Some(found)))
}

fn set(vault: &mut Vault, ctx: &Ctx, name: &str, body: &Value) -> Result<Value, KvError> {
    objects::validate_name(name)?;
    let value = match &body["value"] {
        Value::String(v) => v.clone(),
        Value::Null => {
            return Err(KvError::bad_parameter(
                "The request body must contain the property 'value'.",
            ));
        }
        _ => return Err(KvError::bad_parameter("Property 'value' has invalid value")),
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::bad_parameter(format!(
            "Secret value is too large. The maximum allowed size is {MAX_VALUE_BYTES} bytes."
        )));
    }
    let content_type = objects::parse_content_type(body)?;
    let tags = objects::parse_tags(body)?.unwrap_or_default();
    let mut attributes = objects::new_attributes();
    objects::apply_attributes(&mut attributes, body)?;
    objects::check_writable(&vault.secrets, KIND, name)?;
    if let Some(item) = vault.secrets.get(&name.to_ascii_lowercase())
        && item.latest().is_some_and(|v| v.data.managed)
    {
        return Err(KvError::managed(KIND, name));
    }
    let version = Version {
        id: new_version_id(),
        attributes,
        tags,
        data: SecretData {
            value,
            content_type,
            managed: false,
        },
    };
    let previous = objects::push_version(&mut vault.secrets, name, version);
    let item = objects::active(&vault.secrets, KIND, name)?;
    let latest = item
        .latest()
        .ok_or_else(|| KvError::not_found(KIND, name, None))?;
    let mut out = bundle(ctx, item, latest, true);
    if let Some(previous) = previous {
        out["previousVersion"] = json!(previous);
    }
    Ok(out)
}

fn get(vault: &Vault, ctx: &Ctx, name: &str, version: Option<&str>) -> Result<Value, KvError> {
    let (item, found) = objects::active_version(&vault.secrets, KIND, name, version)?;
    if !found.attributes.enabled {
        return Err(KvError::disabled(KIND, "get"));
    }
    let mut out = bundle(ctx, item, found, true);
    if let Some(wanted) = ctx.query.get("outContentType")
        && found.data.managed
    {
        let converted = certificates::convert_secret_value(
            &found.data.value,
            found.data.content_type.as_deref(),
            wanted,
        )?;
        out["value"] = json!(converted);
        out["contentType"] = json!(wanted);
    }
    Ok(out)
}

fn update(
    vault: &mut Vault,
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    body: &Value,
) -> Result<Value, KvError> {
    let content_type = objects::parse_content_type(body)?;
    let tags = objects::parse_tags(body)?;
    let target = objects::active_version_mut(&mut vault.secrets, KIND, name, version)?;
    if target.data.managed {
        return Err(KvError::managed(KIND, name));
    }
    objects::apply_attributes(&mut target.attributes, body)?;
    if let Some(content_type) = content_type {
        target.data.content_type = Some(content_type);
    }
    if let Some(tags) = tags {
        target.tags = tags;
    }
    target.attributes.updated = now();
    let (item, found) = objects::active_version(&vault.secrets, KIND, name, version)?;
    Ok(bundle(ctx, item, found, false))
}

/// SecretBundle.
pub fn bundle(ctx: &Ctx, item: &Item<SecretData>, v: &Version<SecretData>, value: bool) -> Value {
    let mut out = json!({
        "id": format!("{}/secrets/{}/{}", ctx.base, item.name, v.id),
        "attributes": objects::attributes_json(&v.attributes),
        "tags": v.tags,
    });
    if value {
        out["value"] = json!(v.data.value);
    }
    if let Some(ct) = &v.data.content_type {
        out["contentType"] = json!(ct);
    }
    if v.data.managed {
        out["managed"] = json!(true);
        out["kid"] = json!(format!("{}/keys/{}/{}", ctx.base, item.name, v.id));
    }
    out
}

/// SecretItem (lists): base id for the collection list, versioned id for version lists.
fn item_json(
    ctx: &Ctx,
    item: &Item<SecretData>,
    v: &Version<SecretData>,
    versioned: bool,
) -> Value {
    let id = if versioned {
        format!("{}/secrets/{}/{}", ctx.base, item.name, v.id)
    } else {
        format!("{}/secrets/{}", ctx.base, item.name)
    };
    let mut out = json!({
        "id": id,
        "attributes": objects::attributes_json(&v.attributes),
        "tags": v.tags,
    });
    if let Some(ct) = &v.data.content_type {
        out["contentType"] = json!(ct);
    }
    if v.data.managed {
        out["managed"] = json!(true);
    }
    out
}

fn deleted_bundle(ctx: &Ctx, item: &Item<SecretData>) -> Value {
    let Some(latest) = item.latest() else {
        return json!({});
    };
    let mut out = bundle(ctx, item, latest, false);
    if let Some(d) = &item.deleted {
        objects::add_deletion(&mut out, ctx, KIND, &item.name, d);
    }
    out
}

fn deleted_item(ctx: &Ctx, item: &Item<SecretData>) -> Value {
    let Some(latest) = item.latest() else {
        return json!({});
    };
    let mut out = item_json(ctx, item, latest, false);
    if let Some(d) = &item.deleted {
        objects::add_deletion(&mut out, ctx, KIND, &item.name, d);
    }
    out
}
