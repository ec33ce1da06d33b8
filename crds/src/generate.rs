//! The CustomResourceDefinitions for every kind in this crate, as objects and as the YAML that
//! `akvsync crds` prints and `crds/external-secrets.io.yaml` holds.
//!
//! The committed file is generated, never edited: regenerate it with
//! `cargo run -q -- crds > crds/external-secrets.io.yaml` (or, without the root CLI,
//! `cargo run -q -p akvsync-crds --example crdgen > crds/external-secrets.io.yaml`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{
    AcrAccessToken, ClusterExternalSecret, ClusterGenerator, ClusterPushSecret, ClusterSecretStore,
    ExternalSecret, Password, PushSecret, SecretStore, Uuid,
};

/// The older API version in which SecretStore and ClusterSecretStore are also served, with a
/// schema identical to `v1` for everything akvsync reads (the `None` conversion strategy is
/// lossless between them).
pub const STORE_LEGACY_VERSION: &str = "v1beta1";

/// All CRDs, in a fixed order: the `external-secrets.io` kinds, then the generators, each group
/// alphabetical by kind as ESO's bundle.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        ClusterExternalSecret::crd(),
        ClusterPushSecret::crd(),
        with_legacy_store_version(ClusterSecretStore::crd()),
        ExternalSecret::crd(),
        PushSecret::crd(),
        with_legacy_store_version(SecretStore::crd()),
        AcrAccessToken::crd(),
        ClusterGenerator::crd(),
        Password::crd(),
        Uuid::crd(),
    ]
}

/// All CRDs as one multi-document YAML stream, each document starting with `---`.
pub fn crds_yaml() -> String {
    all_crds()
        .iter()
        .map(|crd| {
            let yaml = serde_yaml::to_string(crd)
                .expect("a CustomResourceDefinition always serializes to YAML");
            format!("---\n{yaml}")
        })
        .collect()
}

/// Adds the served, non-storage `v1beta1` version next to `v1` (which stays the storage version).
fn with_legacy_store_version(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut legacy = crd.spec.versions[0].clone();
    legacy.name = STORE_LEGACY_VERSION.to_owned();
    legacy.storage = false;
    legacy.served = true;
    crd.spec.versions.push(legacy);
    crd
}
