//! What the metrics are about: label names and values, resource and store kinds, reconcile
//! outcomes, write verbs, and the label granularity.

/// Label of the resource name (ESO's spelling).
pub const LABEL_NAME: &str = "name";
/// Label of the resource namespace; `""` for cluster-scoped resources.
pub const LABEL_NAMESPACE: &str = "namespace";
/// Label of the condition type in `*_status_condition`.
pub const LABEL_CONDITION: &str = "condition";
/// Label of the condition status (`True` / `False`) in `*_status_condition`.
pub const LABEL_STATUS: &str = "status";
/// The only condition type akvsync reports, as ESO does.
pub const CONDITION_READY: &str = "Ready";
/// Condition status values.
pub const STATUS_TRUE: &str = "True";
pub const STATUS_FALSE: &str = "False";

/// Whether per-resource metrics carry the resource name (ESO) or aggregate per namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsGranularity {
    /// `name` and `namespace` labels, as ESO: one series per resource.
    #[default]
    PerResource,
    /// `name` is always `""`: one series per namespace, bounded by the number of namespaces.
    PerNamespace,
}

/// The kinds of resources akvsync reconciles; each maps to ESO's metric prefix and
/// controller-runtime `controller` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    ExternalSecret,
    ClusterExternalSecret,
    SecretStore,
    ClusterSecretStore,
    PushSecret,
    ClusterPushSecret,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::ExternalSecret,
        ResourceKind::ClusterExternalSecret,
        ResourceKind::SecretStore,
        ResourceKind::ClusterSecretStore,
        ResourceKind::PushSecret,
        ResourceKind::ClusterPushSecret,
    ];

    /// ESO's metric prefix and controller-runtime `controller` label value.
    pub fn controller(self) -> &'static str {
        match self {
            ResourceKind::ExternalSecret => "externalsecret",
            ResourceKind::ClusterExternalSecret => "clusterexternalsecret",
            ResourceKind::SecretStore => "secretstore",
            ResourceKind::ClusterSecretStore => "clustersecretstore",
            ResourceKind::PushSecret => "pushsecret",
            ResourceKind::ClusterPushSecret => "clusterpushsecret",
        }
    }

    /// The resource kind of a Kubernetes kind name (`"ExternalSecret"`, …).
    pub fn from_kind(kind: &str) -> Option<ResourceKind> {
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.controller().eq_ignore_ascii_case(kind))
    }

    /// The position of this kind's families in [`ResourceKind::ALL`] order.
    pub(super) fn index(self) -> usize {
        match self {
            ResourceKind::ExternalSecret => 0,
            ResourceKind::ClusterExternalSecret => 1,
            ResourceKind::SecretStore => 2,
            ResourceKind::ClusterSecretStore => 3,
            ResourceKind::PushSecret => 4,
            ResourceKind::ClusterPushSecret => 5,
        }
    }
}

/// Which kind of store a store-level call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    SecretStore,
    ClusterSecretStore,
}

impl From<StoreKind> for ResourceKind {
    fn from(kind: StoreKind) -> Self {
        match kind {
            StoreKind::SecretStore => ResourceKind::SecretStore,
            StoreKind::ClusterSecretStore => ResourceKind::ClusterSecretStore,
        }
    }
}

impl From<akvsync_crds::StoreKind> for ResourceKind {
    fn from(kind: akvsync_crds::StoreKind) -> Self {
        match kind {
            akvsync_crds::StoreKind::SecretStore => ResourceKind::SecretStore,
            akvsync_crds::StoreKind::ClusterSecretStore => ResourceKind::ClusterSecretStore,
        }
    }
}

/// How one reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reconciled, and the resource is Ready.
    Ready,
    /// Reconciled without error, but the resource is not Ready (e.g. waiting for its store).
    NotReady,
    /// The reconcile failed: counted as an error, and the resource is not Ready.
    Failed,
}

/// The verb of a Kubernetes write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteVerb {
    Create,
    Update,
    Patch,
    Delete,
}

impl WriteVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteVerb::Create => "create",
            WriteVerb::Update => "update",
            WriteVerb::Patch => "patch",
            WriteVerb::Delete => "delete",
        }
    }
}

impl From<akvsync_crds::StoreKind> for StoreKind {
    fn from(kind: akvsync_crds::StoreKind) -> Self {
        match kind {
            akvsync_crds::StoreKind::SecretStore => StoreKind::SecretStore,
            akvsync_crds::StoreKind::ClusterSecretStore => StoreKind::ClusterSecretStore,
        }
    }
}
