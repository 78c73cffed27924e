//! The listener: an accept loop serving HTTP/1.1 (optionally over TLS) with hyper, an axum
//! router for the token endpoint and `/v1.0/*`, and connection resets for fault injection.
//!
//! A reset is done by dropping the connection's future: the handler signals the connection
//! task through a per-connection `Notify` (request extension) and never answers; the task
//! drops the hyper connection, which closes the socket without writing a response.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::error::GraphError;
use crate::faults::FaultAction;
use crate::odata::Query;
use crate::routes::{self, Ctx, GraphRequest, GraphResponse};
use crate::{Hub, Shared};

pub struct ServerHandle {
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    pub async fn shutdown(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Per-connection abort signal, passed to handlers as a request extension.
#[derive(Clone)]
struct ConnAbort(Arc<Notify>);

pub fn spawn(listener: TcpListener, hub: Arc<Hub>, tls: Option<TlsAcceptor>) -> ServerHandle {
    let stop = Arc::new(Notify::new());
    let app = router(hub);
    let stop2 = stop.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop2.notified() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            Some(acceptor) => {
                                if let Ok(s) = acceptor.accept(stream).await {
                                    serve_conn(s, app).await;
                                }
                            }
                            None => serve_conn(stream, app).await,
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    ServerHandle { stop, task }
}

async fn serve_conn<S>(stream: S, app: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let abort = Arc::new(Notify::new());
    let abort2 = abort.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnAbort(abort2.clone()));
        let mut app = app.clone();
        async move { app.call(req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = abort.notified() => {}
    }
}

fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(oidc_v2),
        )
        .route("/{tenant}/.well-known/openid-configuration", get(oidc_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(keys_v2))
        .route("/{tenant}/discovery/keys", get(keys_v1))
        .route("/{tenant}/discovery/instance", get(instance))
        .route("/v1.0/{*rest}", any(graph))
        .fallback(fallback)
        .with_state(hub)
}

/// The fault decision for one request, after its latency was applied.
enum Injected {
    /// Serve normally.
    None,
    /// Answer with this instead of serving.
    Respond(Response),
    /// Serve, then answer with this status instead (`applyThenError`).
    After(FaultAction),
}

/// Closes the connection without a response (a reset, or a response lost after serving).
async fn drop_connection(abort: Option<&ConnAbort>) -> Response {
    if let Some(a) = abort {
        a.0.notify_one();
    }
    futures::future::pending::<()>().await;
    Response::default()
}

/// Applies latency and the faults that replace the request (a `loseResponse` fault sets
/// `ctx.lose_response`: serve the request, then drop the response).
async fn inject_faults(
    sh: &Shared,
    method: &str,
    path: &str,
    template: &str,
    abort: Option<&ConnAbort>,
    ctx: &Ctx,
) -> Injected {
    let Some(engine) = sh.faults() else {
        return Injected::None;
    };
    let decision = engine.decide(method, path);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let Some(action) = decision.action else {
        return Injected::None;
    };
    crate::lock(&sh.stats).faults += 1;
    if action.applies_first() {
        return Injected::After(action);
    }
    let resp = match action {
        FaultAction::Reset => {
            crate::lock(&sh.stats).record(method, template, 0);
            drop_connection(abort).await;
            return Injected::None;
        }
        FaultAction::Error {
            status,
            retry_after,
        } => routes::fault_error(status, retry_after),
        FaultAction::Throttle { retry_after } => routes::throttled_response(
            &retry_after.to_string(),
            "Tenant_Application/ReadWrite/fault-injection",
            "ResourceUnitLimitExceeded",
        ),
        FaultAction::ApplyThenError { .. } => return Injected::None,
        FaultAction::LoseResponse => {
            ctx.lose_response
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Injected::None;
        }
    };
    let resp = resp.unwrap_or_else(|e| routes::error_response(&e, ctx));
    crate::lock(&sh.stats).record(method, template, resp.status);
    Injected::Respond(to_http(resp, ctx))
}

/// Replaces the response of a request that was served (`applyThenError`): the write took
/// effect, but the client sees a 5xx.
fn after_serving(action: FaultAction, ctx: &Ctx) -> Response {
    let (status, retry_after) = match action {
        FaultAction::ApplyThenError {
            status,
            retry_after,
        } => (status, retry_after),
        _ => (500, None),
    };
    let e = routes::fault_error(status, retry_after)
        .err()
        .unwrap_or_else(|| GraphError::new(500, "UnknownError", ""));
    to_http(routes::error_response(&e, ctx), ctx)
}

async fn token(
    State(hub): State<Arc<Hub>>,
    Path(tenant): Path<String>,
    abort: Option<axum::Extension<ConnAbort>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token_common(
        hub.for_segment(&tenant),
        tenant,
        abort,
        uri,
        headers,
        body,
        false,
    )
    .await
}

async fn token_v1(
    State(hub): State<Arc<Hub>>,
    Path(tenant): Path<String>,
    abort: Option<axum::Extension<ConnAbort>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token_common(
        hub.for_segment(&tenant),
        tenant,
        abort,
        uri,
        headers,
        body,
        true,
    )
    .await
}

async fn token_common(
    sh: Arc<Shared>,
    tenant: String,
    abort: Option<axum::Extension<ConnAbort>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    v1: bool,
) -> Response {
    let ctx = Ctx::new(&headers);
    let template = if v1 {
        "/{tenant}/oauth2/token"
    } else {
        "/{tenant}/oauth2/v2.0/token"
    };
    let after = match inject_faults(&sh, "POST", uri.path(), template, abort.as_deref(), &ctx).await
    {
        Injected::Respond(r) => return r,
        Injected::After(a) => Some(a),
        Injected::None => None,
    };
    let (status, body) = crate::auth::token_endpoint(&sh, &tenant, &headers, &body, v1);
    crate::lock(&sh.stats).record("POST", template, status);
    if ctx.lose_response.load(std::sync::atomic::Ordering::Relaxed) {
        return drop_connection(abort.as_deref()).await;
    }
    if let Some(a) = after {
        return after_serving(a, &ctx);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-store, no-cache"),
    );
    resp
}

/// The identity platform's metadata documents.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Meta {
    OidcV2,
    OidcV1,
    KeysV2,
    KeysV1,
    Instance,
}

macro_rules! metadata_handler {
    ($name:ident, $kind:expr) => {
        async fn $name(
            state: State<Arc<Hub>>,
            tenant: Path<String>,
            abort: Option<axum::Extension<ConnAbort>>,
            uri: Uri,
            headers: HeaderMap,
        ) -> Response {
            metadata($kind, state, tenant, abort, uri, headers).await
        }
    };
}

metadata_handler!(oidc_v2, Meta::OidcV2);
metadata_handler!(oidc_v1, Meta::OidcV1);
metadata_handler!(keys_v2, Meta::KeysV2);
metadata_handler!(keys_v1, Meta::KeysV1);
metadata_handler!(instance, Meta::Instance);

async fn metadata(
    kind: Meta,
    State(hub): State<Arc<Hub>>,
    Path(tenant): Path<String>,
    abort: Option<axum::Extension<ConnAbort>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    use crate::identity;
    let sh = hub.for_segment(&tenant);
    let ctx = Ctx::new(&headers);
    let template = match kind {
        Meta::OidcV2 => "/{tenant}/v2.0/.well-known/openid-configuration",
        Meta::OidcV1 => "/{tenant}/.well-known/openid-configuration",
        Meta::KeysV2 => "/{tenant}/discovery/v2.0/keys",
        Meta::KeysV1 => "/{tenant}/discovery/keys",
        Meta::Instance => "/common/discovery/instance",
    };
    let after = match inject_faults(&sh, "GET", uri.path(), template, abort.as_deref(), &ctx).await
    {
        Injected::Respond(r) => return r,
        Injected::After(a) => Some(a),
        Injected::None => None,
    };
    let (tenant_id, verified) = {
        let st = crate::lock(&sh.state);
        let verified: Vec<String> = st
            .domains
            .iter()
            .filter(|d| d.is_verified)
            .map(|d| d.id.clone())
            .collect();
        (st.tenant.id.clone(), verified)
    };
    let base = sh.base_url.as_str();
    let host = base.split_once("://").map_or(base, |(_, h)| h);
    let authority = identity::resolve_authority(&tenant, &tenant_id, &verified);
    let (status, body) = match (kind, authority) {
        (Meta::Instance, _) if !tenant.eq_ignore_ascii_case("common") => (
            404,
            GraphError::unknown_segment(&tenant).body(&ctx.request_id, &ctx.client_request_id),
        ),
        (Meta::Instance, _) => {
            let query = Query::parse(uri.query());
            identity::instance_discovery(base, query.get("authorization_endpoint"))
        }
        (_, None) => crate::auth::aad_error(
            400,
            "invalid_tenant",
            90_002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ),
        (Meta::OidcV2, Some(a)) => (200, identity::openid_configuration_v2(base, host, &a)),
        (Meta::OidcV1, Some(a)) => (200, identity::openid_configuration_v1(base, host, &a)),
        (Meta::KeysV2, Some(a)) => {
            let issuer = identity::v2_issuer(base, &a);
            (200, identity::jwks(&sh.signing, Some(&issuer)))
        }
        (Meta::KeysV1, Some(_)) => (200, identity::jwks(&sh.signing, None)),
    };
    crate::lock(&sh.stats).record("GET", template, status);
    if ctx.lose_response.load(std::sync::atomic::Ordering::Relaxed) {
        return drop_connection(abort.as_deref()).await;
    }
    if let Some(a) = after {
        return after_serving(a, &ctx);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("max-age=86400, private"),
    );
    resp
}

async fn graph(
    State(hub): State<Arc<Hub>>,
    abort: Option<axum::Extension<ConnAbort>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sh = hub.for_request(&headers);
    crate::lock(&sh.stats).http_requests += 1;
    let ctx = Ctx::new(&headers);
    let method = method.as_str().to_ascii_uppercase();
    let full_path = uri.path();
    let path = full_path.strip_prefix("/v1.0").unwrap_or(full_path);
    let template = routes::template(&method, path);
    let after =
        match inject_faults(&sh, &method, full_path, &template, abort.as_deref(), &ctx).await {
            Injected::Respond(r) => return r,
            Injected::After(a) => Some(a),
            Injected::None => None,
        };
    let app_id = match crate::auth::authenticate(&sh, &headers) {
        Ok(app) => app,
        Err(e) => {
            crate::lock(&sh.stats).record(&method, &template, e.status);
            return to_http(routes::error_response(&e, &ctx), &ctx);
        }
    };
    let body = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(_) => {
                let e = GraphError::new(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                );
                crate::lock(&sh.stats).record(&method, &template, 400);
                return to_http(routes::error_response(&e, &ctx), &ctx);
            }
        }
    };
    let req = GraphRequest {
        method,
        path: path.to_string(),
        query: Query::parse(uri.query()),
        consistency_eventual: headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual")),
        body,
        app_id,
    };
    let resp = if path == "/$batch" || path == "/%24batch" {
        routes::batch::handle(&sh, &req, &ctx)
    } else {
        routes::dispatch(&sh, &req, &ctx)
    };
    if ctx.lose_response.load(std::sync::atomic::Ordering::Relaxed) {
        return drop_connection(abort.as_deref()).await;
    }
    if let Some(a) = after {
        return after_serving(a, &ctx);
    }
    to_http(resp, &ctx)
}

async fn fallback(uri: Uri, headers: HeaderMap) -> Response {
    let ctx = Ctx::new(&headers);
    let segment = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut e = GraphError::unknown_segment(&segment);
    e.status = 404;
    to_http(routes::error_response(&e, &ctx), &ctx)
}

pub fn to_http(resp: GraphResponse, ctx: &Ctx) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = match resp.body {
        Some(Value::String(text)) if resp.plain_text => {
            let mut r = Response::new(Body::from(text));
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain;charset=utf-8"),
            );
            r
        }
        Some(body) => {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static(
                    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
                ),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *out.status_mut() = status;
    let h = out.headers_mut();
    for (name, value) in [
        ("request-id", ctx.request_id.as_str()),
        ("client-request-id", ctx.client_request_id.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    for (name, value) in resp.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.insert(n, v);
        }
    }
    out
}
