//! The identity platform's client-credentials token endpoint and bearer-token checks.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{Value, json};
use sha1::Digest;

use crate::Shared;
use crate::error::GraphError;
use crate::model::App;
use crate::util;

/// Microsoft Graph's application id (the `client_id` of its 401 challenge).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub app_id: String,
    pub issued: Instant,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: HashMap<String, IssuedToken>,
}

impl TokenStore {
    fn insert(&mut self, token: String, issued: IssuedToken) {
        if self.tokens.len() > 10_000 {
            let now = Instant::now();
            self.tokens.retain(|_, t| t.expires > now);
        }
        self.tokens.insert(token, issued);
    }
}

/// The token of `Authorization: Bearer …` (empty when there is none).
fn bearer(headers: &HeaderMap) -> &str {
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    raw.strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(if raw.contains(' ') { "" } else { raw })
        .trim()
}

/// The tenant id (`tid`, lower case) in the bearer token's claims, not verified: it only picks
/// the tenant that then checks the token against the ones it issued.
pub fn token_tenant(headers: &HeaderMap) -> Option<String> {
    let payload = bearer(headers).split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&util::b64url_decode(payload)?).ok()?;
    Some(claims.get("tid")?.as_str()?.to_ascii_lowercase())
}

/// Checks `Authorization: Bearer …` and returns the app (client) id.
pub fn authenticate(sh: &Shared, headers: &HeaderMap) -> Result<String, GraphError> {
    // Graph's 401s carry a bearer challenge naming the authority and Graph's own app id.
    let challenge = format!(
        "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\"",
        sh.base_url
    );
    let unauthorized = |m: &str| {
        GraphError::new(401, "InvalidAuthenticationToken", m)
            .with_header("www-authenticate", challenge.clone())
    };
    let token = bearer(headers);
    if token.is_empty() {
        return Err(unauthorized("Access token is empty."));
    }
    let issued = crate::lock(&sh.tokens).tokens.get(token).cloned();
    let Some(issued) = issued else {
        return Err(unauthorized(
            "CompactToken parsing failed with error code: 80049217",
        ));
    };
    let forced = sh
        .faults()
        .is_some_and(|f| f.token_force_expired(issued.issued));
    if Instant::now() >= issued.expires || forced {
        return Err(unauthorized(
            "Access token has expired or is not yet valid.",
        ));
    }
    Ok(issued.app_id)
}

/// An identity-platform error body (notes §8.1).
pub(crate) fn aad_error(status: u16, error: &str, code: u32, message: &str) -> (u16, Value) {
    let trace = util::new_guid();
    let corr = util::new_guid();
    let ts = util::login_timestamp();
    let description = format!(
        "AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
    );
    (
        status,
        json!({"error": error, "error_description": description, "error_codes": [code],
               "timestamp": ts, "trace_id": trace, "correlation_id": corr,
               "error_uri": format!("https://login.microsoftonline.com/error?code={code}")}),
    )
}

fn missing(param: &str) -> (u16, Value) {
    aad_error(
        400,
        "invalid_request",
        900_144,
        &format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token` (or the v1.0 `/{tenant}/oauth2/token`, which names the
/// resource in `resource` instead of a `/.default` scope). Returns status and JSON body.
pub fn token_endpoint(
    sh: &Shared,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> (u16, Value) {
    let mut form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if v1 && let Some(resource) = form.remove("resource") {
        form.insert(
            "scope".into(),
            format!("{}/.default", resource.trim_end_matches('/')),
        );
    }
    let (tenant_id, tenant_name, tenant_domains, app) = {
        let st = crate::lock(&sh.state);
        let domains: Vec<String> = st.domains.iter().map(|d| d.id.clone()).collect();
        let client = form
            .get("client_id")
            .cloned()
            .or_else(|| basic_auth(headers).map(|b| b.0));
        let app: Option<Result<App, String>> = client.map(|c| {
            st.apps
                .iter()
                .find(|a| a.client_id.eq_ignore_ascii_case(&c))
                .cloned()
                .ok_or(c)
        });
        (
            st.tenant.id.clone(),
            st.tenant.display_name.clone(),
            domains,
            app,
        )
    };
    let tenant_ok = tenant.eq_ignore_ascii_case(&tenant_id)
        || tenant_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(tenant));
    if !tenant_ok {
        return aad_error(
            400,
            "invalid_request",
            90_002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    match form.get("grant_type").map(String::as_str) {
        None => return missing("grant_type"),
        Some("client_credentials") => {}
        Some(other) => {
            return aad_error(
                400,
                "unsupported_grant_type",
                70_003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
    }
    let app: App = match app {
        None => return missing("client_id"),
        Some(Err(client)) => {
            return aad_error(
                400,
                "unauthorized_client",
                700_016,
                &format!(
                    "Application with identifier '{client}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            );
        }
        Some(Ok(app)) => app,
    };
    let Some(scope) = form.get("scope") else {
        return missing("scope");
    };
    if !scope.split(' ').all(|s| s.ends_with("/.default")) {
        return aad_error(
            400,
            "invalid_scope",
            1_002_012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic_auth(headers).map(|b| b.1));
    let verdict = if let Some(secret) = secret {
        if app.client_secrets.contains(&secret) {
            Ok(())
        } else {
            Err(aad_error(
                401,
                "invalid_client",
                7_000_215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{app}'."
                    .replace("{app}", &app.client_id)
                    .as_str(),
            ))
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return aad_error(
                400,
                "invalid_request",
                700_025,
                "Client assertion type is missing or is not 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            );
        }
        let mut audiences = vec![tenant_id.clone()];
        audiences.extend(tenant_domains);
        check_assertion(&app, assertion, &audiences)
    } else {
        Err(aad_error(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ))
    };
    if let Err(e) = verdict {
        return e;
    }
    let lifetime = sh.config.token_lifetime;
    let resource = scope
        .split(' ')
        .next()
        .and_then(|s| s.strip_suffix("/.default"))
        .unwrap_or_default();
    let via_secret = form.contains_key("client_secret") || basic_auth(headers).is_some();
    let token = match access_token(sh, &tenant_id, &app, resource, via_secret, lifetime) {
        Ok(t) => t,
        Err(e) => {
            return aad_error(500, "server_error", 50_000, &e.to_string());
        }
    };
    let now = Instant::now();
    crate::lock(&sh.tokens).insert(
        token.clone(),
        IssuedToken {
            app_id: app.client_id.clone(),
            issued: now,
            expires: now + lifetime,
        },
    );
    crate::lock(&sh.stats).tokens_issued += 1;
    let secs = lifetime.as_secs();
    (
        200,
        json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token}),
    )
}

/// A v1.0 access token for `resource` (what Entra issues for Graph), signed RS256 with the
/// key in the JWKS. Its claims follow Entra's app-only tokens.
fn access_token(
    sh: &Shared,
    tenant_id: &str,
    app: &App,
    resource: &str,
    via_secret: bool,
    lifetime: std::time::Duration,
) -> Result<String, crate::SimError> {
    let now = util::unix_now();
    let exp = now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let issuer = crate::identity::v1_issuer(&sh.base_url, tenant_id);
    let service_principal = util::stable_guid(tenant_id, &format!("sp/{}", app.client_id));
    let claims = json!({
        "aud": resource,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": if via_secret { "1" } else { "2" },
        "idp": issuer,
        "idtyp": "app",
        "oid": service_principal,
        "sub": service_principal,
        "tenant_region_scope": "NA",
        "tid": tenant_id,
        "uti": util::random_token(16),
        "ver": "1.0",
    });
    sh.signing.sign(&claims)
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get("authorization")?.to_str().ok()?;
    let b64 = raw.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((dec(id), dec(secret)))
}

type AadResult = Result<(), (u16, Value)>;

fn invalid_client(code: u32, message: &str) -> (u16, Value) {
    aad_error(401, "invalid_client", code, message)
}

/// Verifies a client assertion: a certificate-signed JWT, or a workload-identity federated token.
fn check_assertion(app: &App, assertion: &str, tenant_names: &[String]) -> AadResult {
    let malformed = || invalid_client(50_027, "JWT token is invalid or malformed.");
    let mut parts = assertion.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let header: Value = util::b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let claims: Value = util::b64url_decode(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let sub = claims["sub"].as_str().unwrap_or_default();
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    check_time(&claims)?;
    if let Some(cred) = app.federated_credentials.iter().find(|c| c.issuer == iss) {
        // Workload identity federation: issuer, subject and audience must match the
        // registered credential. The signature is not verified (documented in README).
        if cred.subject != sub {
            return Err(invalid_client(
                700_213,
                &format!(
                    "No matching federated identity record found for presented assertion subject '{sub}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion."
                ),
            ));
        }
        if !auds.iter().any(|a| cred.audiences.iter().any(|c| c == a)) {
            return Err(invalid_client(
                700_212,
                &format!(
                    "No matching federated identity record found for presented assertion audience '{}'.",
                    auds.join(",")
                ),
            ));
        }
        return Ok(());
    }
    if !app.federated_credentials.is_empty() && app.certificates.is_empty() {
        return Err(invalid_client(
            700_211,
            &format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion."
            ),
        ));
    }
    if !iss.eq_ignore_ascii_case(&app.client_id) || !sub.eq_ignore_ascii_case(&app.client_id) {
        return Err(invalid_client(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let aud_ok = auds.iter().any(|a| {
        let path = a.split_once("://").map_or(*a, |(_, rest)| rest);
        let mut segs = path.split('/').skip(1);
        let t = segs.next().unwrap_or_default();
        let rest: Vec<&str> = segs.collect();
        tenant_names.iter().any(|n| n.eq_ignore_ascii_case(t))
            && (rest == ["oauth2", "v2.0", "token"] || rest == ["oauth2", "token"])
    });
    if !aud_ok {
        return Err(invalid_client(
            700_023,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    if header["alg"].as_str() != Some("RS256") {
        return Err(invalid_client(
            5_002_738,
            "Invalid JWT token. 'alg' must be RS256.",
        ));
    }
    let signature = util::b64url_decode(s).ok_or_else(malformed)?;
    let signed = &assertion.trim().as_bytes()[..h.len() + 1 + p.len()];
    let thumb_sha1 = header["x5t"].as_str().and_then(util::b64url_decode);
    let thumb_sha256 = header["x5t#S256"].as_str().and_then(util::b64url_decode);
    for pem in &app.certificates {
        let Some(der) = pem_to_der(pem) else { continue };
        let matches = thumb_sha1.as_deref() == Some(sha1::Sha1::digest(&der).as_slice())
            || thumb_sha256.as_deref() == Some(sha2::Sha256::digest(&der).as_slice());
        if !matches {
            continue;
        }
        return if verify_rs256(&der, signed, &signature) {
            Ok(())
        } else {
            Err(invalid_client(
                7_000_274,
                "Client assertion failed signature validation.",
            ))
        };
    }
    let shown = thumb_sha1
        .or(thumb_sha256)
        .map(|t| t.iter().map(|b| format!("{b:02X}")).collect::<String>())
        .unwrap_or_default();
    Err(invalid_client(
        700_027,
        &format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{shown}']"
        ),
    ))
}

fn check_time(claims: &Value) -> AadResult {
    let now = util::unix_now();
    let exp = claims["exp"].as_i64();
    let nbf = claims["nbf"].as_i64().unwrap_or(i64::MIN);
    let skew = 300;
    match exp {
        Some(exp) if exp > now && nbf <= now + skew => Ok(()),
        _ => Err(invalid_client(
            700_024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {now}, expiry time of assertion {}.",
                exp.unwrap_or_default()
            ),
        )),
    }
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(parsed.contents)
}

fn verify_rs256(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert_der) else {
        return false;
    };
    let key = cert.public_key().subject_public_key.data.as_ref();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(message, signature)
        .is_ok()
}
