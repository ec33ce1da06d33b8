//! `key/` pushes: a PEM private key becomes the JSON Web Key of Key Vault's ImportKey body, and
//! its public parts decide whether the key in the vault already is this key.

use akvsync_template::crypto::{PrivateKey, decode_base64url, parse_pem_blocks};

use super::PushError;

/// The import JWK (with private parts) and the public parts to compare.
pub(crate) struct ImportKey {
    pub jwk_json: Vec<u8>,
    pub public: PublicParts,
}

/// The public half of a JWK: `kty` and the RSA modulus and exponent or the EC curve and point,
/// as big-endian bytes without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PublicParts {
    kty: String,
    fields: Vec<(&'static str, Vec<u8>)>,
}

/// Parses the first PEM block of `value` as ESO's `getKeyFromValue` does and builds the import
/// JWK. `name` is the Key Vault key's name, for messages.
pub(crate) fn import_key(name: &str, value: &[u8]) -> Result<ImportKey, PushError> {
    let Some(block) = parse_pem_blocks(value).into_iter().next() else {
        return Err(PushError::SymmetricKey {
            name: name.to_owned(),
        });
    };
    let parsed = match block.label.as_str() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der),
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&block.der),
        "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.der),
        other => {
            return Err(PushError::UnsupportedKeyType {
                name: name.to_owned(),
                pem_type: other.to_owned(),
            });
        }
    };
    let invalid = |message: String| PushError::ParsePrivateKey {
        name: name.to_owned(),
        message,
    };
    let key = parsed.map_err(|error| invalid(error.to_string()))?;
    let jwk = key
        .to_import_jwk()
        .map_err(|error| invalid(error.to_string()))?;
    let jwk_json = serde_json::to_vec(&jwk).map_err(|error| invalid(error.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&jwk_json).map_err(|error| invalid(error.to_string()))?;
    let public = public_parts(&value).ok_or_else(|| invalid("incomplete public key".into()))?;
    Ok(ImportKey { jwk_json, public })
}

/// The public parts of a JWK as akvsync's `get` returns it (`kty`, `n`, `e` / `crv`, `x`,
/// `y`); `None` when it is not an RSA or EC key with all of them.
pub(crate) fn public_parts(jwk: &serde_json::Value) -> Option<PublicParts> {
    let kty = jwk.get("kty")?.as_str()?;
    // An HSM-protected key holds the same public key: the material decides, not the protection.
    let kty = kty.strip_suffix("-HSM").unwrap_or(kty).to_owned();
    let names: &[&'static str] = match kty.as_str() {
        "RSA" => &["n", "e"],
        "EC" => &["x", "y"],
        _ => return None,
    };
    let mut fields = Vec::new();
    if kty == "EC" {
        fields.push(("crv", jwk.get("crv")?.as_str()?.as_bytes().to_vec()));
    }
    for name in names {
        let bytes = decode_base64url(jwk.get(*name)?.as_str()?)?;
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        fields.push((*name, bytes[first..].to_vec()));
    }
    Some(PublicParts { kty, fields })
}
