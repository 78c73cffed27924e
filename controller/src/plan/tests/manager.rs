//! The `manager` of a listed user: resolved by UPN to the manager's object and set through
//! `manager/$ref` once both users exist; only a manager written in git is enforced; drift on it
//! is reported like names; a manager that names nobody is a finding and is never half-set.

use crate::api::Mode;
use crate::model::{Action, ObservedUser, State};
use crate::plan::testing::*;

const ANN: &str = "ann@corp.example.com";
const BOB: &str = "bob@corp.example.com";
const CAROL: &str = "carol@corp.example.com";

fn id(upn: &str) -> String {
    format!("id-{upn}")
}

/// Ann and Bob listed and in the tenant; Carol in the tenant only. Ann's tenant manager is
/// `have`; git says `want`.
fn world(want: Option<&str>, have: Option<&str>) -> World {
    let mut ann = tenant_user(ANN);
    ann.manager = have.map(id);
    let mut w =
        World::new()
            .listing(&[ANN, BOB])
            .with_users([ann, tenant_user(BOB), tenant_user(CAROL)]);
    w.assignment().spec.users[0].manager = want.map(str::to_string);
    w
}

fn manager_drift(plan: &crate::model::Plan) -> Vec<(String, String)> {
    object(plan, &assignment_key("team-a"))
        .drift_entries
        .iter()
        .filter(|d| d.field == format!("users[{ANN}].manager"))
        .map(|d| (d.desired.to_string(), d.observed.to_string()))
        .collect()
}

#[test]
fn a_manager_written_in_git_is_set_by_object_id_and_its_drift_reported() {
    let plan = world(Some(BOB), Some(CAROL)).plan();
    assert_eq!(
        plan.actions,
        vec![Action::SetManager {
            id: id(ANN),
            user_principal_name: ANN.into(),
            manager: id(BOB),
            manager_upn: BOB.into(),
        }]
    );
    assert_eq!(manager_drift(&plan), vec![(BOB.into(), CAROL.into())]);
    let team = object(&plan, &assignment_key("team-a"));
    assert_eq!(team.state, State::Drifted);
    assert_eq!(team.counts.as_ref().map(|c| c.update), Some(1));
}

#[test]
fn a_user_without_a_manager_gets_the_one_git_names() {
    let plan = world(Some(CAROL), None).plan();
    assert!(
        matches!(&plan.actions[..], [Action::SetManager { manager, .. }] if *manager == id(CAROL)),
        "{:#?}",
        plan.actions
    );
    assert_eq!(manager_drift(&plan), vec![(CAROL.into(), String::new())]);
}

#[test]
fn the_right_manager_is_in_sync_whatever_the_case_of_its_id() {
    let mut w = world(Some(BOB), None);
    w.users_mut()[1].manager = Some(id(BOB).to_uppercase());
    assert!(w.plan().is_in_sync(), "{:#?}", w.plan().actions);
}

#[test]
fn a_manager_not_written_in_git_is_left_alone() {
    let plan = world(None, Some(CAROL)).plan();
    assert!(plan.is_in_sync(), "{:#?}", plan.actions);
}

#[test]
fn a_manager_listed_but_not_yet_created_is_bound_after_its_create() {
    const DAN: &str = "dan@corp.example.com";
    let mut w = world(Some(DAN), None).listing(&[DAN]);
    let plan = w.plan();
    // This run creates Dan; Ann's manager waits for Dan's object id (the follow-up pass).
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::CreateUser { user } if user.user_principal_name == DAN))
    );
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetManager { .. })),
        "{:#?}",
        plan.actions
    );
    assert_eq!(manager_drift(&plan), vec![(DAN.into(), String::new())]);
    assert!(findings(&plan, Reason::InvalidManager).is_empty());
    // Dan exists now (the refreshed tenant after the create): Ann's manager is set.
    let dan: ObservedUser = tenant_user(DAN);
    w = w.with_users([dan]);
    let plan = w.plan();
    assert!(
        matches!(&plan.actions[..], [Action::SetManager { manager, manager_upn, .. }]
            if *manager == id(DAN) && manager_upn == DAN),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn a_new_user_is_created_first_and_gets_its_manager_once_it_exists() {
    const EVE: &str = "eve@corp.example.com";
    let mut w = world(None, None).listing(&[EVE]);
    w.assignment().spec.users[2].manager = Some(BOB.into());
    let plan = w.plan();
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetManager { .. })),
        "{:#?}",
        plan.actions
    );
    let w = w.with_users([tenant_user(EVE)]);
    let plan = w.plan();
    assert!(
        matches!(&plan.actions[..], [Action::SetManager { id: who, manager, .. }]
            if *who == id(EVE) && *manager == id(BOB)),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn a_manager_that_names_nobody_is_a_finding_and_nothing_of_it_is_written() {
    const NOBODY: &str = "nobody@corp.example.com";
    let mut w = world(Some(NOBODY), Some(CAROL));
    w.assignment().spec.users[0].attributes.department = Some("Finance".into());
    let plan = w.plan();
    let f = finding(&plan, Reason::InvalidManager);
    assert_eq!(f.user.as_deref(), Some(ANN));
    assert!(f.message.contains(NOBODY), "{}", f.message);
    // The rest of the user is still written; the tenant's manager is not touched.
    assert!(
        matches!(&plan.actions[..], [Action::UpdateUser { changes, .. }]
            if changes.attributes.department.as_deref() == Some("Finance")),
        "{:#?}",
        plan.actions
    );
    assert_eq!(
        object(&plan, &assignment_key("team-a")).state,
        State::Blocked
    );
}

#[test]
fn a_new_user_whose_manager_names_nobody_is_reported_before_it_is_created() {
    const EVE: &str = "eve@corp.example.com";
    let mut w = world(None, None).listing(&[EVE]);
    w.assignment().spec.users[2].manager = Some("ghost@corp.example.com".into());
    let plan = w.plan();
    assert_eq!(
        finding(&plan, Reason::InvalidManager).user.as_deref(),
        Some(EVE)
    );
}

#[test]
fn a_user_cannot_be_its_own_manager() {
    let plan = world(Some(&ANN.to_uppercase()), None).plan();
    assert!(
        finding(&plan, Reason::InvalidManager)
            .message
            .contains("itself")
    );
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
}

#[test]
fn in_audit_mode_a_changed_manager_is_pending_not_written() {
    let mut w = world(Some(BOB), None);
    w.assignment().mode = Mode::Audit;
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    let team = object(&plan, &assignment_key("team-a"));
    assert_eq!(team.counts.as_ref().map(|c| c.pending), Some(1));
    assert_eq!(manager_drift(&plan), vec![(BOB.into(), String::new())]);
}

#[test]
fn a_synced_users_manager_is_mastered_by_ad() {
    let mut w = World::new()
        .listing(&[ANN])
        .with_users([synced_user(ANN), tenant_user(BOB)]);
    w.assignment().spec.users[0].manager = Some(BOB.into());
    w.assignment().spec.users[0].display_name = format!("AD {ANN}");
    let plan = w.plan();
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetManager { .. })),
        "{:#?}",
        plan.actions
    );
    assert!(
        finding(&plan, Reason::ManagedOnPremises)
            .message
            .contains("manager"),
        "{:#?}",
        plan.findings
    );
}
