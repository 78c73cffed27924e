//! Rules 13 and 14: Audit mode writes nothing; a failed read makes drift Unknown and writes
//! nothing for the objects that depend on it.

use crate::api::{Mode, UnassignedUsers};
use crate::model::{Drift, Read, Severity};
use crate::plan::testing::*;

#[test]
fn audit_assignment_plans_no_user_actions_but_reports_drift_and_pending() {
    let mut stale = tenant_user("bob@corp.example.com");
    stale.display_name = Some("Old".into());
    let mut w = World::new()
        .listing(&["ann@corp.example.com", "bob@corp.example.com"])
        .with_users([stale]);
    w.assignment().mode = Mode::Audit;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let o = object(&plan, &assignment_key("team-a"));
    assert_eq!(o.drift, Drift::Drifted);
    assert_eq!(o.drift_entries.len(), 2);
    let c = o.counts.as_ref().unwrap();
    assert_eq!((c.create, c.update, c.pending, c.matched), (0, 0, 2, 1));
}

#[test]
fn audit_domain_plans_no_federation_or_deprovision_actions() {
    let mut w = World::new().with_users([tenant_user("gone@corp.example.com")]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.domain().mode = Mode::Audit;
    w.domain().spec.unassigned_users = UnassignedUsers::Delete;
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let o = object(&plan, &domain_key("corp"));
    assert_eq!(o.drift, Drift::Drifted);
    let fields: Vec<_> = o.drift_entries.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        ["authenticationType", "users[gone@corp.example.com]"]
    );
}

#[test]
fn audit_policy_plans_no_license_actions() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    let mut p = policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
    p.mode = Mode::Audit;
    w.desired.policies = vec![p];
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let o = object(&plan, &policy_key("e3"));
    assert_eq!(o.drift, Drift::Drifted);
    assert_eq!(
        o.drift_entries[0].field,
        "users[ann@corp.example.com].licenses[ENTERPRISEPACK]"
    );
    assert_eq!(o.seats[0].needed, 1);
}

fn read_failed_on(plan: &crate::model::Plan, key: &crate::model::ObjectKey, why: &str) {
    let f = plan
        .findings
        .iter()
        .find(|f| f.reason == Reason::ReadFailed && f.object == *key)
        .unwrap_or_else(|| panic!("no ReadFailed on {key}: {:#?}", plan.findings));
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains(why), "{}", f.message);
    assert_eq!(object(plan, key).drift, Drift::Unknown);
}

#[test]
fn unknown_user_read_makes_assignment_drift_unknown_and_writes_nothing() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.domain().spec.unassigned_users = UnassignedUsers::Delete;
    w.observed.users = Read::Unknown("HTTP 503 from /users".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    read_failed_on(&plan, &assignment_key("team-a"), "HTTP 503 from /users");
    read_failed_on(&plan, &policy_key("e3"), "HTTP 503");
    read_failed_on(&plan, &domain_key("corp"), "HTTP 503");
    let on_domain = plan
        .findings
        .iter()
        .filter(|f| f.reason == Reason::ReadFailed && f.object == domain_key("corp"));
    assert_eq!(on_domain.count(), 1, "reported once: {:#?}", plan.findings);
}

#[test]
fn unknown_role_read_blocks_user_actions() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.observed.role_holders = Read::Unknown("timeout".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty());
    read_failed_on(&plan, &assignment_key("team-a"), "timeout");
}

#[test]
fn unknown_domain_read_makes_federated_domain_unknown() {
    let mut w = World::new();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.observed.domains = Read::Unknown("403 Forbidden".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty());
    read_failed_on(&plan, &domain_key("corp"), "403 Forbidden");
}

#[test]
fn unknown_sku_read_makes_policy_unknown() {
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([tenant_user("ann@corp.example.com")]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    w.observed.skus = Read::Unknown("throttled".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty());
    read_failed_on(&plan, &policy_key("e3"), "throttled");
    assert_eq!(
        object(&plan, &assignment_key("team-a")).drift,
        Drift::InSync
    );
}

#[test]
fn in_sync_tenant_has_in_sync_objects_and_no_actions() {
    let mut ann = tenant_user("ann@corp.example.com");
    ann.licenses = vec![direct(E3, &[])];
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([ann]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    assert!(plan.is_in_sync(), "{plan:#?}");
    assert_eq!(plan.objects.len(), 4);
}
