//! Security groups, members and group-based licensing.

use std::time::{Duration, Instant};

use o365_graph_sim::{Fixture, SimConfig, User};
use serde_json::{Value, json};

use crate::common;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

fn scaled() -> SimConfig {
    SimConfig {
        throttling: false,
        // Licence processing takes 3 s; at time scale 10, 0.3 s.
        time_scale: 10.0,
        ..SimConfig::default()
    }
}

fn group_body(name: &str) -> Value {
    json!({"displayName": name, "mailEnabled": false, "mailNickname": name.replace(' ', ""),
           "securityEnabled": true})
}

async fn create_group(env: &common::Env, name: &str) -> String {
    let r = env.call("POST", "/groups", Some(group_body(name))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["securityEnabled"], true);
    r.body["id"].as_str().unwrap().to_string()
}

fn bind(env: &common::Env, ids: &[String]) -> Value {
    let urls: Vec<String> = ids.iter().map(|id| env.object_ref(id)).collect();
    json!({ "members@odata.bind": urls })
}

/// Inserts `n` users with a usage location; returns their ids in order.
fn add_users(env: &common::Env, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut u = User::new(
                &format!("member{i:02}@contoso.com"),
                &format!("Member {i:02}"),
            );
            u.usage_location = Some("US".into());
            env.sim.insert_user(u).unwrap().id
        })
        .collect()
}

/// Polls (no fixed sleep) until the group's licence processing has run.
async fn wait_processed(env: &common::Env, gid: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = env
            .get(&format!("/groups/{gid}?$select=licenseProcessingState"))
            .await;
        if r.body["licenseProcessingState"]["state"] == "ProcessingComplete" {
            return;
        }
        assert!(Instant::now() < deadline, "processing never completed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn states(r: &common::Resp) -> Vec<Value> {
    r.body["licenseAssignmentStates"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_group_of_45_licensed_beyond_its_seats_gets_active_states_and_count_violations() {
    let env = common::start_with(Fixture::demo(), scaled()).await;
    let members = add_users(&env, 45);
    let gid = create_group(&env, "E3 users").await;

    // 21 references in one PATCH: the documented limit is 20.
    let r = env
        .call(
            "PATCH",
            &format!("/groups/{gid}"),
            Some(bind(&env, &members[..21])),
        )
        .await;
    assert_eq!(r.status, 400);
    // Three PATCHes: 20 + 20 + 5; each request is one write (the documented cost table has no
    // per-member charge).
    env.sim.reset_stats();
    for chunk in members.chunks(20) {
        let r = env
            .call("PATCH", &format!("/groups/{gid}"), Some(bind(&env, chunk)))
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(env.sim.stats().writes, 3);
    let r = env.get(&format!("/groups/{gid}/members")).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 45);
    assert_eq!(r.header("x-ms-resource-unit"), Some("3"));

    let seats = env
        .sim
        .skus()
        .iter()
        .find(|s| s.sku_id == E3)
        .unwrap()
        .enabled;
    let before = env.sim.consumed_units(E3).unwrap();
    let available = usize::try_from(seats - before).unwrap();
    assert!(available < 45);

    let r = env
        .call(
            "POST",
            &format!("/groups/{gid}/assignLicense"),
            Some(
                json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
            ),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // Asynchronous: nothing assigned yet.
    assert_eq!(env.sim.consumed_units(E3), Some(before));
    wait_processed(&env, &gid).await;

    let mut active = 0;
    let mut violations = Vec::new();
    for (i, id) in members.iter().enumerate() {
        let r = env
            .get(&format!(
                "/users/{id}?$select=assignedLicenses,licenseAssignmentStates"
            ))
            .await;
        let s = states(&r);
        assert_eq!(s.len(), 1, "{}", r.body);
        assert_eq!(s[0]["assignedByGroup"], gid.as_str());
        assert_eq!(s[0]["skuId"], E3);
        match s[0]["state"].as_str().unwrap() {
            "Active" => {
                active += 1;
                assert_eq!(s[0]["error"], "None");
                assert_eq!(r.body["assignedLicenses"][0]["skuId"], E3);
            }
            "Error" => {
                assert_eq!(s[0]["error"], "CountViolation");
                assert_eq!(r.body["assignedLicenses"], json!([]));
                violations.push(i);
            }
            other => panic!("unexpected state {other}"),
        }
    }
    assert_eq!(active, available);
    // The members beyond the seats, in the order they were added.
    assert_eq!(violations, (available..45).collect::<Vec<_>>());
    assert_eq!(env.sim.consumed_units(E3), Some(seats));
    let skus = env.get("/subscribedSkus").await;
    let e3 = skus.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == E3)
        .unwrap()
        .clone();
    assert_eq!(e3["consumedUnits"], seats);

    let g = env
        .get(&format!(
            "/groups/{gid}?$select=id,hasMembersWithLicenseErrors,assignedLicenses"
        ))
        .await;
    assert_eq!(g.body["hasMembersWithLicenseErrors"], true);
    assert_eq!(g.body["assignedLicenses"][0]["skuId"], E3);
    let errs = env
        .get(&format!("/groups/{gid}/membersWithLicenseErrors"))
        .await;
    assert_eq!(errs.body["value"].as_array().unwrap().len(), 45 - available);
    // An inherited licence cannot be removed from the user directly.
    let r = env
        .call(
            "POST",
            &format!("/users/{}/assignLicense", members[0]),
            Some(json!({"addLicenses": [], "removeLicenses": [E3]})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn groups_are_created_listed_filtered_fetched_and_deleted() {
    let env = common::start_with(Fixture::demo(), scaled()).await;
    let a = create_group(&env, "Sales").await;
    let b = create_group(&env, "Support").await;
    let r = env.get("/groups").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert!(r.body["value"][0].get("assignedLicenses").is_none());
    let r = env.get("/groups?$filter=displayName eq 'Support'").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["id"], b.as_str());
    let r = env
        .get("/groups?$filter=startsWith(displayName,'Sa')")
        .await;
    assert_eq!(r.body["value"][0]["id"], a.as_str());
    let r = env.get("/groups?$top=1").await;
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    assert_eq!(
        env.get(&next).await.body["value"].as_array().unwrap().len(),
        1
    );
    let r = env.get(&format!("/groups/{a}")).await;
    assert_eq!(r.body["displayName"], "Sales");
    assert_eq!(r.body["mailEnabled"], false);

    // A group with licences cannot be deleted; without, it can (permanently).
    let r = env
        .call(
            "POST",
            &format!("/groups/{a}/assignLicense"),
            Some(
                json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
            ),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        env.call("DELETE", &format!("/groups/{a}"), None)
            .await
            .status,
        400
    );
    assert_eq!(
        env.call("DELETE", &format!("/groups/{b}"), None)
            .await
            .status,
        204
    );
    assert_eq!(env.get(&format!("/groups/{b}")).await.status, 404);
    // Only security groups.
    let mut m365 = group_body("Team");
    m365["mailEnabled"] = json!(true);
    m365["groupTypes"] = json!(["Unified"]);
    assert_eq!(env.call("POST", "/groups", Some(m365)).await.status, 400);
}

#[tokio::test]
async fn members_are_added_and_removed_by_ref_and_licences_follow_them() {
    let env = common::start_with(Fixture::demo(), scaled()).await;
    let gid = create_group(&env, "Licensed").await;
    let users = add_users(&env, 2);
    let r = env
        .call(
            "POST",
            &format!("/groups/{gid}/assignLicense"),
            Some(
                json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
            ),
        )
        .await;
    assert_eq!(r.status, 202);
    for u in &users {
        let r = env
            .call(
                "POST",
                &format!("/groups/{gid}/members/$ref"),
                Some(json!({"@odata.id": env.object_ref(u)})),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let r = env
        .call(
            "POST",
            &format!("/groups/{gid}/members/$ref"),
            Some(json!({"@odata.id": env.object_ref(&users[0])})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    wait_processed(&env, &gid).await;
    assert_eq!(
        env.sim.user(&users[1]).unwrap().group_licenses[0].group_id,
        gid
    );
    let r = env
        .call(
            "DELETE",
            &format!("/groups/{gid}/members/{}/$ref", users[1]),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    wait_processed(&env, &gid).await;
    assert!(env.sim.user(&users[1]).unwrap().group_licenses.is_empty());
    assert_eq!(env.sim.user(&users[0]).unwrap().group_licenses.len(), 1);
    let r = env
        .call(
            "DELETE",
            &format!("/groups/{gid}/members/{}/$ref", users[1]),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

const RULES_FIXTURE: &str = r#"
tenant: {id: 33333333-3333-3333-3333-333333333333, displayName: Rules, initialDomain: rules.onmicrosoft.com}
domains:
  - {id: rules.onmicrosoft.com, isDefault: true, isInitial: true}
users:
  - {userPrincipalName: holder@rules.onmicrosoft.com, displayName: Holder, usageLocation: US,
     licenses: [{sku: BASIC}]}
  - {userPrincipalName: plain@rules.onmicrosoft.com, displayName: Plain, usageLocation: US}
  - {userPrincipalName: far@rules.onmicrosoft.com, displayName: Far, usageLocation: CN}
  - {userPrincipalName: nowhere@rules.onmicrosoft.com, displayName: Nowhere, usageLocation: KP}
skus:
  - skuId: 11111111-0000-0000-0000-000000000001
    skuPartNumber: BASIC
    enabled: 10
    servicePlans: [{servicePlanId: 21111111-0000-0000-0000-000000000001, servicePlanName: B1}]
  - skuId: 11111111-0000-0000-0000-000000000002
    skuPartNumber: PREMIUM
    enabled: 10
    mutuallyExclusiveWith: [BASIC]
    servicePlans:
      - {servicePlanId: 21111111-0000-0000-0000-000000000002, servicePlanName: P1, prohibitedUsageLocations: [CN, KP]}
      - {servicePlanId: 21111111-0000-0000-0000-000000000003, servicePlanName: P2, prohibitedUsageLocations: [KP]}
  - skuId: 11111111-0000-0000-0000-000000000004
    skuPartNumber: ADDON
    enabled: 10
    dependsOn: [BASIC]
    servicePlans: [{servicePlanId: 21111111-0000-0000-0000-000000000004, servicePlanName: A1}]
groups:
  - displayName: Premium
    members: [holder@rules.onmicrosoft.com, plain@rules.onmicrosoft.com, far@rules.onmicrosoft.com, nowhere@rules.onmicrosoft.com]
    licenses: [{sku: PREMIUM}, {sku: ADDON}]
apps:
  - {clientId: 22222222-2222-2222-2222-222222222222, clientSecrets: [demo-client-secret]}
"#;

#[tokio::test]
async fn processing_reports_exclusive_dependency_and_usage_location_violations() {
    let fixture = Fixture::from_yaml(RULES_FIXTURE).unwrap();
    let env = common::start_with(fixture, scaled()).await;
    let state = |upn: &str, sku: &str| {
        let u = env.sim.user(upn).unwrap();
        let l = u
            .group_licenses
            .iter()
            .find(|l| l.sku == sku)
            .unwrap()
            .clone();
        (
            l.state.unwrap_or_else(|| "Active".into()),
            l.error.unwrap_or_else(|| "None".into()),
        )
    };
    let premium = "11111111-0000-0000-0000-000000000002";
    let addon = "11111111-0000-0000-0000-000000000004";
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        state("holder@rules.onmicrosoft.com", premium),
        pair("Error", "MutuallyExclusiveViolation")
    );
    assert_eq!(
        state("holder@rules.onmicrosoft.com", addon),
        pair("Active", "None")
    );
    assert_eq!(
        state("plain@rules.onmicrosoft.com", addon),
        pair("Error", "DependencyViolation")
    );
    assert_eq!(
        state("plain@rules.onmicrosoft.com", premium),
        pair("Active", "None")
    );
    assert_eq!(
        state("far@rules.onmicrosoft.com", premium),
        pair("ActiveWithError", "ProhibitedInUsageLocationViolation")
    );
    assert_eq!(
        state("nowhere@rules.onmicrosoft.com", premium),
        pair("Error", "ProhibitedInUsageLocationViolation")
    );
    // Seats: PREMIUM is held by plain and far (ActiveWithError holds a seat).
    assert_eq!(env.sim.consumed_units("PREMIUM"), Some(2));
    let gid = env.sim.groups()[0].id.clone();
    let r = env
        .get(&format!(
            "/groups/{gid}?$select=hasMembersWithLicenseErrors"
        ))
        .await;
    assert_eq!(r.body["hasMembersWithLicenseErrors"], true);
}
