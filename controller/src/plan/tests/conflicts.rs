//! Conflicts between objects (issue 10, item 4): two FederatedDomains for one domain, two
//! Tenants for one Entra tenant, one user listed twice with different attributes. Every party
//! is Blocked with a reason naming the other object, and nothing is written for them; the
//! change budget counts over every object of a domain, so splitting objects cannot bypass it.

use crate::api::UnassignedUsers;
use crate::model::{Action, Kind, Severity};
use crate::plan::testing::*;

/// Two FederatedDomains (`corp`, `corp-2`) for corp.example.com, both federating it and
/// disabling unlisted users; `team-a` lists a0..a2 under `corp`, `team-b` lists b0..b2 under
/// `corp-2`; eight tenant users of the domain in all.
fn split_domain() -> World {
    let a: Vec<String> = (0..3).map(|i| format!("a{i}@corp.example.com")).collect();
    let b: Vec<String> = (0..3).map(|i| format!("b{i}@corp.example.com")).collect();
    let refs = |v: &[String]| v.iter().map(String::as_str).map(user).collect::<Vec<_>>();
    let mut w = World::new()
        .with_users(a.iter().chain(&b).map(|u| tenant_user(u)))
        .with_users([
            tenant_user("x0@corp.example.com"),
            tenant_user("x1@corp.example.com"),
        ]);
    let mut second = federated(domain("corp-2", DOMAIN));
    second.spec.unassigned_users = UnassignedUsers::Disable;
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w.desired.domains.push(second);
    w.desired.assignments = vec![
        assignment("team-a", "corp", refs(&a)),
        assignment("team-b", "corp-2", refs(&b)),
    ];
    w
}

#[test]
fn two_federated_domains_for_one_domain_are_both_blocked_and_nothing_is_written_for_them() {
    let plan = split_domain().plan();
    for (me, other) in [("corp", "corp-2"), ("corp-2", "corp")] {
        let f = plan
            .findings
            .iter()
            .find(|f| f.reason == Reason::DuplicateDomain && f.object == domain_key(me))
            .unwrap_or_else(|| panic!("no DuplicateDomain on {me}: {:#?}", plan.findings));
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message.contains(&domain_key(other).to_string()),
            "{me} must name {other}: {}",
            f.message
        );
        assert_eq!(object(&plan, &domain_key(me)).actions, 0);
    }
    let federations = plan
        .actions
        .iter()
        .chain(&plan.held)
        .filter(|a| matches!(a, Action::CreateFederation { .. }))
        .count();
    assert_eq!(federations, 0, "{:#?}", plan.actions);
    let disables: Vec<&str> = plan
        .actions
        .iter()
        .chain(&plan.held)
        .filter(|a| matches!(a, Action::DisableUser { .. }))
        .map(Action::subject)
        .collect();
    assert!(disables.is_empty(), "listed users disabled: {disables:?}");
}

#[test]
fn two_tenants_for_one_entra_tenant_block_everything() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let other = crate::model::ObjectKey::new(Kind::Tenant, "other-team", "contoso");
    w.desired.same_tenant = vec![other.clone()];
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert!(plan.held.is_empty());
    let tenant = key(Kind::Tenant, "contoso");
    let f = plan
        .findings
        .iter()
        .find(|f| f.reason == Reason::DuplicateTenant && f.object == tenant)
        .unwrap_or_else(|| panic!("no DuplicateTenant on the Tenant: {:#?}", plan.findings));
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains(&other.to_string()), "{}", f.message);
    for k in [domain_key("corp"), assignment_key("team-a")] {
        assert!(
            has_finding(&plan, Reason::DuplicateTenant, Severity::Error, &k),
            "{k}: {:#?}",
            plan.findings
        );
    }
}

#[test]
fn a_user_listed_twice_with_different_attributes_is_blocked_on_both_and_left_alone() {
    let mut w = World::new().with_users([tenant_user("ann@corp.example.com")]);
    let mut a = user("ann@corp.example.com");
    a.display_name = "Ann A".into();
    let mut b = user("ann@corp.example.com");
    b.display_name = "Ann B".into();
    w.desired.assignments = vec![
        assignment("team-a", "corp", vec![a]),
        assignment("team-b", "corp", vec![b]),
    ];
    let plan = w.plan();
    assert!(actions_for(&plan, "ann@corp.example.com").is_empty());
    for (me, other) in [("team-a", "team-b"), ("team-b", "team-a")] {
        let f = plan
            .findings
            .iter()
            .find(|f| f.reason == Reason::ConflictingAssignments && f.object == assignment_key(me))
            .unwrap_or_else(|| panic!("no conflict on {me}"));
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains(&assignment_key(other).to_string()));
    }
}
