//! The Secret blueprint shared by ExternalSecret `spec.target.template` and PushSecret
//! `spec.template` (ESO `ExternalSecretTemplate`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::external_secret::DecodingStrategy;

/// A blueprint for the Secret akvsync renders: type, metadata and templated data.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplate {
    /// The type of the rendered Secret, e.g. `kubernetes.io/tls`. Unset keeps the existing type
    /// (`Opaque` for new Secrets).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The template engine version used for `data` and `templateFrom`; only `v2` exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "v2"))]
    pub engine_version: Option<TemplateEngineVersion>,
    /// Labels, annotations and finalizers of the rendered Secret (labels and annotations are
    /// themselves templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ExternalSecretTemplateMetadata>,
    /// `Replace` (default): only templated keys end up in the Secret when templates define data.
    /// `Merge`: the provider's keys are kept next to the templated ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Replace"))]
    pub merge_policy: Option<TemplateMergePolicy>,
    /// Templates by Secret key; each value is a Go template over the fetched values. Takes
    /// precedence over `templateFrom` and the provider data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    /// Templates loaded from ConfigMaps, Secrets or literals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_from: Option<Vec<TemplateFrom>>,
}

/// Template engine version.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateEngineVersion {
    /// Go text/template with sprig and ESO's functions (`pkcs12cert`, `fullPemToPkcs12`, ...).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// How templated data combines with the provider's data.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateMergePolicy {
    /// Templated data replaces the provider's data (the default).
    #[default]
    Replace,
    /// Templated data is merged over the provider's data.
    Merge,
}

/// Metadata of the rendered Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplateMetadata {
    /// Annotations of the rendered Secret (values are templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels of the rendered Secret (values are templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Finalizers of the rendered Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
}

/// One source of templates: a ConfigMap, a Secret or a literal.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    /// Templates from keys of a ConfigMap in the same namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    /// Templates from keys of a Secret in the same namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// Where the rendered output goes: `Data` (default), `Annotations` or `Labels`
    /// (case-insensitive) for Secret targets; a nested path for `target.manifest` targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Data"))]
    pub target: Option<String>,
    /// A template given inline; its output is YAML parsed into keys and values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// How to decode the rendered values before storing them: `Auto`, `Base64`, `Base64URL` or
    /// `None` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub values_decoding_strategy: Option<DecodingStrategy>,
}

/// A ConfigMap or Secret holding templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    /// The name of the ConfigMap or Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
    /// The keys of the ConfigMap or Secret to use as templates.
    pub items: Vec<TemplateRefItem>,
}

/// One key of a template ConfigMap or Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    /// The key in the ConfigMap or Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
    /// `Values` (default): the key's content is one template whose output is the value of the
    /// same key. `KeysAndValues`: the output is YAML parsed into several keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Values"))]
    pub template_as: Option<TemplateScope>,
}

/// How a template's output is interpreted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum TemplateScope {
    /// The output is the value of the key of the same name (the default).
    #[default]
    Values,
    /// The output is YAML parsed into keys and values.
    KeysAndValues,
}
