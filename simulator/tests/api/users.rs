use o365_graph_sim::User;
use serde_json::{Value, json};

use crate::common;

fn new_user(upn: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Test User",
        "mailNickname": upn.split('@').next().unwrap(),
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
    })
}

#[tokio::test]
async fn create_user_returns_201_with_entity_context_and_id() {
    let env = common::start().await;
    let r = env
        .call("POST", "/users", Some(new_user("new.user@contoso.com")))
        .await;
    assert_eq!(r.status, 201);
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#users/$entity")
    );
    assert!(r.body["id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(env.sim.user("NEW.USER@contoso.com").is_some());
}

#[tokio::test]
async fn create_user_without_a_required_property_is_400() {
    let env = common::start().await;
    for key in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "passwordProfile",
        "userPrincipalName",
    ] {
        let mut body = new_user("x.y@contoso.com");
        body.as_object_mut().unwrap().remove(key);
        let r = env.call("POST", "/users", Some(body)).await;
        assert_eq!(r.status, 400, "{key}");
        assert_eq!(r.code(), "Request_BadRequest");
    }
}

#[tokio::test]
async fn create_user_with_a_weak_password_is_400() {
    let env = common::start().await;
    let mut body = new_user("weak@contoso.com");
    body["passwordProfile"]["password"] = json!("password");
    let r = env.call("POST", "/users", Some(body)).await;
    assert_eq!(r.status, 400);
    assert!(r.message().starts_with(
        "The specified password does not comply with password complexity requirements."
    ));
}

#[tokio::test]
async fn duplicate_upn_in_any_case_is_400_object_conflict() {
    let env = common::start().await;
    let r = env
        .call("POST", "/users", Some(new_user("ADELE.VANCE@contoso.com")))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(
        r.body["error"]["details"][0],
        json!({"target": "userPrincipalName", "code": "ObjectConflict"})
    );
}

#[tokio::test]
async fn duplicate_immutable_id_is_400_object_conflict_on_that_property() {
    let env = common::start().await;
    let mut body = new_user("dup@contoso.com");
    body["onPremisesImmutableId"] = json!("QWRlbGVWYW5jZS0wMDAx");
    let r = env.call("POST", "/users", Some(body)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["details"][0]["target"],
        "onPremisesImmutableId"
    );
    assert_eq!(r.body["error"]["details"][0]["code"], "ObjectConflict");
}

#[tokio::test]
async fn unknown_or_unverified_upn_domain_is_400_domain_portion_invalid() {
    let env = common::start().await;
    for upn in ["a@fabrikam.example", "a@nowhere.org"] {
        let r = env.call("POST", "/users", Some(new_user(upn))).await;
        assert_eq!(r.status, 400, "{upn}");
        assert!(
            r.message()
                .starts_with("The domain portion of the userPrincipalName property is invalid.")
        );
    }
}

#[tokio::test]
async fn federated_upn_without_immutable_id_is_400_source_anchor_required() {
    let env = common::start().await;
    env.sim.update_domain("contoso.com", |d| {
        d.federation = Some(o365_graph_sim::Federation {
            federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
            ..Default::default()
        })
    });
    let r = env
        .call("POST", "/users", Some(new_user("fed@contoso.com")))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "SourceAnchor is a required property for creation of a federated user."
    );
    let mut body = new_user("fed@contoso.com");
    body["onPremisesImmutableId"] = json!("ZmVkLTAwMQ==");
    assert_eq!(env.call("POST", "/users", Some(body)).await.status, 201);
    // Changing the immutable id of a federated-domain user is refused.
    let r = env
        .call(
            "PATCH",
            "/users/fed@contoso.com",
            Some(json!({"onPremisesImmutableId": "b3RoZXI="})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn list_without_select_returns_the_default_property_set() {
    let env = common::start().await;
    let r = env.get("/users").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#users")
    );
    let u = &r.body["value"][0];
    let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
}

#[tokio::test]
async fn select_returns_only_the_selected_properties_and_id() {
    let env = common::start().await;
    let r = env.get("/users?$select=userPrincipalName,onPremisesImmutableId,usageLocation,accountEnabled,assignedLicenses").await;
    let adele = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == "adele.vance@contoso.com")
        .unwrap();
    assert_eq!(adele.as_object().unwrap().len(), 6);
    assert_eq!(adele["usageLocation"], "US");
    assert_eq!(
        adele["assignedLicenses"][0]["skuId"],
        "6fd2c87f-b296-42f0-b197-1e91e994b900"
    );
    let r = env.get("/users?$select=nonsense").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn top_outside_1_to_999_is_400_invalid_page_size() {
    let env = common::start().await;
    for n in ["0", "1000"] {
        let r = env.get(&format!("/users?$top={n}")).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.code(), "Request_UnsupportedQuery");
        assert_eq!(
            r.message(),
            format!("Invalid page size specified: '{n}'. Must be between 1 and 999 inclusive.")
        );
    }
}

#[tokio::test]
async fn pages_default_to_100_and_next_link_keeps_other_parameters() {
    let env = common::start().await;
    for i in 0..150 {
        env.sim
            .insert_user(User::new(&format!("bulk{i:03}@contoso.com"), "Bulk"))
            .unwrap();
    }
    let r = env.get("/users?$select=id,userPrincipalName").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 100);
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.starts_with(&env.sim.graph_base_url()));
    assert!(next.contains("%24select=id%2CuserPrincipalName") || next.contains("$select="));
    assert!(next.contains("skiptoken"));
    let r2 = env.get(&next).await;
    assert_eq!(r2.body["value"].as_array().unwrap().len(), 154 - 100);
    assert!(r2.body.get("@odata.nextLink").is_none());
    assert_eq!(r2.body["value"][0].as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn filter_supports_eq_and_starts_with() {
    let env = common::start().await;
    let r = env
        .get("/users?$filter=userPrincipalName eq 'ADELE.VANCE@contoso.com'")
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = env.get("/users?$filter=startsWith(displayName,'me')").await;
    assert_eq!(r.body["value"][0]["displayName"], "Megan Bowen");
    let r = env
        .get("/users?$filter=accountEnabled eq false&$select=accountEnabled")
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = env
        .get("/users?$filter=onPremisesImmutableId eq 'TWVnYW5Cb3dlbi0wMDAy'")
        .await;
    assert_eq!(r.body["value"][0]["displayName"], "Megan Bowen");
}

#[tokio::test]
async fn ends_with_needs_consistency_level_and_count() {
    let env = common::start().await;
    let path = "/users?$filter=endsWith(userPrincipalName,'@contoso.com')";
    let r = env.get(path).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_UnsupportedQuery");
    assert!(r.message().starts_with(
        "Operator 'endsWith' is not supported because the required parameters might be missing."
    ));
    let r = env
        .call_with(
            "GET",
            &format!("{path}&$count=true"),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["@odata.count"], 3);
}

#[tokio::test]
async fn count_without_consistency_level_is_silently_ignored() {
    let env = common::start().await;
    let r = env.get("/users?$count=true").await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("@odata.count").is_none());
}

#[tokio::test]
async fn get_by_upn_is_case_insensitive_and_supports_select() {
    let env = common::start().await;
    let r = env
        .get("/users/Adele.Vance@Contoso.com?$select=usageLocation")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["usageLocation"], "US");
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("users(usageLocation)/$entity")
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.get(&format!("/users/{id}")).await.status, 200);
}

#[tokio::test]
async fn patch_returns_204_and_changes_the_user() {
    let env = common::start().await;
    let r = env
        .call(
            "PATCH",
            "/users/lee.gu@contoso.com",
            Some(json!({"accountEnabled": true, "usageLocation": "DE", "displayName": "Lee G."})),
        )
        .await;
    assert_eq!(r.status, 204);
    let u = env.sim.user("lee.gu@contoso.com").unwrap();
    assert!(u.account_enabled);
    assert_eq!(u.usage_location.as_deref(), Some("DE"));
    assert_eq!(u.display_name, "Lee G.");
}

#[tokio::test]
async fn usage_location_cannot_be_reset_to_null() {
    let env = common::start().await;
    let r = env
        .call(
            "PATCH",
            "/users/adele.vance@contoso.com",
            Some(json!({"usageLocation": null})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn delete_soft_deletes_into_deleted_items_and_restore_brings_the_user_back() {
    let env = common::start().await;
    let id = env.sim.user("lee.gu@contoso.com").unwrap().id;
    assert_eq!(
        env.call("DELETE", "/users/lee.gu@contoso.com", None)
            .await
            .status,
        204
    );
    assert_eq!(env.get("/users/lee.gu@contoso.com").await.status, 404);
    let r = env
        .get("/directory/deletedItems/microsoft.graph.user")
        .await;
    assert_eq!(r.body["value"][0]["id"], id.as_str());
    let r = env
        .call(
            "POST",
            &format!("/directory/deletedItems/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(env.sim.user("lee.gu@contoso.com").is_some());
}
