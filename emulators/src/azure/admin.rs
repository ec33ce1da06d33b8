//! Admin HTTP endpoint on the plain port: counters, faults and limits for benchmarks and demos.
//!
//! `GET /admin/stats`, `POST /admin/stats/reset`, `GET|PUT /admin/faults`, `GET|PUT /admin/limits`.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::json;

use super::config::Limits;
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
        _ => json_response(404, &json!({"error": format!("no admin route {path}")})),
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
