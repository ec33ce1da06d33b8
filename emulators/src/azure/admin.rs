//! Admin HTTP endpoint on the plain port: counters, faults and limits for benchmarks and demos.
//!
//! `GET /admin/stats`, `POST /admin/stats/reset`, `GET|PUT /admin/faults`, `GET|PUT /admin/limits`,
//! and `PUT /admin/vaults/{vault}/secrets/{name}` (a new version, body as a seed's secret version:
//! `value` and options such as `created`) to change a vault while clients read it.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::json;

use super::config::{Limits, SecretVersionSeed};
use super::directory;
use super::faults::FaultConfig;
use super::http::{Resp, json_response};
use super::state::Shared;

/// Answers one admin request.
pub async fn handle(shared: &Shared, request: Request<Incoming>) -> Resp {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    match (method, path.as_str()) {
        (Method::GET, "/admin/stats") => json_response(200, &json!(shared.stats.snapshot())),
        (Method::POST, "/admin/stats/reset") => {
            shared.stats.reset();
            json_response(200, &json!({}))
        }
        (Method::GET, "/admin/faults") => json_response(200, &json!(shared.settings().faults)),
        (Method::PUT, "/admin/faults") => match read::<FaultConfig>(request).await {
            Ok(faults) => {
                shared.update_settings(|s| s.faults = faults.clone());
                json_response(200, &json!(faults))
            }
            Err(message) => json_response(400, &json!({"error": message})),
        },
        (Method::GET, "/admin/limits") => json_response(200, &json!(shared.settings().limits)),
        (Method::PUT, "/admin/limits") => match read::<Limits>(request).await {
            Ok(limits) => {
                shared.update_settings(|s| s.limits = limits);
                shared.throttle.reset();
                json_response(200, &json!(limits))
            }
            Err(message) => json_response(400, &json!({"error": message})),
        },
        (Method::PUT, path) if path.starts_with("/admin/vaults/") => {
            set_secret(shared, path, request).await
        }
        _ => json_response(404, &json!({"error": format!("no admin route {path}")})),
    }
}

/// `PUT /admin/vaults/{vault}/secrets/{name}`: sets a new version as `PUT /secrets/{name}`
/// would, without a token; answers the SecretBundle.
async fn set_secret(shared: &Shared, path: &str, request: Request<Incoming>) -> Resp {
    let parts: Vec<&str> = path
        .trim_start_matches("/admin/vaults/")
        .split('/')
        .collect();
    let [vault, "secrets", name] = parts.as_slice() else {
        return json_response(404, &json!({"error": format!("no admin route {path}")}));
    };
    let seed = match read::<SecretVersionSeed>(request).await {
        Ok(seed) => seed,
        Err(message) => return json_response(400, &json!({"error": message})),
    };
    let mut world = shared.world();
    let set = directory::set_secret(
        &mut world,
        &shared.vault_url(vault),
        vault,
        name,
        &seed.value,
        &seed.options,
    );
    match set {
        Ok(bundle) => {
            shared.persist(&world);
            json_response(200, &bundle)
        }
        Err(error) => json_response(404, &json!({"error": error.to_string()})),
    }
}

async fn read<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, String> {
    let bytes: Bytes = Limited::new(request.into_body(), 64 * 1024)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
