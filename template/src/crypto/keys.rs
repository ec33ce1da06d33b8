//! Private and public keys: parsing PEM/DER in the formats Go's x509 accepts (PKCS#8, PKCS#1
//! `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`), re-encoding as PKCS#8 / PKIX, the Key Vault JWK
//! import body, and matching a key to a certificate.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use spki::{DecodePublicKey, EncodePublicKey};

use super::CryptoError;
use super::pem::{decode_one, encode_pem};

/// A private key of a kind Key Vault and Kubernetes TLS use.
#[derive(Clone)]
pub enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey::{}(<redacted>)", self.algorithm())
    }
}

/// A public key, as found in a certificate's SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq)]
pub enum PublicKey {
    Rsa(rsa::PublicKey),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
}

fn key_err(e: impl fmt::Display) -> CryptoError {
    CryptoError::ParsePrivateKey(e.to_string().to_lowercase())
}

fn encode_err(e: impl fmt::Display) -> CryptoError {
    CryptoError::EncodeKey(e.to_string().to_lowercase())
}

impl PrivateKey {
    /// `RSA`, `P-256`, `P-384` or `P-521`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PrivateKey::Rsa(_) => "RSA",
            PrivateKey::P256(_) => "P-256",
            PrivateKey::P384(_) => "P-384",
            PrivateKey::P521(_) => "P-521",
        }
    }

    /// Parses the first PEM block: `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`.
    pub fn from_pem(pem: &[u8]) -> Result<PrivateKey, CryptoError> {
        let (block, _) = decode_one(pem).ok_or(CryptoError::NoPemBlock)?;
        match block.label.as_str() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&block.der),
            "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.der),
            other => Err(CryptoError::UnsupportedPemType(other.to_string())),
        }
    }

    /// Go's `parsePrivateKey` order: PKCS#1, PKCS#8, SEC1.
    pub fn from_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        PrivateKey::from_pkcs1_der(der)
            .or_else(|_| PrivateKey::from_pkcs8_der(der))
            .or_else(|_| PrivateKey::from_sec1_der(der))
            .map_err(|_| {
                CryptoError::ParsePrivateKey("not a pkcs#1, pkcs#8 or sec1 private key".into())
            })
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        if let Ok(k) = rsa::PrivateKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P256(k));
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P384(k));
        }
        p521::SecretKey::from_pkcs8_der(der)
            .map(PrivateKey::P521)
            .map_err(|_| {
                CryptoError::ParsePrivateKey("pkcs#8 key is not rsa, p-256, p-384 or p-521".into())
            })
    }

    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        rsa::PrivateKey::from_pkcs1_der(der)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(key_err)
    }

    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
        if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey::P256(k));
        }
        if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey::P384(k));
        }
        p521::SecretKey::from_sec1_der(der)
            .map(PrivateKey::P521)
            .map_err(|_| {
                CryptoError::ParsePrivateKey("sec1 key is not p-256, p-384 or p-521".into())
            })
    }

    /// PKCS#8 DER, as Go's `x509.MarshalPKCS8PrivateKey` lays it out.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, CryptoError> {
        let doc = match self {
            PrivateKey::Rsa(k) => k.to_pkcs8_der(),
            PrivateKey::P256(k) => k.to_pkcs8_der(),
            PrivateKey::P384(k) => k.to_pkcs8_der(),
            PrivateKey::P521(k) => k.to_pkcs8_der(),
        }
        .map_err(encode_err)?;
        Ok(doc.as_bytes().to_vec())
    }

    /// `-----BEGIN PRIVATE KEY-----` PEM.
    pub fn to_pkcs8_pem(&self) -> Result<String, CryptoError> {
        Ok(encode_pem("PRIVATE KEY", &self.to_pkcs8_der()?))
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            PrivateKey::P256(k) => PublicKey::P256(k.public_key()),
            PrivateKey::P384(k) => PublicKey::P384(k.public_key()),
            PrivateKey::P521(k) => PublicKey::P521(k.public_key()),
        }
    }

    /// Whether `cert_der`'s public key is this key's public key.
    pub fn matches_certificate(&self, cert_der: &[u8]) -> Result<bool, CryptoError> {
        let cert = super::Certificate::from_der(cert_der)?;
        Ok(PublicKey::from_spki_der(cert.spki_der()).is_ok_and(|p| p == self.public_key()))
    }

    /// The JSON Web Key Key Vault's ImportKey expects (RFC 7518 fields, base64url, no padding).
    pub fn to_import_jwk(&self) -> Result<ImportJwk, CryptoError> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            PrivateKey::Rsa(k) => {
                let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(k.as_ref())
                    .map_err(encode_err)?;
                let parsed =
                    rsa::pkcs1::RsaPrivateKeyRef::try_from(der.as_bytes()).map_err(encode_err)?;
                Ok(ImportJwk {
                    kty: "RSA".into(),
                    n: Some(b64(parsed.modulus.as_bytes())),
                    e: Some(b64(parsed.public_exponent.as_bytes())),
                    d: Some(b64(parsed.private_exponent.as_bytes())),
                    p: Some(b64(parsed.prime1.as_bytes())),
                    q: Some(b64(parsed.prime2.as_bytes())),
                    dp: Some(b64(parsed.exponent1.as_bytes())),
                    dq: Some(b64(parsed.exponent2.as_bytes())),
                    qi: Some(b64(parsed.coefficient.as_bytes())),
                    ..ImportJwk::default()
                })
            }
            PrivateKey::P256(k) => Ok(ec_jwk(
                "P-256",
                &k.public_key().to_sec1_bytes(),
                &k.to_bytes(),
            )),
            PrivateKey::P384(k) => Ok(ec_jwk(
                "P-384",
                &k.public_key().to_sec1_bytes(),
                &k.to_bytes(),
            )),
            PrivateKey::P521(k) => Ok(ec_jwk(
                "P-521",
                &k.public_key().to_sec1_bytes(),
                &k.to_bytes(),
            )),
        }
    }
}

fn ec_jwk(crv: &str, point: &[u8], d: &[u8]) -> ImportJwk {
    // Uncompressed SEC1 point: 0x04 || x || y, each coordinate the field size.
    let coords = &point[1..];
    let (x, y) = coords.split_at(coords.len() / 2);
    ImportJwk {
        kty: "EC".into(),
        crv: Some(crv.into()),
        x: Some(URL_SAFE_NO_PAD.encode(x)),
        y: Some(URL_SAFE_NO_PAD.encode(y)),
        d: Some(URL_SAFE_NO_PAD.encode(d)),
        ..ImportJwk::default()
    }
}

impl PublicKey {
    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, CryptoError> {
        if let Ok(k) = rsa::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::Rsa(k));
        }
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(k));
        }
        p521::PublicKey::from_public_key_der(der)
            .map(PublicKey::P521)
            .map_err(|_| {
                CryptoError::UnsupportedAlgorithm(
                    "public key is not rsa, p-256, p-384 or p-521".into(),
                )
            })
    }

    /// PKIX SubjectPublicKeyInfo DER (Go's `x509.MarshalPKIXPublicKey`).
    pub fn to_spki_der(&self) -> Result<Vec<u8>, CryptoError> {
        let doc = match self {
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::P521(k) => k.to_public_key_der(),
        }
        .map_err(encode_err)?;
        Ok(doc.as_bytes().to_vec())
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM.
    pub fn to_pem(&self) -> Result<String, CryptoError> {
        Ok(encode_pem("PUBLIC KEY", &self.to_spki_der()?))
    }

    /// RSA modulus size in bytes, for callers that need it.
    pub fn rsa_size(&self) -> Option<usize> {
        match self {
            PublicKey::Rsa(k) => Some(k.size()),
            _ => None,
        }
    }
}

/// Key Vault's ImportKey `key` object. `Debug` is redacted: it holds private material.
#[derive(Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportJwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl fmt::Debug for ImportJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImportJwk({}, <redacted>)", self.kty)
    }
}
