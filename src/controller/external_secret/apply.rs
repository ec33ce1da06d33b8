//! Applying: create, update or delete the target Secret as ESO would, reading the template
//! sources the build needs. Runs inside the Kubernetes phase, which bounds its reads and writes.
//! A Secret the watch shows as last applied, with the same desired content, is not read at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use akvsync_crds::{CreationPolicy, DeletionPolicy, ExternalSecret};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use sha3::{Digest, Sha3_224};

use super::error::SyncError;
use super::report::Synced;
use crate::controller::common::secret_bytes;
use crate::controller::context::Shared;
use crate::controller::targets;
use crate::observability::WriteVerb;
use crate::sync::built_from::{ANNOTATION_BUILT_FROM, BuiltFrom};
use crate::sync::target::{Decision, TemplateSources, decide, desired_secret, template_sources};

/// Writes the Secret the data builds, deletes it for lack of data, or leaves it. `existing` is
/// the target as a gate already read it in this sync, if it did; `built_from`, what the data
/// was built from, goes on the Secret as an annotation whenever the Secret is written.
pub async fn apply(
    shared: &Shared,
    es: &ExternalSecret,
    secrets: &Api<Secret>,
    name: String,
    data: BTreeMap<String, Vec<u8>>,
    existing: Option<Option<Secret>>,
    built_from: Option<BuiltFrom>,
) -> Result<Synced, SyncError> {
    let target = es.spec.target.clone().unwrap_or_default();
    // ESO: no data from the provider at all creates nothing, whatever the template says.
    if data.is_empty() {
        match target.deletion_policy_or_default() {
            DeletionPolicy::Delete => {
                let policy = target.creation_policy_or_default();
                if policy != CreationPolicy::Owner {
                    return Err(SyncError::DeleteNotOwned { name, policy });
                }
                shared
                    .targets
                    .forget(&es.namespace().unwrap_or_default(), &name);
                return match secrets.delete(&name, &Default::default()).await {
                    Ok(_) => {
                        shared.metrics.k8s_write("secret", WriteVerb::Delete);
                        Ok(Synced::Deleted { existed: true })
                    }
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        Ok(Synced::Deleted { existed: false })
                    }
                    Err(source) => Err(SyncError::Kube {
                        operation: "delete",
                        name,
                        source,
                    }),
                };
            }
            DeletionPolicy::Retain => return Ok(Synced::Retained),
            DeletionPolicy::Merge => {}
        }
    }
    let sources = read_template_sources(es, secrets).await?;
    let desired = desired_secret(es, data, &sources)?;
    let annotation = built_from.as_ref().map(BuiltFrom::to_annotation);
    let built_from = built_from.map(Arc::new);
    let namespace = es.namespace().unwrap_or_default();
    let fingerprint = targets::fingerprint(&desired);
    let targets = &shared.targets;
    if existing.is_none() && targets.unchanged(&namespace, &name, &fingerprint) {
        // The watch shows the Secret as this operator last left it, holding this content.
        targets.still_applied(&namespace, &name, built_from);
        shared.metrics.k8s_write_skipped("secret");
        return Ok(Synced::Unchanged);
    }
    let existing = match existing {
        Some(existing) => existing,
        None => secrets
            .get_opt(&name)
            .await
            .map_err(|source| SyncError::Kube {
                operation: "read",
                name: name.clone(),
                source,
            })?,
    };
    let params = PostParams {
        field_manager: Some(field_manager(&es.name_any())),
        ..PostParams::default()
    };
    let applied = |secret: &Secret| {
        targets.applied(
            &namespace,
            &name,
            secret.resource_version().as_deref(),
            fingerprint,
            built_from.clone(),
        )
    };
    let decision = decide(&desired, existing.as_ref());
    if !matches!(
        decision,
        Decision::Create(_) | Decision::Update(_) | Decision::Unchanged
    ) {
        targets.forget(&namespace, &name);
    }
    match decision {
        Decision::Create(mut secret) => {
            record_built_from(&mut secret, annotation);
            let created =
                secrets
                    .create(&params, &secret)
                    .await
                    .map_err(|source| SyncError::Kube {
                        operation: "create",
                        name: name.clone(),
                        source,
                    })?;
            applied(&created);
            shared.metrics.k8s_write("secret", WriteVerb::Create);
            Ok(Synced::Written { created: true })
        }
        Decision::Update(mut secret) => {
            record_built_from(&mut secret, annotation);
            let updated = secrets
                .replace(&desired.name, &params, &secret)
                .await
                .map_err(|source| SyncError::Kube {
                    operation: "update",
                    name: name.clone(),
                    source,
                })?;
            applied(&updated);
            shared.metrics.k8s_write("secret", WriteVerb::Update);
            Ok(Synced::Written { created: false })
        }
        Decision::Unchanged => {
            if let Some(existing) = &existing {
                applied(existing);
            }
            shared.metrics.k8s_write_skipped("secret");
            Ok(Synced::Unchanged)
        }
        Decision::Skip => Ok(Synced::Skipped),
        Decision::Missing => Ok(Synced::Missing),
        Decision::Refuse(refusal) => Err(refusal.into()),
    }
}

/// Puts what the data was built from on a Secret about to be written. It is not part of the
/// desired content: a record that changed alone (a value read again after it settled) is kept
/// in memory and costs no write.
fn record_built_from(secret: &mut Secret, annotation: Option<String>) {
    if let Some(annotation) = annotation {
        secret
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(ANNOTATION_BUILT_FROM.to_owned(), annotation);
    }
}

/// Reads the ConfigMaps and Secrets `templateFrom` names, from the ExternalSecret's namespace.
pub(super) async fn read_template_sources(
    es: &ExternalSecret,
    secrets: &Api<Secret>,
) -> Result<TemplateSources, SyncError> {
    let mut sources = TemplateSources::new();
    let namespace = es.namespace().unwrap_or_default();
    for (kind, name) in template_sources(es) {
        let read = |source| SyncError::Kube {
            operation: "read template",
            name: name.clone(),
            source,
        };
        let data = match kind {
            "configMap" => {
                let config_maps: Api<ConfigMap> =
                    Api::namespaced(secrets.clone().into_client(), &namespace);
                config_maps
                    .get_opt(&name)
                    .await
                    .map_err(read)?
                    .map(|config_map| {
                        config_map
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.into_bytes()))
                            .collect()
                    })
            }
            _ => secrets
                .get_opt(&name)
                .await
                .map_err(read)?
                .map(secret_bytes),
        };
        if let Some(data) = data {
            sources.insert((kind, name), data);
        }
    }
    Ok(sources)
}

/// ESO's field manager: `externalsecrets.external-secrets.io/<name>`, hashed when too long.
pub(super) fn field_manager(es_name: &str) -> String {
    let manager = format!("{}{es_name}", akvsync_crds::constants::FIELD_MANAGER_PREFIX);
    if manager.len() <= akvsync_crds::constants::FIELD_MANAGER_MAX_LENGTH {
        return manager;
    }
    let digest = hex::encode(Sha3_224::digest(es_name.as_bytes()));
    let hashed = format!(
        "{}sha3/{digest}",
        akvsync_crds::constants::FIELD_MANAGER_PREFIX
    );
    hashed
        .chars()
        .take(akvsync_crds::constants::FIELD_MANAGER_MAX_LENGTH)
        .collect()
}
