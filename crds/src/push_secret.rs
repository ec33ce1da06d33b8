//! `PushSecret` (`external-secrets.io/v1alpha1`): writes keys of a Kubernetes Secret to stores.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::data_from::{ExternalSecretRewriteRegexp, ExternalSecretRewriteTransform};
use crate::meta::{Condition, GeneratorRef, StoreKind};
use crate::template::ExternalSecretTemplate;

/// The desired state of a PushSecret.
// kube's repeated `printcolumn(..)` / `selectable` arguments trip this lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "PushSecret",
    namespaced,
    status = "PushSecretStatus",
    shortname = "ps",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "PushSecret is the Schema for the PushSecrets API: it pushes Kubernetes Secrets to external secret providers.",
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.refreshTime")
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSpec {
    /// How often the secret is pushed again, as a Go duration. `0` pushes once. Defaults to
    /// `1h0m0s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        extend("default" = "1h0m0s"),
        regex(pattern = crate::duration::GO_DURATION_PATTERN)
    )]
    pub refresh_interval: Option<String>,
    /// The stores to push to.
    pub secret_store_refs: Vec<PushSecretStoreRef>,
    /// `Replace` (default) overwrites remote values; `IfNotExists` only creates missing ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Replace"))]
    pub update_policy: Option<UpdatePolicy>,
    /// `Delete` removes pushed remote values when they leave the spec or the PushSecret is
    /// deleted; `None` (default) keeps them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub deletion_policy: Option<PushSecretDeletionPolicy>,
    /// The source of the data: a Secret (by name or label selector) or a generator.
    pub selector: PushSecretSelector,
    /// Source keys to push, each to one remote key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<PushSecretData>>,
    /// Bulk pushes: every source key matching a pattern, to one store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_to: Option<Vec<PushSecretDataTo>>,
    /// A template rendered over an in-memory copy of the source Secret before pushing (source
    /// keys stay; template keys are added or overwritten).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

/// A store, or stores selected by label, to push to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStoreRef {
    /// Push to the store of this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,
    /// Push to the stores matching this label selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Kind of the store: `SecretStore` (default) or `ClusterSecretStore`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "SecretStore"))]
    pub kind: Option<StoreKind>,
}

/// How existing remote values are treated.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum UpdatePolicy {
    /// Overwrite remote values (the default).
    #[default]
    Replace,
    /// Only create remote values that do not exist.
    IfNotExists,
}

/// What happens to pushed remote values when they are no longer pushed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum PushSecretDeletionPolicy {
    /// Delete them (only objects carrying the `managed-by` tag).
    Delete,
    /// Keep them (the default).
    #[default]
    None,
}

/// The source of a PushSecret's data: exactly one of a Secret or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PushSecretSelector {
    /// A Secret in the PushSecret's namespace.
    Secret(PushSecretSecret),
    /// A generator creating the data (not supported by akvsync).
    GeneratorRef(GeneratorRef),
}

/// A source Secret, by name or label selector.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSecret {
    /// Name of the Secret, in the PushSecret's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,
    /// Selects Secrets with a label selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// One source key pushed to one remote key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretData {
    /// Which source key goes to which remote key.
    #[serde(rename = "match")]
    pub match_: PushSecretMatch,
    /// Provider-specific metadata (free-form). For Azure: a `PushSecretMetadata` object with
    /// `spec.expirationDate`, `spec.contentType` and `spec.tags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub metadata: Option<serde_json::Value>,
    /// How the remote key is converted: `None` (default) or `ReverseUnicode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub conversion_strategy: Option<PushConversionStrategy>,
}

/// A source key and its remote destination.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMatch {
    /// The source Secret key to push; the whole Secret (as JSON) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// The remote destination.
    pub remote_ref: PushSecretRemoteRef,
}

/// A remote destination.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretRemoteRef {
    /// The remote key. For Azure: `[secret/|key/|cert/]<name>`; no prefix means `secret/`.
    pub remote_key: String,
    /// A property inside the remote value (ignored by Azure Key Vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// How remote keys are converted when pushing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum PushConversionStrategy {
    /// Keep keys as they are (the default).
    #[default]
    None,
    /// Turn `_Uxxxx_` escapes back into the characters they stand for.
    ReverseUnicode,
}

/// A bulk push of matching source keys to one store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretDataTo {
    /// The store to push to (by name or label selector). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<PushSecretStoreRef>,
    /// Bundle all matched keys as one JSON value under this remote key. Mutually exclusive with
    /// `rewrite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<String>,
    /// Which source keys to push; all when unset.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<PushSecretDataToMatch>,
    /// Rewrites of the remote keys, applied in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Vec<PushSecretRewrite>>,
    /// Provider-specific metadata (free-form), as in `data[].metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub metadata: Option<serde_json::Value>,
    /// How the remote keys are converted: `None` (default) or `ReverseUnicode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub conversion_strategy: Option<PushConversionStrategy>,
}

/// Selects source keys for a bulk push.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretDataToMatch {
    /// A regular expression the key must match; all keys when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One rewrite of bulk-pushed keys: exactly one of regexp or transform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PushSecretRewrite {
    /// Replace key parts matching a regular expression.
    Regexp(ExternalSecretRewriteRegexp),
    /// Compute new keys with a template (`.value` is the key).
    Transform(ExternalSecretRewriteTransform),
}

/// The observed state of a PushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStatus {
    /// When the secret was last pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// The last synced version: `<generation>-<hash of labels and annotations>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// What was pushed where: `"<StoreKind>/<storeName>"` → `"<remoteKey>[/<property>]"` → the
    /// pushed data entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_push_secrets: Option<BTreeMap<String, BTreeMap<String, PushSecretData>>>,
    /// Conditions: `Ready` with reasons `Synced`, `Errored`, `SourceDeleted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// Schema of a free-form JSON field (ESO's `apiextensionsv1.JSON`).
fn preserve_unknown_fields(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}
