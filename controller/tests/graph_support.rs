//! Shared helpers of the Graph client tests (included with `#[path]`; no tests of its own).
#![allow(dead_code)]

use std::time::Duration;

use o365_controller::graph::{
    AllowedEndpoints, Credential, GraphClient, GraphConfig, HostPort, RateLimits, Secret,
};
use o365_graph_sim::{Fixture, SimConfig, Simulator};

/// The demo fixture's app and secret (public by design).
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const CLIENT_SECRET: &str = "demo-client-secret";

/// A throwaway self-signed certificate and its key, generated for these tests only and
/// registered on no real application.
pub const TEST_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIDLzCCAhegAwIBAgIUDp3kU5y48YnLjHsfX/XzH2EHvsUwDQYJKoZIhvcNAQEL\nBQAwJjEkMCIGA1UEAwwbbzM2NS1jb250cm9sbGVyIGdyYXBoIHRlc3RzMCAXDTI2\nMTEyNzEwNDEwNVoYDzIxMjYxMTAzMTA0MTA1WjAmMSQwIgYDVQQDDBtvMzY1LWNv\nbnRyb2xsZXIgZ3JhcGggdGVzdHMwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK\nAoIBAQC9mQCQ5OhEMVhWJyLbKf2JdYs+dW10yLfbJD2ksG9CyHk8QfkNMBR0sLxz\nX56jPJ7Jzg8D15z/3qcSborLm+CPy0gnk2gLcderwj/CjhmMkQtqFNreoMfGbUKQ\nIQqD8uQzu0WJPitq0w3WEsH3fPu/VD8vLSKHNgIxHx4kGShLXC/WxQqnRqqrYllx\nJxj5UWeQ48hOPZwaN44CUx7Sy3QW4zm96nI6Al55+KtbpMNUC6wOkYxuOloWnpC7\nu1m91atd42wvNb7b3hMBkBOCM9xtJBqCsLTEYkRc51UrEwamt3fw8Aj0OssPEku5\nXuQxE2nqQIxwbRbcXH7HeNTtCWrZAgMBAAGjUzBRMB0GA1UdDgQWBBRgdzIbXrEn\nNtzwTZRKHxSEICbVozAfBgNVHSMEGDAWgBRgdzIbXrEnNtzwTZRKHxSEICbVozAP\nBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQBGxTg8X9Ovc6b+x9N/\ntHT/D8WI8l+VOVZLl1kLL/VzbdpFT2UHOp+miX102PGAPsJ5kkaW16Jz04e92vO/\nf6rLF8GlkJrchqRn10mNDEjtKWFWy+LhGM3GyvkLfWfHgocTUFSYkujXTjKZ5whj\n0e1aBBYcOojCJHl1OTqN4f2o/4MhfgT0WwswiPySFoimBN2bgLwfZlddnUot8RC8\nIolt7BLY+OMpUpVOb/azuEyq4dNOYoGGgCGrPSRjjq/ZL71e+prtWbW9r/HacCKF\nkscoWVL9JX1BTyMtdZ/t34dcYdgHtpR4PWH2qXHIQE8a1oCfy7JjFn+5q0t5UjlT\nbh68\n-----END CERTIFICATE-----\n";
pub const TEST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC9mQCQ5OhEMVhW\nJyLbKf2JdYs+dW10yLfbJD2ksG9CyHk8QfkNMBR0sLxzX56jPJ7Jzg8D15z/3qcS\nborLm+CPy0gnk2gLcderwj/CjhmMkQtqFNreoMfGbUKQIQqD8uQzu0WJPitq0w3W\nEsH3fPu/VD8vLSKHNgIxHx4kGShLXC/WxQqnRqqrYllxJxj5UWeQ48hOPZwaN44C\nUx7Sy3QW4zm96nI6Al55+KtbpMNUC6wOkYxuOloWnpC7u1m91atd42wvNb7b3hMB\nkBOCM9xtJBqCsLTEYkRc51UrEwamt3fw8Aj0OssPEku5XuQxE2nqQIxwbRbcXH7H\neNTtCWrZAgMBAAECggEAASvztKU4HfkThHUDXOQofgqQZHhL55xxNUbdKhVHjG9n\nq401tOS0muNGwmdsXQEZn05loBuY9YvOT7mby36UEOBZaYaB029vKWWjyxkmgHtH\nQhjoEdw9QVtt3XbyChW7XmVII/0cr2dsmBwh7nKfHwGaf8gM7FDa90kTG8E2i8aX\nX/vARRE7csQ8EHd/LD0bd9vxNwZ/UsvNDmBcfjAckQ2E6xc57sV3ls/IvvU6SGnA\nuGxdVXHRhB6cbIEe7Y1uR8CaPM+DnmFWUxdsA896f268OwqpSlG71HuYc9bYwdm3\nUjRqgf46Ol6KlOCvADXbshWVnFIMbcTOo+NKgrxZAQKBgQDisWGHMqXJ+RQcTPgq\nKTwNrmXv37YpYDCja5/16hO2iIKOyR/GsqYtThOExY1ZFbLfXn02xsmq04zsCsvu\nsnHCp8wpPSQQKD7UOtV3aUSkGFwk2/ngkRDr4D3wZZDI9rujHqsTXRZWTplKM34v\ntt0Y4UMvCZQkNG2X24xvD7VHAQKBgQDWG+tDfKAdPM+SBfHJqzot0v08haLZ2CYK\n6dKJX8A3TG26leNAdXnUh1d6nBzqRFp6S9QKN2LaLGjpCQJ/Egsj3yKKxbywA6zm\nairXOHOffW7+c/dzQTbpESB8Ln6mGYjEy7nHWpGmCSf6dQbb186hDesAmzdDNECk\n7YjyAAM72QKBgH7z06iBRrNrmEWZHUmPOiB3UIMbh8p4IgUDGtv/MPcCUAtiuzbt\niX7JwMiUUepX6oqJQhpRDVNrkfoGudp9eJQIoJ9frDiYMUdtg2qSO2yib8f8oV2Q\nICfYtxdP6duBwedCH5CCiyXecp5JZBuYjw2F6bgH5zy3V8C5pVX1OBIBAoGARxYn\n61UyV+K7y/CbUWi/PT2jBHgeFJPWNaNiWmfnCrUebWecdudKFs0Et1mjpAgjvhz0\n/pta/7Lk9hIeuQ/FkRhhgI+cURg3TJ0NMj207cwYkPTxwFtznrgn//Lz67Pom+ZD\n/TNNzkGV+2rlZxJksUZMsvvVwkNT/y46XJayfCkCgYEA0RabAfG0HWTouNY5mUf8\nqfb7Vi9IAk92+fqM09FYFKmjpPI0H7vPXVlT/OO2O4NiOTspzt8u8fcFHl9WQizu\nzHPHOXRuex4DHWrYB7Ym0D0srvgIU/t4WzVclGIW/T7SKCb/RyiCc2dTe0Ge0EYz\nXQyP94qe0wEy1YsjvRgLEfY=\n-----END PRIVATE KEY-----\n";

/// Simulator settings for functional tests: no throttling model, no faults.
pub fn quiet() -> SimConfig {
    SimConfig {
        throttling: false,
        ..SimConfig::default()
    }
}

pub async fn start(fixture: Fixture, config: SimConfig) -> Simulator {
    match Simulator::start(fixture, config).await {
        Ok(sim) => sim,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

pub async fn demo() -> Simulator {
    start(Fixture::demo(), quiet()).await
}

pub fn config(sim: &Simulator, credential: Credential) -> GraphConfig {
    let mut config = GraphConfig::custom(
        sim.login_base_url(),
        sim.graph_base_url(),
        sim.ca_pem(),
        sim.tenant_id(),
        CLIENT_ID,
        credential,
    );
    config.retry.base_delay = Duration::from_millis(20);
    config.retry.max_delay = Duration::from_millis(500);
    config.allowed_endpoints = allowing(&sim.graph_base_url());
    config
}

/// The allow-list of an operator who passed `--allow-endpoint` for `url`'s host and port.
pub fn allowing(url: &str) -> AllowedEndpoints {
    AllowedEndpoints::with([HostPort::of_url(url).must("an endpoint URL")])
}

pub fn secret() -> Credential {
    Credential::ClientSecret(Secret::new(CLIENT_SECRET))
}

pub fn client(sim: &Simulator) -> GraphClient {
    client_with(config(sim, secret()))
}

pub fn client_with(config: GraphConfig) -> GraphClient {
    match GraphClient::new(config) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

/// Limits matching a simulator running at `time_scale`.
pub fn scaled(time_scale: f64) -> RateLimits {
    RateLimits {
        time_scale,
        ..RateLimits::default()
    }
}

/// `expect` without the lint: tests state what they needed when a step fails.
pub trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Debug> Must<T> for Result<T, E> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    fn must(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: nothing"),
        }
    }
}

/// `expect_err` without the lint.
pub trait MustFail<E> {
    fn must_fail(self, what: &str) -> E;
}

impl<T: std::fmt::Debug, E> MustFail<E> for Result<T, E> {
    fn must_fail(self, what: &str) -> E {
        match self {
            Ok(v) => panic!("{what}: unexpectedly succeeded with {v:?}"),
            Err(e) => e,
        }
    }
}
