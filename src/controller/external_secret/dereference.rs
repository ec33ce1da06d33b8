//! Dereferencing: the spec's plan, and what it refers to that can refuse the sync before any
//! vault call — the target must not be a store's credentials Secret, and a generic target
//! needs `--unsafe-allow-generic-targets`.

use akvsync_crds::{CreationPolicy, ExternalSecret};

use super::error::SyncError;
use crate::controller::context::Shared;
use crate::sync::{Plan, StoreName, plan};

/// A sync's plan and the stores it reads from that use ESO's new SDK path.
pub struct Dereferenced {
    pub plan: Plan,
    pub azure_sdk_stores: Vec<StoreName>,
}

pub fn dereference(
    shared: &Shared,
    es: &ExternalSecret,
    namespace: &str,
    target_name: &str,
) -> Result<Dereferenced, SyncError> {
    let target = es.spec.target.clone().unwrap_or_default();
    if target.manifest.is_some() && !shared.scope.generic_targets {
        return Err(SyncError::InvalidGenericTarget(
            "generic targets are disabled. Enable with --unsafe-allow-generic-targets flag"
                .to_owned(),
        ));
    }
    let plan = plan(&es.spec)?;
    if target.manifest.is_none()
        && target.creation_policy_or_default() != CreationPolicy::None
        && let Some(store) = shared.stores.credentials_user(namespace, target_name)
    {
        return Err(SyncError::CredentialsSecret {
            name: target_name.to_owned(),
            kind: store.kind,
            store: store.name,
        });
    }
    let azure_sdk_stores = plan
        .stores()
        .filter(|store| {
            shared
                .stores
                .uses_azure_sdk(store.kind, &store.name, namespace)
        })
        .cloned()
        .collect();
    Ok(Dereferenced {
        plan,
        azure_sdk_stores,
    })
}
