//! The emulator's own certificate authority, and TLS server certificates minted per SNI name.
//!
//! Vault host names are open-ended (`<vault>.vault.localhost`), so instead of relying on a
//! wildcard SAN the server resolver signs a leaf certificate for each new SNI name on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Errors while building the emulator's PKI.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused to build a key or certificate.
    #[error("generate certificate for {subject}")]
    Generate {
        /// What was being generated.
        subject: String,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the generated key.
    #[error("load generated key into rustls")]
    LoadKey(#[source] rustls::Error),
}

/// A CA plus a cache of leaf certificates it signed, one per server name.
pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// Makes a fresh CA (ECDSA P-256).
    pub fn new() -> Result<Self, TlsError> {
        let generate = |source| TlsError::Generate {
            subject: "emulator CA".into(),
            source,
        };
        let key = KeyPair::generate().map_err(generate)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "akvsync Azure emulator CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(generate)?;
        Ok(Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate in PEM form.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Signs (or returns the cached) leaf certificate for `name`.
    pub fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, TlsError> {
        let name = name.to_ascii_lowercase();
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = leaves.get(&name) {
            return Ok(found.clone());
        }
        let generate = |source| TlsError::Generate {
            subject: name.clone(),
            source,
        };
        let key = KeyPair::generate().map_err(generate)?;
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(generate)?;
        params.distinguished_name.push(DnType::CommonName, &name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).map_err(generate)?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = any_supported_type(&private).map_err(TlsError::LoadKey)?;
        let certified = Arc::new(CertifiedKey::new(
            vec![cert.der().clone(), self.ca_der.clone()],
            signing,
        ));
        leaves.insert(name, certified.clone());
        Ok(certified)
    }

    /// A rustls server configuration (HTTP/1.1 only) that answers every SNI name under
    /// `localhost` with a certificate from this CA.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SniResolver(self.clone())));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

#[derive(Debug)]
struct SniResolver(Arc<Pki>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().unwrap_or("localhost");
        let lower = name.to_ascii_lowercase();
        if lower != "localhost" && !lower.ends_with(".localhost") {
            return None;
        }
        self.0.leaf(&lower).ok()
    }
}
