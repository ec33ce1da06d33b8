//! The admin endpoint: plain HTTP on its own 127.0.0.1 port (never on the API port, whose paths
//! stay the apiserver's), so scripts, demos and the `kube-emulator` binary's users reach the
//! fault switches and counters that Rust tests reach through [`super::KubeEmulator`].
//!
//! * `GET /admin/faults`, `PUT /admin/faults` — [`FaultSettings`] (latency, 5xx / 429 rules,
//!   watch cuts after N events); PUT replaces everything, 400 on an invalid body.
//! * `POST /admin/faults/cut-watches` — cut every open watch stream now.
//! * `POST /admin/compact` — drop watch history: a watch resuming from an older
//!   resourceVersion gets ERROR 410, as after etcd compaction.
//! * `PUT /admin/history-limit` — `{"limit": N}`, the watch history length.
//! * `GET /admin/stats` — requests by verb, resource and user; Secret writes; open watches.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::faults::FaultSettings;
use super::server::Shared;

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Serves the admin endpoint until the emulator shuts down.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: u16, value: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_default()
}

async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, String> {
    let bytes = Limited::new(request.into_body(), MAX_ADMIN_BODY)
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|error| error.to_string())
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match (method, path.as_str()) {
        (Method::GET, "/admin/faults") => json_response(200, &json!(shared.faults.settings())),
        (Method::PUT, "/admin/faults") => match read_json::<FaultSettings>(request).await {
            Ok(settings) => match shared.faults.replace(&settings) {
                Ok(()) => json_response(200, &json!(shared.faults.settings())),
                Err(error) => json_response(400, &json!({"error": error.to_string()})),
            },
            Err(error) => json_response(400, &json!({"error": error})),
        },
        (Method::POST, "/admin/faults/cut-watches") => {
            shared.faults.cut_watches();
            json_response(200, &json!({}))
        }
        (Method::POST, "/admin/compact") => {
            let mut state = shared.lock_state();
            state.store.compact();
            json_response(
                200,
                &json!({"resourceVersion": state.store.resource_version().to_string()}),
            )
        }
        (Method::PUT, "/admin/history-limit") => match read_json::<Value>(request).await {
            Ok(body) => match body["limit"].as_u64().and_then(|l| usize::try_from(l).ok()) {
                Some(limit) => {
                    shared.lock_state().store.set_history_limit(limit);
                    json_response(200, &json!({"limit": limit}))
                }
                None => json_response(400, &json!({"error": "body must be {\"limit\": N}"})),
            },
            Err(error) => json_response(400, &json!({"error": error})),
        },
        (Method::GET, "/admin/stats") => {
            let stats = shared.stats.snapshot();
            let requests: Vec<Value> = stats
                .requests
                .iter()
                .map(|(key, count)| {
                    json!({"verb": key.verb, "resource": key.resource, "user": key.user, "count": count})
                })
                .collect();
            json_response(
                200,
                &json!({"requests": requests, "secretWrites": stats.secret_writes, "openWatches": stats.open_watches}),
            )
        }
        _ => json_response(404, &json!({"error": format!("no admin route {path}")})),
    }
}
