//! Bearer token checks for the vault: signature, issuer (tenant), audience, lifetime.

use super::super::jwt::Jwt;
use super::super::model::now;
use super::super::state::Shared;
use super::error::KvError;

/// Seconds of clock skew tolerated on `nbf`.
const SKEW_SECONDS: i64 = 300;

/// The caller a valid token names.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `appid`.
    pub client_id: String,
    /// `oid`.
    pub object_id: String,
    /// `iss`.
    pub issuer: String,
}

/// Validates `authorization` for a vault owned by `tenant`.
pub fn validate(shared: &Shared, authorization: &str, tenant: &str) -> Result<Caller, KvError> {
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .ok_or_else(|| {
            KvError::unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        })?;
    let jwt = Jwt::decode(token)
        .map_err(|_| KvError::unauthorized("AKV10001: Invalid token. Token is malformed."))?;
    let (n, e) = shared.signer.public_components();
    jwt.verify_rs256(n, e).map_err(|_| {
        KvError::unauthorized("Error validating token: IDX10511: Signature validation failed.")
    })?;
    let accepted = [
        format!("https://sts.windows.net/{tenant}/"),
        format!("https://login.microsoftonline.com/{tenant}/v2.0"),
    ];
    let issuer = jwt.claim_str("iss").unwrap_or_default().to_string();
    if !accepted.iter().any(|a| a.eq_ignore_ascii_case(&issuer)) {
        return Err(KvError::unauthorized(format!(
            "AKV10032: Invalid issuer. Expected one of {}, found {issuer}.",
            accepted.join(", ")
        )));
    }
    let resource = shared.resource.as_str();
    let audiences = [resource.to_string(), format!("{resource}/")];
    if !audiences.iter().any(|a| jwt.has_audience(a)) {
        let found = jwt.claims["aud"].to_string();
        return Err(KvError::unauthorized(format!(
            "AKV10022: Invalid audience. Expected {resource}, found: {}.",
            found.trim_matches('"')
        )));
    }
    let now = now();
    // Expiry is checked strictly so tests can prove that an expired token is refused.
    if jwt.claim_i64("exp").is_none_or(|exp| exp <= now) {
        return Err(KvError::unauthorized(
            "[TokenExpired] Error validating token: 'S2S12086'.",
        ));
    }
    if jwt
        .claim_i64("nbf")
        .is_some_and(|nbf| nbf > now + SKEW_SECONDS)
    {
        return Err(KvError::unauthorized(
            "Error validating token: 'S2S12085'. The token is not yet valid.",
        ));
    }
    Ok(Caller {
        client_id: jwt.claim_str("appid").unwrap_or_default().to_string(),
        object_id: jwt.claim_str("oid").unwrap_or_default().to_string(),
        issuer,
    })
}
