//! Certificates and chain ordering: leaf first (the certificate matching the private key when
//! one is given, else the one that issues no other), then each issuer in turn, as Kubernetes TLS
//! Secrets expect. Issuers are linked by Authority/Subject Key Identifier, falling back to
//! issuer/subject names for certificates without key identifiers.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::CryptoError;
use super::keys::PrivateKey;
use super::pem::{encode_pem, parse_pem_blocks};

/// A parsed X.509 certificate (the facts chain ordering and templates need).
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    spki: Vec<u8>,
    sans: Vec<String>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate({} bytes)", self.der.len())
    }
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Certificate, CryptoError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| CryptoError::ParseCertificate(e.to_string().to_lowercase()))?;
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        let mut sans = Vec::new();
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(ski) => subject_key_id = Some(ski.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    let mut dns = Vec::new();
                    let mut ips = Vec::new();
                    let mut emails = Vec::new();
                    let mut uris = Vec::new();
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => dns.push(d.to_string()),
                            GeneralName::IPAddress(b) => {
                                let ip = match b.len() {
                                    4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                                    16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                                    _ => None,
                                };
                                ips.extend(ip.map(|i| i.to_string()));
                            }
                            GeneralName::RFC822Name(e) => emails.push(e.to_string()),
                            GeneralName::URI(u) => uris.push(u.to_string()),
                            _ => {}
                        }
                    }
                    sans = [dns, ips, emails, uris].concat();
                }
                _ => {}
            }
        }
        Ok(Certificate {
            der: der.to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            subject_key_id,
            authority_key_id,
            spki: cert.public_key().raw.to_vec(),
            sans,
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// DNS names, then IPs, e-mail addresses and URIs (ESO's `certSANs` order).
    pub fn sans(&self) -> &[String] {
        &self.sans
    }

    pub fn to_pem(&self) -> String {
        encode_pem("CERTIFICATE", &self.der)
    }

    /// Self-issued: ESO treats a certificate as a root when its AKI is absent or equals its SKI.
    pub fn is_self_signed(&self) -> bool {
        match (&self.authority_key_id, &self.subject_key_id) {
            (None, _) => self.issuer == self.subject,
            (Some(aki), Some(ski)) => aki == ski,
            (Some(_), None) => false,
        }
    }

    /// Whether `self` issued `other`.
    pub fn issued(&self, other: &Certificate) -> bool {
        if std::ptr::eq(self, other) || self.der == other.der {
            return false;
        }
        match (&other.authority_key_id, &self.subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => other.issuer == self.subject,
        }
    }

    /// All `CERTIFICATE` blocks of a PEM bundle.
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Certificate>, CryptoError> {
        parse_pem_blocks(pem)
            .into_iter()
            .filter(|b| b.label == "CERTIFICATE")
            .map(|b| Certificate::from_der(&b.der))
            .collect()
    }
}

/// Orders certificates leaf first, then issuers. The leaf is the certificate matching `key` if
/// given, else the single certificate that issues no other. Certificates outside the chain
/// follow in their original order, so nothing is dropped.
pub fn order_chain(
    certs: Vec<Certificate>,
    key: Option<&PrivateKey>,
) -> Result<Vec<Certificate>, CryptoError> {
    if certs.len() < 2 {
        return Ok(certs);
    }
    let leaf_index = match key.and_then(|k| {
        certs
            .iter()
            .position(|c| k.matches_certificate(c.der()).unwrap_or(false))
    }) {
        Some(i) => i,
        None => {
            let leaves: Vec<usize> = (0..certs.len())
                .filter(|&i| !certs.iter().any(|other| certs[i].issued(other)))
                .collect();
            match leaves.as_slice() {
                [single] => *single,
                [] => 0,
                _ => return Err(CryptoError::MultipleLeaves),
            }
        }
    };
    let mut remaining: Vec<Option<Certificate>> = certs.into_iter().map(Some).collect();
    let mut ordered = vec![remaining[leaf_index].take().expect("index is in range")];
    loop {
        let current = ordered.last().expect("ordered starts with the leaf");
        if current.is_self_signed() {
            break;
        }
        let next = remaining
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.issued(current)));
        match next {
            Some(i) => ordered.push(remaining[i].take().expect("position found it")),
            None => break,
        }
    }
    ordered.extend(remaining.into_iter().flatten());
    Ok(ordered)
}

/// Which part of a chain `filterCertChain` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    Leaf,
    Intermediate,
    Root,
}

impl std::str::FromStr for CertKind {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<CertKind, CryptoError> {
        match s {
            "leaf" => Ok(CertKind::Leaf),
            "intermediate" => Ok(CertKind::Intermediate),
            "root" => Ok(CertKind::Root),
            other => Err(CryptoError::UnsupportedCertType(other.to_string())),
        }
    }
}

/// ESO's `filterCertChain`: orders the chain, then returns the leaf (only if not self-signed),
/// the intermediates, or the root (only if self-signed); empty when there is none.
pub fn filter_cert_chain(kind: CertKind, pem: &[u8]) -> Result<String, CryptoError> {
    let certs = Certificate::from_pem_bundle(pem)?;
    if certs.is_empty() {
        return Ok(String::new());
    }
    let ordered = order_chain(certs, None)?;
    Ok(match kind {
        CertKind::Leaf => {
            let leaf = &ordered[0];
            if leaf.is_self_signed() {
                String::new()
            } else {
                leaf.to_pem()
            }
        }
        CertKind::Intermediate => {
            if ordered.len() < 3 {
                String::new()
            } else {
                ordered[1..ordered.len() - 1]
                    .iter()
                    .map(Certificate::to_pem)
                    .collect()
            }
        }
        CertKind::Root => {
            let root = &ordered[ordered.len() - 1];
            if root.is_self_signed() {
                root.to_pem()
            } else {
                String::new()
            }
        }
    })
}
