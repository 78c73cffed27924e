//! The observed-state mirror against the simulator: a full load, cheap refreshes through one
//! `$batch`, delta merges, expired delta tokens and parts that fail to read.

#[path = "graph_support.rs"]
mod support;

use std::time::{Duration, Instant};

use o365_controller::graph::Mirror;
use o365_controller::model::{AuthenticationType, GLOBAL_ADMINISTRATOR, ObservedUser, Read};
use o365_graph_sim::{FaultKind, FaultPlan, FaultRule, Federation, Fixture, SimConfig, User};
use support::*;

fn users(m: &Mirror) -> &Vec<ObservedUser> {
    m.observed().users.known().must("users known")
}

fn user<'a>(m: &'a Mirror, upn: &str) -> Option<&'a ObservedUser> {
    users(m).iter().find(|u| u.user_principal_name == upn)
}

fn failing(method: &str, path: &str, for_seconds: Option<f64>) -> SimConfig {
    SimConfig {
        faults: Some(FaultPlan {
            seed: 1,
            rules: vec![FaultRule {
                method: Some(method.into()),
                path: Some(path.into()),
                regex: None,
                fault: FaultKind::Error,
                probability: 1.0,
                status: Some(500),
                latency_ms: None,
                from_seconds: 0.0,
                for_seconds,
                retry_after_seconds: None,
                max_hits: None,
            }],
            replication_lag: None,
            token_expiry: None,
        }),
        ..quiet()
    }
}

#[tokio::test]
async fn load_reads_domains_users_roles_skus_and_the_tenant_name() {
    let sim = demo().await;
    let c = client(&sim);
    let m = Mirror::load(&c).await;
    let o = m.observed();
    assert_eq!(o.display_name.as_deref(), Some("Contoso"));
    let domains = o.domains.known().must("domains");
    assert!(
        domains
            .iter()
            .any(|d| d.name == "contoso.com" && d.is_verified)
    );
    assert!(domains.iter().any(|d| d.is_initial && d.is_default));
    assert_eq!(users(&m).len(), 4);
    let megan = user(&m, "megan.bowen@contoso.com").must("megan");
    assert_eq!(megan.immutable_id.as_deref(), Some("TWVnYW5Cb3dlbi0wMDAy"));
    assert!(
        megan
            .licenses
            .iter()
            .all(|l| !l.direct && !l.inherited_from().is_empty())
    );
    let adele = user(&m, "adele.vance@contoso.com").must("adele");
    assert!(
        adele
            .licenses
            .iter()
            .any(|l| l.direct && !l.disabled_plans.is_empty())
    );
    let holders = o.role_holders.known().must("roles");
    assert_eq!(
        holders.get("7b4f3a2e-5c1d-4e8f-9a6b-0c2d4e6f8a10"),
        Some(&vec![GLOBAL_ADMINISTRATOR.to_string()])
    );
    assert_eq!(o.skus.known().must("skus").len(), 3);
    assert!(m.delta_link().is_some());
}

#[tokio::test]
async fn a_federated_domain_is_read_with_its_federation_configuration() {
    let sim = demo().await;
    sim.update_domain("contoso.com", |d| {
        d.federation = Some(Federation {
            issuer_uri: Some("https://idp.contoso.com".into()),
            federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
            ..Federation::default()
        });
    });
    let c = client(&sim);
    let m = Mirror::load(&c).await;
    let domains = m.observed().domains.known().must("domains");
    let contoso = domains
        .iter()
        .find(|d| d.name == "contoso.com")
        .must("contoso");
    assert_eq!(contoso.authentication, AuthenticationType::Federated);
    let fed = contoso.federation.as_ref().must("federation");
    assert_eq!(fed.issuer_uri.as_deref(), Some("https://idp.contoso.com"));
    assert!(!fed.id.is_empty());
}

#[tokio::test]
async fn refresh_merges_updates_additions_and_removals_made_in_the_tenant() {
    let sim = demo().await;
    let c = client(&sim);
    let mut m = Mirror::load(&c).await;
    sim.update_user("lee.gu@contoso.com", |u| {
        u.display_name = "Lee G.".into();
        u.usage_location = Some("DE".into());
    });
    sim.insert_user(User::new("new.hire@contoso.com", "New Hire"))
        .must("insert");
    sim.soft_delete_user("megan.bowen@contoso.com");
    sim.update_domain("contoso.com", |d| {
        d.federation = Some(Federation {
            issuer_uri: Some("https://idp.contoso.com".into()),
            ..Federation::default()
        });
    });
    m.refresh(&c).await;
    let lee = user(&m, "lee.gu@contoso.com").must("lee");
    assert_eq!(lee.display_name.as_deref(), Some("Lee G."));
    assert_eq!(lee.usage_location.as_deref(), Some("DE"));
    assert_eq!(
        lee.given_name.as_deref(),
        Some("Lee"),
        "untouched properties stay"
    );
    assert!(user(&m, "new.hire@contoso.com").is_some());
    assert!(user(&m, "megan.bowen@contoso.com").is_none());
    assert_eq!(users(&m).len(), 4);
    let domains = m.observed().domains.known().must("domains");
    let contoso = domains
        .iter()
        .find(|d| d.name == "contoso.com")
        .must("contoso");
    assert!(
        contoso.federation.is_some(),
        "a newly federated domain's configuration is read"
    );
}

#[tokio::test]
async fn a_refresh_with_nothing_changed_costs_one_request_over_10000_users() {
    let sim = demo().await;
    for i in 0..10_000 {
        sim.insert_user(User::new(&format!("user{i:05}@contoso.com"), "User"))
            .must("insert");
    }
    let c = client(&sim);
    let mut m = Mirror::load(&c).await;
    assert_eq!(users(&m).len(), 10_004);
    sim.reset_stats();
    let before = c.stats().http_requests();
    let started = Instant::now();
    m.refresh(&c).await;
    let took = started.elapsed();
    let requests = c.stats().http_requests() - before;
    let stats = sim.stats();
    println!(
        "{{\"mirrored_users\":10004,\"resync_requests\":{requests},\"resync_ms\":{:.1}}}",
        took.as_secs_f64() * 1000.0
    );
    assert!(requests <= 3, "{requests} requests");
    assert_eq!(stats.count("POST", "/$batch"), 1);
    assert_eq!(stats.tokens_issued, 0, "the token is cached");
    assert_eq!(users(&m).len(), 10_004);
}

#[tokio::test]
async fn an_expired_delta_token_is_recovered_with_a_full_round() {
    let sim = start(
        Fixture::demo(),
        SimConfig {
            delta_token_lifetime: Duration::from_millis(300),
            ..quiet()
        },
    )
    .await;
    let c = client(&sim);
    let mut m = Mirror::load(&c).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.update_user("lee.gu@contoso.com", |u| u.display_name = "Lee G.".into());
    sim.soft_delete_user("megan.bowen@contoso.com");
    m.refresh(&c).await;
    assert_eq!(users(&m).len(), 3);
    let lee = user(&m, "lee.gu@contoso.com").must("lee");
    assert_eq!(lee.display_name.as_deref(), Some("Lee G."));
    // The stored link is fresh again: the next refresh is a normal delta round.
    sim.reset_stats();
    m.refresh(&c).await;
    assert_eq!(sim.stats().count_status("GET", "/users/delta", 410), 0);
}

#[tokio::test]
async fn a_part_that_fails_to_read_is_unknown_and_the_others_stay_known() {
    let sim = start(
        Fixture::demo(),
        failing("GET", "/v1.0/subscribedSkus", None),
    )
    .await;
    let c = client(&sim);
    let m = Mirror::load(&c).await;
    let o = m.observed();
    match &o.skus {
        Read::Unknown(reason) => assert!(reason.contains("500"), "{reason}"),
        Read::Known(_) => panic!("skus cannot be known"),
    }
    assert!(o.domains.known().is_some());
    assert!(o.role_holders.known().is_some());
    assert_eq!(users(&m).len(), 4);
}

#[tokio::test]
async fn users_that_failed_to_read_become_known_again_on_a_later_refresh() {
    let sim = start(
        Fixture::demo(),
        failing("GET", "/v1.0/users/delta", Some(2.5)),
    )
    .await;
    let c = client(&sim);
    let mut m = Mirror::load(&c).await;
    assert!(m.observed().users.known().is_none());
    assert!(m.observed().domains.known().is_some());
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    m.refresh(&c).await;
    assert_eq!(users(&m).len(), 4);
}

#[tokio::test]
async fn refresh_follows_directory_sync_once_a_synced_user_appears() {
    let sim = demo().await;
    let c = client(&sim);
    let mut m = Mirror::load(&c).await;
    assert_eq!(
        m.observed().directory_sync,
        None,
        "the demo tenant never synced"
    );
    // Entra Connect starts: it takes over an existing user (as a hard match does).
    sim.update_user("lee.gu@contoso.com", |u| {
        u.on_premises_sync_enabled = true;
        u.on_premises_immutable_id = Some("TGVlR3UtQUQ=".into());
        u.on_premises_last_sync_date_time = Some("2026-12-01T08:00:00Z".into());
    });
    m.refresh(&c).await;
    assert!(user(&m, "lee.gu@contoso.com").must("lee").synced);
    assert!(!user(&m, "adele.vance@contoso.com").must("adele").synced);
    // The organization is read again from the next refresh on, and while the sync runs.
    m.refresh(&c).await;
    let sync = m.observed().directory_sync.clone().must("directory sync");
    assert!(sync.enabled);
    assert_eq!(sync.last_sync.as_deref(), Some("2026-12-01T08:00:00Z"));
    sim.update_user("lee.gu@contoso.com", |u| {
        u.on_premises_last_sync_date_time = Some("2026-12-01T08:30:00Z".into());
    });
    m.refresh(&c).await;
    let sync = m.observed().directory_sync.clone().must("directory sync");
    assert_eq!(sync.last_sync.as_deref(), Some("2026-12-01T08:30:00Z"));
}
