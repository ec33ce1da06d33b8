//! Compact JWS (JWT) encoding, decoding and RS256 / ES256 verification.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Value, json};

use super::crypto::{b64_any, b64url, rsa_public_components, rsa_public_der, sha256};

/// Why a JWT was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url JSON parts.
    #[error("malformed token")]
    Malformed,
    /// The signature does not verify with any acceptable key.
    #[error("signature validation failed")]
    BadSignature,
    /// The algorithm is not one the verifier accepts.
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
}

/// A decoded but not yet verified JWT.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    /// Splits and decodes `token` without verifying it.
    pub fn decode(token: &str) -> Result<Self, JwtError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let parse = |part: &str| -> Result<Value, JwtError> {
            let bytes = b64_any(part).ok_or(JwtError::Malformed)?;
            serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
        };
        Ok(Self {
            header: parse(h)?,
            claims: parse(c)?,
            signing_input: format!("{h}.{c}"),
            signature: b64_any(s).ok_or(JwtError::Malformed)?,
        })
    }

    /// The `alg` header.
    pub fn alg(&self) -> &str {
        self.header["alg"].as_str().unwrap_or("")
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims[name].as_str()
    }

    /// A numeric (unix seconds) claim.
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let value = &self.claims[name];
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }

    /// Whether `aud` (string or array) contains `audience`.
    pub fn has_audience(&self, audience: &str) -> bool {
        match &self.claims["aud"] {
            Value::String(one) => one == audience,
            Value::Array(many) => many.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        }
    }

    /// Verifies RS256 against an RSA public key given as big-endian components (the only
    /// algorithm Entra signs access tokens with).
    pub fn verify_rs256(&self, n: &[u8], e: &[u8]) -> Result<(), JwtError> {
        if self.alg() != "RS256" {
            return Err(JwtError::Algorithm(self.alg().to_string()));
        }
        self.verify_rsa(n, e)
    }

    /// Verifies RS256 (PKCS#1 v1.5) or PS256 (PSS, which MSAL signs certificate assertions with
    /// when it knows the SHA-256 thumbprint) against an RSA public key given as big-endian
    /// components.
    pub fn verify_rsa(&self, n: &[u8], e: &[u8]) -> Result<(), JwtError> {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.alg() {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
            other => return Err(JwtError::Algorithm(other.to_string())),
        };
        let der = rsa_public_der(n, e);
        UnparsedPublicKey::new(algorithm, der)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::BadSignature)
    }

    /// Verifies against one JWK (RSA → RS256 or PS256, EC P-256 → ES256, EC P-384 → ES384).
    pub fn verify_jwk(&self, jwk: &Value) -> Result<(), JwtError> {
        let field = |name: &str| jwk[name].as_str().and_then(b64_any);
        match jwk["kty"].as_str() {
            Some("RSA") => {
                let (Some(n), Some(e)) = (field("n"), field("e")) else {
                    return Err(JwtError::BadSignature);
                };
                self.verify_rsa(&n, &e)
            }
            Some("EC") => {
                let (Some(x), Some(y)) = (field("x"), field("y")) else {
                    return Err(JwtError::BadSignature);
                };
                let algorithm: &dyn signature::VerificationAlgorithm =
                    match (self.alg(), jwk["crv"].as_str()) {
                        ("ES256", Some("P-256")) => &signature::ECDSA_P256_SHA256_FIXED,
                        ("ES384", Some("P-384")) => &signature::ECDSA_P384_SHA384_FIXED,
                        (alg, _) => return Err(JwtError::Algorithm(alg.to_string())),
                    };
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                UnparsedPublicKey::new(algorithm, point)
                    .verify(self.signing_input.as_bytes(), &self.signature)
                    .map_err(|_| JwtError::BadSignature)
            }
            _ => Err(JwtError::BadSignature),
        }
    }

    /// Verifies against any key of a JWKS document, preferring the one whose `kid` matches.
    pub fn verify_jwks(&self, jwks: &Value) -> Result<(), JwtError> {
        let keys = jwks["keys"].as_array().ok_or(JwtError::BadSignature)?;
        let kid = self.header["kid"].as_str();
        let mut candidates: Vec<&Value> = keys
            .iter()
            .filter(|k| kid.is_some() && k["kid"].as_str() == kid)
            .collect();
        if candidates.is_empty() {
            candidates = keys.iter().collect();
        }
        if candidates.iter().any(|k| self.verify_jwk(k).is_ok()) {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

/// An RSA key that signs RS256 JWTs, with its public JWK.
pub struct RsaSigner {
    key: RsaKeyPair,
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl RsaSigner {
    /// Generates a fresh RSA-2048 key.
    pub fn generate() -> Self {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("aws-lc-rs generates RSA-2048 keys");
        Self::from_key(key, None)
    }

    /// Loads a PKCS#8 RSA private key; `kid` defaults to a SHA-256 thumbprint of the key.
    pub fn from_pkcs8(pkcs8: &[u8], kid: Option<String>) -> Option<Self> {
        RsaKeyPair::from_pkcs8(pkcs8)
            .ok()
            .map(|key| Self::from_key(key, kid))
    }

    fn from_key(key: RsaKeyPair, kid: Option<String>) -> Self {
        let (n, e) = rsa_public_components(key.public_key().as_ref())
            .expect("aws-lc-rs public keys are RFC 8017 DER");
        let kid = kid.unwrap_or_else(|| b64url(&sha256(&n))[..27].to_string());
        Self { key, kid, n, e }
    }

    /// The key id placed in JWT headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public modulus and exponent.
    pub fn public_components(&self) -> (&[u8], &[u8]) {
        (&self.n, &self.e)
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": b64url(&self.n), "e": b64url(&self.e)})
    }

    /// Signs `claims` with the given header fields merged over `{"alg":"RS256","typ":"JWT","kid":…}`.
    pub fn sign(&self, extra_header: &Value, claims: &Value) -> String {
        let mut header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        if let (Some(target), Some(extra)) = (header.as_object_mut(), extra_header.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing with a valid key does not fail");
        format!("{input}.{}", b64url(&sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_token_verifies_and_tampered_token_does_not() {
        let signer = RsaSigner::generate();
        let token = signer.sign(&json!({}), &json!({"sub": "a", "aud": ["x", "y"]}));
        let jwt = Jwt::decode(&token).unwrap();
        let (n, e) = signer.public_components();
        assert_eq!(jwt.verify_rs256(n, e), Ok(()));
        assert!(jwt.has_audience("y"));
        assert_eq!(jwt.verify_jwks(&json!({"keys": [signer.jwk()]})), Ok(()));
        let other = RsaSigner::generate();
        let (n2, e2) = other.public_components();
        assert_eq!(jwt.verify_rs256(n2, e2), Err(JwtError::BadSignature));
    }
}
