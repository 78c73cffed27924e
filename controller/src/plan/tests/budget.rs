//! Rule 12: the change budget holds destructive actions until the plan id is approved.

use crate::api::UnassignedUsers;
use crate::model::{Action, Severity};
use crate::plan::testing::*;

/// `listed` listed users and `unlisted` unlisted ones, with `Disable` for the unlisted.
fn tenant(listed: usize, unlisted: usize) -> World {
    let names: Vec<String> = (0..listed)
        .map(|i| format!("l{i}@corp.example.com"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = World::new()
        .listing(&refs)
        .with_users(names.iter().map(|u| tenant_user(u)))
        .with_users((0..unlisted).map(|i| tenant_user(&format!("x{i}@corp.example.com"))));
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w
}

fn disables(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::DisableUser { .. }))
        .count()
}

#[test]
fn change_budget_holds_destructive_actions_over_the_count() {
    let mut w = tenant(95, 5);
    w.domain().spec.change_budget.max_deprovisions = 4;
    w.domain().spec.change_budget.max_deprovision_percent = 100;
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    assert_eq!(disables(&plan.actions), 0);
    assert_eq!(disables(&plan.held), 5);
    // Non-destructive work goes on.
    assert_eq!(plan.actions.len(), 95);
    let f = finding(&plan, Reason::ChangeBudgetExceeded);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Error, &domain_key("corp"))
    );
    assert!(f.message.contains("5 users"), "{}", f.message);
    assert!(f.message.contains("5% of 100"), "{}", f.message);
    assert!(
        f.message.contains("over the budget of 4 users / 100%"),
        "{}",
        f.message
    );
    let approve = format!(
        "kubectl annotate o365domain corp -n it o365-controller.io/approve-run={}",
        plan.id
    );
    assert!(f.message.contains(&approve), "{}", f.message);
    assert_eq!(object(&plan, &domain_key("corp")).actions, 0);
}

#[test]
fn change_budget_percent_is_of_the_domains_users() {
    // 10 of 100 is exactly 10%: allowed.
    let plan = tenant(90, 10).plan();
    assert_eq!(disables(&plan.actions), 10);
    assert!(plan.held.is_empty());
    // 11 of 100 is over 10%.
    let plan = tenant(89, 11).plan();
    assert_eq!(disables(&plan.held), 11);
    assert!(findings(&plan, Reason::ChangeBudgetExceeded).len() == 1);
}

#[test]
fn approving_the_plan_id_releases_held_actions() {
    let w = tenant(5, 5);
    let held = w.plan();
    assert_eq!(disables(&held.held), 5);
    let mut approved = w.clone();
    approved.domain().approved_plan = Some(held.id.clone());
    let plan = approved.plan();
    assert_eq!(plan.id, held.id);
    assert_eq!(disables(&plan.actions), 5);
    assert!(plan.held.is_empty());
    assert_eq!(
        finding(&plan, Reason::ChangeBudgetApproved).severity,
        Severity::Info
    );
    // An approval of another plan releases nothing.
    approved.domain().approved_plan = Some("0123456789ab".into());
    assert_eq!(disables(&approved.plan().held), 5);
}

#[test]
fn license_removals_count_against_the_budget() {
    let mut w = tenant(10, 0);
    w.domain().spec.unassigned_users = UnassignedUsers::Ignore;
    for u in w.users_mut().iter_mut().skip(1).take(2) {
        u.licenses = vec![direct(E5, &[])];
    }
    let mut p = policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
    p.spec.remove_unlisted = true;
    w.desired.policies = vec![p];
    w.domain().spec.change_budget.max_deprovisions = 1;
    let plan = w.plan();
    assert_eq!(plan.held.len(), 2);
    assert!(plan.held.iter().all(Action::is_destructive));
    // Their additions are not held.
    assert_eq!(plan.actions.len(), 10);
    assert!(plan.actions.iter().all(|a| !a.is_destructive()));
    assert_eq!(findings(&plan, Reason::ChangeBudgetExceeded).len(), 1);
}

#[test]
fn destructive_actions_of_several_objects_of_one_domain_share_its_budget() {
    // The FederatedDomain disables 2 unlisted users; the LicensePolicy removes unlisted
    // licenses from 2 listed users. Each object alone stays within a budget of 3; the domain's
    // budget counts both, so 4 users are over it and every one of those actions is held.
    let split = |max_deprovisions: i32| {
        let mut w = tenant(8, 2);
        for u in w.users_mut().iter_mut().skip(1).take(2) {
            u.licenses = vec![direct(E5, &[])];
        }
        let mut p = policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])]);
        p.spec.remove_unlisted = true;
        w.desired.policies = vec![p];
        w.domain().spec.change_budget.max_deprovisions = max_deprovisions;
        w.domain().spec.change_budget.max_deprovision_percent = 100;
        w.plan()
    };
    let plan = split(3);
    assert_eq!(disables(&plan.held), 2, "{:#?}", plan.held);
    let removals = plan
        .held
        .iter()
        .filter(|a| matches!(a, Action::AssignLicenses { remove, .. } if !remove.is_empty()))
        .count();
    assert_eq!(removals, 2, "{:#?}", plan.held);
    assert!(plan.actions.iter().all(|a| !a.is_destructive()));
    let f = finding(&plan, Reason::ChangeBudgetExceeded);
    assert_eq!(f.object, domain_key("corp"));
    assert!(f.message.contains("4 users"), "{}", f.message);
    assert_eq!(findings(&plan, Reason::ChangeBudgetExceeded).len(), 1);
    assert_eq!(
        object(&plan, &policy_key("e3")).state,
        crate::model::State::Blocked,
        "the policy is held too"
    );

    // A budget of 4 covers both objects' work: nothing is held.
    let plan = split(4);
    assert!(plan.held.is_empty(), "{:#?}", plan.held);
    assert_eq!(disables(&plan.actions), 2);
}
