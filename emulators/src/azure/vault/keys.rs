//! Keys: import (RSA and EC JWK, private parts optional), create, get, update, list, versions,
//! soft delete, recover, purge. Private parts are validated and kept, never returned.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde_json::{Map, Value, json};

use super::super::crypto::{b64_any, b64std, b64url, rsa_public_components};
use super::super::model::{Item, KeyData, Vault, Version, new_version_id, now};
use super::error::KvError;
use super::objects::{self, Ctx};
use super::route::{Action, Kind, Op};

const KIND: Kind = Kind::Key;

/// Default operations of an RSA key.
const RSA_OPS: [&str; 6] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
];
/// Default operations of an EC key.
const EC_OPS: [&str; 2] = ["sign", "verify"];
/// Private JWK members, never returned.
const PRIVATE_FIELDS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// Runs a key operation; returns status and body.
pub fn execute(
    vault: &mut Vault,
    op: &Op,
    ctx: &Ctx,
    body: &Value,
) -> Result<(u16, Option<Value>), KvError> {
    let name = op.name.as_deref().unwrap_or_default();
    let version = op.version.as_deref();
    let found = match op.action {
        Action::Put => {
            objects::validate_name(name)?;
            let jwk = body.get("key").filter(|k| k.is_object()).ok_or_else(|| {
                KvError::bad_parameter("The request body must contain the property 'key'.")
            })?;
            let hsm = body["Hsm"].as_bool().unwrap_or(false);
            let material = import_jwk(jwk, hsm)?;
            store(vault, ctx, name, body, material)?
        }
        Action::Create => {
            objects::validate_name(name)?;
            let material = generate(body)?;
            store(vault, ctx, name, body, material)?
        }
        Action::Get => {
            let (item, v) = objects::active_version(&vault.keys, KIND, name, version)?;
            bundle(ctx, item, v)
        }
        Action::Update => {
            let tags = objects::parse_tags(body)?;
            let target = objects::active_version_mut(&mut vault.keys, KIND, name, version)?;
            if target.data.managed {
                return Err(KvError::managed(KIND, name));
            }
            objects::apply_attributes(&mut target.attributes, body)?;
            if let Some(ops) = body["key_ops"].as_array() {
                target.data.public["key_ops"] = Value::Array(ops.clone());
            }
            if let Some(tags) = tags {
                target.tags = tags;
            }
            target.attributes.updated = now();
            let (item, v) = objects::active_version(&vault.keys, KIND, name, version)?;
            bundle(ctx, item, v)
        }
        Action::Delete => {
            if objects::active(&vault.keys, KIND, name)?
                .latest()
                .is_some_and(|v| v.data.managed)
            {
                return Err(KvError::managed(KIND, name));
            }
            deleted_bundle(ctx, objects::soft_delete(&mut vault.keys, KIND, name)?)
        }
        Action::List => {
            let items = vault
                .keys
                .values()
                .filter(|i| i.deleted.is_none())
                .filter_map(|i| i.latest().map(|v| item_json(ctx, i, v, false)))
                .collect();
            objects::page(ctx, "/keys", items)?
        }
        Action::ListVersions => {
            let item = objects::active(&vault.keys, KIND, name)?;
            let items = item
                .versions
                .iter()
                .map(|v| item_json(ctx, item, v, true))
                .collect();
            objects::page(ctx, &format!("/keys/{name}/versions"), items)?
        }
        Action::GetDeleted => deleted_bundle(ctx, objects::deleted(&vault.keys, KIND, name)?),
        Action::ListDeleted => {
            let items = vault
                .keys
                .values()
                .filter(|i| i.deleted.is_some())
                .filter_map(|i| {
                    let mut out = item_json(ctx, i, i.latest()?, false);
                    objects::add_deletion(&mut out, ctx, KIND, &i.name, i.deleted.as_ref()?);
                    Some(out)
                })
                .collect();
            objects::page(ctx, "/deletedkeys", items)?
        }
        Action::Purge => {
            objects::purge(&mut vault.keys, KIND, name)?;
            return Ok((204, None));
        }
        Action::Recover => {
            let item = objects::recover(&mut vault.keys, KIND, name)?;
            let latest = item
                .latest()
                .ok_or_else(|| KvError::not_found(KIND, name, None))?;
            bundle(ctx, item, latest)
        }
        Action::Import | Action::GetPolicy => {
            return Err(KvError::new(
                404,
                "NotFound",
                "The requested resource was not found.",
            ));
        }
    };
    Ok((200, Some(found)))
}

fn store(
    vault: &mut Vault,
    ctx: &Ctx,
    name: &str,
    body: &Value,
    material: KeyData,
) -> Result<Value, KvError> {
    let tags = objects::parse_tags(body)?.unwrap_or_default();
    let mut attributes = objects::new_attributes();
    objects::apply_attributes(&mut attributes, body)?;
    objects::check_writable(&vault.keys, KIND, name)?;
    if let Some(item) = vault.keys.get(&name.to_ascii_lowercase())
        && item.latest().is_some_and(|v| v.data.managed)
    {
        return Err(KvError::managed(KIND, name));
    }
    let mut material = material;
    material.exportable = body["attributes"]["exportable"].as_bool();
    let version = Version {
        id: new_version_id(),
        attributes,
        tags,
        data: material,
    };
    objects::push_version(&mut vault.keys, name, version);
    let item = objects::active(&vault.keys, KIND, name)?;
    let latest = item
        .latest()
        .ok_or_else(|| KvError::not_found(KIND, name, None))?;
    Ok(bundle(ctx, item, latest))
}

fn invalid_key(detail: &str) -> KvError {
    KvError::bad_parameter(format!("Invalid key: {detail}"))
}

/// Validates an imported JWK and splits it into public and private parts.
pub fn import_jwk(jwk: &Value, hsm: bool) -> Result<KeyData, KvError> {
    let kty = jwk["kty"].as_str().unwrap_or_default();
    let field = |name: &str| -> Option<Vec<u8>> { jwk[name].as_str().and_then(b64_any) };
    let has_private = PRIVATE_FIELDS.iter().any(|f| !jwk[*f].is_null());
    let suffix = if hsm || kty.ends_with("-HSM") {
        "-HSM"
    } else {
        ""
    };
    let (public, default_ops): (Value, &[&str]) = match kty.trim_end_matches("-HSM") {
        "RSA" => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return Err(invalid_key("RSA keys need 'n' and 'e'"));
            };
            if has_private {
                let parts: Vec<Vec<u8>> = ["d", "p", "q", "dp", "dq", "qi"]
                    .iter()
                    .map(|f| field(f))
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid_key("RSA private keys need d, p, q, dp, dq and qi"))?;
                let components = aws_lc_rs::rsa::KeyPairComponents {
                    public_key: aws_lc_rs::rsa::PublicKeyComponents {
                        n: trim(&n),
                        e: trim(&e),
                    },
                    d: parts[0].as_slice(),
                    p: parts[1].as_slice(),
                    q: parts[2].as_slice(),
                    dP: parts[3].as_slice(),
                    dQ: parts[4].as_slice(),
                    qInv: parts[5].as_slice(),
                };
                aws_lc_rs::rsa::KeyPair::from_components(&components).map_err(|_| {
                    invalid_key("the RSA private key does not match its public key")
                })?;
            }
            (
                json!({"kty": format!("RSA{suffix}"), "n": b64url(trim(&n)), "e": b64url(trim(&e))}),
                &RSA_OPS,
            )
        }
        "EC" => {
            let crv = jwk["crv"].as_str().unwrap_or_default();
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return Err(invalid_key("EC keys need 'crv', 'x' and 'y'"));
            };
            let alg = ec_algorithm(crv)?;
            let mut point = vec![4u8];
            point.extend(&x);
            point.extend(&y);
            if let Some(d) = field("d") {
                EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point)
                    .map_err(|_| invalid_key("the EC private key does not match its public key"))?;
            } else if x.len() != coordinate_length(crv) || y.len() != coordinate_length(crv) {
                return Err(invalid_key("EC coordinates do not match the curve"));
            }
            (
                json!({"kty": format!("EC{suffix}"), "crv": crv, "x": b64url(&x), "y": b64url(&y)}),
                &EC_OPS,
            )
        }
        "oct" => {
            return Err(KvError::bad_parameter(
                "Key type 'oct' is not supported in a vault; use a Managed HSM.",
            ));
        }
        other => return Err(invalid_key(&format!("unsupported key type '{other}'"))),
    };
    let mut public = public;
    public["key_ops"] = jwk
        .get("key_ops")
        .filter(|v| v.is_array())
        .cloned()
        .unwrap_or_else(|| json!(default_ops));
    let private = has_private.then(|| {
        let mut map = Map::new();
        for f in PRIVATE_FIELDS {
            if let Some(v) = jwk.get(f).filter(|v| !v.is_null()) {
                map.insert(f.to_string(), v.clone());
            }
        }
        Value::Object(map)
    });
    Ok(KeyData {
        public,
        private,
        managed: false,
        exportable: None,
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn ec_algorithm(crv: &str) -> Result<&'static signature::EcdsaSigningAlgorithm, KvError> {
    match crv {
        "P-256" => Ok(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        "P-384" => Ok(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        "P-521" => Ok(&signature::ECDSA_P521_SHA512_FIXED_SIGNING),
        "P-256K" => Ok(&signature::ECDSA_P256K1_SHA256_FIXED_SIGNING),
        other => Err(invalid_key(&format!("unsupported curve '{other}'"))),
    }
}

/// Bytes in one coordinate of a point on `crv`.
fn coordinate_length(crv: &str) -> usize {
    match crv {
        "P-384" => 48,
        "P-521" => 66,
        _ => 32,
    }
}

/// Generates key material for `POST /keys/{name}/create`.
fn generate(body: &Value) -> Result<KeyData, KvError> {
    let kty = body["kty"].as_str().ok_or_else(|| {
        KvError::bad_parameter("The request body must contain the property 'kty'.")
    })?;
    let hsm = kty.ends_with("-HSM");
    let (public, pkcs8) = match kty.trim_end_matches("-HSM") {
        "RSA" => {
            let size = match body["key_size"].as_u64().unwrap_or(2048) {
                2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                other => {
                    return Err(KvError::bad_parameter(format!(
                        "Invalid key size {other}. Supported sizes are 2048, 3072 and 4096."
                    )));
                }
            };
            let pair = aws_lc_rs::rsa::KeyPair::generate(size)
                .map_err(|_| KvError::new(500, "InternalError", "key generation failed"))?;
            let (n, e) = rsa_public_components(pair.public_key().as_ref())
                .ok_or_else(|| KvError::new(500, "InternalError", "key encoding failed"))?;
            let pkcs8 = pair
                .as_der()
                .map_err(|_| KvError::new(500, "InternalError", "key encoding failed"))?;
            (
                json!({"kty": kty, "n": b64url(&n), "e": b64url(&e)}),
                pkcs8.as_ref().to_vec(),
            )
        }
        "EC" => {
            let crv = body["crv"].as_str().unwrap_or("P-256");
            let pair = EcdsaKeyPair::generate(ec_algorithm(crv)?)
                .map_err(|_| KvError::new(500, "InternalError", "key generation failed"))?;
            let point = pair.public_key().as_ref();
            let half = (point.len() - 1) / 2;
            let pkcs8 = pair
                .to_pkcs8v1()
                .map_err(|_| KvError::new(500, "InternalError", "key encoding failed"))?;
            (
                json!({"kty": kty, "crv": crv, "x": b64url(&point[1..1 + half]), "y": b64url(&point[1 + half..])}),
                pkcs8.as_ref().to_vec(),
            )
        }
        "oct" => {
            return Err(KvError::bad_parameter(
                "Key type 'oct' is not supported in a vault; use a Managed HSM.",
            ));
        }
        other => {
            return Err(KvError::bad_parameter(format!(
                "Invalid key type '{other}'."
            )));
        }
    };
    let mut public = public;
    let defaults: &[&str] = if public["kty"].as_str().is_some_and(|k| k.starts_with("EC")) {
        &EC_OPS
    } else {
        &RSA_OPS
    };
    public["key_ops"] = body
        .get("key_ops")
        .filter(|v| v.is_array())
        .cloned()
        .unwrap_or_else(|| json!(defaults));
    let _ = hsm;
    Ok(KeyData {
        public,
        private: Some(json!({"pkcs8": b64std(&pkcs8)})),
        managed: false,
        exportable: None,
    })
}

/// KeyBundle.
pub fn bundle(ctx: &Ctx, item: &Item<KeyData>, v: &Version<KeyData>) -> Value {
    let mut key = v.data.public.clone();
    key["kid"] = json!(format!("{}/keys/{}/{}", ctx.base, item.name, v.id));
    let mut attributes = objects::attributes_json(&v.attributes);
    if let Some(exportable) = v.data.exportable {
        attributes["exportable"] = json!(exportable);
    }
    let mut out = json!({"key": key, "attributes": attributes, "tags": v.tags});
    if v.data.managed {
        out["managed"] = json!(true);
    }
    out
}

fn item_json(ctx: &Ctx, item: &Item<KeyData>, v: &Version<KeyData>, versioned: bool) -> Value {
    let kid = if versioned {
        format!("{}/keys/{}/{}", ctx.base, item.name, v.id)
    } else {
        format!("{}/keys/{}", ctx.base, item.name)
    };
    let mut out =
        json!({"kid": kid, "attributes": objects::attributes_json(&v.attributes), "tags": v.tags});
    if v.data.managed {
        out["managed"] = json!(true);
    }
    out
}

fn deleted_bundle(ctx: &Ctx, item: &Item<KeyData>) -> Value {
    let Some(latest) = item.latest() else {
        return json!({});
    };
    let mut out = bundle(ctx, item, latest);
    if let Some(d) = &item.deleted {
        objects::add_deletion(&mut out, ctx, KIND, &item.name, d);
    }
    out
}
