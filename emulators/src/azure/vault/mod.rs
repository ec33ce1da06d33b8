//! The Key Vault data plane: challenge auth, authorization, throttling, faults, then the
//! secret, key and certificate operations.

pub mod auth;
pub mod certificates;
pub mod error;
pub mod keys;
pub mod objects;
pub mod route;
pub mod secrets;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::Value;

use super::faults::FaultConfig;
use super::http::{Dropped, Resp, empty_response, form_map, json_response};
use super::state::Shared;
use super::stats::{CHALLENGE, RequestKey};
use error::KvError;
use objects::Ctx;
use route::{Kind, Op, Routed};

/// Largest request body accepted (certificate imports are the largest).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Principal recorded for requests without a valid token.
const ANONYMOUS: &str = "anonymous";
/// Region named in messages.
const REGION: &str = "localhost";

/// Answers one request to vault `vault` (lowercase name) addressed as `host` (with port).
pub async fn handle(
    shared: &Arc<Shared>,
    vault: &str,
    host: &str,
    request: Request<Incoming>,
) -> Result<Resp, Dropped> {
    let faults = shared.settings().faults;
    let faulty = faults.applies_to(vault);
    if faulty && faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let routed = route::route(request.method(), request.uri().path());
    let operation = match &routed {
        Routed::Op(op) => op.name(),
        Routed::MethodNotAllowed => "MethodNotAllowed".to_string(),
        Routed::NotFound => "NotFound".to_string(),
    };
    let count = |principal: &str, operation: &str, status: u16| {
        shared.stats.request(RequestKey {
            vault: vault.to_string(),
            operation: operation.to_string(),
            principal: principal.to_string(),
            status,
        });
    };
    if faulty && FaultConfig::roll(faults.drop_rate) {
        count(ANONYMOUS, &operation, 0);
        return Err(Dropped);
    }
    let tenant = {
        let world = shared.world();
        match world.vaults.get(vault) {
            Some(v) => v.tenant.clone(),
            None => {
                count(ANONYMOUS, &operation, 404);
                let error = KvError::new(
                    404,
                    "VaultNotFound",
                    format!("Vault {vault} was not found."),
                );
                return Ok(decorate(error.response()));
            }
        }
    };
    let challenge = format!(
        "Bearer authorization=\"{}/{tenant}\", resource=\"{}\"",
        shared.authority_host(),
        shared.resource
    );
    // The challenge comes before anything else, and before the body is read.
    let Some(authorization) = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
    else {
        count(ANONYMOUS, CHALLENGE, 401);
        let error = KvError::unauthorized("AKV10000: Request is missing a Bearer or PoP token.");
        return Ok(with_challenge(error.response(), &challenge));
    };
    let caller = match auth::validate(shared, &authorization, &tenant) {
        Ok(caller) => caller,
        Err(error) => {
            count(ANONYMOUS, &operation, 401);
            return Ok(with_challenge(error.response(), &challenge));
        }
    };
    let principal = caller.client_id.clone();
    if faulty && FaultConfig::roll(faults.error_rate) {
        let status = if faults.error_status == 0 {
            500
        } else {
            faults.error_status
        };
        count(&principal, &operation, status);
        let error = KvError::new(
            status,
            "InternalServerError",
            "Injected fault: the service is unavailable.",
        );
        return Ok(decorate(error.response()));
    }
    let op = match routed {
        Routed::Op(op) => op,
        Routed::MethodNotAllowed => {
            count(&principal, &operation, 405);
            let message = format!(
                "The requested resource does not support http method '{}'.",
                request.method()
            );
            return Ok(decorate(
                KvError::new(405, "MethodNotAllowed", message).response(),
            ));
        }
        Routed::NotFound => {
            count(&principal, &operation, 404);
            let error = KvError::new(404, "NotFound", "The requested resource was not found.");
            return Ok(decorate(error.response()));
        }
    };
    let query = form_map(request.uri().query().unwrap_or_default().as_bytes());
    let Some(api_version) = query.get("api-version").filter(|v| !v.is_empty()).cloned() else {
        count(&principal, &operation, 400);
        let error = KvError::bad_parameter(
            "The request URI contains an invalid or missing api-version parameter.",
        );
        return Ok(decorate(error.response()));
    };
    let limits = {
        let world = shared.world();
        world.vaults.get(vault).and_then(|v| v.limits)
    }
    .unwrap_or(shared.settings().limits);
    if let Err(wait) = shared.throttle.admit(vault, op.class(), &limits) {
        count(&principal, &operation, 429);
        let mut response = KvError::throttled().response();
        if limits.retry_after {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        return Ok(decorate(response));
    }
    let denied = {
        let world = shared.world();
        let grant = world
            .vaults
            .get(vault)
            .and_then(|v| v.grants.get(&caller.client_id))
            .copied()
            .unwrap_or_default();
        !op.allowed(&grant)
    };
    if denied {
        count(&principal, &operation, 403);
        return Ok(decorate(forbidden(&caller, vault, &op).response()));
    }
    let body = if op.has_body() {
        match read_json(request).await {
            Ok(body) => body,
            Err(error) => {
                count(&principal, &operation, error.status);
                return Ok(decorate(error.response()));
            }
        }
    } else {
        Value::Null
    };
    let ctx = Ctx {
        base: format!("https://{host}"),
        api_version,
        query,
    };
    let result = {
        let mut world = shared.world();
        let result = match world.vaults.get_mut(vault) {
            Some(v) => match op.kind {
                Kind::Secret => secrets::execute(v, &op, &ctx, &body),
                Kind::Key => keys::execute(v, &op, &ctx, &body),
                Kind::Certificate => certificates::execute(v, &op, &ctx, &body),
            },
            None => Err(KvError::new(
                404,
                "VaultNotFound",
                format!("Vault {vault} was not found."),
            )),
        };
        if result.is_ok() && op.class() == super::faults::RequestClass::Write {
            shared.persist(&world);
        }
        result
    };
    let response = match result {
        Ok((status, Some(body))) => json_response(status, &body),
        Ok((status, None)) => empty_response(status),
        Err(error) => error.response(),
    };
    count(&principal, &operation, response.status().as_u16());
    Ok(decorate(response))
}

async fn read_json(request: Request<Incoming>) -> Result<Value, KvError> {
    let bytes: Bytes = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| KvError::bad_parameter("The request body is too large or was not received."))?
        .to_bytes();
    if bytes.is_empty() {
        return Err(KvError::bad_parameter("The request body is missing."));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| KvError::bad_parameter("The request body is not valid JSON."))
}

fn forbidden(caller: &super::vault::auth::Caller, vault: &str, op: &Op) -> KvError {
    let object = op
        .name
        .as_deref()
        .map(|n| format!("/{}/{n}", op.kind.collection()))
        .unwrap_or_default();
    let message = format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss={}\r\nAction: '{}'\r\nResource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/microsoft.keyvault/vaults/{vault}{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {vault};location={REGION}\r\n",
        caller.client_id,
        caller.object_id,
        caller.issuer,
        op.rbac_action(),
        object.to_ascii_lowercase(),
    );
    KvError::new(403, "Forbidden", message).inner("ForbiddenByRbac")
}

fn with_challenge(mut response: Resp, challenge: &str) -> Resp {
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    decorate(response)
}

/// Adds the headers Key Vault sends on every answer.
fn decorate(mut response: Resp) -> Resp {
    let headers = response.headers_mut();
    headers.insert(
        "x-ms-keyvault-service-version",
        HeaderValue::from_static("1.9.0.0"),
    );
    headers.insert("x-ms-keyvault-region", HeaderValue::from_static(REGION));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-ms-request-id", id);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}
