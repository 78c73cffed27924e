use o365_graph_sim::{FaultPlan, Fixture, SimConfig};

use crate::common;

fn with_faults(yaml: &str) -> SimConfig {
    SimConfig {
        throttling: false,
        faults: Some(FaultPlan::from_yaml(yaml).unwrap()),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn an_error_rule_answers_with_its_status() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults("seed: 1\nrules:\n  - method: GET\n    path: /v1.0/domains*\n    fault: error\n    status: 503\n    retryAfterSeconds: 2\n"),
    )
    .await;
    let r = env.get("/domains").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(env.get("/users").await.status, 200);
    assert_eq!(env.sim.stats().faults, 1);
}

#[tokio::test]
async fn a_reset_rule_closes_the_connection_without_a_response() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults("rules:\n  - regex: ^/v1\\.0/users$\n    method: POST\n    fault: reset\n"),
    )
    .await;
    let err = env
        .http
        .post(env.url("/users"))
        .bearer_auth(&env.token)
        .json(&serde_json::json!({}))
        .send()
        .await;
    assert!(err.is_err());
    assert_eq!(env.get("/users").await.status, 200);
}

#[tokio::test]
async fn a_forced_throttle_window_answers_429_also_inside_batches() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults("rules:\n  - path: /v1.0/users/*\n    fault: throttle\n    fromSeconds: 0\n    forSeconds: 3600\n    retryAfterSeconds: 7\n"),
    )
    .await;
    let r = env.get("/users/lee.gu@contoso.com").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    let batch = serde_json::json!({"requests": [{"id": "1", "method": "GET", "url": "/users/lee.gu@contoso.com"}]});
    let r = env.call("POST", "/$batch", Some(batch)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["responses"][0]["status"], 429);
    assert_eq!(r.body["responses"][0]["headers"]["Retry-After"], "7");
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let plan = "seed: 42\nrules:\n  - path: /v1.0/domains\n    fault: error\n    status: 500\n    probability: 0.5\n";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let env = common::start_with(Fixture::demo(), with_faults(plan)).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(env.get("/domains").await.status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&500) && runs[0].contains(&200));
}

#[tokio::test]
async fn forced_token_expiry_makes_earlier_tokens_expire() {
    let env = common::start_with(
        Fixture::demo(),
        with_faults("tokenExpiry:\n  atSeconds: [0.0]\n"),
    )
    .await;
    // The token was issued after t=0, so it stays valid; one issued "before" cannot exist.
    assert_eq!(env.get("/domains").await.status, 200);
    let env = common::start_with(
        Fixture::demo(),
        with_faults("tokenExpiry:\n  everySeconds: 0.05\n"),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let r = env.get("/domains").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.message(), "Access token has expired or is not yet valid.");
}
