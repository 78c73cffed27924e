use std::time::Duration;

use o365_graph_sim::{Fixture, SimConfig};
use serde_json::{Value, json};

use crate::common;

fn throttled_config(time_scale: f64) -> SimConfig {
    SimConfig {
        throttling: true,
        time_scale,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn successful_responses_carry_their_resource_unit_cost() {
    let env = common::start_with(Fixture::demo(), throttled_config(1.0)).await;
    for (path, cost) in [
        ("/users", "2"),
        ("/users?$select=id", "1"),
        ("/users?$top=5", "1"),
        ("/users?$top=5&$select=id", "1"),
        ("/subscribedSkus", "3"),
        ("/subscribedSkus?$select=skuId", "2"),
        ("/users/adele.vance@contoso.com/licenseDetails", "2"),
        ("/domains", "1"),
    ] {
        let r = env.get(path).await;
        assert_eq!(r.header("x-ms-resource-unit"), Some(cost), "{path}");
    }
    let r = env
        .call(
            "PATCH",
            "/users/lee.gu@contoso.com",
            Some(json!({"jobTitle": "x"})),
        )
        .await;
    assert_eq!(r.header("x-ms-resource-unit"), Some("1"));
    assert_eq!(env.sim.stats().writes, 1);
}

#[tokio::test]
async fn exhausting_the_resource_unit_budget_gives_429_with_throttle_headers() {
    // A very slow refill (time scale 0.001) keeps the bucket empty once drained.
    let env = common::start_with(Fixture::demo(), throttled_config(0.001)).await;
    // 3,500 RU for a small tenant; GET /users costs 2 → 1,750 requests, 20 per batch.
    let requests: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let mut throttled = None;
    for _ in 0..100 {
        let r = env
            .call("POST", "/$batch", Some(json!({"requests": requests})))
            .await;
        assert_eq!(r.status, 200);
        if let Some(t) = r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"] == 429)
        {
            throttled = Some(t.clone());
            break;
        }
    }
    let t = throttled.expect("the budget should run out");
    assert_eq!(t["body"]["error"]["code"], "TooManyRequests");
    // Whole seconds, rounded up, also under a time scale (clients parse an integer).
    let retry_after = t["headers"]["Retry-After"].as_str().unwrap();
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "Retry-After {retry_after}"
    );
    assert_eq!(
        t["headers"]["x-ms-throttle-information"],
        "ResourceUnitLimitExceeded"
    );
    assert_eq!(
        t["headers"]["x-ms-throttle-scope"],
        format!(
            "Tenant_Application/ReadWrite/{}/{}",
            common::CLIENT_ID,
            env.sim.tenant_id()
        )
    );
    // Outside a batch: HTTP 429 and the same headers.
    let r = env.get("/users").await;
    assert_eq!(r.status, 429);
    assert!(
        r.header("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1))
    );
    assert_eq!(r.body["error"]["innerError"]["status"], "429");
    assert!(env.sim.stats().throttled >= 2);
}

#[tokio::test]
async fn throttle_floor_follows_the_write_budget_and_the_time_scale() {
    let env = common::start_with(Fixture::demo(), throttled_config(1.0)).await;
    // 20,000 writes: 3,000 burst, then 20/s → 850 s.
    assert_eq!(env.sim.throttle_floor(20_000, 0), Duration::from_secs(850));
    assert_eq!(env.sim.throttle_floor(3_000, 0), Duration::ZERO);
    let scaled = common::start_with(Fixture::demo(), throttled_config(10.0)).await;
    assert_eq!(
        scaled.sim.throttle_floor(20_000, 0),
        Duration::from_secs(85)
    );
    let off = common::start().await;
    assert_eq!(off.sim.throttle_floor(20_000, 0), Duration::ZERO);
}
