//! Access tokens from the identity platform's v2.0 token endpoint (client credentials,
//! notes §8): cached, refreshed before they expire, and refreshed once more when Graph says a
//! token is no longer valid.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::credentials::{PreparedCredential, Secret};
use super::error::{GraphError, RetryClass};
use super::retry::RetryPolicy;
use super::wire;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A bearer token. `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken(Arc<str>);

impl AccessToken {
    pub(crate) fn bearer(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// Gets and caches tokens for one app+tenant.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    tenant_id: String,
    scope: String,
    credential: PreparedCredential,
    retry: RetryPolicy,
    cache: Mutex<Option<Cached>>,
    issued: std::sync::atomic::AtomicU64,
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        login_endpoint: &str,
        tenant_id: &str,
        client_id: &str,
        graph_endpoint: &str,
        credential: PreparedCredential,
        retry: RetryPolicy,
    ) -> TokenSource {
        TokenSource {
            http,
            token_url: format!(
                "{}/{tenant_id}/oauth2/v2.0/token",
                login_endpoint.trim_end_matches('/')
            ),
            client_id: client_id.to_string(),
            tenant_id: tenant_id.to_string(),
            scope: format!("{}/.default", graph_endpoint.trim_end_matches('/')),
            credential,
            retry,
            cache: Mutex::new(None),
            issued: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Tokens fetched so far.
    pub(crate) fn fetched(&self) -> u64 {
        self.issued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one when it is due for refresh. Concurrent
    /// callers wait for one fetch instead of each fetching.
    pub(crate) async fn token(&self) -> Result<AccessToken, GraphError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch_retrying().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Graph refused `stale` (401 `InvalidAuthenticationToken`): drop it so the next
    /// [`TokenSource::token`] fetches a new one (unless another task already did).
    pub(crate) async fn invalidate(&self, stale: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == stale) {
            *cache = None;
        }
    }

    /// Fetches a token, retrying transient failures (5xx, 429, resets, timeouts) with the
    /// client's backoff, like every Graph request, from the very first one on.
    async fn fetch_retrying(&self) -> Result<Cached, GraphError> {
        let mut attempt: u32 = 1;
        loop {
            match self.fetch().await {
                Err(e) if e.is_transient() && attempt < self.retry.max_attempts => {
                    let wait = self.retry.transient_delay(attempt, e.retry_after);
                    tracing::debug!(attempt, code = %e.code, ?wait, "token request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn fetch(&self) -> Result<Cached, GraphError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        let assertion: Secret;
        match &self.credential {
            PreparedCredential::Secret(s) => form.push(("client_secret", s.expose().to_string())),
            PreparedCredential::Certificate(signer) => {
                assertion = signer.assertion(&self.client_id, &self.token_url)?;
                form.push(("client_assertion_type", JWT_BEARER.into()));
                form.push(("client_assertion", assertion.expose().to_string()));
            }
            PreparedCredential::WorkloadIdentity(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    GraphError::token(
                        None,
                        "FederatedTokenUnreadable",
                        format!(
                            "cannot read the workload identity token file {} ({e}): check that \
                             the pod's service account is labelled \
                             azure.workload.identity/use=true and that AZURE_FEDERATED_TOKEN_FILE \
                             points at the projected token",
                            path.display()
                        ),
                        None,
                        RetryClass::Transient,
                    )
                })?;
                form.push(("client_assertion_type", JWT_BEARER.into()));
                form.push(("client_assertion", text.trim().to_string()));
            }
        }
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let mut err = GraphError::transport("get an access token", &e);
                err.kind = super::error::ErrorKind::Token;
                err
            })?;
        drop(form);
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| GraphError::transport("get an access token", &e))?;
        tracing::debug!(status, url = %self.token_url, "token request");
        if !(200..300).contains(&status) {
            return Err(self.token_error(status, &body));
        }
        let parsed: wire::TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| GraphError::decode("get an access token", e))?;
        let lifetime = parsed
            .expires_in
            .as_ref()
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(3599);
        self.issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Cached {
            token: AccessToken(parsed.access_token.into()),
            refresh_at: started + refresh_after(Duration::from_secs(lifetime)),
        })
    }

    /// Turns a token endpoint error into a terminal error that names the fix. The request's
    /// form (the secret or assertion) is never part of it.
    fn token_error(&self, status: u16, body: &[u8]) -> GraphError {
        let e: wire::TokenError = serde_json::from_slice(body).unwrap_or_default();
        let aadsts = e.error_codes.first().copied().or_else(|| {
            let digits: String = e
                .error_description
                .strip_prefix("AADSTS")?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        });
        // The first line of the description ("AADSTS7000215: Invalid client secret ...");
        // the rest is trace and correlation ids.
        let first_line = e
            .error_description
            .lines()
            .next()
            .unwrap_or_default()
            .trim();
        let (app, tenant) = (&self.client_id, &self.tenant_id);
        let fix = match aadsts {
            Some(7_000_215 | 7_000_222) => format!(
                "the client secret is wrong or expired: create a new client secret for app \
                 {app} (Entra admin center → App registrations → Certificates & secrets), copy \
                 its Value (not its ID) and update the Secret named by the Tenant's \
                 spec.credentials.clientSecret"
            ),
            Some(700_016) => format!(
                "app {app} does not exist in tenant {tenant}: check spec.clientId and \
                 spec.tenantId, and that the app is consented in this tenant"
            ),
            Some(90_002 | 90_023) => {
                format!("tenant {tenant} was not found: check spec.tenantId and spec.cloud")
            }
            Some(700_027) => format!(
                "the certificate is not registered on app {app}: upload the certificate in \
                 spec.credentials.clientCertificate to the app registration (Certificates & \
                 secrets → Certificates)"
            ),
            Some(7_000_274 | 50_027 | 5_002_738) => format!(
                "the client assertion was rejected: check that the private key in \
                 spec.credentials.clientCertificate belongs to the certificate registered on \
                 app {app}"
            ),
            Some(700_024) => "the client assertion is outside its validity time: check the \
                              node's clock (NTP)"
                .to_string(),
            Some(700_211..=700_213) => format!(
                "no federated identity credential of app {app} matches the workload identity \
                 token: add one with the cluster's OIDC issuer, subject \
                 system:serviceaccount:<namespace>:<serviceaccount> and audience \
                 api://AzureADTokenExchange"
            ),
            Some(70_011 | 1_002_012) => format!(
                "the scope {} is not valid for this cloud: check spec.cloud (and graphEndpoint \
                 for Custom)",
                self.scope
            ),
            Some(7_000_218) => "no credential was sent: set spec.credentials".to_string(),
            _ => "the identity platform refused the token request".to_string(),
        };
        let message = if first_line.is_empty() {
            fix
        } else {
            format!("{fix} ({first_line})")
        };
        let code = if e.error.is_empty() {
            format!("http_{status}")
        } else {
            e.error.clone()
        };
        let retry = if status == 429 || status >= 500 {
            RetryClass::Transient
        } else {
            RetryClass::Terminal
        };
        GraphError::token(
            Some(status),
            code,
            message,
            e.trace_id.or(e.correlation_id),
            retry,
        )
    }
}

/// When to refresh a token that lives `lifetime`: at 80 % of it, and at least 5 minutes before
/// it expires when it lives long enough for that to matter.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let eighty = lifetime.mul_f64(0.8);
    match lifetime.checked_sub(Duration::from_secs(300)) {
        Some(early) if early > Duration::ZERO => eighty.min(early),
        _ => eighty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_at_80_percent_of_their_lifetime() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(2880)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(10)),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn access_tokens_are_redacted() {
        let t = AccessToken("eyJsecret".into());
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
