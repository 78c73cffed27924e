//! The truth table: every object is exactly one of InSync, Drifted, Blocked or Unknown, and a
//! plan is in sync only when every object is InSync (DESIGN §7).

use crate::api::{Provisioning, UnassignedUsers};
use crate::model::{Read, State};
use crate::plan::testing::*;

fn state_of(plan: &crate::model::Plan, key: &crate::model::ObjectKey) -> State {
    object(plan, key).state
}

#[test]
fn a_converged_tenant_is_in_sync_everywhere() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![policy("e3", &["corp"], vec![])];
    let plan = w.plan();
    assert!(plan.is_in_sync(), "{:#?}", plan.objects);
    assert!(plan.objects.values().all(|o| o.state == State::InSync));
}

#[test]
fn a_refused_domain_is_blocked_and_the_plan_is_not_in_sync() {
    for refuse in [
        |w: &mut World| w.observed_corp().is_verified = false,
        |w: &mut World| w.observed_corp().is_default = true,
        |w: &mut World| w.observed_corp().is_initial = true,
        |w: &mut World| {
            w.domain().signing_certificate = Some(Err(crate::resolve::CertificateError::Key(
                crate::resolve::KeyError::NotFound {
                    kind: crate::resolve::KeyKind::Secret,
                    namespace: "it".into(),
                    name: "idp".into(),
                },
            )))
        },
    ] {
        let mut w = World::new();
        w.desired.domains[0] = federated(w.desired.domains[0].clone());
        refuse(&mut w);
        let plan = w.plan();
        assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
        assert_eq!(state_of(&plan, &domain_key("corp")), State::Blocked);
        assert!(!plan.is_in_sync());
        assert_eq!(plan.state(), State::Blocked);
    }
}

#[test]
fn an_unknown_sku_blocks_the_policy() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![policy("e3", &["corp"], vec![license("NOPE", &[])])];
    let plan = w.plan();
    assert_eq!(state_of(&plan, &policy_key("e3")), State::Blocked);
    assert!(!plan.is_in_sync());
}

#[test]
fn a_seat_shortfall_keeps_the_policy_drifted_with_the_users_pending() {
    // After a first apply licensed the two users that fit, no seat is left for the other four.
    let upns = [
        "a@corp.example.com",
        "b@corp.example.com",
        "c@corp.example.com",
        "d@corp.example.com",
        "e@corp.example.com",
        "f@corp.example.com",
    ];
    let users = upns.iter().enumerate().map(|(i, u)| {
        let mut t = tenant_user(u);
        if i < 2 {
            t.licenses = vec![direct(E3, &[])];
        }
        t
    });
    let mut w = World::new().listing(&upns).with_users(users);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    w.observed.skus = Read::Known(vec![sku("ENTERPRISEPACK", E3, 3, 3)]);
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let o = object(&plan, &policy_key("e3"));
    assert_eq!(o.state, State::Drifted);
    let counts = o.licenses.clone().unwrap_or_default();
    assert_eq!(
        (
            counts.covered,
            counts.licensed,
            counts.pending,
            counts.short_of_seats
        ),
        (6, 2, 4, 4)
    );
    assert_eq!(o.drift_entries.len(), 4, "{:#?}", o.drift_entries);
    assert!(!plan.is_in_sync());
}

#[test]
fn a_held_change_budget_blocks_the_domain() {
    let names: Vec<String> = (0..5).map(|i| format!("x{i}@corp.example.com")).collect();
    let mut w = World::new().with_users(names.iter().map(|u| tenant_user(u)));
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w.domain().spec.change_budget.max_deprovisions = 1;
    let plan = w.plan();
    assert_eq!(plan.held.len(), 5);
    let o = object(&plan, &domain_key("corp"));
    assert_eq!((o.state, o.held), (State::Blocked, 5));
    assert!(!plan.is_in_sync());
}

#[test]
fn users_waiting_for_an_export_keep_the_assignment_drifted() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.assignment().spec.provisioning = Provisioning::Manual;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert_eq!(state_of(&plan, &assignment_key("team-a")), State::Drifted);
}

#[test]
fn a_failed_read_is_unknown_not_in_sync() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.observed.users = Read::Unknown("HTTP 503".into());
    let plan = w.plan();
    assert_eq!(state_of(&plan, &assignment_key("team-a")), State::Unknown);
    assert_eq!(plan.state(), State::Unknown);
    assert!(!plan.is_in_sync());
}

#[test]
fn every_action_carries_the_objects_it_serves() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    assert_eq!(plan.owners.len(), plan.actions.len());
    let owners: Vec<(String, Vec<String>)> = plan
        .actions
        .iter()
        .zip(&plan.owners)
        .map(|(a, o)| {
            (
                serde_json::to_value(a).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                o.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            (
                "createUser".to_string(),
                vec!["AppAssignment/it/team-a".to_string()]
            ),
            (
                "assignLicenses".to_string(),
                vec!["LicensePolicy/it/e3".to_string()]
            ),
        ]
    );
}
