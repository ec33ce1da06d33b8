//! `cert/` pushes: the value is parsed in ESO's order (PKCS#12, DER, PEM) and becomes the
//! password-less PKCS#12 Key Vault's ImportCertificate takes, with its leaf for comparison.

use akvsync_template::crypto::{
    Certificate, CryptoError, PrivateKey, order_chain, parse_pem_blocks, read_pkcs12, write_pkcs12,
};

use super::PushError;

/// What to import and the leaf certificate that identifies it.
pub(crate) struct ImportCertificate {
    /// DER of the leaf: Key Vault's `cer` of the imported certificate.
    pub leaf_der: Vec<u8>,
    pfx: Pfx,
}

enum Pfx {
    /// The pushed value already is a password-less PKCS#12 with its key.
    AsGiven(Vec<u8>),
    /// PEM input, converted only when a write is needed (PKCS#12 encryption is not free).
    FromPem(Box<PemParts>),
}

struct PemParts {
    key: PrivateKey,
    leaf: Certificate,
    chain: Vec<Certificate>,
}

impl ImportCertificate {
    /// The password-less PKCS#12 to import.
    pub fn into_pfx(self, name: &str) -> Result<Vec<u8>, PushError> {
        match self.pfx {
            Pfx::AsGiven(pfx) => Ok(pfx),
            Pfx::FromPem(parts) => {
                write_pkcs12(&parts.key, &parts.leaf, &parts.chain, "").map_err(|error| {
                    PushError::BuildPkcs12 {
                        name: name.to_owned(),
                        message: error.to_string(),
                    }
                })
            }
        }
    }
}

/// Parses a certificate push value. A password-less PKCS#12 with a private key is sent as it is;
/// a PEM certificate (chain) with a PKCS#8 key is converted to a password-less PKCS#12. DER, PEM
/// without a key and PKCS#12 without a key are refused: Key Vault needs the key.
pub(crate) fn import_certificate(name: &str, value: &[u8]) -> Result<ImportCertificate, PushError> {
    let pkcs12_error = match read_pkcs12(value, "") {
        Ok(contents) => {
            let Some(leaf) = contents.certs.first() else {
                return Err(PushError::InvalidCertificate);
            };
            if contents.key.is_none() {
                return Err(PushError::CertificateWithoutKey {
                    name: name.to_owned(),
                });
            }
            return Ok(ImportCertificate {
                leaf_der: leaf.der().to_vec(),
                pfx: Pfx::AsGiven(value.to_vec()),
            });
        }
        Err(error) => error,
    };
    if Certificate::from_der(value).is_ok() {
        return Err(PushError::CertificateWithoutKey {
            name: name.to_owned(),
        });
    }
    let blocks = parse_pem_blocks(value);
    let certs: Vec<Certificate> = blocks
        .iter()
        .filter(|block| block.label == "CERTIFICATE")
        .filter_map(|block| Certificate::from_der(&block.der).ok())
        .collect();
    if certs.is_empty() {
        let password_protected = matches!(
            &pkcs12_error,
            CryptoError::DecodePkcs12(message) if message.starts_with("mac verification failed")
        );
        return Err(if password_protected {
            PushError::EncryptedPkcs12
        } else {
            PushError::InvalidCertificate
        });
    }
    let Some(key_block) = blocks
        .iter()
        .find(|block| block.label.ends_with("PRIVATE KEY"))
    else {
        return Err(PushError::CertificateWithoutKey {
            name: name.to_owned(),
        });
    };
    if key_block.label != "PRIVATE KEY" {
        return Err(PushError::NotPkcs8Key {
            name: name.to_owned(),
            label: key_block.label.clone(),
        });
    }
    let build_error = |error: CryptoError| PushError::BuildPkcs12 {
        name: name.to_owned(),
        message: error.to_string(),
    };
    let key = PrivateKey::from_pkcs8_der(&key_block.der).map_err(build_error)?;
    let ordered = order_chain(certs, Some(&key)).map_err(build_error)?;
    let mut ordered = ordered.into_iter();
    let leaf = ordered.next().expect("order_chain keeps every certificate");
    if !key.matches_certificate(leaf.der()).map_err(build_error)? {
        return Err(PushError::CertificateKeyMismatch {
            name: name.to_owned(),
        });
    }
    Ok(ImportCertificate {
        leaf_der: leaf.der().to_vec(),
        pfx: Pfx::FromPem(Box::new(PemParts {
            key,
            leaf,
            chain: ordered.collect(),
        })),
    })
}
