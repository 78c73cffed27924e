//! Leaver stages over HTTP against the simulator: a leaver is disabled and signed out, its
//! clock kept in the user itself (`extensionAttribute15`), its licenses removed and then the
//! user deleted as the clock runs, each step seen by a fresh connection (as after a controller
//! restart); listed again, it comes back enabled and licensed.

mod engine_support;

use engine_support::*;
use o365_controller::api::LeaverStage;
use o365_controller::model::{Kind, LEAVER_MARK_PREFIX, LeaverMark, Plan, leaver_mark};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const KEEP: &str = "keep@corp.example.com";
const GONE: &str = "gone@corp.example.com";
const REVOKE: &str = "/users/{id}/revokeSignInSessions";
const STAGES: &str = "  unassignedUsers: Disable
  leaverStages:
    revokeSessions: true
    removeLicensesAfter: 7d
    deleteAfter: 30d
  changeBudget:
    maxDeprovisionPercent: 100
";

fn objects(listed: &[&str]) -> String {
    docs(&[
        &managed_domain("corp", DOMAIN, STAGES),
        &assignment("team", "corp", listed, ""),
        E3_POLICY,
    ])
}

/// The leaver mark the simulator holds for `upn`.
fn mark_of(sim: &o365_graph_sim::Simulator, upn: &str) -> Option<String> {
    let u = sim.user(upn)?;
    let ext = u.extra.get("onPremisesExtensionAttributes")?;
    ext.get("extensionAttribute15")?
        .as_str()
        .map(str::to_string)
}

/// Moves the leaver clock of `upn` back by `days` (as if that time had passed).
fn back_date(sim: &o365_graph_sim::Simulator, upn: &str, days: i64) {
    let mark = leaver_mark(OffsetDateTime::now_utc() - Duration::days(days));
    assert!(sim.update_user(upn, |u| {
        u.extra.insert(
            "onPremisesExtensionAttributes".into(),
            json!({ "extensionAttribute15": mark }),
        );
    }));
}

fn stage(plan: &Plan, upn: &str) -> Option<LeaverStage> {
    plan.objects
        .get(&key(Kind::FederatedDomain, "corp"))?
        .leavers
        .iter()
        .find(|l| l.user_principal_name == upn)
        .map(|l| l.stage)
}

#[tokio::test]
async fn a_staged_leaver_is_disabled_unlicensed_deleted_and_restored_when_listed_again() {
    let sim = start(fixture_with(Vec::new())).await;
    // Joiners: both created and licensed.
    converge(&sim, &objects(&[KEEP, GONE]))
        .await
        .assert_converged();
    assert_eq!(sim.user(GONE).unwrap().licenses.len(), 1);

    // Leaver: disabled, signed out, its clock written into the user.
    let before = OffsetDateTime::now_utc() - Duration::seconds(1);
    let run = converge(&sim, &objects(&[KEEP])).await;
    run.assert_converged();
    let gone = sim.user(GONE).unwrap();
    assert!(!gone.account_enabled);
    assert_eq!(
        gone.licenses.len(),
        1,
        "licenses stay until removeLicensesAfter"
    );
    assert_eq!(sim.stats().count("POST", REVOKE), 1);
    assert!(gone.extra.contains_key("signInSessionsValidFromDateTime"));
    let mark = mark_of(&sim, GONE).unwrap();
    assert!(mark.starts_with(LEAVER_MARK_PREFIX), "{mark}");
    let LeaverMark::Since(since) = LeaverMark::parse(Some(&mark)) else {
        panic!("{mark}")
    };
    assert!(
        since >= before && since <= OffsetDateTime::now_utc(),
        "{mark}"
    );
    assert_eq!(stage(&run.replan, GONE), Some(LeaverStage::Disabled));
    assert_eq!(run.report.totals().revoked, 1);
    assert!(sim.user(KEEP).unwrap().account_enabled);

    // A new connection (a restarted controller) reads the same clock: nothing to do yet.
    let run = converge(&sim, &objects(&[KEEP])).await;
    assert!(run.plan.actions.is_empty(), "{:#?}", run.plan.actions);
    let entry = &run.plan.objects[&key(Kind::FederatedDomain, "corp")].leavers[0];
    assert_eq!(
        entry.disabled_at,
        Some(o365_controller::model::rfc3339(since))
    );

    // Eight days later: its direct licenses are removed, nothing else.
    back_date(&sim, GONE, 8);
    let run = converge(&sim, &objects(&[KEEP])).await;
    run.assert_converged();
    assert!(sim.user(GONE).unwrap().licenses.is_empty());
    assert_eq!(stage(&run.replan, GONE), Some(LeaverStage::LicensesRemoved));
    assert_eq!(
        sim.stats().count("POST", REVOKE),
        1,
        "sessions are revoked once"
    );

    // Thirty-one days later: deleted (soft).
    back_date(&sim, GONE, 31);
    let run = converge(&sim, &objects(&[KEEP])).await;
    run.assert_converged();
    assert!(sim.user(GONE).is_none());
    assert_eq!(sim.deleted_users().len(), 1);
    assert_eq!(run.report.totals().deleted, 1);

    // Listed again: restored from the recycle bin, enabled, clock cleared, licensed.
    let run = converge(&sim, &objects(&[KEEP, GONE])).await;
    run.assert_converged();
    let back = sim.user(GONE).unwrap();
    assert!(back.account_enabled);
    assert_eq!(mark_of(&sim, GONE), None);
    assert_eq!(back.licenses.len(), 1);
    assert_eq!(run.report.totals().restored, 1);
    assert_eq!(count_upn(&sim, GONE), 1);
}

#[tokio::test]
async fn a_leaver_listed_again_before_deletion_is_enabled_and_relicensed() {
    let sim = start(fixture_with(Vec::new())).await;
    converge(&sim, &objects(&[KEEP, GONE]))
        .await
        .assert_converged();
    converge(&sim, &objects(&[KEEP])).await.assert_converged();
    back_date(&sim, GONE, 8);
    converge(&sim, &objects(&[KEEP])).await.assert_converged();
    assert!(sim.user(GONE).unwrap().licenses.is_empty());

    let run = converge(&sim, &objects(&[KEEP, GONE])).await;
    run.assert_converged();
    let back = sim.user(GONE).unwrap();
    assert!(back.account_enabled);
    assert_eq!(back.licenses.len(), 1);
    assert_eq!(mark_of(&sim, GONE), None);
    assert!(findings(&run.replan, Reason::DisabledOutsideGit).is_empty());
}

#[tokio::test]
async fn a_user_disabled_by_hand_starts_its_clock_and_is_not_re_enabled_when_listed() {
    let sim = start(fixture_with(vec![user(KEEP), user(GONE)])).await;
    assert!(sim.update_user(GONE, |u| u.account_enabled = false));
    let run = converge(&sim, &objects(&[KEEP])).await;
    run.assert_converged();
    assert_eq!(actions_named(&run.plan, "MarkLeaver").len(), 1);
    assert_eq!(run.report.totals().marked, 1);
    // Its clock starts now, so it is signed out now, once.
    assert_eq!(actions_named(&run.plan, "RevokeSessions").len(), 1);
    assert_eq!(sim.stats().count("POST", REVOKE), 1);
    assert!(mark_of(&sim, GONE).is_some());
    assert_eq!(
        run.replan.objects[&key(Kind::FederatedDomain, "corp")]
            .leavers
            .len(),
        1
    );
}

#[tokio::test]
async fn the_change_budget_holds_each_stage() {
    let sim = start(fixture_with(Vec::new())).await;
    converge(&sim, &objects(&[KEEP, GONE]))
        .await
        .assert_converged();
    let tight = objects(&[KEEP]).replace("maxDeprovisionPercent: 100", "maxDeprovisions: 0");
    let run = converge(&sim, &tight).await;
    assert_eq!(run.plan.held.len(), 2, "disable and revoke are held");
    assert!(sim.user(GONE).unwrap().account_enabled);
    finding(&run.plan, Reason::ChangeBudgetExceeded);
}

#[tokio::test]
async fn a_revoke_that_failed_is_sent_again_by_the_next_run_and_never_repeated_once_done() {
    // The first revoke is refused (say the app lacked the permission for a while).
    let faults = o365_graph_sim::FaultPlan::from_yaml(
        r#"
rules:
  - method: POST
    path: /v1.0/users/*/revokeSignInSessions
    fault: error
    status: 403
    maxHits: 1
"#,
    )
    .unwrap();
    let config = o365_graph_sim::SimConfig {
        faults: Some(faults),
        ..quiet()
    };
    let sim = start_with(fixture_with(vec![user(KEEP), user(GONE)]), config).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, STAGES),
        &assignment("team", "corp", &[KEEP], ""),
    ]);

    // Disabled and marked; the revoke fails, and the plan after the run still asks for it.
    let run = converge(&sim, &objects).await;
    assert!(!sim.user(GONE).unwrap().account_enabled);
    assert!(mark_of(&sim, GONE).is_some());
    let failed: Vec<_> = run
        .report
        .results
        .iter()
        .filter(|(a, o)| {
            matches!(a, o365_controller::model::Action::RevokeSessions { .. })
                && matches!(o, o365_controller::model::Outcome::Failed { .. })
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", run.report.results);
    assert_eq!(actions_named(&run.replan, "RevokeSessions").len(), 1);
    assert!(
        !sim.user(GONE)
            .unwrap()
            .extra
            .contains_key("signInSessionsValidFromDateTime")
    );

    // The next run (a fresh connection) sends it again; it succeeds.
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert_eq!(run.report.totals().revoked, 1);
    assert_eq!(sim.stats().count("POST", REVOKE), 2);
    assert!(
        sim.user(GONE)
            .unwrap()
            .extra
            .contains_key("signInSessionsValidFromDateTime")
    );

    // Done: never sent again.
    let run = converge(&sim, &objects).await;
    assert!(run.plan.actions.is_empty(), "{:#?}", run.plan.actions);
    assert_eq!(sim.stats().count("POST", REVOKE), 2);
}
