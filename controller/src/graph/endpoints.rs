//! Where credentials and tokens may go (DESIGN §6): the Microsoft clouds' login and Graph hosts
//! are built in; any other host only when the operator allows it (`--allow-endpoint`); and a
//! link from a response is followed only on the configured Graph endpoint's own origin.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use reqwest::Url;

use super::error::GraphError;

/// The login and Graph hosts of the well-known clouds (Global, US Government L4 and L5, China),
/// reached over https on port 443. Nothing else is trusted without the operator's word.
const BUILT_IN_HOSTS: [&str; 7] = [
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "login.microsoftonline.us",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "login.chinacloudapi.cn",
    "microsoftgraph.chinacloudapi.cn",
];

/// One host the operator allows, with its port (443 when none is given).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPort {
    /// Lower-case DNS name or IP address (IPv6 without brackets).
    host: String,
    port: u16,
}

impl HostPort {
    /// The host and port a URL connects to (its scheme's default port when it names none).
    pub fn of_url(url: &str) -> Result<HostPort, String> {
        let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        host_port(&parsed).ok_or_else(|| format!("{url:?} names no host"))
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for HostPort {
    type Err = String;

    /// `HOST[:PORT]`: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port
    /// (443 when omitted). Not a URL: no scheme, path or user.
    fn from_str(s: &str) -> Result<HostPort, String> {
        let s = s.trim();
        if s.contains("://") || s.contains('/') || s.contains('@') {
            return Err(format!(
                "{s:?} is not HOST[:PORT]: give the host and port only, e.g. graph.example.com:8443"
            ));
        }
        // Let the URL parser validate and normalise the host (IDNA, IPv4/IPv6 forms).
        let url = Url::parse(&format!("https://{s}/"))
            .map_err(|e| format!("{s:?} is not HOST[:PORT]: {e}"))?;
        let hp = host_port(&url).ok_or_else(|| format!("{s:?} names no host"))?;
        if hp.host.is_empty() {
            return Err(format!("{s:?} names no host"));
        }
        Ok(hp)
    }
}

fn host_port(url: &Url) -> Option<HostPort> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    Some(HostPort {
        host,
        port: url.port_or_known_default()?,
    })
}

/// Whether `url` is a loopback address (127.0.0.0/8, ::1 or `localhost`): the only place
/// plain `http://` is accepted (the simulator in tests).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The hosts the operator allows besides the built-in clouds. Empty by default: a Tenant can
/// then reach only Microsoft's own hosts. It comes from the controller's or the CLI's command
/// line, never from a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedEndpoints {
    extra: Vec<HostPort>,
}

impl AllowedEndpoints {
    /// Only the built-in clouds.
    pub fn built_in() -> AllowedEndpoints {
        AllowedEndpoints::default()
    }

    /// The built-in clouds and `extra`.
    pub fn with(extra: impl IntoIterator<Item = HostPort>) -> AllowedEndpoints {
        let mut allowed = AllowedEndpoints::default();
        for hp in extra {
            allowed.allow(hp);
        }
        allowed
    }

    /// Allows one more host and port.
    pub fn allow(&mut self, host_port: HostPort) {
        if !self.extra.contains(&host_port) {
            self.extra.push(host_port);
        }
    }

    /// The hosts allowed besides the built-in clouds.
    pub fn extra(&self) -> &[HostPort] {
        &self.extra
    }

    /// Whether the client may send credentials to `url` (a Tenant's login or Graph endpoint).
    /// Refuses with `EndpointNotAllowed`, naming the host and how to allow it; a plain-http URL
    /// that is not loopback is refused outright (`InvalidConfiguration`).
    pub fn check(&self, field: &str, url: &str) -> Result<(), GraphError> {
        let parsed = Url::parse(url).map_err(|e| {
            GraphError::config(format!(
                "{field} '{url}' is not a URL ({e}): use e.g. https://graph.microsoft.com"
            ))
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => {
                return Err(GraphError::config(format!(
                    "{field} '{url}' is plain http: credentials are sent only over https \
                     (http is accepted for 127.0.0.1, ::1 and localhost only)"
                )));
            }
            _ => {
                return Err(GraphError::config(format!(
                    "{field} '{url}' is not an http(s) URL: use e.g. https://graph.microsoft.com"
                )));
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(GraphError::config(format!(
                "{field} must not carry a user name or password"
            )));
        }
        let Some(hp) = host_port(&parsed) else {
            return Err(GraphError::config(format!("{field} '{url}' names no host")));
        };
        let built_in = parsed.scheme() == "https"
            && hp.port == 443
            && BUILT_IN_HOSTS.contains(&hp.host.as_str());
        if built_in || self.extra.contains(&hp) {
            return Ok(());
        }
        Err(GraphError::endpoint_not_allowed(field, &hp))
    }
}

/// The origin (scheme, host, port) of the configured Graph endpoint: the only place a link from
/// a response may lead.
#[derive(Debug, Clone)]
pub(crate) struct GraphOrigin {
    scheme: String,
    host_port: HostPort,
}

impl GraphOrigin {
    pub(crate) fn of(graph_endpoint: &str) -> Result<GraphOrigin, GraphError> {
        let url = Url::parse(graph_endpoint).map_err(|e| {
            GraphError::config(format!(
                "graphEndpoint '{graph_endpoint}' is not a URL: {e}"
            ))
        })?;
        let host_port = host_port(&url).ok_or_else(|| {
            GraphError::config(format!("graphEndpoint '{graph_endpoint}' names no host"))
        })?;
        Ok(GraphOrigin {
            scheme: url.scheme().to_owned(),
            host_port,
        })
    }

    /// Checks an absolute link from a response: same scheme, host and port as the Graph
    /// endpoint (so https, unless the configured endpoint is loopback http), and no user info.
    /// Anything else is `UntrustedLink`, before any connection or token.
    pub(crate) fn check_link(&self, operation: &str, link: &str) -> Result<(), GraphError> {
        let untrusted = |shown: &str| GraphError::untrusted_link(operation, shown, &self.display());
        let url = Url::parse(link).map_err(|_| untrusted("a link that is not a URL"))?;
        let Some(hp) = host_port(&url) else {
            return Err(untrusted(&format!("{}: (no host)", url.scheme())));
        };
        let shown = format!("{}://{hp}", url.scheme());
        if url.scheme() != self.scheme
            || hp != self.host_port
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(untrusted(&shown));
        }
        Ok(())
    }

    fn display(&self) -> String {
        format!("{}://{}", self.scheme, self.host_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ErrorKind;

    fn hp(s: &str) -> HostPort {
        match s.parse() {
            Ok(h) => h,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn host_port_defaults_to_443_and_normalises_the_host() {
        assert_eq!(hp("Graph.Example.COM").to_string(), "graph.example.com:443");
        assert_eq!(hp("127.0.0.1:8443").to_string(), "127.0.0.1:8443");
        assert_eq!(hp("[::1]:9000").to_string(), "[::1]:9000");
    }

    #[test]
    fn host_port_refuses_urls_paths_and_user_info() {
        for bad in [
            "https://graph.example.com",
            "graph.example.com/v1.0",
            "user@graph.example.com",
            "",
            "graph.example.com:99999",
        ] {
            assert!(bad.parse::<HostPort>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_well_known_clouds_are_allowed_and_nothing_else_by_default() {
        let allowed = AllowedEndpoints::built_in();
        for ok in [
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com/",
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
            "https://microsoftgraph.chinacloudapi.cn",
        ] {
            assert!(allowed.check("graphEndpoint", ok).is_ok(), "{ok}");
        }
        for (bad, kind) in [
            (
                "https://graph.attacker.example",
                ErrorKind::EndpointNotAllowed,
            ),
            (
                "https://graph.microsoft.com:8443",
                ErrorKind::EndpointNotAllowed,
            ),
            (
                "https://graph.microsoft.com.attacker.example",
                ErrorKind::EndpointNotAllowed,
            ),
            ("https://127.0.0.1:9", ErrorKind::EndpointNotAllowed),
            ("http://127.0.0.1:9", ErrorKind::EndpointNotAllowed),
            ("http://graph.microsoft.com", ErrorKind::Config),
            ("https://user:pw@graph.microsoft.com", ErrorKind::Config),
            ("ftp://graph.microsoft.com", ErrorKind::Config),
        ] {
            match allowed.check("graphEndpoint", bad) {
                Ok(()) => panic!("{bad} was allowed"),
                Err(e) => assert_eq!(e.kind, kind, "{bad}: {e}"),
            }
        }
    }

    #[test]
    fn an_allowed_host_is_allowed_on_its_port_only() {
        let allowed = AllowedEndpoints::with([hp("graph.example.com"), hp("127.0.0.1:8080")]);
        assert!(allowed.check("g", "https://graph.example.com/x").is_ok());
        assert!(
            allowed
                .check("g", "https://graph.example.com:8443")
                .is_err()
        );
        assert!(allowed.check("g", "http://127.0.0.1:8080").is_ok());
        assert!(allowed.check("g", "https://127.0.0.1:8080").is_ok());
        assert!(allowed.check("g", "http://127.0.0.1:8081").is_err());
        assert!(allowed.check("g", "http://graph.example.com").is_err());
    }

    #[test]
    fn the_refusal_names_the_host_and_the_flag_to_add() {
        let err = AllowedEndpoints::built_in()
            .check("loginEndpoint", "https://login.attacker.example:8443/")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("login.attacker.example:8443"), "{err}");
        assert!(err.contains("--allow-endpoint"), "{err}");
        assert!(err.contains("allowEndpoints"), "{err}");
    }

    #[test]
    fn links_are_followed_only_on_the_graph_origin() {
        let origin =
            GraphOrigin::of("https://graph.microsoft.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            origin
                .check_link("op", "https://graph.microsoft.com/v1.0/users?$skiptoken=x")
                .is_ok()
        );
        assert!(
            origin
                .check_link("op", "https://GRAPH.microsoft.com:443/v1.0/users")
                .is_ok()
        );
        for bad in [
            "http://graph.microsoft.com/v1.0/users",
            "https://graph.microsoft.com:8443/v1.0/users",
            "https://attacker.example/v1.0/users",
            "https://graph.microsoft.com@attacker.example/v1.0/users",
            "https://user@graph.microsoft.com/v1.0/users",
            "file:///etc/passwd",
        ] {
            match origin.check_link("op", bad) {
                Ok(()) => panic!("{bad} was followed"),
                Err(e) => assert_eq!(e.kind, ErrorKind::UntrustedLink, "{bad}"),
            }
        }
    }

    #[test]
    fn a_loopback_http_endpoint_keeps_its_scheme_for_links() {
        let origin = GraphOrigin::of("http://127.0.0.1:4000").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            origin
                .check_link("op", "http://127.0.0.1:4000/v1.0/users")
                .is_ok()
        );
        assert!(
            origin
                .check_link("op", "http://127.0.0.1:4001/v1.0/users")
                .is_err()
        );
        assert!(
            origin
                .check_link("op", "https://127.0.0.1:4000/v1.0/users")
                .is_err()
        );
    }
}
