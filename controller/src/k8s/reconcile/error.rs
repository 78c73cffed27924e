//! `ReconcileError`: why one reconcile of a Tenant failed, how long to wait before the next try,
//! and a short `category()` for metric labels and Event reasons.

use std::time::Duration;

use super::objects::InvalidObject;
use crate::graph::{ErrorKind, GraphError, Reachability};
use crate::model::Reason;
use crate::resolve::ConfigError;

/// Why a reconcile failed. Messages say what failed, for which object, and what to do; they
/// never contain a secret (Graph errors carry codes, messages and request ids only).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Tenant object could not be read as a Tenant (schema drift, manual edit).
    #[error("Tenant {name}: {source}")]
    InvalidTenant {
        /// `namespace/name`.
        name: String,
        /// Why it does not read as a Tenant.
        #[source]
        source: InvalidObject,
    },
    /// The credentials or endpoints cannot be turned into a Graph configuration.
    #[error("Tenant {name}: {source}")]
    Configuration {
        /// `namespace/name`.
        name: String,
        /// What to fix.
        #[source]
        source: ConfigError,
    },
    /// A Graph request failed (token, read or write).
    #[error("Tenant {name}: {source}")]
    Graph {
        /// `namespace/name`.
        name: String,
        /// The Graph error (retry class and `Retry-After` included).
        #[source]
        source: GraphError,
    },
    /// Graph (or its login endpoint) cannot be used at all: no connection, a failed TLS
    /// handshake, or 5xx. The objects keep their last known status; retried with backoff.
    #[error(
        "Tenant {name}: {endpoint} {}; last error: {source}. The status shows the last known \
         values; nothing is written until a read succeeds; retried with backoff",
        describe(*reachability)
    )]
    GraphOutage {
        /// `namespace/name`.
        name: String,
        /// The login or Graph endpoint that failed.
        endpoint: String,
        /// How it failed.
        reachability: Reachability,
        /// The last error.
        #[source]
        source: GraphError,
    },
    /// The Kubernetes API server refused or failed a request.
    #[error("Tenant {name}: {what}: {source}")]
    Kube {
        /// `namespace/name`.
        name: String,
        /// What was attempted.
        what: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The Tenant's namespace is not one whose Secrets the controller may read.
    #[error(
        "Tenant {name}: the controller does not serve namespace {namespace:?} (it may not read \
         Secrets there): add {namespace:?} to the Helm value tenantNamespaces (run \
         --tenant-namespace), or move the Tenant to a served namespace ({served})"
    )]
    NamespaceNotServed {
        /// `namespace/name`.
        name: String,
        /// The Tenant's namespace.
        namespace: String,
        /// The namespaces that are served.
        served: String,
    },
    /// This replica lost the leader lease in the middle of a reconcile; nothing more is written.
    #[error("Tenant {name}: leadership lost, the reconcile stopped before writing")]
    NotLeader {
        /// `namespace/name`.
        name: String,
    },
    /// The reconcile panicked: a bug. Contained to this tenant, which is retried with backoff.
    #[error(
        "Tenant {name}: an internal error stopped the reconcile; this is a bug in o365-controller, please report it with this message: {message}"
    )]
    Internal {
        /// `namespace/name`.
        name: String,
        /// The panic message, shortened to one line (it never holds a secret: secret types
        /// redact themselves in every formatting).
        message: String,
    },
}

fn describe(r: Reachability) -> &'static str {
    match r {
        Reachability::Unreachable => "cannot be reached (connection refused, DNS or timeout)",
        Reachability::Tls => "failed the TLS handshake (a certificate problem)",
        Reachability::Unavailable => "is unavailable (it answered 5xx)",
    }
}

impl ReconcileError {
    /// `source` as a [`ReconcileError::GraphOutage`] when it means Graph cannot be used at all
    /// (naming the login endpoint for token failures, else the Graph endpoint), else as
    /// [`ReconcileError::Graph`].
    pub fn from_graph(name: &str, source: GraphError, login: &str, graph: &str) -> ReconcileError {
        match source.reachability() {
            Some(reachability) => ReconcileError::GraphOutage {
                name: name.to_owned(),
                endpoint: if source.kind == ErrorKind::Token {
                    login
                } else {
                    graph
                }
                .to_owned(),
                reachability,
                source,
            },
            None => ReconcileError::Graph {
                name: name.to_owned(),
                source,
            },
        }
    }

    /// A short, stable label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::InvalidTenant { .. } => "invalid_spec",
            ReconcileError::Configuration { .. } => "configuration",
            ReconcileError::Graph { source, .. } => source.category(),
            ReconcileError::GraphOutage { reachability, .. } => reachability.category(),
            ReconcileError::Kube { .. } => "kubernetes",
            ReconcileError::NamespaceNotServed { .. } => "namespace_not_served",
            ReconcileError::NotLeader { .. } => "not_leader",
            ReconcileError::Internal { .. } => "internal",
        }
    }

    /// How long Graph asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReconcileError::Graph { source, .. } | ReconcileError::GraphOutage { source, .. } => {
                source.retry_after
            }
            _ => None,
        }
    }

    /// Whether retrying without a change to the spec or the Secret cannot help (bad
    /// credentials, 403, an invalid spec): such errors wait for a change or the resync period
    /// instead of hot-looping.
    pub fn is_terminal(&self) -> bool {
        match self {
            ReconcileError::InvalidTenant { .. }
            | ReconcileError::Configuration { .. }
            | ReconcileError::NamespaceNotServed { .. } => true,
            ReconcileError::Graph { source, .. } => !source.is_transient(),
            ReconcileError::GraphOutage { .. }
            | ReconcileError::Kube { .. }
            | ReconcileError::NotLeader { .. }
            | ReconcileError::Internal { .. } => false,
        }
    }

    /// The CamelCase reason used on the Tenant's `Ready` condition and in Events.
    pub fn reason(&self) -> Reason {
        match self {
            ReconcileError::InvalidTenant { .. } => Reason::InvalidSpec,
            ReconcileError::Configuration { source, .. } => source.reason(),
            ReconcileError::Graph { source, .. } => match source.category() {
                "endpoint_not_allowed" => Reason::EndpointNotAllowed,
                "untrusted_link" => Reason::UntrustedLink,
                "credentials" | "unauthorized" => Reason::AuthenticationFailed,
                "forbidden" => Reason::PermissionDenied,
                "throttled" => Reason::Throttled,
                _ => Reason::GraphError,
            },
            ReconcileError::GraphOutage { reachability, .. } => match reachability {
                Reachability::Unreachable => Reason::GraphUnreachable,
                Reachability::Tls => Reason::TLSError,
                Reachability::Unavailable => Reason::GraphUnavailable,
            },
            ReconcileError::Kube { .. } => Reason::KubernetesError,
            ReconcileError::NamespaceNotServed { .. } => Reason::NamespaceNotServed,
            ReconcileError::NotLeader { .. } => Reason::NotLeader,
            ReconcileError::Internal { .. } => Reason::InternalError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_terminal_and_carry_no_retry_after() {
        let e = ReconcileError::Configuration {
            name: "ns/t".into(),
            source: ConfigError::Credential {
                source: crate::resolve::KeyError::NotFound {
                    kind: crate::resolve::KeyKind::Secret,
                    namespace: "ns".into(),
                    name: "x".into(),
                },
                fallback: "O365_CLIENT_SECRET",
            },
        };
        assert!(e.is_terminal());
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.category(), "configuration");
        assert_eq!(e.reason(), Reason::InvalidCredentials);
        assert!(
            e.to_string()
                .starts_with("Tenant ns/t: Secret \"x\" does not exist in namespace \"ns\""),
            "{e}"
        );
    }

    #[test]
    fn a_custom_cloud_without_endpoints_is_an_invalid_spec_not_bad_credentials() {
        let e = ReconcileError::Configuration {
            name: "ns/t".into(),
            source: ConfigError::MissingLoginEndpoint,
        };
        assert!(e.is_terminal());
        assert_eq!(e.reason(), Reason::InvalidSpec);
    }

    #[test]
    fn a_tenant_outside_the_served_namespaces_waits_and_names_the_helm_value() {
        let e = ReconcileError::NamespaceNotServed {
            name: "team-a/contoso".into(),
            namespace: "team-a".into(),
            served: "o365-system".into(),
        };
        assert!(e.is_terminal(), "no retry loop until something changes");
        assert_eq!(e.reason(), Reason::NamespaceNotServed);
        let message = e.to_string();
        assert!(message.contains("tenantNamespaces"), "{message}");
        assert!(message.contains("\"team-a\""), "{message}");
        assert!(message.contains("o365-system"), "{message}");
    }

    #[test]
    fn graph_errors_keep_their_category_and_retry_class() {
        let e = ReconcileError::Graph {
            name: "ns/t".into(),
            source: GraphError::config("bad CA bundle"),
        };
        assert_eq!(e.category(), "config");
        assert!(e.is_terminal());
    }

    #[test]
    fn an_outage_names_the_endpoint_and_the_last_error_and_is_retried() {
        let source = GraphError::from_status_and_body("list_users", 503, None);
        let e = ReconcileError::from_graph(
            "ns/t",
            source,
            "https://login.example",
            "https://graph.example",
        );
        assert_eq!(e.reason(), Reason::GraphUnavailable);
        assert_eq!(e.category(), "graph_unavailable");
        assert!(!e.is_terminal());
        let text = e.to_string();
        assert!(
            text.contains("https://graph.example is unavailable"),
            "{text}"
        );
        assert!(text.contains("503"), "{text}");
        let refused = GraphError::from_status_and_body("list_users", 403, None);
        let e = ReconcileError::from_graph("ns/t", refused, "l", "g");
        assert_eq!(
            e.reason(),
            Reason::PermissionDenied,
            "a refusal is not an outage"
        );
    }

    #[test]
    fn an_endpoint_the_operator_did_not_allow_blocks_the_tenant_for_good() {
        let source = match crate::graph::AllowedEndpoints::built_in()
            .check("graphEndpoint", "https://graph.attacker.example")
        {
            Err(e) => e,
            Ok(()) => panic!("the endpoint was allowed"),
        };
        let e = ReconcileError::Graph {
            name: "ns/t".into(),
            source,
        };
        assert_eq!(e.reason(), Reason::EndpointNotAllowed);
        assert!(e.is_terminal());
        assert!(e.to_string().contains("graph.attacker.example:443"));
    }
}
