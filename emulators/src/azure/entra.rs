//! The Entra ID token endpoints `POST /{tenant}/oauth2/v2.0/token` and the v1
//! `POST /{tenant}/oauth2/token` (client secret, client assertion signed by a registered
//! certificate, federated assertion), the key sets, and the metadata documents of `oidc.rs`
//! (OpenID configuration v2.0 and v1, instance discovery). Errors use the real AADSTS JSON shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{Value, json};

use super::config::FEDERATED_AUDIENCE;
use super::crypto::b64_any;
use super::http::{Resp, form_map, json_response};
use super::jwt::Jwt;
use super::model::{Principal, now};
use super::oidc;
use super::state::Shared;
use super::stats::TokenKey;

/// `client_assertion_type` for JWT assertions.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew tolerated on assertions.
const SKEW_SECONDS: i64 = 300;
/// Largest form body accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// An AADSTS error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {error} AADSTS{code}: {description}")]
pub struct AadError {
    status: u16,
    error: &'static str,
    code: u32,
    description: String,
}

impl AadError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    fn missing(parameter: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    fn missing_query(parameter: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request must contain the following query parameter: '{parameter}'."),
        )
    }

    /// `temporarily_unavailable` for an injected outage.
    pub fn outage(status: u16) -> Self {
        Self::new(
            status,
            "temporarily_unavailable",
            90006,
            "The server is temporarily unavailable.",
        )
    }

    /// The JSON answer.
    pub fn response(&self) -> Resp {
        let trace = uuid::Uuid::new_v4();
        let correlation = uuid::Uuid::new_v4();
        let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        json_response(
            self.status,
            &json!({
                "error": self.error,
                "error_description": format!(
                    "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}",
                    self.code, self.description
                ),
                "error_codes": [self.code],
                "timestamp": timestamp,
                "trace_id": trace.to_string(),
                "correlation_id": correlation.to_string(),
                "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
            }),
        )
    }
}

/// Answers one request to `login.localhost`.
pub async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Resp {
    let faults = shared.settings().faults;
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::POST, [tenant, "oauth2", "v2.0", "token"] | [tenant, "oauth2", "token"]) => {
            let endpoint = if segments.len() == 4 {
                Endpoint::V2
            } else {
                Endpoint::V1
            };
            let tenant = tenant.to_string();
            if let Some(status) = faults.token_outage {
                count(shared, &tenant, "", "outage", status);
                return AadError::outage(status).response();
            }
            let form = match read_form(request).await {
                Ok(form) => form,
                Err(error) => return error.response(),
            };
            let client_id = form.get("client_id").cloned().unwrap_or_default();
            let (grant, result) = token(shared, &tenant, &form, endpoint);
            let response = match result {
                Ok(body) => json_response(200, &body),
                Err(error) => error.response(),
            };
            count(
                shared,
                &tenant,
                &client_id,
                grant,
                response.status().as_u16(),
            );
            response
        }
        (_, [_, "oauth2", "v2.0", "token"] | [_, "oauth2", "token"]) => AadError::new(
            400,
            "invalid_request",
            900561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                request.method()
            ),
        )
        .response(),
        (&Method::GET, [tenant, "discovery", "v2.0", "keys"] | [tenant, "discovery", "keys"]) => {
            if known_tenant_or_audience(shared, tenant) {
                json_response(200, &json!({"keys": [shared.signer.jwk()]}))
            } else {
                unknown_tenant(tenant).response()
            }
        }
        (&Method::GET, [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            match canonical_tenant(shared, tenant) {
                Some(tenant) => json_response(
                    200,
                    &oidc::configuration_v2(&shared.authority_host(), &tenant),
                ),
                None => unknown_tenant_discovery(tenant).response(),
            }
        }
        (&Method::GET, [tenant, ".well-known", "openid-configuration"]) => {
            match canonical_tenant(shared, tenant) {
                Some(tenant) => json_response(
                    200,
                    &oidc::configuration_v1(&shared.authority_host(), &tenant),
                ),
                None => unknown_tenant_discovery(tenant).response(),
            }
        }
        (&Method::GET, ["common", "discovery", "instance"]) => {
            let query = form_map(request.uri().query().unwrap_or_default().as_bytes());
            let Some(api_version) = query.get("api-version") else {
                return AadError::missing_query("api-version").response();
            };
            match oidc::instance_discovery(
                &shared.authority_host(),
                query.get("authorization_endpoint").map(String::as_str),
                api_version,
            ) {
                Ok(document) => json_response(200, &document),
                Err(oidc::InstanceDiscoveryError::UnknownInstance(_)) => AadError::new(
                    400,
                    "invalid_instance",
                    50049,
                    "Unknown or invalid instance.",
                )
                .response(),
            }
        }
        _ => json_response(
            404,
            &json!({"error": "not_found", "error_description": format!("AADSTS90000: The requested path {path} was not found.")}),
        ),
    }
}

fn count(shared: &Shared, tenant: &str, client_id: &str, grant: &str, status: u16) {
    shared.stats.token(TokenKey {
        tenant: tenant.to_string(),
        client_id: client_id.to_string(),
        grant: grant.to_string(),
        status,
    });
}

/// The tenant's id as the directory spells it, or the audience tenant (`common`, …) as asked.
fn canonical_tenant(shared: &Shared, tenant: &str) -> Option<String> {
    let lower = tenant.to_ascii_lowercase();
    (oidc::AUDIENCE_TENANTS.contains(&lower.as_str())
        || shared.world().tenants.contains_key(&lower))
    .then_some(lower)
}

fn known_tenant_or_audience(shared: &Shared, tenant: &str) -> bool {
    canonical_tenant(shared, tenant).is_some()
}

/// What the discovery documents answer for an unknown tenant (the token endpoint answers
/// `invalid_request` with the same code).
fn unknown_tenant_discovery(tenant: &str) -> AadError {
    AadError {
        error: "invalid_tenant",
        ..unknown_tenant(tenant)
    }
}

fn unknown_tenant(tenant: &str) -> AadError {
    AadError::new(
        400,
        "invalid_request",
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

async fn read_form(request: Request<Incoming>) -> Result<BTreeMap<String, String>, AadError> {
    let bytes: Bytes = Limited::new(request.into_body(), MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(|_| {
            AadError::new(
                400,
                "invalid_request",
                900144,
                "The request body could not be read.",
            )
        })?
        .to_bytes();
    Ok(form_map(&bytes))
}

/// Which token endpoint was asked: v2.0 takes a `scope` ending in `/.default` and answers
/// numbers; v1 (`/{tenant}/oauth2/token`, advertised by the v1 OpenID configuration) takes a
/// `resource` and answers every number as a string, plus `expires_on`, `not_before` and
/// `resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    V1,
    V2,
}

/// Runs the client-credentials grant; returns the grant kind (for counters) and the result.
fn token(
    shared: &Shared,
    tenant: &str,
    form: &BTreeMap<String, String>,
    endpoint: Endpoint,
) -> (&'static str, Result<Value, AadError>) {
    let grant = if form.contains_key("client_secret") {
        "client_secret"
    } else if form.contains_key("client_assertion") {
        "client_assertion"
    } else {
        "none"
    };
    let result = (|| {
        let principal = lookup(shared, tenant, form)?;
        let resource = match endpoint {
            Endpoint::V2 => resource(form)?,
            Endpoint::V1 => form
                .get("resource")
                .filter(|resource| !resource.is_empty())
                .cloned()
                .ok_or_else(|| AadError::missing("resource"))?,
        };
        let acr = if let Some(secret) = form.get("client_secret") {
            if !principal.client_secrets.iter().any(|s| s == secret) {
                return Err(AadError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        principal.client_id
                    ),
                ));
            }
            "1"
        } else if let Some(assertion) = form.get("client_assertion") {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return Err(AadError::new(
                    400,
                    "invalid_request",
                    50027,
                    "Invalid client_assertion_type. Expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
                ));
            }
            let jwt = Jwt::decode(assertion).map_err(|_| {
                AadError::new(
                    400,
                    "invalid_client",
                    50027,
                    "JWT token is invalid or malformed.",
                )
            })?;
            if jwt.claim_str("iss") == Some(principal.client_id.as_str()) {
                verify_certificate_assertion(shared, tenant, &principal, &jwt)?;
            } else {
                verify_federated_assertion(shared, &principal, &jwt)?;
            }
            "2"
        } else {
            return Err(AadError::new(
                400,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            ));
        };
        let issued_at = now();
        let (token, lifetime) = shared.issue_token(&principal, &resource, acr);
        let seconds = lifetime.as_secs();
        Ok(match endpoint {
            Endpoint::V2 => {
                json!({"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": token})
            }
            Endpoint::V1 => json!({
                "token_type": "Bearer",
                "expires_in": seconds.to_string(),
                "ext_expires_in": seconds.to_string(),
                "expires_on": (issued_at + seconds as i64).to_string(),
                "not_before": issued_at.to_string(),
                "resource": resource,
                "access_token": token,
            }),
        })
    })();
    let grant = if grant == "client_assertion"
        && form
            .get("client_assertion")
            .and_then(|a| Jwt::decode(a).ok())
            .is_some_and(|j| j.claim_str("iss") != form.get("client_id").map(String::as_str))
    {
        "federated"
    } else {
        grant
    };
    (grant, result)
}

fn lookup(
    shared: &Shared,
    tenant: &str,
    form: &BTreeMap<String, String>,
) -> Result<Principal, AadError> {
    let world = shared.world();
    let directory = world
        .tenants
        .get(&tenant.to_ascii_lowercase())
        .ok_or_else(|| unknown_tenant(tenant))?;
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(AadError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            ));
        }
        None => return Err(AadError::missing("grant_type")),
    }
    let client_id = form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("client_id"))?;
    directory
        .principals
        .get(client_id)
        .filter(|p| p.managed.is_none())
        .cloned()
        .ok_or_else(|| {
            AadError::new(400, "unauthorized_client", 700016, format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."))
        })
}

/// The resource of a `…/.default` scope.
fn resource(form: &BTreeMap<String, String>) -> Result<String, AadError> {
    let scope = form
        .get("scope")
        .ok_or_else(|| AadError::missing("scope"))?;
    let mut scopes = scope.split(' ').filter(|s| !s.is_empty());
    let (Some(first), None) = (scopes.next(), scopes.next()) else {
        return Err(AadError::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'."
            ),
        ));
    };
    let Some(resource) = first.strip_suffix("/.default") else {
        return Err(AadError::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {first} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    if resource.is_empty() {
        return Err(AadError::new(
            400,
            "invalid_resource",
            500011,
            "The resource principal named  was not found in the tenant.",
        ));
    }
    Ok(resource.to_string())
}

fn check_lifetime(jwt: &Jwt) -> Result<(), AadError> {
    let now = now();
    let nbf = jwt.claim_i64("nbf").unwrap_or(now);
    let exp = jwt.claim_i64("exp").ok_or_else(|| {
        AadError::new(
            400,
            "invalid_client",
            700024,
            "Client assertion is missing the 'exp' claim.",
        )
    })?;
    if now + SKEW_SECONDS < nbf || now >= exp {
        return Err(AadError::new(
            400,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    Ok(())
}

fn verify_certificate_assertion(
    shared: &Shared,
    tenant: &str,
    principal: &Principal,
    jwt: &Jwt,
) -> Result<(), AadError> {
    if jwt.claim_str("sub") != Some(principal.client_id.as_str()) {
        return Err(AadError::new(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let authority = shared.authority_host();
    let audiences = [
        format!("{authority}/{tenant}/oauth2/v2.0/token"),
        format!("{authority}/{tenant}/v2.0"),
        format!("{authority}/{tenant}/oauth2/token"),
        format!("{authority}/{tenant}/"),
    ];
    if !audiences.iter().any(|a| jwt.has_audience(a)) {
        return Err(AadError::new(
            401,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                jwt.claims["aud"]
            ),
        ));
    }
    check_lifetime(jwt)?;
    let sha1 = jwt.header["x5t"].as_str().and_then(b64_any);
    let sha256 = jwt.header["x5t#S256"].as_str().and_then(b64_any);
    let registered = principal.certificates.iter().find(|c| {
        sha1.as_ref().is_some_and(|t| *t == c.sha1)
            || sha256.as_ref().is_some_and(|t| *t == c.sha256)
    });
    let Some(certificate) = registered else {
        return Err(AadError::new(
            401,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                jwt.header["x5t"].as_str().unwrap_or_default(),
                principal.client_id
            ),
        ));
    };
    jwt.verify_jwk(&certificate.jwk).map_err(|_| {
        AadError::new(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        )
    })
}

fn verify_federated_assertion(
    shared: &Shared,
    principal: &Principal,
    jwt: &Jwt,
) -> Result<(), AadError> {
    let issuer = jwt.claim_str("iss").unwrap_or_default();
    let records: Vec<_> = principal
        .federated
        .iter()
        .filter(|f| f.issuer == issuer)
        .collect();
    if records.is_empty() {
        return Err(AadError::new(
            400,
            "invalid_request",
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion."
            ),
        ));
    }
    let subject = jwt.claim_str("sub").unwrap_or_default();
    let records: Vec<_> = records
        .into_iter()
        .filter(|f| f.subject == subject)
        .collect();
    if records.is_empty() {
        return Err(AadError::new(
            400,
            "invalid_request",
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion."
            ),
        ));
    }
    if !records
        .iter()
        .any(|f| f.audiences.iter().any(|a| jwt.has_audience(a)))
    {
        return Err(AadError::new(
            400,
            "invalid_request",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. The expected audience is '{FEDERATED_AUDIENCE}'.",
                jwt.claims["aud"]
            ),
        ));
    }
    let jwks = shared.world().issuers.get(issuer).cloned();
    let Some(jwks) = jwks else {
        return Err(AadError::new(
            400,
            "invalid_client",
            50166,
            format!(
                "Request to External OIDC endpoint failed: the issuer '{issuer}' could not be reached."
            ),
        ));
    };
    jwt.verify_jwks(&jwks).map_err(|_| {
        AadError::new(
            400,
            "invalid_client",
            700212,
            "AADSTS50013: Assertion failed signature validation.",
        )
    })?;
    check_lifetime(jwt)
}
