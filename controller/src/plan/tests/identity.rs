//! Identity anchors, as Entra Connect matches (issue 10, item 5): a listed user is matched by
//! immutable ID first, then by UPN; a new UPN for the same anchor is a rename (PATCH); a listed
//! user found soft-deleted is restored, never created again; an account disabled outside git
//! stays disabled unless git says `accountEnabled: true`.

use crate::api::UnassignedUsers;
use crate::model::{Action, Read, Severity, UserChanges};
use crate::plan::testing::*;

const ANCHOR: &str = "AQIDBA==";

/// `ann.lee@` listed with the explicit immutable ID [`ANCHOR`].
fn listed_with_anchor(upn: &str) -> World {
    let mut w = World::new();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let mut u = user(upn);
    u.immutable_id = Some(ANCHOR.into());
    w.assignment().spec.users.push(u);
    w
}

fn anchored(upn: &str) -> crate::model::ObservedUser {
    let mut u = tenant_user(upn);
    u.id = "id-ann".into();
    u.immutable_id = Some(ANCHOR.into());
    u
}

#[test]
fn a_new_upn_for_the_same_immutable_id_renames_the_user_in_place() {
    let mut w = listed_with_anchor("ann.lee@corp.example.com")
        .with_users([anchored("ann.smith@corp.example.com")]);
    w.domain().spec.unassigned_users = UnassignedUsers::Delete;
    let plan = w.plan();
    let created = plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateUser { .. }));
    assert!(!created, "a rename must not create: {:#?}", plan.actions);
    let update = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::UpdateUser { id, changes, .. } => Some((id, changes)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no update: {:#?}", plan.actions));
    assert_eq!(update.0, "id-ann");
    assert_eq!(
        update.1.user_principal_name.as_deref(),
        Some("ann.lee@corp.example.com")
    );
    // The old UPN is not "unlisted": the account is the listed user, renamed.
    let removed = plan
        .actions
        .iter()
        .chain(&plan.held)
        .any(|a| matches!(a, Action::DeleteUser { .. } | Action::DisableUser { .. }));
    assert!(!removed, "{:#?}", plan.actions);
}

#[test]
fn a_derived_anchor_held_under_another_upn_is_a_rename_too() {
    let mut old = tenant_user("ann.old@corp.example.com");
    old.immutable_id = Some(crate::plan::derive_immutable_id("ann@corp.example.com"));
    let mut w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([old]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let plan = w.plan();
    assert_eq!(
        plan.actions.first(),
        Some(&Action::UpdateUser {
            id: "id-ann.old@corp.example.com".into(),
            user_principal_name: "ann@corp.example.com".into(),
            changes: Box::new(UserChanges {
                user_principal_name: Some("ann@corp.example.com".into()),
                display_name: Some("User ann@corp.example.com".into()),
                ..UserChanges::default()
            }),
        })
    );
}

#[test]
fn an_anchor_and_a_upn_held_by_two_different_users_is_a_conflict() {
    let w = listed_with_anchor("ann.lee@corp.example.com").with_users([
        anchored("ann.smith@corp.example.com"),
        tenant_user("ann.lee@corp.example.com"),
    ]);
    let plan = w.plan();
    assert!(actions_for(&plan, "ann.lee@corp.example.com").is_empty());
    assert!(actions_for(&plan, "ann.smith@corp.example.com").is_empty());
    let f = finding(&plan, Reason::ImmutableIdInUse);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("ann.smith@corp.example.com"),
        "{}",
        f.message
    );
}

#[test]
fn a_listed_user_found_soft_deleted_is_restored_then_updated_never_created() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    let mut gone = tenant_user("ann@corp.example.com");
    gone.display_name = Some("Old name".into());
    w.observed.deleted_users = Read::Known(vec![gone]);
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [
            Action::RestoreUser {
                id: "id-ann@corp.example.com".into(),
                user_principal_name: "ann@corp.example.com".into(),
            },
            Action::UpdateUser {
                id: "id-ann@corp.example.com".into(),
                user_principal_name: "ann@corp.example.com".into(),
                changes: Box::new(UserChanges {
                    display_name: Some("User ann@corp.example.com".into()),
                    ..UserChanges::default()
                }),
            },
        ]
    );
}

#[test]
fn a_deleted_user_is_found_by_its_anchor_and_renamed_after_the_restore() {
    let mut w = listed_with_anchor("ann.lee@corp.example.com");
    w.observed.deleted_users = Read::Known(vec![anchored("ann.smith@corp.example.com")]);
    let plan = w.plan();
    assert_eq!(
        plan.actions[0],
        Action::RestoreUser {
            id: "id-ann".into(),
            user_principal_name: "ann.lee@corp.example.com".into(),
        }
    );
    assert!(matches!(
        &plan.actions[1],
        Action::UpdateUser { id, changes, .. }
            if id == "id-ann"
                && changes.user_principal_name.as_deref() == Some("ann.lee@corp.example.com")
    ));
}

#[test]
fn a_deleted_user_with_another_anchor_is_not_restored() {
    let mut w = listed_with_anchor("ann@corp.example.com");
    let mut other = tenant_user("ann@corp.example.com");
    other.immutable_id = Some("c29tZW9uZSBlbHNl".into());
    w.observed.deleted_users = Read::Known(vec![other]);
    let plan = w.plan();
    assert!(
        matches!(plan.actions[0], Action::CreateUser { .. }),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn unreadable_deleted_users_make_a_missing_user_unknown_not_created() {
    let mut w = World::new().listing(&["ann@corp.example.com"]);
    w.observed.deleted_users = Read::Unknown("503".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert!(has_finding(
        &plan,
        Reason::ReadFailed,
        Severity::Warning,
        &assignment_key("team-a")
    ));
}

#[test]
fn an_account_disabled_outside_git_stays_disabled_with_a_warning() {
    let mut off = tenant_user("ann@corp.example.com");
    off.account_enabled = false;
    let w = World::new()
        .listing(&["ann@corp.example.com"])
        .with_users([off]);
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::DisabledOutsideGit);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.user.as_deref(), Some("ann@corp.example.com"));
    assert!(f.message.contains("accountEnabled: true"), "{}", f.message);
}

#[test]
fn account_enabled_true_in_git_re_enables_the_account() {
    let mut off = tenant_user("ann@corp.example.com");
    off.account_enabled = false;
    let mut w = World::new().with_users([off]);
    let mut ann = user("ann@corp.example.com");
    ann.account_enabled = Some(true);
    w.assignment().spec.users.push(ann);
    let plan = w.plan();
    assert_eq!(
        plan.actions,
        [Action::UpdateUser {
            id: "id-ann@corp.example.com".into(),
            user_principal_name: "ann@corp.example.com".into(),
            changes: Box::new(UserChanges {
                account_enabled: Some(true),
                ..UserChanges::default()
            }),
        }]
    );
    assert!(findings(&plan, Reason::DisabledOutsideGit).is_empty());
}

#[test]
fn an_unset_account_enabled_creates_the_user_enabled() {
    let plan = World::new().listing(&["ann@corp.example.com"]).plan();
    assert!(matches!(
        &plan.actions[0],
        Action::CreateUser { user } if user.account_enabled
    ));
}
