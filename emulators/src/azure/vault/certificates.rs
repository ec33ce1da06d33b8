//! Certificates: import (PFX or PEM) with the linked key and secret sharing one version, get,
//! update, list, versions, policy, soft delete, recover, purge.

use serde_json::{Value, json};

use super::super::crypto::b64std;
use super::super::model::{
    CertData, Item, KeyData, SecretData, Vault, Version, new_version_id, now,
};
use super::super::pkcs::{self, Format, KeyAndChain};
use super::error::KvError;
use super::objects::{self, Ctx};
use super::route::{Action, Kind, Op};

const KIND: Kind = Kind::Certificate;

/// Runs a certificate operation; returns status and body.
pub fn execute(
    vault: &mut Vault,
    op: &Op,
    ctx: &Ctx,
    body: &Value,
) -> Result<(u16, Option<Value>), KvError> {
    let name = op.name.as_deref().unwrap_or_default();
    let version = op.version.as_deref();
    let found = match op.action {
        Action::Import => import(vault, ctx, name, body)?,
        Action::Get => {
            let (item, v) = objects::active_version(&vault.certificates, KIND, name, version)?;
            bundle(ctx, item, v, true)
        }
        Action::GetPolicy => {
            let (item, v) = objects::active_version(&vault.certificates, KIND, name, None)?;
            policy_json(ctx, item, v)
        }
        Action::Update => {
            let tags = objects::parse_tags(body)?;
            let target = objects::active_version_mut(&mut vault.certificates, KIND, name, version)?;
            objects::apply_attributes(&mut target.attributes, body)?;
            if let Some(tags) = tags {
                target.tags = tags;
            }
            target.attributes.updated = now();
            let (item, v) = objects::active_version(&vault.certificates, KIND, name, version)?;
            bundle(ctx, item, v, false)
        }
        Action::Delete => {
            objects::soft_delete(&mut vault.certificates, KIND, name)?;
            // The linked key and secret go with the certificate.
            let _ = objects::soft_delete(&mut vault.keys, Kind::Key, name);
            let _ = objects::soft_delete(&mut vault.secrets, Kind::Secret, name);
            deleted_bundle(ctx, objects::deleted(&vault.certificates, KIND, name)?)
        }
        Action::List => {
            let items = vault
                .certificates
                .values()
                .filter(|i| i.deleted.is_none())
                .filter_map(|i| i.latest().map(|v| item_json(ctx, i, v, false)))
                .collect();
            objects::page(ctx, "/certificates", items)?
        }
        Action::ListVersions => {
            let item = objects::active(&vault.certificates, KIND, name)?;
            let items = item
                .versions
                .iter()
                .map(|v| item_json(ctx, item, v, true))
                .collect();
            objects::page(ctx, &format!("/certificates/{name}/versions"), items)?
        }
        Action::GetDeleted => {
            deleted_bundle(ctx, objects::deleted(&vault.certificates, KIND, name)?)
        }
        Action::ListDeleted => {
            let items = vault
                .certificates
                .values()
                .filter(|i| i.deleted.is_some())
                .filter_map(|i| {
                    let mut out = item_json(ctx, i, i.latest()?, false);
                    objects::add_deletion(&mut out, ctx, KIND, &i.name, i.deleted.as_ref()?);
                    Some(out)
                })
                .collect();
            objects::page(ctx, "/deletedcertificates", items)?
        }
        Action::Purge => {
            objects::purge(&mut vault.certificates, KIND, name)?;
            let _ = objects::purge(&mut vault.keys, Kind::Key, name);
            let _ = objects::purge(&mut vault.secrets, Kind::Secret, name);
            return Ok((204, None));
        }
        Action::Recover => {
            objects::recover(&mut vault.certificates, KIND, name)?;
            let _ = objects::recover(&mut vault.keys, Kind::Key, name);
            let _ = objects::recover(&mut vault.secrets, Kind::Secret, name);
            let (item, v) = objects::active_version(&vault.certificates, KIND, name, None)?;
            bundle(ctx, item, v, true)
        }
        Action::Put | Action::Create => {
            return Err(KvError::new(
                404,
                "NotFound",
                "The requested resource was not found.",
            ));
        }
    };
    Ok((200, Some(found)))
}

fn bad_certificate(error: pkcs::PkcsError) -> KvError {
    KvError::bad_parameter(format!("The specified certificate is invalid: {error}."))
}

/// Imports a certificate, creating the linked key and secret with the same version.
pub fn import(vault: &mut Vault, ctx: &Ctx, name: &str, body: &Value) -> Result<Value, KvError> {
    objects::validate_name(name)?;
    let value = body["value"].as_str().ok_or_else(|| {
        KvError::bad_parameter("The request body must contain the property 'value'.")
    })?;
    let password = body["pwd"].as_str().unwrap_or_default();
    let (material, format) = pkcs::read_import(value, password).map_err(bad_certificate)?;
    let requested = body["policy"]["secret_props"]["contentType"].as_str();
    let content_type = match (requested, format) {
        (Some(ct), _) if ct == pkcs::PEM || ct == pkcs::PKCS12 => ct.to_string(),
        (Some(other), _) => {
            return Err(KvError::bad_parameter(format!(
                "Unsupported content type '{other}'."
            )));
        }
        (None, Format::Pem) => pkcs::PEM.to_string(),
        (None, Format::Pkcs12) => pkcs::PKCS12.to_string(),
    };
    let facts = pkcs::facts(&material.chain[0]).map_err(bad_certificate)?;
    let tags = objects::parse_tags(body)?.unwrap_or_default();
    let mut attributes = objects::new_attributes();
    objects::apply_attributes(&mut attributes, body)?;
    attributes.nbf = Some(facts.not_before);
    attributes.exp = Some(facts.not_after);
    for check in [
        objects::check_writable(&vault.certificates, KIND, name),
        objects::check_writable(&vault.keys, Kind::Key, name),
        objects::check_writable(&vault.secrets, Kind::Secret, name),
    ] {
        check?;
    }
    let unmanaged_key = vault
        .keys
        .get(&name.to_ascii_lowercase())
        .is_some_and(|i| i.latest().is_some_and(|v| !v.data.managed));
    let unmanaged_secret = vault
        .secrets
        .get(&name.to_ascii_lowercase())
        .is_some_and(|i| i.latest().is_some_and(|v| !v.data.managed));
    if unmanaged_key || unmanaged_secret {
        return Err(KvError::new(
            409,
            "Conflict",
            format!(
                "A key or secret named {name} already exists and is not managed by a certificate."
            ),
        ));
    }
    let exportable = body["policy"]["key_props"]["exportable"]
        .as_bool()
        .unwrap_or(true);
    let secret_value = secret_value(&material, &content_type, exportable)?;
    let policy = build_policy(body, &facts, &content_type, exportable);
    let id = new_version_id();
    let mut key_jwk = facts.jwk.clone();
    key_jwk["key_ops"] = if facts.kty == "RSA" {
        json!([
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey",
            "encrypt",
            "decrypt"
        ])
    } else {
        json!(["sign", "verify"])
    };
    objects::push_version(
        &mut vault.keys,
        name,
        Version {
            id: id.clone(),
            attributes: attributes.clone(),
            tags: tags.clone(),
            data: KeyData {
                public: key_jwk,
                private: Some(json!({"pkcs8": b64std(&material.key_pkcs8)})),
                managed: true,
                exportable: Some(exportable),
            },
        },
    );
    objects::push_version(
        &mut vault.secrets,
        name,
        Version {
            id: id.clone(),
            attributes: attributes.clone(),
            tags: tags.clone(),
            data: SecretData {
                value: secret_value,
                content_type: Some(content_type),
                managed: true,
            },
        },
    );
    objects::push_version(
        &mut vault.certificates,
        name,
        Version {
            id,
            attributes,
            tags,
            data: CertData {
                der: material.chain[0].clone(),
                policy,
                preserve_cert_order: body["preserveCertOrder"].as_bool().unwrap_or(false),
            },
        },
    );
    let (item, v) = objects::active_version(&vault.certificates, KIND, name, None)?;
    Ok(bundle(ctx, item, v, true))
}

fn secret_value(
    material: &KeyAndChain,
    content_type: &str,
    exportable: bool,
) -> Result<String, KvError> {
    if content_type == pkcs::PEM {
        return Ok(pkcs::to_pem(material, exportable));
    }
    let der = pkcs::to_pkcs12(material, "").map_err(bad_certificate)?;
    Ok(b64std(&der))
}

/// Converts a certificate-backed secret value for `outContentType`.
pub fn convert_secret_value(value: &str, from: Option<&str>, to: &str) -> Result<String, KvError> {
    if from == Some(to) {
        return Ok(value.to_string());
    }
    let (material, _) = pkcs::read_import(value, "").map_err(bad_certificate)?;
    match to {
        pkcs::PEM => Ok(pkcs::to_pem(&material, true)),
        pkcs::PKCS12 => secret_value(&material, pkcs::PKCS12, true),
        other => Err(KvError::bad_parameter(format!(
            "Invalid value for parameter outContentType: {other}."
        ))),
    }
}

fn build_policy(
    body: &Value,
    facts: &pkcs::CertFacts,
    content_type: &str,
    exportable: bool,
) -> Value {
    let validity_months = ((facts.not_after - facts.not_before) / (30 * 24 * 3600)).max(1);
    let mut key_props = json!({"exportable": exportable, "kty": facts.kty, "reuse_key": false});
    if let Some(size) = facts.key_size {
        key_props["key_size"] = json!(size);
    }
    if let Some(crv) = &facts.crv {
        key_props["crv"] = json!(crv);
    }
    let mut policy = json!({
        "key_props": key_props,
        "secret_props": {"contentType": content_type},
        "x509_props": {
            "subject": facts.subject,
            "sans": {"dns_names": facts.dns_names},
            "ekus": [],
            "key_usage": [],
            "validity_months": validity_months,
        },
        "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "EmailContacts"}}],
        "issuer": {"name": "Unknown"},
    });
    if let Some(given) = body["policy"].as_object() {
        for (k, v) in given {
            if k != "secret_props" && k != "id" {
                policy[k] = v.clone();
            }
        }
    }
    let now = now();
    policy["attributes"] = json!({"enabled": true, "created": now, "updated": now});
    policy
}

fn policy_json(ctx: &Ctx, item: &Item<CertData>, v: &Version<CertData>) -> Value {
    let mut policy = v.data.policy.clone();
    policy["id"] = json!(format!("{}/certificates/{}/policy", ctx.base, item.name));
    policy
}

/// CertificateBundle.
pub fn bundle(ctx: &Ctx, item: &Item<CertData>, v: &Version<CertData>, with_policy: bool) -> Value {
    let base = |collection: &str| format!("{}/{collection}/{}/{}", ctx.base, item.name, v.id);
    let mut out = json!({
        "id": base("certificates"),
        "kid": base("keys"),
        "sid": base("secrets"),
        "x5t": pkcs::x5t(&v.data.der),
        "cer": pkcs::cer(&v.data.der),
        "attributes": objects::attributes_json(&v.attributes),
        "tags": v.tags,
        "preserveCertOrder": v.data.preserve_cert_order,
    });
    if with_policy {
        out["policy"] = policy_json(ctx, item, v);
    }
    out
}

fn item_json(ctx: &Ctx, item: &Item<CertData>, v: &Version<CertData>, versioned: bool) -> Value {
    let id = if versioned {
        format!("{}/certificates/{}/{}", ctx.base, item.name, v.id)
    } else {
        format!("{}/certificates/{}", ctx.base, item.name)
    };
    json!({
        "id": id,
        "x5t": pkcs::x5t(&v.data.der),
        "attributes": objects::attributes_json(&v.attributes),
        "tags": v.tags,
    })
}

fn deleted_bundle(ctx: &Ctx, item: &Item<CertData>) -> Value {
    let Some(latest) = item.latest() else {
        return json!({});
    };
    let mut out = bundle(ctx, item, latest, true);
    if let Some(d) = &item.deleted {
        objects::add_deletion(&mut out, ctx, KIND, &item.name, d);
    }
    out
}
