//! Plan + apply of the licence rules against the simulator over HTTP: the union of SKUs with
//! the intersection of disabled plans, usage location before licences, seat shortfalls
//! reported instead of discovered, and group-inherited licences never removed.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Kind, Outcome};
use o365_graph_sim::{GroupLicense, License, User};

const ASSIGN_LICENSE: &str = "/users/{id}/assignLicense";

fn policy(name: &str, licenses: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: {name}
spec:
  tenantRef:
    name: corp
  appliesTo:
    domainRefs:
      - name: corp
  licenses:
{licenses}{extra}"#
    )
}

fn corp() -> String {
    managed_domain(
        "corp",
        DOMAIN,
        "  changeBudget:\n    maxDeprovisionPercent: 100\n",
    )
}

fn disabled_plans(u: &User, sku: &str) -> Vec<String> {
    let l = u
        .licenses
        .iter()
        .find(|l| l.sku.eq_ignore_ascii_case(sku))
        .must("the licence");
    let mut v: Vec<String> = l.disabled_plans.iter().map(|p| p.to_lowercase()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn overlapping_policies_give_the_union_of_skus_and_the_intersection_of_disabled_plans() {
    let sim = start(fixture()).await;
    let p1 = policy(
        "base",
        "    - skuPartNumber: ENTERPRISEPACK\n      disabledPlans: [YAMMER_ENTERPRISE, SWAY]\n",
        "  usageLocation: US\n",
    );
    let p2 = policy(
        "extra",
        "    - skuPartNumber: ENTERPRISEPACK\n      disabledPlans: [YAMMER_ENTERPRISE]\n    - skuPartNumber: EMS\n",
        "",
    );
    let objects = docs(&[
        &corp(),
        &assignment(
            "team",
            "corp",
            &["ann@corp.example.com", "ben@corp.example.com"],
            "",
        ),
        &p1,
        &p2,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();

    for upn in ["ann@corp.example.com", "ben@corp.example.com"] {
        let u = sim.user(upn).unwrap();
        assert_eq!(
            direct_skus(&u),
            vec![E3.to_string(), EMS.to_string()],
            "{upn}: union"
        );
        // SWAY is disabled by one policy only, so it stays enabled; YAMMER by both.
        assert_eq!(
            disabled_plans(&u, E3),
            vec![YAMMER.to_string()],
            "{upn}: intersection"
        );
        assert!(disabled_plans(&u, EMS).is_empty());
    }
    // One assignLicense per user, with both SKUs.
    assert_eq!(actions_named(&run.plan, "AssignLicenses").len(), 2);
    assert_eq!(sim.stats().count_status("POST", ASSIGN_LICENSE, 200), 2);
}

#[tokio::test]
async fn disabled_plans_of_an_existing_licence_are_corrected() {
    let mut u = user("ann@corp.example.com");
    u.usage_location = Some("US".into());
    u.licenses = vec![License {
        sku: E3.into(),
        disabled_plans: vec![TEAMS.into()],
    }];
    let sim = start(fixture_with(vec![u])).await;
    let p = policy(
        "base",
        "    - skuPartNumber: ENTERPRISEPACK\n      disabledPlans: [YAMMER_ENTERPRISE]\n",
        "",
    );
    let objects = docs(&[
        &corp(),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &p,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    let entries = &run.plan.objects[&key(Kind::LicensePolicy, "base")].drift_entries;
    assert!(
        entries.iter().any(|e| e.field.ends_with("disabledPlans")),
        "{entries:?}"
    );
    let u = sim.user("ann@corp.example.com").unwrap();
    assert_eq!(disabled_plans(&u, E3), vec![YAMMER.to_string()]);
    assert_eq!(sim.consumed_units(E3), Some(1), "no second seat");
}

#[tokio::test]
async fn usage_location_is_set_before_licences_are_assigned() {
    // An existing user without usage location, and a new one listed without one.
    let sim = start(fixture_with(vec![user("old@corp.example.com")])).await;
    let p = policy(
        "e3",
        "    - skuPartNumber: ENTERPRISEPACK\n",
        "  usageLocation: DE\n",
    );
    let objects = docs(&[
        &corp(),
        &assignment(
            "team",
            "corp",
            &["old@corp.example.com", "new@corp.example.com"],
            "",
        ),
        &p,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();

    for upn in ["old@corp.example.com", "new@corp.example.com"] {
        let u = sim.user(upn).unwrap();
        assert_eq!(u.usage_location.as_deref(), Some("DE"), "{upn}");
        assert_eq!(direct_skus(&u), vec![E3.to_string()], "{upn}");
    }
    // In the report, the usage location of old@ is written before its licence.
    let pos = |pred: &dyn Fn(&Action) -> bool| {
        run.report
            .results
            .iter()
            .position(|(a, o)| pred(a) && *o == Outcome::Done)
            .must("action in the report")
    };
    let set_location = pos(&|a| {
        matches!(a, Action::UpdateUser { user_principal_name, changes, .. }
            if user_principal_name == "old@corp.example.com"
                && changes.usage_location.as_deref() == Some("DE"))
    });
    let license = pos(&|a| {
        matches!(a, Action::AssignLicenses { user_principal_name, .. }
            if user_principal_name == "old@corp.example.com")
    });
    assert!(set_location < license);
    let create = pos(&|a| {
        matches!(a, Action::CreateUser { user }
            if user.user_principal_name == "new@corp.example.com"
                && user.usage_location.as_deref() == Some("DE"))
    });
    let license_new = pos(&|a| {
        matches!(a, Action::AssignLicenses { user_principal_name, .. }
            if user_principal_name == "new@corp.example.com")
    });
    assert!(create < license_new);
    // Graph never had to refuse a licence for a missing usage location.
    assert_eq!(sim.stats().count_status("POST", ASSIGN_LICENSE, 400), 0);
}

#[tokio::test]
async fn seat_shortfall_licenses_only_the_users_that_fit_and_is_reported_with_numbers() {
    // SMALLPACK has 2 seats; 5 users want it.
    let upns: Vec<String> = (1..=5).map(|i| format!("u{i}@corp.example.com")).collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let sim = start(fixture()).await;
    let p = policy(
        "small",
        "    - skuPartNumber: SMALLPACK\n",
        "  usageLocation: US\n",
    );
    let objects = docs(&[&corp(), &assignment("team", "corp", &refs, ""), &p]);
    let run = converge(&sim, &objects).await;
    run.assert_no_failures();

    let licensed = sim
        .users()
        .iter()
        .filter(|u| direct_skus(u).contains(&SMALL.to_string()))
        .count();
    assert_eq!(licensed, 2);
    assert_eq!(sim.consumed_units(SMALL), Some(2));
    assert_eq!(
        run.report.totals().created,
        5,
        "every user is still created"
    );
    assert_eq!(run.report.totals().licensed, 2);
    // Reported, not discovered one 400 at a time.
    let stats = sim.stats();
    assert_eq!(stats.count_status("POST", ASSIGN_LICENSE, 400), 0);
    assert_eq!(stats.count_status("POST", ASSIGN_LICENSE, 200), 2);
    let f = finding(&run.plan, Reason::InsufficientSeats);
    assert_eq!(f.object, key(Kind::LicensePolicy, "small"));
    assert!(f.message.contains("SMALLPACK"), "{}", f.message);
    let seats = &run.plan.objects[&key(Kind::LicensePolicy, "small")].seats;
    let small = seats
        .iter()
        .find(|s| s.sku_part_number == "SMALLPACK")
        .must("seat demand");
    assert_eq!(
        (small.enabled, small.consumed, small.needed, small.shortfall),
        (2, 0, 5, 3)
    );
    // The next run still reports the shortfall and tries no assignment.
    assert!(actions_named(&run.replan, "AssignLicenses").is_empty());
    assert_eq!(findings(&run.replan, Reason::InsufficientSeats).len(), 1);
}

#[tokio::test]
async fn group_inherited_licences_are_never_removed_by_remove_unlisted() {
    let mut u = user("ann@corp.example.com");
    u.usage_location = Some("US".into());
    u.group_licenses = vec![GroupLicense {
        sku: "EMS".into(),
        disabled_plans: vec![],
        group_id: "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
        state: None,
        error: None,
    }];
    u.licenses = vec![License {
        sku: "SMALLPACK".into(),
        disabled_plans: vec![],
    }];
    let sim = start(fixture_with(vec![u])).await;
    let p = policy(
        "e3",
        "    - skuPartNumber: ENTERPRISEPACK\n",
        "  removeUnlisted: true\n",
    );
    let objects = docs(&[
        &corp(),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &p,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();

    let ann = sim.user("ann@corp.example.com").unwrap();
    // The unlisted direct licence is removed, the policy's added ...
    assert_eq!(direct_skus(&ann), vec![E3.to_string()]);
    // ... and the group licence is untouched.
    assert_eq!(ann.group_licenses.len(), 1);
    assert!(ann.group_licenses[0].sku.eq_ignore_ascii_case(EMS));
    let removed: Vec<&String> = run
        .plan
        .actions
        .iter()
        .flat_map(|a| match a {
            Action::AssignLicenses { remove, .. } => remove.iter().collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(
        removed.iter().any(|s| s.eq_ignore_ascii_case(SMALL)),
        "{removed:?}"
    );
    assert!(
        !removed.iter().any(|s| s.eq_ignore_ascii_case(EMS)),
        "{removed:?}"
    );
    assert_eq!(sim.stats().count_status("POST", ASSIGN_LICENSE, 400), 0);
}

#[tokio::test]
async fn without_remove_unlisted_other_direct_licences_stay() {
    let mut u = user("ann@corp.example.com");
    u.usage_location = Some("US".into());
    u.licenses = vec![License {
        sku: "SMALLPACK".into(),
        disabled_plans: vec![],
    }];
    let sim = start(fixture_with(vec![u])).await;
    let p = policy("e3", "    - skuPartNumber: ENTERPRISEPACK\n", "");
    let objects = docs(&[
        &corp(),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &p,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    let ann = sim.user("ann@corp.example.com").unwrap();
    assert_eq!(direct_skus(&ann), vec![E3.to_string(), SMALL.to_string()]);
}
