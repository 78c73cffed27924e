//! A tenant of 200,000 users: fixtures that size load (JSON, and YAML past serde-saphyr's
//! default node budget), and a `/users/delta` page costs O(page), not O(tenant).
//!
//! The bound asserted here is loose because CI runs tests unoptimised; the 10 ms target per
//! page at 100,000 users is measured in release:
//! `cargo test --release -p o365-graph-sim --test api scale:: -- --nocapture`.

use std::time::{Duration, Instant};

use o365_graph_sim::{Fixture, SimConfig, User};

use crate::common::{self, Env};

/// The demo tenant plus `n` generated users.
fn tenant_of(n: usize) -> Fixture {
    let mut f = Fixture::demo();
    f.users.reserve(n);
    for i in 0..n {
        let mut user = User::new(&format!("u{i:06}@contoso.com"), &format!("User {i}"));
        user.usage_location = Some("US".into());
        f.users.push(user);
    }
    f
}

/// The longest a page may take: 10 ms optimised; unoptimised builds are some 10-30x slower,
/// still far below the seconds a page cost when it rendered the whole tenant.
fn page_bound() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_millis(300)
    } else {
        Duration::from_millis(10)
    }
}

/// GETs `url`, returning the body and how long it took.
async fn timed(env: &Env, url: &str) -> (serde_json::Value, Duration) {
    let start = Instant::now();
    let r = env.get(url).await;
    let took = start.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    (r.body, took)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-sim-scale-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_delta_page_of_a_200000_user_tenant_costs_a_page_not_the_tenant() {
    let users = 200_000;
    let env = common::start_with(
        tenant_of(users),
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await;

    // The initial round: the first pages, and a page deep into the tenant.
    let (mut body, first) = timed(&env, "/users/delta()?$select=id,userPrincipalName").await;
    let mut slowest = first;
    for _ in 0..5 {
        assert_eq!(body["value"].as_array().unwrap().len(), 100);
        let next = body["@odata.nextLink"].as_str().unwrap().to_string();
        let (b, took) = timed(&env, &next).await;
        body = b;
        slowest = slowest.max(took);
    }

    // A later round after one change: only that user, as fast.
    let (latest, _) = timed(&env, "/users/delta()?$deltatoken=latest").await;
    let delta = latest["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(
        env.sim
            .update_user("u123456@contoso.com", |u| u.display_name = "Changed".into())
    );
    let (changed, took) = timed(&env, &delta).await;
    let value = changed["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "{changed}");
    assert_eq!(value[0]["displayName"], "Changed");
    slowest = slowest.max(took);

    println!(
        "delta at {users} users: first page {first:?}, slowest page {slowest:?} (bound {:?})",
        page_bound()
    );
    assert!(
        slowest <= page_bound(),
        "a delta page took {slowest:?} at {users} users (bound {:?})",
        page_bound()
    );
    env.sim.shutdown().await;
}

#[test]
fn fixtures_past_the_yaml_node_budget_load_from_yaml_and_json() {
    // 20,000 users make ~300,000 YAML nodes, past serde-saphyr's default budget of 250,000
    // that refused ~15,600 users; the JSON copy takes the JSON parser.
    let fixture = tenant_of(20_000);
    let dir = scratch("files");
    let yaml = dir.join("tenant.yaml");
    let json = dir.join("tenant.json");
    std::fs::write(&yaml, fixture.to_yaml().unwrap()).unwrap();
    std::fs::write(&json, fixture.to_json().unwrap()).unwrap();
    let from_yaml = Fixture::from_path(&yaml).unwrap();
    let from_json = Fixture::from_path(&json).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(from_yaml.users.len(), fixture.users.len());
    assert_eq!(from_yaml, fixture);
    assert_eq!(from_json, fixture);
}
