//! Build the target Secret: render the template over the provider data, add ESO's bookkeeping,
//! and decide what to do given the Secret that exists (create, update, nothing, or refuse).

use std::collections::BTreeMap;

use akvsync_crds::constants::{
    ANNOTATION_DATA_HASH, LABEL_CREATED_BY, LABEL_MANAGED, LABEL_MANAGED_VALUE,
};
use akvsync_crds::{
    CreationPolicy, ExternalSecret, ExternalSecretTemplate, TemplateFrom, TemplateMergePolicy,
    TemplateScope,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::hash;

/// Annotations of the ExternalSecret that never reach its Secret.
pub(super) const NOT_COPIED_ANNOTATIONS: &[&str] =
    &["kubectl.kubernetes.io/last-applied-configuration"];

/// The Secret an ExternalSecret wants, before it meets the one that exists.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredSecret {
    pub name: String,
    pub namespace: String,
    pub type_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
    pub immutable: bool,
    pub owner: Option<OwnerReference>,
    pub policy: CreationPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("spec.target.template.{field}: {message}")]
    Template { field: String, message: String },
    #[error("spec.target.template.templateFrom[{index}]: {kind} {name} was not found")]
    MissingSource {
        index: usize,
        kind: &'static str,
        name: String,
    },
    #[error("spec.target.template.templateFrom[{index}]: {kind} {name} has no key {key}")]
    MissingSourceKey {
        index: usize,
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error("the ExternalSecret has no uid yet")]
    MissingUid,
}

/// The name of the Secret an ExternalSecret writes.
pub fn target_name(es: &ExternalSecret) -> String {
    es.spec
        .target
        .as_ref()
        .and_then(|target| target.name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| es.metadata.name.clone().unwrap_or_default())
}

/// Renders `spec.target` over `provider_data`: ESO's precedence is template data, then
/// templateFrom, then the provider data (when the merge policy is Merge or nothing is templated).
pub fn desired_secret(
    es: &ExternalSecret,
    provider_data: BTreeMap<String, Vec<u8>>,
    sources: &TemplateSources,
) -> Result<DesiredSecret, TargetError> {
    let name = target_name(es);
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let es_name = es.metadata.name.clone().unwrap_or_default();
    let target = es.spec.target.clone().unwrap_or_default();
    let policy = target.creation_policy_or_default();

    let (data, type_, mut labels, mut annotations) = match &target.template {
        None => {
            let labels = es.metadata.labels.clone().unwrap_or_default();
            let mut annotations = es.metadata.annotations.clone().unwrap_or_default();
            annotations.retain(|key, _| !NOT_COPIED_ANNOTATIONS.contains(&key.as_str()));
            (provider_data, None, labels, annotations)
        }
        Some(template) => render_template(template, provider_data, sources)?,
    };
    labels.insert(LABEL_MANAGED.to_owned(), LABEL_MANAGED_VALUE.to_owned());
    let owner = if policy == CreationPolicy::Owner {
        labels.insert(
            LABEL_CREATED_BY.to_owned(),
            hash::created_by(&namespace, &es_name),
        );
        Some(OwnerReference {
            api_version: "external-secrets.io/v1".to_owned(),
            kind: "ExternalSecret".to_owned(),
            name: es_name,
            uid: es.metadata.uid.clone().ok_or(TargetError::MissingUid)?,
            controller: Some(true),
            block_owner_deletion: Some(true),
        })
    } else {
        None
    };
    annotations.insert(ANNOTATION_DATA_HASH.to_owned(), hash::data_hash(&data));
    Ok(DesiredSecret {
        name,
        namespace,
        type_,
        labels,
        annotations,
        data,
        immutable: target.immutable.unwrap_or(false),
        owner,
        policy,
    })
}

type Rendered = (
    BTreeMap<String, Vec<u8>>,
    Option<String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
);

/// `templateAs: KeysAndValues` (and literals): the rendered text is a YAML map of keys to values.
fn keys_and_values(field: &str, rendered: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, TargetError> {
    let text = std::str::from_utf8(rendered).map_err(|_| TargetError::Template {
        field: field.to_owned(),
        message: "the rendered map is not UTF-8".into(),
    })?;
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let map: BTreeMap<String, String> =
        serde_yaml::from_str(text).map_err(|error| TargetError::Template {
            field: field.to_owned(),
            message: format!("the rendered text is not a map of strings: {error}"),
        })?;
    Ok(map
        .into_iter()
        .map(|(key, value)| (key, value.into_bytes()))
        .collect())
}

/// The ConfigMaps and Secrets `templateFrom` reads, by `("configMap" | "secret", name)`.
pub type TemplateSources = BTreeMap<(&'static str, String), BTreeMap<String, Vec<u8>>>;

/// The `(kind, name)` of every ConfigMap and Secret an ExternalSecret's templates read.
pub fn template_sources(es: &ExternalSecret) -> Vec<(&'static str, String)> {
    let template = es
        .spec
        .target
        .as_ref()
        .and_then(|target| target.template.as_ref());
    let mut sources = Vec::new();
    for from in template
        .iter()
        .flat_map(|t| t.template_from.iter().flatten())
    {
        if let Some(config_map) = &from.config_map {
            sources.push(("configMap", config_map.name.clone()));
        }
        if let Some(secret) = &from.secret {
            sources.push(("secret", secret.name.clone()));
        }
    }
    sources.sort();
    sources.dedup();
    sources
}

/// Renders `text` over the provider data; errors name `field` under `spec.target.template`.
pub(super) fn render(
    field: String,
    text: &str,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<u8>, TargetError> {
    akvsync_template::render_bytes(text, data).map_err(|error| TargetError::Template {
        field,
        message: error.to_string(),
    })
}

/// One rendered piece of `templateFrom[i]`, in ESO's order: each ConfigMap item, each Secret
/// item, then the literal.
pub(super) enum FromOutput {
    /// `templateAs: Values`: the item's key and its rendered value.
    Value {
        field: String,
        key: String,
        value: Vec<u8>,
    },
    /// `templateAs: KeysAndValues`, or a literal: rendered text holding a YAML map.
    Map { field: String, text: Vec<u8> },
}

/// Renders the items and the literal of `templateFrom[index]` over `data`, reading the
/// ConfigMaps and Secrets from `sources`.
pub(super) fn render_from(
    index: usize,
    from: &TemplateFrom,
    sources: &TemplateSources,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<FromOutput>, TargetError> {
    let mut outputs = Vec::new();
    for (kind, reference) in [("configMap", &from.config_map), ("secret", &from.secret)] {
        let Some(reference) = reference else { continue };
        let source = sources
            .get(&(kind, reference.name.clone()))
            .ok_or_else(|| TargetError::MissingSource {
                index,
                kind,
                name: reference.name.clone(),
            })?;
        for item in &reference.items {
            let field = format!("templateFrom[{index}].{kind}.items[{}]", item.key);
            let text = source
                .get(&item.key)
                .ok_or_else(|| TargetError::MissingSourceKey {
                    index,
                    kind,
                    name: reference.name.clone(),
                    key: item.key.clone(),
                })?;
            let text = std::str::from_utf8(text).map_err(|_| TargetError::Template {
                field: field.clone(),
                message: "the template is not UTF-8".into(),
            })?;
            let rendered = render(field.clone(), text, data)?;
            outputs.push(match item.template_as.unwrap_or_default() {
                TemplateScope::Values => FromOutput::Value {
                    field,
                    key: item.key.clone(),
                    value: rendered,
                },
                TemplateScope::KeysAndValues => FromOutput::Map {
                    field,
                    text: rendered,
                },
            });
        }
    }
    if let Some(literal) = &from.literal {
        let field = format!("templateFrom[{index}].literal");
        let text = render(field.clone(), literal, data)?;
        outputs.push(FromOutput::Map { field, text });
    }
    Ok(outputs)
}

fn render_template(
    template: &ExternalSecretTemplate,
    provider_data: BTreeMap<String, Vec<u8>>,
    sources: &TemplateSources,
) -> Result<Rendered, TargetError> {
    let render_string = |field: String, text: &str| {
        render(field.clone(), text, &provider_data).and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| TargetError::Template {
                field,
                message: "rendered value is not UTF-8".into(),
            })
        })
    };
    let mut data = BTreeMap::new();
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    if let Some(metadata) = &template.metadata {
        for (key, value) in metadata.labels.iter().flatten() {
            labels.insert(
                key.clone(),
                render_string(format!("metadata.labels[{key}]"), value)?,
            );
        }
        for (key, value) in metadata.annotations.iter().flatten() {
            annotations.insert(
                key.clone(),
                render_string(format!("metadata.annotations[{key}]"), value)?,
            );
        }
    }
    for (index, from) in template.template_from.iter().flatten().enumerate() {
        let target = from.target.as_deref().unwrap_or("Data");
        for output in render_from(index, from, sources, &provider_data)? {
            let (field, map) = match output {
                FromOutput::Value { field, key, value } => (field, BTreeMap::from([(key, value)])),
                FromOutput::Map { field, text } => {
                    let map = keys_and_values(&field, &text)?;
                    (field, map)
                }
            };
            match target {
                "Data" => data.extend(map),
                "Labels" | "Annotations" => {
                    let destination = if target == "Labels" {
                        &mut labels
                    } else {
                        &mut annotations
                    };
                    for (key, value) in map {
                        let value =
                            String::from_utf8(value).map_err(|_| TargetError::Template {
                                field: field.clone(),
                                message: format!("the rendered value of {key} is not UTF-8"),
                            })?;
                        destination.insert(key, value);
                    }
                }
                other => {
                    return Err(TargetError::Template {
                        field,
                        message: format!("unknown target {other}: use Data, Annotations or Labels"),
                    });
                }
            }
        }
    }
    for (key, text) in template.data.iter().flatten() {
        data.insert(
            key.clone(),
            render(format!("data[{key}]"), text, &provider_data)?,
        );
    }
    let templated_data = template.data.as_ref().is_some_and(|d| !d.is_empty())
        || template
            .template_from
            .as_ref()
            .is_some_and(|f| !f.is_empty());
    if template.merge_policy == Some(TemplateMergePolicy::Merge) || !templated_data {
        for (key, value) in provider_data {
            data.entry(key).or_insert(value);
        }
    }
    Ok((data, template.type_.clone(), labels, annotations))
}

/// What to do about the target Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Create(Box<Secret>),
    Update(Box<Secret>),
    /// The Secret already is what is wanted.
    Unchanged,
    /// `creationPolicy: None` writes nothing.
    Skip,
    /// `creationPolicy: Merge` and no Secret to merge into.
    Missing,
    /// The Secret exists but akvsync may not or cannot write it.
    Refuse(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("target is owned by another ExternalSecret")]
    OwnedByAnotherExternalSecret,
    #[error("failed to take ownership of target secret: it is controlled by {kind} {name}")]
    OwnedByAnotherController { kind: String, name: String },
    #[error("could not update secret, target is immutable")]
    Immutable,
}

/// Meets the desired Secret with the existing one.
pub fn decide(desired: &DesiredSecret, existing: Option<&Secret>) -> Decision {
    if desired.policy == CreationPolicy::None {
        return Decision::Skip;
    }
    let Some(existing) = existing else {
        if desired.policy == CreationPolicy::Merge {
            return Decision::Missing;
        }
        return Decision::Create(Box::new(new_secret(desired)));
    };
    if let Some(owner) = &desired.owner {
        let foreign = existing
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|reference| reference.controller == Some(true) && reference.uid != owner.uid);
        if let Some(reference) = foreign {
            return Decision::Refuse(if reference.kind == "ExternalSecret" {
                Refusal::OwnedByAnotherExternalSecret
            } else {
                Refusal::OwnedByAnotherController {
                    kind: reference.kind.clone(),
                    name: reference.name.clone(),
                }
            });
        }
    }
    let merge_existing = matches!(
        desired.policy,
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge
    );
    let mut data: BTreeMap<String, ByteString> = if merge_existing {
        existing.data.clone().unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    data.extend(
        desired
            .data
            .iter()
            .map(|(key, value)| (key.clone(), ByteString(value.clone()))),
    );

    let mut updated = existing.clone();
    let metadata = &mut updated.metadata;
    metadata
        .labels
        .get_or_insert_default()
        .extend(desired.labels.clone());
    metadata
        .annotations
        .get_or_insert_default()
        .extend(desired.annotations.clone());
    if let Some(owner) = &desired.owner {
        let references = metadata.owner_references.get_or_insert_default();
        if !references
            .iter()
            .any(|reference| reference.uid == owner.uid)
        {
            references.push(owner.clone());
        }
    }
    if let Some(type_) = &desired.type_ {
        updated.type_ = Some(type_.clone());
    }
    if desired.immutable {
        updated.immutable = Some(true);
    }
    updated.data = Some(data);
    updated.string_data = None;
    if updated == *existing {
        return Decision::Unchanged;
    }
    if existing.immutable == Some(true) {
        return Decision::Refuse(Refusal::Immutable);
    }
    Decision::Update(Box::new(updated))
}

fn new_secret(desired: &DesiredSecret) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(desired.name.clone()),
            namespace: Some(desired.namespace.clone()),
            labels: Some(desired.labels.clone()),
            annotations: Some(desired.annotations.clone()),
            owner_references: desired.owner.clone().map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        type_: Some(desired.type_.clone().unwrap_or_else(|| "Opaque".to_owned())),
        data: Some(
            desired
                .data
                .iter()
                .map(|(key, value)| (key.clone(), ByteString(value.clone())))
                .collect(),
        ),
        immutable: desired.immutable.then_some(true),
        ..Secret::default()
    }
}
