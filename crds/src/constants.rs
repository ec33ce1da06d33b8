//! ESO's names for labels, annotations, finalizers, field managers, condition types and
//! reasons. akvsync uses the same names so it can take over Secrets ESO manages (and back).

/// The API group of every kind in this crate.
pub const GROUP: &str = "external-secrets.io";

/// Label on every Secret managed by an ExternalSecret (value [`LABEL_MANAGED_VALUE`]); ESO only
/// watches Secrets that carry it.
pub const LABEL_MANAGED: &str = "reconcile.external-secrets.io/managed";
/// Value of [`LABEL_MANAGED`].
pub const LABEL_MANAGED_VALUE: &str = "true";
/// Label on Secrets created with `creationPolicy: Owner`: sha3-224 hex of `"<namespace>/<name>"`
/// of the owning ExternalSecret, used to find orphans when `target.name` changes.
pub const LABEL_CREATED_BY: &str = "reconcile.external-secrets.io/created-by";
/// Annotation holding the sha3-224 hex of the managed Secret's data.
pub const ANNOTATION_DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
/// Annotation whose change forces a sync (propagated from a ClusterExternalSecret).
pub const ANNOTATION_FORCE_SYNC: &str = "external-secrets.io/force-sync";
/// Annotation silencing warnings for unmaintained providers.
pub const ANNOTATION_IGNORE_MAINTENANCE_CHECKS: &str =
    "external-secrets.io/ignore-maintenance-checks";
/// Label ESO puts on its CRDs (value [`LABEL_COMPONENT_VALUE`]).
pub const LABEL_COMPONENT: &str = "external-secrets.io/component";
/// Value of [`LABEL_COMPONENT`].
pub const LABEL_COMPONENT_VALUE: &str = "controller";

/// Finalizer on ExternalSecrets, to clean up the target Secret.
pub const FINALIZER_EXTERNAL_SECRET: &str =
    "externalsecrets.external-secrets.io/externalsecret-cleanup";
/// Finalizer on ClusterExternalSecrets, to clean up the ExternalSecrets they created.
pub const FINALIZER_CLUSTER_EXTERNAL_SECRET: &str =
    "externalsecrets.external-secrets.io/clusterexternalsecret-cleanup";
/// Prefix of the finalizer a ClusterExternalSecret puts on each namespace it provisions; the full
/// name is this prefix followed by the ClusterExternalSecret's name.
pub const FINALIZER_NAMESPACE_CES_PREFIX: &str = "externalsecrets.external-secrets.io/ces-";
/// Finalizer on PushSecrets with `deletionPolicy: Delete`.
pub const FINALIZER_PUSH_SECRET: &str = "pushsecret.externalsecrets.io/finalizer";

/// Prefix of the server-side-apply field manager for an ExternalSecret's target: the full name is
/// this prefix followed by the ExternalSecret's name, or by `sha3/<hex>` when that would be longer
/// than [`FIELD_MANAGER_MAX_LENGTH`].
pub const FIELD_MANAGER_PREFIX: &str = "externalsecrets.external-secrets.io/";
/// Longest field manager name ESO uses before switching to the hashed form.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 63;

/// Condition type reporting whether a resource is synced / a store is usable.
pub const CONDITION_READY: &str = "Ready";
/// Condition type set on an ExternalSecret whose target was deleted.
pub const CONDITION_DELETED: &str = "Deleted";
/// Condition status `True`.
pub const CONDITION_STATUS_TRUE: &str = "True";
/// Condition status `False`.
pub const CONDITION_STATUS_FALSE: &str = "False";
/// Condition status `Unknown`.
pub const CONDITION_STATUS_UNKNOWN: &str = "Unknown";

/// ExternalSecret `Ready` reason: the Secret was synced.
pub const REASON_SECRET_SYNCED: &str = "SecretSynced";
/// ExternalSecret `Ready` reason: syncing failed.
pub const REASON_SECRET_SYNCED_ERROR: &str = "SecretSyncedError";
/// ExternalSecret `Ready` reason: the Secret was deleted.
pub const REASON_SECRET_DELETED: &str = "SecretDeleted";
/// ExternalSecret `Ready` reason: the Secret is missing (e.g. `creationPolicy: Merge`).
pub const REASON_SECRET_MISSING: &str = "SecretMissing";
/// ExternalSecret `Ready` reason: the generic target (`spec.target.manifest`) was synced.
pub const REASON_RESOURCE_SYNCED: &str = "ResourceSynced";
/// ExternalSecret `Ready` reason: syncing the generic target failed.
pub const REASON_RESOURCE_SYNCED_ERROR: &str = "ResourceSyncedError";
/// ExternalSecret `Ready` reason: the generic target was deleted.
pub const REASON_RESOURCE_DELETED: &str = "ResourceDeleted";
/// ExternalSecret `Ready` reason: the generic target is missing (`creationPolicy: Merge`).
pub const REASON_RESOURCE_MISSING: &str = "ResourceMissing";
/// ExternalSecret Event reason (akvsync's own): a sync waits for its vault's budget.
pub const REASON_WAITING: &str = "Waiting";

/// Store `Ready` reason: the store is valid.
pub const REASON_STORE_VALID: &str = "Valid";
/// Store `Ready` reason: the store spec is invalid.
pub const REASON_INVALID_STORE_CONFIGURATION: &str = "InvalidStoreConfiguration";
/// Store `Ready` reason: the provider configuration is invalid (including unsupported providers).
pub const REASON_INVALID_PROVIDER_CONFIG: &str = "InvalidProviderConfig";
/// Store `Ready` reason: validating the store against the provider failed.
pub const REASON_VALIDATION_FAILED: &str = "ValidationFailed";
/// Store `Ready` reason: the store could not be validated (e.g. referent auth).
pub const REASON_VALIDATION_UNKNOWN: &str = "ValidationUnknown";

/// PushSecret `Ready` reason: pushed successfully.
pub const REASON_PUSH_SYNCED: &str = "Synced";
/// PushSecret `Ready` reason: pushing failed.
pub const REASON_PUSH_ERRORED: &str = "Errored";
/// PushSecret `Ready` reason: the source Secret was deleted and remote secrets cleaned up.
pub const REASON_PUSH_SOURCE_DELETED: &str = "SourceDeleted";

/// Event reason: a Secret was created.
pub const EVENT_REASON_CREATED: &str = "Created";
/// Event reason: a Secret was updated.
pub const EVENT_REASON_UPDATED: &str = "Updated";
/// Event reason: a Secret was deleted.
pub const EVENT_REASON_DELETED: &str = "Deleted";
/// Event reason (warning): an update failed.
pub const EVENT_REASON_UPDATE_FAILED: &str = "UpdateFailed";
/// Event reason: a deprecated parameter is in use.
pub const EVENT_REASON_PARAMETER_DEPRECATED: &str = "ParameterDeprecated";
/// Event reason (warning, akvsync's own): two entries of an ExternalSecret write the same key;
/// the later one wins, as in ESO.
pub const EVENT_REASON_DUPLICATE_SECRET_KEY: &str = "DuplicateSecretKey";
/// Event reason: a provider secret is missing.
pub const EVENT_REASON_MISSING_PROVIDER_SECRET: &str = "MissingProviderSecret";

/// Tag PushSecret writes on the Key Vault objects it creates, with value
/// [`AZURE_MANAGED_BY_TAG_VALUE`]; objects without it are never overwritten or deleted.
pub const AZURE_MANAGED_BY_TAG: &str = "managed-by";
/// Value of [`AZURE_MANAGED_BY_TAG`].
pub const AZURE_MANAGED_BY_TAG_VALUE: &str = "external-secrets";

/// Default ExternalSecret / PushSecret refresh interval when none is set.
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h0m0s";
