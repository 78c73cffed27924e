//! Faults for resilience tests: `maxHits` limits a rule to its first N matches (e.g. a new
//! user's first requests answered 404 by a lagging replica), and `loseResponse` makes the change
//! but never answers (a response lost on the way back).

use o365_graph_sim::{FaultPlan, Fixture, SimConfig};
use serde_json::json;

use crate::common;

fn with_faults(yaml: &str) -> SimConfig {
    SimConfig {
        throttling: false,
        faults: Some(FaultPlan::from_yaml(yaml).unwrap()),
        ..SimConfig::default()
    }
}

fn new_user(upn: &str) -> serde_json::Value {
    json!({
        "accountEnabled": true,
        "displayName": "Lost Response",
        "mailNickname": "lost",
        "userPrincipalName": upn,
        "passwordProfile": {"password": "Xy7!long-enough-password"},
    })
}

#[tokio::test]
async fn a_max_hits_rule_fires_only_that_many_times_and_a_404_is_resource_not_found() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults(
            "rules:\n  - method: GET\n    path: /v1.0/users/lee.gu@contoso.com\n    fault: error\n    status: 404\n    maxHits: 2\n",
        ),
    )
    .await;
    let first = env.get("/users/lee.gu@contoso.com").await;
    assert_eq!(first.status, 404);
    assert_eq!(first.body["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(env.get("/users/lee.gu@contoso.com").await.status, 404);
    assert_eq!(env.get("/users/lee.gu@contoso.com").await.status, 200);
    assert_eq!(env.sim.stats().faults, 2);
}

#[tokio::test]
async fn a_lost_response_makes_the_change_and_answers_nothing() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults("rules:\n  - method: POST\n    path: /v1.0/users\n    fault: loseResponse\n"),
    )
    .await;
    let sent = env
        .http
        .post(env.url("/users"))
        .bearer_auth(&env.token)
        .json(&new_user("lost@contoso.com"))
        .send()
        .await;
    assert!(sent.is_err(), "no response may arrive");
    assert!(
        env.sim.user("lost@contoso.com").is_some(),
        "the user was created"
    );
}

#[tokio::test]
async fn a_lost_inner_response_loses_the_whole_batch_response() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults(
            "rules:\n  - method: POST\n    path: /v1.0/users\n    fault: loseResponse\n    maxHits: 1\n",
        ),
    )
    .await;
    let batch = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/users", "body": new_user("lost@contoso.com"),
         "headers": {"Content-Type": "application/json"}},
    ]});
    let sent = env
        .http
        .post(env.url("/$batch"))
        .bearer_auth(&env.token)
        .json(&batch)
        .send()
        .await;
    assert!(sent.is_err(), "the envelope's response is lost");
    assert!(env.sim.user("lost@contoso.com").is_some());
    // Sent again, the create finds the user it made.
    let again = env.call("POST", "/$batch", Some(batch)).await;
    assert_eq!(again.body["responses"][0]["status"], 400);
}
