//! Rule 11: users of the domain that no AppAssignment lists; protected users and directory
//! role holders are never touched.

use crate::api::UnassignedUsers;
use crate::model::{Action, Severity};
use crate::plan::testing::*;

/// Ten listed users and one unlisted (`gone@`), so one deprovision stays inside the budget.
fn with_unlisted(policy: UnassignedUsers) -> World {
    let listed: Vec<String> = (0..10).map(|i| format!("u{i}@corp.example.com")).collect();
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let mut w = World::new()
        .listing(&refs)
        .with_users(listed.iter().map(|u| tenant_user(u)))
        .with_users([
            tenant_user("gone@corp.example.com"),
            tenant_user("stranger@other.example.com"),
        ]);
    w.domain().spec.unassigned_users = policy;
    w
}

#[test]
fn unassigned_users_are_ignored_by_default() {
    let plan = with_unlisted(UnassignedUsers::Ignore).plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn unassigned_users_are_disabled_when_asked() {
    let mut w = with_unlisted(UnassignedUsers::Disable);
    w = w.with_users([{
        let mut off = tenant_user("off@corp.example.com");
        off.account_enabled = false;
        off
    }]);
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [Action::DisableUser {
            id: "id-gone@corp.example.com".into(),
            user_principal_name: "gone@corp.example.com".into(),
            mark_leaver: true,
        }]
    );
    let entry = &object(&plan, &domain_key("corp")).drift_entries[0];
    assert_eq!(entry.field, "users[gone@corp.example.com].accountEnabled");
}

#[test]
fn unassigned_users_are_deleted_when_asked() {
    let plan = with_unlisted(UnassignedUsers::Delete).plan();
    assert_eq!(
        plan.actions,
        [Action::DeleteUser {
            id: "id-gone@corp.example.com".into(),
            user_principal_name: "gone@corp.example.com".into(),
        }]
    );
}

#[test]
fn protected_users_are_never_touched() {
    let mut w = with_unlisted(UnassignedUsers::Delete);
    w.domain().spec.protected_users =
        vec!["GONE@corp.example.com".into(), "u1@corp.example.com".into()];
    // u1 is listed but its tenant attributes differ: still not touched.
    w.users_mut()[2].display_name = Some("changed".into());
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    let plan = w.plan();
    assert!(actions_for(&plan, "gone@corp.example.com").is_empty());
    assert!(
        actions_for(&plan, "u1@corp.example.com").is_empty(),
        "{:#?}",
        plan.actions
    );
    assert_eq!(
        finding(&plan, Reason::ProtectedUser).user.as_deref(),
        Some("u1@corp.example.com")
    );
    // Others are still licensed.
    assert_eq!(actions_for(&plan, "u2@corp.example.com").len(), 1);
}

#[test]
fn admin_role_holders_are_never_deprovisioned() {
    let plan = with_unlisted(UnassignedUsers::Delete)
        .grant_role("id-gone@corp.example.com", "Exchange Administrator")
        .plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::AdminRoleUser);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Warning, &domain_key("corp"))
    );
}

#[test]
fn admin_role_holders_are_never_adopted() {
    let mut admin = tenant_user("boss@corp.example.com");
    admin.immutable_id = None;
    admin.display_name = Some("Old".into());
    let plan = World::new()
        .listing(&["boss@corp.example.com"])
        .with_users([admin])
        .grant_role("id-boss@corp.example.com", "User Administrator")
        .plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::AdminRoleUser);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Warning, &assignment_key("team-a"))
    );
    assert_eq!(
        object(&plan, &assignment_key("team-a"))
            .counts
            .as_ref()
            .unwrap()
            .skipped,
        1
    );
}

#[test]
fn unassigned_users_are_kept_while_an_assignment_ref_dangles() {
    let mut w = with_unlisted(UnassignedUsers::Delete);
    w.desired.assignments.push(assignment(
        "typo",
        "crop",
        vec![user("gone@corp.example.com")],
    ));
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::DeprovisioningPaused);
    assert_eq!(
        (f.severity, &f.object),
        (Severity::Warning, &domain_key("corp"))
    );
    assert!(f.message.contains("AppAssignment/it/typo"), "{}", f.message);
}
