//! Plan + apply against the simulator over HTTP, around the edges of the rules: failed
//! creations hold back licences and federation, label-selected policies, licence removals
//! under the change budget, re-enabling a listed user, missing usage locations, the
//! unmanaged report and a failed domains read.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Drift, Kind, Outcome, Read, Severity};
use o365_graph_sim::{FaultPlan, License, SimConfig};

const ASSIGN_LICENSE: &str = "/users/{id}/assignLicense";

fn policy(name: &str, applies_to: &str, licenses: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: {name}
spec:
  tenantRef:
    name: corp
  appliesTo:
{applies_to}  licenses:
{licenses}{extra}"#
    )
}

const BY_DOMAIN: &str = "    domainRefs:\n      - name: corp\n";

#[tokio::test]
async fn a_failed_creation_skips_its_licences_and_holds_back_federation() {
    let faults = FaultPlan::from_yaml(
        "seed: 3\nrules:\n  - method: POST\n    path: /v1.0/users\n    fault: error\n    status: 503\n",
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(faults),
            ..quiet()
        },
    )
    .await;
    let objects = docs(&[
        &federated_domain(""),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &policy(
            "e3",
            BY_DOMAIN,
            "    - skuPartNumber: ENTERPRISEPACK\n",
            "  usageLocation: US\n",
        ),
    ]);
    let run = converge(&sim, &objects).await;

    let outcome = |name: &str| {
        run.report
            .results
            .iter()
            .find(|(a, _)| action_name(a) == name)
            .map(|(_, o)| o.clone())
            .must(name)
    };
    assert!(
        matches!(outcome("CreateUser"), Outcome::Failed { reason, .. } if reason.contains("503"))
    );
    assert!(matches!(outcome("AssignLicenses"), Outcome::Skipped { .. }));
    assert!(
        matches!(outcome("CreateFederation"), Outcome::Skipped { reason } if reason.contains("immutable ID"))
    );
    let totals = run.report.totals();
    assert_eq!((totals.failed, totals.skipped), (1, 2));
    assert_eq!(sim.stats().count("POST", ASSIGN_LICENSE), 0);
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
    assert_eq!(count_upn(&sim, "ann@corp.example.com"), 0);
}

#[tokio::test]
async fn a_policy_selecting_assignments_by_label_licenses_only_their_users() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("sales", "corp", &["sam@corp.example.com"], ""),
        &assignment("engineering", "corp", &["eng@corp.example.com"], ""),
        &policy(
            "sales-ems",
            "    assignmentSelector:\n      matchLabels:\n        team: sales\n",
            "    - skuPartNumber: EMS\n",
            "  usageLocation: US\n",
        ),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert_eq!(
        direct_skus(&sim.user("sam@corp.example.com").unwrap()),
        vec![EMS.to_string()]
    );
    assert!(
        sim.user("eng@corp.example.com")
            .unwrap()
            .licenses
            .is_empty()
    );
}

#[tokio::test]
async fn remove_unlisted_keeps_licences_another_covering_policy_grants() {
    let mut u = user("ann@corp.example.com");
    u.usage_location = Some("US".into());
    u.licenses = vec![License {
        sku: "EMS".into(),
        disabled_plans: vec![],
    }];
    let sim = start(fixture_with(vec![u])).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &policy(
            "e3",
            BY_DOMAIN,
            "    - skuPartNumber: ENTERPRISEPACK\n",
            "  removeUnlisted: true\n",
        ),
        &policy("ems", BY_DOMAIN, "    - skuPartNumber: EMS\n", ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert_eq!(
        direct_skus(&sim.user("ann@corp.example.com").unwrap()),
        vec![E3.to_string(), EMS.to_string()]
    );
    assert!(
        !run.plan.actions.iter().any(Action::is_destructive),
        "{:#?}",
        run.plan.actions
    );
}

#[tokio::test]
async fn licence_removals_over_the_change_budget_are_held() {
    let upns: Vec<String> = (0..10).map(|i| format!("u{i}@corp.example.com")).collect();
    let users = upns
        .iter()
        .map(|upn| {
            let mut u = user(upn);
            u.usage_location = Some("US".into());
            u.licenses = vec![
                License {
                    sku: "ENTERPRISEPACK".into(),
                    disabled_plans: vec![],
                },
                License {
                    sku: "SMALLPACK".into(),
                    disabled_plans: vec![],
                },
            ];
            u
        })
        .collect();
    let mut f = fixture_with(users);
    for s in &mut f.skus {
        s.enabled = 100;
    }
    let sim = start(f).await;
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let objects = docs(&[
        &managed_domain(
            "corp",
            DOMAIN,
            "  changeBudget:\n    maxDeprovisions: 5\n    maxDeprovisionPercent: 100\n",
        ),
        &assignment("team", "corp", &refs, ""),
        &policy(
            "e3",
            BY_DOMAIN,
            "    - skuPartNumber: ENTERPRISEPACK\n",
            "  removeUnlisted: true\n",
        ),
    ]);
    sim.reset_stats();
    let run = converge(&sim, &objects).await;
    assert_eq!(run.plan.held.len(), 10);
    assert_eq!(writes(&sim), 0);
    assert_eq!(sim.consumed_units(SMALL), Some(10));
    let f = finding(&run.plan, Reason::ChangeBudgetExceeded);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains(&run.plan.id));
}

#[tokio::test]
async fn a_disabled_listed_user_is_enabled_again_when_git_says_account_enabled_true() {
    let mut u = user("ann@corp.example.com");
    u.account_enabled = false;
    let sim = start(fixture_with(vec![u])).await;
    let run = converge(
        &sim,
        &docs(&[
            &managed_domain("corp", DOMAIN, ""),
            r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: team
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: ann@corp.example.com
      displayName: Ann
      accountEnabled: true
"#,
        ]),
    )
    .await;
    run.assert_converged();
    assert!(sim.user("ann@corp.example.com").unwrap().account_enabled);
    let entries = &run.plan.objects[&key(Kind::AppAssignment, "team")].drift_entries;
    assert!(
        entries.iter().any(|e| e.field.contains("accountEnabled")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_user_without_any_usage_location_is_not_licensed_and_graph_never_refuses() {
    let sim = start(fixture_with(vec![user("old@corp.example.com")])).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment(
            "team",
            "corp",
            &["old@corp.example.com", "new@corp.example.com"],
            "",
        ),
        &policy("e3", BY_DOMAIN, "    - skuPartNumber: ENTERPRISEPACK\n", ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();
    assert!(actions_named(&run.plan, "AssignLicenses").is_empty());
    assert_eq!(sim.stats().count("POST", ASSIGN_LICENSE), 0);
    let missing = findings(&run.plan, Reason::MissingUsageLocation);
    for upn in ["old@corp.example.com", "new@corp.example.com"] {
        assert!(
            missing.iter().any(|f| f.user.as_deref() == Some(upn)),
            "{upn}: {missing:#?}"
        );
    }
}

#[tokio::test]
async fn licensed_users_no_assignment_lists_are_in_the_unmanaged_report() {
    let mut stray = user("stray@corp.example.com");
    stray.usage_location = Some("US".into());
    stray.licenses = vec![License {
        sku: "ENTERPRISEPACK".into(),
        disabled_plans: vec![],
    }];
    let mut outside = stray.clone();
    outside.id = String::new();
    outside.user_principal_name = "stray@other.example.com".into();
    let sim = start(fixture_with(vec![stray, outside])).await;
    let run = converge(
        &sim,
        &docs(&[
            &managed_domain("corp", DOMAIN, ""),
            &assignment("team", "corp", &["ann@corp.example.com"], ""),
        ]),
    )
    .await;
    run.assert_no_failures();
    assert_eq!(
        run.plan.unmanaged,
        vec!["stray@corp.example.com".to_string()]
    );
    let f = finding(&run.plan, Reason::UnmanagedUsers);
    assert!(
        f.message.contains("stray@corp.example.com"),
        "{}",
        f.message
    );
    // Reported, never touched.
    assert_eq!(
        direct_skus(&sim.user("stray@corp.example.com").unwrap()),
        vec![E3.to_string()]
    );
}

#[tokio::test]
async fn failed_domains_read_makes_federation_unknown_and_writes_no_federation() {
    let faults = FaultPlan::from_yaml(
        "seed: 5\nrules:\n  - method: GET\n    path: /v1.0/domains*\n    fault: error\n    status: 500\n",
    )
    .must("fault plan");
    let sim = start_with(
        fixture(),
        SimConfig {
            faults: Some(faults),
            ..quiet()
        },
    )
    .await;
    let run = converge(
        &sim,
        &docs(&[
            &federated_domain(""),
            &assignment("team", "corp", &["ann@corp.example.com"], ""),
        ]),
    )
    .await;
    assert!(matches!(run.observed.domains, Read::Unknown(_)));
    assert_eq!(
        drift_of(&run.plan, Kind::FederatedDomain, "corp"),
        Drift::Unknown
    );
    assert!(actions_named(&run.plan, "CreateFederation").is_empty());
    assert_eq!(
        sim.stats()
            .count("POST", "/domains/{id}/federationConfiguration"),
        0
    );
    assert_eq!(sim.domain(DOMAIN).unwrap().authentication_type, "Managed");
}
