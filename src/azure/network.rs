//! Operator-level Azure settings: the flags for non-Azure worlds and the one HTTP client.
//!
//! Production defaults are unchanged: no extra CA, the cloud's authority host, managed identity
//! from the process environment (App Service `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, else IMDS).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::Secret;
use azure_core::http::{ClientOptions, RetryOptions, Transport};

use super::transport::{self, TransportError};

/// Where environment variables come from: the process, or a map in tests (the process
/// environment cannot be changed safely in a multi-threaded test binary).
pub trait EnvSource: Send + Sync + fmt::Debug {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The operator process's environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed environment, for tests.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl MapEnv {
    /// An environment holding `pairs`.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// A managed-identity token endpoint in App Service form: `GET {url}?api-version=2019-08-01&
/// resource=…` with the `x-identity-header` secret.
#[derive(Clone)]
pub struct ManagedIdentityEndpoint {
    /// The endpoint URL (`IDENTITY_ENDPOINT`).
    pub url: String,
    /// The header secret (`IDENTITY_HEADER`).
    pub header: Secret,
}

impl fmt::Debug for ManagedIdentityEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityEndpoint")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The operator flags for Azure, as parsed from the command line.
#[derive(Clone, Debug)]
pub struct NetworkSettings {
    /// PEM of extra CA certificates trusted in addition to the system roots.
    pub extra_ca_pem: Option<String>,
    /// Authority host (e.g. `https://login.localhost:8443`) that wins over every cloud mapping.
    pub authority_host: Option<String>,
    /// Managed-identity endpoint that wins over the environment's.
    pub managed_identity_endpoint: Option<ManagedIdentityEndpoint>,
    /// Source of `AZURE_*` and `IDENTITY_*` variables.
    pub env: Arc<dyn EnvSource>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            extra_ca_pem: None,
            authority_host: None,
            managed_identity_endpoint: None,
            env: Arc::new(ProcessEnv),
        }
    }
}

/// The settings plus the HTTP client built from them; clone freely (the connection pool is
/// shared).
#[derive(Clone, Debug)]
pub struct AzureNetwork {
    settings: NetworkSettings,
    http: reqwest::Client,
}

impl AzureNetwork {
    /// Builds the HTTP client for `settings`.
    pub fn new(settings: NetworkSettings) -> Result<Self, TransportError> {
        let http = transport::http_client(settings.extra_ca_pem.as_deref())?;
        Ok(Self { settings, http })
    }

    /// The settings.
    pub fn settings(&self) -> &NetworkSettings {
        &self.settings
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The environment variable source.
    pub fn env(&self) -> &dyn EnvSource {
        self.settings.env.as_ref()
    }

    /// The managed-identity endpoint: the flag, else App Service variables from the environment.
    pub fn managed_identity_endpoint(&self) -> Option<ManagedIdentityEndpoint> {
        if let Some(endpoint) = &self.settings.managed_identity_endpoint {
            return Some(endpoint.clone());
        }
        let env = self.env();
        match (env.var("IDENTITY_ENDPOINT"), env.var("IDENTITY_HEADER")) {
            (Some(url), Some(header)) => Some(ManagedIdentityEndpoint {
                url,
                header: Secret::new(header),
            }),
            _ => None,
        }
    }

    /// Options for Key Vault clients: our transport and no SDK retries (the store core retries
    /// and pauses on 429 through its per-vault limiter; SDK retries would hide calls from it).
    pub fn vault_client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(Transport::new(Arc::new(self.http.clone()))),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        }
    }

    /// Options for Entra ID credentials: our transport, no SDK retries (a failed token call
    /// surfaces as the store call's error and is retried by the store core), and the authority
    /// host (`--azure-authority-host` wins over the cloud's).
    pub fn credential_client_options(&self, cloud_authority_host: &str) -> ClientOptions {
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = self
            .settings
            .authority_host
            .clone()
            .unwrap_or_else(|| cloud_authority_host.to_owned());
        ClientOptions {
            transport: Some(Transport::new(Arc::new(self.http.clone()))),
            retry: RetryOptions::none(),
            cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
            ..ClientOptions::default()
        }
    }

    /// The authority host a credential for `cloud_authority_host` really uses.
    pub fn effective_authority_host(&self, cloud_authority_host: &str) -> String {
        self.settings
            .authority_host
            .clone()
            .unwrap_or_else(|| cloud_authority_host.to_owned())
    }
}
