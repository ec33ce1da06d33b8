//! Resolves what a store's credential is built from: its auth type's references (Secrets, a
//! ServiceAccount, the operator's environment), checked as ESO checks them, into [`Inputs`]
//! whose fingerprint keys the credential cache.

use akvsync_crds::AuthType;
use azure_core::credentials::Secret;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use rsa::sha2::{Digest as _, Sha256};

use super::certificate::{self, ClientCertificate};
use crate::azure::error::StoreError;
use crate::azure::network::AzureNetwork;
use crate::azure::secret_ref::{self, Purpose, is_transient_kube_error, kube_message, text};
use crate::azure::source::StoreSource;

/// The audience Entra requires on federated service-account tokens.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// ServiceAccount annotations set by Azure Workload Identity.
pub const ANNOTATION_CLIENT_ID: &str = "azure.workload.identity/client-id";
pub const ANNOTATION_TENANT_ID: &str = "azure.workload.identity/tenant-id";

const MISSING_TENANT: &str = "missing tenantID in store config";
const MISSING_SECRET_REF: &str = "missing secretRef in provider config";
const MISSING_CREDENTIALS: &str = "missing accessKeyID/secretAccessKey in store config";
const BOTH_CREDENTIALS: &str = "both clientSecret and clientCredentials set";
const MISSING_WI_ENV: &str = "missing environment variables. AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE must be set";
const MISSING_WI_CLIENT_ID: &str = "missing clientID: either serviceAccountRef or service account annotation 'azure.workload.identity/client-id' is missing";

/// Everything a credential is built from; hashed into the cache key.
pub(super) enum Inputs {
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: Secret,
    },
    ClientCertificate {
        tenant: String,
        client_id: String,
        certificate: ClientCertificate,
    },
    ManagedIdentity {
        identity_id: Option<String>,
    },
    TokenFile {
        tenant: String,
        client_id: String,
        path: String,
    },
    ServiceAccount {
        tenant: String,
        client_id: String,
        namespace: String,
        name: String,
        audiences: Vec<String>,
    },
}

impl Inputs {
    pub(super) fn fingerprint(&self, authority: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        let mut part = |value: &[u8]| {
            hash.update((value.len() as u64).to_be_bytes());
            hash.update(value);
        };
        part(authority.as_bytes());
        match self {
            Inputs::ClientSecret {
                tenant,
                client_id,
                secret,
            } => {
                part(b"client-secret");
                part(tenant.as_bytes());
                part(client_id.as_bytes());
                part(secret.secret().as_bytes());
            }
            Inputs::ClientCertificate {
                tenant,
                client_id,
                certificate,
            } => {
                part(b"client-certificate");
                part(tenant.as_bytes());
                part(client_id.as_bytes());
                part(&certificate::leaf_sha256(certificate));
            }
            Inputs::ManagedIdentity { identity_id } => {
                part(b"managed-identity");
                part(identity_id.as_deref().unwrap_or_default().as_bytes());
            }
            Inputs::TokenFile {
                tenant,
                client_id,
                path,
            } => {
                part(b"token-file");
                part(tenant.as_bytes());
                part(client_id.as_bytes());
                part(path.as_bytes());
            }
            Inputs::ServiceAccount {
                tenant,
                client_id,
                namespace,
                name,
                audiences,
            } => {
                part(b"service-account");
                part(tenant.as_bytes());
                part(client_id.as_bytes());
                part(namespace.as_bytes());
                part(name.as_bytes());
                for audience in audiences {
                    part(audience.as_bytes());
                }
            }
        }
        hash.finalize().into()
    }
}

/// The inputs of `store`'s credential, its references resolved for `consumer_namespace`.
pub(super) async fn resolve_inputs(
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    kube: &kube::Client,
    network: &AzureNetwork,
) -> Result<Inputs, StoreError> {
    let provider = &store.provider;
    match provider.auth_type_or_default() {
        AuthType::ServicePrincipal => {
            let tenant = provider
                .tenant_id
                .clone()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| StoreError::config(MISSING_TENANT))?;
            let auth = provider
                .auth_secret_ref
                .as_ref()
                .ok_or_else(|| StoreError::config(MISSING_SECRET_REF))?;
            let Some(client_id_ref) = &auth.client_id else {
                return Err(StoreError::config(MISSING_CREDENTIALS));
            };
            let (credential_ref, purpose) = match (&auth.client_secret, &auth.client_certificate) {
                (None, None) => return Err(StoreError::config(MISSING_CREDENTIALS)),
                (Some(_), Some(_)) => return Err(StoreError::config(BOTH_CREDENTIALS)),
                (Some(secret_ref), None) => (secret_ref, Purpose::ClientSecret),
                (None, Some(certificate_ref)) => (certificate_ref, Purpose::ClientCertificate),
            };
            let resolve = |selector, purpose| {
                secret_ref::resolve(kube, store, consumer_namespace, selector, purpose)
            };
            let client_id = resolve(client_id_ref, Purpose::ClientId).await?;
            let credential = resolve(credential_ref, purpose).await?;
            let client_id = text(&client_id, "the client id")?;
            if matches!(purpose, Purpose::ClientSecret) {
                let secret = Secret::new(text(&credential, "the client secret")?);
                return Ok(Inputs::ClientSecret {
                    tenant,
                    client_id,
                    secret,
                });
            }
            let certificate = ClientCertificate::parse(credential.expose()).map_err(|e| {
                StoreError::config(format!(
                    "failed to get oauth token from certificate auth: {e}"
                ))
            })?;
            Ok(Inputs::ClientCertificate {
                tenant,
                client_id,
                certificate,
            })
        }
        AuthType::ManagedIdentity => Ok(Inputs::ManagedIdentity {
            identity_id: provider.identity_id.clone().filter(|i| !i.is_empty()),
        }),
        AuthType::WorkloadIdentity => match &provider.service_account_ref {
            None => {
                let env = network.env();
                let (Some(client_id), Some(tenant), Some(path)) = (
                    env.var("AZURE_CLIENT_ID"),
                    env.var("AZURE_TENANT_ID"),
                    env.var("AZURE_FEDERATED_TOKEN_FILE"),
                ) else {
                    return Err(StoreError::config(MISSING_WI_ENV));
                };
                // Fail at connect, as ESO does, rather than on the first fetch.
                if let Err(error) = tokio::fs::metadata(&path).await {
                    return Err(StoreError::Credential {
                        message: format!("unable to read token file {path}: {error}"),
                        transient: true,
                    });
                }
                Ok(Inputs::TokenFile {
                    tenant,
                    client_id,
                    path,
                })
            }
            Some(reference) => {
                resolve_service_account(store, consumer_namespace, kube, network, reference).await
            }
        },
    }
}

/// Workload identity with `serviceAccountRef`: client and tenant id from the ServiceAccount's
/// annotations, `authSecretRef` and `spec.tenantId`. The same value from two places is fine
/// (ESO's legacy path errors, which breaks a common setup); different values are an error.
async fn resolve_service_account(
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    kube: &kube::Client,
    network: &AzureNetwork,
    reference: &akvsync_crds::meta::ServiceAccountSelector,
) -> Result<Inputs, StoreError> {
    let provider = &store.provider;
    let Some(namespace) =
        store.reference_namespace(reference.namespace.as_deref(), consumer_namespace)
    else {
        return Err(StoreError::config(format!(
            "cannot get service account {:?}: the ClusterSecretStore reference has no namespace and there is no consumer namespace (referent authentication resolves it per ExternalSecret namespace)",
            reference.name
        )));
    };
    let account = Api::<ServiceAccount>::namespaced(kube.clone(), namespace)
        .get(&reference.name)
        .await
        .map_err(|e| StoreError::ResolveReference {
            message: format!(
                "cannot get Kubernetes service account {:?} from namespace {namespace:?}: {}",
                reference.name,
                kube_message(&e)
            ),
            transient: is_transient_kube_error(&e),
        })?;
    let annotations = account.metadata.annotations.unwrap_or_default();
    let annotation = |name: &str| {
        annotations
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };

    let auth = provider.auth_secret_ref.as_ref();
    let secret_client_id = match auth.and_then(|a| a.client_id.as_ref()) {
        Some(selector) => Some(text(
            &secret_ref::resolve(kube, store, consumer_namespace, selector, Purpose::ClientId)
                .await?,
            "the client id",
        )?),
        None => None,
    };
    let client_id = agree(
        "clientID",
        ("authSecretRef.clientId", secret_client_id),
        (
            "the service account annotation 'azure.workload.identity/client-id'",
            annotation(ANNOTATION_CLIENT_ID),
        ),
    )?
    .ok_or_else(|| StoreError::config(MISSING_WI_CLIENT_ID))?;

    let secret_tenant = match auth.and_then(|a| a.tenant_id.as_ref()) {
        Some(selector) => Some(text(
            &secret_ref::resolve(kube, store, consumer_namespace, selector, Purpose::TenantId)
                .await?,
            "the tenant id",
        )?),
        None => None,
    };
    let spec_tenant = provider.tenant_id.clone().filter(|t| !t.is_empty());
    let configured = agree(
        "tenantID",
        ("authSecretRef.tenantId", secret_tenant),
        ("spec.provider.azurekv.tenantId", spec_tenant),
    )?;
    let tenant = agree(
        "tenantID",
        (
            "authSecretRef.tenantId / spec.provider.azurekv.tenantId",
            configured,
        ),
        (
            "the service account annotation 'azure.workload.identity/tenant-id'",
            annotation(ANNOTATION_TENANT_ID),
        ),
    )?
    .or_else(|| network.env().var("AZURE_TENANT_ID"))
    .ok_or_else(|| StoreError::config(MISSING_TENANT))?;

    let default_audience = provider
        .custom_cloud_config
        .as_ref()
        .and_then(|c| c.audience.clone())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| FEDERATED_AUDIENCE.to_owned());
    let mut audiences = vec![default_audience];
    for audience in reference.audiences.iter().flatten() {
        if !audiences.contains(audience) {
            audiences.push(audience.clone());
        }
    }
    Ok(Inputs::ServiceAccount {
        tenant,
        client_id,
        namespace: namespace.to_owned(),
        name: reference.name.clone(),
        audiences,
    })
}

/// One value from two optional sources: equal or single is fine, different is an error.
fn agree(
    what: &str,
    (first_source, first): (&str, Option<String>),
    (second_source, second): (&str, Option<String>),
) -> Result<Option<String>, StoreError> {
    match (first, second) {
        (Some(a), Some(b)) if a != b => Err(StoreError::config(format!(
            "multiple {what} found and they differ: {first_source} is {a:?} but {second_source} is {b:?}; remove one or make them agree"
        ))),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_duplicates_are_accepted_and_disagreeing_ones_are_named() {
        let a = || Some("t1".to_owned());
        assert_eq!(agree("tenantID", ("x", a()), ("y", a())).unwrap(), a());
        assert_eq!(agree("tenantID", ("x", None), ("y", a())).unwrap(), a());
        assert_eq!(agree("tenantID", ("x", a()), ("y", None)).unwrap(), a());
        assert_eq!(agree("tenantID", ("x", None), ("y", None)).unwrap(), None);
        let error = agree("tenantID", ("x", a()), ("y", Some("t2".into()))).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"multiple tenantID found and they differ: x is "t1" but y is "t2"; remove one or make them agree"#
        );
    }
}
