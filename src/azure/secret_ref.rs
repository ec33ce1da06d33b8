//! Reads the Kubernetes Secret keys a store references, with ESO's namespace rules and messages.

use akvsync_actors::remote::SecretBytes;
use akvsync_crds::meta::SecretKeySelector;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::error::StoreError;
use super::source::StoreSource;

/// What a reference is for, used as ESO's new-SDK message prefix (`failed to get clientID: `).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    ClientId,
    ClientSecret,
    ClientCertificate,
    TenantId,
}

impl Purpose {
    fn prefix(self) -> &'static str {
        match self {
            Purpose::ClientId => "failed to get clientID: ",
            Purpose::ClientSecret => "failed to get clientSecret: ",
            Purpose::ClientCertificate => "failed to get clientCertificate: ",
            Purpose::TenantId => "failed to get tenantID: ",
        }
    }
}

/// The value of one key of a referenced Secret.
pub(crate) async fn resolve(
    kube: &kube::Client,
    store: &StoreSource,
    consumer_namespace: Option<&str>,
    selector: &SecretKeySelector,
    purpose: Purpose,
) -> Result<SecretBytes, StoreError> {
    let prefix = if store.provider.use_azure_sdk.unwrap_or(false) {
        purpose.prefix()
    } else {
        ""
    };
    let name = selector.name.as_deref().unwrap_or_default();
    let key = selector.key.as_deref().unwrap_or_default();
    let Some(namespace) =
        store.reference_namespace(selector.namespace.as_deref(), consumer_namespace)
    else {
        return Err(StoreError::config(format!(
            "{prefix}cannot get Kubernetes secret {name:?}: the ClusterSecretStore reference has no namespace and there is no consumer namespace (referent authentication resolves credentials per ExternalSecret namespace)"
        )));
    };
    let secret = Api::<Secret>::namespaced(kube.clone(), namespace)
        .get(name)
        .await
        .map_err(|error| StoreError::ResolveReference {
            message: format!(
                "{prefix}cannot get Kubernetes secret {name:?} from namespace {namespace:?}: {}",
                kube_message(&error)
            ),
            transient: is_transient_kube_error(&error),
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(|bytes| bytes.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|s| s.as_bytes().to_vec())
        })
        .ok_or_else(|| {
            StoreError::config(format!("{prefix}cannot find secret data for key: {key:?}"))
        })?;
    Ok(SecretBytes::from(value))
}

/// The API server's own message (`secrets "x" not found`), as ESO shows it.
pub(crate) fn kube_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Not found, forbidden and invalid requests need a change; everything else may pass later.
pub(crate) fn is_transient_kube_error(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => !matches!(status.code, 400 | 401 | 403 | 404 | 422),
        _ => true,
    }
}

/// A Secret value as UTF-8 text, trimmed of surrounding whitespace (ids and secrets typed with
/// `echo` carry a trailing newline).
pub(crate) fn text(value: &SecretBytes, what: &str) -> Result<String, StoreError> {
    std::str::from_utf8(value.expose())
        .map(|s| s.trim().to_owned())
        .map_err(|_| StoreError::config(format!("{what} is not valid UTF-8")))
}
