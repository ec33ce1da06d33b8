//! ClusterExternalSecrets: one ExternalSecret per selected namespace (by name or selector),
//! through the [`FanOut`] reconciler.

use std::collections::{BTreeMap, BTreeSet};

use akvsync_crds::{
    ClusterExternalSecret, ClusterExternalSecretStatus, ExternalSecret, ExternalSecretMetadata,
};

use super::context::Shared;
use super::fan_out::{FanOut, FanOutReconciler, FanOutStatus};
use super::namespaces::selector_matches;
use crate::observability::ResourceKind;

pub type ClusterExternalSecretReconciler = FanOutReconciler<ClusterExternalSecret>;

impl FanOut for ClusterExternalSecret {
    type Child = ExternalSecret;
    type Status = ClusterExternalSecretStatus;

    const KIND: ResourceKind = ResourceKind::ClusterExternalSecret;
    const FIELD_MANAGER: &'static str = "akvsync-clusterexternalsecret";
    const NOT_OWNED: &'static str = "external secret already exists in namespace";

    fn refresh_time(&self) -> Option<&str> {
        self.spec.refresh_time.as_deref()
    }

    fn child_name(&self) -> String {
        self.spec
            .external_secret_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    fn child_metadata(&self) -> ExternalSecretMetadata {
        self.spec
            .external_secret_metadata
            .clone()
            .unwrap_or_default()
    }

    fn child_spec(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec.external_secret_spec)
            .expect("an ExternalSecret spec serializes")
    }

    /// By name, or by any of its selectors.
    fn selected(
        &self,
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> BTreeSet<String> {
        let names: BTreeSet<&String> = self.spec.namespaces.iter().flatten().collect();
        let selectors: Vec<_> = self
            .spec
            .namespace_selector
            .iter()
            .chain(self.spec.namespace_selectors.iter().flatten())
            .collect();
        namespaces
            .iter()
            .filter(|(name, labels)| {
                names.contains(name)
                    || selectors
                        .iter()
                        .any(|selector| selector_matches(selector, labels))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn recorded(&self) -> FanOutStatus {
        let status = self.status.clone().unwrap_or_default();
        FanOutStatus {
            child_name: status.external_secret_name,
            failed: status.failed_namespaces,
            provisioned: status.provisioned_namespaces,
            conditions: status.conditions,
        }
    }

    fn status(status: FanOutStatus) -> ClusterExternalSecretStatus {
        ClusterExternalSecretStatus {
            external_secret_name: status.child_name,
            failed_namespaces: status.failed,
            provisioned_namespaces: status.provisioned,
            conditions: status.conditions,
        }
    }

    /// Its template references a ClusterSecretStore of another controller class.
    fn foreign(&self, shared: &Shared) -> bool {
        shared
            .stores
            .uses_foreign(&self.spec.external_secret_spec, "", true)
    }
}
