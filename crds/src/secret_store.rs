//! `SecretStore` and `ClusterSecretStore` (`external-secrets.io/v1`, also served as `v1beta1`).
//!
//! Only the `azurekv` provider is modelled. A store naming any other ESO provider still loads:
//! the other provider's block is kept as raw JSON in [`SecretStoreProvider::other`], so the
//! operator can report `Ready=False` ("provider X is not supported") instead of failing the watch.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::azurekv::AzureKvProvider;
use crate::duration::{GoDurationError, parse_go_duration};
use crate::meta::Condition;

/// The desired state of a SecretStore or ClusterSecretStore.
// kube's repeated `printcolumn(..)` / `selectable` arguments trip this lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "SecretStore",
    namespaced,
    status = "SecretStoreStatus",
    shortname = "ss",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "SecretStore represents a secure external location for storing secrets, which can be referenced as part of `storeRef` fields.",
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
    printcolumn(
        name = "Capabilities",
        type_ = "string",
        json_path = ".status.capabilities"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Selects the controller that handles this store (think ingressClassName). A controller
    /// started with a class only reconciles stores whose `controller` matches it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The provider configuration. Exactly one provider may be set; akvsync supports `azurekv`.
    pub provider: SecretStoreProvider,
    /// HTTP retry settings for calls to the provider (accepted; ignored for Azure, as in ESO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<SecretStoreRetrySettings>,
    /// How often the store is re-validated: an integer number of seconds or a Go duration
    /// string. Empty or 0 uses the controller's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<IntOrString>,
    /// Constrains a ClusterSecretStore to namespaces (ORed). Only relevant to ClusterSecretStore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ClusterSecretStoreCondition>>,
}

impl SecretStoreSpec {
    /// The store refresh interval, if set and non-zero. An integer means seconds; a string is a
    /// Go duration.
    pub fn refresh_interval(&self) -> Option<Result<std::time::Duration, GoDurationError>> {
        let parsed = match self.refresh_interval.as_ref()? {
            IntOrString::Int(seconds) => Ok(std::time::Duration::from_secs(
                u64::try_from(*seconds).unwrap_or(0),
            )),
            IntOrString::String(text) => parse_go_duration(text),
        };
        match parsed {
            Ok(duration) if duration.is_zero() => None,
            other => Some(other),
        }
    }
}

/// The provider block of a store. `azurekv` is typed; any other provider is kept verbatim.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct SecretStoreProvider {
    /// Configures this store to sync secrets with Azure Key Vault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azurekv: Option<AzureKvProvider>,
    /// Any other ESO provider (aws, vault, gcpsm, ...), kept as raw JSON by provider name. akvsync
    /// does not support them and marks such stores not ready.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl SecretStoreProvider {
    /// Names of the providers set besides `azurekv`, in sorted order.
    pub fn unsupported_providers(&self) -> impl Iterator<Item = &str> {
        self.other.keys().map(String::as_str)
    }
}

// Hand-written so that errors inside `azurekv` keep their field path (serde's `flatten`
// buffers the input and loses it), while unknown providers still land in `other`.
impl<'de> Deserialize<'de> for SecretStoreProvider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProviderVisitor;
        impl<'de> Visitor<'de> for ProviderVisitor {
            type Value = SecretStoreProvider;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a map from provider name to provider configuration")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut provider = SecretStoreProvider::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "azurekv" {
                        if provider.azurekv.is_some() {
                            return Err(serde::de::Error::duplicate_field("azurekv"));
                        }
                        provider.azurekv = map.next_value()?;
                    } else {
                        let value = map.next_value()?;
                        provider.other.insert(name, value);
                    }
                }
                Ok(provider)
            }
        }
        deserializer.deserialize_map(ProviderVisitor)
    }
}

/// Retry settings for calls to the provider (ESO `SecretStoreRetrySettings`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRetrySettings {
    /// Maximum number of retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// Interval between retries, as a Go duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// Selects namespaces in which a ClusterSecretStore may be used. A namespace matches when any
/// selector, name or regex matches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    /// Choose namespaces with a label selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Choose namespaces with label selectors (ORed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selectors: Option<Vec<LabelSelector>>,
    /// Choose namespaces by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Choose namespaces with (unanchored, RE2) regular expressions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_regexes: Option<Vec<String>>,
}

/// What a store can do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SecretStoreCapabilities {
    /// The store can only read secrets.
    ReadOnly,
    /// The store can only write secrets.
    WriteOnly,
    /// The store can read and write secrets (Azure Key Vault).
    ReadWrite,
}

/// The observed state of a SecretStore or ClusterSecretStore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreStatus {
    /// Conditions of the store; `Ready` with reasons such as `Valid` or `InvalidProviderConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// What the store can do: `ReadOnly`, `WriteOnly` or `ReadWrite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SecretStoreCapabilities>,
}

/// The desired state of a ClusterSecretStore: the same fields as a SecretStore, where
/// `conditions` restricts the namespaces that may use it. (In Rust: a [`SecretStoreSpec`],
/// reachable through `Deref`.)
// kube's repeated `printcolumn(..)` / `selectable` arguments trip this lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ClusterSecretStore",
    status = "SecretStoreStatus",
    shortname = "css",
    category = "external-secrets",
    label("external-secrets.io/component", "controller"),
    doc = "ClusterSecretStore represents a secure external location for storing secrets, which can be referenced as part of `storeRef` fields.",
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
    printcolumn(
        name = "Capabilities",
        type_ = "string",
        json_path = ".status.capabilities"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    )
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterSecretStoreSpec(
    /// The store configuration, identical to a SecretStore's.
    pub SecretStoreSpec,
);

impl Deref for ClusterSecretStoreSpec {
    type Target = SecretStoreSpec;
    fn deref(&self) -> &SecretStoreSpec {
        &self.0
    }
}

impl DerefMut for ClusterSecretStoreSpec {
    fn deref_mut(&mut self) -> &mut SecretStoreSpec {
        &mut self.0
    }
}
