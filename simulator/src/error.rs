//! Error types: the library's own [`SimError`] and the Graph error body.

use serde_json::{Value, json};

/// Errors returned by the library API (fixture loading, server start-up).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("invalid fixture: {0}")]
    Fixture(String),
    #[error("invalid fault plan: {0}")]
    Faults(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A Graph error before it is rendered with the request's ids.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Vec<Value>,
    pub headers: Vec<(String, String)>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }

    /// The directory's 404: "Resource '<id>' does not exist or ...".
    pub fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 for an unknown path segment (the simulator's choice for unknown paths).
    pub fn unknown_segment(segment: &str) -> Self {
        Self::bad_request(format!("Resource not found for the segment '{segment}'."))
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    /// "Another object with the same value for property X already exists." + ObjectConflict.
    pub fn conflict(property: &str) -> Self {
        let mut e = Self::bad_request(format!(
            "Another object with the same value for property {property} already exists."
        ));
        e.details
            .push(json!({"target": property, "code": "ObjectConflict"}));
        e
    }

    pub fn invalid_value(property: &str) -> Self {
        Self::bad_request(format!(
            "Invalid value specified for property '{property}' of resource 'User'."
        ))
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Renders `{"error":{code,message,innerError:{date,request-id,client-request-id},details?}}`.
    pub fn body(&self, request_id: &str, client_request_id: &str) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": crate::util::inner_error_date(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}
