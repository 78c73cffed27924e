//! Plan + apply of the users rules against the simulator over HTTP: domain match, match (never
//! duplicate) and adoption, immutable-ID derivation, Manual vs Auto export, conflicting
//! listings, protected and admin users, and unassigned users.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Drift, Kind, Outcome, Severity};
use o365_controller::plan::derive_immutable_id;
use o365_controller::resolve::Overrides;
use o365_graph_sim::User;

fn corp_managed(extra: &str) -> String {
    managed_domain("corp", DOMAIN, extra)
}

#[tokio::test]
async fn user_of_another_domain_is_skipped_with_a_reason_and_not_created() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &corp_managed(""),
        &assignment(
            "team",
            "corp",
            &["ann.lee@corp.example.com", "bob.stone@other.example.com"],
            "",
        ),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();

    assert_eq!(count_upn(&sim, "ann.lee@corp.example.com"), 1);
    assert_eq!(count_upn(&sim, "bob.stone@other.example.com"), 0);
    let skipped = finding(&run.plan, Reason::UpnOutsideDomain);
    assert_eq!(skipped.user.as_deref(), Some("bob.stone@other.example.com"));
    assert!(
        skipped.message.contains("not in domain corp.example.com"),
        "{}",
        skipped.message
    );
    assert!(actions_about(&run.plan, "bob.stone@other.example.com").is_empty());
    let counts = run.plan.objects[&key(Kind::AppAssignment, "team")]
        .counts
        .clone()
        .unwrap();
    assert_eq!((counts.desired, counts.create, counts.skipped), (2, 1, 1));
    // The skip is reported again on the next run: it is a property of the spec.
    assert_eq!(findings(&run.replan, Reason::UpnOutsideDomain).len(), 1);
}

#[tokio::test]
async fn existing_upn_is_matched_not_duplicated_and_adoption_sets_its_immutable_id() {
    let carol = "carol.ng@corp.example.com";
    let mut existing = user(carol);
    existing.usage_location = Some("US".into());
    let sim = start(fixture_with(vec![existing])).await;
    let before = sim.user(carol).unwrap();
    assert!(before.on_premises_immutable_id.is_none());

    let objects = docs(&[
        &federated_domain(""),
        // Listed with a different case: still the same user.
        &assignment("team", "corp", &["Carol.Ng@corp.example.com"], ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();

    assert_eq!(count_upn(&sim, carol), 1, "matched, never duplicated");
    assert!(actions_named(&run.plan, "CreateUser").is_empty());
    let after = sim.user(carol).unwrap();
    assert_eq!(after.id, before.id, "the same object was adopted");
    assert_eq!(
        after.on_premises_immutable_id.as_deref(),
        Some(derive_immutable_id(carol).as_str())
    );
    let counts = run.plan.objects[&key(Kind::AppAssignment, "team")]
        .counts
        .clone()
        .unwrap();
    assert_eq!((counts.matched, counts.create), (1, 0));
    // Adopted in the same run, so federation was not refused for lack of an immutable ID.
    assert!(findings(&run.plan, Reason::MissingImmutableIds).is_empty());
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Federated");
    let adopt = run
        .report
        .results
        .iter()
        .find(|(a, _)| matches!(a, Action::UpdateUser { changes, .. } if changes.immutable_id.is_some()))
        .expect("an UpdateUser setting the immutable ID");
    assert_eq!(adopt.1, Outcome::Done);
}

#[tokio::test]
async fn created_users_immutable_id_is_derived_from_the_upn_unless_given() {
    let sim = start(fixture()).await;
    let assignment_yaml = r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: team
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: Dan.Brown@corp.example.com
      displayName: Dan Brown
    - userPrincipalName: erin.fox@corp.example.com
      displayName: Erin Fox
      immutableId: ZXJpbi1mcm9tLWhy
"#;
    let run = converge(&sim, &docs(&[&federated_domain(""), assignment_yaml])).await;
    run.assert_converged();

    let dan = sim.user("dan.brown@corp.example.com").unwrap();
    assert_eq!(
        dan.on_premises_immutable_id.as_deref(),
        Some(derive_immutable_id("Dan.Brown@corp.example.com").as_str())
    );
    // The documented derivation: base64 of the lower-cased UPN.
    assert_eq!(
        dan.on_premises_immutable_id.as_deref(),
        Some("ZGFuLmJyb3duQGNvcnAuZXhhbXBsZS5jb20=")
    );
    let erin = sim.user("erin.fox@corp.example.com").unwrap();
    assert_eq!(
        erin.on_premises_immutable_id.as_deref(),
        Some("ZXJpbi1mcm9tLWhy")
    );
    assert_eq!(run.report.totals().created, 2);
}

#[tokio::test]
async fn manual_provisioning_creates_nothing_until_an_export_is_requested() {
    let sim = start(fixture()).await;
    let manual = assignment(
        "manual",
        "corp",
        &["gil.hart@corp.example.com", "hana.ito@corp.example.com"],
        "  provisioning: Manual\n",
    );
    let auto = assignment("auto", "corp", &["ivan.kos@corp.example.com"], "");
    let objects = docs(&[&corp_managed(""), &manual, &auto]);
    let m = manifests(&sim, &objects);

    let run = cycle(&m, &Overrides::default()).await;
    run.assert_no_failures();
    // Auto: created at once.
    assert_eq!(count_upn(&sim, "ivan.kos@corp.example.com"), 1);
    // Manual: planned and shown, not created.
    assert_eq!(count_upn(&sim, "gil.hart@corp.example.com"), 0);
    assert_eq!(count_upn(&sim, "hana.ito@corp.example.com"), 0);
    let waiting = finding(&run.plan, Reason::ExportNotRequested);
    assert_eq!(waiting.object, key(Kind::AppAssignment, "manual"));
    assert!(waiting.message.contains("export-requested-at"));
    let counts = run.plan.objects[&key(Kind::AppAssignment, "manual")]
        .counts
        .clone()
        .unwrap();
    assert_eq!((counts.pending, counts.create), (2, 0));
    assert_eq!(
        drift_of(&run.replan, Kind::AppAssignment, "manual"),
        Drift::Drifted,
        "the missing users are still drift"
    );
    assert!(!run.replan.is_in_sync());

    // START EXPORT: the annotation differs from the status' last export.
    let annotated = manual.replace(
        "  labels:\n",
        "  annotations:\n    o365-controller.io/export-requested-at: \"2026-01-01T00:00:00Z\"\n  labels:\n",
    );
    let objects = docs(&[&corp_managed(""), &annotated, &auto]);
    let run = cycle(&manifests(&sim, &objects), &Overrides::default()).await;
    run.assert_converged();
    assert_eq!(run.report.totals().created, 2);
    assert_eq!(count_upn(&sim, "gil.hart@corp.example.com"), 1);
    assert_eq!(count_upn(&sim, "hana.ito@corp.example.com"), 1);
}

#[tokio::test]
async fn manual_provisioning_export_flag_creates_the_users() {
    let sim = start(fixture()).await;
    let manual = assignment(
        "manual",
        "corp",
        &["gil.hart@corp.example.com"],
        "  provisioning: Manual\n",
    );
    let m = manifests(&sim, &docs(&[&corp_managed(""), &manual]));
    let run = cycle(
        &m,
        &Overrides {
            export: true,
            ..Overrides::default()
        },
    )
    .await;
    assert_eq!(run.report.totals().created, 1);
    assert_eq!(count_upn(&sim, "gil.hart@corp.example.com"), 1);
}

#[tokio::test]
async fn conflicting_attributes_across_two_assignments_leave_the_user_alone() {
    let mut eve = user("eve.moss@corp.example.com");
    eve.display_name = "Eve Original".into();
    let sim = start(fixture_with(vec![eve])).await;
    let a = r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: alpha
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: eve.moss@corp.example.com
      displayName: Eve Alpha
    - userPrincipalName: finn.ray@corp.example.com
      displayName: Finn Alpha
    - userPrincipalName: gail.poe@corp.example.com
      displayName: Gail Poe
"#;
    let b = r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: beta
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: eve.moss@corp.example.com
      displayName: Eve Beta
    - userPrincipalName: finn.ray@corp.example.com
      displayName: Finn Beta
    - userPrincipalName: gail.poe@corp.example.com
      displayName: Gail Poe
"#;
    let before = sim.user("eve.moss@corp.example.com").unwrap();
    let run = converge(&sim, &docs(&[&corp_managed(""), a, b])).await;
    run.assert_no_failures();

    // The existing user is not changed, the missing one is not created.
    assert_eq!(sim.user("eve.moss@corp.example.com").unwrap(), before);
    assert_eq!(count_upn(&sim, "finn.ray@corp.example.com"), 0);
    assert!(actions_about(&run.plan, "eve.moss@corp.example.com").is_empty());
    assert!(actions_about(&run.plan, "finn.ray@corp.example.com").is_empty());
    // Identical listings are no conflict: created once.
    assert_eq!(count_upn(&sim, "gail.poe@corp.example.com"), 1);

    let conflicts = findings(&run.plan, Reason::ConflictingAssignments);
    for name in ["alpha", "beta"] {
        for upn in ["eve.moss@corp.example.com", "finn.ray@corp.example.com"] {
            assert!(
                conflicts
                    .iter()
                    .any(|f| f.object == key(Kind::AppAssignment, name)
                        && f.user.as_deref() == Some(upn)
                        && f.severity == Severity::Error),
                "{name} / {upn}: {conflicts:#?}"
            );
        }
    }
}

fn role_user(upn: &str, role: &str) -> User {
    let mut u = user(upn);
    u.roles = vec![role.into()];
    u
}

#[tokio::test]
async fn protected_and_admin_role_users_are_never_touched() {
    let users = vec![
        user("boss@corp.example.com"), // protected, unlisted
        user("vip@corp.example.com"),  // protected, listed with other attributes
        role_user("it.admin@corp.example.com", "Global Administrator"), // unlisted admin
        role_user("helpdesk@corp.example.com", "Global Administrator"), // listed admin
        user("leaver@corp.example.com"), // unlisted: deleted
        user("stayer@corp.example.com"), // listed
    ];
    let sim = start(fixture_with(users)).await;
    let before: Vec<User> = ["boss", "vip", "it.admin", "helpdesk"]
        .iter()
        .map(|n| sim.user(&format!("{n}@corp.example.com")).unwrap())
        .collect();
    let domain = corp_managed(
        "  unassignedUsers: Delete\n  protectedUsers:\n    - Boss@corp.example.com\n    - vip@corp.example.com\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
    );
    let team = r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: team
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: vip@corp.example.com
      displayName: Renamed VIP
      usageLocation: FR
    - userPrincipalName: helpdesk@corp.example.com
      displayName: Renamed Helpdesk
      usageLocation: FR
    - userPrincipalName: stayer@corp.example.com
      displayName: Stayer
"#;
    let policy = E3_POLICY;
    let run = converge(&sim, &docs(&[&domain, team, policy])).await;
    run.assert_no_failures();

    for b in &before {
        let now = sim.user(&b.id).unwrap();
        assert_eq!(&now, b, "{} was touched", b.user_principal_name);
        assert!(
            actions_about(&run.plan, &b.user_principal_name).is_empty(),
            "{}",
            b.user_principal_name
        );
    }
    assert!(sim.user("leaver@corp.example.com").is_none());
    assert!(
        sim.deleted_users()
            .iter()
            .any(|u| u.user_principal_name == "leaver@corp.example.com"),
        "soft-deleted"
    );
    assert_eq!(
        direct_skus(&sim.user("stayer@corp.example.com").unwrap()),
        vec![E3.to_string()]
    );
    let protected = findings(&run.plan, Reason::ProtectedUser);
    assert!(
        protected
            .iter()
            .any(|f| f.user.as_deref() == Some("vip@corp.example.com"))
    );
    let admins = findings(&run.plan, Reason::AdminRoleUser);
    for upn in ["it.admin@corp.example.com", "helpdesk@corp.example.com"] {
        assert!(
            admins.iter().any(|f| f.user.as_deref() == Some(upn)),
            "{upn}: {admins:#?}"
        );
    }
}

#[tokio::test]
async fn unassigned_users_are_disabled_with_disable() {
    let sim = start(fixture_with(vec![
        user("keep@corp.example.com"),
        user("gone@corp.example.com"),
        user("outside@other.example.com"),
    ]))
    .await;
    let domain = corp_managed(
        "  unassignedUsers: Disable\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
    );
    let team = assignment("team", "corp", &["keep@corp.example.com"], "");
    let run = converge(&sim, &docs(&[&domain, &team])).await;
    run.assert_converged();

    assert!(!sim.user("gone@corp.example.com").unwrap().account_enabled);
    assert!(sim.user("keep@corp.example.com").unwrap().account_enabled);
    assert!(
        sim.user("outside@other.example.com")
            .unwrap()
            .account_enabled,
        "users of other domains are not this domain's business"
    );
    assert_eq!(run.report.totals().disabled, 1);
    let disable = actions_named(&run.plan, "DisableUser");
    assert_eq!(disable.len(), 1);
    assert_eq!(disable[0].subject(), "gone@corp.example.com");
}

#[tokio::test]
async fn unassigned_users_are_soft_deleted_with_delete() {
    let sim = start(fixture_with(vec![
        user("keep@corp.example.com"),
        user("gone@corp.example.com"),
    ]))
    .await;
    let domain = corp_managed(
        "  unassignedUsers: Delete\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
    );
    let team = assignment("team", "corp", &["keep@corp.example.com"], "");
    let run = converge(&sim, &docs(&[&domain, &team])).await;
    run.assert_converged();

    assert!(sim.user("gone@corp.example.com").is_none());
    assert_eq!(sim.deleted_users().len(), 1);
    assert_eq!(count_upn(&sim, "keep@corp.example.com"), 1);
    assert_eq!(run.report.totals().deleted, 1);
}

#[tokio::test]
async fn unassigned_users_are_left_alone_by_default() {
    let sim = start(fixture_with(vec![user("gone@corp.example.com")])).await;
    let team = assignment("team", "corp", &["keep@corp.example.com"], "");
    sim.reset_stats();
    let run = converge(&sim, &docs(&[&corp_managed(""), &team])).await;
    run.assert_converged();
    assert!(sim.user("gone@corp.example.com").unwrap().account_enabled);
    assert_eq!(writes(&sim), 1, "only the creation of keep@");
}
