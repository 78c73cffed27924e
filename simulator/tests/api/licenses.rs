use serde_json::json;

use crate::common;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";
const PBI: &str = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";

fn assign(sku: &str) -> serde_json::Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
}

#[tokio::test]
async fn assign_license_returns_200_with_the_user_and_consumes_a_seat() {
    let env = common::start().await;
    let before = env.sim.consumed_units("POWER_BI_STANDARD").unwrap();
    let r = env
        .call(
            "POST",
            "/users/admin@contoso.onmicrosoft.com/assignLicense",
            Some(assign(PBI)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["userPrincipalName"], "admin@contoso.onmicrosoft.com");
    assert_eq!(env.sim.consumed_units(PBI).unwrap(), before + 1);
    let skus = env.get("/subscribedSkus").await;
    let pbi = skus.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == PBI)
        .unwrap()
        .clone();
    assert_eq!(pbi["consumedUnits"], before + 1);
    assert_eq!(pbi["prepaidUnits"]["enabled"], 100);
}

#[tokio::test]
async fn both_license_arrays_are_required() {
    let env = common::start().await;
    let r = env
        .call(
            "POST",
            "/users/adele.vance@contoso.com/assignLicense",
            Some(json!({"addLicenses": []})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_user_without_usage_location_cannot_be_licensed() {
    let env = common::start().await;
    let r = env
        .call(
            "POST",
            "/users/lee.gu@contoso.com/assignLicense",
            Some(assign(PBI)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "License assignment cannot be done for user with invalid usage location."
    );
}

#[tokio::test]
async fn an_unknown_sku_is_not_a_valid_company_license() {
    let env = common::start().await;
    let sku = "c7df2760-2c81-4ef7-b578-5b5392b571df";
    let r = env
        .call(
            "POST",
            "/users/adele.vance@contoso.com/assignLicense",
            Some(assign(sku)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        format!("License {sku} does not correspond to a valid company License.")
    );
}

#[tokio::test]
async fn a_sku_without_free_seats_is_refused() {
    let env = common::start().await;
    env.sim.set_sku_seats("EMS", 1);
    let r = env
        .call(
            "POST",
            "/users/adele.vance@contoso.com/assignLicense",
            Some(assign(EMS)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        format!("Subscription with SKU {EMS} does not have any available licenses.")
    );
}

#[tokio::test]
async fn removing_a_group_inherited_license_is_refused() {
    let env = common::start().await;
    let r = env
        .call(
            "POST",
            "/users/megan.bowen@contoso.com/assignLicense",
            Some(json!({"addLicenses": [], "removeLicenses": [EMS]})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "User license is inherited from a group membership and it cannot be removed directly from the user."
    );
}

#[tokio::test]
async fn an_unknown_disabled_plan_is_refused() {
    let env = common::start().await;
    let body = json!({"addLicenses": [{"skuId": E3, "disabledPlans": ["00000000-0000-0000-0000-000000000001"]}], "removeLicenses": []});
    let r = env
        .call(
            "POST",
            "/users/adele.vance@contoso.com/assignLicense",
            Some(body),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn removing_a_direct_license_frees_its_seat() {
    let env = common::start().await;
    let before = env.sim.consumed_units(E3).unwrap();
    let r = env
        .call(
            "POST",
            "/users/adele.vance@contoso.com/assignLicense",
            Some(json!({"addLicenses": [], "removeLicenses": [E3]})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(env.sim.consumed_units(E3).unwrap(), before - 1);
}

#[tokio::test]
async fn license_details_list_plans_with_disabled_ones_marked() {
    let env = common::start().await;
    let r = env
        .get("/users/adele.vance@contoso.com/licenseDetails")
        .await;
    assert_eq!(r.status, 200);
    let d = &r.body["value"][0];
    assert_eq!(d["skuPartNumber"], "ENTERPRISEPACK");
    let yammer = d["servicePlans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["servicePlanName"] == "YAMMER_ENTERPRISE")
        .unwrap();
    assert_eq!(yammer["provisioningStatus"], "Disabled");
}

#[tokio::test]
async fn subscribed_skus_support_only_select() {
    let env = common::start().await;
    let r = env
        .get("/subscribedSkus?$select=skuPartNumber,consumedUnits")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"][0].as_object().unwrap().len(), 2);
    assert_eq!(env.get("/subscribedSkus?$top=1").await.status, 400);
}
