//! Managed identity on plain HTTP: the App Service form (`IDENTITY_ENDPOINT` +
//! `x-identity-header`) at `/msi/token`, and the IMDS path shape at
//! `/metadata/identity/oauth2/token`. System-assigned when no id is given, user-assigned by
//! `client_id`, `object_id` or `mi_res_id`/`msi_res_id`.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::json;

use super::config::ManagedIdentityKind;
use super::entra::AadError;
use super::http::{Resp, form_map, json_response};
use super::model::{Principal, now};
use super::state::Shared;
use super::stats::TokenKey;

/// App Service path.
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// IMDS path.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// Answers one managed-identity token request.
pub async fn handle(shared: &Shared, request: Request<Incoming>) -> Resp {
    let faults = shared.settings().faults;
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let query = form_map(request.uri().query().unwrap_or_default().as_bytes());
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    let response = answer(shared, &request, &query, faults.token_outage);
    shared.stats.token(TokenKey {
        tenant: "managed-identity".into(),
        client_id,
        grant: "managed_identity".into(),
        status: response.status().as_u16(),
    });
    response
}

fn invalid(status: u16, description: &str) -> Resp {
    json_response(
        status,
        &json!({"error": "invalid_request", "error_description": description}),
    )
}

fn answer(
    shared: &Shared,
    request: &Request<Incoming>,
    query: &std::collections::BTreeMap<String, String>,
    outage: Option<u16>,
) -> Resp {
    if request.method() != Method::GET {
        return invalid(405, "The request method is not supported.");
    }
    let imds = request.uri().path() == IMDS_PATH;
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if imds && header("metadata") != Some("true") {
        return invalid(400, "Required metadata header not specified");
    }
    if !imds && header("x-identity-header") != Some(shared.identity_header.as_str()) {
        return invalid(
            401,
            "The X-IDENTITY-HEADER header is missing or does not match.",
        );
    }
    if let Some(status) = outage {
        return AadError::outage(status).response();
    }
    if query.get("api-version").is_none_or(|v| v.is_empty()) {
        return invalid(400, "Required query variable 'api-version' is missing");
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return invalid(400, "Required query variable 'resource' is missing");
    };
    let Some(principal) = select(shared, query) else {
        return invalid(400, "Identity not found");
    };
    let (token, lifetime) = shared.issue_token(&principal, resource, "0");
    let now = now();
    json_response(
        200,
        &json!({
            "access_token": token,
            "client_id": principal.client_id,
            "expires_in": lifetime.as_secs().to_string(),
            "expires_on": (now + lifetime.as_secs() as i64).to_string(),
            "ext_expires_in": lifetime.as_secs().to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

fn select(
    shared: &Shared,
    query: &std::collections::BTreeMap<String, String>,
) -> Option<Principal> {
    let world = shared.world();
    let mut all = world
        .tenants
        .values()
        .flat_map(|t| t.principals.values())
        .filter(|p| p.managed.is_some());
    if let Some(client_id) = query.get("client_id") {
        all.find(|p| {
            p.managed == Some(ManagedIdentityKind::User)
                && p.client_id.eq_ignore_ascii_case(client_id)
        })
        .cloned()
    } else if let Some(object_id) = query.get("object_id").or_else(|| query.get("principal_id")) {
        all.find(|p| {
            p.managed == Some(ManagedIdentityKind::User)
                && p.object_id.eq_ignore_ascii_case(object_id)
        })
        .cloned()
    } else if let Some(resource_id) = query.get("msi_res_id").or_else(|| query.get("mi_res_id")) {
        all.find(|p| {
            p.managed == Some(ManagedIdentityKind::User)
                && resource_id
                    .to_ascii_lowercase()
                    .ends_with(&format!("/{}", p.name.to_ascii_lowercase()))
        })
        .cloned()
    } else {
        all.find(|p| p.managed == Some(ManagedIdentityKind::System))
            .cloned()
    }
}
