//! JSON Web Key → PEM, as ESO's `jwkPublicKeyPem` / `jwkPrivateKeyPem`. Accepts Key Vault's
//! `RSA-HSM` / `EC-HSM` key types alongside `RSA` / `EC`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::BoxedUint;

use super::CryptoError;
use super::keys::{PrivateKey, PublicKey};

/// Decodes a JWK binary field: base64url without padding, tolerating padding and the standard
/// alphabet as Go's JWK readers do.
pub fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(cleaned).ok()
}

fn field(jwk: &serde_json::Value, name: &str) -> Result<Option<Vec<u8>>, CryptoError> {
    match jwk.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => decode_base64url(s)
            .map(Some)
            .ok_or_else(|| CryptoError::ParseJwk(format!("field {name:?} is not base64url"))),
        Some(_) => Err(CryptoError::ParseJwk(format!(
            "field {name:?} is not a string"
        ))),
    }
}

fn required(jwk: &serde_json::Value, name: &str) -> Result<Vec<u8>, CryptoError> {
    field(jwk, name)?.ok_or_else(|| CryptoError::ParseJwk(format!("missing field {name:?}")))
}

fn uint(b: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(b)
}

/// Parses a JWK into its public key and, when it has private parts, its private key.
fn parse(json: &[u8]) -> Result<(PublicKey, Option<PrivateKey>), CryptoError> {
    let jwk: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
        CryptoError::ParseJwk(format!(
            "invalid json at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    let kty = jwk
        .get("kty")
        .and_then(|k| k.as_str())
        .ok_or_else(|| CryptoError::ParseJwk("missing field \"kty\"".into()))?;
    match kty {
        "RSA" | "RSA-HSM" => {
            let (n, e) = (required(&jwk, "n")?, required(&jwk, "e")?);
            let public = rsa::PublicKey::new(uint(&n), uint(&e))
                .map_err(|e| CryptoError::ParseJwk(format!("invalid rsa public key: {e}")))?;
            let private = match field(&jwk, "d")? {
                None => None,
                Some(d) => {
                    let primes = match (field(&jwk, "p")?, field(&jwk, "q")?) {
                        (Some(p), Some(q)) => vec![uint(&p), uint(&q)],
                        _ => Vec::new(),
                    };
                    let key =
                        rsa::PrivateKey::from_components(uint(&n), uint(&e), uint(&d), primes)
                            .map_err(|e| {
                                CryptoError::ParseJwk(format!("invalid rsa private key: {e}"))
                            })?;
                    Some(PrivateKey::Rsa(Box::new(key)))
                }
            };
            Ok((PublicKey::Rsa(public), private))
        }
        "EC" | "EC-HSM" => {
            let crv = jwk
                .get("crv")
                .and_then(|c| c.as_str())
                .ok_or_else(|| CryptoError::ParseJwk("missing field \"crv\"".into()))?;
            let (x, y) = (required(&jwk, "x")?, required(&jwk, "y")?);
            let point = [&[0x04u8][..], &x, &y].concat();
            let d = field(&jwk, "d")?;
            let bad_point = |_| CryptoError::ParseJwk("invalid ec point".into());
            let bad_scalar = |_| CryptoError::ParseJwk("invalid ec private key".into());
            let (public, private) = match crv {
                "P-256" => (
                    PublicKey::P256(p256::PublicKey::from_sec1_bytes(&point).map_err(bad_point)?),
                    d.map(|d| {
                        p256::SecretKey::from_slice(&d)
                            .map(PrivateKey::P256)
                            .map_err(bad_scalar)
                    })
                    .transpose()?,
                ),
                "P-384" => (
                    PublicKey::P384(p384::PublicKey::from_sec1_bytes(&point).map_err(bad_point)?),
                    d.map(|d| {
                        p384::SecretKey::from_slice(&d)
                            .map(PrivateKey::P384)
                            .map_err(bad_scalar)
                    })
                    .transpose()?,
                ),
                "P-521" => (
                    PublicKey::P521(p521::PublicKey::from_sec1_bytes(&point).map_err(bad_point)?),
                    d.map(|d| {
                        p521::SecretKey::from_slice(&d)
                            .map(PrivateKey::P521)
                            .map_err(bad_scalar)
                    })
                    .transpose()?,
                ),
                other => {
                    return Err(CryptoError::UnsupportedAlgorithm(format!(
                        "ec curve {other}"
                    )));
                }
            };
            if let Some(k) = &private
                && k.public_key() != public
            {
                return Err(CryptoError::ParseJwk(
                    "private key does not match x and y".into(),
                ));
            }
            Ok((public, private))
        }
        other => Err(CryptoError::UnsupportedAlgorithm(format!(
            "jwk key type {other}"
        ))),
    }
}

/// PKIX `PUBLIC KEY` PEM of a JWK (public parts are used even when private ones are present).
pub fn jwk_public_key_pem(json: &[u8]) -> Result<String, CryptoError> {
    parse(json)?.0.to_pem()
}

/// PKCS#8 `PRIVATE KEY` PEM of a JWK with private parts.
pub fn jwk_private_key_pem(json: &[u8]) -> Result<String, CryptoError> {
    parse(json)?
        .1
        .ok_or(CryptoError::JwkNotPrivate)?
        .to_pkcs8_pem()
}
