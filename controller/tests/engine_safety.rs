//! Plan + apply of the safety rules against the simulator over HTTP: the change budget (held,
//! then released by approving the plan id), Audit mode (zero writes, drift reported) and
//! tri-state drift (a failed read is Unknown and writes nothing for the objects it affects).

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Drift, Kind, Read, Severity};
use o365_controller::resolve::Overrides;
use o365_graph_sim::{FaultPlan, SimConfig};

const ASSIGN_LICENSE: &str = "/users/{id}/assignLicense";

fn e3_policy(extra: &str) -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: e3
spec:
  tenantRef:
    name: corp
  appliesTo:
    domainRefs:
      - name: corp
  licenses:
    - skuPartNumber: ENTERPRISEPACK
  usageLocation: US
{extra}"#
    )
}

/// 10 users of the domain; the first 4 are listed, the other 6 are not.
fn ten_users() -> (Vec<String>, Vec<String>) {
    let all: Vec<String> = (0..10).map(|i| format!("u{i}@corp.example.com")).collect();
    (all[..4].to_vec(), all[4..].to_vec())
}

fn budget_objects(annotation: Option<&str>) -> String {
    let (listed, _) = ten_users();
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let mut domain = managed_domain(
        "corp",
        DOMAIN,
        "  unassignedUsers: Disable\n  changeBudget:\n    maxDeprovisions: 3\n",
    );
    if let Some(id) = annotation {
        domain = domain.replace(
            "metadata:\n  name: corp\n",
            &format!("metadata:\n  name: corp\n  annotations:\n    o365-controller.io/approve-run: {id}\n"),
        );
    }
    docs(&[&domain, &assignment("team", "corp", &refs, "")])
}

#[tokio::test]
async fn over_budget_deprovisioning_is_held_until_the_plan_id_is_approved() {
    let (all, unlisted) = {
        let (a, b) = ten_users();
        ([a, b.clone()].concat(), b)
    };
    let sim = start(fixture_with(all.iter().map(|u| user(u)).collect())).await;
    sim.reset_stats();
    let m = manifests(&sim, &budget_objects(None));

    // Over budget (6 > 3): none of it is done.
    let run = cycle(&m, &Overrides::default()).await;
    assert_eq!(writes(&sim), 0, "{:?}", sim.stats());
    assert!(actions_named(&run.plan, "DisableUser").is_empty());
    assert_eq!(run.plan.held.len(), 6);
    assert!(run.plan.held.iter().all(Action::is_destructive));
    assert!(sim.users().iter().all(|u| u.account_enabled));
    let f = finding(&run.plan, Reason::ChangeBudgetExceeded);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.object, key(Kind::FederatedDomain, "corp"));
    assert!(f.message.contains(&run.plan.id), "{}", f.message);
    assert!(f.message.contains("6 users"), "{}", f.message);
    assert!(!run.replan.is_in_sync());
    assert_eq!(run.replan.id, run.plan.id, "the same actions, the same id");

    // A different plan id releases nothing.
    let run = cycle(
        &m,
        &Overrides {
            approve: Some("not-this-plan".into()),
            ..Overrides::default()
        },
    )
    .await;
    assert_eq!(run.plan.held.len(), 6);
    assert_eq!(writes(&sim), 0);

    // Approving the held plan releases exactly it.
    let id = run.plan.id.clone();
    let run = cycle(
        &m,
        &Overrides {
            approve: Some(id.clone()),
            ..Overrides::default()
        },
    )
    .await;
    run.assert_converged();
    assert!(run.plan.held.is_empty());
    assert_eq!(run.report.totals().disabled, 6);
    assert_eq!(findings(&run.plan, Reason::ChangeBudgetApproved).len(), 1);
    for upn in &unlisted {
        assert!(!sim.user(upn).unwrap().account_enabled, "{upn}");
    }
    assert_eq!(writes(&sim), 6);
}

#[tokio::test]
async fn approve_run_annotation_releases_the_held_plan() {
    let (listed, unlisted) = ten_users();
    let all = [listed, unlisted.clone()].concat();
    let sim = start(fixture_with(all.iter().map(|u| user(u)).collect())).await;
    let (plan, _) = plan_only(
        &manifests(&sim, &budget_objects(None)),
        &Overrides::default(),
    )
    .await;
    assert_eq!(plan.held.len(), 6);

    let m = manifests(&sim, &budget_objects(Some(&plan.id)));
    let run = cycle(&m, &Overrides::default()).await;
    run.assert_converged();
    assert_eq!(run.report.totals().disabled, 6);
    assert!(
        unlisted
            .iter()
            .all(|u| !sim.user(u).unwrap().account_enabled)
    );
}

#[tokio::test]
async fn within_budget_deprovisioning_goes_ahead() {
    let (listed, unlisted) = ten_users();
    let all = [listed.clone(), unlisted[..1].to_vec()].concat();
    let sim = start(fixture_with(all.iter().map(|u| user(u)).collect())).await;
    let refs: Vec<&str> = listed.iter().map(String::as_str).collect();
    let domain = managed_domain(
        "corp",
        DOMAIN,
        "  unassignedUsers: Disable\n  changeBudget:\n    maxDeprovisions: 3\n    maxDeprovisionPercent: 50\n",
    );
    let run = converge(
        &sim,
        &docs(&[&domain, &assignment("team", "corp", &refs, "")]),
    )
    .await;
    run.assert_converged();
    assert_eq!(run.report.totals().disabled, 1);
    assert!(findings(&run.plan, Reason::ChangeBudgetExceeded).is_empty());
}

#[tokio::test]
async fn audit_mode_writes_nothing_and_reports_the_drift() {
    let mut adopt = user("old@corp.example.com");
    adopt.usage_location = Some("US".into());
    let sim = start(fixture_with(vec![adopt, user("leaver@corp.example.com")])).await;
    let objects = docs(&[
        &federated_domain(
            "  unassignedUsers: Disable\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
        ),
        &assignment(
            "team",
            "corp",
            &["old@corp.example.com", "new@corp.example.com"],
            "",
        ),
        &e3_policy(""),
    ]);
    let before = sim.export_fixture();
    sim.reset_stats();
    let m = manifests_mode(&sim, "Audit", &objects);
    let run = cycle(&m, &Overrides::default()).await;

    assert_eq!(sim.stats().writes, 0, "{:?}", sim.stats());
    assert!(run.plan.actions.is_empty(), "{:#?}", run.plan.actions);
    assert!(run.report.results.is_empty());
    assert_eq!(sim.export_fixture(), before, "the tenant is unchanged");
    // ... while everything that would change is reported as drift.
    for (kind, name) in [
        (Kind::FederatedDomain, "corp"),
        (Kind::AppAssignment, "team"),
        (Kind::LicensePolicy, "e3"),
    ] {
        assert_eq!(drift_of(&run.plan, kind, name), Drift::Drifted, "{name}");
    }
    let domain = &run.plan.objects[&key(Kind::FederatedDomain, "corp")].drift_entries;
    assert!(
        domain.iter().any(|e| e.field == "authenticationType"),
        "{domain:?}"
    );
    assert!(
        domain
            .iter()
            .any(|e| e.field.contains("leaver@corp.example.com")),
        "{domain:?}"
    );
    let counts = run.plan.objects[&key(Kind::AppAssignment, "team")]
        .counts
        .clone()
        .unwrap();
    assert_eq!(counts.create, 0);
    assert!(counts.pending >= 1, "{counts:?}");
    assert!(!run.plan.is_in_sync());
}

#[tokio::test]
async fn audit_mode_on_one_policy_leaves_only_its_licences_unwritten() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &["new@corp.example.com"], ""),
        &e3_policy("  mode: Audit\n"),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();
    let u = sim.user("new@corp.example.com").unwrap();
    assert!(u.licenses.is_empty());
    assert_eq!(sim.stats().count("POST", ASSIGN_LICENSE), 0);
    assert_eq!(
        drift_of(&run.replan, Kind::LicensePolicy, "e3"),
        Drift::Drifted
    );
}

fn failing_reads(path: &str) -> SimConfig {
    let plan = FaultPlan::from_yaml(&format!(
        "seed: 7\nrules:\n  - method: GET\n    path: {path}\n    fault: error\n    status: 500\n"
    ))
    .must("fault plan");
    SimConfig {
        faults: Some(plan),
        ..quiet()
    }
}

#[tokio::test]
async fn failed_sku_read_makes_licence_drift_unknown_and_assigns_nothing() {
    let mut old = user("old@corp.example.com");
    old.usage_location = Some("US".into());
    let sim = start_with(
        fixture_with(vec![old]),
        failing_reads("/v1.0/subscribedSkus*"),
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment(
            "team",
            "corp",
            &["old@corp.example.com", "new@corp.example.com"],
            "",
        ),
        &e3_policy(""),
    ]);
    let run = converge(&sim, &objects).await;

    assert!(matches!(run.observed.skus, Read::Unknown(_)));
    assert_eq!(
        drift_of(&run.plan, Kind::LicensePolicy, "e3"),
        Drift::Unknown
    );
    let f = finding(&run.plan, Reason::ReadFailed);
    assert_eq!(f.object, key(Kind::LicensePolicy, "e3"));
    assert!(actions_named(&run.plan, "AssignLicenses").is_empty());
    assert_eq!(sim.stats().count("POST", ASSIGN_LICENSE), 0);
    assert!(sim.users().iter().all(|u| u.licenses.is_empty()));
    // Objects whose reads worked are still converged.
    assert_eq!(count_upn(&sim, "new@corp.example.com"), 1);
    assert_eq!(
        drift_of(&run.replan, Kind::LicensePolicy, "e3"),
        Drift::Unknown
    );
}

#[tokio::test]
async fn failed_users_read_makes_drift_unknown_and_writes_nothing() {
    let sim = start_with(
        fixture_with(vec![user("leaver@corp.example.com")]),
        failing_reads("/v1.0/users*"),
    )
    .await;
    let objects = docs(&[
        &federated_domain(
            "  unassignedUsers: Delete\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
        ),
        &assignment("team", "corp", &["new@corp.example.com"], ""),
        &e3_policy(""),
    ]);
    sim.reset_stats();
    let run = converge(&sim, &objects).await;

    assert!(matches!(run.observed.users, Read::Unknown(_)));
    assert_eq!(sim.stats().writes, 0, "{:?}", sim.stats());
    assert!(run.plan.actions.is_empty(), "{:#?}", run.plan.actions);
    for (kind, name) in [
        (Kind::FederatedDomain, "corp"),
        (Kind::AppAssignment, "team"),
        (Kind::LicensePolicy, "e3"),
    ] {
        assert_eq!(drift_of(&run.plan, kind, name), Drift::Unknown, "{name}");
    }
    assert!(sim.user("leaver@corp.example.com").is_some());
    assert_eq!(count_upn(&sim, "new@corp.example.com"), 0);
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    assert!(!run.plan.is_in_sync());
}
