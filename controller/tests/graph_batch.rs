//! `$batch` against the simulator: envelopes, dependencies, 429 storms, 5xx and resets, and the
//! rate limiter against the simulator's throttling model.

#[path = "graph_support.rs"]
mod support;

use std::time::Instant;

use o365_controller::graph::Secret;
use o365_controller::graph::{BatchItem, GraphConfig};
use o365_controller::model::{LicenseGrant, NewUser};
use o365_graph_sim::{FaultKind, FaultPlan, FaultRule, Fixture, SimConfig, User};
use support::*;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

fn new_user(i: usize) -> NewUser {
    NewUser {
        user_principal_name: format!("batch{i:03}@contoso.com"),
        display_name: format!("Batch {i}"),
        given_name: None,
        surname: None,
        mail_nickname: format!("batch{i:03}"),
        immutable_id: None,
        usage_location: Some("US".into()),
        account_enabled: true,
        attributes: Default::default(),
    }
}

fn creates(n: usize) -> Vec<BatchItem> {
    (0..n)
        .map(|i| BatchItem::create_user(&new_user(i), &Secret::new("Pw-1!long-enough")))
        .collect()
}

fn rule(fault: FaultKind, method: &str, path: &str) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path: Some(path.into()),
        regex: None,
        fault,
        probability: 1.0,
        status: None,
        latency_ms: None,
        from_seconds: 0.0,
        for_seconds: None,
        retry_after_seconds: None,
        max_hits: None,
    }
}

#[tokio::test]
async fn a_batch_of_45_writes_is_sent_as_three_envelopes_and_all_succeed() {
    let sim = demo().await;
    let c = client(&sim);
    let results = c.batch(creates(45)).await;
    assert_eq!(results.len(), 45);
    for (i, r) in results.iter().enumerate() {
        let r = r.as_ref().must("created");
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body["userPrincipalName"],
            format!("batch{i:03}@contoso.com"),
            "results come back in input order"
        );
    }
    assert_eq!(sim.stats().count("POST", "/$batch"), 3);
    assert_eq!(sim.users().len(), 49);
}

#[tokio::test]
async fn a_dependent_item_runs_after_its_dependency_and_fails_when_it_fails() {
    let sim = demo().await;
    let c = client(&sim);
    let grant = LicenseGrant {
        sku_id: E3.into(),
        disabled_plans: vec![],
    };
    let mut items = Vec::new();
    items
        .push(BatchItem::create_user(&new_user(1), &Secret::new("Pw-1!long-enough")).with_id("c1"));
    items.push(
        BatchItem::assign_license("batch001@contoso.com", std::slice::from_ref(&grant), &[])
            .depends_on("c1"),
    );
    // Adele exists already: the create fails, so her licence change must not run.
    let adele = NewUser {
        user_principal_name: "adele.vance@contoso.com".into(),
        ..new_user(2)
    };
    items.push(BatchItem::create_user(&adele, &Secret::new("Pw-1!long-enough")).with_id("c2"));
    items.push(
        BatchItem::assign_license("adele.vance@contoso.com", &[], &[E3.to_string()])
            .depends_on("c2"),
    );
    let results = c.batch(items).await;
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    let conflict = results[2].as_ref().must_fail("duplicate");
    assert!(conflict.is_conflict());
    let skipped = results[3].as_ref().must_fail("dependency failed");
    assert_eq!(skipped.category(), "dependency");
    assert_eq!(
        sim.consumed_units("ENTERPRISEPACK"),
        Some(2),
        "Adele keeps E3, batch001 got one"
    );
}

#[tokio::test]
async fn a_429_storm_converges_with_zero_failures_and_never_retries_before_retry_after() {
    let storm = FaultRule {
        for_seconds: Some(1.5),
        retry_after_seconds: Some(1),
        ..rule(FaultKind::Throttle, "POST", "/v1.0/users")
    };
    let sim = start(
        Fixture::demo(),
        SimConfig {
            faults: Some(FaultPlan {
                seed: 7,
                rules: vec![storm],
                replication_lag: None,
                token_expiry: None,
            }),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    let results = c.batch(creates(45)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stats = sim.stats();
    let throttled = stats.count_status("POST", "/users", 429);
    // Sent at ~0 s (429), retried at ~1 s (429, the storm lasts 1.5 s), then at ~2 s (201).
    // A client retrying before Retry-After would be refused many more times.
    assert!(throttled >= 45, "the storm hit: {throttled}");
    assert!(
        throttled <= 90,
        "retried only after Retry-After: {throttled}"
    );
    assert_eq!(stats.count_status("POST", "/users", 201), 45);
    assert_eq!(c.stats().throttled, throttled);
}

#[tokio::test]
async fn server_errors_and_connection_resets_converge_with_zero_failures() {
    let errors = FaultRule {
        probability: 0.3,
        status: Some(503),
        ..rule(FaultKind::Error, "POST", "/v1.0/users")
    };
    let resets = FaultRule {
        probability: 0.3,
        ..rule(FaultKind::Reset, "POST", "/v1.0/$batch")
    };
    let sim = start(
        Fixture::demo(),
        SimConfig {
            faults: Some(FaultPlan {
                seed: 42,
                rules: vec![errors, resets],
                replication_lag: None,
                token_expiry: None,
            }),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    let results = c.batch(creates(45)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(sim.stats().faults > 0);
    assert_eq!(sim.users().len(), 49, "no user lost, none duplicated");
}

#[tokio::test]
async fn the_rate_limiter_spends_the_burst_then_paces_writes_at_the_budget() {
    let scale = 20.0;
    let mut fixture = Fixture::demo();
    fixture.users.push(User::new("paced@contoso.com", "Paced"));
    let sim = start(
        fixture,
        SimConfig {
            throttling: true,
            time_scale: scale,
            ..SimConfig::default()
        },
    )
    .await;
    let mut config: GraphConfig = config(&sim, secret());
    config.limits = scaled(scale);
    let c = client_with(config);
    let writes = 5_000;
    let items = (0..writes)
        .map(|i| {
            BatchItem::patch(
                "/users/paced@contoso.com",
                serde_json::json!({"displayName": format!("Paced {i}")}),
            )
        })
        .collect();
    let started = Instant::now();
    let results = c.batch(items).await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0);
    let floor = sim.throttle_floor(writes, 0);
    let ratio = floor.as_secs_f64() / elapsed.as_secs_f64();
    let throttled = sim.stats().throttled;
    println!(
        "{{\"writes\":{writes},\"floor_s\":{:.3},\"elapsed_s\":{:.3},\"ratio\":{ratio:.3},\"throttled\":{throttled}}}",
        floor.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    assert!(
        elapsed >= floor.mul_f64(0.95),
        "faster than the budget allows?"
    );
    assert!(
        throttled <= 20,
        "the limiter kept inside the budget: {throttled} 429s"
    );
    assert!(ratio >= 0.5, "far below the floor: {ratio:.3}");
}
