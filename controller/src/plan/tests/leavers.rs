//! Leaver stages (`unassignedUsers: Disable` + `leaverStages`): disable and revoke, then
//! remove licenses, then delete, each timed from the leaver mark in the user; "now" is the
//! observed state's read time. A leaver listed again is enabled and relicensed.

use time::{Duration, OffsetDateTime};

use crate::api::{LeaverStage, LeaverStages, UnassignedUsers};
use crate::model::{Action, LeaverMark, Read, leaver_mark, rfc3339};
use crate::plan::testing::*;

const GONE: &str = "gone@corp.example.com";

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap()
}

/// Ten listed users, one leaver (`gone@`, enabled, licensed E3), stages 7d / 30d with
/// session revocation, observed at `t0`.
fn world() -> World {
    let listed: Vec<String> = (0..10).map(|i| format!("u{i}@corp.example.com")).collect();
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let mut gone = tenant_user(GONE);
    gone.licenses = vec![direct(E3, &[]), inherited(E5, "group-1")];
    let mut w = World::new()
        .listing(&refs)
        .with_users(listed.iter().map(|u| tenant_user(u)))
        .with_users([gone]);
    w.domain().spec.unassigned_users = UnassignedUsers::Disable;
    w.domain().spec.leaver_stages = Some(LeaverStages {
        revoke_sessions: true,
        remove_licenses_after: Some("7d".into()),
        delete_after: Some("30d".into()),
    });
    w.observed.observed_at = Some(t0());
    w
}

/// The leaver as a previous run left it: disabled at `since`, its sessions revoked then.
fn disabled_since(w: &mut World, since: OffsetDateTime) {
    let u = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE)
        .unwrap();
    u.account_enabled = false;
    u.leaver_mark = Some(leaver_mark(since));
    u.sessions_valid_from = Some(rfc3339(since));
}

fn gone_mut(w: &mut World) -> &mut crate::model::ObservedUser {
    w.users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE)
        .unwrap()
}

fn revokes(w: &World) -> usize {
    leaver_actions(w)
        .iter()
        .filter(|a| matches!(a, Action::RevokeSessions { .. }))
        .count()
}

#[test]
fn a_revoke_that_failed_is_sent_again_and_a_successful_one_never_repeats() {
    let mut w = world();
    let since = t0() - Duration::hours(2);
    disabled_since(&mut w, since);
    // The revoke of the run that disabled it failed: sessions are still valid from long before.
    gone_mut(&mut w).sessions_valid_from = Some(rfc3339(since - Duration::days(90)));
    let plan = w.plan();
    assert_eq!(
        actions_for(&plan, GONE),
        [&Action::RevokeSessions {
            id: format!("id-{GONE}"),
            user_principal_name: GONE.into(),
        }]
    );
    let corp = object(&plan, &domain_key("corp"));
    assert!(
        corp.drift_entries.iter().any(|d| d.field
            == format!("users[{GONE}].signInSessionsValidFromDateTime")
            && d.desired == format!("{} or later", rfc3339(since))),
        "{:#?}",
        corp.drift_entries
    );
    // Never revoked at all (Graph returns no value): sent too.
    gone_mut(&mut w).sessions_valid_from = None;
    assert_eq!(revokes(&w), 1);
    // Revoked after the mark, or a few seconds before it (the disable and the revoke travel in
    // one batch, timed by two clocks): done, never repeated.
    for valid_from in [since + Duration::minutes(5), since - Duration::seconds(20)] {
        gone_mut(&mut w).sessions_valid_from = Some(rfc3339(valid_from));
        let plan = w.plan();
        assert!(plan.is_in_sync(), "{valid_from}: {:#?}", plan.actions);
    }
}

#[test]
fn a_revoke_retry_is_only_for_marked_leavers_with_revoke_sessions_and_counts_toward_the_budget() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::hours(2));
    gone_mut(&mut w).sessions_valid_from = None;
    // Without revokeSessions: nothing.
    w.domain()
        .spec
        .leaver_stages
        .as_mut()
        .unwrap()
        .revoke_sessions = false;
    assert_eq!(revokes(&w), 0);
    w.domain()
        .spec
        .leaver_stages
        .as_mut()
        .unwrap()
        .revoke_sessions = true;
    // Disabled by hand (no mark): its clock starts now and it is signed out now, the revoke
    // budgeted, the mark not.
    gone_mut(&mut w).leaver_mark = None;
    let plan = w.plan();
    assert!(
        matches!(
            &actions_for(&plan, GONE)[..],
            [Action::MarkLeaver { .. }, Action::RevokeSessions { .. }]
        ),
        "{:#?}",
        plan.actions
    );
    assert!(plan.actions[1].is_destructive());
    // A budget of 0% holds the retry like any destructive action.
    disabled_since(&mut w, t0() - Duration::hours(2));
    gone_mut(&mut w).sessions_valid_from = None;
    w.domain().spec.change_budget.max_deprovisions = 0;
    let plan = w.plan();
    assert!(
        plan.held
            .iter()
            .any(|a| matches!(a, Action::RevokeSessions { .. })),
        "{:#?}",
        plan
    );
}

fn leaver_actions(w: &World) -> Vec<Action> {
    w.plan()
        .actions
        .into_iter()
        .filter(|a| a.subject() == GONE)
        .collect()
}

#[test]
fn a_leaver_is_disabled_with_its_clock_started_and_its_sessions_revoked() {
    let w = world();
    let plan = w.plan();
    assert_eq!(
        actions_for(&plan, GONE),
        [
            &Action::DisableUser {
                id: format!("id-{GONE}"),
                user_principal_name: GONE.into(),
                mark_leaver: true,
            },
            &Action::RevokeSessions {
                id: format!("id-{GONE}"),
                user_principal_name: GONE.into(),
            },
        ]
    );
    let corp = object(&plan, &domain_key("corp"));
    assert_eq!(corp.leavers.len(), 1);
    assert_eq!(corp.leavers[0].stage, LeaverStage::Disabling);
    assert_eq!(corp.leavers[0].disabled_at, None);
}

#[test]
fn without_stages_disable_keeps_its_old_meaning_and_revokes_nothing() {
    let mut w = world();
    w.domain().spec.leaver_stages = None;
    let actions = leaver_actions(&w);
    assert!(
        matches!(actions[..], [Action::DisableUser { .. }]),
        "{actions:#?}"
    );
    assert!(object(&w.plan(), &domain_key("corp")).leavers.is_empty());
}

#[test]
fn a_disabled_leaver_waits_and_its_domain_is_in_sync_meanwhile() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::days(3));
    let plan = w.plan();
    assert!(actions_for(&plan, GONE).is_empty(), "{:#?}", plan.actions);
    let corp = object(&plan, &domain_key("corp"));
    assert_eq!(corp.state, crate::model::State::InSync);
    let entry = &corp.leavers[0];
    assert_eq!(entry.stage, LeaverStage::Disabled);
    assert_eq!(
        entry.disabled_at.as_deref(),
        Some(rfc3339(t0() - Duration::days(3)).as_str())
    );
    assert_eq!(
        entry.remove_licenses_at.as_deref(),
        Some(rfc3339(t0() + Duration::days(4)).as_str())
    );
    assert_eq!(
        entry.delete_at.as_deref(),
        Some(rfc3339(t0() + Duration::days(27)).as_str())
    );
}

#[test]
fn after_remove_licenses_after_only_direct_licenses_are_removed() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::days(7));
    assert_eq!(
        leaver_actions(&w),
        [Action::AssignLicenses {
            user: format!("id-{GONE}"),
            user_principal_name: GONE.into(),
            add: Vec::new(),
            remove: vec![E3.into()],
        }]
    );
    // Once removed, nothing more until deleteAfter.
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().licenses.retain(|l| !l.direct);
    let plan = w.plan();
    assert!(actions_for(&plan, GONE).is_empty());
    let corp = object(&plan, &domain_key("corp"));
    assert_eq!(corp.leavers[0].stage, LeaverStage::LicensesRemoved);
    assert_eq!(corp.state, crate::model::State::InSync);
}

#[test]
fn after_delete_after_the_leaver_is_deleted() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::days(30));
    assert_eq!(
        leaver_actions(&w),
        [Action::DeleteUser {
            id: format!("id-{GONE}"),
            user_principal_name: GONE.into(),
        }]
    );
}

#[test]
fn the_timeline_moves_with_now_alone() {
    // The same tenant, planned at three times: the plan is a function of its input.
    let mut w = world();
    disabled_since(&mut w, t0());
    let stage_at = |w: &mut World, days: i64| {
        w.observed.observed_at = Some(t0() + Duration::days(days) - Duration::seconds(1));
        let before = object(&w.plan(), &domain_key("corp")).leavers[0].stage;
        w.observed.observed_at = Some(t0() + Duration::days(days));
        let after = object(&w.plan(), &domain_key("corp")).leavers[0].stage;
        (before, after)
    };
    assert_eq!(
        stage_at(&mut w, 7),
        (LeaverStage::Disabled, LeaverStage::LicensesRemoved)
    );
    assert_eq!(
        stage_at(&mut w, 30),
        (LeaverStage::LicensesRemoved, LeaverStage::Deleting)
    );
}

#[test]
fn without_a_known_now_no_timed_stage_is_due() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::days(365));
    w.observed.observed_at = None;
    assert!(leaver_actions(&w).is_empty());
}

#[test]
fn a_leaver_disabled_without_a_mark_gets_its_clock_started_not_budgeted() {
    let mut w = world();
    w.domain()
        .spec
        .leaver_stages
        .as_mut()
        .unwrap()
        .revoke_sessions = false;
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().account_enabled = false;
    let plan = w.plan();
    assert_eq!(
        actions_for(&plan, GONE),
        [&Action::MarkLeaver {
            id: format!("id-{GONE}"),
            user_principal_name: GONE.into(),
        }]
    );
    assert!(!plan.actions[0].is_destructive());
    assert_eq!(
        object(&plan, &domain_key("corp")).leavers[0].stage,
        LeaverStage::Marking
    );
}

#[test]
fn a_leaver_re_enabled_by_hand_is_disabled_again_without_restarting_its_clock() {
    let mut w = world();
    disabled_since(&mut w, t0() - Duration::days(2));
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().account_enabled = true;
    let actions = leaver_actions(&w);
    assert!(
        matches!(
            &actions[0],
            Action::DisableUser {
                mark_leaver: false,
                ..
            }
        ),
        "{actions:#?}"
    );
}

#[test]
fn a_foreign_value_in_the_mark_attribute_is_never_overwritten() {
    let mut w = world();
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().leaver_mark = Some("cost centre 42".into());
    let plan = w.plan();
    assert!(matches!(
        actions_for(&plan, GONE)[0],
        Action::DisableUser {
            mark_leaver: false,
            ..
        }
    ));
    assert_eq!(
        finding(&plan, Reason::LeaverMarkTaken).user.as_deref(),
        Some(GONE)
    );
    assert_eq!(
        LeaverMark::parse(Some("cost centre 42")),
        LeaverMark::Foreign
    );
}

#[test]
fn every_stage_counts_toward_the_change_budget() {
    let mut w = world();
    w.domain().spec.change_budget.max_deprovisions = 0;
    // Enabled leaver: disable + revoke are both held.
    let plan = w.plan();
    assert!(actions_for(&plan, GONE).is_empty(), "{:#?}", plan.actions);
    assert_eq!(plan.held.len(), 2);
    finding(&plan, Reason::ChangeBudgetExceeded);
    // Disabled 7 days ago: the license removal is held.
    disabled_since(&mut w, t0() - Duration::days(7));
    let plan = w.plan();
    assert!(matches!(plan.held[..], [Action::AssignLicenses { .. }]));
    // Disabled 30 days ago: the delete is held.
    disabled_since(&mut w, t0() - Duration::days(30));
    assert!(matches!(w.plan().held[..], [Action::DeleteUser { .. }]));
}

#[test]
fn the_plan_id_does_not_depend_on_now() {
    // An approval names the plan id: it must not change from one run to the next while the
    // same actions wait.
    let mut w = world();
    let first = w.plan().id;
    w.observed.observed_at = Some(t0() + Duration::hours(5));
    assert_eq!(w.plan().id, first);
}

#[test]
fn a_leaver_listed_again_is_enabled_relicensed_and_its_mark_cleared() {
    let mut w = world().listing(&[GONE]);
    w.desired.policies = vec![policy(
        "e3",
        &["corp"],
        vec![license("ENTERPRISEPACK", &[])],
    )];
    disabled_since(&mut w, t0() - Duration::days(8));
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().licenses.retain(|l| !l.direct);
    let plan = w.plan();
    let actions = actions_for(&plan, GONE);
    let Action::UpdateUser { changes, .. } = actions[0] else {
        panic!("{actions:#?}")
    };
    assert_eq!(changes.account_enabled, Some(true));
    assert!(changes.clear_leaver_mark);
    assert!(
        matches!(actions[1], Action::AssignLicenses { add, .. } if add.len() == 1 && add[0].sku_id == E3),
        "{actions:#?}"
    );
    assert!(findings(&plan, Reason::DisabledOutsideGit).is_empty());
}

#[test]
fn a_user_disabled_by_hand_without_a_mark_stays_disabled_when_listed() {
    let mut w = world().listing(&[GONE]);
    let gone = w
        .users_mut()
        .iter_mut()
        .find(|u| u.user_principal_name == GONE);
    gone.unwrap().account_enabled = false;
    let plan = w.plan();
    assert!(actions_for(&plan, GONE).is_empty(), "{:#?}", plan.actions);
    finding(&plan, Reason::DisabledOutsideGit);
}

#[test]
fn a_deleted_leaver_listed_again_is_restored_then_enabled() {
    let mut w = world().listing(&[GONE]);
    let mut gone = w
        .users_mut()
        .iter()
        .find(|u| u.user_principal_name == GONE)
        .cloned()
        .unwrap();
    w.users_mut().retain(|u| u.user_principal_name != GONE);
    gone.account_enabled = false;
    gone.leaver_mark = Some(leaver_mark(t0() - Duration::days(31)));
    w.observed.deleted_users = Read::Known(vec![gone]);
    let plan = w.plan();
    let actions = actions_for(&plan, GONE);
    assert!(
        matches!(actions[0], Action::RestoreUser { .. }),
        "{actions:#?}"
    );
    assert!(
        matches!(actions[1], Action::UpdateUser { changes, .. } if changes.account_enabled == Some(true) && changes.clear_leaver_mark),
        "{actions:#?}"
    );
}

#[test]
fn audit_mode_shows_the_timeline_and_writes_nothing() {
    let mut w = world();
    w.domain().mode = crate::api::Mode::Audit;
    disabled_since(&mut w, t0() - Duration::days(30));
    let plan = w.plan();
    assert!(actions_for(&plan, GONE).is_empty());
    assert_eq!(
        object(&plan, &domain_key("corp")).leavers[0].stage,
        LeaverStage::Deleting
    );
}
