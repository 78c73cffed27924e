//! `GraphError`: what failed, Graph's code, message and request id, and whether retrying can
//! help (notes §7). The controller branches on status and `code`, never on `message`.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;

use super::wire;

/// Whether a failed request may succeed when sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// 429, 5xx, timeouts, connection resets, `Request_ThrottledTemporarily`: retry (the
    /// client already did, within its budget).
    Transient,
    /// 400, 401 after a token refresh, 403, 404, 409, …: retrying the same request cannot help.
    Terminal,
}

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Graph answered with an error status.
    Graph,
    /// The token endpoint refused or failed.
    Token,
    /// No response: connect failure, reset, TLS.
    Network,
    /// No response in time.
    Timeout,
    /// A response that could not be understood.
    Decode,
    /// The client's configuration is unusable (bad certificate, CA bundle, endpoint).
    Config,
    /// A `$batch` item not run because an item it depends on failed.
    Dependency,
    /// A Tenant names a login or Graph host that is neither a Microsoft cloud's nor allowed
    /// by the operator (`--allow-endpoint`): nothing was sent.
    EndpointNotAllowed,
    /// A response named a link (`@odata.nextLink`, `@odata.deltaLink`, `Location`) off the
    /// configured Graph endpoint's origin: it was not followed and no token was sent.
    UntrustedLink,
}

/// Why Graph could not be used at all (as opposed to refusing one request): an outage the
/// controller reports with its own reason and waits out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reachability {
    /// No connection: refused, reset, DNS failure, timeout.
    Unreachable,
    /// The TLS handshake failed (an untrusted or invalid certificate).
    Tls,
    /// The service answered 5xx.
    Unavailable,
}

impl Reachability {
    /// A short, stable label for metrics (`o365_reconcile_errors_total{category}`).
    pub fn category(self) -> &'static str {
        match self {
            Reachability::Unreachable => "graph_unreachable",
            Reachability::Tls => "tls",
            Reachability::Unavailable => "graph_unavailable",
        }
    }
}

/// Whether a transport error's text is about the TLS handshake or a certificate.
fn is_tls_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "badsignature",
        "x509",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// One entry of Graph's `error.details` (e.g. `ObjectConflict` on `userPrincipalName`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    /// `code`.
    pub code: String,
    /// `target`.
    pub target: String,
    /// `message`.
    pub message: String,
}

/// A failed Graph (or token) request. Boxed (so `Result`s stay small); its fields are read
/// through `Deref`: `err.status`, `err.code`, `err.message`, `err.request_id`, `err.details`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct GraphError(Box<GraphErrorInfo>);

impl std::ops::Deref for GraphError {
    type Target = GraphErrorInfo;
    fn deref(&self) -> &GraphErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for GraphError {
    fn deref_mut(&mut self) -> &mut GraphErrorInfo {
        &mut self.0
    }
}

/// What a [`GraphError`] says.
#[derive(Debug, Clone)]
pub struct GraphErrorInfo {
    /// What was attempted, e.g. `create_user adele@contoso.com`.
    pub operation: String,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Graph's `error.code` (or the token endpoint's `error`), or a client-side code such as
    /// `ConnectionError`.
    pub code: String,
    /// What happened and, where the client knows, what to do about it.
    pub message: String,
    /// Graph's `request-id` (or the token endpoint's trace id), for Microsoft support.
    pub request_id: Option<String>,
    /// Whether retrying can help.
    pub retry: RetryClass,
    /// `Retry-After`, when the response carried one.
    pub retry_after: Option<Duration>,
    /// Where the error came from.
    pub kind: ErrorKind,
    /// Graph's `error.details`.
    pub details: Vec<ErrorDetail>,
    /// `x-ms-throttle-information` of a 429 (e.g. `WriteLimitExceeded`).
    pub throttle_information: Option<String>,
}

impl fmt::Display for GraphErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.describe())
    }
}

impl GraphErrorInfo {
    fn describe(&self) -> String {
        let mut s = match self.status {
            Some(status) => format!("{status} {}: {}", self.code, self.message),
            None => format!("{}: {}", self.code, self.message),
        };
        if let Some(id) = &self.request_id {
            s.push_str(&format!(" (request-id {id})"));
        }
        s
    }
}

impl GraphError {
    fn base(operation: impl Into<String>, kind: ErrorKind, retry: RetryClass) -> GraphError {
        GraphError(Box::new(GraphErrorInfo {
            operation: operation.into(),
            status: None,
            code: String::new(),
            message: String::new(),
            request_id: None,
            retry,
            retry_after: None,
            kind,
            details: Vec::new(),
            throttle_information: None,
        }))
    }

    /// The client cannot be built or used as configured.
    pub fn config(message: impl Into<String>) -> GraphError {
        let mut err = Self::base(
            "configure the Graph client",
            ErrorKind::Config,
            RetryClass::Terminal,
        );
        err.code = "InvalidConfiguration".into();
        err.message = message.into();
        err
    }

    /// An error response from Graph: status, headers and body (a Graph error or anything else).
    pub fn from_response(
        operation: impl Into<String>,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> GraphError {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut err = GraphError::from_status_and_body(
            operation,
            status,
            serde_json::from_slice(body).ok().as_ref(),
        );
        if err.request_id.is_none() {
            err.request_id = header("request-id");
        }
        err.retry_after = header("retry-after")
            .as_deref()
            .and_then(super::retry::parse_retry_after);
        err.throttle_information = header("x-ms-throttle-information");
        err
    }

    /// An error from a status and an (optional) JSON body; used for `$batch` sub-responses too.
    pub fn from_status_and_body(
        operation: impl Into<String>,
        status: u16,
        body: Option<&serde_json::Value>,
    ) -> GraphError {
        let parsed: Option<wire::ODataError> =
            body.and_then(|b| serde_json::from_value(b.clone()).ok());
        let mut err = Self::base(operation, ErrorKind::Graph, classify(status, ""));
        err.status = Some(status);
        match parsed {
            Some(e) => {
                err.code = e.error.code;
                err.message = e.error.message;
                err.request_id = e.error.inner_error.and_then(|i| i.request_id);
                err.details = e
                    .error
                    .details
                    .into_iter()
                    .map(|d| ErrorDetail {
                        code: d.code,
                        target: d.target,
                        message: d.message,
                    })
                    .collect();
            }
            None => {
                err.code = reason_code(status).to_string();
                err.message = "the response carried no Graph error body".into();
            }
        }
        err.retry = classify(status, &err.code);
        err
    }

    /// No response: connect failure, reset, timeout.
    pub fn transport(operation: impl Into<String>, e: &reqwest::Error) -> GraphError {
        let timeout = e.is_timeout();
        let kind = if timeout {
            ErrorKind::Timeout
        } else {
            ErrorKind::Network
        };
        let mut err = Self::base(operation, kind, RetryClass::Transient);
        err.code = if timeout {
            "Timeout"
        } else {
            "ConnectionError"
        }
        .into();
        // Walk the source chain for the useful part ("connection reset by peer"); the URL is
        // left out, it is in `operation` already.
        let mut message = without_url(e);
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        err.message = message;
        if e.is_builder() {
            err.retry = RetryClass::Terminal;
            err.kind = ErrorKind::Config;
        }
        err
    }

    /// A response that does not parse as what the operation expects.
    pub fn decode(operation: impl Into<String>, what: impl fmt::Display) -> GraphError {
        let mut err = Self::base(operation, ErrorKind::Decode, RetryClass::Terminal);
        err.code = "UnexpectedResponse".into();
        err.message = what.to_string();
        err
    }

    /// A `$batch` item whose dependency failed.
    pub fn dependency(operation: impl Into<String>, dependency: &GraphError) -> GraphError {
        let mut err = Self::base(operation, ErrorKind::Dependency, RetryClass::Terminal);
        err.status = Some(424);
        err.code = "FailedDependency".into();
        err.message = format!("not sent because the request it depends on failed: {dependency}");
        err
    }

    /// A Tenant's endpoint that the operator did not allow (built by `endpoints.rs`).
    pub(crate) fn endpoint_not_allowed(
        field: &str,
        host_port: &super::endpoints::HostPort,
    ) -> GraphError {
        let mut err = Self::base(
            "connect to the tenant",
            ErrorKind::EndpointNotAllowed,
            RetryClass::Terminal,
        );
        err.code = "EndpointNotAllowed".into();
        err.message = format!(
            "{field} names {host_port}, which is not a Microsoft cloud's host and not allowed by \
             the operator, so nothing was sent to it (not even a token request). If this host \
             is yours, allow it where the controller runs: `o365-controller run \
             --allow-endpoint {host_port}` (Helm value allowEndpoints: [\"{host_port}\"]), or \
             `--allow-endpoint {host_port}` on the plan/apply/import command line"
        );
        err
    }

    /// A link from a response that leads off the Graph endpoint's origin (built by
    /// `endpoints.rs`). `link_origin` is the link's scheme, host and port only.
    pub(crate) fn untrusted_link(
        operation: &str,
        link_origin: &str,
        graph_origin: &str,
    ) -> GraphError {
        let mut err = Self::base(operation, ErrorKind::UntrustedLink, RetryClass::Terminal);
        err.code = "UntrustedLink".into();
        err.message = format!(
            "the response links to {link_origin}, which is not the configured Graph endpoint \
             {graph_origin}: the link was not followed and no token was sent"
        );
        err
    }

    /// A token endpoint error (built by `token.rs`).
    pub(crate) fn token(
        status: Option<u16>,
        code: impl Into<String>,
        message: impl Into<String>,
        request_id: Option<String>,
        retry: RetryClass,
    ) -> GraphError {
        let mut err = Self::base("get an access token", ErrorKind::Token, retry);
        err.status = status;
        err.code = code.into();
        err.message = message.into();
        err.request_id = request_id;
        err
    }

    /// Replaces the operation (e.g. to name the object a generic call was about).
    pub fn with_operation(mut self, operation: impl Into<String>) -> GraphError {
        self.operation = operation.into();
        self
    }

    /// Whether retrying can help.
    pub fn is_transient(&self) -> bool {
        self.retry == RetryClass::Transient
    }

    /// 429 or `Request_ThrottledTemporarily`.
    pub fn is_throttled(&self) -> bool {
        self.status == Some(429) || self.code == "Request_ThrottledTemporarily"
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// 409, or a 400 whose details say `ObjectConflict` (e.g. the UPN exists already).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409) || self.details.iter().any(|d| d.code == "ObjectConflict")
    }

    /// Whether this error means Graph (or its login endpoint) cannot be used at all: no
    /// connection, a failed TLS handshake, or a 5xx. `None` for errors about one request.
    pub fn reachability(&self) -> Option<Reachability> {
        let no_response = matches!(self.kind, ErrorKind::Network | ErrorKind::Timeout)
            || self.kind == ErrorKind::Token
                && self.status.is_none()
                && matches!(self.code.as_str(), "ConnectionError" | "Timeout");
        if no_response {
            return Some(if is_tls_failure(&self.message) {
                Reachability::Tls
            } else {
                Reachability::Unreachable
            });
        }
        match (self.kind, self.status) {
            (ErrorKind::Graph | ErrorKind::Token, Some(s)) if s >= 500 => {
                Some(Reachability::Unavailable)
            }
            _ => None,
        }
    }

    /// A short, stable label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self.kind {
            ErrorKind::Token => return "credentials",
            ErrorKind::Network => return "network",
            ErrorKind::Timeout => return "timeout",
            ErrorKind::Decode => return "decode",
            ErrorKind::Config => return "config",
            ErrorKind::Dependency => return "dependency",
            ErrorKind::EndpointNotAllowed => return "endpoint_not_allowed",
            ErrorKind::UntrustedLink => return "untrusted_link",
            ErrorKind::Graph => {}
        }
        if self.is_throttled() {
            return "throttled";
        }
        if self.is_conflict() {
            return "conflict";
        }
        match self.status {
            Some(400) => "bad_request",
            Some(401) => "unauthorized",
            Some(403) => "forbidden",
            Some(404) => "not_found",
            Some(410) => "gone",
            Some(424) => "dependency",
            Some(s) if s >= 500 => "server",
            _ => "other",
        }
    }
}

/// The retry class of a Graph status and `error.code`.
pub fn classify(status: u16, code: &str) -> RetryClass {
    if code == "Request_ThrottledTemporarily" {
        return RetryClass::Transient;
    }
    match status {
        408 | 429 | 500 | 502 | 503 | 504 => RetryClass::Transient,
        _ => RetryClass::Terminal,
    }
}

fn reason_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "HttpError",
    }
}

/// `reqwest::Error` as text, without the URL (the operation names the request already).
fn without_url(e: &reqwest::Error) -> String {
    let s = e.to_string();
    match e.url() {
        Some(url) => s
            .replace(&format!(" for url ({url})"), "")
            .replace(&format!(" ({url})"), ""),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_status_code_message_and_request_id() {
        let body = serde_json::json!({"error": {"code": "Request_BadRequest",
            "message": "Another object with the same value for property userPrincipalName already exists.",
            "innerError": {"request-id": "abc", "date": "2025-01-01T00:00:00"},
            "details": [{"target": "userPrincipalName", "code": "ObjectConflict"}]}});
        let err = GraphError::from_status_and_body("create_user a@b.c", 400, Some(&body));
        assert_eq!(
            err.to_string(),
            "create_user a@b.c failed: 400 Request_BadRequest: Another object with the same \
             value for property userPrincipalName already exists. (request-id abc)"
        );
        assert!(err.is_conflict());
        assert_eq!(err.category(), "conflict");
        assert_eq!(err.retry, RetryClass::Terminal);
    }

    #[test]
    fn outages_are_told_apart_from_refusals() {
        let mut refused = GraphError::base("list_users", ErrorKind::Network, RetryClass::Transient);
        refused.code = "ConnectionError".into();
        refused.message = "error sending request: client error (Connect): tcp connect error: \
                           Connection refused (os error 111)"
            .into();
        assert_eq!(refused.reachability(), Some(Reachability::Unreachable));
        let mut tls = refused.clone();
        tls.message = "client error (Connect): invalid peer certificate: BadSignature".into();
        assert_eq!(tls.reachability(), Some(Reachability::Tls));
        let mut token = GraphError::base(
            "get an access token",
            ErrorKind::Token,
            RetryClass::Transient,
        );
        token.code = "Timeout".into();
        token.message = "operation timed out".into();
        assert_eq!(token.reachability(), Some(Reachability::Unreachable));
        let unavailable = GraphError::from_status_and_body("list_users", 503, None);
        assert_eq!(unavailable.reachability(), Some(Reachability::Unavailable));
        assert_eq!(Reachability::Unavailable.category(), "graph_unavailable");
        for status in [400, 403, 404, 429] {
            let e = GraphError::from_status_and_body("list_users", status, None);
            assert_eq!(e.reachability(), None, "{status}");
        }
        assert_eq!(GraphError::config("bad CA").reachability(), None);
    }

    #[test]
    fn throttling_and_server_errors_are_transient_client_errors_terminal() {
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(classify(s, ""), RetryClass::Transient, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 501] {
            assert_eq!(classify(s, ""), RetryClass::Terminal, "{s}");
        }
        assert_eq!(
            classify(400, "Request_ThrottledTemporarily"),
            RetryClass::Transient
        );
    }
}
