//! Users synced from on-premises AD by Entra Connect (issue 15): matched like any user, never
//! created, renamed, disabled, deleted or given an immutable ID; licensed and given a usage
//! location from git; a disagreement on what AD masters is information, not drift.

use crate::api::UnassignedUsers;
use crate::model::{Action, Read, Severity, State, UserChanges};
use crate::plan::testing::*;

const ANN: &str = "ann@corp.example.com";

fn e3() -> crate::model::DesiredPolicy {
    policy("e3", &["corp"], vec![license("ENTERPRISEPACK", &[])])
}

/// `ann@` listed (display name "User ann@...") and synced from AD as "AD ann@...".
fn listed_synced() -> World {
    World::new().listing(&[ANN]).with_users([synced_user(ANN)])
}

fn writes_mastered(a: &Action) -> bool {
    match a {
        Action::UpdateUser { changes, .. } => {
            changes.user_principal_name.is_some()
                || changes.display_name.is_some()
                || changes.given_name.is_some()
                || changes.surname.is_some()
                || changes.immutable_id.is_some()
                || changes.account_enabled.is_some()
        }
        Action::DisableUser { .. } | Action::DeleteUser { .. } | Action::RestoreUser { .. } => true,
        Action::CreateUser { .. } => true,
        _ => false,
    }
}

#[test]
fn a_synced_user_with_another_display_name_is_licensed_and_the_name_is_information() {
    let mut w = listed_synced();
    w.desired.policies = vec![e3()];
    let plan = w.plan();
    assert!(
        !plan.actions.iter().any(writes_mastered),
        "{:#?}",
        plan.actions
    );
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::AssignLicenses { user_principal_name, .. } if user_principal_name == ANN)),
        "{:#?}",
        plan.actions
    );
    let f = finding(&plan, Reason::ManagedOnPremises);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.user.as_deref(), Some(ANN));
    assert!(f.message.contains("displayName"), "{}", f.message);
    assert!(f.message.contains("Active Directory"), "{}", f.message);
    let a = object(&plan, &assignment_key("team-a"));
    assert!(a.drift_entries.is_empty(), "{:#?}", a.drift_entries);
    assert_eq!(a.state, State::InSync);
}

#[test]
fn a_synced_user_that_matches_except_for_mastered_attributes_is_in_sync() {
    let mut ad = synced_user(ANN);
    ad.licenses = vec![direct(E3, &[])];
    ad.account_enabled = false;
    let mut w = World::new().with_users([ad]);
    let mut ann = user(ANN);
    ann.given_name = Some("Ann".into());
    ann.account_enabled = Some(true);
    w.assignment().spec.users.push(ann);
    w.desired.policies = vec![e3()];
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    for o in plan.objects.values() {
        assert_eq!(o.state, State::InSync, "{o:#?}");
    }
    let f = finding(&plan, Reason::ManagedOnPremises);
    for attr in ["displayName", "givenName", "accountEnabled"] {
        assert!(f.message.contains(attr), "{attr}: {}", f.message);
    }
    assert!(findings(&plan, Reason::DisabledOutsideGit).is_empty());
}

#[test]
fn a_synced_user_gets_its_usage_location_and_nothing_else() {
    let mut ad = synced_user(ANN);
    ad.usage_location = None;
    let mut w = World::new().listing(&[ANN]).with_users([ad]);
    w.desired.policies = vec![e3()];
    let plan = w.plan();
    let updates: Vec<&UserChanges> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::UpdateUser { changes, .. } => Some(&**changes),
            _ => None,
        })
        .collect();
    assert_eq!(
        updates,
        [&UserChanges {
            usage_location: Some("US".into()),
            ..UserChanges::default()
        }]
    );
}

#[test]
fn a_synced_user_found_by_its_anchor_under_another_upn_is_not_renamed() {
    let mut ad = synced_user("ann.smith@corp.example.com");
    ad.immutable_id = Some("AQIDBA==".into());
    let mut w = World::new().with_users([ad]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    w.domain().spec.unassigned_users = UnassignedUsers::Delete;
    let mut ann = user(ANN);
    ann.immutable_id = Some("AQIDBA==".into());
    w.assignment().spec.users.push(ann);
    w.desired.policies = vec![e3()];
    let plan = w.plan();
    assert!(
        !plan.actions.iter().any(writes_mastered),
        "{:#?}",
        plan.actions
    );
    assert!(!plan.held.iter().any(writes_mastered), "{:#?}", plan.held);
    // Matched, so licensed under the UPN AD gives it.
    assert!(
        plan.actions.iter().any(|a| matches!(a, Action::AssignLicenses { user_principal_name, .. } if user_principal_name == "ann.smith@corp.example.com")),
        "{:#?}",
        plan.actions
    );
    let f = finding(&plan, Reason::ManagedOnPremises);
    assert!(f.message.contains("userPrincipalName"), "{}", f.message);
}

#[test]
fn a_synced_users_other_source_anchor_is_information_not_a_mismatch_warning() {
    let mut w = listed_synced();
    w.assignment().spec.users[0].immutable_id = Some("Z2l0".into());
    let plan = w.plan();
    assert!(findings(&plan, Reason::ImmutableIdMismatch).is_empty());
    let f = finding(&plan, Reason::ManagedOnPremises);
    assert!(f.message.contains("source anchor"), "{}", f.message);
    assert!(
        !plan.actions.iter().any(writes_mastered),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn an_unassigned_synced_user_is_reported_never_disabled_or_deleted() {
    for policy in [UnassignedUsers::Disable, UnassignedUsers::Delete] {
        let mut w =
            World::new().with_users([synced_user(ANN), tenant_user("bob@corp.example.com")]);
        w.domain().spec.unassigned_users = policy;
        w.domain().spec.change_budget.max_deprovision_percent = 100;
        let plan = w.plan();
        assert!(actions_for(&plan, ANN).is_empty(), "{:#?}", plan.actions);
        assert!(!plan.held.iter().any(|a| a.subject() == ANN));
        // The cloud-only user is deprovisioned as before.
        assert_eq!(actions_for(&plan, "bob@corp.example.com").len(), 1);
        let f = finding(&plan, Reason::ManagedOnPremises);
        assert_eq!(f.object, domain_key("corp"));
        assert!(f.message.contains("sync scope"), "{}", f.message);
    }
}

#[test]
fn a_listed_user_the_sync_deleted_is_neither_restored_nor_created() {
    let mut w = World::new().listing(&[ANN]);
    w.observed.deleted_users = Read::Known(vec![synced_user(ANN)]);
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let f = finding(&plan, Reason::ManagedOnPremises);
    assert!(f.message.contains("restore it in AD"), "{}", f.message);
}

#[test]
fn a_synced_user_without_a_source_anchor_blocks_federation_with_the_sync_fix() {
    let mut ad = synced_user(ANN);
    ad.immutable_id = None;
    let mut w = World::new().listing(&[ANN]).with_users([ad]);
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let plan = w.plan();
    // The controller cannot write it (Graph refuses), so it does not plan to.
    assert!(
        !plan.actions.iter().any(writes_mastered),
        "{:#?}",
        plan.actions
    );
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::CreateFederation { .. })),
        "{:#?}",
        plan.actions
    );
    let f = finding(&plan, Reason::MissingImmutableIds);
    assert!(f.message.contains("source anchor"), "{}", f.message);
    assert!(f.message.contains(ANN), "{}", f.message);
}

#[test]
fn synced_users_with_their_anchor_pass_the_immutable_id_preflight() {
    let mut w = listed_synced();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    let plan = w.plan();
    assert!(findings(&plan, Reason::MissingImmutableIds).is_empty());
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::CreateFederation { .. })),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn a_synced_global_administrator_is_no_break_glass_account() {
    let mut w = listed_synced();
    w.desired.domains[0] = federated(w.desired.domains[0].clone());
    if let Read::Known(users) = &mut w.observed.users {
        for u in users.iter_mut().filter(|u| u.id == ADMIN_ID) {
            u.synced = true;
        }
    }
    let plan = w.plan();
    let f = finding(&plan, Reason::NoBreakGlassAdmin);
    assert!(f.message.contains("cloud-only"), "{}", f.message);
}

#[test]
fn synced_users_do_not_dilute_the_change_budget_share() {
    // 8 listed and 2 unlisted cloud-only users, 90 unlisted synced users: disabling the 2 is
    // 20% of the users the run could hurt, over a 10% budget (it would be 2% of all 100).
    let listed: Vec<String> = (0..8).map(|i| format!("l{i}@corp.example.com")).collect();
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let mut w = World::new()
        .listing(&refs)
        .with_users(listed.iter().map(|u| tenant_user(u)))
        .with_users((0..2).map(|i| tenant_user(&format!("x{i}@corp.example.com"))))
        .with_users((0..90).map(|i| synced_user(&format!("s{i}@corp.example.com"))));
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w.domain().spec.change_budget.max_deprovision_percent = 10;
    let plan = w.plan();
    assert_eq!(plan.held.len(), 2, "{:#?}", plan.held);
    assert!(plan.held.iter().all(|a| a.subject().starts_with('x')));
    let f = finding(&plan, Reason::ChangeBudgetExceeded);
    assert!(f.message.contains("20% of 10"), "{}", f.message);
}
