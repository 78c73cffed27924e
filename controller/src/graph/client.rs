//! `GraphClient`: one connection pool, token source and rate limiter per tenant; every request
//! goes through [`GraphClient::execute`], which paces, authenticates, retries and counts it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::config::GraphConfig;
use super::credentials::PreparedCredential;
use super::endpoints::GraphOrigin;
use super::error::GraphError;
use super::ratelimit::{Cost, RateLimiter};
use super::retry::{RetryPolicy, retry_after_from_message};
use super::token::TokenSource;
use super::wire;

/// Request counters of one client, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    /// HTTP requests by (operation, status); status 0 = no response (reset, timeout).
    /// `$batch` envelopes count as `batch`, their inner requests as `batch_item`.
    pub requests: BTreeMap<(String, u16), u64>,
    /// 429 responses (envelopes and inner requests).
    pub throttled: u64,
    /// Requests sent again after a transient failure or a 429.
    pub retries: u64,
    /// Access tokens fetched.
    pub tokens_fetched: u64,
    /// Total time the rate limiter held requests back.
    pub limiter_wait: Duration,
}

impl ClientStats {
    /// HTTP requests of one operation, any status.
    pub fn count(&self, operation: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// HTTP requests sent to Graph (envelopes, not their inner requests).
    pub fn http_requests(&self) -> u64 {
        self.requests
            .iter()
            .filter(|((op, _), _)| op != "batch_item")
            .map(|(_, n)| n)
            .sum()
    }
}

/// A response Graph sent (2xx, or a status the caller asked to handle itself).
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub(crate) fn json<T: DeserializeOwned>(&self, operation: &str) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| GraphError::decode(operation, e))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request to send.
pub(crate) struct Request<'a> {
    pub method: Method,
    /// Relative to `/v1.0` (e.g. `/users?$select=id`) or absolute (a next link).
    pub url: &'a str,
    pub body: Option<&'a Value>,
    pub headers: &'a [(&'static str, &'a str)],
    /// Statuses returned as `Ok` for the caller to interpret (e.g. 404, 410).
    pub accept: &'a [u16],
    /// The request's budget cost; estimated from method and path when `None`.
    pub cost: Option<Cost>,
}

impl<'a> Request<'a> {
    pub(crate) fn get(url: &'a str) -> Request<'a> {
        Request {
            method: Method::GET,
            url,
            body: None,
            headers: &[],
            accept: &[],
            cost: None,
        }
    }
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    /// `<graph_endpoint>/v1.0`.
    pub base: String,
    /// The only origin a link from a response may lead to.
    pub origin: GraphOrigin,
    pub tokens: TokenSource,
    pub limiter: RateLimiter,
    pub retry: RetryPolicy,
    pub max_concurrency: usize,
    pub in_flight: Semaphore,
    pub stats: Mutex<ClientStats>,
}

/// A Microsoft Graph client for one tenant. Cheap to clone (clones share the connection pool,
/// token cache, rate limiter and counters).
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// Builds the client: the HTTP connection pool (rustls, system roots plus `ca_bundle`),
    /// the credential (a certificate is parsed now, so a bad one fails here) and the limiter.
    ///
    /// Every client (and so every token request) is built here, so this is where the endpoint
    /// allow-list is enforced: a login or Graph host that is neither a Microsoft cloud's nor in
    /// `config.allowed_endpoints` is refused with `EndpointNotAllowed` before any connection.
    pub fn new(config: GraphConfig) -> Result<GraphClient, GraphError> {
        let login = config.login_endpoint.trim_end_matches('/').to_string();
        let graph = config.graph_endpoint.trim_end_matches('/').to_string();
        config.allowed_endpoints.check("loginEndpoint", &login)?;
        config.allowed_endpoints.check("graphEndpoint", &graph)?;
        let origin = GraphOrigin::of(&graph)?;
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("o365-controller/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry a token request's form (the secret) or a request's body to
            // a host nobody checked; Graph and the token endpoint do not redirect API calls.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some(pem) = &config.ca_bundle {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                GraphError::config(format!("caBundle is not a PEM certificate bundle: {e}"))
            })?;
            if certs.is_empty() {
                return Err(GraphError::config(
                    "caBundle holds no certificate: put PEM (-----BEGIN CERTIFICATE-----) blocks in it",
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| GraphError::config(format!("cannot build the HTTP client: {e}")))?;
        let credential = PreparedCredential::prepare(&config.credential)?;
        let tokens = TokenSource::new(
            http.clone(),
            &login,
            &config.tenant_id,
            &config.client_id,
            &graph,
            credential,
            config.retry.clone(),
        );
        let max_concurrency = config.max_concurrency.max(1);
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                base: format!("{graph}/v1.0"),
                origin,
                tokens,
                limiter: RateLimiter::new(config.limits),
                retry: config.retry,
                max_concurrency,
                in_flight: Semaphore::new(max_concurrency),
                stats: Mutex::new(ClientStats::default()),
            }),
        })
    }

    /// Counters since the client was built.
    pub fn stats(&self) -> ClientStats {
        let mut s = self.lock_stats().clone();
        s.tokens_fetched = self.inner.tokens.fetched();
        s.limiter_wait = self.inner.limiter.waited();
        s
    }

    /// Tells the limiter the tenant's size, which sets its resource-unit budget.
    pub fn set_tenant_users(&self, users: usize) {
        self.inner.limiter.set_tenant_users(users);
    }

    /// Checks that a token can be obtained (the Tenant's `Ready` condition).
    pub async fn check_token(&self) -> Result<(), GraphError> {
        self.inner.tokens.token().await.map(|_| ())
    }

    pub(crate) fn lock_stats(&self) -> std::sync::MutexGuard<'_, ClientStats> {
        self.inner
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn record(&self, operation: &str, status: u16) {
        let mut s = self.lock_stats();
        *s.requests
            .entry((operation.to_string(), status))
            .or_default() += 1;
        if status == 429 {
            s.throttled += 1;
        }
    }

    pub(crate) fn count_retry(&self) {
        self.lock_stats().retries += 1;
    }

    /// An absolute URL for a relative Graph path, or an absolute link from a response checked
    /// against the Graph endpoint's origin: a link anywhere else is `UntrustedLink`, and since
    /// every request goes through here first, it is never connected to nor sent a token.
    pub(crate) fn absolute(&self, operation: &str, url: &str) -> Result<String, GraphError> {
        if url.starts_with('/') {
            return Ok(format!("{}{url}", self.inner.base));
        }
        match url::Url::parse(url) {
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                Ok(format!("{}/{url}", self.inner.base))
            }
            _ => {
                self.inner.origin.check_link(operation, url)?;
                Ok(url.to_string())
            }
        }
    }

    /// The path relative to `/v1.0` (for `$batch` and cost estimates).
    pub(crate) fn relative<'u>(&self, url: &'u str) -> &'u str {
        if let Some(rest) = url.strip_prefix(self.inner.base.as_str()) {
            return rest;
        }
        if let Some((_, after_scheme)) = url.split_once("://") {
            let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
            return path.strip_prefix("/v1.0").unwrap_or(path);
        }
        url
    }

    /// Sends one request: waits for the rate limiter, attaches a token, retries transient
    /// failures and 429s (after `Retry-After`), refreshes the token once on a 401. Returns the
    /// 2xx (or `accept`ed) response or a `GraphError` named after `operation` + `subject`.
    pub(crate) async fn execute(
        &self,
        operation: &'static str,
        subject: &str,
        req: Request<'_>,
    ) -> Result<Response, GraphError> {
        let name = if subject.is_empty() {
            operation.to_string()
        } else {
            format!("{operation} {subject}")
        };
        let url = self
            .absolute(operation, req.url)
            .map_err(|e| e.with_operation(name.clone()))?;
        let path = self.relative(&url).to_string();
        let cost = req
            .cost
            .unwrap_or_else(|| Cost::estimate(&req.method, &path));
        let policy = &self.inner.retry;
        let mut attempt: u32 = 1;
        let mut refreshed = false;
        let mut throttle_waited = Duration::ZERO;
        loop {
            if attempt > 1 || refreshed || !throttle_waited.is_zero() {
                self.count_retry();
            }
            self.inner.limiter.acquire(cost).await;
            // The token source retries transient failures itself.
            let token = match self.inner.tokens.token().await {
                Ok(t) => t,
                Err(e) => {
                    self.inner.limiter.refund(cost);
                    return Err(e);
                }
            };
            let sent = self.send_once(&req, &url, token.bearer()).await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    let err = GraphError::transport(name.clone(), &e);
                    self.record(operation, 0);
                    tracing::debug!(method = %req.method, path = %path, error = %err.message, "graph request failed");
                    if attempt < policy.max_attempts {
                        tokio::time::sleep(policy.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = response.status;
            self.record(operation, status);
            let ru = response
                .header("x-ms-resource-unit")
                .and_then(|v| v.trim().parse::<u32>().ok());
            tracing::debug!(
                method = %req.method,
                path = %path,
                status,
                request_id = response.header("request-id").unwrap_or_default(),
                ru = ru.unwrap_or_default(),
                "graph request"
            );
            if (200..300).contains(&status) || req.accept.contains(&status) {
                if let Some(actual) = ru {
                    self.inner.limiter.observe_ru(cost.ru, actual);
                }
                return Ok(response);
            }
            let mut err =
                GraphError::from_response(name.clone(), status, &response.headers, &response.body);
            if status == 401 {
                if !refreshed {
                    refreshed = true;
                    self.inner.tokens.invalidate(&token).await;
                    self.inner.limiter.refund(cost);
                    continue;
                }
                err.message = format!(
                    "{} (Graph refused a freshly issued token: check that the app has the \
                     Microsoft Graph application permissions it needs, with admin consent)",
                    err.message
                );
                return Err(err);
            }
            if err.is_throttled() {
                let wait = err
                    .retry_after
                    .or_else(|| retry_after_from_message(&err.message))
                    .unwrap_or(policy.default_retry_after);
                self.throttled(cost, err.throttle_information.as_deref(), wait);
                if throttle_waited + wait > policy.max_throttle_wait {
                    return Err(err);
                }
                throttle_waited += wait;
                tokio::time::sleep(wait).await;
                continue;
            }
            if err.is_transient() && attempt < policy.max_attempts {
                tokio::time::sleep(policy.transient_delay(attempt, err.retry_after)).await;
                attempt += 1;
                continue;
            }
            return Err(err);
        }
    }

    /// A 429 for a request of `cost`: budget signals pause the limiter; other 429s did not
    /// count against the budget, so the cost is given back.
    pub(crate) fn throttled(&self, cost: Cost, information: Option<&str>, wait: Duration) {
        let info = information.unwrap_or_default();
        if info.contains("WriteLimitExceeded") || info.contains("ResourceUnitLimitExceeded") {
            self.inner.limiter.on_throttled(Some(info), wait);
        } else {
            self.inner.limiter.refund(cost);
        }
    }

    async fn send_once(
        &self,
        req: &Request<'_>,
        url: &str,
        bearer: &str,
    ) -> Result<Response, reqwest::Error> {
        let _permit = self.inner.in_flight.acquire().await;
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), url)
            .bearer_auth(bearer)
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .header(reqwest::header::ACCEPT, "application/json");
        for (k, v) in req.headers {
            builder = builder.header(*k, *v);
        }
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Every item of a collection, following `@odata.nextLink` exactly as given and sending
    /// `headers` (e.g. `ConsistencyLevel`) with every page (notes §3.4).
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        subject: &str,
        url: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Vec<T>, GraphError> {
        let mut next = url.to_string();
        let mut out = Vec::new();
        loop {
            let req = Request {
                headers,
                ..Request::get(&next)
            };
            let page: wire::Page<T> = self
                .execute(operation, subject, req)
                .await?
                .json(operation)?;
            out.extend(page.value);
            match page.next_link {
                Some(link) if link != next => next = link,
                Some(_) => {
                    return Err(GraphError::decode(
                        operation,
                        "@odata.nextLink points at the page it came from",
                    ));
                }
                None => return Ok(out),
            }
        }
    }

    /// Parses a collection page from a `$batch` sub-response body or a response.
    pub(crate) fn page<T: DeserializeOwned>(
        operation: &str,
        body: Value,
    ) -> Result<wire::Page<T>, GraphError> {
        serde_json::from_value(body).map_err(|e| GraphError::decode(operation, e))
    }
}

/// Selects rustls' ring provider for the process (reqwest is built without a provider of its
/// own; kube uses ring too, so the whole process has exactly one). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
