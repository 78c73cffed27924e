//! The identity platform's metadata: OpenID Connect discovery, JWKS, instance discovery, and
//! access tokens that verify against the JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use o365_graph_sim::{Fixture, SimConfig};
use serde_json::Value;

use crate::common::{self, to_resp};

async fn get_json(env: &common::Env, url: &str) -> common::Resp {
    to_resp(env.http.get(url).send().await.unwrap()).await
}

#[tokio::test]
async fn oidc_discovery_v2_for_the_tenant_id_a_domain_name_and_the_aliases() {
    let env = common::start().await;
    let base = env.sim.login_base_url();
    let tid = env.sim.tenant_id();
    for tenant in [
        tid.as_str(),
        "contoso.com",
        "contoso.onmicrosoft.com",
        "CONTOSO.com",
    ] {
        let r = get_json(
            &env,
            &format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(r.status, 200, "{tenant}");
        let d = &r.body;
        assert_eq!(d["issuer"], format!("{base}/{tid}/v2.0"), "{tenant}");
        assert_eq!(
            d["token_endpoint"],
            format!("{base}/{tid}/oauth2/v2.0/token")
        );
        assert_eq!(
            d["authorization_endpoint"],
            format!("{base}/{tid}/oauth2/v2.0/authorize")
        );
        assert_eq!(d["jwks_uri"], format!("{base}/{tid}/discovery/v2.0/keys"));
        assert_eq!(d["tenant_region_scope"], "NA");
        assert_eq!(d["id_token_signing_alg_values_supported"][0], "RS256");
        assert!(d["subject_types_supported"].is_array());
        assert!(d["response_types_supported"].is_array());
    }
    for alias in ["common", "organizations"] {
        let r = get_json(
            &env,
            &format!("{base}/{alias}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["issuer"], format!("{base}/{{tenantid}}/v2.0"));
        assert_eq!(
            r.body["token_endpoint"],
            format!("{base}/{alias}/oauth2/v2.0/token")
        );
        assert_eq!(r.body["tenant_region_scope"], Value::Null);
    }
    // An unverified domain or an unknown tenant is not a tenant name.
    for bad in ["fabrikam.example", "nowhere.com"] {
        let r = get_json(
            &env,
            &format!("{base}/{bad}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["error"], "invalid_tenant");
        assert_eq!(r.body["error_codes"][0], 90002);
    }
}

#[tokio::test]
async fn oidc_discovery_v1_and_its_token_endpoint_with_resource() {
    let env = common::start().await;
    let base = env.sim.login_base_url();
    let tid = env.sim.tenant_id();
    let r = get_json(
        &env,
        &format!("{base}/contoso.com/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["issuer"], format!("{base}/{tid}/"));
    assert_eq!(
        r.body["token_endpoint"],
        format!("{base}/{tid}/oauth2/token")
    );
    assert_eq!(r.body["jwks_uri"], format!("{base}/common/discovery/keys"));
    let keys = get_json(&env, r.body["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(keys.status, 200);
    assert_eq!(keys.body["keys"][0]["kty"], "RSA");

    let resp = env
        .http
        .post(r.body["token_endpoint"].as_str().unwrap())
        .form(&[
            ("client_id", common::CLIENT_ID),
            ("client_secret", common::SECRET),
            ("resource", "https://graph.microsoft.com"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let r = env
        .http
        .get(env.url("/users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn access_tokens_are_rs256_jwts_that_verify_against_the_jwks() {
    let env = common::start().await;
    let base = env.sim.login_base_url();
    let tid = env.sim.tenant_id();
    let config = get_json(
        &env,
        &format!("{base}/{tid}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    let jwks = get_json(&env, config.body["jwks_uri"].as_str().unwrap()).await;
    let parts: Vec<&str> = env.token.split('.').collect();
    assert_eq!(parts.len(), 3, "{}", env.token);
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is in the JWKS");
    assert_eq!(key["issuer"], format!("{base}/{tid}/v2.0"));
    let public = ring::signature::RsaPublicKeyComponents {
        n: b64(key["n"].as_str().unwrap()),
        e: b64(key["e"].as_str().unwrap()),
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &b64(parts[2]),
        )
        .expect("signature verifies");
    // A changed payload does not.
    let forged = format!("{}.{}x", parts[0], parts[1]);
    assert!(
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                forged.as_bytes(),
                &b64(parts[2]),
            )
            .is_err()
    );
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["iss"], format!("{base}/{tid}/"));
    assert_eq!(claims["tid"], tid);
    assert_eq!(claims["appid"], common::CLIENT_ID);
    assert_eq!(claims["ver"], "1.0");
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
}

#[tokio::test]
async fn instance_discovery_names_the_tenant_discovery_endpoint_and_the_host_aliases() {
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await;
    let base = env.sim.login_base_url();
    let host = base.split_once("://").unwrap().1.to_string();
    let tid = env.sim.tenant_id();
    let url = format!(
        "{base}/common/discovery/instance?api-version=1.1&authorization_endpoint={base}/{tid}/oauth2/v2.0/authorize"
    );
    let r = get_json(&env, &url).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["tenant_discovery_endpoint"],
        format!("{base}/{tid}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(r.body["api-version"], "1.1");
    assert_eq!(r.body["metadata"][0]["preferred_network"], host.as_str());
    assert_eq!(r.body["metadata"][0]["aliases"][0], host.as_str());
    let r = get_json(
        &env,
        &format!(
            "{base}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.org/{tid}/oauth2/v2.0/authorize"
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_instance");
}
