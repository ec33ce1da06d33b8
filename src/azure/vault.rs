//! [`AzureKeyVault`]: the `KeyVault` trait over the SDK's secret, key and certificate clients.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use akvsync_actors::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue,
    SecretBytes,
};
use azure_core::credentials::TokenCredential;
use azure_core::http::pager::{PagerContinuation, PagerOptions};
use azure_core::http::{ClientOptions, Url};
use azure_core::time::OffsetDateTime;
use azure_security_keyvault_certificates::models::{
    CertificateClientGetCertificateOptions, ImportCertificateParameters,
};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::models::{
    ImportKeyParameters, JsonWebKey, KeyClientGetKeyOptions,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::models::{
    SecretAttributes, SecretClientGetSecretOptions, SecretClientListSecretPropertiesOptions,
    SetSecretParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use base64::Engine as _;
use futures::TryStreamExt as _;

use super::jwk::{JwkFieldOrder, jwk_json};
use super::provider_error::provider_error;

/// One vault, authenticated with one credential. Calls are not retried by the SDK.
pub struct AzureKeyVault {
    host: String,
    vault_url: Url,
    secrets: SecretClient,
    keys: KeyClient,
    certificates: CertificateClient,
    jwk_order: JwkFieldOrder,
    credential: Arc<dyn TokenCredential>,
}

impl std::fmt::Debug for AzureKeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureKeyVault")
            .field("vault_url", &self.vault_url.as_str())
            .field("jwk_order", &self.jwk_order)
            .finish_non_exhaustive()
    }
}

impl AzureKeyVault {
    /// Clients for `vault_url` with `credential`; `options` should come from
    /// [`AzureNetwork::vault_client_options`](super::AzureNetwork::vault_client_options).
    pub fn new(
        vault_url: &str,
        credential: Arc<dyn TokenCredential>,
        options: ClientOptions,
        jwk_order: JwkFieldOrder,
    ) -> azure_core::Result<Self> {
        let url = Url::parse(vault_url)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let secrets = SecretClient::new(
            vault_url,
            credential.clone(),
            Some(SecretClientOptions {
                client_options: options.clone(),
                ..SecretClientOptions::default()
            }),
        )?;
        let keys = KeyClient::new(
            vault_url,
            credential.clone(),
            Some(KeyClientOptions {
                client_options: options.clone(),
                ..KeyClientOptions::default()
            }),
        )?;
        let certificates = CertificateClient::new(
            vault_url,
            credential.clone(),
            Some(CertificateClientOptions {
                client_options: options,
                ..CertificateClientOptions::default()
            }),
        )?;
        Ok(Self {
            host,
            vault_url: url,
            secrets,
            keys,
            certificates,
            jwk_order,
            credential,
        })
    }

    /// Proves the credential works by getting a token for the vault's resource (the vault host
    /// without its first label, as Key Vault's challenge names it). The credential caches the
    /// token, so the first vault call reuses it.
    pub async fn validate(&self) -> Result<(), ProviderError> {
        let resource = self
            .host
            .split_once('.')
            .map_or(self.host.as_str(), |(_, rest)| rest);
        let scope = format!("https://{resource}/.default");
        self.credential
            .get_token(&[scope.as_str()], None)
            .await
            .map(|_| ())
            .map_err(|error| provider_error(&error, "token"))
    }

    /// The vault's base URL.
    pub fn vault_url(&self) -> &str {
        self.vault_url.as_str()
    }

    async fn get_secret(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        let options = SecretClientGetSecretOptions {
            secret_version: key.version.clone(),
            ..Default::default()
        };
        let secret = self
            .secrets
            .get_secret(&key.name, Some(options))
            .await
            .and_then(|r| r.into_model())
            .map_err(|e| provider_error(&e, &key.to_string()))?;
        let attributes = secret.attributes.unwrap_or_default();
        Ok(RemoteValue {
            value: SecretBytes::from(secret.value.unwrap_or_default().into_bytes()),
            version: secret.id.as_deref().map(last_segment),
            content_type: secret.content_type,
            tags: tags(secret.tags),
            enabled: attributes.enabled.unwrap_or(true),
            expires: unix(attributes.expires),
            not_before: unix(attributes.not_before),
            created: unix(attributes.created),
            updated: unix(attributes.updated),
            managed: secret.managed.unwrap_or(false),
            read_at: None,
        })
    }

    async fn get_key(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        let options = KeyClientGetKeyOptions {
            key_version: key.version.clone(),
            ..Default::default()
        };
        let bundle = self
            .keys
            .get_key(&key.name, Some(options))
            .await
            .and_then(|r| r.into_model())
            .map_err(|e| provider_error(&e, &key.to_string()))?;
        let jwk = bundle.key.unwrap_or_default();
        let attributes = bundle.attributes.unwrap_or_default();
        Ok(RemoteValue {
            value: SecretBytes::from(jwk_json(&jwk, self.jwk_order).into_bytes()),
            version: jwk.kid.as_deref().map(last_segment),
            content_type: None,
            tags: tags(bundle.tags),
            enabled: attributes.enabled.unwrap_or(true),
            expires: unix(attributes.expires),
            not_before: unix(attributes.not_before),
            created: unix(attributes.created),
            updated: unix(attributes.updated),
            managed: bundle.managed.unwrap_or(false),
            read_at: None,
        })
    }

    async fn get_certificate(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        let options = CertificateClientGetCertificateOptions {
            certificate_version: key.version.clone(),
            ..Default::default()
        };
        let certificate = self
            .certificates
            .get_certificate(&key.name, Some(options))
            .await
            .and_then(|r| r.into_model())
            .map_err(|e| provider_error(&e, &key.to_string()))?;
        let attributes = certificate.attributes.unwrap_or_default();
        Ok(RemoteValue {
            value: SecretBytes::from(certificate.cer.unwrap_or_default()),
            version: certificate.id.as_deref().map(last_segment),
            content_type: certificate.content_type,
            tags: tags(certificate.tags),
            enabled: attributes.enabled.unwrap_or(true),
            expires: unix(attributes.expires),
            not_before: unix(attributes.not_before),
            created: unix(attributes.created),
            updated: unix(attributes.updated),
            managed: false,
            read_at: None,
        })
    }

    /// A continuation must point back at this vault: the bearer token goes wherever it points.
    fn continuation(
        &self,
        page: Option<String>,
    ) -> Result<Option<PagerContinuation>, ProviderError> {
        let Some(page) = page else {
            return Ok(None);
        };
        let url = Url::parse(&page).map_err(|e| ProviderError::Invalid {
            message: format!("invalid list continuation: {e}"),
        })?;
        if url.origin() != self.vault_url.origin() {
            return Err(ProviderError::Invalid {
                message: format!(
                    "list continuation {} does not belong to vault {}",
                    url.origin().ascii_serialization(),
                    self.vault_url.origin().ascii_serialization()
                ),
            });
        }
        Ok(Some(PagerContinuation::Link(url)))
    }

    async fn list_secrets(
        &self,
        page: Option<String>,
    ) -> Result<(Vec<RemoteItem>, Option<String>), ProviderError> {
        let options = SecretClientListSecretPropertiesOptions {
            method_options: PagerOptions {
                continuation: self.continuation(page)?,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut pages = self
            .secrets
            .list_secret_properties(Some(options))
            .map_err(|e| provider_error(&e, "secrets"))?
            .into_pages();
        let Some(response) = pages
            .try_next()
            .await
            .map_err(|e| provider_error(&e, "secrets"))?
        else {
            return Ok((Vec::new(), None));
        };
        let next = pages.into_continuation().map(String::from);
        let result = response
            .into_model()
            .map_err(|e| provider_error(&e, "secrets"))?;
        let items = result
            .value
            .into_iter()
            .filter_map(|item| {
                let name = last_segment(item.id.as_deref()?);
                Some(RemoteItem {
                    name,
                    tags: tags(item.tags),
                    enabled: item
                        .attributes
                        .as_ref()
                        .and_then(|a| a.enabled)
                        .unwrap_or(true),
                    managed: item.managed.unwrap_or(false),
                    updated: unix(item.attributes.as_ref().and_then(|a| a.updated)),
                })
            })
            .collect();
        Ok((items, next))
    }

    async fn push_secret(&self, request: &PushRequest) -> Result<(), ProviderError> {
        let value = String::from_utf8(request.value.expose().to_vec()).map_err(|_| {
            ProviderError::Invalid {
                message: format!(
                    "{}: Key Vault secrets hold text, the value is not UTF-8",
                    request.key
                ),
            }
        })?;
        let attributes = request.expires.map(|exp| SecretAttributes {
            expires: OffsetDateTime::from_unix_timestamp(exp).ok(),
            ..Default::default()
        });
        let parameters = SetSecretParameters {
            value: Some(value),
            content_type: request.content_type.clone(),
            tags: Some(request.tags.clone().into_iter().collect()),
            secret_attributes: attributes,
        };
        let content = parameters
            .try_into()
            .map_err(|e| provider_error(&e, &request.key.to_string()))?;
        self.secrets
            .set_secret(&request.key.name, content, None)
            .await
            .map(drop)
            .map_err(|e| provider_error(&e, &request.key.to_string()))
    }

    async fn push_key(&self, request: &PushRequest) -> Result<(), ProviderError> {
        let jwk: JsonWebKey =
            serde_json::from_slice(request.value.expose()).map_err(|e| ProviderError::Invalid {
                message: format!("{}: the value is not a JSON Web Key: {e}", request.key),
            })?;
        let parameters = ImportKeyParameters {
            key: Some(jwk),
            tags: Some(request.tags.clone().into_iter().collect()),
            ..Default::default()
        };
        let content = parameters
            .try_into()
            .map_err(|e| provider_error(&e, &request.key.to_string()))?;
        self.keys
            .import_key(&request.key.name, content, None)
            .await
            .map(drop)
            .map_err(|e| provider_error(&e, &request.key.to_string()))
    }

    async fn push_certificate(&self, request: &PushRequest) -> Result<(), ProviderError> {
        let parameters = ImportCertificateParameters {
            base64_encoded_certificate: Some(
                base64::engine::general_purpose::STANDARD.encode(request.value.expose()),
            ),
            tags: Some(request.tags.clone().into_iter().collect()),
            ..Default::default()
        };
        let content = parameters
            .try_into()
            .map_err(|e| provider_error(&e, &request.key.to_string()))?;
        self.certificates
            .import_certificate(&request.key.name, content, None)
            .await
            .map(drop)
            .map_err(|e| provider_error(&e, &request.key.to_string()))
    }
}

impl KeyVault for AzureKeyVault {
    fn vault_host(&self) -> &str {
        &self.host
    }

    async fn get(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        match key.kind {
            ObjectKind::Secret => self.get_secret(key).await,
            ObjectKind::Key => self.get_key(key).await,
            ObjectKind::Certificate => self.get_certificate(key).await,
        }
    }

    async fn list_page(
        &self,
        kind: ObjectKind,
        page: Option<String>,
    ) -> Result<(Vec<RemoteItem>, Option<String>), ProviderError> {
        match kind {
            ObjectKind::Secret => self.list_secrets(page).await,
            // ESO's find lists secrets only (spec §3.7).
            other => Err(ProviderError::Invalid {
                message: format!("listing {} objects is not supported", other.as_str()),
            }),
        }
    }

    async fn push(&self, request: &PushRequest) -> Result<(), ProviderError> {
        match request.key.kind {
            ObjectKind::Secret => self.push_secret(request).await,
            ObjectKind::Key => self.push_key(request).await,
            ObjectKind::Certificate => self.push_certificate(request).await,
        }
    }

    async fn delete(&self, key: &RemoteKey) -> Result<(), ProviderError> {
        let name = key.name.as_str();
        let result = match key.kind {
            ObjectKind::Secret => self.secrets.delete_secret(name, None).await.map(drop),
            ObjectKind::Key => self.keys.delete_key(name, None).await.map(drop),
            ObjectKind::Certificate => self
                .certificates
                .delete_certificate(name, None)
                .await
                .map(drop),
        };
        result.map_err(|e| provider_error(&e, &key.to_string()))
    }
}

/// The last path segment of a Key Vault id: the name of a base id, the version of a full one.
fn last_segment(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn tags(tags: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.unwrap_or_default().into_iter().collect()
}

fn unix(time: Option<OffsetDateTime>) -> Option<i64> {
    time.map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_are_the_last_id_segment() {
        assert_eq!(last_segment("https://v.vault.azure.net/secrets/db"), "db");
        assert_eq!(
            last_segment("https://v.vault.azure.net/secrets/db/abc123"),
            "abc123"
        );
        assert_eq!(last_segment("https://v.vault.azure.net/keys/k/"), "k");
    }
}
