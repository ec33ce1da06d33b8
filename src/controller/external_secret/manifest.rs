//! Applying a generic target (`spec.target.manifest`, behind `--unsafe-allow-generic-targets`):
//! create, update or delete the ConfigMap or other namespaced object as ESO's generic-target
//! path does. The object is written only when its content, labels, annotations or owners
//! differ from what is wanted. akvsync does not watch generic targets: an edit to one is
//! repaired at the ExternalSecret's next refresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use akvsync_crds::{CreationPolicy, DeletionPolicy, ExternalSecret, ManifestReference};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::{Scope, pinned_kind};
use kube::{Api, ResourceExt};
use serde_json::Value;

use super::apply::{field_manager, read_template_sources};
use super::error::SyncError;
use super::report::Synced;
use crate::controller::context::Shared;
use crate::observability::WriteVerb;
use crate::sync::manifest::desired_resource;

/// The API resources of the kinds generic targets name, found by discovery once each.
#[derive(Clone, Default)]
pub struct TargetKinds {
    known: Arc<Mutex<HashMap<(String, String), ApiResource>>>,
}

impl TargetKinds {
    /// The namespaced resource of `reference`, from discovery the first time it is asked.
    async fn resource(
        &self,
        client: &kube::Client,
        reference: &ManifestReference,
    ) -> Result<ApiResource, SyncError> {
        let key = (reference.api_version.clone(), reference.kind.clone());
        if let Some(known) = self.lock().get(&key) {
            return Ok(known.clone());
        }
        let (group, version) = reference
            .api_version
            .split_once('/')
            .unwrap_or(("", reference.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &reference.kind);
        let (resource, capabilities) =
            pinned_kind(client, &gvk)
                .await
                .map_err(|error| SyncError::ResourceGet {
                    message: format!(
                        "{} {} is not served: {error}",
                        reference.api_version, reference.kind
                    ),
                })?;
        if capabilities.scope != Scope::Namespaced {
            return Err(SyncError::InvalidGenericTarget(format!(
                "{} is cluster-scoped; a target must live in the ExternalSecret's namespace",
                reference.kind
            )));
        }
        self.lock().insert(key, resource.clone());
        Ok(resource)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), ApiResource>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes the object `name` the data builds, deletes it for lack of data, or leaves it.
pub async fn apply(
    shared: &Shared,
    es: &ExternalSecret,
    reference: &ManifestReference,
    name: String,
    data: std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<Synced, SyncError> {
    let namespace = es.namespace().unwrap_or_default();
    let target = es.spec.target.clone().unwrap_or_default();
    let policy = target.creation_policy_or_default();
    let resource = shared
        .target_kinds
        .resource(&shared.kube, reference)
        .await?;
    let api: Api<DynamicObject> = Api::namespaced_with(shared.kube.clone(), &namespace, &resource);
    let existing = api
        .get_opt(&name)
        .await
        .map_err(|error| SyncError::ResourceGet {
            message: crate::azure::secret_ref::kube_message(&error),
        })?;
    if data.is_empty() {
        match target.deletion_policy_or_default() {
            DeletionPolicy::Delete => {
                if policy != CreationPolicy::Owner {
                    return Err(SyncError::ResourceDeleteNotOwned { policy });
                }
                if existing.is_none() {
                    return Ok(Synced::Deleted { existed: false });
                }
                return match api.delete(&name, &Default::default()).await {
                    Ok(_) => {
                        shared.metrics.k8s_write("resource", WriteVerb::Delete);
                        Ok(Synced::Deleted { existed: true })
                    }
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        Ok(Synced::Deleted { existed: false })
                    }
                    Err(error) => Err(SyncError::ResourceDelete {
                        message: crate::azure::secret_ref::kube_message(&error),
                    }),
                };
            }
            DeletionPolicy::Retain => return Ok(Synced::Retained),
            DeletionPolicy::Merge => {}
        }
    }
    let existing_value = existing
        .as_ref()
        .map(|object| serde_json::to_value(object).expect("an object serializes"));
    if let Some(existing) = &existing {
        check_owner(es, existing)?;
    }
    let base = matches!(
        policy,
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge
    )
    .then_some(existing_value.as_ref())
    .flatten();
    let secrets = Api::namespaced(shared.kube.clone(), &namespace);
    let sources = read_template_sources(es, &secrets).await?;
    let desired = desired_resource(es, reference, data, &sources, base)?;
    let params = PostParams {
        field_manager: Some(field_manager(&es.name_any())),
        ..PostParams::default()
    };
    match (policy, &existing_value) {
        (CreationPolicy::None, _) => Ok(Synced::Skipped),
        (CreationPolicy::Merge, None) => Ok(Synced::Missing),
        (_, Some(existing)) if same_object(existing, &desired) => {
            shared.metrics.k8s_write_skipped("resource");
            Ok(Synced::Unchanged)
        }
        (_, Some(existing)) => {
            let mut object: DynamicObject =
                serde_json::from_value(desired).map_err(|error| SyncError::ResourceWrite {
                    message: error.to_string(),
                })?;
            object.metadata.resource_version = existing["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_owned);
            api.replace(&name, &params, &object)
                .await
                .map_err(|error| SyncError::ResourceWrite {
                    message: crate::azure::secret_ref::kube_message(&error),
                })?;
            shared.metrics.k8s_write("resource", WriteVerb::Update);
            Ok(Synced::Written { created: false })
        }
        (_, None) => {
            let object: DynamicObject =
                serde_json::from_value(desired).map_err(|error| SyncError::ResourceWrite {
                    message: error.to_string(),
                })?;
            api.create(&params, &object)
                .await
                .map_err(|error| match &error {
                    kube::Error::Api(status) if status.code == 409 => SyncError::ResourceWrite {
                        message: format!("target resource with name {name} already exists"),
                    },
                    _ => SyncError::ResourceWrite {
                        message: crate::azure::secret_ref::kube_message(&error),
                    },
                })?;
            shared.metrics.k8s_write("resource", WriteVerb::Create);
            Ok(Synced::Written { created: true })
        }
    }
}

/// akvsync never writes an object another controller controls (ESO overwrites one that is not
/// an ExternalSecret's).
fn check_owner(es: &ExternalSecret, existing: &DynamicObject) -> Result<(), SyncError> {
    use crate::sync::target::Refusal;
    let uid = es.metadata.uid.clone().unwrap_or_default();
    let foreign = existing
        .owner_references()
        .iter()
        .find(|owner| owner.controller == Some(true) && owner.uid != uid);
    match foreign {
        Some(owner) if owner.kind == "ExternalSecret" => {
            Err(Refusal::OwnedByAnotherExternalSecret.into())
        }
        Some(owner) => Err(Refusal::OwnedByAnotherController {
            kind: owner.kind.clone(),
            name: owner.name.clone(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Whether writing `desired` would change `existing`: its labels, annotations, owners, and
/// every top-level field but metadata and status (a replace drops fields it does not name).
fn same_object(existing: &Value, desired: &Value) -> bool {
    let metadata_field = |object: &Value, field: &str| object["metadata"][field].clone();
    let empty_as_null = |value: Value| match value {
        Value::Object(map) if map.is_empty() => Value::Null,
        Value::Array(items) if items.is_empty() => Value::Null,
        other => other,
    };
    let same_metadata = ["labels", "annotations", "ownerReferences"]
        .into_iter()
        .all(|field| {
            empty_as_null(metadata_field(existing, field))
                == empty_as_null(metadata_field(desired, field))
        });
    let content = |object: &Value| -> serde_json::Map<String, Value> {
        object
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| {
                !matches!(key.as_str(), "metadata" | "status" | "apiVersion" | "kind")
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    };
    same_metadata && content(existing) == content(desired)
}
