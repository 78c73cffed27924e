//! Where the client connects and as whom (notes §8.3).

use std::time::Duration;

use super::credentials::Credential;
use super::endpoints::AllowedEndpoints;
use super::ratelimit::RateLimits;
use super::retry::RetryPolicy;

/// A Microsoft cloud: which login and Graph hosts to use. Tokens of one cloud are not valid in
/// another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// `login.microsoftonline.com` + `graph.microsoft.com` (also GCC).
    Global,
    /// US Government L4 (GCC High): `login.microsoftonline.us` + `graph.microsoft.us`.
    USGovernment,
    /// US Government L5 (DoD): `login.microsoftonline.us` + `dod-graph.microsoft.us`.
    USGovernmentDoD,
    /// China (21Vianet): `login.chinacloudapi.cn` + `microsoftgraph.chinacloudapi.cn`.
    China,
    /// Any other endpoints (tests, the simulator, proxies).
    Custom {
        /// e.g. `https://login.microsoftonline.com`.
        login_endpoint: String,
        /// e.g. `https://graph.microsoft.com` (the client appends `/v1.0`).
        graph_endpoint: String,
    },
}

impl Cloud {
    /// (login endpoint, Graph endpoint).
    pub fn endpoints(&self) -> (String, String) {
        let (login, graph) = match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Cloud::USGovernment => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Cloud::USGovernmentDoD => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
            Cloud::Custom {
                login_endpoint,
                graph_endpoint,
            } => (login_endpoint.as_str(), graph_endpoint.as_str()),
        };
        (
            login.trim_end_matches('/').to_string(),
            graph.trim_end_matches('/').to_string(),
        )
    }
}

/// Everything a [`super::GraphClient`] needs for one tenant.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Tenant id (GUID) or a verified domain name of the tenant.
    pub tenant_id: String,
    /// The app registration's client id.
    pub client_id: String,
    /// How the app authenticates.
    pub credential: Credential,
    /// e.g. `https://login.microsoftonline.com`.
    pub login_endpoint: String,
    /// e.g. `https://graph.microsoft.com`; the client appends `/v1.0`. The token scope is
    /// `<graph_endpoint>/.default`.
    pub graph_endpoint: String,
    /// Extra trusted CA certificates (PEM bundle), added to the system roots.
    pub ca_bundle: Option<String>,
    /// The hosts the operator allows besides the Microsoft clouds' (never from a manifest):
    /// [`super::GraphClient::new`] refuses endpoints outside them before anything is sent.
    pub allowed_endpoints: AllowedEndpoints,
    /// Requests (or `$batch` envelopes) in flight at once.
    pub max_concurrency: usize,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Retry limits.
    pub retry: RetryPolicy,
    /// The throttling budget the client keeps to.
    pub limits: RateLimits,
}

impl GraphConfig {
    /// A configuration for `cloud` with default limits.
    pub fn new(
        cloud: Cloud,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> GraphConfig {
        let (login_endpoint, graph_endpoint) = cloud.endpoints();
        GraphConfig {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential,
            login_endpoint,
            graph_endpoint,
            ca_bundle: None,
            allowed_endpoints: AllowedEndpoints::built_in(),
            max_concurrency: 5,
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            limits: RateLimits::default(),
        }
    }

    /// Custom endpoints (the simulator, a proxy), with an optional extra CA bundle.
    pub fn custom(
        login_endpoint: impl Into<String>,
        graph_endpoint: impl Into<String>,
        ca_bundle: Option<String>,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> GraphConfig {
        let cloud = Cloud::Custom {
            login_endpoint: login_endpoint.into(),
            graph_endpoint: graph_endpoint.into(),
        };
        GraphConfig {
            ca_bundle,
            ..GraphConfig::new(cloud, tenant_id, client_id, credential)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_clouds_use_their_own_hosts() {
        assert_eq!(
            Cloud::USGovernment.endpoints(),
            (
                "https://login.microsoftonline.us".into(),
                "https://graph.microsoft.us".into()
            )
        );
        assert_eq!(
            Cloud::China.endpoints().1,
            "https://microsoftgraph.chinacloudapi.cn"
        );
        let custom = Cloud::Custom {
            login_endpoint: "http://127.0.0.1:1/".into(),
            graph_endpoint: "http://127.0.0.1:1/".into(),
        };
        assert_eq!(custom.endpoints().1, "http://127.0.0.1:1");
    }
}
