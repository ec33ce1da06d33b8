//! Managed identity through an App Service-shaped endpoint (`IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER`, or the operator's override flag), with the same wire format as
//! `azure_identity`'s App Service source. Ours because the SDK reads those variables only from
//! the process environment, which the operator flag and tests must not rewrite.

use std::collections::HashMap;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::{StatusCode, Url};
use azure_core::time::{Duration, OffsetDateTime};
use serde::Deserialize;

use crate::azure::network::ManagedIdentityEndpoint;

/// The App Service managed identity API version the SDK sends.
const API_VERSION: &str = "2019-08-01";
/// Refresh this long before expiry, as `azure_identity` does.
const REFRESH_MARGIN: Duration = Duration::seconds(300);

/// A managed identity credential for one (optional) user-assigned client id.
pub(crate) struct AppServiceManagedIdentity {
    endpoint: Url,
    header: Secret,
    client_id: Option<String>,
    http: reqwest::Client,
    tokens: tokio::sync::Mutex<HashMap<String, AccessToken>>,
}

impl std::fmt::Debug for AppServiceManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServiceManagedIdentity")
            .field("endpoint", &self.endpoint.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Unix seconds, as a string (App Service) or a number.
    expires_on: serde_json::Value,
}

impl AppServiceManagedIdentity {
    pub(crate) fn new(
        endpoint: &ManagedIdentityEndpoint,
        client_id: Option<String>,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let url = Url::parse(&endpoint.url)
            .map_err(|e| format!("invalid managed identity endpoint {:?}: {e}", endpoint.url))?;
        Ok(Self {
            endpoint: url,
            header: endpoint.header.clone(),
            client_id,
            http,
            tokens: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn fetch(&self, resource: &str) -> azure_core::Result<AccessToken> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION)
            .append_pair("resource", resource);
        if let Some(client_id) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", client_id);
        }
        let response = self
            .http
            .get(url.as_str())
            .header("metadata", "true")
            .header("x-identity-header", self.header.secret())
            .send()
            .await
            .map_err(|e| {
                let kind = if e.is_connect() {
                    ErrorKind::Connection
                } else {
                    ErrorKind::Io
                };
                azure_core::Error::with_message(kind, format!("managed identity endpoint: {e}"))
            })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| azure_core::Error::with_message(ErrorKind::Io, e.to_string()))?;
        if !(200..300).contains(&status) {
            let message = match status {
                400 => "The requested identity has not been assigned to this resource".to_owned(),
                502 | 504 => "The request failed due to a gateway error".to_owned(),
                _ => format!("The request failed: {}", String::from_utf8_lossy(&body)),
            };
            let inner = azure_core::Error::with_message(
                ErrorKind::HttpResponse {
                    status: StatusCode::from(status),
                    error_code: None,
                    raw_response: None,
                },
                message.clone(),
            );
            return Err(azure_core::Error::with_error(
                ErrorKind::Credential,
                inner,
                format!("ManagedIdentityCredential authentication failed. {message}"),
            ));
        }
        let token: TokenResponse = serde_json::from_slice(&body)?;
        let expires_on = match &token.expires_on {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::DataConversion,
                "managed identity response has no valid expires_on",
            )
        })?;
        Ok(AccessToken::new(token.access_token, expires_on))
    }
}

#[async_trait::async_trait]
impl TokenCredential for AppServiceManagedIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(azure_core::Error::with_message(
                ErrorKind::Credential,
                "ManagedIdentityCredential requires exactly one scope",
            ));
        };
        let resource = scope.strip_suffix("/.default").unwrap_or(scope).to_owned();
        // Holding the lock while fetching coalesces concurrent refreshes into one call.
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&resource)
            && token.expires_on > OffsetDateTime::now_utc() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let token = self.fetch(&resource).await?;
        tokens.insert(resource, token.clone());
        Ok(token)
    }
}
