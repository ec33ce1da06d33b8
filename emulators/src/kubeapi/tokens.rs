//! ServiceAccount tokens: the TokenRequest API issuing RS256 JWTs with the claims the real
//! apiserver puts in them, their verification (so they authenticate), and the OIDC issuer
//! documents (discovery + JWKS) that workload identity federation trusts.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest;

use super::errors::{ApiError, FieldCause};
use super::handlers::State;
use super::store::ObjectKey;

/// Default and minimum `expirationSeconds`, as the apiserver enforces them.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// The claims of a token the issuer verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub namespace: String,
    pub service_account: String,
}

/// Signs and verifies ServiceAccount tokens for one issuer URL.
pub struct TokenIssuer {
    key_pair: KeyPair,
    key_id: String,
    issuer: String,
    api_audience: String,
}

impl TokenIssuer {
    pub fn new(issuer: String) -> anyhow::Result<Self> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("generating the token signing key failed"))?;
        let key_id = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(key_pair.public_key().as_ref()));
        Ok(Self {
            key_pair,
            key_id,
            api_audience: issuer.clone(),
            issuer,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        let public = self.key_pair.public_key();
        json!({"keys": [{
            "use": "sig",
            "kty": "RSA",
            "kid": self.key_id,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// A signed JWT with `claims`.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({"alg": "RS256", "kid": self.key_id});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing a token failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Claims of a token this issuer signed, if the signature, expiry and `audience` hold.
    pub fn verify(&self, token: &str, audience: &str) -> Option<Value> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (_, payload) = signing_input.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let public = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key_pair.public_key().as_ref(),
        );
        public.verify(signing_input.as_bytes(), &signature).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let now = chrono::Utc::now().timestamp();
        let audiences = claims.get("aud").and_then(Value::as_array)?;
        let fresh = claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp > now)
            && claims
                .get("nbf")
                .and_then(Value::as_i64)
                .is_none_or(|nbf| nbf <= now + 1);
        (fresh
            && claims.get("iss").and_then(Value::as_str) == Some(&self.issuer)
            && audiences.iter().any(|entry| entry == audience))
        .then_some(claims)
    }

    /// Authenticates a bearer token as the ServiceAccount it was issued for, if that account
    /// still exists with the same uid.
    pub fn authenticate(&self, state: &State, token: &str) -> Option<VerifiedToken> {
        let claims = self.verify(token, &self.api_audience)?;
        let namespace = claims
            .pointer("/kubernetes.io/namespace")
            .and_then(Value::as_str)?
            .to_owned();
        let service_account = claims
            .pointer("/kubernetes.io/serviceaccount/name")
            .and_then(Value::as_str)?
            .to_owned();
        let service_account_uid = claims
            .pointer("/kubernetes.io/serviceaccount/uid")
            .and_then(Value::as_str)?
            .to_owned();
        let stored = state.store.get(&ObjectKey::new(
            "/serviceaccounts",
            &namespace,
            &service_account,
        ))?;
        (stored.pointer("/metadata/uid").and_then(Value::as_str) == Some(&service_account_uid))
            .then_some(VerifiedToken {
                namespace,
                service_account,
            })
    }

    /// Handles `POST /api/v1/namespaces/{namespace}/serviceaccounts/{name}/token`.
    pub fn token_request(
        &self,
        state: &State,
        namespace: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let Some(account) = state
            .store
            .get(&ObjectKey::new("/serviceaccounts", namespace, name))
        else {
            return Err(ApiError::not_found("serviceaccounts", name));
        };
        let request: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding request body: {error}"))
        })?;
        let uid = account
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let expiration = request
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        let invalid = |why: &str| {
            ApiError::invalid(
                "TokenRequest",
                "authentication.k8s.io",
                name,
                vec![FieldCause::invalid(
                    "spec.expirationSeconds",
                    &json!(expiration),
                    why,
                )],
            )
        };
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid("may not specify a duration less than 10 minutes"));
        }
        if expiration > MAX_EXPIRATION_SECONDS {
            return Err(invalid(
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        let mut audiences: Vec<Value> = request
            .pointer("/spec/audiences")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if audiences.is_empty() {
            audiences.push(json!(self.api_audience));
        }
        let now = chrono::Utc::now();
        let expires = now + chrono::TimeDelta::seconds(expiration);
        let mut kubernetes =
            json!({"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}});
        if let Some(bound) = request
            .pointer("/spec/boundObjectRef")
            .filter(|bound| bound.is_object())
            && let Some(kind) = bound.get("kind").and_then(Value::as_str)
        {
            kubernetes[kind.to_lowercase()] =
                json!({"name": bound.get("name"), "uid": bound.get("uid")});
        }
        let claims = json!({
            "aud": audiences,
            "exp": expires.timestamp(),
            "iat": now.timestamp(),
            "iss": self.issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": kubernetes,
            "nbf": now.timestamp(),
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
        });
        let token = self
            .sign(&claims)
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let mut spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
        spec["audiences"] = Value::Array(audiences);
        spec["expirationSeconds"] = json!(expiration);
        if spec.get("boundObjectRef").is_none() {
            spec["boundObjectRef"] = Value::Null;
        }
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
        }))
    }
}
