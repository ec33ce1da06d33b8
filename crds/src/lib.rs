//! The `external-secrets.io` custom resources, field-compatible with External Secrets Operator
//! (ESO) v2.9, and their generated CustomResourceDefinitions.
//!
//! A user's ESO manifests for Azure Key Vault load into these types unchanged and serialize back
//! to the same JSON: optional fields are `Option`s that are omitted when unset, and ESO's defaults
//! live in the CRD schema (applied by the API server) and in `*_or_default()` helpers, not in
//! serde. Durations stay strings as written; parse them with [`parse_go_duration`].
//!
//! Kinds: [`SecretStore`] and [`ClusterSecretStore`] (`v1`, also served as `v1beta1`),
//! [`ExternalSecret`] and [`ClusterExternalSecret`] (`v1`), [`PushSecret`] and
//! [`ClusterPushSecret`] (`v1alpha1`); and the
//! generators [`Password`], [`Uuid`], [`AcrAccessToken`] and [`ClusterGenerator`]
//! (`generators.external-secrets.io/v1alpha1`).

#![deny(missing_docs)]

pub mod azurekv;
pub mod cluster_external_secret;
pub mod cluster_push_secret;
pub mod constants;
pub mod data_from;
pub mod decode;
pub mod duration;
pub mod external_secret;
pub mod fixtures;
pub mod generate;
pub mod generators;
pub mod meta;
pub mod push_secret;
pub mod secret_store;
pub mod template;

pub use azurekv::{
    AuthType, AzureCustomCloudConfig, AzureKvAuth, AzureKvProvider, EnvironmentType,
};
pub use cluster_external_secret::{
    ClusterExternalSecret, ClusterExternalSecretNamespaceFailure, ClusterExternalSecretSpec,
    ClusterExternalSecretStatus, ExternalSecretMetadata,
};
pub use cluster_push_secret::{
    ClusterPushSecret, ClusterPushSecretNamespaceFailure, ClusterPushSecretSpec,
    ClusterPushSecretStatus,
};
pub use data_from::{
    ExternalSecretDataFromRemoteRef, ExternalSecretFind, ExternalSecretRewrite,
    ExternalSecretRewriteMerge, ExternalSecretRewriteRegexp, ExternalSecretRewriteTransform,
    FindName, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy,
};
pub use decode::DecodeError;
pub use duration::{GoDurationError, parse_go_duration};
pub use external_secret::{
    ConversionStrategy, CreationPolicy, DecodingStrategy, DeletionPolicy, ExternalSecret,
    ExternalSecretData, ExternalSecretDataRemoteRef, ExternalSecretSpec, ExternalSecretStatus,
    ExternalSecretTarget, ManifestReference, MetadataPolicy, NullBytePolicy, RefreshPolicy,
    StoreSourceRef, SyncWindow, SyncWindowKind, SyncWindows,
};
pub use generate::{all_crds, crds_yaml};
pub use generators::{
    AcrAccessToken, AcrAccessTokenSpec, AcrAuth, AcrManagedIdentity, AcrServicePrincipal,
    AcrServicePrincipalSecretRef, AcrWorkloadIdentity, ClusterGenerator, ClusterGeneratorSpec,
    GeneratorSpec, Password, PasswordEncoding, PasswordSpec, Uuid, UuidSpec,
};
pub use meta::{
    Condition, GeneratorRef, LocalObjectReference, SecretKeySelector, SecretStoreRef,
    ServiceAccountSelector, StoreKind, find_condition,
};
pub use push_secret::{
    PushConversionStrategy, PushSecret, PushSecretData, PushSecretDataTo, PushSecretDataToMatch,
    PushSecretDeletionPolicy, PushSecretMatch, PushSecretRemoteRef, PushSecretRewrite,
    PushSecretSecret, PushSecretSelector, PushSecretSpec, PushSecretStatus, PushSecretStoreRef,
    UpdatePolicy,
};
pub use secret_store::{
    ClusterSecretStore, ClusterSecretStoreCondition, ClusterSecretStoreSpec, SecretStore,
    SecretStoreCapabilities, SecretStoreProvider, SecretStoreRetrySettings, SecretStoreSpec,
    SecretStoreStatus,
};
pub use template::{
    ExternalSecretTemplate, ExternalSecretTemplateMetadata, TemplateEngineVersion, TemplateFrom,
    TemplateMergePolicy, TemplateRef, TemplateRefItem, TemplateScope,
};
