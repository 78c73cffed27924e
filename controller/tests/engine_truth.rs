//! The truth table and the reports over real HTTP, one engine cycle at a time: what is refused,
//! unknown or short of seats is never "in sync", counts come from outcomes, and the printed
//! approval id releases exactly what is still held.

mod engine_support;

use engine_support::*;
use o365_controller::engine::{self, Verdict};
use o365_controller::model::{Kind, State};
use o365_controller::resolve::Overrides;

fn policy(name: &str, sku: &str) -> String {
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
  usageLocation: US
  licenses:
    - skuPartNumber: {sku}
"#
    )
}

fn corp() -> String {
    managed_domain("corp", DOMAIN, "")
}

fn state(run: &Run, kind: Kind, name: &str) -> State {
    run.replan.objects[&key(kind, name)].state
}

/// Validates a report against the committed JSON Schema.
fn assert_valid(run: &Run) {
    let doc = serde_json::to_value(engine::CycleReport::new(
        "apply",
        vec![run.tenant_report.clone()],
    ))
    .must("the report serialises");
    let schema: serde_json::Value =
        serde_json::from_str(engine::JSON_SCHEMA).must("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).must("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}\n{doc:#}", errors.join("\n"));
}

#[tokio::test]
async fn refused_domains_are_blocked_and_never_in_sync() {
    let sim = start(fixture()).await;
    // (The initial *.onmicrosoft.com domain is refused at admission already; the default and
    // initial cases are planner tests in plan/tests/states.rs.)
    let objects = federated_domain_named("unverified", "unverified.example.com", "");
    let run = converge(&sim, &objects).await;
    finding(&run.replan, Reason::DomainNotVerified);
    assert_eq!(
        state(&run, Kind::FederatedDomain, "unverified"),
        State::Blocked
    );
    assert!(!run.replan.is_in_sync());
    assert_eq!(run.cycle.verdict(), Verdict::Pending, "exit 2, not 0");
    assert_eq!(run.tenant_report.state, State::Blocked);
    assert_valid(&run);
}

#[tokio::test]
async fn a_missing_certificate_secret_blocks_the_domain() {
    let sim = start(fixture()).await;
    let objects = federated_domain("").replace(
        &format!(
            "      value: |\n{}",
            CERT_PEM
                .lines()
                .map(|l| format!("        {l}\n"))
                .collect::<String>()
        ),
        "      secretKeyRef:\n        name: idp-signing\n        key: tls.crt\n",
    );
    assert!(objects.contains("secretKeyRef"), "{objects}");
    let run = converge(&sim, &objects).await;
    finding(&run.replan, Reason::CertificateUnavailable);
    assert_eq!(state(&run, Kind::FederatedDomain, "corp"), State::Blocked);
    assert_eq!(run.cycle.verdict(), Verdict::Pending);
}

#[tokio::test]
async fn an_unknown_sku_blocks_the_policy() {
    let sim = start(fixture_with(vec![user("ann@corp.example.com")])).await;
    let objects = docs(&[
        &corp(),
        &assignment("team", "corp", &["ann@corp.example.com"], ""),
        &policy("nope", "NO_SUCH_SKU"),
    ]);
    let run = converge(&sim, &objects).await;
    finding(&run.replan, Reason::UnknownSku);
    assert_eq!(state(&run, Kind::LicensePolicy, "nope"), State::Blocked);
    assert_eq!(run.cycle.verdict(), Verdict::Pending);
    let f = finding(&run.replan, Reason::UnknownSku);
    assert!(f.message.contains("o365-controller skus"), "{}", f.message);
}

#[tokio::test]
async fn a_seat_shortfall_stays_drifted_across_applies() {
    // SMALLPACK has 2 seats; 4 users want one.
    let upns = [
        "a@corp.example.com",
        "b@corp.example.com",
        "c@corp.example.com",
        "d@corp.example.com",
    ];
    let sim = start(fixture()).await;
    let objects = docs(&[
        &corp(),
        &assignment("team", "corp", &upns, ""),
        &policy("small", "SMALLPACK"),
    ]);
    let m = manifests(&sim, &objects);
    let first = cycle(&m, &Overrides::default()).await;
    assert_eq!(first.tenant_report.totals.outcomes.licensed, 2);
    assert_eq!(state(&first, Kind::LicensePolicy, "small"), State::Drifted);
    assert_eq!(
        first.cycle.verdict(),
        Verdict::Pending,
        "apply must not exit 0"
    );
    let second = cycle(&m, &Overrides::default()).await;
    assert!(second.report.results.is_empty(), "nothing more can be done");
    let o = &second.replan.objects[&key(Kind::LicensePolicy, "small")];
    assert_eq!(o.state, State::Drifted);
    let counts = o.licenses.clone().must("policy counts");
    assert_eq!(
        (counts.licensed, counts.pending, counts.short_of_seats),
        (2, 2, 2)
    );
    assert_eq!(
        second.cycle.verdict(),
        Verdict::Pending,
        "still short: not converged"
    );
    assert_valid(&second);
}

#[tokio::test]
async fn reports_count_adoptions_and_plan_time_skips() {
    let sim = start(fixture_with(vec![
        user("ann@corp.example.com"),
        user("bob@corp.example.com"),
    ]))
    .await;
    let objects = docs(&[
        &corp(),
        &assignment(
            "team",
            "corp",
            &[
                "ann@corp.example.com",
                "bob@corp.example.com",
                "new@corp.example.com",
                "eve@other.example.com",
            ],
            "",
        ),
    ]);
    let run = converge(&sim, &objects).await;
    let t = &run.tenant_report.totals.outcomes;
    assert_eq!((t.created, t.matched, t.skipped), (1, 2, 1), "{t:?}");
    let skipped = &run.tenant_report.skipped;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].user, "eve@other.example.com");
    assert_eq!(skipped[0].reason, Reason::UpnOutsideDomain);
    assert_valid(&run);
}

#[tokio::test]
async fn approving_the_printed_id_after_a_partial_apply_releases_exactly_the_held_remainder() {
    let unlisted: Vec<String> = (0..4).map(|i| format!("old{i}@corp.example.com")).collect();
    let sim = start(fixture_with(unlisted.iter().map(|u| user(u)).collect())).await;
    let objects = docs(&[
        &managed_domain(
            "corp",
            DOMAIN,
            "  unassignedUsers: Disable\n  changeBudget:\n    maxDeprovisions: 1\n",
        ),
        &assignment("team", "corp", &["new@corp.example.com"], ""),
    ]);
    let m = manifests(&sim, &objects);
    let first = cycle(&m, &Overrides::default()).await;
    assert_eq!(
        first.tenant_report.totals.outcomes.created, 1,
        "the new user is created"
    );
    assert_eq!(first.replan.held.len(), 4, "the disables are held");
    assert_eq!(state(&first, Kind::FederatedDomain, "corp"), State::Blocked);
    let id = first
        .cycle
        .held_plan_id()
        .must("an id to approve")
        .to_string();
    assert_ne!(
        id, first.plan.id,
        "the first plan also held the create, which is done"
    );
    assert_eq!(
        first.tenant_report.held_plan_id.as_deref(),
        Some(id.as_str())
    );

    let approve = Overrides {
        approve: Some(id),
        export: false,
    };
    let second = cycle(&m, &approve).await;
    assert_eq!(
        second.tenant_report.totals.outcomes.disabled, 4,
        "{:#?}",
        second.report
    );
    assert!(second.replan.held.is_empty());
    assert!(
        sim.users()
            .iter()
            .filter(|u| u.user_principal_name.starts_with("old"))
            .all(|u| !u.account_enabled)
    );
}
