//! The inputs of a push: the source Secret, and the stores `secretStoreRefs` names.

use std::collections::{BTreeMap, BTreeSet};

use akvsync_crds::{PushSecret, PushSecretSelector, StoreKind};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::error::SourceError;
use crate::controller::common::secret_bytes;
use crate::controller::context::Shared;
use crate::controller::namespaces::label_selector_string;
use crate::generate;
use crate::push::PushItem;

/// The source Secret's data; `None` when a named source does not exist.
pub async fn read_source(
    shared: &Shared,
    push: &PushSecret,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, SourceError> {
    let secrets: Api<Secret> =
        Api::namespaced(shared.kube.clone(), &push.namespace().unwrap_or_default());
    match &push.spec.selector {
        PushSecretSelector::GeneratorRef(reference) => {
            let namespace = push.namespace().unwrap_or_default();
            generate::generate(&shared.kube, &namespace, reference, &shared.acr)
                .await
                .map(Some)
                .map_err(SourceError::Generator)
        }
        PushSecretSelector::Secret(source) => match (&source.name, &source.selector) {
            (Some(name), _) => match secrets.get_opt(name).await {
                Ok(secret) => Ok(secret.map(secret_bytes)),
                Err(source) => Err(SourceError::Get {
                    name: name.clone(),
                    source,
                }),
            },
            (None, Some(selector)) => {
                let selector = label_selector_string(selector);
                let list = secrets
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(SourceError::List)?;
                match list.items.len() {
                    0 => Ok(None),
                    1 => Ok(list.items.into_iter().next().map(secret_bytes)),
                    found => Err(SourceError::Ambiguous(found)),
                }
            }
            (None, None) => Err(SourceError::Unnamed),
        },
    }
}

/// What a missing source was looked for as, for ESO's "could not get source secret".
pub fn missing_source(push: &PushSecret) -> String {
    let namespace = push.namespace().unwrap_or_default();
    match &push.spec.selector {
        PushSecretSelector::Secret(source) => match (&source.name, &source.selector) {
            (Some(name), _) => format!("Secret {namespace}/{name} not found"),
            (None, Some(selector)) => format!(
                "no Secret in namespace {namespace} matches spec.selector.secret.selector {}",
                label_selector_string(selector)
            ),
            (None, None) => "spec.selector.secret names no Secret".to_owned(),
        },
        PushSecretSelector::GeneratorRef(_) => "spec.selector.generatorRef".to_owned(),
    }
}

/// The stores `secretStoreRefs` names, by name or label selector.
pub fn resolve_stores(shared: &Shared, push: &PushSecret) -> Vec<(StoreKind, String)> {
    let namespace = push.namespace().unwrap_or_default();
    let mut stores = BTreeSet::new();
    for reference in &push.spec.secret_store_refs {
        let kind = reference.kind.unwrap_or_default();
        match (&reference.name, &reference.label_selector) {
            (Some(name), _) => {
                stores.insert((kind_name(kind), name.clone()));
            }
            (None, Some(selector)) => {
                for name in shared.stores.matching(kind, &namespace, selector) {
                    stores.insert((kind_name(kind), name));
                }
            }
            (None, None) => {}
        }
    }
    stores
        .into_iter()
        .filter_map(|(kind, name)| {
            parse_store_key(&format!("{kind}/{name}")).map(|(kind, _)| (kind, name))
        })
        .filter(|(kind, name)| !shared.stores.is_foreign(*kind, name, &namespace))
        .collect()
}

/// Whether every store the PushSecret names, by name or selector, belongs to another
/// controller class (ESO leaves it alone then; with some of ours, it pushes to those only).
pub fn only_foreign_stores(shared: &Shared, push: &PushSecret) -> bool {
    let namespace = push.namespace().unwrap_or_default();
    let mut foreign = false;
    for reference in &push.spec.secret_store_refs {
        let kind = reference.kind.unwrap_or_default();
        match (&reference.name, &reference.label_selector) {
            (Some(name), _) => {
                if !shared.stores.is_foreign(kind, name, &namespace) {
                    return false;
                }
                foreign = true;
            }
            (None, Some(selector)) => {
                if !shared
                    .stores
                    .matching(kind, &namespace, selector)
                    .is_empty()
                {
                    return false;
                }
                foreign |= shared.stores.foreign_matching(kind, &namespace, selector);
            }
            (None, None) => {}
        }
    }
    foreign
}

/// Whether a `dataTo` item's store reference (if any) names this store.
pub fn applies_to(item: &PushItem, kind: StoreKind, name: &str) -> bool {
    item.store_filter.as_ref().is_none_or(|filter| {
        filter.kind.unwrap_or_default() == kind && filter.name.as_deref().is_none_or(|n| n == name)
    })
}

pub fn kind_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::SecretStore => "SecretStore",
        StoreKind::ClusterSecretStore => "ClusterSecretStore",
    }
}

pub fn parse_store_key(key: &str) -> Option<(StoreKind, &str)> {
    match key.split_once('/')? {
        ("SecretStore", name) => Some((StoreKind::SecretStore, name)),
        ("ClusterSecretStore", name) => Some((StoreKind::ClusterSecretStore, name)),
        _ => None,
    }
}
