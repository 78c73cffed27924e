use serde_json::{Value, json};

use crate::common::{self, Env};

fn federation_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.internalDomainFederation",
        "displayName": "Contoso",
        "issuerUri": "http://contoso.com/adfs/services/trust",
        "metadataExchangeUri": "https://sts.contoso.com/adfs/services/trust/mex",
        "signingCertificate": "MIIE3jCCAsagAwIBAgIQQcyDaZz3MI",
        "passiveSignInUri": "https://sts.contoso.com/adfs/ls",
        "preferredAuthenticationProtocol": "wsFed",
        "activeSignInUri": "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed",
        "signOutUri": "https://sts.contoso.com/adfs/ls",
        "promptLoginBehavior": "nativeSupport",
        "isSignedAuthenticationRequestRequired": true,
        "nextSigningCertificate": "MIIE3jCCAsagAwIBAgIQQcyDaZz3MI",
        "federatedIdpMfaBehavior": "rejectMfaByFederatedIdp"
    })
}

async fn federate(env: &Env) -> String {
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(federation_body()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn list_returns_all_domains_and_get_is_case_insensitive() {
    let env = common::start().await;
    let r = env.get("/domains").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3);
    let r = env.get("/domains/CONTOSO.com").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "contoso.com");
    assert_eq!(r.body["authenticationType"], "Managed");
    assert_eq!(
        env.get("/domains/missing.example").await.code(),
        "Request_ResourceNotFound"
    );
}

#[tokio::test]
async fn create_federation_returns_201_and_makes_the_domain_federated() {
    let env = common::start().await;
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(federation_body()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.body["id"].is_string());
    assert_eq!(
        r.body["signingCertificateUpdateStatus"]["certificateUpdateResult"],
        "Success"
    );
    let d = env.get("/domains/contoso.com").await;
    assert_eq!(d.body["authenticationType"], "Federated");
    assert!(d.body["passwordValidityPeriodInDays"].is_null());
    assert!(d.body["passwordNotificationWindowInDays"].is_null());
    let list = env
        .get("/domains/contoso.com/federationConfiguration")
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_federation_configuration_is_400() {
    let env = common::start().await;
    federate(&env).await;
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(federation_body()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
}

#[tokio::test]
async fn federation_without_mfa_behavior_is_400_cannot_be_empty() {
    let env = common::start().await;
    let mut body = federation_body();
    body.as_object_mut()
        .unwrap()
        .remove("federatedIdpMfaBehavior");
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(body),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "FederatedIdpMfaBehavior cannot be empty");
}

#[tokio::test]
async fn federation_of_default_initial_or_unverified_domains_is_refused() {
    let env = common::start().await;
    for d in ["contoso.onmicrosoft.com", "fabrikam.example"] {
        let r = env
            .call(
                "POST",
                &format!("/domains/{d}/federationConfiguration"),
                Some(federation_body()),
            )
            .await;
        assert_eq!(r.status, 400, "{d}");
        assert_eq!(r.code(), "Request_BadRequest");
    }
    env.sim
        .update_domain("contoso.onmicrosoft.com", |d| d.is_default = false);
    env.sim
        .update_domain("contoso.com", |d| d.is_default = true);
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(federation_body()),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn federation_list_of_a_managed_domain_is_404() {
    let env = common::start().await;
    let r = env
        .get("/domains/contoso.com/federationConfiguration")
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn patch_federation_returns_200_with_the_full_object() {
    let env = common::start().await;
    let id = federate(&env).await;
    let r = env
        .call(
            "PATCH",
            &format!("/domains/contoso.com/federationConfiguration/{id}"),
            Some(json!({"displayName": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "Renamed");
    assert_eq!(
        r.body["issuerUri"],
        "http://contoso.com/adfs/services/trust"
    );
    let bad = env
        .call(
            "PATCH",
            &format!("/domains/contoso.com/federationConfiguration/{id}"),
            Some(json!({"promptLoginBehavior": "sometimes"})),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn delete_federation_returns_204_and_the_domain_is_managed_again() {
    let env = common::start().await;
    let id = federate(&env).await;
    let r = env
        .call(
            "DELETE",
            &format!("/domains/contoso.com/federationConfiguration/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        env.sim.domain("contoso.com").unwrap().authentication_type,
        "Managed"
    );
}

#[tokio::test]
async fn patch_domain_managed_defederates_and_removes_the_configuration() {
    let env = common::start().await;
    federate(&env).await;
    let r = env
        .call(
            "PATCH",
            "/domains/contoso.com",
            Some(json!({"authenticationType": "Managed"})),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        env.get("/domains/contoso.com/federationConfiguration")
            .await
            .status,
        404
    );
    assert!(env.sim.domain("contoso.com").unwrap().federation.is_none());
}

#[tokio::test]
async fn patch_domain_to_federated_is_400_not_supported() {
    let env = common::start().await;
    let r = env
        .call(
            "PATCH",
            "/domains/contoso.com",
            Some(json!({"authenticationType": "Federated"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Changing authenticationType from Managed to Federated is currently not supported."
    );
}

#[tokio::test]
async fn making_a_federated_domain_default_is_400() {
    let env = common::start().await;
    federate(&env).await;
    let r = env
        .call(
            "PATCH",
            "/domains/contoso.com",
            Some(json!({"isDefault": true})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn directory_roles_include_global_administrator_with_its_members() {
    let env = common::start().await;
    let r = env.get("/directoryRoles").await;
    let ga = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["roleTemplateId"] == "62e90394-69f5-4237-9190-012177145e10")
        .unwrap()
        .clone();
    assert_eq!(ga["displayName"], "Global Administrator");
    let m = env
        .get(&format!(
            "/directoryRoles/{}/members",
            ga["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        m.body["value"][0]["userPrincipalName"],
        "admin@contoso.onmicrosoft.com"
    );
    let m = env
        .get("/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members")
        .await;
    assert_eq!(m.status, 200);
    assert_eq!(m.body["value"].as_array().unwrap().len(), 1);
}
