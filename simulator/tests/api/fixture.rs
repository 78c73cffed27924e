use o365_graph_sim::{Federation, Fixture, SimConfig, Simulator};

use crate::common;

#[tokio::test]
async fn demo_fixture_has_the_quickstart_tenant() {
    let f = Fixture::demo();
    assert_eq!(f.tenant.id, "11111111-1111-1111-1111-111111111111");
    assert_eq!(f.tenant.initial_domain, "contoso.onmicrosoft.com");
    assert_eq!(f.apps[0].client_id, common::CLIENT_ID);
    assert_eq!(
        f.skus.iter().map(|s| s.enabled).collect::<Vec<_>>(),
        [25, 10, 100]
    );
}

#[tokio::test]
async fn exported_fixture_round_trips_through_yaml_and_json() {
    let env = common::start().await;
    env.sim.update_domain("contoso.com", |d| {
        d.federation = Some(Federation {
            display_name: Some("Contoso ADFS".into()),
            federated_idp_mfa_behavior: Some("enforceMfaByFederatedIdp".into()),
            ..Default::default()
        })
    });
    assert!(env.sim.soft_delete_user("lee.gu@contoso.com"));
    env.sim.update_user("adele.vance@contoso.com", |u| {
        u.display_name = "Adele V.".into()
    });
    let exported = env.sim.export_fixture();
    let yaml = exported.to_yaml().unwrap();
    let from_yaml = Fixture::from_yaml(&yaml).unwrap();
    assert_eq!(from_yaml, exported);
    let from_json = Fixture::from_json(&exported.to_json().unwrap()).unwrap();
    assert_eq!(from_json, exported);

    let again = Simulator::start(from_yaml, SimConfig::default())
        .await
        .unwrap();
    assert_eq!(again.export_fixture(), exported);
    assert_eq!(again.users(), env.sim.users());
    assert_eq!(again.deleted_users().len(), 1);
    assert_eq!(
        again.domain("contoso.com").unwrap().authentication_type,
        "Federated"
    );
    assert_eq!(
        again.consumed_units("ENTERPRISEPACK"),
        env.sim.consumed_units("ENTERPRISEPACK")
    );
    again.shutdown().await;
}

#[test]
fn a_fixture_naming_an_unknown_sku_is_rejected() {
    let mut f = Fixture::demo();
    f.users[1].licenses[0].sku = "NOPE".into();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(Simulator::start(f, SimConfig::default()));
    assert!(r.is_err());
}
