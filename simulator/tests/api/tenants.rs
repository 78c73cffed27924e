//! Several tenants on one listener: the token endpoint picks the tenant by its path, Graph by
//! the token's tenant id; state, throttle budget, counters and faults are per tenant.

use o365_graph_sim::{FaultKind, FaultPlan, FaultRule, Fixture, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::common::{self, CLIENT_ID, Env, SECRET};

const FABRIKAM: &str = "33333333-3333-3333-3333-333333333333";
const FABRIKAM_SECRET: &str = "fabrikam-secret";

/// A second tenant beside the demo's Contoso: its own id, domains, users and app.
fn fabrikam() -> Fixture {
    Fixture::from_yaml(&format!(
        "tenant:
  id: {FABRIKAM}
  displayName: Fabrikam
  initialDomain: fabrikam.onmicrosoft.com
domains:
  - id: fabrikam.com
    isVerified: true
users:
  - userPrincipalName: ada@fabrikam.com
    displayName: Ada
apps:
  - clientId: {CLIENT_ID}
    clientSecrets: [{FABRIKAM_SECRET}]
"
    ))
    .unwrap()
}

async fn token_for(http: &reqwest::Client, sim: &Simulator, tenant: &str, secret: &str) -> Resp {
    let r = http
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            sim.login_base_url()
        ))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    common::to_resp(r).await
}

type Resp = common::Resp;

/// The demo tenant (primary) and Fabrikam on one simulator: Contoso's `Env` and a token of
/// Fabrikam's.
async fn two_tenants(config: SimConfig) -> (Env, String) {
    let sim = Simulator::start_tenants(vec![Fixture::demo(), fabrikam()], config)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let contoso = common::token(&http, &sim).await;
    // By domain name, as the identity platform also accepts.
    let fabrikam = token_for(&http, &sim, "fabrikam.com", FABRIKAM_SECRET).await;
    assert_eq!(fabrikam.status, 200, "{}", fabrikam.body);
    let fabrikam = fabrikam.body["access_token"].as_str().unwrap().to_owned();
    let env = Env {
        sim,
        http,
        token: contoso,
    };
    (env, fabrikam)
}

/// `GET {base}/v1.0{path}` with `token`.
async fn get(env: &Env, token: &str, path: &str) -> Resp {
    let r = env
        .http
        .get(env.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    common::to_resp(r).await
}

fn upns(r: &Resp) -> Vec<String> {
    r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_tenant_sees_its_own_directory_and_counts_its_own_requests() {
    let (a, fab_token) = two_tenants(SimConfig {
        throttling: false,
        ..SimConfig::default()
    })
    .await;
    let fab = a.sim.tenant(FABRIKAM).unwrap();
    assert_eq!(a.sim.tenants().len(), 2);
    assert_eq!(fab.tenant_id(), FABRIKAM);
    // Fabrikam's token reads Fabrikam's users; Contoso's reads Contoso's.
    let theirs = get(&a, &fab_token, "/users").await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(upns(&theirs), ["ada@fabrikam.com"]);
    let ours = get(&a, &a.token, "/users").await;
    assert!(upns(&ours).contains(&"adele.vance@contoso.com".to_owned()));
    assert!(!upns(&ours).contains(&"ada@fabrikam.com".to_owned()));
    // A user created with Fabrikam's token exists in Fabrikam only.
    let created = a
        .http
        .post(a.url("/users"))
        .bearer_auth(&fab_token)
        .json(&json!({
            "accountEnabled": true, "displayName": "Bo", "mailNickname": "bo",
            "userPrincipalName": "bo@fabrikam.com",
            "passwordProfile": {"password": "Xy7!abcdefgh"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert!(fab.user("bo@fabrikam.com").is_some());
    assert!(a.sim.user("bo@fabrikam.com").is_none());
    // Counters are per tenant: Contoso's token and GET, Fabrikam's token, GET and create.
    let (ours, theirs) = (a.sim.stats(), fab.stats());
    assert_eq!((ours.tokens_issued, theirs.tokens_issued), (1, 1));
    assert_eq!(ours.count("GET", "/users"), 1);
    assert_eq!(theirs.count("GET", "/users"), 1);
    assert_eq!((ours.writes, theirs.writes), (0, 1));
    // Requests on the wire: token requests apart.
    assert_eq!((ours.http_requests, theirs.http_requests), (1, 2));
    // A tenant's secret does not open the other tenant.
    let wrong = token_for(&a.http, &a.sim, FABRIKAM, SECRET).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    // An unknown tenant is refused as before.
    let unknown = token_for(&a.http, &a.sim, "nowhere.example", SECRET).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error_codes"][0], json!(90_002));
    a.sim.shutdown().await;
}

#[tokio::test]
async fn each_tenant_has_its_own_throttle_budget() {
    // A very slow refill keeps a drained bucket empty.
    let (a, fab_token) = two_tenants(SimConfig {
        throttling: true,
        time_scale: 0.001,
        ..SimConfig::default()
    })
    .await;
    let requests: Vec<Value> = (0..20)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let mut throttled = false;
    for _ in 0..200 {
        let r = a
            .call("POST", "/$batch", Some(json!({"requests": requests})))
            .await;
        throttled = r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["status"] == json!(429));
        if throttled {
            break;
        }
    }
    assert!(throttled, "Contoso's budget never ran out");
    let theirs = get(&a, &fab_token, "/users").await;
    assert_eq!(
        theirs.status, 200,
        "Fabrikam throttled by Contoso's requests"
    );
    assert_eq!(a.sim.tenant(FABRIKAM).unwrap().stats().throttled, 0);
    a.sim.shutdown().await;
}

#[tokio::test]
async fn a_fault_plan_set_on_one_tenant_storms_that_tenant_only() {
    let (a, fab_token) = two_tenants(SimConfig {
        throttling: false,
        ..SimConfig::default()
    })
    .await;
    let storm = FaultPlan {
        rules: vec![FaultRule {
            method: None,
            path: Some("/v1.0/*".into()),
            regex: None,
            fault: FaultKind::Throttle,
            probability: 1.0,
            status: None,
            latency_ms: None,
            from_seconds: 0.0,
            for_seconds: None,
            retry_after_seconds: Some(2),
            max_hits: None,
        }],
        ..FaultPlan::default()
    };
    let fab = a.sim.tenant(FABRIKAM).unwrap();
    fab.set_faults(Some(&storm)).unwrap();
    let stormed = get(&a, &fab_token, "/users").await;
    assert_eq!(stormed.status, 429);
    assert_eq!(stormed.header("retry-after"), Some("2"));
    assert_eq!(get(&a, &a.token, "/users").await.status, 200);
    fab.set_faults(None).unwrap();
    assert_eq!(get(&a, &fab_token, "/users").await.status, 200);
    a.sim.shutdown().await;
}

#[tokio::test]
async fn two_tenants_with_one_id_are_refused() {
    let err =
        Simulator::start_tenants(vec![Fixture::demo(), Fixture::demo()], SimConfig::default())
            .await
            .err()
            .unwrap();
    assert!(err.to_string().contains("two tenants with the id"), "{err}");
    assert!(
        Simulator::start_tenants(Vec::new(), SimConfig::default())
            .await
            .is_err()
    );
}
