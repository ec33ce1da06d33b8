//! Service-principal client certificates: parse PEM (certificate or chain plus an unencrypted
//! PKCS#8, PKCS#1 or SEC1 key) or a password-less PKCS#12, pick the certificate whose public key
//! matches the private key (ESO's "last certificate wins" is a bug), and sign Entra client
//! assertions (RS256, or ES256/ES384 for EC keys) with RustCrypto. No OpenSSL.

use std::fmt;

use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding as _, Signer as _};

/// Assertions are valid this long (the SDK's certificate credential uses the same).
const ASSERTION_LIFETIME_SECONDS: i64 = 300;

/// A client certificate could not be used; messages follow ESO's where ESO has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// No CERTIFICATE block and not a PKCS#12.
    #[error("failed to decode certificate: no certificate found in PEM file")]
    NoCertificate,
    /// No private key block.
    #[error("failed to decode certificate: no private key found in PEM file")]
    NoPrivateKey,
    /// A key type we cannot sign with.
    #[error(
        "failed to extract private key from PEM certificate: found unknown private key type in PKCS#8 wrapping"
    )]
    UnknownKeyType,
    /// An encrypted key (no password can be configured).
    #[error(
        "failed to decode certificate: encrypted private keys are not supported, store the key unencrypted"
    )]
    EncryptedKey,
    /// A block or file that does not parse.
    #[error("failed to decode certificate: {0}")]
    Malformed(String),
    /// None of the certificates belongs to the key.
    #[error("failed to decode certificate: no certificate matches the private key")]
    NoMatchingCertificate,
}

enum SigningKey {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>, Vec<u8>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl SigningKey {
    /// The raw subject public key (PKCS#1 RSAPublicKey, or the uncompressed EC point), as in a
    /// certificate's SubjectPublicKeyInfo bit string.
    fn public_key_bits(&self) -> Vec<u8> {
        match self {
            SigningKey::Rsa(_, public) => public.clone(),
            SigningKey::P256(key) => key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            SigningKey::P384(key) => key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self {
            SigningKey::Rsa(..) => "RS256",
            SigningKey::P256(_) => "ES256",
            SigningKey::P384(_) => "ES384",
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Rsa(key, _) => key.sign(message).to_vec(),
            SigningKey::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            SigningKey::P384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
        }
    }

    fn from_rsa(key: rsa::PrivateKey) -> Result<Self, CertificateError> {
        let public = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| CertificateError::Malformed(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(SigningKey::Rsa(
            Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key)),
            public,
        ))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, CertificateError> {
        if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(der) {
            return Self::from_rsa(key);
        }
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(SigningKey::P256(key));
        }
        if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(SigningKey::P384(key));
        }
        Err(CertificateError::UnknownKeyType)
    }

    fn from_sec1(der: &[u8]) -> Result<Self, CertificateError> {
        if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
            return Ok(SigningKey::P256(key.into()));
        }
        if let Ok(key) = p384::SecretKey::from_sec1_der(der) {
            return Ok(SigningKey::P384(key.into()));
        }
        Err(CertificateError::UnknownKeyType)
    }
}

/// A certificate and its private key, ready to sign client assertions.
pub struct ClientCertificate {
    leaf_der: Vec<u8>,
    key: SigningKey,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("algorithm", &self.key.algorithm())
            .field("x5t", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Parses PEM text, a DER PKCS#12 without password, or that PKCS#12 in base64.
    pub fn parse(data: &[u8]) -> Result<Self, CertificateError> {
        if let Ok(text) = std::str::from_utf8(data)
            && text.contains("-----BEGIN")
        {
            return Self::from_pem(text);
        }
        if let Ok(parsed) = Self::from_pkcs12(data) {
            return Ok(parsed);
        }
        let compact: Vec<u8> = data
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match STANDARD.decode(&compact) {
            Ok(der) => Self::from_pkcs12(&der),
            Err(_) => Err(CertificateError::NoCertificate),
        }
    }

    fn from_pem(text: &str) -> Result<Self, CertificateError> {
        let blocks =
            pem::parse_many(text).map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let certificates: Vec<Vec<u8>> = blocks
            .iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| b.contents().to_vec())
            .collect();
        if certificates.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        let mut key = None;
        for block in &blocks {
            match block.tag() {
                "PRIVATE KEY" => key = Some(SigningKey::from_pkcs8(block.contents())?),
                "RSA PRIVATE KEY" => {
                    let rsa = rsa::PrivateKey::from_pkcs1_der(block.contents())
                        .map_err(|e| CertificateError::Malformed(e.to_string()))?;
                    key = Some(SigningKey::from_rsa(rsa)?);
                }
                "EC PRIVATE KEY" => key = Some(SigningKey::from_sec1(block.contents())?),
                "ENCRYPTED PRIVATE KEY" => return Err(CertificateError::EncryptedKey),
                _ => {}
            }
        }
        let key = key.ok_or(CertificateError::NoPrivateKey)?;
        Self::with_matching_leaf(certificates, key)
    }

    fn from_pkcs12(der: &[u8]) -> Result<Self, CertificateError> {
        use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
        let store = KeyStore::from_pkcs12(der, "", Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| CertificateError::Malformed(format!("PKCS#12: {e}")))?;
        let mut certificates = Vec::new();
        let mut key = None;
        for (_, entry) in store.entries() {
            match entry {
                KeyStoreEntry::PrivateKeyChain(chain) => {
                    key = Some(SigningKey::from_pkcs8(chain.key().as_der())?);
                    certificates.extend(chain.certs().iter().map(|c| c.as_der().to_vec()));
                }
                KeyStoreEntry::Certificate(certificate) => {
                    certificates.push(certificate.as_der().to_vec());
                }
                _ => {}
            }
        }
        if certificates.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        let key = key.ok_or(CertificateError::NoPrivateKey)?;
        Self::with_matching_leaf(certificates, key)
    }

    /// The certificate whose public key is the key's, wherever it is in the chain.
    fn with_matching_leaf(
        certificates: Vec<Vec<u8>>,
        key: SigningKey,
    ) -> Result<Self, CertificateError> {
        let index = leaf_index(&certificates, &key.public_key_bits())?;
        Ok(Self {
            leaf_der: certificates.into_iter().nth(index).unwrap_or_default(),
            key,
        })
    }

    /// The leaf certificate (DER).
    pub fn leaf_der(&self) -> &[u8] {
        &self.leaf_der
    }

    /// `x5t`: base64url SHA-1 of the leaf DER.
    pub fn thumbprint(&self) -> String {
        use sha1::Digest as _;
        URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.leaf_der))
    }

    /// A signed client assertion for `client_id` at `audience` (the token URL), valid from
    /// `now` (unix seconds) for five minutes.
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> String {
        let header = serde_json::json!({
            "alg": self.key.algorithm(),
            "typ": "JWT",
            "x5t": self.thumbprint(),
        });
        let claims = serde_json::json!({
            "aud": audience,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "iss": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "sub": client_id,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// The index of the certificate whose SubjectPublicKeyInfo bit string equals `public_key`.
fn leaf_index(certificates: &[Vec<u8>], public_key: &[u8]) -> Result<usize, CertificateError> {
    for (index, der) in certificates.iter().enumerate() {
        let (_, certificate) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        if certificate
            .tbs_certificate
            .subject_pki
            .subject_public_key
            .data
            .as_ref()
            == public_key
        {
            return Ok(index);
        }
    }
    Err(CertificateError::NoMatchingCertificate)
}

/// Fingerprint input: the SHA-256 of the leaf, so a renewed certificate gets a new credential.
pub(crate) fn leaf_sha256(certificate: &ClientCertificate) -> Vec<u8> {
    Sha256::digest(&certificate.leaf_der).to_vec()
}

/// The assertion source for `ClientAssertionCredential`: a fresh signed JWT per token request.
#[derive(Debug)]
pub(crate) struct CertificateAssertion {
    pub certificate: ClientCertificate,
    pub client_id: String,
    pub token_url: String,
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self.certificate.assertion(
            &self.client_id,
            &self.token_url,
            chrono::Utc::now().timestamp(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a leaf signed by it, as PEM; `ec` picks a P-256 leaf key.
    fn chain(ec: bool) -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = if ec {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
        } else {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
        };
        let leaf = rcgen::CertificateParams::new(vec!["client".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        (leaf.pem(), ca.pem(), leaf_key.serialize_pem())
    }

    fn decode_part(token: &str, index: usize) -> serde_json::Value {
        let part = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// Verifies the token's signature with the leaf's public key (aws-lc-rs, independent of
    /// the signer) and returns the signature.
    fn verify(
        parsed: &ClientCertificate,
        token: &str,
        algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    ) -> Vec<u8> {
        let (_, certificate) = x509_parser::parse_x509_certificate(parsed.leaf_der()).unwrap();
        let public = certificate
            .tbs_certificate
            .subject_pki
            .subject_public_key
            .data
            .to_vec();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, public)
            .verify(input.as_bytes(), &signature)
            .unwrap();
        signature
    }

    #[test]
    fn the_leaf_matching_the_key_is_picked_wherever_it_is_in_the_chain() {
        let (leaf, ca, key) = chain(false);
        let leaf_der = pem::parse(&leaf).unwrap().contents().to_vec();
        for pem in [
            format!("{leaf}{ca}{key}"),
            format!("{key}{ca}{leaf}"),
            format!("{ca}{leaf}{key}"),
        ] {
            let parsed = ClientCertificate::parse(pem.as_bytes()).unwrap();
            assert_eq!(parsed.leaf_der(), leaf_der.as_slice());
        }
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let (leaf, ca, _) = chain(false);
        let (_, _, other_key) = chain(false);
        assert_eq!(
            ClientCertificate::parse(format!("{leaf}{ca}{other_key}").as_bytes()).unwrap_err(),
            CertificateError::NoMatchingCertificate
        );
        assert_eq!(
            ClientCertificate::parse(leaf.as_bytes()).unwrap_err(),
            CertificateError::NoPrivateKey
        );
        let (_, _, key) = chain(false);
        assert_eq!(
            ClientCertificate::parse(key.as_bytes()).unwrap_err(),
            CertificateError::NoCertificate
        );
    }

    #[test]
    fn rsa_assertions_are_rs256_with_a_sha1_thumbprint_and_verify() {
        let (leaf, _, key) = chain(false);
        let parsed = ClientCertificate::parse(format!("{leaf}{key}").as_bytes()).unwrap();
        let token = parsed.assertion("app", "https://login.example/t/oauth2/v2.0/token", 1_000);
        let header = decode_part(&token, 0);
        let claims = decode_part(&token, 1);
        assert_eq!(header["alg"], "RS256");
        use sha1::Digest as _;
        let expected = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(parsed.leaf_der()));
        assert_eq!(header["x5t"], expected);
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["sub"], "app");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["nbf"], 1_000);
        assert_eq!(claims["exp"], 1_300);

        verify(
            &parsed,
            &token,
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        );
    }

    #[test]
    fn ec_assertions_are_es256_and_verify() {
        let (leaf, ca, key) = chain(true);
        let parsed = ClientCertificate::parse(format!("{ca}{leaf}{key}").as_bytes()).unwrap();
        let token = parsed.assertion("app", "aud", 5);
        assert_eq!(decode_part(&token, 0)["alg"], "ES256");
        let signature = verify(
            &parsed,
            &token,
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        );
        assert_eq!(signature.len(), 64);
    }

    #[test]
    fn pkcs1_and_sec1_keys_are_accepted() {
        let (leaf, _, key) = chain(false);
        let der = pem::parse(&key).unwrap().contents().to_vec();
        let rsa = rsa::PrivateKey::from_pkcs8_der(&der).unwrap();
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let pkcs1 = rsa.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
        assert!(ClientCertificate::parse(format!("{leaf}{}", pkcs1.as_str()).as_bytes()).is_ok());

        let (leaf, _, key) = chain(true);
        let der = pem::parse(&key).unwrap().contents().to_vec();
        let secret = p256::SecretKey::from_pkcs8_der(&der).unwrap();
        let sec1 = secret.to_sec1_der().unwrap();
        let sec1_pem = pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1.to_vec()));
        assert!(ClientCertificate::parse(format!("{leaf}{sec1_pem}").as_bytes()).is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let (leaf, _, key) = chain(false);
        let parsed = ClientCertificate::parse(format!("{leaf}{key}").as_bytes()).unwrap();
        let debug = format!("{parsed:?}");
        assert!(debug.contains("RS256"));
        assert!(!debug.contains("PRIVATE"));
    }
}
