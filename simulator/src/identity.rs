//! The identity platform's metadata endpoints, as Entra serves them: OpenID Connect discovery
//! (v2.0 and v1.0), the signing keys (JWKS), instance discovery, and the RS256 signing of
//! access tokens.
//!
//! Tokens are signed with a fixed RSA test key shipped in the crate (`src/keys/`), so a token
//! verifies against the JWKS of any run. It is a test key and no secret: never trust a token
//! of this simulator anywhere else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha1::Digest;

use crate::error::SimError;
use crate::util;

const KEY_PKCS8: &[u8] = include_bytes!("keys/token-signing.pk8");
const CERT_DER: &[u8] = include_bytes!("keys/token-signing.cert.der");

/// The key that signs access tokens, and its JWK.
pub struct SigningKey {
    key: ring::signature::RsaKeyPair,
    rng: ring::rand::SystemRandom,
    /// `kid` and `x5t`: base64url SHA-1 of the certificate (Entra uses the thumbprint as kid).
    pub kid: String,
    n: String,
    e: String,
    x5c: String,
}

impl SigningKey {
    pub fn load() -> Result<SigningKey, SimError> {
        let key = ring::signature::RsaKeyPair::from_pkcs8(KEY_PKCS8)
            .map_err(|e| SimError::Tls(format!("token signing key: {e}")))?;
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = key.public().into();
        let n = util::b64url_encode(&components.n);
        let e = util::b64url_encode(&components.e);
        Ok(SigningKey {
            key,
            rng: ring::rand::SystemRandom::new(),
            kid: util::b64url_encode(sha1::Sha1::digest(CERT_DER).as_slice()),
            n,
            e,
            x5c: STANDARD.encode(CERT_DER),
        })
    }

    /// A compact RS256 JWT of `claims` with `typ`, `alg`, `x5t` and `kid` in the header.
    pub fn sign(&self, claims: &Value) -> Result<String, SimError> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let enc = |v: &Value| util::b64url_encode(v.to_string().as_bytes());
        let signing_input = format!("{}.{}", enc(&header), enc(claims));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|e| SimError::Tls(format!("token signing failed: {e}")))?;
        Ok(format!("{signing_input}.{}", util::b64url_encode(&sig)))
    }

    /// The JWK of this key. `issuer` is set on the v2.0 key set, as Entra does.
    fn jwk(&self, issuer: Option<&str>) -> Value {
        let mut k = json!({"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                           "n": self.n, "e": self.e, "x5c": [self.x5c]});
        if let Some(i) = issuer {
            k["issuer"] = json!(i);
        }
        k
    }
}

/// Which tenant a login URL names.
#[derive(Debug, Clone, PartialEq)]
pub enum Authority {
    /// The tenant, by id or a domain name of it: URLs use its id.
    Tenant(String),
    /// `common` or `organizations` (multi-tenant aliases): URLs keep the alias.
    Alias(String),
}

impl Authority {
    /// The segment in endpoint URLs.
    fn segment(&self) -> &str {
        match self {
            Authority::Tenant(id) => id,
            Authority::Alias(a) => a,
        }
    }
}

/// Resolves the tenant segment of a login URL: the tenant id, a verified domain of the tenant,
/// `common` or `organizations`. `None`: unknown tenant.
pub fn resolve_authority(
    segment: &str,
    tenant_id: &str,
    verified_domains: &[String],
) -> Option<Authority> {
    let lower = segment.to_ascii_lowercase();
    if lower == "common" || lower == "organizations" {
        return Some(Authority::Alias(lower));
    }
    if lower == tenant_id.to_ascii_lowercase() || verified_domains.contains(&lower) {
        return Some(Authority::Tenant(tenant_id.to_string()));
    }
    None
}

/// The v1.0 issuer of the tenant (Entra: `https://sts.windows.net/{tid}/`; here the
/// simulator's own origin). Access tokens for Graph carry it (Graph takes v1.0 tokens).
pub fn v1_issuer(base: &str, tenant_id: &str) -> String {
    format!("{base}/{tenant_id}/")
}

/// The v2.0 issuer: `{login}/{tid}/v2.0`; for `common`/`organizations` Entra writes the
/// literal placeholder `{tenantid}`.
pub fn v2_issuer(base: &str, authority: &Authority) -> String {
    match authority {
        Authority::Tenant(id) => format!("{base}/{id}/v2.0"),
        Authority::Alias(_) => format!("{base}/{{tenantid}}/v2.0"),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub fn openid_configuration_v2(base: &str, graph_host: &str, authority: &Authority) -> Value {
    let t = authority.segment();
    let tenant_scoped = matches!(authority, Authority::Tenant(_));
    json!({
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": v2_issuer(base, authority),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("https://{graph_host}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
            "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
            "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{t}/kerberos"),
        "tenant_region_scope": if tenant_scoped { json!("NA") } else { Value::Null },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    })
}

/// `GET /{tenant}/.well-known/openid-configuration` (the v1.0 document).
pub fn openid_configuration_v1(base: &str, graph_host: &str, authority: &Authority) -> Value {
    let t = authority.segment();
    let issuer = match authority {
        Authority::Tenant(id) => v1_issuer(base, id),
        Authority::Alias(_) => format!("{base}/{{tenantid}}/"),
    };
    let tenant_scoped = matches!(authority, Authority::Tenant(_));
    json!({
        "token_endpoint": format!("{base}/{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/common/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer,
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{base}/{t}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{t}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
            "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
            "amr", "nonce", "email", "given_name", "family_name", "nickname"],
        "check_session_iframe": format!("{base}/{t}/oauth2/checksession"),
        "userinfo_endpoint": format!("{base}/{t}/openid/userinfo"),
        "kerberos_endpoint": format!("{base}/{t}/kerberos"),
        "tenant_region_scope": if tenant_scoped { json!("NA") } else { Value::Null },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    })
}

/// The key set: `GET /{tenant}/discovery/v2.0/keys` (keys carry `issuer`) or the v1.0
/// `GET /{tenant}/discovery/keys`.
pub fn jwks(key: &SigningKey, v2_issuer: Option<&str>) -> Value {
    json!({"keys": [key.jwk(v2_issuer)]})
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…` (what MSAL asks
/// before trusting an authority host): the tenant discovery URL and the host's aliases.
/// An authorization endpoint on another host → 400 `invalid_instance` (AADSTS50049).
pub fn instance_discovery(base: &str, authorization_endpoint: Option<&str>) -> (u16, Value) {
    let host = base.split_once("://").map_or(base, |(_, h)| h);
    let endpoint = authorization_endpoint.unwrap_or_default();
    let (ep_host, ep_path) = endpoint
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').unwrap_or((rest, "")))
        .unwrap_or(("", ""));
    if authorization_endpoint.is_some() && !ep_host.eq_ignore_ascii_case(host) {
        return crate::auth::aad_error(
            400,
            "invalid_instance",
            50_049,
            "Unknown or invalid instance.",
        );
    }
    let tenant = ep_path
        .split('/')
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or("common");
    (
        200,
        json!({
            "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }),
    )
}
