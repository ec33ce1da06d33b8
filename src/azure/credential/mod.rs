//! Builds (or reuses) the credential a store authenticates with, per ESO's auth dispatch
//! (spec §2): service principal with a client secret or certificate, managed identity, and
//! workload identity from the operator's mounted token or a referenced ServiceAccount.

pub(crate) mod cache;
pub(crate) mod certificate;
mod managed_identity;
pub(crate) mod token;
mod workload;

use std::sync::Arc;

use akvsync_crds::AuthType;
use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use rsa::sha2::{Digest as _, Sha256};

use super::cloud::CloudEndpoints;
use super::error::StoreError;
use super::network::AzureNetwork;
use super::provider_error::credential_message;
use super::secret_ref::{self, Purpose, is_transient_kube_error, kube_message, text};
use super::source::StoreSource;
use cache::{CacheKey, CredentialCache};
use certificate::{CertificateAssertion, ClientCertificate};
use token::TokenOwner;
use workload::{ServiceAccountAssertion, TokenFileAssertion};

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
enum Inputs {
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
    fn fingerprint(&self, authority: &str) -> [u8; 32] {
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

/// The store's credential: from `cache` when the same inputs were resolved before for this
/// (store, namespace), else newly built and cached.
pub(crate) async fn credential_for(
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    kube: &kube::Client,
    network: &AzureNetwork,
    endpoints: &CloudEndpoints,
    cache: &CredentialCache,
) -> Result<Arc<dyn TokenCredential>, StoreError> {
    let inputs = resolve_inputs(store, consumer_namespace, kube, network).await?;
    let authority = network.effective_authority_host(&endpoints.authority_host);
    let key = CacheKey {
        store: store.id(),
        namespace: store
            .default_namespace(consumer_namespace)
            .map(str::to_owned),
        fingerprint: inputs.fingerprint(&authority),
    };
    let owner = TokenOwner {
        kind: store.kind,
        namespace: store.namespace.clone().unwrap_or_default(),
        name: store.name.clone(),
    };
    cache.get_or_try_insert(key, owner, || {
        build(inputs, store, kube, network, endpoints)
    })
}

async fn resolve_inputs(
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
            match (&auth.client_secret, &auth.client_certificate) {
                (None, None) => Err(StoreError::config(MISSING_CREDENTIALS)),
                (Some(_), Some(_)) => Err(StoreError::config(BOTH_CREDENTIALS)),
                (Some(secret_ref), None) => {
                    let client_id = secret_ref::resolve(
                        kube,
                        store,
                        consumer_namespace,
                        client_id_ref,
                        Purpose::ClientId,
                    )
                    .await?;
                    let secret = secret_ref::resolve(
                        kube,
                        store,
                        consumer_namespace,
                        secret_ref,
                        Purpose::ClientSecret,
                    )
                    .await?;
                    Ok(Inputs::ClientSecret {
                        tenant,
                        client_id: text(&client_id, "the client id")?,
                        secret: Secret::new(text(&secret, "the client secret")?),
                    })
                }
                (None, Some(certificate_ref)) => {
                    let client_id = secret_ref::resolve(
                        kube,
                        store,
                        consumer_namespace,
                        client_id_ref,
                        Purpose::ClientId,
                    )
                    .await?;
                    let data = secret_ref::resolve(
                        kube,
                        store,
                        consumer_namespace,
                        certificate_ref,
                        Purpose::ClientCertificate,
                    )
                    .await?;
                    let certificate = ClientCertificate::parse(data.expose()).map_err(|e| {
                        StoreError::config(format!(
                            "failed to get oauth token from certificate auth: {e}"
                        ))
                    })?;
                    Ok(Inputs::ClientCertificate {
                        tenant,
                        client_id: text(&client_id, "the client id")?,
                        certificate,
                    })
                }
            }
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

fn build(
    inputs: Inputs,
    store: &StoreSource,
    kube: &kube::Client,
    network: &AzureNetwork,
    endpoints: &CloudEndpoints,
) -> Result<Arc<dyn TokenCredential>, StoreError> {
    let options = network.credential_client_options(&endpoints.authority_host);
    let authority = network.effective_authority_host(&endpoints.authority_host);
    let invalid = |e: azure_core::Error| StoreError::config(credential_message(&e));
    let assertion_options = || {
        Some(ClientAssertionCredentialOptions {
            client_options: options.clone(),
        })
    };
    let credential: Arc<dyn TokenCredential> = match inputs {
        Inputs::ClientSecret {
            tenant,
            client_id,
            secret,
        } => ClientSecretCredential::new(
            &tenant,
            client_id,
            secret,
            Some(ClientSecretCredentialOptions {
                client_options: options.clone(),
            }),
        )
        .map_err(invalid)?,
        Inputs::ClientCertificate {
            tenant,
            client_id,
            certificate,
        } => {
            let token_url = format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            );
            ClientAssertionCredential::new(
                tenant,
                client_id.clone(),
                CertificateAssertion {
                    certificate,
                    client_id,
                    token_url,
                },
                assertion_options(),
            )
            .map_err(invalid)?
        }
        Inputs::ManagedIdentity { identity_id } => match network.managed_identity_endpoint() {
            Some(endpoint) => Arc::new(
                managed_identity::AppServiceManagedIdentity::new(
                    &endpoint,
                    identity_id,
                    network.http().clone(),
                )
                .map_err(StoreError::config)?,
            ),
            None => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: identity_id.map(UserAssignedId::ClientId),
                client_options: network.vault_client_options(),
            }))
            .map_err(invalid)?,
        },
        Inputs::TokenFile {
            tenant,
            client_id,
            path,
        } => ClientAssertionCredential::new(
            tenant,
            client_id,
            TokenFileAssertion { path: path.into() },
            assertion_options(),
        )
        .map_err(invalid)?,
        Inputs::ServiceAccount {
            tenant,
            client_id,
            namespace,
            name,
            audiences,
        } => ClientAssertionCredential::new(
            tenant,
            client_id,
            ServiceAccountAssertion::new(kube.clone(), namespace, name, audiences),
            assertion_options(),
        )
        .map_err(invalid)?,
    };
    tracing::debug!(store = %store.id(), "built a new Azure credential");
    Ok(credential)
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
