//! ClusterPushSecrets: one PushSecret per namespace its selectors match, through the
//! [`FanOut`] reconciler.

use std::collections::{BTreeMap, BTreeSet};

use akvsync_crds::{
    ClusterPushSecret, ClusterPushSecretStatus, ExternalSecretMetadata, PushSecret,
};

use super::fan_out::{FanOut, FanOutReconciler, FanOutStatus};
use super::namespaces::selector_matches;
use crate::observability::ResourceKind;

pub type ClusterPushSecretReconciler = FanOutReconciler<ClusterPushSecret>;

impl FanOut for ClusterPushSecret {
    type Child = PushSecret;
    type Status = ClusterPushSecretStatus;

    const KIND: ResourceKind = ResourceKind::ClusterPushSecret;
    const FIELD_MANAGER: &'static str = "akvsync-clusterpushsecret";
    const NOT_OWNED: &'static str = "push secret already exists in namespace";

    fn refresh_time(&self) -> Option<&str> {
        self.spec.refresh_time.as_deref()
    }

    fn child_name(&self) -> String {
        self.spec
            .push_secret_name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    fn child_metadata(&self) -> ExternalSecretMetadata {
        self.spec.push_secret_metadata.clone().unwrap_or_default()
    }

    fn child_spec(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec.push_secret_spec).expect("a PushSecret spec serializes")
    }

    fn selected(
        &self,
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> BTreeSet<String> {
        let selectors = self.spec.namespace_selectors.as_deref().unwrap_or_default();
        namespaces
            .iter()
            .filter(|(_, labels)| {
                selectors
                    .iter()
                    .any(|selector| selector_matches(selector, labels))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn recorded(&self) -> FanOutStatus {
        let status = self.status.clone().unwrap_or_default();
        FanOutStatus {
            child_name: status.push_secret_name,
            failed: status.failed_namespaces,
            provisioned: status.provisioned_namespaces,
            conditions: status.conditions,
        }
    }

    fn status(status: FanOutStatus) -> ClusterPushSecretStatus {
        ClusterPushSecretStatus {
            push_secret_name: status.child_name,
            failed_namespaces: status.failed,
            provisioned_namespaces: status.provisioned,
            conditions: status.conditions,
        }
    }
}
