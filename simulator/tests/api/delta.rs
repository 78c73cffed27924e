use std::time::Duration;

use o365_graph_sim::{Fixture, SimConfig, User};
use serde_json::Value;

use crate::common::{self, Env};

/// Follows nextLinks to the deltaLink; returns all items and the deltaLink.
async fn round(env: &Env, first: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut url = first.to_string();
    loop {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = r.body["@odata.nextLink"].as_str() {
            assert!(next.contains("$skiptoken="));
            url = next.to_string();
        } else {
            let delta = r.body["@odata.deltaLink"].as_str().unwrap();
            assert!(delta.contains("$deltatoken="));
            return (items, delta.to_string());
        }
    }
}

#[tokio::test]
async fn initial_round_pages_through_all_users_then_gives_a_delta_link() {
    let env = common::start().await;
    for i in 0..120 {
        env.sim
            .insert_user(User::new(&format!("d{i:03}@contoso.com"), "D"))
            .unwrap();
    }
    let (items, _) = round(&env, "/users/delta()").await;
    assert_eq!(items.len(), 124);
}

#[tokio::test]
async fn later_rounds_return_only_changed_users() {
    let env = common::start().await;
    let (_, delta) = round(&env, "/users/delta").await;
    let (items, delta) = round(&env, &delta).await;
    assert!(items.is_empty());
    env.sim.update_user("lee.gu@contoso.com", |u| {
        u.display_name = "Lee Gu (drift)".into()
    });
    let (items, _) = round(&env, &delta).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["displayName"], "Lee Gu (drift)");
}

#[tokio::test]
async fn soft_deleted_users_are_removed_changed_and_hard_deleted_ones_deleted() {
    let env = common::start().await;
    let (_, delta) = round(&env, "/users/delta").await;
    let lee = env.sim.user("lee.gu@contoso.com").unwrap().id;
    let megan = env.sim.user("megan.bowen@contoso.com").unwrap().id;
    assert_eq!(
        env.call("DELETE", "/users/lee.gu@contoso.com", None)
            .await
            .status,
        204
    );
    assert!(env.sim.remove_user("megan.bowen@contoso.com"));
    let (items, _) = round(&env, &delta).await;
    let reason = |id: &str| {
        items
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| x["@removed"]["reason"].clone())
    };
    assert_eq!(reason(&lee).unwrap(), "changed");
    assert_eq!(reason(&megan).unwrap(), "deleted");
}

#[tokio::test]
async fn select_limits_which_changes_make_a_user_appear() {
    let env = common::start().await;
    let (first, delta) = round(&env, "/users/delta?$select=displayName,accountEnabled").await;
    assert_eq!(first[0].as_object().unwrap().len(), 3);
    env.sim.update_user("lee.gu@contoso.com", |u| {
        u.usage_location = Some("NL".into())
    });
    let (items, delta) = round(&env, &delta).await;
    assert!(items.is_empty(), "{items:?}");
    env.sim
        .update_user("lee.gu@contoso.com", |u| u.account_enabled = true);
    let (items, _) = round(&env, &delta).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["accountEnabled"], true);
}

#[tokio::test]
async fn deltatoken_latest_returns_only_a_delta_link() {
    let env = common::start().await;
    let r = env.get("/users/delta?$deltatoken=latest").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 0);
    let delta = r.body["@odata.deltaLink"].as_str().unwrap().to_string();
    env.sim
        .update_user("lee.gu@contoso.com", |u| u.display_name = "X".into());
    let (items, _) = round(&env, &delta).await;
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn expired_or_unknown_tokens_are_410_with_a_fresh_start_location() {
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            throttling: false,
            delta_token_lifetime: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .await;
    let r = env.get("/users/delta?$select=displayName").await;
    let delta = r.body["@odata.deltaLink"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = env.get(&delta).await;
    assert_eq!(r.status, 410);
    let location = r.header("location").unwrap();
    assert!(location.contains("/v1.0/users/delta?"));
    assert!(location.contains("$select=displayName"));
    let r = env.get("/users/delta?$deltatoken=garbage").await;
    assert_eq!(r.status, 410);
    let r = env.get(location).await;
    assert_eq!(r.status, 200);
}
