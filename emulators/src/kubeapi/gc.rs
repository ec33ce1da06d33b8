//! The garbage collector: ownerReference cascades (background, foreground, orphan), namespace
//! termination, and CRD removal deleting its custom resources.

use serde_json::{Value, json};

use super::handlers::State;
use super::store::{ObjectKey, owner_uids};

/// The finalizer foreground deletion puts on an owner until its dependents are gone.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer a namespace carries (in `spec.finalizers` and metadata) while its content goes.
const NAMESPACE_FINALIZER: &str = "kubernetes";
/// Bound on cascade rounds per sweep: each round settles at least one level of ownership.
const MAX_SWEEP_ROUNDS: usize = 64;

fn now_seconds() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn finalizers(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn is_deleting(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

/// Deletes as the collector does: objects with finalizers start terminating, others go now.
fn collect(state: &mut State, key: &ObjectKey) {
    let Some(object) = state.store.get(key).cloned() else {
        return;
    };
    if finalizers(&object).is_empty() {
        if let Some(removed) = state.store.remove(key) {
            after_removal(state, key, &removed);
        }
    } else if !is_deleting(&object) {
        let mut object = object;
        object["metadata"]["deletionTimestamp"] = Value::String(now_seconds());
        object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if let Some(generation) = object
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
        {
            object["metadata"]["generation"] = json!(generation + 1);
        }
        state.store.put(key.clone(), object);
    }
}

fn remove_finalizer(state: &mut State, key: &ObjectKey, finalizer: &str) {
    let Some(mut object) = state.store.get(key).cloned() else {
        return;
    };
    let mut remaining = finalizers(&object);
    remaining.retain(|item| item != finalizer);
    if remaining.is_empty() {
        if let Some(removed) = state.store.remove(key) {
            after_removal(state, key, &removed);
        }
    } else {
        object["metadata"]["finalizers"] = Value::Array(remaining);
        state.store.put(key.clone(), object);
    }
}

/// Runs after an object is gone: CRD cleanup, then dependents whose owners are all gone.
pub fn after_removal(state: &mut State, key: &ObjectKey, removed: &Value) {
    if key.storage == "apiextensions.k8s.io/customresourcedefinitions" {
        let group = removed
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let plural = removed
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let storage = format!("{group}/{plural}");
        let keys: Vec<ObjectKey> = state
            .store
            .range(&storage, None, None)
            .map(|(key, _)| key.clone())
            .collect();
        for custom in keys {
            if let Some(object) = state.store.remove(&custom) {
                after_removal(state, &custom, &object);
            }
        }
        state.registry.set_crd_types(&key.name, Vec::new());
    }
    if let Some(uid) = removed.pointer("/metadata/uid").and_then(Value::as_str) {
        for dependent in state.store.dependents_of(uid) {
            let orphaned = state.store.get(&dependent).is_some_and(|object| {
                owner_uids(object)
                    .iter()
                    .all(|owner| state.store.key_for_uid(owner).is_none())
            });
            if orphaned {
                collect(state, &dependent);
            }
        }
    }
    for owner in owner_uids(removed) {
        let Some(owner_key) = state.store.key_for_uid(&owner).cloned() else {
            continue;
        };
        let waiting = state.store.get(&owner_key).is_some_and(|object| {
            is_deleting(object) && finalizers(object).contains(&json!(FOREGROUND_FINALIZER))
        });
        if waiting && state.store.dependents_of(&owner).is_empty() {
            remove_finalizer(state, &owner_key, FOREGROUND_FINALIZER);
        }
    }
}

/// Strips `uid` from the ownerReferences of its dependents (Orphan propagation).
pub fn orphan_dependents(state: &mut State, uid: &str) {
    for dependent in state.store.dependents_of(uid) {
        let Some(mut object) = state.store.get(&dependent).cloned() else {
            continue;
        };
        if let Some(Value::Array(owners)) = object.pointer_mut("/metadata/ownerReferences") {
            owners.retain(|owner| owner.get("uid").and_then(Value::as_str) != Some(uid));
            if owners.is_empty()
                && let Some(metadata) = object["metadata"].as_object_mut()
            {
                metadata.remove("ownerReferences");
            }
        }
        state.store.put(dependent, object);
    }
}

/// A full pass: foreground owners, terminating namespaces, and objects whose owners are all gone.
pub fn sweep(state: &mut State) {
    for _ in 0..MAX_SWEEP_ROUNDS {
        let before = state.store.resource_version();
        let mut foreground = Vec::new();
        let mut namespaces = Vec::new();
        for key in state.store.deleting() {
            let Some(object) = state.store.get(key) else {
                continue;
            };
            if finalizers(object).contains(&json!(FOREGROUND_FINALIZER)) {
                foreground.push((
                    key.clone(),
                    object
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
            if key.storage == "/namespaces" {
                namespaces.push(key.name.clone());
            }
        }
        let dangling = state.store.dangling();
        for (owner_key, uid) in foreground {
            let dependents = state.store.dependents_of(&uid);
            if dependents.is_empty() {
                remove_finalizer(state, &owner_key, FOREGROUND_FINALIZER);
            } else {
                for dependent in dependents {
                    collect(state, &dependent);
                }
            }
        }
        for namespace in namespaces {
            let content: Vec<ObjectKey> = state
                .store
                .iter()
                .filter(|(key, _)| key.namespace == namespace && !key.storage.is_empty())
                .map(|(key, _)| key.clone())
                .collect();
            if content.is_empty() {
                remove_finalizer(
                    state,
                    &ObjectKey::new("/namespaces", "", &namespace),
                    NAMESPACE_FINALIZER,
                );
            } else {
                for key in content {
                    collect(state, &key);
                }
            }
        }
        for key in dangling {
            collect(state, &key);
        }
        if state.store.resource_version() == before {
            break;
        }
    }
}
