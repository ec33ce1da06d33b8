//! ExternalSecret `spec.dataFrom[]`: bulk fetches (`extract`, `find`) and the rewrites of their
//! keys (`regexp`, `transform`, `merge`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::external_secret::{
    ConversionStrategy, DecodingStrategy, ExternalSecretDataRemoteRef, NullBytePolicy,
    StoreSourceRef,
};

/// Remote values fetched in bulk.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataFromRemoteRef {
    /// Extract the key/value pairs of one JSON remote value (or its tags with `metadataPolicy:
    /// Fetch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExternalSecretDataRemoteRef>,
    /// Find remote secrets by name regexp and/or tags, one key per secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub find: Option<ExternalSecretFind>,
    /// Rewrites of the resulting keys, applied in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Vec<ExternalSecretRewrite>>,
    /// Overrides the store these values are fetched from, or names a generator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// A search for remote secrets (ESO `ExternalSecretFind`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    /// A root path to search from (ignored by Azure Key Vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Match secrets by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    /// Match secrets carrying all these tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// How result keys are converted: `Default` or `Unicode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Default"))]
    pub conversion_strategy: Option<ConversionStrategy>,
    /// How values are decoded: `Auto`, `Base64`, `Base64URL` or `None` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub decoding_strategy: Option<DecodingStrategy>,
    /// What to do with values containing NUL bytes: `Ignore` (default) or `Fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Ignore"))]
    pub null_byte_policy: Option<NullBytePolicy>,
}

/// A name filter for `find`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindName {
    /// An unanchored RE2 regular expression the secret name must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One rewrite of bulk result keys: exactly one of merge, regexp or transform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExternalSecretRewrite {
    /// Merge the values (JSON objects) of several keys into one.
    Merge(ExternalSecretRewriteMerge),
    /// Replace key parts matching a regular expression.
    Regexp(ExternalSecretRewriteRegexp),
    /// Compute new keys with a template (`.value` is the key).
    Transform(ExternalSecretRewriteTransform),
}

/// A regular-expression rewrite (Go `ReplaceAllString`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteRegexp {
    /// The regular expression (RE2 syntax).
    pub source: String,
    /// The replacement, with `$1`-style group references.
    pub target: String,
}

/// A template rewrite.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteTransform {
    /// The template applied to each key; `.value` is the key.
    pub template: String,
}

/// A merge rewrite.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteMerge {
    /// The key receiving the merged value. Required with strategy `JSON`, ignored otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// Keys in priority order for conflict resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Vec<String>>,
    /// What to do when a key in `priority` is missing: `Strict` (error, default) or
    /// `IgnoreNotFound`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Strict"))]
    pub priority_policy: Option<MergePriorityPolicy>,
    /// What to do on conflicting keys: `Error` (default) or `Ignore`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Error"))]
    pub conflict_policy: Option<MergeConflictPolicy>,
    /// `Extract` (default): merge the keys of the JSON values. `JSON`: merge into one JSON
    /// value under `into`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Extract"))]
    pub strategy: Option<MergeStrategy>,
}

/// Missing priority keys in a merge rewrite.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MergePriorityPolicy {
    /// A missing key is an error (the default).
    #[default]
    Strict,
    /// Missing keys are skipped.
    IgnoreNotFound,
}

/// Conflicts in a merge rewrite.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MergeConflictPolicy {
    /// A conflict is an error (the default).
    #[default]
    Error,
    /// Conflicts are resolved by priority, then order.
    Ignore,
}

/// The shape of a merge rewrite's result.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MergeStrategy {
    /// Merge the keys of the JSON values into the result (the default).
    #[default]
    Extract,
    /// Merge into a single JSON value under `into`.
    #[serde(rename = "JSON")]
    Json,
}
