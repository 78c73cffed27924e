//! Replication lag: off by default; when on, requests touching a just-created object may miss
//! it (404), lists may leave it out, delta shows it.

use std::time::{Duration, Instant};

use o365_graph_sim::{FaultPlan, Fixture, ReplicationLag, SimConfig};
use serde_json::{Value, json};

use crate::common;

fn lag(window_seconds: f64, probability: f64, seed: u64) -> SimConfig {
    SimConfig {
        throttling: false,
        replication_lag: Some(ReplicationLag {
            window_seconds,
            probability,
            seed,
        }),
        ..SimConfig::default()
    }
}

fn new_user(upn: &str) -> Value {
    json!({"accountEnabled": true, "displayName": "Fresh", "mailNickname": "fresh",
           "userPrincipalName": upn, "usageLocation": "US",
           "passwordProfile": {"password": "Passw0rd!x"}})
}

async fn create(env: &common::Env, upn: &str) -> String {
    let r = env.call("POST", "/users", Some(new_user(upn))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn without_lag_a_new_user_is_readable_at_once() {
    let env = common::start().await;
    let id = create(&env, "fresh@contoso.com").await;
    for _ in 0..20 {
        assert_eq!(env.get(&format!("/users/{id}")).await.status, 200);
    }
    assert_eq!(env.sim.stats().replication_lag_misses, 0);
}

#[tokio::test]
async fn a_lagging_replica_answers_404_to_reads_patches_and_assign_license_but_delta_shows_the_user()
 {
    let env = common::start_with(Fixture::demo(), lag(3600.0, 1.0, 7)).await;
    let delta = env.get("/users/delta?$deltatoken=latest").await;
    let delta_link = delta.body["@odata.deltaLink"].as_str().unwrap().to_string();
    let id = create(&env, "fresh@contoso.com").await;

    for (method, path, body) in [
        ("GET", format!("/users/{id}"), None),
        ("GET", "/users/fresh@contoso.com".to_string(), None),
        (
            "PATCH",
            format!("/users/{id}"),
            Some(json!({"jobTitle": "x"})),
        ),
        (
            "POST",
            format!("/users/{id}/assignLicense"),
            Some(json!({"addLicenses": [], "removeLicenses": []})),
        ),
        ("GET", format!("/users/{id}/licenseDetails"), None),
    ] {
        let r = env.call(method, &path, body).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.code(), "Request_ResourceNotFound");
    }
    let list = env.get("/users").await;
    assert!(
        !list.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == id.as_str())
    );
    // Delta is served from the change log: the user is there before it can be written.
    let d = env.get(&delta_link).await;
    assert!(
        d.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == id.as_str())
    );
    // Older objects are not affected.
    assert_eq!(env.get("/users/lee.gu@contoso.com").await.status, 200);
    assert!(env.sim.stats().replication_lag_misses >= 6);
}

#[tokio::test]
async fn after_the_window_the_object_is_visible_everywhere() {
    let env = common::start_with(Fixture::demo(), lag(0.3, 1.0, 1)).await;
    let id = create(&env, "fresh@contoso.com").await;
    assert_eq!(env.get(&format!("/users/{id}")).await.status, 404);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.get(&format!("/users/{id}")).await.status != 200 {
        assert!(Instant::now() < deadline, "still lagging");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = env
        .call(
            "PATCH",
            &format!("/users/{id}"),
            Some(json!({"jobTitle": "x"})),
        )
        .await;
    assert_eq!(r.status, 204);
}

async fn statuses(seed: u64) -> Vec<u16> {
    let env = common::start_with(Fixture::demo(), lag(3600.0, 0.5, seed)).await;
    let id = create(&env, "fresh@contoso.com").await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(env.get(&format!("/users/{id}")).await.status);
    }
    out
}

#[tokio::test]
async fn the_same_seed_gives_the_same_misses() {
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await);
    assert!(a.contains(&404) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn lag_is_switched_on_by_the_fixture_or_the_fault_plan() {
    let mut fixture = Fixture::demo();
    fixture.replication_lag = Fixture::from_yaml(&format!(
        "{}\nreplicationLag: {{windowSeconds: 3600, probability: 1}}\n",
        Fixture::demo().to_yaml().unwrap()
    ))
    .unwrap()
    .replication_lag;
    assert!(fixture.replication_lag.is_some());
    let env = common::start_with(
        fixture,
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await;
    let id = create(&env, "a@contoso.com").await;
    assert_eq!(env.get(&format!("/users/{id}")).await.status, 404);

    let plan = FaultPlan::from_yaml(
        "replicationLag:\n  windowSeconds: 3600\n  probability: 1\n  seed: 3\n",
    )
    .unwrap();
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            throttling: false,
            faults: Some(plan),
            ..SimConfig::default()
        },
    )
    .await;
    let id = create(&env, "b@contoso.com").await;
    assert_eq!(env.get(&format!("/users/{id}")).await.status, 404);
}
