//! Client side helpers: an HTTP client that trusts the emulator CA and resolves every
//! `*.localhost` name to 127.0.0.1 (and nothing else), and Azure SDK `ClientOptions` that use
//! it with the emulator's authority host.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::http::{ClientOptions, Transport};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA PEM could not be read.
    #[error("read emulator CA certificate")]
    Certificate(#[source] reqwest::Error),
    /// reqwest refused the configuration.
    #[error("build HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Connect timeout, as the SDK's default client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Read timeout, as the SDK's default client.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Resolves `localhost` and `*.localhost` (RFC 6761) to 127.0.0.1 and refuses every other
/// name, so a misdirected request can never leave the machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackResolver;

impl Resolve for LoopbackResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs =
                    Box::new(std::iter::once(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))));
                Ok(addrs)
            } else {
                Err(
                    format!("the emulator client resolves only *.localhost names, not {host}")
                        .into(),
                )
            }
        })
    }
}

/// A reqwest client (the version azure_core uses) that trusts only `ca_pem` and resolves
/// `*.localhost` to loopback. No proxy, no redirects, the SDK's default timeouts.
pub fn http_client(ca_pem: &str) -> Result<reqwest::Client, ClientError> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).map_err(ClientError::Certificate)?;
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .dns_resolver(Arc::new(LoopbackResolver))
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ClientError::Build)
}

/// Azure SDK client options with the emulator transport and authority host, for Key Vault
/// clients and `azure_identity` credentials alike.
pub fn client_options(ca_pem: &str, authority_host: &str) -> Result<ClientOptions, ClientError> {
    let client = http_client(ca_pem)?;
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority_host.to_string();
    Ok(ClientOptions {
        transport: Some(Transport::new(Arc::new(client))),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        ..ClientOptions::default()
    })
}
