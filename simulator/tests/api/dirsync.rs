//! Users synced from on-premises Active Directory (Entra Connect / DirSync): their mastered
//! properties, and their existence, are AD's; licences and usage location are the cloud's.

use o365_graph_sim::{Fixture, SimConfig, Simulator, User};
use serde_json::{Value, json};

use crate::common::{self, Env};

const SYNCED: &str = "nestor.wilke@contoso.com";
const MASTERED_MESSAGE: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";
const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

fn synced_user() -> User {
    let mut u = User::new(SYNCED, "Nestor Wilke (AD)");
    u.given_name = Some("Nestor".into());
    u.surname = Some("Wilke".into());
    u.on_premises_immutable_id = Some("TmVzdG9yV2lsa2UtQUQ=".into());
    u.on_premises_sync_enabled = true;
    u.on_premises_last_sync_date_time = Some("2026-11-30T23:40:00Z".into());
    u.on_premises_domain_name = Some("corp.contoso.com".into());
    u.on_premises_sam_account_name = Some("nwilke".into());
    u.usage_location = Some("US".into());
    u
}

/// The demo tenant plus one user synced from AD.
async fn start() -> Env {
    let mut fixture = Fixture::demo();
    fixture.users.push(synced_user());
    common::start_with(
        fixture,
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    )
    .await
}

/// PATCHes the synced user and checks Entra's refusal, that nothing changed and that the
/// refusal was counted.
async fn assert_patch_refused(body: Value) {
    let env = start().await;
    let before = env.sim.user(SYNCED).unwrap();
    let r = env
        .call("PATCH", &format!("/users/{SYNCED}"), Some(body.clone()))
        .await;
    assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(r.message(), MASTERED_MESSAGE);
    assert_eq!(
        env.sim.user(SYNCED).unwrap(),
        before,
        "{body} changed the user"
    );
    assert_eq!(env.sim.stats().refused_on_premises_writes, 1);
}

#[tokio::test]
async fn a_synced_user_refuses_a_display_name_write() {
    assert_patch_refused(json!({"displayName": "Nestor W."})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_given_name_write() {
    assert_patch_refused(json!({"givenName": "Nes"})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_surname_write() {
    assert_patch_refused(json!({"surname": "Wilkes"})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_to_be_disabled_from_the_cloud() {
    assert_patch_refused(json!({"accountEnabled": false})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_new_immutable_id() {
    assert_patch_refused(json!({"onPremisesImmutableId": "bmV3LWFuY2hvcg=="})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_password_write() {
    assert_patch_refused(json!({"passwordProfile": {"password": "N3w-Passw0rd!"}})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_rename() {
    assert_patch_refused(json!({"userPrincipalName": "nestor@contoso.com"})).await;
}

#[tokio::test]
async fn a_synced_user_refuses_a_mixed_write_even_when_usage_location_is_in_it() {
    assert_patch_refused(json!({"usageLocation": "GB", "jobTitle": "CFO"})).await;
}

#[tokio::test]
async fn a_synced_user_cannot_be_deleted_from_the_cloud() {
    let env = start().await;
    let r = env.call("DELETE", &format!("/users/{SYNCED}"), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(r.message(), MASTERED_MESSAGE);
    assert!(env.sim.user(SYNCED).is_some());
    assert!(env.sim.deleted_users().is_empty());
    assert_eq!(env.sim.stats().refused_on_premises_writes, 1);
}

#[tokio::test]
async fn a_synced_user_accepts_a_usage_location_write() {
    let env = start().await;
    let r = env
        .call(
            "PATCH",
            &format!("/users/{SYNCED}"),
            Some(json!({"usageLocation": "GB"})),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        env.sim.user(SYNCED).unwrap().usage_location.as_deref(),
        Some("GB")
    );
    assert_eq!(env.sim.stats().refused_on_premises_writes, 0);
}

#[tokio::test]
async fn a_synced_user_accepts_licence_assignment_and_removal() {
    let env = start().await;
    let path = format!("/users/{SYNCED}/assignLicense");
    let r = env
        .call(
            "POST",
            &path,
            Some(
                json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(env.sim.user(SYNCED).unwrap().licenses[0].sku, E3);
    let r = env
        .call(
            "POST",
            &path,
            Some(json!({"addLicenses": [], "removeLicenses": [E3]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(env.sim.user(SYNCED).unwrap().licenses.is_empty());
    assert_eq!(env.sim.stats().refused_on_premises_writes, 0);
}

#[tokio::test]
async fn a_cloud_only_user_still_accepts_the_writes_a_synced_one_refuses() {
    let env = start().await;
    let r = env
        .call(
            "PATCH",
            "/users/adele.vance@contoso.com",
            Some(json!({"displayName": "Adele V.", "accountEnabled": false})),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = env.call("DELETE", "/users/lee.gu@contoso.com", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(env.sim.stats().refused_on_premises_writes, 0);
}

#[tokio::test]
async fn the_refusal_is_the_same_inside_a_batch() {
    let env = start().await;
    let r = env
        .call(
            "POST",
            "/$batch",
            Some(json!({"requests": [
                {"id": "1", "method": "PATCH", "url": format!("/users/{SYNCED}"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"displayName": "X"}},
                {"id": "2", "method": "PATCH", "url": format!("/users/{SYNCED}"),
                 "headers": {"Content-Type": "application/json"},
                 "body": {"usageLocation": "DE"}}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200);
    let responses = r.body["responses"].as_array().unwrap();
    let by_id = |id: &str| responses.iter().find(|x| x["id"] == id).unwrap().clone();
    assert_eq!(by_id("1")["status"], 400);
    assert_eq!(by_id("1")["body"]["error"]["message"], MASTERED_MESSAGE);
    assert_eq!(by_id("2")["status"], 204);
    let user = env.sim.user(SYNCED).unwrap();
    assert_eq!(user.display_name, "Nestor Wilke (AD)");
    assert_eq!(user.usage_location.as_deref(), Some("DE"));
}

#[tokio::test]
async fn synced_users_show_their_on_premises_properties_on_select() {
    let env = start().await;
    let select = "id,onPremisesSyncEnabled,onPremisesLastSyncDateTime,onPremisesDomainName,onPremisesSamAccountName,onPremisesImmutableId";
    let r = env.get(&format!("/users/{SYNCED}?$select={select}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["onPremisesSyncEnabled"], true);
    assert_eq!(r.body["onPremisesLastSyncDateTime"], "2026-11-30T23:40:00Z");
    assert_eq!(r.body["onPremisesDomainName"], "corp.contoso.com");
    assert_eq!(r.body["onPremisesSamAccountName"], "nwilke");
    assert_eq!(r.body["onPremisesImmutableId"], "TmVzdG9yV2lsa2UtQUQ=");
    let cloud = env
        .get(&format!("/users/adele.vance@contoso.com?$select={select}"))
        .await;
    assert_eq!(cloud.body["onPremisesSyncEnabled"], Value::Null);
    assert_eq!(cloud.body["onPremisesLastSyncDateTime"], Value::Null);
    // Filterable like any user property: the synced users of the tenant.
    let r = env
        .get("/users?$filter=onPremisesSyncEnabled eq true&$select=id,userPrincipalName")
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upns: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str())
        .collect();
    assert_eq!(upns, [SYNCED]);
}

#[tokio::test]
async fn the_organization_reports_directory_synchronization() {
    let env = start().await;
    let org = env.get("/organization").await;
    assert_eq!(org.status, 200);
    assert_eq!(org.body["value"][0]["onPremisesSyncEnabled"], true);
    assert_eq!(
        org.body["value"][0]["onPremisesLastSyncDateTime"],
        "2026-11-30T23:40:00Z"
    );
    // A tenant that never synced says null, as Graph does.
    let cloud = common::start().await;
    let org = cloud.get("/organization").await;
    assert_eq!(org.body["value"][0]["onPremisesSyncEnabled"], Value::Null);
    assert_eq!(
        org.body["value"][0]["onPremisesLastSyncDateTime"],
        Value::Null
    );
}

#[tokio::test]
async fn the_on_premises_properties_are_read_only() {
    let env = start().await;
    let r = env
        .call(
            "PATCH",
            "/users/adele.vance@contoso.com",
            Some(json!({"onPremisesSyncEnabled": true})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        env.sim
            .user("adele.vance@contoso.com")
            .is_some_and(|u| !u.on_premises_sync_enabled)
    );
}

#[tokio::test]
async fn a_fixture_synced_user_round_trips_and_needs_its_source_anchor() {
    let mut fixture = Fixture::demo();
    fixture.users.push(synced_user());
    let yaml = fixture.to_yaml().unwrap();
    assert!(yaml.contains("onPremisesSyncEnabled: true"), "{yaml}");
    let env = start().await;
    let exported = env.sim.export_fixture();
    let back = Fixture::from_yaml(&exported.to_yaml().unwrap()).unwrap();
    assert!(
        back.users
            .iter()
            .any(|u| u.user_principal_name == SYNCED && u.on_premises_sync_enabled)
    );
    let mut fixture = Fixture::demo();
    let mut user = synced_user();
    user.on_premises_immutable_id = None;
    fixture.users.push(user);
    let err = Simulator::start(fixture, SimConfig::default())
        .await
        .err()
        .expect("a synced user without an immutable id must be refused");
    assert!(err.to_string().contains("source anchor"), "{err}");
}
