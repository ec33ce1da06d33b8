//! What this operator watches and serves: ESO's `--namespace` and `--enable-…-reconciler` flags.

use kube::api::Api;
use kube::runtime::watcher;

/// The watches the supervisor runs, in the order it starts them.
pub const ALL_WATCHES: [&str; 8] = [
    "secretstores",
    "clustersecretstores",
    "externalsecrets",
    "clusterexternalsecrets",
    "pushsecrets",
    "clusterpushsecrets",
    "namespaces",
    "secrets",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Watch namespaced resources (stores, ExternalSecrets, PushSecrets, Secrets) in this
    /// namespace only; `None` watches every namespace.
    pub namespace: Option<String>,
    /// Serve ClusterSecretStores. Without them, as in ESO, an ExternalSecret whose
    /// `secretStoreRef` names a ClusterSecretStore is left alone.
    pub cluster_stores: bool,
    pub cluster_external_secrets: bool,
    pub push_secrets: bool,
    pub cluster_push_secrets: bool,
    /// Write `spec.target.manifest` targets (ConfigMaps, other kinds) instead of refusing them
    /// (ESO's `--unsafe-allow-generic-targets`).
    pub generic_targets: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            namespace: None,
            cluster_stores: true,
            cluster_external_secrets: true,
            push_secrets: true,
            cluster_push_secrets: true,
            generic_targets: false,
        }
    }
}

impl Scope {
    /// Whether the supervisor runs the watch `name` (one of [`ALL_WATCHES`]).
    pub fn watches(&self, name: &str) -> bool {
        match name {
            "clustersecretstores" => self.cluster_stores,
            "clusterexternalsecrets" => self.cluster_external_secrets,
            "pushsecrets" => self.push_secrets,
            "clusterpushsecrets" => self.cluster_push_secrets,
            // Namespace labels select ClusterSecretStores' namespaces and the namespaces of a
            // ClusterExternalSecret or ClusterPushSecret; nothing else reads them.
            "namespaces" => {
                self.cluster_stores || self.cluster_external_secrets || self.cluster_push_secrets
            }
            _ => true,
        }
    }

    /// The watches the supervisor runs; it is synced when each has listed once.
    pub fn watch_names(&self) -> Vec<&'static str> {
        ALL_WATCHES
            .into_iter()
            .filter(|name| self.watches(name))
            .collect()
    }

    /// The API of a namespaced kind within the scope.
    pub fn namespaced_api<K>(&self, client: kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(client, namespace),
            None => Api::all(client),
        }
    }

    /// The namespaces watch: every namespace, or only the scoped one.
    pub fn namespaces_watch(&self) -> watcher::Config {
        match &self.namespace {
            Some(namespace) => {
                watcher::Config::default().fields(&format!("metadata.name={namespace}"))
            }
            None => watcher::Config::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scope_runs_every_watch() {
        assert_eq!(Scope::default().watch_names(), ALL_WATCHES);
    }

    #[test]
    fn a_scope_without_cluster_kinds_or_push_secrets_drops_their_watches_and_the_namespaces() {
        let scope = Scope {
            namespace: Some("team-a".into()),
            cluster_stores: false,
            cluster_external_secrets: false,
            push_secrets: false,
            cluster_push_secrets: false,
            generic_targets: false,
        };
        assert_eq!(
            scope.watch_names(),
            ["secretstores", "externalsecrets", "secrets"]
        );
        let only_cluster_stores = Scope {
            cluster_stores: true,
            ..scope
        };
        assert!(only_cluster_stores.watches("namespaces"));
        assert!(!only_cluster_stores.watches("clusterexternalsecrets"));
    }
}
