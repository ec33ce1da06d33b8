//! The HTTP(S) front: TLS with the emulator's own CA, authentication, routing of API paths,
//! authorization, fault injection, counters, and dispatch to the verbs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::auth::{self, Attributes, User, Users};
use super::discovery;
use super::errors::ApiError;
use super::faults::{Faults, Stats};
use super::handlers::{self, DeleteOptions, PatchType, Query, State, WriteOptions};
use super::protobuf;
use super::resources::{Behavior, ResourceType};
use super::table::{self, IncludeObject};
use super::tokens::TokenIssuer;
use super::watch::{self as watches, WatchRequest};
use super::{openapi, openapi_v2, reviews};

/// Largest request body the apiserver accepts (3 MiB).
const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// State shared by every connection.
pub struct Shared {
    state: Mutex<State>,
    pub users: Users,
    pub tokens: TokenIssuer,
    pub faults: Arc<Faults>,
    pub stats: Arc<Stats>,
    pub bookmark_interval: Duration,
    pub server_address: String,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn new(
        state: State,
        users: Users,
        tokens: TokenIssuer,
        bookmark_interval: Duration,
        server_address: String,
    ) -> Self {
        Self {
            state: Mutex::new(state),
            users,
            tokens,
            faults: Arc::new(Faults::default()),
            stats: Arc::new(Stats::default()),
            bookmark_interval,
            server_address,
            shutdown: watch::channel(false).0,
        }
    }

    /// The store and registry. Handlers hold it only for in-memory work, never across an await.
    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// Serves connections until shutdown; each connection runs on its own task.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, request).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

/// TLS material: the CA (PEM) clients trust and the acceptor for the server certificate.
pub struct TlsMaterial {
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

pub fn tls_material() -> anyhow::Result<TlsMaterial> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "akvsync-kube-emulator-ca");
    ca_params.distinguished_name = name;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "kubernetes.default.svc".to_owned(),
    ])?;
    server_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::V4(
            std::net::Ipv4Addr::LOCALHOST,
        )));
    let mut server_name = DistinguishedName::new();
    server_name.push(DnType::CommonName, "kube-apiserver");
    server_params.distinguished_name = server_name;
    let server_cert = server_params.signed_by(&server_key, &issuer)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
                server_key.serialize_der(),
            )),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn error_response(error: &ApiError) -> Response<Body> {
    let mut response = json_response(error.code, &error.status());
    if let Some(seconds) = error.retry_after
        && let Ok(value) = seconds.to_string().parse()
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn parse_query(query: Option<&str>) -> Query {
    let mut parsed = Query::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        parsed
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    parsed
}

/// A parsed resource path.
struct Target {
    resource: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: String,
}

enum Route {
    NonResource,
    Resource(Target),
}

fn route(shared: &Shared, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Ok(Route::NonResource),
    };
    if rest.is_empty() {
        return Ok(Route::NonResource);
    }
    let namespace_subresource = group.is_empty()
        && rest.len() == 3
        && rest[0] == "namespaces"
        && matches!(rest[2], "status" | "finalize");
    let (namespace, plural, name, subresource) =
        if rest[0] == "namespaces" && rest.len() >= 3 && !namespace_subresource {
            if rest.len() > 5 {
                return Err(ApiError::page_not_found());
            }
            (
                Some(rest[1].to_owned()),
                rest[2],
                rest.get(3).map(|name| (*name).to_owned()),
                rest.get(4).copied().unwrap_or(""),
            )
        } else {
            if rest.len() > 3 {
                return Err(ApiError::page_not_found());
            }
            (
                None,
                rest[0],
                rest.get(1).map(|name| (*name).to_owned()),
                rest.get(2).copied().unwrap_or(""),
            )
        };
    let resource = handlers::resolve(&shared.lock_state().registry, group, version, plural)?;
    if (resource.namespaced && namespace.is_none() && name.is_some())
        || (!resource.namespaced && namespace.is_some())
    {
        return Err(ApiError::page_not_found());
    }
    let subresource_served = match subresource {
        "" => true,
        "status" => resource.status_subresource,
        "token" => resource.behavior == Behavior::ServiceAccount,
        _ => false,
    };
    if !subresource_served {
        return Err(ApiError::page_not_found());
    }
    Ok(Route::Resource(Target {
        resource,
        namespace,
        name,
        subresource: subresource.to_owned(),
    }))
}

fn verb_of(method: &Method, target: &Target, query: &Query) -> Result<&'static str, ApiError> {
    let watch = query
        .get("watch")
        .is_some_and(|value| value == "true" || value == "1");
    Ok(match (method.as_str(), target.name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("POST", true) if target.subresource == "token" => "create",
        ("PUT", true) if target.subresource != "token" => "update",
        ("PATCH", true) if target.subresource != "token" => "patch",
        ("DELETE", true) if target.subresource.is_empty() => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed()),
    })
}

fn stats_resource(target: &Target) -> String {
    if target.subresource.is_empty() {
        target.resource.plural.clone()
    } else {
        format!("{}/{}", target.resource.plural, target.subresource)
    }
}

/// A create or update body in JSON: `None` when it is JSON already (or the verb takes none);
/// protobuf and YAML are converted; any other media type is refused with 415, as the API server
/// does.
fn request_body(verb: &str, content_type: &str, body: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
    if !matches!(verb, "create" | "update") || body.is_empty() {
        return Ok(None);
    }
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media.is_empty() || media.eq_ignore_ascii_case("application/json") {
        return Ok(None);
    }
    let unsupported = |message: String| ApiError::new(415, "UnsupportedMediaType", message);
    if protobuf::is_protobuf(media) {
        let object = protobuf::decode(body).map_err(|error| match error {
            protobuf::DecodeError::Invalid(message) => {
                ApiError::bad_request(format!("error decoding request body: {message}"))
            }
            protobuf::DecodeError::Unsupported(message) => unsupported(message),
        })?;
        return Ok(Some(
            serde_json::to_vec(&object).expect("a JSON value serializes"),
        ));
    }
    if media.eq_ignore_ascii_case("application/yaml") {
        let object: Value = serde_yaml::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding request body: {error}"))
        })?;
        return Ok(Some(
            serde_json::to_vec(&object).expect("a JSON value serializes"),
        ));
    }
    Err(unsupported(format!(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, {}",
        protobuf::MEDIA_TYPE
    )))
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn authenticate(shared: &Shared, headers: &hyper::HeaderMap) -> Option<User> {
    let token = header(headers, "authorization")
        .strip_prefix("Bearer ")?
        .trim();
    if let Some(user) = shared.users.by_token(token) {
        return Some(user.clone());
    }
    let verified = shared.tokens.authenticate(&shared.lock_state(), token)?;
    Some(User::service_account(
        &verified.namespace,
        &verified.service_account,
    ))
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    match path.as_str() {
        "/.well-known/openid-configuration" => {
            return json_response(200, &shared.tokens.openid_configuration());
        }
        "/openid/v1/jwks" => {
            let mut response = json_response(200, &shared.tokens.jwks());
            if let Ok(value) = "application/jwk-set+json".parse() {
                response.headers_mut().insert("content-type", value);
            }
            return response;
        }
        "/healthz" | "/livez" | "/readyz" => {
            return Response::builder()
                .status(200)
                .body(Body::from("ok"))
                .unwrap_or_default();
        }
        _ => {}
    }
    let Some(user) = authenticate(&shared, &parts.headers) else {
        return error_response(&ApiError::unauthorized());
    };
    let impersonated_groups: Vec<String> = parts
        .headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect();
    let impersonated_user = parts
        .headers
        .get("impersonate-user")
        .and_then(|value| value.to_str().ok());
    let impersonated_uid = parts
        .headers
        .get("impersonate-uid")
        .and_then(|value| value.to_str().ok());
    let user = match auth::impersonate(
        &shared.lock_state(),
        user,
        impersonated_user,
        &impersonated_groups,
        impersonated_uid,
    ) {
        Ok(user) => user,
        Err(error) => return error_response(&error),
    };
    let body = match http_body_util::Limited::new(body, MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error_response(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request entity too large: limit is {MAX_REQUEST_BYTES}"),
            ));
        }
    };
    let query = parse_query(parts.uri.query());
    let accept = header(&parts.headers, "accept").to_owned();
    let route = match route(&shared, &path) {
        Ok(route) => route,
        Err(error) => {
            shared
                .stats
                .count_request(parts.method.as_str(), &path, &user.name);
            return error_response(&error);
        }
    };
    match route {
        Route::NonResource => {
            shared.stats.count_request("get", &path, &user.name);
            if let Some(error) = shared.faults.check("get", &path, &user.name) {
                return error_response(&error);
            }
            if parts.method != Method::GET {
                return error_response(&ApiError::method_not_allowed());
            }
            if path.trim_end_matches('/') == "/openapi/v2" {
                return openapi_v2_response(&shared, &accept);
            }
            match non_resource(&shared, &path) {
                Some(body) => json_response(200, &body),
                None => error_response(&ApiError::page_not_found()),
            }
        }
        Route::Resource(target) => {
            let verb = match verb_of(&parts.method, &target, &query) {
                Ok(verb) if target.resource.verbs.iter().any(|served| served == verb) => verb,
                Ok(_) => return error_response(&ApiError::method_not_allowed()),
                Err(error) => return error_response(&error),
            };
            let resource_label = stats_resource(&target);
            shared
                .stats
                .count_request(verb, &resource_label, &user.name);
            if let Some(error) = shared.faults.check(verb, &resource_label, &user.name) {
                return error_response(&error);
            }
            let attributes = Attributes {
                verb: verb.into(),
                group: target.resource.group.clone(),
                resource: target.resource.plural.clone(),
                subresource: target.subresource.clone(),
                namespace: if target.resource.namespaced {
                    target.namespace.clone()
                } else {
                    None
                },
                name: target.name.clone(),
                qualified: target.resource.qualified(),
            };
            if !reviews::open_to_everyone(&target.resource.plural)
                && let Err(error) = auth::authorize(&shared.lock_state(), &user, &attributes)
            {
                return error_response(&error);
            }
            let mut content_type = header(&parts.headers, "content-type");
            let body = match request_body(verb, content_type, &body) {
                Ok(Some(json)) => {
                    content_type = "application/json";
                    Bytes::from(json)
                }
                Ok(None) => body,
                Err(error) => return error_response(&error),
            };
            let request = ResourceRequest {
                verb,
                target: &target,
                query: &query,
                body: &body,
                accept: &accept,
                content_type,
                user_agent: header(&parts.headers, "user-agent"),
                user: &user,
            };
            let started = std::time::Instant::now();
            let response = dispatch(&shared, request);
            shared.stats.observe_latency(verb, started.elapsed());
            if target.resource.behavior == Behavior::Secret
                && matches!(
                    verb,
                    "create" | "update" | "patch" | "delete" | "deletecollection"
                )
                && response.status().is_success()
            {
                shared.stats.count_secret_write();
            }
            response
        }
    }
}

/// `/openapi/v2` in the representation `accept` picks (406 with an empty body otherwise, as
/// kube-openapi answers), with `ETag` and `Vary: Accept`.
fn openapi_v2_response(shared: &Shared, accept: &str) -> Response<Body> {
    let Some(media_type) = openapi_v2::negotiate(accept) else {
        return Response::builder()
            .status(StatusCode::NOT_ACCEPTABLE)
            .header("vary", "Accept")
            .body(Body::empty())
            .unwrap_or_default();
    };
    let document = openapi_v2::document(&shared.lock_state().registry);
    let json = document.to_string();
    let etag = format!("\"{}\"", openapi::hash(&document));
    let body = if media_type == openapi_v2::JSON {
        Body::from(json)
    } else {
        Body::from(openapi_v2::protobuf(&document))
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", media_type)
        .header("etag", etag)
        .header("vary", "Accept")
        .body(body)
        .unwrap_or_default()
}

fn non_resource(shared: &Shared, path: &str) -> Option<Value> {
    let state = shared.lock_state();
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    match segments.as_slice() {
        ["version"] => Some(discovery::version()),
        ["api"] => Some(discovery::core_versions(&shared.server_address)),
        ["api", version] => discovery::resources(&state.registry, "", version),
        ["apis"] => Some(discovery::groups(&state.registry)),
        ["apis", group] => discovery::group(&state.registry, group),
        ["apis", group, version] => discovery::resources(&state.registry, group, version),
        ["openapi", "v3"] => Some(openapi::index(&state.registry)),
        ["openapi", "v3", "api", version] if state.registry.serves_group_version("", version) => {
            Some(openapi::document(&state.registry, "", version))
        }
        ["openapi", "v3", "apis", group, version]
            if state.registry.serves_group_version(group, version) =>
        {
            Some(openapi::document(&state.registry, group, version))
        }
        _ => None,
    }
}

struct ResourceRequest<'a> {
    verb: &'static str,
    target: &'a Target,
    query: &'a Query,
    body: &'a [u8],
    accept: &'a str,
    content_type: &'a str,
    user_agent: &'a str,
    user: &'a User,
}

fn dispatch(shared: &Arc<Shared>, request: ResourceRequest<'_>) -> Response<Body> {
    let target = request.target;
    let resource = &target.resource;
    let namespace = target.namespace.as_deref();
    let name = target.name.as_deref().unwrap_or_default();
    let table = request
        .accept
        .contains("as=Table")
        .then(|| IncludeObject::parse(request.query.get("includeObject").map(String::as_str)));
    let options = WriteOptions::from_query(request.query, request.user_agent);
    let result: Result<(u16, Value), ApiError> = match request.verb {
        "watch" => {
            let namespace = if resource.namespaced {
                target.namespace.clone()
            } else {
                None
            };
            return match WatchRequest::parse(resource.clone(), namespace, request.query, table) {
                Ok(watch_request) => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .header("cache-control", "no-cache, private")
                    .body(watches::start(shared, watch_request))
                    .unwrap_or_default(),
                Err(error) => error_response(&error),
            };
        }
        "list" => {
            let state = shared.lock_state();
            handlers::list(&state, resource, namespace, request.query).map(|page| match table {
                Some(include) => {
                    let mut metadata =
                        json!({"resourceVersion": page.resource_version.to_string()});
                    if let Some(token) = &page.continue_token {
                        metadata["continue"] = json!(token);
                    }
                    (200, table::table(resource, &page.items, metadata, include))
                }
                None => (200, handlers::list_body(resource, page)),
            })
        }
        "get" => {
            let state = shared.lock_state();
            handlers::get(&state, resource, namespace, name).map(|object| match table {
                Some(include) => {
                    let metadata = json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
                    (200, table::table(resource, &[object], metadata, include))
                }
                None => (200, object),
            })
        }
        "create" if target.subresource == "token" => {
            let state = shared.lock_state();
            shared
                .tokens
                .token_request(&state, namespace.unwrap_or_default(), name, request.body)
                .map(|token| (201, token))
        }
        "create" if resource.behavior == Behavior::Review => reviews::answer(
            &shared.lock_state(),
            request.user,
            &resource.plural,
            request.body,
        )
        .map(|review| (201, review)),
        "create" => handlers::create(
            &mut shared.lock_state(),
            resource,
            namespace,
            request.body,
            &options,
        )
        .map(|object| (201, object)),
        "update" => handlers::update(
            &mut shared.lock_state(),
            resource,
            namespace,
            name,
            &target.subresource,
            request.body,
            &options,
        )
        .map(|object| (200, object)),
        "patch" => PatchType::from_content_type(request.content_type).and_then(|patch_type| {
            handlers::patch(
                &mut shared.lock_state(),
                resource,
                namespace,
                name,
                &target.subresource,
                patch_type,
                request.body,
                request.query,
                &options,
            )
            .map(|(object, created)| (if created { 201 } else { 200 }, object))
        }),
        "delete" => DeleteOptions::parse(request.body, request.query)
            .and_then(|options| {
                handlers::delete(
                    &mut shared.lock_state(),
                    resource,
                    namespace,
                    name,
                    &options,
                )
            })
            .map(|object| (200, object)),
        "deletecollection" => DeleteOptions::parse(request.body, request.query)
            .and_then(|options| {
                handlers::delete_collection(
                    &mut shared.lock_state(),
                    resource,
                    namespace,
                    request.query,
                    &options,
                )
            })
            .map(|list| (200, list)),
        _ => Err(ApiError::method_not_allowed()),
    };
    match result {
        Ok((status, body)) if table.is_none() && protobuf::preferred(request.accept) => {
            match protobuf::encode(&body) {
                Some(encoded) => Response::builder()
                    .status(status)
                    .header("content-type", protobuf::MEDIA_TYPE)
                    .header("cache-control", "no-cache, private")
                    .body(Body::from(encoded))
                    .unwrap_or_default(),
                None => json_response(status, &body),
            }
        }
        Ok((status, body)) => json_response(status, &body),
        Err(error) => error_response(&error),
    }
}

/// The address the listener is bound to, as the URL clients use.
pub fn base_url(address: SocketAddr, tls: bool) -> String {
    format!("{}://{address}", if tls { "https" } else { "http" })
}
