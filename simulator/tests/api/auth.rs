use std::time::Duration;

use o365_graph_sim::{Fixture, SimConfig, Simulator};
use serde_json::Value;

use crate::common::{self, CLIENT_ID, SECRET, to_resp};

async fn post_token(sim: &Simulator, tenant: &str, form: &[(&str, &str)]) -> common::Resp {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            sim.login_base_url()
        ))
        .form(form)
        .send()
        .await
        .unwrap();
    to_resp(r).await
}

const SCOPE: (&str, &str) = ("scope", "https://graph.microsoft.com/.default");
const GRANT: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn client_secret_in_form_gets_a_bearer_token_of_default_lifetime() {
    let env = common::start().await;
    let r = post_token(
        &env.sim,
        &env.sim.tenant_id(),
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            SCOPE,
            GRANT,
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
    assert!(
        r.body["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

#[tokio::test]
async fn client_secret_via_http_basic_and_tenant_domain_is_accepted() {
    let env = common::start().await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/contoso.com/oauth2/v2.0/token",
            env.sim.login_base_url()
        ))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[SCOPE, GRANT])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn wrong_secret_is_401_invalid_client_aadsts7000215() {
    let env = common::start().await;
    let r = post_token(
        &env.sim,
        &env.sim.tenant_id(),
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", "nope"),
            SCOPE,
            GRANT,
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
    let d = r.body["error_description"].as_str().unwrap();
    assert!(d.starts_with("AADSTS7000215: Invalid client secret provided."));
    assert!(d.contains("\r\nTrace ID: "));
    assert_eq!(r.body["error_codes"][0], 7_000_215);
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(r.body[k].is_string(), "{k}");
    }
}

#[tokio::test]
async fn unknown_client_is_400_unauthorized_client_aadsts700016() {
    let env = common::start().await;
    let r = post_token(
        &env.sim,
        &env.sim.tenant_id(),
        &[
            ("client_id", "33333333-3333-3333-3333-333333333333"),
            ("client_secret", SECRET),
            SCOPE,
            GRANT,
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "unauthorized_client");
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700016")
    );
}

#[tokio::test]
async fn unknown_tenant_and_bad_scope_are_rejected() {
    let env = common::start().await;
    let r = post_token(
        &env.sim,
        "fabrikam.com",
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            SCOPE,
            GRANT,
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post_token(
        &env.sim,
        &env.sim.tenant_id(),
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "User.Read"),
            GRANT,
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_scope");
}

#[tokio::test]
async fn missing_bearer_is_401_access_token_is_empty() {
    let env = common::start().await;
    let r = to_resp(env.http.get(env.url("/users")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    assert_eq!(r.message(), "Access token is empty.");
}

#[tokio::test]
async fn garbage_bearer_is_401() {
    let env = common::start().await;
    let r = to_resp(
        env.http
            .get(env.url("/users"))
            .bearer_auth("garbage")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
}

#[tokio::test]
async fn expired_token_is_401_access_token_has_expired() {
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            throttling: false,
            token_lifetime: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .await;
    let r = env.get("/users").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.message(), "Access token has expired or is not yet valid.");
}

#[tokio::test]
async fn errors_carry_inner_error_with_request_ids_and_a_date_without_fraction_or_zone() {
    let env = common::start().await;
    let r = env
        .call_with(
            "GET",
            "/users/nobody@contoso.com",
            None,
            &[("client-request-id", "abc-123")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    assert_eq!(
        r.message(),
        "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present."
    );
    let inner = &r.body["error"]["innerError"];
    assert_eq!(inner["client-request-id"], "abc-123");
    assert!(inner["request-id"].as_str().is_some_and(|s| s.len() == 36));
    let date = inner["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "{date}");
    assert!(!date.contains('Z') && !date.contains('.'));
    assert_eq!(r.header("client-request-id"), Some("abc-123"));
}

#[tokio::test]
async fn unknown_path_is_400_resource_not_found_for_segment_and_wrong_method_is_405() {
    let env = common::start().await;
    let r = env.get("/widgets").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(r.message(), "Resource not found for the segment 'widgets'.");
    let r = env.call("PUT", "/users", Some(Value::Null)).await;
    assert_eq!(r.status, 405);
}
