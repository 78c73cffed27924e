//! Places where Graph is strict and the simulator must be too (issue 11): each test failed on
//! the simulator before it was made strict.

use std::time::{Duration, Instant};

use o365_graph_sim::{FaultPlan, Fixture, SimConfig, User};
use serde_json::{Value, json};

use crate::common::{self, to_resp};

fn no_throttling() -> SimConfig {
    SimConfig {
        throttling: false,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn a_batch_url_starting_with_v1_0_is_400_resource_not_found_for_segment_v1_0() {
    let env = common::start().await;
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/v1.0/users"},
        {"id": "2", "method": "GET", "url": "v1.0/domains"},
        {"id": "3", "method": "GET", "url": "/users?$top=1"},
    ]});
    let r = env.call("POST", "/$batch", Some(batch)).await;
    assert_eq!(r.status, 200);
    for i in 0..2 {
        let item = &r.body["responses"][i];
        assert_eq!(item["status"], 400, "{item}");
        assert_eq!(item["body"]["error"]["code"], "Request_BadRequest");
        assert_eq!(
            item["body"]["error"]["message"],
            "Resource not found for the segment 'v1.0'."
        );
    }
    assert_eq!(r.body["responses"][2]["status"], 200);
}

fn names(r: &common::Resp, prop: &str) -> Vec<String> {
    r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u[prop].as_str().unwrap().to_string())
        .collect()
}

async fn env_with_unsorted_users() -> common::Env {
    let env = common::start().await;
    for (upn, name) in [
        ("zed@contoso.com", "Aaron Zed"),
        ("bob@contoso.com", "zz Bob"),
        ("carol@contoso.com", "Carol"),
    ] {
        env.sim.insert_user(User::new(upn, name)).unwrap();
    }
    env
}

#[tokio::test]
async fn orderby_display_name_and_user_principal_name_sort_across_pages() {
    let env = env_with_unsorted_users().await;
    let mut expected: Vec<String> = env
        .sim
        .users()
        .iter()
        .map(|u| u.display_name.clone())
        .collect();
    expected.sort_by_key(|n| n.to_lowercase());
    // Three per page: the order holds across the nextLink.
    let mut seen = Vec::new();
    let mut next = Some(env.url("/users?$orderby=displayName&$top=3"));
    while let Some(url) = next {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(names(&r, "displayName"));
        next = r.body["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(seen, expected);

    let r = env.get("/users?$orderby=userPrincipalName desc").await;
    assert_eq!(r.status, 200);
    let mut upns: Vec<String> = env
        .sim
        .users()
        .iter()
        .map(|u| u.user_principal_name.to_lowercase())
        .collect();
    upns.sort();
    upns.reverse();
    assert_eq!(names(&r, "userPrincipalName"), upns);
}

#[tokio::test]
async fn orderby_elsewhere_is_400_and_with_filter_needs_advanced_query_parameters() {
    let env = env_with_unsorted_users().await;
    for bad in [
        "/users?$orderby=createdDateTime",
        "/users?$orderby=displayName sideways",
        "/users?$orderby=displayName,userPrincipalName",
    ] {
        let r = env.get(bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "Request_UnsupportedQuery", "{bad}");
    }
    let filtered = "/users?$filter=startsWith(displayName,'c')&$orderby=displayName";
    let r = env.get(filtered).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Sorting not supported for current query.");
    let r = env
        .call_with(
            "GET",
            &format!("{filtered}&$count=true"),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(names(&r, "displayName"), ["Carol"]);
}

#[tokio::test]
async fn users_count_segment_is_text_plain_with_consistency_level_eventual_else_400() {
    let env = common::start().await;
    let r = env.get("/users/$count").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(r.message(), "$count is not currently supported.");

    let resp = env
        .http
        .get(env.url("/users/$count"))
        .bearer_auth(&env.token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = resp.text().await.unwrap();
    assert_eq!(text, env.sim.users().len().to_string());

    let resp = env
        .http
        .get(env.url("/users/%24count?$filter=startsWith(displayName,'Adele')"))
        .bearer_auth(&env.token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "1");
}

#[tokio::test]
async fn a_401_carries_a_www_authenticate_bearer_challenge() {
    let env = common::start().await;
    let r = to_resp(env.http.get(env.url("/users")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("authorization_uri="), "{challenge}");
    assert!(
        challenge.contains("client_id=\"00000003-0000-0000-c000-000000000000\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn next_links_keep_dollar_and_comma_literal() {
    let env = common::start().await;
    let r = env.get("/users?$select=id,displayName&$top=2").await;
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(
        next.contains("/v1.0/users?$select=id,displayName&$top=2&$skiptoken="),
        "{next}"
    );
    assert!(!next.contains("%24") && !next.contains("%2C"), "{next}");
    let r = env.get(&next).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    // A filter's spaces and quotes are encoded, the `$` and `,` are not.
    let r = env
        .get("/users?$filter=startsWith(displayName,'A') or startsWith(displayName,'B')&$top=1")
        .await;
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$filter=startsWith(displayName,%27A%27)%20or%20"),
        "{next}"
    );
    assert_eq!(env.get(next).await.status, 200);
}

#[tokio::test]
async fn soft_deleted_users_are_purged_after_30_days() {
    // From a fixture: deleted 31 days ago → gone; 29 days ago → still restorable.
    let mut fixture = Fixture::demo();
    let days_ago = |d: i64| {
        let t = time::OffsetDateTime::now_utc() - time::Duration::days(d);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut old = User::new("old@contoso.com", "Old");
    old.deleted_date_time = Some(days_ago(31));
    let mut recent = User::new("recent@contoso.com", "Recent");
    recent.deleted_date_time = Some(days_ago(29));
    fixture.deleted_users = vec![old, recent];
    let env = common::start_with(fixture, no_throttling()).await;
    let r = env
        .get("/directory/deletedItems/microsoft.graph.user")
        .await;
    assert_eq!(names(&r, "userPrincipalName"), ["recent@contoso.com"]);

    // Deleted now, under a time scale of 10^7: 30 days pass in 0.26 s.
    let env = common::start_with(
        Fixture::demo(),
        SimConfig {
            time_scale: 1e7,
            ..no_throttling()
        },
    )
    .await;
    let id = env.sim.user("lee.gu@contoso.com").unwrap().id;
    assert_eq!(
        env.call("DELETE", &format!("/users/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        env.get(&format!("/directory/deletedItems/{id}"))
            .await
            .status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = env.get(&format!("/directory/deletedItems/{id}")).await;
        if r.status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(env.sim.deleted_users().is_empty());
}

fn faults(yaml: &str) -> SimConfig {
    SimConfig {
        faults: Some(FaultPlan::from_yaml(yaml).unwrap()),
        ..no_throttling()
    }
}

fn new_user(upn: &str) -> Value {
    json!({"accountEnabled": true, "displayName": "New", "mailNickname": "new",
           "userPrincipalName": upn, "passwordProfile": {"password": "Passw0rd!x"}})
}

#[tokio::test]
async fn apply_then_error_answers_500_but_the_user_domain_and_federation_writes_happened() {
    let env = common::start_with(
        Fixture::demo(),
        faults(
            "rules:\n  - method: POST\n    path: /v1.0/users\n    fault: applyThenError\n  - method: PATCH\n    path: /v1.0/domains/*\n    fault: applyThenError\n    status: 503\n  - method: POST\n    path: /v1.0/domains/*/federationConfiguration\n    fault: applyThenError\n",
        ),
    )
    .await;
    let r = env
        .call("POST", "/users", Some(new_user("fresh@contoso.com")))
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.code(), "UnknownError");
    assert!(env.sim.user("fresh@contoso.com").is_some());
    assert_eq!(env.get("/users/fresh@contoso.com").await.status, 200);

    let r = env
        .call(
            "PATCH",
            "/domains/contoso.com",
            Some(json!({"passwordValidityPeriodInDays": 60})),
        )
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(
        env.sim
            .domain("contoso.com")
            .unwrap()
            .password_validity_period_in_days,
        Some(60)
    );

    let fed = json!({"displayName": "ADFS", "issuerUri": "http://contoso.com/adfs/services/trust",
        "passiveSignInUri": "https://sts.contoso.com/adfs/ls", "preferredAuthenticationProtocol": "wsFed",
        "signingCertificate": "MIIE3jCCAsagAwIBAgIQQcyDaZz3MI", "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp"});
    let r = env
        .call(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(fed),
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(env.sim.domain("contoso.com").unwrap().federation.is_some());

    // Inside a batch: the inner response is the 500, the write happened.
    let batch = json!({"requests": [{"id": "1", "method": "POST", "url": "/users",
        "headers": {"Content-Type": "application/json"}, "body": new_user("inner@contoso.onmicrosoft.com")}]});
    let r = env.call("POST", "/$batch", Some(batch)).await;
    assert_eq!(r.body["responses"][0]["status"], 500);
    assert!(
        env.sim.user("inner@contoso.onmicrosoft.com").is_some(),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn lose_response_drops_the_connection_after_the_write() {
    let env = common::start_with(
        Fixture::demo(),
        faults(
            "rules:\n  - method: POST\n    path: /v1.0/users\n    fault: loseResponse\n  - method: PATCH\n    path: /v1.0/users/*\n    fault: loseResponse\n  - method: DELETE\n    path: /v1.0/domains/*/federationConfiguration/*\n    fault: loseResponse\n",
        ),
    )
    .await;
    let sent = env
        .http
        .post(env.url("/users"))
        .bearer_auth(&env.token)
        .json(&new_user("lost@contoso.com"))
        .send()
        .await;
    assert!(sent.is_err(), "the response must be lost");
    assert!(env.sim.user("lost@contoso.com").is_some());

    let sent = env
        .http
        .patch(env.url("/users/lee.gu@contoso.com"))
        .bearer_auth(&env.token)
        .json(&json!({"jobTitle": "Lost in transit"}))
        .send()
        .await;
    assert!(sent.is_err());
    assert_eq!(
        env.sim.user("lee.gu@contoso.com").unwrap().extra["jobTitle"],
        "Lost in transit"
    );

    env.sim.update_domain("contoso.com", |d| {
        d.federation = Some(o365_graph_sim::Federation::default());
    });
    let fid = env
        .sim
        .domain("contoso.com")
        .unwrap()
        .federation
        .unwrap()
        .id;
    let sent = env
        .http
        .delete(env.url(&format!(
            "/domains/contoso.com/federationConfiguration/{fid}"
        )))
        .bearer_auth(&env.token)
        .send()
        .await;
    assert!(sent.is_err());
    assert!(env.sim.domain("contoso.com").unwrap().federation.is_none());
    assert!(env.sim.stats().faults >= 3);
}
