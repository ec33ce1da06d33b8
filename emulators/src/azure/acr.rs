//! Azure Container Registry's token service, at `<registry>.azurecr.localhost` (see
//! <https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md>):
//! - `POST /oauth2/exchange` (`grant_type=access_token`, `service`, `tenant`, `access_token`):
//!   an Entra token for Azure Resource Manager (or ACR's own audience) from a principal with a
//!   role on the registry becomes an ACR refresh token;
//! - `POST /oauth2/token` (`grant_type=refresh_token`, `service`, `scope`, `refresh_token`): a
//!   refresh token becomes an access token for `repository:<name>:<actions>` scopes, granted
//!   the actions the principal's role allows;
//! - `GET /v2/`: the registry API's challenge, naming the realm and service.
//!
//! Errors are ACR's `{"errors": [{"code", "message"}]}`. Tokens are JWTs signed with the
//! emulator's key, with ACR's claims.

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{Value, json};

use super::http::{Resp, form_map, host_name, json_response};
use super::jwt::Jwt;
use super::model::{AcrRole, now};
use super::state::Shared;
use super::stats::RequestKey;

/// Suffix of registry host names.
pub const ACR_SUFFIX: &str = ".azurecr.localhost";
/// The issuer ACR puts in its tokens.
pub const ISSUER: &str = "Azure Container Registry";
/// Entra audiences a token exchange accepts: Azure Resource Manager and ACR itself.
const AUDIENCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net/",
    "https://containerregistry.azure.net",
];
/// Lifetime of a refresh token (3 hours) and an access token (75 minutes), as ACR's.
const REFRESH_SECONDS: i64 = 3 * 3600;
const ACCESS_SECONDS: i64 = 75 * 60;
const MAX_FORM_BYTES: usize = 64 * 1024;

/// An ACR error answer.
struct AcrError {
    status: u16,
    code: &'static str,
    message: String,
}

impl AcrError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "UNAUTHORIZED", message)
    }

    fn response(&self) -> Resp {
        json_response(
            self.status,
            &json!({"errors": [{"code": self.code, "message": self.message}]}),
        )
    }
}

/// Serves one request to registry `name` at `host` (`<name>.azurecr.localhost[:port]`).
pub async fn handle(shared: &Shared, name: &str, host: &str, request: Request<Incoming>) -> Resp {
    let operation = match (request.method(), request.uri().path()) {
        (&Method::POST, "/oauth2/exchange") => "AcrExchange",
        (&Method::POST, "/oauth2/token") => "AcrToken",
        (&Method::GET, "/v2/" | "/v2") => "AcrChallenge",
        _ => "NotFound",
    };
    let answer = serve(shared, name, host, operation, request).await;
    let (status, principal) = match &answer {
        Ok((_, principal)) => (200, principal.clone()),
        Err((error, principal)) => (error.status, principal.clone()),
    };
    shared.stats.request(RequestKey {
        vault: format!("acr:{name}"),
        operation: operation.to_owned(),
        principal: principal.unwrap_or_else(|| "anonymous".to_owned()),
        status,
    });
    match answer {
        Ok((response, _)) => response,
        Err((error, _)) => {
            let mut response = error.response();
            if operation == "AcrChallenge" {
                let challenge = format!(
                    "Bearer realm=\"https://{host}/oauth2/token\",service=\"{}\"",
                    host_name(host)
                );
                if let Ok(value) = challenge.parse() {
                    response
                        .headers_mut()
                        .insert(hyper::header::WWW_AUTHENTICATE, value);
                }
            }
            response
        }
    }
}

type Served = Result<(Resp, Option<String>), (AcrError, Option<String>)>;

async fn serve(
    shared: &Shared,
    name: &str,
    host: &str,
    operation: &str,
    request: Request<Incoming>,
) -> Served {
    let registry = shared.world().registries.get(name).cloned();
    let Some(registry) = registry else {
        return Err((
            AcrError::new(404, "NAME_UNKNOWN", format!("registry {name} not found")),
            None,
        ));
    };
    match operation {
        "AcrChallenge" => Err((AcrError::unauthorized("authentication required"), None)),
        "AcrExchange" | "AcrToken" => {
            let form = read_form(request).await.map_err(|error| (error, None))?;
            let login_server = host_name(host);
            let service = form
                .get("service")
                .map(|s| host_name(s))
                .unwrap_or_default();
            if service != login_server {
                return Err((
                    AcrError::new(
                        400,
                        "UNAUTHORIZED",
                        format!("the service {service:?} is not this registry ({login_server})"),
                    ),
                    None,
                ));
            }
            if operation == "AcrExchange" {
                exchange(shared, &registry, &login_server, &form)
            } else {
                token(shared, &registry, &login_server, &form)
            }
        }
        _ => Err((
            AcrError::new(404, "NOT_FOUND", format!("no such path on registry {name}")),
            None,
        )),
    }
}

/// `POST /oauth2/exchange`: Entra access token → ACR refresh token.
fn exchange(
    shared: &Shared,
    registry: &super::model::Registry,
    login_server: &str,
    form: &BTreeMap<String, String>,
) -> Served {
    if form.get("grant_type").map(String::as_str) != Some("access_token") {
        return Err((
            AcrError::new(
                400,
                "UNSUPPORTED",
                "grant_type must be access_token (access_token_refresh_token is not emulated)",
            ),
            None,
        ));
    }
    let token = form.get("access_token").cloned().unwrap_or_default();
    let jwt = Jwt::decode(&token).map_err(|_| {
        (
            AcrError::unauthorized("the access token is malformed"),
            None,
        )
    })?;
    let (n, e) = shared.signer.public_components();
    jwt.verify_rs256(n, e).map_err(|_| {
        (
            AcrError::unauthorized("the access token's signature is invalid"),
            None,
        )
    })?;
    let client_id = jwt.claim_str("appid").unwrap_or_default().to_string();
    let principal = Some(client_id.clone());
    let expected_issuers = [
        format!("https://sts.windows.net/{}/", registry.tenant),
        format!("https://login.microsoftonline.com/{}/v2.0", registry.tenant),
    ];
    let issuer = jwt.claim_str("iss").unwrap_or_default();
    if !expected_issuers
        .iter()
        .any(|i| i.eq_ignore_ascii_case(issuer))
    {
        return Err((
            AcrError::unauthorized(format!(
                "the access token is from another tenant than the registry's ({issuer})"
            )),
            principal,
        ));
    }
    if let Some(tenant) = form.get("tenant").filter(|t| !t.is_empty())
        && !tenant.eq_ignore_ascii_case(&registry.tenant)
    {
        return Err((
            AcrError::unauthorized(format!("tenant {tenant} does not own this registry")),
            principal,
        ));
    }
    if !AUDIENCES.iter().any(|audience| jwt.has_audience(audience)) {
        return Err((
            AcrError::unauthorized(format!(
                "the access token's audience {} is not Azure Resource Manager or ACR",
                jwt.claims["aud"]
            )),
            principal,
        ));
    }
    let now = now();
    if jwt.claim_i64("exp").is_none_or(|exp| exp <= now) {
        return Err((
            AcrError::unauthorized("the access token has expired"),
            principal,
        ));
    }
    let Some(role) = registry.roles.get(&client_id).copied() else {
        return Err((
            AcrError::unauthorized(format!(
                "the principal {client_id} has no role on registry {}",
                registry.name
            )),
            principal,
        ));
    };
    let claims = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": jwt.claim_str("oid").unwrap_or_default(),
        "nbf": now - 5,
        "exp": now + REFRESH_SECONDS,
        "iat": now,
        "iss": ISSUER,
        "aud": login_server,
        "version": "1.0",
        "rid": registry.name.to_ascii_lowercase(),
        "grant_type": "refresh_token",
        "appid": client_id,
        "tenant": registry.tenant,
        "permissions": {"actions": role.actions(), "notActions": []},
        "roles": [],
    });
    let refresh = shared.signer.sign(&json!({}), &claims);
    Ok((
        json_response(200, &json!({"refresh_token": refresh})),
        principal,
    ))
}

/// `POST /oauth2/token`: ACR refresh token → access token for the asked scopes.
fn token(
    shared: &Shared,
    registry: &super::model::Registry,
    login_server: &str,
    form: &BTreeMap<String, String>,
) -> Served {
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return Err((
            AcrError::new(400, "UNSUPPORTED", "grant_type must be refresh_token"),
            None,
        ));
    }
    let refresh = form.get("refresh_token").cloned().unwrap_or_default();
    let jwt = Jwt::decode(&refresh).map_err(|_| {
        (
            AcrError::unauthorized("the refresh token is malformed"),
            None,
        )
    })?;
    let (n, e) = shared.signer.public_components();
    if jwt.verify_rs256(n, e).is_err()
        || jwt.claim_str("iss") != Some(ISSUER)
        || !jwt.has_audience(login_server)
    {
        return Err((
            AcrError::unauthorized("the refresh token was not issued by this registry"),
            None,
        ));
    }
    let client_id = jwt.claim_str("appid").unwrap_or_default().to_string();
    let principal = Some(client_id.clone());
    let now = now();
    if jwt.claim_i64("exp").is_none_or(|exp| exp <= now) {
        return Err((
            AcrError::unauthorized("the refresh token has expired"),
            principal,
        ));
    }
    // The role now, not when the refresh token was issued.
    let allowed = registry
        .roles
        .get(&client_id)
        .map_or(&[][..], |role: &AcrRole| role.actions());
    let scope = form.get("scope").cloned().unwrap_or_default();
    let mut access = Vec::new();
    for item in scope.split(' ').filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = item.splitn(3, ':').collect();
        let [kind, name, actions] = parts[..] else {
            return Err((
                AcrError::new(400, "UNSUPPORTED", format!("invalid scope {item:?}")),
                principal,
            ));
        };
        if kind != "repository" || name.is_empty() {
            return Err((
                AcrError::new(400, "UNSUPPORTED", format!("invalid scope {item:?}")),
                principal,
            ));
        }
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|action| allowed.contains(action))
            .collect();
        access.push(json!({"type": kind, "name": name, "actions": granted}));
    }
    let claims = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": jwt.claim_str("sub").unwrap_or_default(),
        "nbf": now - 5,
        "exp": now + ACCESS_SECONDS,
        "iat": now,
        "iss": ISSUER,
        "aud": login_server,
        "version": "1.0",
        "rid": registry.name.to_ascii_lowercase(),
        "access": access,
        "roles": [],
        "grant_type": "refresh_token",
        "appid": client_id,
        "tenant": registry.tenant,
    });
    let access_token = shared.signer.sign(&json!({}), &claims);
    Ok((
        json_response(200, &json!({"access_token": access_token})),
        principal,
    ))
}

async fn read_form(request: Request<Incoming>) -> Result<BTreeMap<String, String>, AcrError> {
    let bytes: Bytes = Limited::new(request.into_body(), MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(|_| AcrError::new(400, "UNSUPPORTED", "the request body could not be read"))?
        .to_bytes();
    Ok(form_map(&bytes))
}

/// The claims of a token this service issued, for tests.
pub fn claims(token: &str) -> Option<Value> {
    Jwt::decode(token).ok().map(|jwt| jwt.claims.clone())
}
