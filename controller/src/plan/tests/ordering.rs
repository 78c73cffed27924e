//! Rule 16: order, plan id and the Tenant's unmanaged report.

use crate::api::UnassignedUsers;
use crate::model::{Phase, Severity};
use crate::plan::testing::*;

fn busy() -> World {
    let mut w = World::new()
        .listing(&["zoe@corp.example.com", "amy@corp.example.com"])
        .with_users((0..20).map(|i| tenant_user(&format!("x{i:02}@corp.example.com"))));
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    w
}

#[test]
fn actions_are_ordered_by_phase_then_subject() {
    let plan = busy().plan();
    let order: Vec<(Phase, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.phase(), a.subject()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order[0], (Phase::Users, "amy@corp.example.com"));
    assert_eq!(order[1], (Phase::Users, "zoe@corp.example.com"));
    assert_eq!(order[2], (Phase::Federation, DOMAIN));
    assert_eq!(order[3], (Phase::Licenses, "amy@corp.example.com"));
    assert_eq!(order[5], (Phase::Deprovision, "x00@corp.example.com"));
    assert_eq!(order.len(), 25);
}

#[test]
fn plan_id_is_stable_and_names_the_actions() {
    let w = busy();
    let a = w.plan();
    let b = w.plan();
    assert_eq!(a.id, b.id);
    assert_eq!(a.id.len(), 12);
    assert!(
        a.id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // Listing the users in another order gives the same actions, so the same id.
    let mut shuffled = w.clone();
    shuffled.assignment().spec.users.reverse();
    assert_eq!(shuffled.plan().id, a.id);
    // Other actions, another id.
    let mut other = w.clone();
    other.assignment().spec.users.pop();
    assert_ne!(other.plan().id, a.id);
}

#[test]
fn unmanaged_report_lists_licensed_unlisted_users_of_managed_domains() {
    let mut licensed = tenant_user("zed@corp.example.com");
    licensed.licenses = vec![inherited(E3, "g")];
    let mut listed = tenant_user("ann@corp.example.com");
    listed.licenses = vec![direct(E3, &[])];
    let mut elsewhere = tenant_user("bob@unmanaged.example.com");
    elsewhere.licenses = vec![direct(E3, &[])];
    let mut also = tenant_user("Amy@corp.example.com");
    also.licenses = vec![direct(E5, &[])];
    let plan = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([
            licensed,
            listed,
            elsewhere,
            also,
            tenant_user("nolicense@corp.example.com"),
        ])
        .plan();
    assert_eq!(
        plan.unmanaged,
        ["Amy@corp.example.com", "zed@corp.example.com"]
    );
    let f = finding(&plan, Reason::UnmanagedUsers);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.object, key(crate::model::Kind::Tenant, "contoso"));
    assert!(f.message.starts_with("2 licensed users"), "{}", f.message);
}
