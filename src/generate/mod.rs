//! Generators: values made by the operator instead of read from a vault. A `generatorRef`
//! resolves to a [`Generator`] as ESO's resolver does (the same group check, kinds and
//! messages); akvsync runs `Password`, `UUID`, `ACRAccessToken`, and `ClusterGenerator`s of
//! those kinds.

pub mod acr;
pub mod password;

use std::collections::BTreeMap;

use akvsync_crds::generators::{GENERATORS_API_VERSION, GENERATORS_GROUP};
use akvsync_crds::{
    AcrAccessToken, AcrAccessTokenSpec, ClusterGenerator, GeneratorRef, Password, PasswordSpec,
    Uuid,
};
use kube::{Api, Client};

use crate::azure::secret_ref::kube_message;

pub use acr::{AcrError, AcrTokens};
pub use password::PasswordError;

/// The version of the generators group ESO serves.
const GENERATORS_VERSION: &str = "v1alpha1";

/// Generator kinds ESO runs and akvsync does not.
const KINDS_NOT_RUN: &[&str] = &[
    "BeyondtrustWorkloadCredentialsDynamicSecret",
    "CloudsmithAccessToken",
    "ECRAuthorizationToken",
    "Fake",
    "GCRAccessToken",
    "GithubAccessToken",
    "GitlabDeployToken",
    "Grafana",
    "MFA",
    "QuayAccessToken",
    "SSHKey",
    "STSSessionToken",
    "VaultDynamicSecret",
    "Webhook",
];

/// A resolved generator, ready to make values.
#[derive(Clone, Debug, PartialEq)]
pub enum Generator {
    Password(PasswordSpec),
    Uuid,
    /// An ACRAccessToken (or a ClusterGenerator of that kind) by name.
    Acr {
        name: String,
        spec: Box<AcrAccessTokenSpec>,
    },
}

/// Why a generator made no values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Acr(#[from] AcrError),
}

impl Generator {
    /// New values: ESO's keys (`password` or `spec.secretKeys`; `uuid`; `username` and
    /// `password` for a registry token), fresh each call. `namespace` is where the generator's
    /// references resolve.
    pub async fn generate(
        &self,
        kube: &Client,
        namespace: &str,
        acr: &AcrTokens,
    ) -> Result<BTreeMap<String, Vec<u8>>, GenerateError> {
        match self {
            Generator::Password(spec) => Ok(password::generate(spec)?),
            Generator::Uuid => Ok(new_uuid()),
            Generator::Acr { name, spec } => Ok(acr.generate(kube, namespace, name, spec).await?),
        }
    }
}

/// ESO's UUID generator: a random version-4 UUID under the key `uuid`.
fn new_uuid() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([(
        "uuid".to_owned(),
        uuid::Uuid::new_v4().to_string().into_bytes(),
    )])
}

/// Why a generator made no values, in the ExternalSecret controller's words; a PushSecret words
/// them its own way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenerateFailure {
    #[error("unable to get generator: {0}")]
    Resolve(ResolveError),
    #[error("error using generator: {0}")]
    Generate(GenerateError),
}

/// New values from the generator `reference` names, resolved in `namespace`.
pub async fn generate(
    client: &Client,
    namespace: &str,
    reference: &GeneratorRef,
    acr: &AcrTokens,
) -> Result<BTreeMap<String, Vec<u8>>, GenerateFailure> {
    let generator = resolve(client, namespace, reference)
        .await
        .map_err(GenerateFailure::Resolve)?;
    generator
        .generate(client, namespace, acr)
        .await
        .map_err(GenerateFailure::Generate)
}

/// Why a `generatorRef` did not resolve; the text follows ESO's `unable to get generator: `.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("generatorRef has invalid APIVersion: unexpected GroupVersion string: {0}")]
    ApiVersion(String),
    #[error("generatorRef may only reference the generators group, but got {0}")]
    Group(String),
    #[error("generatorRef references unknown GVK {group}/{version}, Kind={kind}")]
    UnknownKind {
        group: String,
        version: String,
        kind: String,
    },
    #[error("invalid ClusterGenerator: unknown kind {0}")]
    UnknownClusterKind(String),
    #[error("invalid ClusterGenerator: when kind is {kind}, {field} must be set")]
    MissingSpec { kind: String, field: &'static str },
    #[error(
        "generator kind {0} is not supported by akvsync yet: it runs Password, UUID, ACRAccessToken and ClusterGenerators of those kinds"
    )]
    NotRun(String),
    /// The API server's answer to reading the generator (`passwords.generators… "x" not found`).
    #[error("{0}")]
    Get(String),
}

/// Reads the generator `reference` names, in `namespace` unless it is a ClusterGenerator.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    reference: &GeneratorRef,
) -> Result<Generator, ResolveError> {
    let kind = checked_kind(reference)?;
    let get = |error: kube::Error| ResolveError::Get(kube_message(&error));
    match kind {
        Kind::Password => {
            let api: Api<Password> = Api::namespaced(client.clone(), namespace);
            let password = api.get(&reference.name).await.map_err(get)?;
            Ok(Generator::Password(password.spec))
        }
        Kind::Uuid => {
            let api: Api<Uuid> = Api::namespaced(client.clone(), namespace);
            api.get(&reference.name).await.map_err(get)?;
            Ok(Generator::Uuid)
        }
        Kind::Acr => {
            let api: Api<AcrAccessToken> = Api::namespaced(client.clone(), namespace);
            let token = api.get(&reference.name).await.map_err(get)?;
            Ok(Generator::Acr {
                name: reference.name.clone(),
                spec: Box::new(token.spec),
            })
        }
        Kind::Cluster => {
            let api: Api<ClusterGenerator> = Api::all(client.clone());
            let cluster = api.get(&reference.name).await.map_err(get)?;
            from_cluster(&reference.name, cluster)
        }
    }
}

enum Kind {
    Password,
    Uuid,
    Acr,
    Cluster,
}

/// ESO's checks on the reference itself, before any read.
fn checked_kind(reference: &GeneratorRef) -> Result<Kind, ResolveError> {
    let api_version = reference
        .api_version
        .as_deref()
        .unwrap_or(GENERATORS_API_VERSION);
    // Go's schema.ParseGroupVersion: "" is empty, "v1" is the core group, "g/v" is a group.
    let (group, version) = match api_version.split('/').collect::<Vec<_>>()[..] {
        [""] => ("", ""),
        [version] => ("", version),
        [group, version] => (group, version),
        _ => return Err(ResolveError::ApiVersion(api_version.to_owned())),
    };
    if group != GENERATORS_GROUP {
        return Err(ResolveError::Group(group.to_owned()));
    }
    let unknown = || ResolveError::UnknownKind {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: reference.kind.clone(),
    };
    if version != GENERATORS_VERSION {
        return Err(unknown());
    }
    match reference.kind.as_str() {
        "Password" => Ok(Kind::Password),
        "UUID" => Ok(Kind::Uuid),
        "ACRAccessToken" => Ok(Kind::Acr),
        "ClusterGenerator" => Ok(Kind::Cluster),
        kind if KINDS_NOT_RUN.contains(&kind) => Err(ResolveError::NotRun(kind.to_owned())),
        _ => Err(unknown()),
    }
}

/// ESO's "virtual" namespaced generator for a ClusterGenerator.
fn from_cluster(name: &str, cluster: ClusterGenerator) -> Result<Generator, ResolveError> {
    let spec = cluster.spec;
    let missing = |field| ResolveError::MissingSpec {
        kind: spec.kind.clone(),
        field,
    };
    match spec.kind.as_str() {
        "Password" => spec
            .generator
            .password_spec
            .clone()
            .map(Generator::Password)
            .ok_or_else(|| missing("PasswordSpec")),
        "UUID" => spec
            .generator
            .uuid_spec
            .as_ref()
            .map(|_| Generator::Uuid)
            .ok_or_else(|| missing("UUIDSpec")),
        "ACRAccessToken" => spec
            .generator
            .acr_access_token_spec
            .clone()
            .map(|acr| Generator::Acr {
                name: name.to_owned(),
                spec: Box::new(acr),
            })
            .ok_or_else(|| missing("ACRAccessTokenSpec")),
        kind if KINDS_NOT_RUN.contains(&kind) => Err(ResolveError::NotRun(kind.to_owned())),
        kind => Err(ResolveError::UnknownClusterKind(kind.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(api_version: Option<&str>, kind: &str) -> GeneratorRef {
        GeneratorRef {
            api_version: api_version.map(str::to_owned),
            kind: kind.to_owned(),
            name: "g".to_owned(),
        }
    }

    #[test]
    fn references_are_checked_with_esos_words() {
        let cases = [
            (
                Some("external-secrets.io/v1"),
                "Password",
                "generatorRef may only reference the generators group, but got external-secrets.io",
            ),
            (
                Some("a/b/c"),
                "Password",
                "generatorRef has invalid APIVersion: unexpected GroupVersion string: a/b/c",
            ),
            (
                Some("generators.external-secrets.io/v1"),
                "Password",
                "generatorRef references unknown GVK generators.external-secrets.io/v1, Kind=Password",
            ),
            (
                None,
                "Banana",
                "generatorRef references unknown GVK generators.external-secrets.io/v1alpha1, Kind=Banana",
            ),
            (
                None,
                "ECRAuthorizationToken",
                "generator kind ECRAuthorizationToken is not supported by akvsync yet",
            ),
        ];
        for (api_version, kind, message) in cases {
            let error = checked_kind(&reference(api_version, kind))
                .err()
                .unwrap()
                .to_string();
            assert!(error.starts_with(message), "{kind}: {error}");
        }
        assert!(matches!(
            checked_kind(&reference(None, "UUID")),
            Ok(Kind::Uuid)
        ));
    }

    #[test]
    fn a_cluster_generator_needs_the_spec_of_its_kind() {
        let cluster = |json: serde_json::Value| {
            from_cluster(
                "g",
                ClusterGenerator::new("g", serde_json::from_value(json).unwrap()),
            )
        };
        assert_eq!(
            cluster(serde_json::json!({"kind": "Password", "generator": {"uuidSpec": {}}}))
                .unwrap_err()
                .to_string(),
            "invalid ClusterGenerator: when kind is Password, PasswordSpec must be set"
        );
        assert_eq!(
            cluster(serde_json::json!({"kind": "UUID", "generator": {"uuidSpec": {}}})).unwrap(),
            Generator::Uuid
        );
        assert_eq!(
            cluster(serde_json::json!({"kind": "Nope", "generator": {}}))
                .unwrap_err()
                .to_string(),
            "invalid ClusterGenerator: unknown kind Nope"
        );
        assert!(matches!(
            cluster(serde_json::json!({"kind": "SSHKey", "generator": {"sshKeySpec": {}}})),
            Err(ResolveError::NotRun(_))
        ));
    }

    #[test]
    fn a_uuid_is_a_random_version_4_uuid() {
        let first = new_uuid();
        let second = new_uuid();
        let text = String::from_utf8(first["uuid"].clone()).unwrap();
        let parsed = uuid::Uuid::parse_str(&text).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(text, text.to_lowercase());
        assert_ne!(first, second);
    }
}
