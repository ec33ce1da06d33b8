//! `ClusterPushSecret` (`external-secrets.io/v1alpha1`, cluster-scoped): one PushSecret spec
//! stamped into every namespace its selectors match.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster_external_secret::{
    ClusterExternalSecretNamespaceFailure, ExternalSecretMetadata,
};
use crate::meta::Condition;
use crate::push_secret::PushSecretSpec;

/// The desired state of a ClusterPushSecret.
// kube's repeated `printcolumn(..)` / `selectable` arguments trip this lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterPushSecret",
    status = "ClusterPushSecretStatus",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "ClusterPushSecret is the Schema for the ClusterPushSecrets API: it creates a PushSecret in every matching namespace.",
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretSpec {
    /// The spec of the PushSecrets to create.
    pub push_secret_spec: PushSecretSpec,
    /// How often namespaces are re-evaluated, as a Go duration. Defaults to the controller's
    /// interval (`1h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::duration::GO_DURATION_PATTERN))]
    pub refresh_time: Option<String>,
    /// The name of the PushSecrets to create. Defaults to the name of the ClusterPushSecret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub push_secret_name: Option<String>,
    /// Labels and annotations of the PushSecrets to create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_secret_metadata: Option<ExternalSecretMetadata>,
    /// Label selectors for the target namespaces (ORed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selectors: Option<Vec<LabelSelector>>,
}

/// A namespace where creating the PushSecret failed.
pub type ClusterPushSecretNamespaceFailure = ClusterExternalSecretNamespaceFailure;

/// The observed state of a ClusterPushSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretStatus {
    /// Namespaces where the PushSecret could not be applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_namespaces: Option<Vec<ClusterPushSecretNamespaceFailure>>,
    /// Namespaces holding a PushSecret of this ClusterPushSecret (sorted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_namespaces: Option<Vec<String>>,
    /// The name of the PushSecrets created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_secret_name: Option<String>,
    /// Conditions: `Ready` (no reason; message `one or more namespaces failed` when False).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}
