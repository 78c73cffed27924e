//! The Graph client against the simulator over real HTTP: tokens, errors, typed reads, writes
//! through `$batch` (built by `BatchItem`, as apply sends them), paging.

#[path = "graph_support.rs"]
mod support;

use std::time::Duration;

use o365_controller::graph::{
    BatchItem, BatchResult, Credential, GraphClient, GraphError, RetryClass, Secret,
};
use o365_controller::model::{FederationSettings, LicenseGrant, NewUser, ObservedUser};
use o365_graph_sim::{FaultPlan, FederatedCredential, Fixture, SimConfig, TokenExpiry, User};
use support::*;

fn new_user(upn: &str) -> NewUser {
    NewUser {
        user_principal_name: upn.into(),
        display_name: upn.into(),
        given_name: None,
        surname: None,
        mail_nickname: upn.split('@').next().unwrap_or_default().into(),
        immutable_id: None,
        usage_location: Some("US".into()),
        account_enabled: true,
        attributes: Default::default(),
    }
}

#[tokio::test]
async fn a_client_secret_token_is_fetched_once_and_reused() {
    let sim = demo().await;
    let c = client(&sim);
    let domains = c.list_domains().await.must("domains");
    assert!(domains.iter().any(|d| d.name == "contoso.com"));
    c.subscribed_skus().await.must("skus");
    assert_eq!(sim.stats().tokens_issued, 1);
    assert_eq!(c.stats().tokens_fetched, 1);
}

#[tokio::test]
async fn a_wrong_client_secret_is_terminal_names_the_fix_and_never_shows_the_secret() {
    let sim = demo().await;
    let wrong = "Wr0ng-s3cret-value";
    let c = client_with(config(&sim, Credential::ClientSecret(Secret::new(wrong))));
    let err = c.list_domains().await.must_fail("must fail");
    assert_eq!(err.retry, RetryClass::Terminal);
    assert_eq!(err.code, "invalid_client");
    assert_eq!(err.category(), "credentials");
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("client secret is wrong or expired"),
        "{shown}"
    );
    assert!(shown.contains("AADSTS7000215"), "{shown}");
    assert!(!shown.contains(wrong), "the secret leaked: {shown}");
    // Terminal: no Graph request was attempted after the token failure.
    assert_eq!(sim.stats().count("GET", "/domains"), 0);
}

#[tokio::test]
async fn a_certificate_signed_client_assertion_gets_a_token() {
    let mut fixture = Fixture::demo();
    fixture.apps[0].certificates.push(TEST_CERT_PEM.into());
    let sim = start(fixture, quiet()).await;
    let c = client_with(config(
        &sim,
        Credential::Certificate {
            certificate_pem: TEST_CERT_PEM.into(),
            private_key_pem: Secret::new(TEST_KEY_PEM),
        },
    ));
    c.list_domains().await.must("domains with a certificate");
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn an_unregistered_certificate_is_refused_with_the_fix() {
    let sim = demo().await;
    let c = client_with(config(
        &sim,
        Credential::Certificate {
            certificate_pem: TEST_CERT_PEM.into(),
            private_key_pem: Secret::new(TEST_KEY_PEM),
        },
    ));
    let err = c.list_domains().await.must_fail("not registered");
    assert_eq!(err.retry, RetryClass::Terminal);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("PRIVATE KEY"));
    assert!(shown.contains("invalid_client"), "{shown}");
}

fn federated_token(sub: &str) -> String {
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            serde_json::json!({"iss": "https://oidc.example/cluster", "sub": sub,
            "aud": ["api://AzureADTokenExchange"], "exp": now + 3600, "nbf": now - 10})
        )
    )
}

#[tokio::test]
async fn workload_identity_reads_the_rotated_token_file_on_every_token_request() {
    let mut fixture = Fixture::demo();
    fixture.apps[0]
        .federated_credentials
        .push(FederatedCredential {
            name: "aks".into(),
            issuer: "https://oidc.example/cluster".into(),
            subject: "system:serviceaccount:o365:controller".into(),
            audiences: vec!["api://AzureADTokenExchange".into()],
        });
    let sim = start(
        fixture,
        SimConfig {
            token_lifetime: Duration::from_millis(500),
            ..quiet()
        },
    )
    .await;
    let dir = std::env::temp_dir().join(format!("o365-wi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).must("dir");
    let file = dir.join("azure-identity-token");
    std::fs::write(
        &file,
        federated_token("system:serviceaccount:o365:controller"),
    )
    .must("write");
    let c = client_with(config(
        &sim,
        Credential::WorkloadIdentity {
            token_file: file.clone(),
        },
    ));
    c.list_domains().await.must("first token");
    // The kubelet rotates the file; a token for another subject proves the file is re-read.
    std::fs::write(
        &file,
        federated_token("system:serviceaccount:o365:someone-else"),
    )
    .must("rotate");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let err = c
        .list_domains()
        .await
        .must_fail("the rotated token is read");
    assert!(
        format!("{err}").contains("federated identity credential"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let sim = start(
        Fixture::demo(),
        SimConfig {
            token_lifetime: Duration::from_secs(1),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    c.list_domains().await.must("first");
    tokio::time::sleep(Duration::from_millis(900)).await;
    c.list_domains().await.must("second");
    assert_eq!(sim.stats().tokens_issued, 2);
    assert_eq!(sim.stats().count_status("GET", "/domains", 401), 0);
}

#[tokio::test]
async fn a_token_revoked_early_is_refreshed_once_on_401() {
    let sim = start(
        Fixture::demo(),
        SimConfig {
            faults: Some(FaultPlan {
                replication_lag: None,
                token_expiry: Some(TokenExpiry {
                    at_seconds: vec![0.5],
                    every_seconds: None,
                }),
                ..FaultPlan::default()
            }),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    c.list_domains().await.must("first");
    tokio::time::sleep(Duration::from_millis(700)).await;
    c.list_domains().await.must("after forced expiry");
    let stats = sim.stats();
    assert_eq!(stats.count_status("GET", "/domains", 401), 1);
    assert_eq!(stats.tokens_issued, 2);
}

#[tokio::test]
async fn listing_follows_next_links_and_resends_consistency_level_on_every_page() {
    let sim = demo().await;
    for i in 0..1_100 {
        sim.insert_user(User::new(&format!("bulk{i:04}@contoso.com"), "Bulk"))
            .must("insert");
    }
    let c = client(&sim);
    let all = c
        .list_users(&["id", "userPrincipalName"], None)
        .await
        .must("list");
    assert_eq!(all.len(), 1_104);
    let filtered = c
        .list_users(
            &["id", "userPrincipalName"],
            Some("endsWith(userPrincipalName,'@contoso.com')"),
        )
        .await
        .must("advanced query over pages");
    assert_eq!(filtered.len(), 1_103);
    assert!(sim.stats().count("GET", "/users") >= 4, "two pages each");
}

/// Sends one write through `$batch`, as apply sends every write.
async fn send(c: &GraphClient, item: BatchItem) -> Result<BatchResult, GraphError> {
    c.batch(vec![item])
        .await
        .into_iter()
        .next()
        .must("one result")
}

/// The user `upn` as the client reads it (`None`: no such user).
async fn read_user(c: &GraphClient, upn: &str) -> Option<ObservedUser> {
    let filter = format!("userPrincipalName eq '{upn}'");
    c.list_users(&[], Some(&filter))
        .await
        .must("list")
        .into_iter()
        .next()
}

#[tokio::test]
async fn creating_a_duplicate_user_is_a_terminal_400_with_graphs_code() {
    let sim = demo().await;
    let c = client(&sim);
    let password = Secret::new("Xk2!pw-never-shown-9");
    let created = send(
        &c,
        BatchItem::create_user(&new_user("new.person@contoso.com"), &password),
    )
    .await
    .must("create");
    assert_eq!(created.status, 201);
    assert!(created.body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        sim.user("new.person@contoso.com").and_then(|u| u.password),
        Some("Xk2!pw-never-shown-9".into())
    );
    let err = send(
        &c,
        BatchItem::create_user(&new_user("new.person@contoso.com"), &password),
    )
    .await
    .must_fail("duplicate");
    assert_eq!(err.status, Some(400));
    assert_eq!(err.code, "Request_BadRequest");
    assert_eq!(err.retry, RetryClass::Terminal);
    assert!(err.is_conflict());
    assert!(err.request_id.is_some());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("never-shown"));
    assert!(shown.contains("400 Request_BadRequest:"), "{shown}");
}

#[tokio::test]
async fn users_are_read_updated_and_deleted() {
    let sim = demo().await;
    let c = client(&sim);
    let adele = read_user(&c, "adele.vance@contoso.com")
        .await
        .must("exists");
    assert_eq!(adele.immutable_id.as_deref(), Some("QWRlbGVWYW5jZS0wMDAx"));
    assert!(adele.licenses.iter().any(|l| l.direct));
    let changes = o365_controller::model::UserChanges {
        display_name: Some("Adele V.".into()),
        ..Default::default()
    };
    send(&c, BatchItem::update_user(&adele.id, &changes))
        .await
        .must("update");
    assert_eq!(
        sim.user(&adele.id).map(|u| u.display_name),
        Some("Adele V.".into())
    );
    send(&c, BatchItem::delete_user(&adele.id))
        .await
        .must("delete");
    assert!(read_user(&c, "adele.vance@contoso.com").await.is_none());
    assert!(sim.user(&adele.id).is_none());
}

#[tokio::test]
async fn federation_is_created_updated_and_deleted() {
    let sim = demo().await;
    let c = client(&sim);
    assert_eq!(c.list_federation("contoso.com").await.must("list"), None);
    let settings = FederationSettings {
        display_name: Some("Contoso IdP".into()),
        issuer_uri: Some("https://idp.contoso.com/saml".into()),
        passive_sign_in_uri: Some("https://idp.contoso.com/sso".into()),
        sign_out_uri: Some("https://idp.contoso.com/slo".into()),
        preferred_authentication_protocol: Some("saml".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        signing_certificate: Some(
            TEST_CERT_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect(),
        ),
        ..FederationSettings::default()
    };
    let created = send(
        &c,
        BatchItem::create_federation("contoso.com", &settings).must("body"),
    )
    .await
    .must("create");
    let id = created.body["id"].as_str().must("an id").to_owned();
    assert!(!id.is_empty());
    let federated = |sim: &o365_graph_sim::Simulator| {
        sim.domain("contoso.com").must("domain").authentication_type
    };
    assert_eq!(federated(&sim), "Federated");
    let change = FederationSettings {
        display_name: Some("Contoso IdP 2".into()),
        ..FederationSettings::default()
    };
    send(
        &c,
        BatchItem::update_federation("contoso.com", &id, &change).must("body"),
    )
    .await
    .must("update");
    let read = c
        .list_federation("contoso.com")
        .await
        .must("list")
        .must("some");
    assert_eq!(read.display_name.as_deref(), Some("Contoso IdP 2"));
    assert_eq!(
        read.issuer_uri, settings.issuer_uri,
        "untouched fields stay"
    );
    send(
        &c,
        BatchItem::delete(format!("/domains/contoso.com/federationConfiguration/{id}")),
    )
    .await
    .must("delete");
    assert_eq!(c.list_federation("contoso.com").await.must("list"), None);
    assert_eq!(federated(&sim), "Managed");
}

#[tokio::test]
async fn patching_a_federated_domain_to_managed_removes_its_federation() {
    let sim = demo().await;
    let c = client(&sim);
    let settings = FederationSettings {
        issuer_uri: Some("https://idp.contoso.com/saml".into()),
        passive_sign_in_uri: Some("https://idp.contoso.com/sso".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        signing_certificate: Some("MIIB".into()),
        ..FederationSettings::default()
    };
    send(
        &c,
        BatchItem::create_federation("contoso.com", &settings).must("body"),
    )
    .await
    .must("create");
    send(&c, BatchItem::revert_to_managed("contoso.com"))
        .await
        .must("patch");
    assert_eq!(c.list_federation("contoso.com").await.must("list"), None);
}

#[tokio::test]
async fn assign_license_errors_carry_graphs_code_message_and_request_id() {
    let sim = demo().await;
    let c = client(&sim);
    let grant = LicenseGrant {
        sku_id: "6fd2c87f-b296-42f0-b197-1e91e994b900".into(),
        disabled_plans: vec![],
    };
    // Lee Gu has no usage location.
    let err = send(
        &c,
        BatchItem::assign_license("lee.gu@contoso.com", std::slice::from_ref(&grant), &[]),
    )
    .await
    .must_fail("no usage location");
    assert_eq!(err.status, Some(400));
    assert_eq!(err.code, "Request_BadRequest");
    assert!(err.message.contains("usage location"), "{err}");
    assert!(err.request_id.is_some());
    assert_eq!(err.category(), "bad_request");
    // And a good assignment works and shows on the user.
    send(
        &c,
        BatchItem::assign_license("megan.bowen@contoso.com", &[grant], &[]),
    )
    .await
    .must("assign");
    let megan = read_user(&c, "megan.bowen@contoso.com").await.must("megan");
    assert!(
        megan
            .licenses
            .iter()
            .any(|l| &*l.sku_id == "6fd2c87f-b296-42f0-b197-1e91e994b900" && l.direct)
    );
}

#[tokio::test]
async fn directory_roles_members_skus_and_organization_are_read() {
    let sim = demo().await;
    let c = client(&sim);
    let roles = c.list_directory_roles().await.must("roles");
    let ga = roles
        .iter()
        .find(|r| r.display_name == "Global Administrator")
        .must("GA activated");
    let members = c.list_role_members(&ga.id).await.must("members");
    assert!(
        members
            .iter()
            .any(|m| m.id == "7b4f3a2e-5c1d-4e8f-9a6b-0c2d4e6f8a10")
    );
    let skus = c.subscribed_skus().await.must("skus");
    let e3 = skus
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPACK")
        .must("E3");
    assert_eq!(e3.enabled, 25);
    assert_eq!(e3.consumed, 1);
    let org = c.organization().await.must("org").must("one");
    assert_eq!(org.display_name.as_deref(), Some("Contoso"));
}

#[tokio::test]
async fn users_delta_returns_a_full_round_then_only_changes() {
    let sim = demo().await;
    let c = client(&sim);
    let props = o365_controller::graph::USER_PROPERTIES;
    let first = c.users_delta(props, None).await.must("full round");
    assert_eq!(first.items.len(), 4);
    assert!(!first.delta_link.is_empty());
    sim.update_user("lee.gu@contoso.com", |u| u.display_name = "Lee G.".into());
    let next = c
        .users_delta(props, Some(&first.delta_link))
        .await
        .must("changes");
    assert!(!next.restarted);
    assert_eq!(next.items.len(), 1);
    assert_eq!(next.items[0].display_name, Some(Some("Lee G.".to_string())));
}

#[tokio::test]
async fn an_expired_delta_token_restarts_a_full_round() {
    let sim = start(
        Fixture::demo(),
        SimConfig {
            delta_token_lifetime: Duration::from_millis(200),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    let props = o365_controller::graph::USER_PROPERTIES;
    let first = c.users_delta(props, None).await.must("full round");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = c
        .users_delta(props, Some(&first.delta_link))
        .await
        .must("restarted");
    assert!(again.restarted);
    assert_eq!(again.items.len(), 4);
}

#[tokio::test]
async fn a_custom_ca_bundle_is_trusted_for_an_https_endpoint() {
    let sim = start(
        Fixture::demo(),
        SimConfig {
            tls: true,
            ..quiet()
        },
    )
    .await;
    assert!(sim.graph_base_url().starts_with("https://"));
    let c = client(&sim);
    c.list_domains().await.must("https with the simulator's CA");
    let mut no_ca = config(&sim, secret());
    no_ca.ca_bundle = None;
    let err = client_with(no_ca)
        .list_domains()
        .await
        .must_fail("untrusted");
    assert!(err.is_transient() || err.category() == "network" || err.category() == "credentials");
}

#[tokio::test]
async fn a_bad_ca_bundle_or_endpoint_fails_when_the_client_is_built() {
    let sim = demo().await;
    let mut bad = config(&sim, secret());
    bad.ca_bundle = Some("not pem".into());
    assert!(GraphClient::new(bad).is_err());
    let mut bad = config(&sim, secret());
    bad.graph_endpoint = "graph.microsoft.com".into();
    assert!(GraphClient::new(bad).is_err());
}
