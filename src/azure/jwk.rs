//! The JSON ESO returns for `key/<name>`: the key's public JWK, byte for byte as ESO's legacy
//! path (struct field order, empty fields omitted) or its `useAzureSDK: true` path (keys sorted).

use azure_security_keyvault_keys::models::JsonWebKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The field order of the JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwkFieldOrder {
    /// go-autorest `keyvault.JSONWebKey` struct order (ESO's default path).
    Legacy,
    /// Alphabetical, as azkeys marshals through a map (ESO with `useAzureSDK: true`).
    Sorted,
}

/// go-autorest's struct order.
const LEGACY_ORDER: [&str; 16] = [
    "kid", "kty", "key_ops", "n", "e", "d", "dp", "dq", "qi", "p", "q", "k", "key_hsm", "crv", "x",
    "y",
];

/// The public JWK as JSON. Private parts are never included, even if the service sent them.
pub fn jwk_json(key: &JsonWebKey, order: JwkFieldOrder) -> String {
    let bytes = |value: &Option<Vec<u8>>| {
        value
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| Value::String(URL_SAFE_NO_PAD.encode(b)))
    };
    let text = |value: Option<String>| value.filter(|s| !s.is_empty()).map(Value::String);
    let field = |name: &str| -> Option<Value> {
        match name {
            "kid" => text(key.kid.clone()),
            "kty" => text(key.kty.as_ref().map(|k| k.to_string())),
            "key_ops" => key
                .key_ops
                .as_ref()
                .filter(|ops| !ops.is_empty())
                .map(|ops| Value::from(ops.clone())),
            "n" => bytes(&key.n),
            "e" => bytes(&key.e),
            "key_hsm" => bytes(&key.t),
            "crv" => text(key.crv.as_ref().map(|c| c.to_string())),
            "x" => bytes(&key.x),
            "y" => bytes(&key.y),
            // d, dp, dq, qi, p, q, k: private material, never returned.
            _ => None,
        }
    };
    let mut names: Vec<&str> = LEGACY_ORDER.to_vec();
    if order == JwkFieldOrder::Sorted {
        names.sort_unstable();
    }
    let mut out = String::from("{");
    for name in names {
        if let Some(value) = field(name) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&Value::String(name.to_owned()).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa() -> JsonWebKey {
        serde_json::from_value(serde_json::json!({
            "kid": "https://v.vault.azure.net/keys/k/1",
            "kty": "RSA",
            "key_ops": ["sign", "verify"],
            "n": "AQID",
            "e": "AQAB",
            "d": "BAUG"
        }))
        .unwrap()
    }

    fn ec() -> JsonWebKey {
        serde_json::from_value(serde_json::json!({
            "kid": "https://v.vault.azure.net/keys/e/2",
            "kty": "EC",
            "key_ops": ["sign"],
            "crv": "P-256",
            "x": "-_8",
            "y": "AA"
        }))
        .unwrap()
    }

    #[test]
    fn legacy_order_matches_eso_and_drops_private_parts() {
        assert_eq!(
            jwk_json(&rsa(), JwkFieldOrder::Legacy),
            r#"{"kid":"https://v.vault.azure.net/keys/k/1","kty":"RSA","key_ops":["sign","verify"],"n":"AQID","e":"AQAB"}"#
        );
        assert_eq!(
            jwk_json(&ec(), JwkFieldOrder::Legacy),
            r#"{"kid":"https://v.vault.azure.net/keys/e/2","kty":"EC","key_ops":["sign"],"crv":"P-256","x":"-_8","y":"AA"}"#
        );
    }

    #[test]
    fn sdk_order_is_alphabetical() {
        assert_eq!(
            jwk_json(&rsa(), JwkFieldOrder::Sorted),
            r#"{"e":"AQAB","key_ops":["sign","verify"],"kid":"https://v.vault.azure.net/keys/k/1","kty":"RSA","n":"AQID"}"#
        );
        assert_eq!(
            jwk_json(&ec(), JwkFieldOrder::Sorted),
            r#"{"crv":"P-256","key_ops":["sign"],"kid":"https://v.vault.azure.net/keys/e/2","kty":"EC","x":"-_8","y":"AA"}"#
        );
    }

    #[test]
    fn binary_fields_are_base64url_without_padding() {
        let json = jwk_json(&ec(), JwkFieldOrder::Legacy);
        assert!(!json.contains('='));
        assert!(json.contains(r#""x":"-_8""#));
    }
}
