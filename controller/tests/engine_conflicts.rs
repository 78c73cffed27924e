//! Creations that Graph refuses with `ObjectConflict`: only a conflict on the UPN means the
//! user already exists (matched). A conflict on `onPremisesImmutableId` means another user holds
//! that ID and this one was NOT created; reporting it as matched hides a missing user.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Outcome};
use o365_controller::plan::derive_immutable_id;
use o365_controller::resolve::Overrides;

fn create_outcome<'r>(report: &'r o365_controller::model::Report, upn: &str) -> &'r Outcome {
    report
        .results
        .iter()
        .find(|(a, _)| matches!(a, Action::CreateUser { user } if user.user_principal_name == upn))
        .map(|(_, o)| o)
        .must("the CreateUser of the report")
}

/// The UPN conflict is the idempotent case: a user created by an earlier, interrupted run.
#[tokio::test]
async fn create_of_an_existing_upn_is_reported_as_matched() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
    ]);
    let m = manifests(&sim, &objects);
    let (client, mirror) = connect(&m).await;
    let plan = o365_controller::plan::plan(&desired(&m, &Overrides::default()), mirror.observed());
    // The user appears between plan and apply (another run, the admin center).
    let mut ann = user("ann@corp.example.com");
    ann.on_premises_immutable_id = Some(derive_immutable_id("ann@corp.example.com"));
    sim.insert_user(ann).must("insert");
    let report = apply_plan(&client, &plan).await;
    assert_eq!(
        create_outcome(&report, "ann@corp.example.com"),
        &Outcome::AlreadyDone
    );
    assert_eq!(count_upn(&sim, "ann@corp.example.com"), 1);
}

#[tokio::test]
async fn create_refused_because_another_user_holds_the_immutable_id_is_a_failure_not_a_match() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        E3_POLICY,
    ]);
    let m = manifests(&sim, &objects);
    let (client, mirror) = connect(&m).await;
    let plan = o365_controller::plan::plan(&desired(&m, &Overrides::default()), mirror.observed());
    // Between plan and apply, ANOTHER user gets the immutable ID ann would be created with.
    let mut other = user("ann.other@corp.example.com");
    other.on_premises_immutable_id = Some(derive_immutable_id("ann@corp.example.com"));
    sim.insert_user(other).must("insert");

    let report = apply_plan(&client, &plan).await;
    // Graph refused the creation (400 ObjectConflict on onPremisesImmutableId): ann does not
    // exist, so the run must not report her as matched.
    assert_eq!(count_upn(&sim, "ann@corp.example.com"), 0);
    let outcome = create_outcome(&report, "ann@corp.example.com");
    assert!(
        matches!(outcome, Outcome::Failed { reason, .. } if reason.contains("onPremisesImmutableId")),
        "ann was not created, but the report says {outcome:?} (totals {:?})",
        report.totals()
    );
    assert_eq!(report.totals().matched, 0);
}

#[tokio::test]
async fn two_new_users_with_the_same_immutable_id_are_not_reported_as_created_or_matched() {
    let sim = start(fixture()).await;
    let team = r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: team
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: ann@corp.example.com
      displayName: Ann
      immutableId: c2FtZS1pZA==
    - userPrincipalName: bob@corp.example.com
      displayName: Bob
      immutableId: c2FtZS1pZA==
"#;
    let run = converge(&sim, &docs(&[&federated_domain(""), team, E3_POLICY])).await;
    // Only one of them can exist.
    let created = ["ann@corp.example.com", "bob@corp.example.com"]
        .iter()
        .filter(|u| count_upn(&sim, u) == 1)
        .count();
    assert_eq!(created, 1);
    // Whatever the plan does (report a conflict up front, or try and fail), the report must
    // not claim both users are in the tenant.
    let totals = run.report.totals();
    assert!(
        totals.created + totals.matched <= 1,
        "the report claims {} created and {} matched, but only one user exists; results: {:#?}",
        totals.created,
        totals.matched,
        run.report.results
    );
}
