//! A standard OpenID Connect client library (`openidconnect`), unmodified, obtains a token from
//! the simulator over TLS: it discovers the provider from the issuer URL, fetches the JWKS,
//! and runs the client-credentials grant against the discovered token endpoint. Only the
//! issuer URL and the CA point at the simulator; the HTTP transport is reqwest with that CA.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests unwrap: a panic is a failed test"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use o365_graph_sim::{Fixture, SimConfig, Simulator};
use openidconnect::core::{
    CoreClient, CoreJsonWebKey, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    ClientId, ClientSecret, HttpRequest, HttpResponse, IssuerUrl, JsonWebKey, OAuth2TokenResponse,
    Scope,
};

const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
const SECRET: &str = "demo-client-secret";

/// The HTTP transport handed to the library: reqwest trusting the simulator's CA, no redirects
/// (as the library's own reqwest integration requires).
async fn send(http: &reqwest::Client, req: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let (parts, body) = req.into_parts();
    let mut builder = http.request(parts.method, parts.uri.to_string());
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let resp = builder.body(body).send().await?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        out = out.header(name, value);
    }
    let bytes = resp.bytes().await?;
    Ok(out.body(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn openidconnect_discovers_the_simulator_and_gets_a_token_that_verifies_against_its_jwks() {
    let sim = Simulator::start(
        Fixture::demo(),
        SimConfig {
            tls: true,
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client_fn = |req: HttpRequest| send(&http, req);

    // Issuer by tenant id and by domain name: both discover the same provider.
    for tenant in [sim.tenant_id(), "contoso.com".to_string()] {
        let issuer_url = format!("{}/{}/v2.0", sim.login_base_url(), tenant);
        let issuer = IssuerUrl::new(issuer_url).unwrap();
        let result = CoreProviderMetadata::discover_async(issuer, &client_fn).await;
        if tenant == "contoso.com" {
            // Entra's documents always name the tenant id as issuer, so a client that insists
            // on issuer == discovery URL refuses a domain-name authority, as with Entra.
            assert!(result.is_err());
            continue;
        }
        let metadata = result.expect("discovery succeeds");
        assert_eq!(
            metadata.token_endpoint().unwrap().as_str(),
            format!("{}/{}/oauth2/v2.0/token", sim.login_base_url(), tenant)
        );
        let keys = metadata.jwks().keys().to_vec();
        assert!(!keys.is_empty());

        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(CLIENT_ID.to_string()),
            Some(ClientSecret::new(SECRET.to_string())),
        );
        let token = client
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new(
                "https://graph.microsoft.com/.default".to_string(),
            ))
            .request_async(&client_fn)
            .await
            .expect("client credentials grant");
        let access = token.access_token().secret().clone();

        // The token verifies against the key set the library fetched.
        let parts: Vec<&str> = access.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let key: &CoreJsonWebKey = keys
            .iter()
            .find(|k| k.key_id().map(|id| id.as_str()) == header["kid"].as_str())
            .expect("the token's kid is in the JWKS");
        let signed = format!("{}.{}", parts[0], parts[1]);
        key.verify_signature(
            &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("the access token's signature verifies");

        // And Graph accepts it.
        let users = http
            .get(format!("{}/v1.0/users", sim.graph_base_url()))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(users.status(), 200);
    }
    sim.shutdown().await;
}
