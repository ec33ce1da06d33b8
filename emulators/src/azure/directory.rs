//! Changes to the world: tenants, principals, vaults, grants, and seeding objects through the
//! same code paths (and validation) as the data plane.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::config::{Grant, PrincipalSpec, SecretOptions, Seed};
use super::crypto::{sha1, sha256};
use super::model::{AcrRole, Principal, RegisteredCertificate, Registry, Tenant, Vault, World};
use super::pkcs;
use super::vault::error::KvError;
use super::vault::objects::Ctx;
use super::vault::route::{Action, Kind, Op};
use super::vault::{certificates, keys, secrets};

/// Why a change to the world was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// Tenant ids may hold letters, digits, dots and dashes.
    #[error("invalid tenant id {0:?}")]
    InvalidTenant(String),
    /// No such tenant.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// No such vault.
    #[error("unknown vault {0}")]
    UnknownVault(String),
    /// Vault names: 3–24 characters, letters, digits and dashes, starting with a letter.
    #[error("invalid vault name {0:?}")]
    InvalidVault(String),
    /// No such principal.
    #[error("unknown principal {0}")]
    UnknownPrincipal(String),
    /// Registry names: 5–50 letters and digits.
    #[error("invalid registry name {0:?}")]
    InvalidRegistry(String),
    /// No such registry.
    #[error("unknown registry {0}")]
    UnknownRegistry(String),
    /// A registered certificate is not valid PEM.
    #[error("certificate of principal {principal} is not a PEM certificate")]
    PrincipalCertificate {
        /// Client id.
        principal: String,
    },
    /// The data plane refused the object.
    #[error("seed {kind} {name} in vault {vault}")]
    Object {
        /// Vault.
        vault: String,
        /// Object kind.
        kind: &'static str,
        /// Object name.
        name: String,
        /// The data-plane error.
        #[source]
        source: Box<KvError>,
    },
}

/// Adds a tenant (no-op when present).
pub fn add_tenant(world: &mut World, id: &str) -> Result<(), WorldError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(WorldError::InvalidTenant(id.to_string()));
    }
    world
        .tenants
        .entry(id.to_ascii_lowercase())
        .or_insert_with(|| Tenant {
            id: id.to_string(),
            principals: Default::default(),
        });
    Ok(())
}

/// Adds (or replaces) a principal; generates missing ids.
pub fn add_principal(
    world: &mut World,
    tenant: &str,
    spec: &PrincipalSpec,
) -> Result<Principal, WorldError> {
    let directory = world
        .tenants
        .get_mut(&tenant.to_ascii_lowercase())
        .ok_or_else(|| WorldError::UnknownTenant(tenant.to_string()))?;
    let client_id = non_empty_or_uuid(&spec.client_id);
    let mut certificates = Vec::new();
    for text in &spec.certificates {
        let invalid = || WorldError::PrincipalCertificate {
            principal: client_id.clone(),
        };
        let block = pem::parse_many(text)
            .map_err(|_| invalid())?
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(invalid)?;
        let der = block.contents();
        let facts = pkcs::facts(der).map_err(|_| invalid())?;
        certificates.push(RegisteredCertificate {
            sha1: sha1(der),
            sha256: sha256(der),
            jwk: facts.jwk,
        });
    }
    let principal = Principal {
        name: if spec.name.is_empty() {
            client_id.clone()
        } else {
            spec.name.clone()
        },
        tenant: directory.id.clone(),
        client_id: client_id.clone(),
        object_id: non_empty_or_uuid(&spec.object_id),
        client_secrets: spec.client_secrets.clone(),
        certificates,
        federated: spec.federated.clone(),
        managed: spec.managed_identity,
    };
    directory.principals.insert(client_id, principal.clone());
    Ok(principal)
}

fn non_empty_or_uuid(value: &str) -> String {
    if value.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        value.to_string()
    }
}

/// Adds a vault (no-op when present).
pub fn add_vault(world: &mut World, name: &str, tenant: &str) -> Result<(), WorldError> {
    let valid = (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        return Err(WorldError::InvalidVault(name.to_string()));
    }
    if !world.tenants.contains_key(&tenant.to_ascii_lowercase()) {
        return Err(WorldError::UnknownTenant(tenant.to_string()));
    }
    let tenant_id = world.tenants[&tenant.to_ascii_lowercase()].id.clone();
    world
        .vaults
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Vault::new(name, &tenant_id));
    Ok(())
}

/// Adds a container registry owned by `tenant`.
pub fn add_registry(world: &mut World, name: &str, tenant: &str) -> Result<(), WorldError> {
    if !(5..=50).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(WorldError::InvalidRegistry(name.to_string()));
    }
    let tenant_id = world
        .tenants
        .get(&tenant.to_ascii_lowercase())
        .map(|t| t.id.clone())
        .ok_or_else(|| WorldError::UnknownTenant(tenant.to_string()))?;
    world
        .registries
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Registry {
            name: name.to_string(),
            tenant: tenant_id,
            roles: BTreeMap::new(),
        });
    Ok(())
}

/// Gives a principal an ACR role on a registry (replacing what it had).
pub fn assign_registry_role(
    world: &mut World,
    registry: &str,
    client_id: &str,
    role: AcrRole,
) -> Result<(), WorldError> {
    if !world
        .tenants
        .values()
        .any(|t| t.principals.contains_key(client_id))
    {
        return Err(WorldError::UnknownPrincipal(client_id.to_string()));
    }
    world
        .registries
        .get_mut(&registry.to_ascii_lowercase())
        .ok_or_else(|| WorldError::UnknownRegistry(registry.to_string()))?
        .roles
        .insert(client_id.to_string(), role);
    Ok(())
}

/// Sets a principal's access to a vault.
pub fn grant(
    world: &mut World,
    vault: &str,
    client_id: &str,
    grant: Grant,
) -> Result<(), WorldError> {
    let known = world
        .tenants
        .values()
        .any(|t| t.principals.contains_key(client_id));
    if !known {
        return Err(WorldError::UnknownPrincipal(client_id.to_string()));
    }
    vault_mut(world, vault)?
        .grants
        .insert(client_id.to_string(), grant);
    Ok(())
}

fn vault_mut<'a>(world: &'a mut World, vault: &str) -> Result<&'a mut Vault, WorldError> {
    world
        .vaults
        .get_mut(&vault.to_ascii_lowercase())
        .ok_or_else(|| WorldError::UnknownVault(vault.to_string()))
}

// One argument per part of the data-plane request this replays.
#[allow(clippy::too_many_arguments)]
fn run(
    world: &mut World,
    base: &str,
    vault: &str,
    kind: Kind,
    action: Action,
    name: &str,
    version: Option<&str>,
    body: &Value,
) -> Result<Value, WorldError> {
    let ctx = Ctx {
        base: base.to_string(),
        api_version: "2025-07-01".into(),
        query: Default::default(),
    };
    let op = Op {
        kind,
        action,
        name: Some(name.to_string()),
        version: version.map(str::to_string),
    };
    let target = vault_mut(world, vault)?;
    let result = match kind {
        Kind::Secret => secrets::execute(target, &op, &ctx, body),
        Kind::Key => keys::execute(target, &op, &ctx, body),
        Kind::Certificate => certificates::execute(target, &op, &ctx, body),
    };
    result
        .map(|(_, body)| body.unwrap_or(Value::Null))
        .map_err(|source| WorldError::Object {
            vault: vault.to_string(),
            kind: kind.noun(),
            name: name.to_string(),
            source: Box::new(source),
        })
}

/// Sets a secret version (as `PUT /secrets/{name}`); returns the SecretBundle.
pub fn set_secret(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
    value: &str,
    options: &SecretOptions,
) -> Result<Value, WorldError> {
    let mut attributes = json!({});
    if let Some(enabled) = options.enabled {
        attributes["enabled"] = json!(enabled);
    }
    if let Some(nbf) = options.nbf {
        attributes["nbf"] = json!(nbf);
    }
    if let Some(exp) = options.exp {
        attributes["exp"] = json!(exp);
    }
    let mut body = json!({"value": value, "tags": options.tags, "attributes": attributes});
    if let Some(ct) = &options.content_type {
        body["contentType"] = json!(ct);
    }
    let mut bundle = run(
        world,
        base,
        vault,
        Kind::Secret,
        Action::Put,
        name,
        None,
        &body,
    )?;
    if let Some(created) = options.created {
        let version = vault_mut(world, vault)?
            .secrets
            .get_mut(&name.to_ascii_lowercase())
            .and_then(|item| item.versions.last_mut());
        if let Some(version) = version {
            version.attributes.created = created;
            version.attributes.updated = created;
            bundle["attributes"]["created"] = json!(created);
            bundle["attributes"]["updated"] = json!(created);
        }
    }
    Ok(bundle)
}

/// Enables or disables a secret version (latest when `version` is `None`).
pub fn set_secret_enabled(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
    version: Option<&str>,
    enabled: bool,
) -> Result<Value, WorldError> {
    let body = json!({"attributes": {"enabled": enabled}});
    run(
        world,
        base,
        vault,
        Kind::Secret,
        Action::Update,
        name,
        version,
        &body,
    )
}

/// Soft-deletes a secret.
pub fn delete_secret(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
) -> Result<Value, WorldError> {
    run(
        world,
        base,
        vault,
        Kind::Secret,
        Action::Delete,
        name,
        None,
        &Value::Null,
    )
}

/// Imports a key from a JWK (as `PUT /keys/{name}`).
pub fn import_key(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
    jwk: &Value,
) -> Result<Value, WorldError> {
    run(
        world,
        base,
        vault,
        Kind::Key,
        Action::Put,
        name,
        None,
        &json!({"key": jwk}),
    )
}

/// Creates a key (as `POST /keys/{name}/create`), e.g. `{"kty":"RSA","key_size":2048}`.
pub fn create_key(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
    body: &Value,
) -> Result<Value, WorldError> {
    run(
        world,
        base,
        vault,
        Kind::Key,
        Action::Create,
        name,
        None,
        body,
    )
}

/// Imports a certificate (as `POST /certificates/{name}/import`).
pub fn import_certificate(
    world: &mut World,
    base: &str,
    vault: &str,
    name: &str,
    value: &str,
    password: Option<&str>,
    content_type: Option<&str>,
) -> Result<Value, WorldError> {
    let mut body = json!({"value": value});
    if let Some(pwd) = password {
        body["pwd"] = json!(pwd);
    }
    if let Some(ct) = content_type {
        body["policy"] = json!({"secret_props": {"contentType": ct}});
    }
    run(
        world,
        base,
        vault,
        Kind::Certificate,
        Action::Import,
        name,
        None,
        &body,
    )
}

/// Applies a whole seed. `base_of` gives a vault's base URL.
pub fn apply_seed(
    world: &mut World,
    seed: &Seed,
    base_of: impl Fn(&str) -> String,
) -> Result<(), WorldError> {
    for tenant in &seed.tenants {
        add_tenant(world, &tenant.id)?;
        for principal in &tenant.principals {
            add_principal(world, &tenant.id, principal)?;
        }
    }
    for issuer in &seed.trusted_issuers {
        world
            .issuers
            .insert(issuer.issuer.clone(), issuer.jwks.clone());
    }
    for registry in &seed.registries {
        add_registry(world, &registry.name, &registry.tenant)?;
        for assignment in &registry.roles {
            assign_registry_role(
                world,
                &registry.name,
                &assignment.principal,
                assignment.role,
            )?;
        }
    }
    for vault in &seed.vaults {
        add_vault(world, &vault.name, &vault.tenant)?;
        let base = base_of(&vault.name);
        if let Some(limits) = vault.limits {
            vault_mut(world, &vault.name)?.limits = Some(limits);
        }
        for g in &vault.grants {
            grant(world, &vault.name, &g.principal, g.grant)?;
        }
        for secret in &vault.secrets {
            if let Some(value) = &secret.value {
                set_secret(
                    world,
                    &base,
                    &vault.name,
                    &secret.name,
                    value,
                    &secret.options,
                )?;
            }
            for version in &secret.versions {
                set_secret(
                    world,
                    &base,
                    &vault.name,
                    &secret.name,
                    &version.value,
                    &version.options,
                )?;
            }
        }
        for key in &vault.keys {
            let result = match &key.jwk {
                Some(jwk) => import_key(world, &base, &vault.name, &key.name, jwk)?,
                None => {
                    let mut body = json!({"kty": key.kty.clone().unwrap_or_else(|| "RSA".into())});
                    if let Some(size) = key.key_size {
                        body["key_size"] = json!(size);
                    }
                    if let Some(crv) = &key.crv {
                        body["crv"] = json!(crv);
                    }
                    create_key(world, &base, &vault.name, &key.name, &body)?
                }
            };
            if !key.tags.is_empty() {
                let version = result["key"]["kid"]
                    .as_str()
                    .and_then(|k| k.rsplit('/').next())
                    .map(str::to_string);
                run(
                    world,
                    &base,
                    &vault.name,
                    Kind::Key,
                    Action::Update,
                    &key.name,
                    version.as_deref(),
                    &json!({"tags": key.tags}),
                )?;
            }
        }
        for cert in &vault.certificates {
            let result = import_certificate(
                world,
                &base,
                &vault.name,
                &cert.name,
                &cert.value,
                cert.password.as_deref(),
                cert.content_type.as_deref(),
            )?;
            if !cert.tags.is_empty() {
                let version = result["id"]
                    .as_str()
                    .and_then(|k| k.rsplit('/').next())
                    .map(str::to_string);
                run(
                    world,
                    &base,
                    &vault.name,
                    Kind::Certificate,
                    Action::Update,
                    &cert.name,
                    version.as_deref(),
                    &json!({"tags": cert.tags}),
                )?;
            }
        }
    }
    Ok(())
}
