//! A user's manager (`manager/$ref`, `GET manager`, `manager@delta`) and session revocation
//! (`signInSessionsValidFromDateTime`).

use o365_graph_sim::{Fixture, SimConfig, User};
use serde_json::{Value, json};

use crate::common::{self, Env};

const ADELE: &str = "adele.vance@contoso.com";
const MEGAN: &str = "megan.bowen@contoso.com";
const LEE: &str = "lee.gu@contoso.com";

fn id(env: &Env, upn: &str) -> String {
    env.sim.user(upn).unwrap().id
}

async fn set_manager(env: &Env, user: &str, manager: &str) -> common::Resp {
    let body = json!({ "@odata.id": format!("{}/v1.0/users/{manager}", env.sim.graph_base_url()) });
    env.call("PUT", &format!("/users/{user}/manager/$ref"), Some(body))
        .await
}

/// Follows nextLinks to the deltaLink; returns all items and the deltaLink.
async fn round(env: &Env, first: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut url = first.to_string();
    loop {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return (items, r.body["@odata.deltaLink"].as_str().unwrap().into()),
        }
    }
}

fn entry<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["id"] == id)
}

#[tokio::test]
async fn a_manager_is_assigned_by_reference_read_back_and_removed() {
    let env = common::start().await;
    let (adele, megan) = (id(&env, ADELE), id(&env, MEGAN));
    let r = set_manager(&env, &adele, &megan).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        env.sim.user(ADELE).unwrap().manager.as_deref(),
        Some(megan.as_str())
    );

    let r = env.get(&format!("/users/{ADELE}/manager")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], megan.as_str());
    assert_eq!(r.body["@odata.type"], "#microsoft.graph.user");
    assert_eq!(r.body["userPrincipalName"], MEGAN);
    let r = env.get(&format!("/users/{adele}/manager/$ref")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["@odata.id"], env.object_ref(&megan).as_str());

    let r = env
        .call("DELETE", &format!("/users/{adele}/manager/$ref"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(env.sim.user(ADELE).unwrap().manager, None);
    let r = env.get(&format!("/users/{adele}/manager")).await;
    assert_eq!(r.status, 404);
    let r = env
        .call("DELETE", &format!("/users/{adele}/manager/$ref"), None)
        .await;
    assert_eq!(r.status, 404, "no manager left to remove");
}

#[tokio::test]
async fn a_bad_manager_reference_is_refused() {
    let env = common::start().await;
    let adele = id(&env, ADELE);
    // Not a user of the tenant.
    let r = set_manager(&env, &adele, "00000000-0000-0000-0000-000000000001").await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The user itself.
    let r = set_manager(&env, &adele, &adele).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A reference on another cloud's Graph endpoint.
    let megan = id(&env, MEGAN);
    let body = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{megan}") });
    let r = env
        .call("PUT", &format!("/users/{adele}/manager/$ref"), Some(body))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.message().contains("graph.microsoft.com"),
        "{}",
        r.message()
    );
    // No body.
    let r = env
        .call(
            "PUT",
            &format!("/users/{adele}/manager/$ref"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(env.sim.user(ADELE).unwrap().manager, None);
}

#[tokio::test]
async fn delta_with_select_manager_reports_each_users_manager_and_its_changes() {
    let env = common::start().await;
    let (adele, megan, lee) = (id(&env, ADELE), id(&env, MEGAN), id(&env, LEE));
    assert_eq!(set_manager(&env, &adele, &megan).await.status, 204);
    let first = "/users/delta?$select=id,displayName,manager";
    let (items, delta) = round(&env, first).await;
    let a = entry(&items, &adele).unwrap();
    assert_eq!(
        a["manager@delta"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": megan}])
    );
    assert!(a.get("manager").is_none(), "{a}");
    assert!(entry(&items, &lee).unwrap().get("manager@delta").is_none());

    // A new manager: the user is in the next round with it.
    assert_eq!(set_manager(&env, &adele, &lee).await.status, 204);
    let (items, delta) = round(&env, &delta).await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["manager@delta"][0]["id"], lee.as_str());

    // The manager removed: the round says so with @removed.
    let r = env
        .call("DELETE", &format!("/users/{adele}/manager/$ref"), None)
        .await;
    assert_eq!(r.status, 204);
    let (items, delta) = round(&env, &delta).await;
    assert_eq!(
        items[0]["manager@delta"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": lee, "@removed": {"reason": "deleted"}}])
    );
    let (items, _) = round(&env, &delta).await;
    assert!(items.is_empty(), "{items:#?}");

    // Without $select=manager, no manager@delta.
    assert_eq!(set_manager(&env, &adele, &lee).await.status, 204);
    let (items, _) = round(&env, "/users/delta?$select=id,displayName").await;
    assert!(items.iter().all(|i| i.get("manager@delta").is_none()));
    // `manager` is a relationship: a plain user read cannot select it.
    assert_eq!(env.get("/users?$select=manager").await.status, 400);
}

#[tokio::test]
async fn deleting_a_manager_removes_the_reference_from_its_reports() {
    let env = common::start().await;
    let (adele, megan) = (id(&env, ADELE), id(&env, MEGAN));
    assert_eq!(set_manager(&env, &adele, &megan).await.status, 204);
    let (_, delta) = round(&env, "/users/delta?$select=id,manager").await;
    assert_eq!(
        env.call("DELETE", &format!("/users/{megan}"), None)
            .await
            .status,
        204
    );
    assert_eq!(env.sim.user(ADELE).unwrap().manager, None);
    assert_eq!(
        env.get(&format!("/users/{adele}/manager")).await.status,
        404
    );
    let (items, _) = round(&env, &delta).await;
    let a = entry(&items, &adele).unwrap();
    assert_eq!(a["manager@delta"][0]["@removed"]["reason"], "deleted");
    assert!(entry(&items, &megan).unwrap().get("@removed").is_some());
}

#[tokio::test]
async fn a_fixture_names_managers_by_upn() {
    let mut fixture = Fixture::demo();
    let lee = fixture
        .users
        .iter_mut()
        .find(|u| u.user_principal_name == LEE)
        .unwrap();
    lee.manager = Some(ADELE.into());
    let env = common::start_with(
        fixture,
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await;
    let adele = id(&env, ADELE);
    assert_eq!(
        env.sim.user(LEE).unwrap().manager.as_deref(),
        Some(adele.as_str())
    );
    let mut bad = Fixture::demo();
    bad.users[1].manager = Some("nobody@contoso.com".into());
    assert!(
        o365_graph_sim::Simulator::start(bad, SimConfig::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn revoking_sessions_moves_sign_in_sessions_valid_from_and_a_new_user_starts_there() {
    let env = common::start().await;
    let select = "?$select=id,signInSessionsValidFromDateTime";
    let r = env.get(&format!("/users/{ADELE}{select}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["signInSessionsValidFromDateTime"], Value::Null);
    let r = env
        .call(
            "POST",
            &format!("/users/{ADELE}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = env.get(&format!("/users/{ADELE}{select}")).await;
    let revoked = r.body["signInSessionsValidFromDateTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(revoked.ends_with('Z'), "{revoked}");

    let new = User::new("new.joiner@contoso.com", "New Joiner");
    let r = env
        .call(
            "POST",
            "/users",
            Some(json!({
                "accountEnabled": true, "displayName": "New Joiner", "mailNickname": "newjoiner",
                "userPrincipalName": new.user_principal_name,
                "passwordProfile": {"password": "Pw-1!long-enough"},
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = env.sim.user(&new.user_principal_name).unwrap();
    assert_eq!(
        created.extra["signInSessionsValidFromDateTime"],
        json!(created.created_date_time)
    );
}

#[tokio::test]
async fn deleting_a_former_manager_leaves_the_current_one() {
    let env = common::start().await;
    let (adele, megan, lee) = (id(&env, ADELE), id(&env, MEGAN), id(&env, LEE));
    assert_eq!(set_manager(&env, &adele, &megan).await.status, 204);
    assert_eq!(set_manager(&env, &adele, &lee).await.status, 204);
    assert_eq!(set_manager(&env, &megan, &lee).await.status, 204);
    assert_eq!(
        env.call("DELETE", &format!("/users/{megan}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        env.sim.user(ADELE).unwrap().manager.as_deref(),
        Some(lee.as_str())
    );
    // Lee's reports are Adele (and Megan, deleted): deleting Lee clears Adele's manager.
    assert_eq!(
        env.call("DELETE", &format!("/users/{lee}"), None)
            .await
            .status,
        204
    );
    assert_eq!(env.sim.user(ADELE).unwrap().manager, None);
}
