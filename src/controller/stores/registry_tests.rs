//! The store registry's rules, with plain numbers for actors.

use super::registry::*;
use crate::azure::{StoreError, StoreSource};
use akvsync_crds::{SecretStoreSpec, StoreKind};
use serde_json::json;
use std::collections::BTreeMap;

fn spec(auth: serde_json::Value) -> SecretStoreSpec {
    serde_json::from_value(json!({
        "provider": {"azurekv": {
            "vaultUrl": "https://vault.vault.azure.net",
            "tenantId": "tenant",
            "authSecretRef": auth,
        }}
    }))
    .unwrap()
}

fn secret_ref(namespace: Option<&str>) -> serde_json::Value {
    let mut selector = json!({"name": "azure", "key": "id"});
    if let Some(namespace) = namespace {
        selector["namespace"] = json!(namespace);
    }
    json!({"clientId": selector.clone(), "clientSecret": selector})
}

fn id(kind: StoreKind, namespace: &str, name: &str) -> StoreId {
    StoreId {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn resource(id: &StoreId, spec: &SecretStoreSpec, version: &str) -> StoreResource {
    StoreResource::new(id, spec, version.to_owned(), Vec::new(), BTreeMap::new())
}

/// A registry whose actors are numbers, counting how many were started.
struct Started(u32);

impl Started {
    fn start(&mut self) -> impl FnMut(&ActorKey, &Result<StoreSource, StoreError>) -> u32 + '_ {
        |_, _| {
            self.0 += 1;
            self.0
        }
    }
}

#[test]
fn a_store_starts_one_actor_and_only_a_new_spec_reconnects_it() {
    let (mut registry, mut started) = (StoreRegistry::default(), Started(0));
    let store = id(StoreKind::SecretStore, "team", "vault");
    let spec = spec(secret_ref(None));
    let first = registry.upsert(store.clone(), resource(&store, &spec, "1"), started.start());
    assert!(first.is_empty());
    assert_eq!(started.0, 1, "the store's actor started at once");
    let status_write =
        registry.upsert(store.clone(), resource(&store, &spec, "1"), started.start());
    assert!(
        status_write.is_empty(),
        "same generation: nothing to reconnect"
    );
    let changed = registry.upsert(store.clone(), resource(&store, &spec, "2"), started.start());
    let reconnected: Vec<u32> = changed.iter().map(|(_, actor, _)| *actor).collect();
    assert_eq!((reconnected, started.0), (vec![1], 1));
    assert_eq!(registry.remove(&store), [1]);
    assert!(registry.actors_of(&store).is_empty());
}

#[test]
fn a_standby_starts_nothing_until_activated_and_referent_stores_start_per_namespace() {
    let (mut registry, mut started) = (StoreRegistry::default(), Started(0));
    registry.stand_by();
    let eager = id(StoreKind::ClusterSecretStore, "", "shared");
    let referent = id(StoreKind::ClusterSecretStore, "", "per-team");
    registry.upsert(
        eager.clone(),
        resource(&eager, &spec(secret_ref(Some("ops"))), "1"),
        started.start(),
    );
    registry.upsert(
        referent.clone(),
        resource(&referent, &spec(secret_ref(None)), "1"),
        started.start(),
    );
    assert_eq!(started.0, 0, "a standby starts no actor");
    registry.activate(started.start());
    assert_eq!(started.0, 1, "only the store that is not referent starts");
    let labels = BTreeMap::new();
    let mut lookup = |registry: &mut StoreRegistry<u32>, name: &str, namespace: &str| {
        registry
            .actor_for(
                StoreKind::ClusterSecretStore,
                name,
                namespace,
                &labels,
                started.start(),
            )
            .unwrap()
    };
    let (a, b, a_again) = (
        lookup(&mut registry, "per-team", "a"),
        lookup(&mut registry, "per-team", "b"),
        lookup(&mut registry, "per-team", "a"),
    );
    assert_ne!(a, b, "one actor per consuming namespace");
    assert_eq!(a, a_again);
    assert_eq!(
        lookup(&mut registry, "shared", "a"),
        lookup(&mut registry, "shared", "b")
    );
    let mut retired = registry.remove(&referent);
    retired.sort();
    assert_eq!(retired, [a, b]);
}

#[test]
fn lookups_name_what_is_missing_or_denied() {
    let (mut registry, mut started) = (StoreRegistry::default(), Started(0));
    let labels = BTreeMap::new();
    assert_eq!(
        registry
            .actor_for(
                StoreKind::SecretStore,
                "vault",
                "team",
                &labels,
                started.start()
            )
            .unwrap_err()
            .to_string(),
        "could not get SecretStore \"vault\": not found"
    );
    let store = id(StoreKind::ClusterSecretStore, "", "prod");
    let conditions = serde_json::from_value(json!([{"namespaces": ["prod"]}])).unwrap();
    let resource = StoreResource::new(
        &store,
        &spec(secret_ref(Some("ops"))),
        "1".to_owned(),
        conditions,
        BTreeMap::new(),
    );
    registry.upsert(store, resource, started.start());
    assert_eq!(
        registry
            .actor_for(
                StoreKind::ClusterSecretStore,
                "prod",
                "dev",
                &labels,
                started.start()
            )
            .unwrap_err(),
        StoreLookupError::NamespaceDenied {
            name: "prod".into(),
            namespace: "dev".into()
        }
    );
}

#[test]
fn credential_secrets_are_found_where_the_store_reads_them() {
    let (mut registry, mut started) = (StoreRegistry::default(), Started(0));
    let store = id(StoreKind::SecretStore, "team", "vault");
    registry.upsert(
        store.clone(),
        resource(&store, &spec(secret_ref(None)), "1"),
        started.start(),
    );
    assert_eq!(
        registry.credentials_user("team", "azure"),
        Some(store.clone())
    );
    assert_eq!(registry.credentials_user("other", "azure"), None);
    assert_eq!(registry.referencing_secret("team", "azure"), [store]);
    assert!(registry.referencing_secret("other", "azure").is_empty());
}
