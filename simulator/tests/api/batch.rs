use serde_json::{Value, json};

use crate::common;

fn get(id: &str, url: &str) -> Value {
    json!({"id": id, "method": "GET", "url": url})
}

#[tokio::test]
async fn batch_answers_each_request_with_its_own_status_headers_and_body() {
    let env = common::start().await;
    let body = json!({"requests": [
        get("1", "/users/adele.vance@contoso.com"),
        get("2", "domains/contoso.com"),
        get("3", "/users/nobody@contoso.com"),
        {"id": "4", "method": "PATCH", "url": "/users/lee.gu@contoso.com",
         "headers": {"Content-Type": "application/json"}, "body": {"usageLocation": "FR"}},
    ]});
    let r = env.call("POST", "/$batch", Some(body)).await;
    assert_eq!(r.status, 200);
    let responses = r.body["responses"].as_array().unwrap();
    let status = |id: &str| {
        responses.iter().find(|x| x["id"] == id).unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        (status("1"), status("2"), status("3"), status("4")),
        (200, 200, 404, 204)
    );
    // One request on the wire; its four inner requests are counted apart.
    assert_eq!(env.sim.stats().http_requests, 1);
    assert_eq!(env.sim.stats().count("GET", "/users/{id}"), 2);
    let first = &responses[0];
    assert_eq!(
        first["body"]["userPrincipalName"],
        "adele.vance@contoso.com"
    );
    assert!(
        first["headers"]["Content-Type"]
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        env.sim
            .user("lee.gu@contoso.com")
            .unwrap()
            .usage_location
            .as_deref(),
        Some("FR")
    );
    assert_eq!(env.sim.stats().count("GET", "/users/{id}"), 2);
}

#[tokio::test]
async fn more_than_20_requests_is_400() {
    let env = common::start().await;
    let requests: Vec<Value> = (0..21).map(|i| get(&i.to_string(), "/domains")).collect();
    let r = env
        .call("POST", "/$batch", Some(json!({"requests": requests})))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn duplicate_request_ids_are_400() {
    let env = common::start().await;
    let r = env
        .call(
            "POST",
            "/$batch",
            Some(json!({"requests": [get("a", "/domains"), get("A", "/domains")]})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_request_depending_on_a_failed_one_is_424() {
    let env = common::start().await;
    let mut second = get("2", "/domains");
    second["dependsOn"] = json!(["1"]);
    let r = env
        .call(
            "POST",
            "/$batch",
            Some(json!({"requests": [get("1", "/users/ghost@contoso.com"), second]})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["responses"][0]["status"], 404);
    assert_eq!(r.body["responses"][1]["status"], 424);
}
