//! The operator's HTTP client for every Azure call: reqwest 0.13 (the version azure_core
//! implements `HttpClient` for) with the SDK's default timeouts, no redirects, the system roots
//! plus an optional extra CA, and `*.localhost` names resolved to loopback (RFC 6761).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Connect timeout of the SDK's default client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Read timeout of the SDK's default client.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Building the HTTP client failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The extra CA is not PEM reqwest can read.
    #[error("read the extra trusted CA certificate")]
    ExtraCa(#[source] reqwest::Error),
    /// The extra CA PEM holds no certificate.
    #[error("the extra trusted CA file holds no certificate")]
    EmptyCa,
    /// reqwest refused the configuration.
    #[error("build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Resolves `localhost` and `*.localhost` to 127.0.0.1 and every other name with the system
/// resolver, so emulated vault hosts such as `myvault.vault.localhost` work without `/etc/hosts`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalhostResolver;

impl LocalhostResolver {
    /// Whether `host` is `localhost` or a name under it.
    pub fn is_localhost(host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        host == "localhost" || host.ends_with(".localhost")
    }
}

impl Resolve for LocalhostResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if Self::is_localhost(&host) {
                let addrs: Addrs =
                    Box::new(std::iter::once(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))));
                return Ok(addrs);
            }
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(resolved.into_iter());
            Ok(addrs)
        })
    }
}

/// The client: system roots (plus `extra_ca_pem` when given), SDK timeouts, no redirects.
pub fn http_client(extra_ca_pem: Option<&str>) -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .dns_resolver(Arc::new(LocalhostResolver))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = extra_ca_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(TransportError::ExtraCa)?;
        if certificates.is_empty() {
            return Err(TransportError::EmptyCa);
        }
        builder = builder.tls_certs_merge(certificates);
    }
    builder.build().map_err(TransportError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_localhost_names_are_pinned_to_loopback() {
        assert!(LocalhostResolver::is_localhost("localhost"));
        assert!(LocalhostResolver::is_localhost("myvault.vault.localhost"));
        assert!(LocalhostResolver::is_localhost("Login.LOCALHOST."));
        assert!(!LocalhostResolver::is_localhost("myvault.vault.azure.net"));
        assert!(!LocalhostResolver::is_localhost("evillocalhost"));
    }

    #[test]
    fn an_extra_ca_without_certificates_is_refused() {
        assert!(matches!(
            http_client(Some("not a pem")),
            Err(TransportError::EmptyCa | TransportError::ExtraCa(_))
        ));
    }
}
