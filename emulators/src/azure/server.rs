//! Accept loops: one TLS listener for every vault, registry and the Entra host (routed by
//! `Host`), one plain HTTP listener for managed identity and admin.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::http::{Dropped, Resp, host_name, json_response};
use super::state::Shared;
use super::{acr, admin, entra, msi, vault};

/// Suffix of vault host names.
pub const VAULT_SUFFIX: &str = ".vault.localhost";
/// Entra host name.
pub const LOGIN_HOST: &str = "login.localhost";

/// Serves TLS until `shutdown` flips.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        shared.stats.connection();
        let (acceptor, shared, mut stop) = (acceptor.clone(), shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { dispatch_tls(shared, request).await }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// Serves plain HTTP until `shutdown` flips.
pub async fn serve_plain(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        shared.stats.connection();
        let (shared, mut stop) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(dispatch_plain(&shared, request).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

async fn dispatch_tls(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Resp, Dropped> {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let name = host_name(&host);
    if name == LOGIN_HOST {
        return Ok(entra::handle(&shared, request).await);
    }
    if let Some(registry) = name.strip_suffix(acr::ACR_SUFFIX)
        && !registry.is_empty()
        && !registry.contains('.')
    {
        return Ok(acr::handle(&shared, registry, &host, request).await);
    }
    if let Some(vault_name) = name.strip_suffix(VAULT_SUFFIX)
        && !vault_name.is_empty()
        && !vault_name.contains('.')
    {
        return vault::handle(&shared, vault_name, &host, request).await;
    }
    Ok(not_found(&name))
}

async fn dispatch_plain(shared: &Shared, request: Request<Incoming>) -> Resp {
    let path = request.uri().path().to_string();
    if path == msi::APP_SERVICE_PATH || path == msi::IMDS_PATH {
        msi::handle(shared, request).await
    } else if path.starts_with("/admin/") {
        admin::handle(shared, request).await
    } else {
        not_found(&path)
    }
}

fn not_found(what: &str) -> Response<super::http::Body> {
    json_response(
        404,
        &json!({"error": {"code": "NotFound", "message": format!("No emulated service at {what}.")}}),
    )
}
