//! Client assertions for workload identity: the operator's mounted token file (re-read on every
//! use, so a rotated file is picked up) and a referenced ServiceAccount's token from the
//! TokenRequest API (cached until shortly before it expires: one TokenRequest per lifetime).

use std::path::PathBuf;
use std::time::Duration;

use azure_core::credentials::Secret;
use azure_core::error::ErrorKind;
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

use crate::azure::secret_ref::kube_message;

/// A service-account token is reused until this long before it expires (and never past 80% of
/// its lifetime), so Entra always receives an assertion with time left on it.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// The mounted federated token file (`AZURE_FEDERATED_TOKEN_FILE`).
#[derive(Debug)]
pub(crate) struct TokenFileAssertion {
    pub path: PathBuf,
}

#[async_trait::async_trait]
impl ClientAssertion for TokenFileAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        // Read on every call: the assertion is only asked for when a new Azure token is needed,
        // and the kubelet rotates the file in place.
        let token = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
            azure_core::Error::with_error(
                ErrorKind::Credential,
                e,
                format!("unable to read token file {}", self.path.display()),
            )
        })?;
        Ok(token.trim().to_owned())
    }
}

/// A token for `namespace/name` with `audiences`, from the TokenRequest API.
pub(crate) struct ServiceAccountAssertion {
    pub kube: kube::Client,
    pub namespace: String,
    pub name: String,
    pub audiences: Vec<String>,
    cached: tokio::sync::Mutex<Option<(Secret, std::time::Instant)>>,
}

impl std::fmt::Debug for ServiceAccountAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAssertion")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountAssertion {
    pub(crate) fn new(
        kube: kube::Client,
        namespace: String,
        name: String,
        audiences: Vec<String>,
    ) -> Self {
        Self {
            kube,
            namespace,
            name,
            audiences,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn request(&self) -> azure_core::Result<(Secret, std::time::Instant)> {
        let api = Api::<ServiceAccount>::namespaced(self.kube.clone(), &self.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: self.audiences.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let requested_at = std::time::Instant::now();
        let issued_at = chrono::Utc::now();
        let response = api
            .create_token_request(&self.name, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                azure_core::Error::with_message(
                    if crate::azure::secret_ref::is_transient_kube_error(&e) {
                        ErrorKind::Io
                    } else {
                        ErrorKind::Credential
                    },
                    format!(
                        "cannot create a token for service account {:?} in namespace {:?}: {}",
                        self.name,
                        self.namespace,
                        kube_message(&e)
                    ),
                )
            })?;
        let status = response.status.ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::DataConversion,
                "TokenRequest response has no status",
            )
        })?;
        let seconds_left = status.expiration_timestamp.0.as_second() - issued_at.timestamp();
        let lifetime = Duration::from_secs(u64::try_from(seconds_left).unwrap_or(0));
        let reuse_for = lifetime
            .saturating_sub(TOKEN_REFRESH_MARGIN)
            .min(lifetime.mul_f64(0.8));
        Ok((Secret::new(status.token), requested_at + reuse_for))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for ServiceAccountAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, reuse_until)) = cached.as_ref()
            && std::time::Instant::now() < *reuse_until
        {
            return Ok(token.secret().to_owned());
        }
        let (token, reuse_until) = self.request().await?;
        let value = token.secret().to_owned();
        *cached = Some((token, reuse_until));
        Ok(value)
    }
}
