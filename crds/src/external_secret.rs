//! `ExternalSecret` (`external-secrets.io/v1`): which remote values to fetch and the Secret to
//! build from them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::data_from::ExternalSecretDataFromRemoteRef;
use crate::meta::{Condition, GeneratorRef, LocalObjectReference, SecretStoreRef};
use crate::template::ExternalSecretTemplate;

/// The desired state of an ExternalSecret.
// kube's repeated `printcolumn(..)` / `selectable` arguments trip this lint.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    shortname = "es",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "ExternalSecret is the Schema for the external-secrets API: it fetches values from a SecretStore and writes them into a Kubernetes Secret.",
    printcolumn(
        name = "StoreType",
        type_ = "string",
        json_path = ".spec.secretStoreRef.kind"
    ),
    printcolumn(
        name = "Store",
        type_ = "string",
        json_path = ".spec.secretStoreRef.name"
    ),
    printcolumn(
        name = "Refresh Interval",
        type_ = "string",
        json_path = ".spec.refreshInterval"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.refreshTime"),
    selectable = ".spec.secretStoreRef.name",
    selectable = ".spec.secretStoreRef.kind",
    selectable = ".spec.target.name",
    selectable = ".spec.refreshInterval"
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    /// The default store to fetch from (`data[].sourceRef` / `dataFrom[].sourceRef` override it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<SecretStoreRef>,
    /// The Secret to create or update.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"creationPolicy": "Owner", "deletionPolicy": "Retain"}))]
    pub target: Option<ExternalSecretTarget>,
    /// When to refresh: `CreatedOnce` (only until the Secret exists), `Periodic` (every
    /// `refreshInterval`; the behaviour when unset) or `OnChange` (only when the ExternalSecret
    /// changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// How often values are read again from the provider, as a Go duration (`1h`, `2h30m`,
    /// `10s`). `0` fetches once. Defaults to `1h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "1h"), regex(pattern = crate::duration::GO_DURATION_PATTERN))]
    pub refresh_interval: Option<String>,
    /// Restricts when periodic refreshes may run (evaluated in UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<SyncWindows>,
    /// Individual remote values, each stored under its own Secret key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<ExternalSecretData>>,
    /// Remote values fetched in bulk (one secret's JSON, or all secrets matching a search);
    /// entries are merged in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_from: Option<Vec<ExternalSecretDataFromRemoteRef>>,
}

/// How an ExternalSecret is refreshed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RefreshPolicy {
    /// Create the Secret once and never update it.
    CreatedOnce,
    /// Refresh every `refreshInterval` (the behaviour when unset).
    #[default]
    Periodic,
    /// Refresh only when the ExternalSecret's spec or metadata changes.
    OnChange,
}

/// Restricts periodic refreshes to (`allow`) or away from (`deny`) time windows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindows {
    /// `allow`: refreshes run only while a window is active. `deny`: refreshes are blocked while
    /// a window is active.
    pub kind: SyncWindowKind,
    /// The windows, each a schedule and a duration.
    #[schemars(length(min = 1))]
    pub windows: Vec<SyncWindow>,
}

/// Whether sync windows allow or deny refreshes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncWindowKind {
    /// Refreshes run only inside a window.
    Allow,
    /// Refreshes never run inside a window.
    Deny,
}

/// One sync window.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    /// When the window opens: a 5-field cron expression (`0 22 * * 1-5`: weekdays at 22:00) or
    /// a descriptor (`@daily`, `@every 1h`), in UTC.
    #[schemars(
        length(min = 1),
        regex(
            pattern = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every [^\s]+.*|[^\s]+( [^\s]+){4})$"
        )
    )]
    pub schedule: String,
    /// How long the window stays open after each opening, as a Go duration (`8h`).
    #[schemars(regex(pattern = crate::duration::GO_DURATION_PATTERN))]
    pub duration: String,
}

/// The Secret an ExternalSecret manages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    /// Name of the Secret. Defaults to the name of the ExternalSecret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: Option<String>,
    /// How the Secret is created: `Owner` (default), `Orphan`, `Merge`, `None` or `CreateOrMerge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Owner"))]
    pub creation_policy: Option<CreationPolicy>,
    /// What happens to the Secret when the remote values are gone: `Retain` (default), `Delete`
    /// or `Merge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Retain"))]
    pub deletion_policy: Option<DeletionPolicy>,
    /// A blueprint for the Secret (type, metadata, templated data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
    /// A non-Secret resource to create instead of a Secret (generic targets; needs a controller
    /// flag in ESO, not supported by akvsync).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestReference>,
    /// Whether the Secret is immutable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl ExternalSecretTarget {
    /// The creation policy, applying ESO's default (`Owner`).
    pub fn creation_policy_or_default(&self) -> CreationPolicy {
        self.creation_policy.unwrap_or_default()
    }

    /// The deletion policy, applying ESO's default (`Retain`).
    pub fn deletion_policy_or_default(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }
}

/// How the target Secret is created.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum CreationPolicy {
    /// Create the Secret, owned by the ExternalSecret (the default).
    #[default]
    Owner,
    /// Create the Secret with no owner; it survives the ExternalSecret.
    Orphan,
    /// Only merge keys into an existing Secret; never create one.
    Merge,
    /// Do not create or update a Secret.
    None,
    /// Create the Secret if missing, otherwise merge keys into it.
    CreateOrMerge,
}

/// What happens to the target Secret when the remote values are deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the Secret when all its remote values are gone.
    Delete,
    /// Remove the vanished keys but keep the Secret.
    Merge,
    /// Keep the Secret; a missing remote value is an error (the default).
    #[default]
    Retain,
}

/// A generic (non-Secret) target resource type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestReference {
    /// The apiVersion of the target resource, e.g. `v1`.
    #[schemars(length(min = 1))]
    pub api_version: String,
    /// The kind of the target resource, e.g. `ConfigMap`.
    #[schemars(length(min = 1))]
    pub kind: String,
}

/// One remote value stored under one Secret key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// The key in the Kubernetes Secret to store the value under.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub secret_key: String,
    /// Which remote value (and version / property) to fetch.
    pub remote_ref: ExternalSecretDataRemoteRef,
    /// Overrides the store this value is fetched from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// The location of a remote value (ESO `ExternalSecretDataRemoteRef`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataRemoteRef {
    /// The remote key. For Azure: `[secret/|key/|cert/]<name>`; no prefix means `secret/`.
    pub key: String,
    /// `Fetch` returns the object's tags (and attributes) instead of its value. Defaults to
    /// `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub metadata_policy: Option<MetadataPolicy>,
    /// A property to extract from a JSON value (gjson path), or one tag with `metadataPolicy:
    /// Fetch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// The version of the remote value; latest when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How result keys are converted: `Default` or `Unicode` (ignored for `data[]`).
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

/// Whether to fetch a value or its metadata.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MetadataPolicy {
    /// Fetch the value (the default).
    #[default]
    None,
    /// Fetch the tags and attributes.
    Fetch,
}

/// How keys of bulk results are converted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConversionStrategy {
    /// Replace characters invalid in Secret keys with `_` (the default).
    #[default]
    Default,
    /// Replace invalid characters with their `_Uxxxx_` unicode escape.
    Unicode,
}

/// How fetched values are decoded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DecodingStrategy {
    /// Decode base64 or base64url when the value is valid in one of them.
    Auto,
    /// Decode standard base64.
    Base64,
    /// Decode URL-safe base64.
    #[serde(rename = "Base64URL")]
    Base64Url,
    /// Keep the value as is (the default).
    #[default]
    None,
}

/// What to do with fetched values containing NUL bytes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum NullBytePolicy {
    /// Keep them (the default).
    #[default]
    Ignore,
    /// Fail the sync.
    Fail,
}

impl ExternalSecretSpec {
    /// The generic target (`target.manifest`) the spec writes instead of a Secret, if any.
    pub fn manifest(&self) -> Option<&ManifestReference> {
        self.target.as_ref()?.manifest.as_ref()
    }

    /// Every store the spec names: `secretStoreRef` (when it has a name) and each entry's
    /// `sourceRef.storeRef`.
    pub fn store_refs(&self) -> impl Iterator<Item = &SecretStoreRef> {
        fn store_ref(source: &Option<StoreSourceRef>) -> Option<&SecretStoreRef> {
            match source {
                Some(StoreSourceRef::StoreRef(reference)) => Some(reference),
                _ => None,
            }
        }
        let data = self
            .data
            .iter()
            .flatten()
            .filter_map(|entry| store_ref(&entry.source_ref));
        let data_from = self
            .data_from
            .iter()
            .flatten()
            .filter_map(|entry| store_ref(&entry.source_ref));
        self.secret_store_ref
            .iter()
            .filter(|reference| {
                reference
                    .name
                    .as_deref()
                    .is_some_and(|name| !name.is_empty())
            })
            .chain(data)
            .chain(data_from)
    }
}

/// Where a value comes from instead of the ExternalSecret's `secretStoreRef`: exactly one of a
/// store or a generator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StoreSourceRef {
    /// Fetch from this store.
    StoreRef(SecretStoreRef),
    /// Take values from a generator (not supported by akvsync).
    GeneratorRef(GeneratorRef),
}

/// The observed state of an ExternalSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    /// When the values were last fetched and the Secret updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// The last synced version: `<generation>-<hash of labels and annotations>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// Conditions: `Ready` (reasons `SecretSynced`, `SecretSyncedError`, `SecretDeleted`,
    /// `SecretMissing`) and `Deleted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The servicebinding.io binding: the name of the target Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<LocalObjectReference>,
}
