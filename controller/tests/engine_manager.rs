//! Managers over HTTP against the simulator: a manager created in the same run is bound right
//! after its create (the run's follow-up pass), drift on the manager is seen through the users
//! delta (`manager@delta`) and corrected, a manager not in git is left alone, and a manager
//! that names nobody is reported and never half-set.

mod engine_support;

use engine_support::*;
use o365_controller::engine::{self, Writes};
use o365_controller::model::{Action, Kind, Outcome};
use o365_controller::resolve::Overrides;

const ANN: &str = "ann.lee@corp.example.com";
const BOB: &str = "bob.ray@corp.example.com";
const CAROL: &str = "carol.day@corp.example.com";
const SET_MANAGER: &str = "/users/{id}/manager/$ref";

/// Ann reports to `ann_manager` (none: unmanaged), Bob to Carol; Carol is a tenant user that
/// no AppAssignment lists.
fn objects(ann_manager: Option<&str>) -> String {
    let mut team = assignment("team", "corp", &[ANN, BOB], "");
    if let Some(m) = ann_manager {
        team = team.replace(
            &format!("userPrincipalName: {ANN}\n"),
            &format!("userPrincipalName: {ANN}\n      manager: {m}\n"),
        );
    }
    team = team.replace(
        &format!("userPrincipalName: {BOB}\n"),
        &format!("userPrincipalName: {BOB}\n      manager: {CAROL}\n"),
    );
    docs(&[&managed_domain("corp", DOMAIN, ""), &team])
}

fn manager_of(sim: &o365_graph_sim::Simulator, upn: &str) -> Option<String> {
    sim.user(upn)?.manager
}

fn id_of(sim: &o365_graph_sim::Simulator, upn: &str) -> String {
    sim.user(upn).map(|u| u.id).unwrap_or_default()
}

#[tokio::test]
async fn managers_are_bound_after_their_create_and_drift_is_read_by_delta_and_corrected() {
    let sim = start(fixture_with(vec![user(CAROL)])).await;
    let m = manifests(&sim, &objects(Some(BOB)));
    assert_eq!(
        m.assignments[0].spec.users[0].manager.as_deref(),
        Some(BOB),
        "the manifest carries the manager"
    );
    let (client, mut mirror) = connect(&m).await;
    let want = desired(&m, &Overrides::default());

    // One run: Ann and Bob are created, then (follow-up pass) Ann gets Bob, who was created in
    // the same run, and Bob gets Carol.
    let cycle = engine::converge(&client, &mut mirror, &want, Writes::Apply, &|_, _| {}).await;
    let report = cycle.report.clone().unwrap();
    let set: Vec<&Action> = report
        .results
        .iter()
        .filter(|(a, o)| matches!(a, Action::SetManager { .. }) && *o == Outcome::Done)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(set.len(), 2, "{:#?}", report.results);
    assert_eq!(
        report.totals().updated,
        2,
        "a manager set counts as an update"
    );
    assert_eq!(manager_of(&sim, ANN), Some(id_of(&sim, BOB)));
    assert_eq!(manager_of(&sim, BOB), Some(id_of(&sim, CAROL)));
    assert_eq!(sim.stats().count("PUT", SET_MANAGER), 2);
    assert_in_sync(cycle.after());

    // Someone moves Ann under Carol in the tenant: the users delta says so, the plan shows the
    // drift and the run moves her back.
    let carol = id_of(&sim, CAROL);
    assert!(sim.update_user(ANN, |u| u.manager = Some(carol.clone())));
    mirror.refresh(&client).await;
    let cycle = engine::converge(&client, &mut mirror, &want, Writes::Apply, &|_, _| {}).await;
    let drift = &cycle.before.objects[&key(Kind::AppAssignment, "team")].drift_entries;
    assert!(
        drift
            .iter()
            .any(|d| d.field == format!("users[{ANN}].manager")
                && d.desired == BOB
                && d.observed == CAROL),
        "{drift:#?}"
    );
    assert_in_sync(cycle.after());
    assert_eq!(manager_of(&sim, ANN), Some(id_of(&sim, BOB)));

    // Someone removes Ann's manager: delta reports the removal (`@removed`), the run sets it.
    assert_eq!(sim.stats().count("PUT", SET_MANAGER), 3);
    assert!(sim.update_user(ANN, |u| u.previous_manager = u.manager.take()));
    mirror.refresh(&client).await;
    let cycle = engine::converge(&client, &mut mirror, &want, Writes::Apply, &|_, _| {}).await;
    assert_eq!(actions_named(&cycle.before, "SetManager").len(), 1);
    assert_in_sync(cycle.after());
    assert_eq!(manager_of(&sim, ANN), Some(id_of(&sim, BOB)));

    // Nothing changed: nothing is sent again.
    mirror.refresh(&client).await;
    let cycle = engine::converge(&client, &mut mirror, &want, Writes::None, &|_, _| {}).await;
    assert_in_sync(&cycle.before);
    assert_eq!(sim.stats().count("PUT", SET_MANAGER), 4);
}

#[tokio::test]
async fn a_manager_not_in_git_is_left_alone_and_one_that_names_nobody_is_a_finding() {
    let sim = start(fixture_with(vec![user(CAROL)])).await;
    converge(&sim, &objects(Some(BOB))).await.assert_converged();
    let bob = id_of(&sim, BOB);

    // Ann's manager is no longer written in git: the tenant's stays.
    let run = converge(&sim, &objects(None)).await;
    run.assert_converged();
    assert!(run.plan.actions.is_empty(), "{:#?}", run.plan.actions);
    assert_eq!(manager_of(&sim, ANN), Some(bob.clone()));

    // A manager nobody has: a finding, the tenant's manager untouched, nothing half-done.
    let puts = sim.stats().count("PUT", SET_MANAGER);
    let run = converge(&sim, &objects(Some("ghost@corp.example.com"))).await;
    run.assert_no_failures();
    let f = finding(&run.replan, Reason::InvalidManager);
    assert_eq!(f.user.as_deref(), Some(ANN));
    assert_eq!(manager_of(&sim, ANN), Some(bob));
    assert_eq!(sim.stats().count("PUT", SET_MANAGER), puts);
    assert_eq!(
        run.replan.objects[&key(Kind::AppAssignment, "team")].state,
        o365_controller::model::State::Blocked
    );
}

#[tokio::test]
async fn a_manager_restored_from_the_recycle_bin_is_bound_in_the_same_run() {
    let sim = start(fixture_with(vec![user(CAROL)])).await;
    converge(&sim, &objects(Some(BOB))).await.assert_converged();
    // Bob leaves the tenant (soft-deleted; Graph drops Ann's reference to him) and comes back
    // in git: one run restores him and binds Ann to him again.
    assert!(sim.soft_delete_user(BOB));
    assert_eq!(manager_of(&sim, ANN), None);
    let run = converge(&sim, &objects(Some(BOB))).await;
    run.assert_converged();
    assert_eq!(run.report.totals().restored, 1);
    assert_eq!(manager_of(&sim, ANN), Some(id_of(&sim, BOB)));
}
