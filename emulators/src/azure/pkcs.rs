//! Certificate material: PEM and PKCS#12 parsing and writing, X.509 facts, public JWKs.

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use p12_keystore::{
    Certificate, KeyStore, KeyStoreEntry, Pkcs12ImportPolicy, PrivateKey, PrivateKeyChain,
};
use serde_json::{Value, json};
use x509_parser::prelude::*;

use super::crypto::{b64std, b64url, rsa_public_components};

/// Content type of a PKCS#12 certificate secret.
pub const PKCS12: &str = "application/x-pkcs12";
/// Content type of a PEM certificate secret.
pub const PEM: &str = "application/x-pem-file";

/// Why certificate material was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PkcsError {
    /// Neither PEM nor a PKCS#12 that opens with the password.
    #[error("the certificate is neither PEM nor a PKCS#12 that opens with the given password")]
    Unreadable,
    /// No private key.
    #[error("no unencrypted PKCS#8 private key found")]
    NoKey,
    /// No certificate.
    #[error("no certificate found")]
    NoCertificate,
    /// The key matches no certificate.
    #[error("the private key does not match any certificate")]
    KeyMismatch,
    /// An X.509 certificate could not be parsed.
    #[error("invalid X.509 certificate")]
    BadCertificate,
    /// Unsupported key algorithm.
    #[error("unsupported key algorithm")]
    Algorithm,
    /// PKCS#12 writing failed.
    #[error("write PKCS#12")]
    Write,
}

/// A private key with its certificate chain, leaf first.
#[derive(Clone)]
pub struct KeyAndChain {
    /// PKCS#8 DER private key.
    pub key_pkcs8: Vec<u8>,
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for KeyAndChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAndChain")
            .field("key_pkcs8", &"<redacted>")
            .field("chain", &self.chain.len())
            .finish()
    }
}

/// The format an import arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PEM text.
    Pem,
    /// PKCS#12.
    Pkcs12,
}

/// Reads an import `value`: raw PEM, base64 of PEM, or base64 of PKCS#12 (DER).
pub fn read_import(value: &str, password: &str) -> Result<(KeyAndChain, Format), PkcsError> {
    if value.contains("-----BEGIN") {
        return Ok((read_pem(value)?, Format::Pem));
    }
    let bytes = super::crypto::b64_any(value).ok_or(PkcsError::Unreadable)?;
    if let Ok(text) = std::str::from_utf8(&bytes)
        && text.contains("-----BEGIN")
    {
        return Ok((read_pem(text)?, Format::Pem));
    }
    Ok((read_pkcs12(&bytes, password)?, Format::Pkcs12))
}

/// Reads PEM text with a PKCS#8 key and certificates.
pub fn read_pem(text: &str) -> Result<KeyAndChain, PkcsError> {
    let blocks = ::pem::parse_many(text).map_err(|_| PkcsError::Unreadable)?;
    let key = blocks
        .iter()
        .find(|b| b.tag() == "PRIVATE KEY")
        .map(|b| b.contents().to_vec())
        .ok_or(PkcsError::NoKey)?;
    let certs: Vec<Vec<u8>> = blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.contents().to_vec())
        .collect();
    order_chain(key, certs)
}

/// Reads a PKCS#12 archive.
pub fn read_pkcs12(der: &[u8], password: &str) -> Result<KeyAndChain, PkcsError> {
    let store = KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Relaxed)
        .map_err(|_| PkcsError::Unreadable)?;
    let (_, chain) = store.private_key_chain().ok_or(PkcsError::NoKey)?;
    let mut certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    for (_, entry) in store.entries() {
        if let KeyStoreEntry::Certificate(c) = entry
            && !certs.iter().any(|x| x == c.as_der())
        {
            certs.push(c.as_der().to_vec());
        }
    }
    order_chain(chain.key().as_der().to_vec(), certs)
}

/// Puts the certificate matching the key first.
fn order_chain(key_pkcs8: Vec<u8>, mut certs: Vec<Vec<u8>>) -> Result<KeyAndChain, PkcsError> {
    if certs.is_empty() {
        return Err(PkcsError::NoCertificate);
    }
    let key_public = private_public_key(&key_pkcs8)?;
    let leaf = certs
        .iter()
        .position(|der| spki_bits(der).is_some_and(|bits| bits == key_public))
        .ok_or(PkcsError::KeyMismatch)?;
    let leaf_der = certs.remove(leaf);
    certs.insert(0, leaf_der);
    Ok(KeyAndChain {
        key_pkcs8,
        chain: certs,
    })
}

/// The public key bits (RSAPublicKey DER or EC point) of a PKCS#8 key.
fn private_public_key(pkcs8: &[u8]) -> Result<Vec<u8>, PkcsError> {
    if let Ok(rsa) = RsaKeyPair::from_pkcs8(pkcs8) {
        return Ok(rsa.public_key().as_ref().to_vec());
    }
    for alg in [
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
    ] {
        if let Ok(ec) = EcdsaKeyPair::from_pkcs8(alg, pkcs8) {
            return Ok(ec.public_key().as_ref().to_vec());
        }
    }
    Err(PkcsError::Algorithm)
}

fn spki_bits(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = parse_x509_certificate(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// PEM text: private key first, then the certificates.
pub fn to_pem(material: &KeyAndChain, include_key: bool) -> String {
    let mut out = String::new();
    if include_key {
        out.push_str(&::pem::encode(&::pem::Pem::new(
            "PRIVATE KEY",
            material.key_pkcs8.clone(),
        )));
    }
    for der in &material.chain {
        out.push_str(&::pem::encode(&::pem::Pem::new("CERTIFICATE", der.clone())));
    }
    out
}

/// A PKCS#12 archive protected by the empty password, as Key Vault exports.
pub fn to_pkcs12(material: &KeyAndChain, password: &str) -> Result<Vec<u8>, PkcsError> {
    let key = PrivateKey::from_der(&material.key_pkcs8).map_err(|_| PkcsError::Write)?;
    let certs: Vec<Certificate> = material
        .chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<_, _>>()
        .map_err(|_| PkcsError::Write)?;
    let key_id = super::crypto::sha1(&material.chain[0]);
    let mut store = KeyStore::new();
    store.add_entry(
        "1",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, certs)),
    );
    store
        .writer(password)
        .encryption_iterations(2048)
        .mac_iterations(2048)
        .write()
        .map_err(|_| PkcsError::Write)
}

/// Facts about a certificate that Key Vault reports.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// Subject, e.g. `CN=example`.
    pub subject: String,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// Not before, unix seconds.
    pub not_before: i64,
    /// Not after, unix seconds.
    pub not_after: i64,
    /// Public key as a JWK (no `kid`).
    pub jwk: Value,
    /// `RSA` or `EC`.
    pub kty: String,
    /// RSA size in bits.
    pub key_size: Option<usize>,
    /// EC curve.
    pub crv: Option<String>,
}

/// Parses the facts of a DER certificate.
pub fn facts(der: &[u8]) -> Result<CertFacts, PkcsError> {
    let (_, cert) = parse_x509_certificate(der).map_err(|_| PkcsError::BadCertificate)?;
    let spki = cert.public_key();
    let bits = spki.subject_public_key.data.as_ref();
    let alg = spki.algorithm.algorithm.to_id_string();
    let (jwk, kty, key_size, crv) = match alg.as_str() {
        "1.2.840.113549.1.1.1" => {
            let (n, e) = rsa_public_components(bits).ok_or(PkcsError::BadCertificate)?;
            let size = n.len() * 8;
            (
                json!({"kty": "RSA", "n": b64url(&n), "e": b64url(&e)}),
                "RSA",
                Some(size),
                None,
            )
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let crv = match curve.as_str() {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                _ => return Err(PkcsError::Algorithm),
            };
            let half = (bits.len().saturating_sub(1)) / 2;
            if bits.first() != Some(&4) || half == 0 {
                return Err(PkcsError::Algorithm);
            }
            (
                json!({"kty": "EC", "crv": crv, "x": b64url(&bits[1..1 + half]), "y": b64url(&bits[1 + half..])}),
                "EC",
                None,
                Some(crv.to_string()),
            )
        }
        _ => return Err(PkcsError::Algorithm),
    };
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertFacts {
        subject: cert.subject().to_string(),
        dns_names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        jwk,
        kty: kty.to_string(),
        key_size,
        crv,
    })
}

/// `x5t`: base64url SHA-1 of the DER certificate.
pub fn x5t(der: &[u8]) -> String {
    b64url(&super::crypto::sha1(der))
}

/// Standard base64 of DER (`cer`).
pub fn cer(der: &[u8]) -> String {
    b64std(der)
}

/// A self-signed certificate and its key, for tests and seeds. `rsa` picks RSA-2048, else P-256.
pub fn self_signed(common_name: &str, rsa: bool) -> Result<KeyAndChain, rcgen::Error> {
    let key = if rsa {
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
    } else {
        rcgen::KeyPair::generate()?
    };
    let mut params = rcgen::CertificateParams::new(vec![common_name.to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let cert = params.self_signed(&key)?;
    Ok(KeyAndChain {
        key_pkcs8: key.serialize_der(),
        chain: vec![cert.der().to_vec()],
    })
}
