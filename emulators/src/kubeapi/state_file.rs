//! The optional state file: every object and the resourceVersion counter, so a restarted
//! emulator keeps its objects (CRDs re-register their types on load).

use std::path::Path;

use serde_json::{Value, json};

use super::handlers::State;
use super::resources::{Behavior, types_from_crd};
use super::store::ObjectKey;

/// Writes the state atomically (temporary file, then rename).
pub fn save(state: &State, path: &Path) -> anyhow::Result<()> {
    let objects: Vec<Value> = state
        .store
        .iter()
        .map(|(key, object)| json!({"key": key, "object": object}))
        .collect();
    let document = json!({"resourceVersion": state.store.resource_version(), "objects": objects});
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec(&document)?)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

/// Loads a state file written by [`save`], if it exists.
pub fn load(state: &mut State, path: &Path) -> anyhow::Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let document: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let resource_version = document
        .get("resourceVersion")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    for entry in document
        .get("objects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key: ObjectKey =
            serde_json::from_value(entry.get("key").cloned().unwrap_or(Value::Null))?;
        let object = entry.get("object").cloned().unwrap_or(Value::Null);
        if key.storage == "apiextensions.k8s.io/customresourcedefinitions"
            && let Ok(types) = types_from_crd(&object)
        {
            state.registry.set_crd_types(
                &key.name,
                types
                    .into_iter()
                    .filter(|resource| resource.behavior == Behavior::Custom)
                    .collect(),
            );
        }
        state.store.restore(key, object, resource_version);
    }
    Ok(true)
}
