//! Identity anchors, conflicts between objects and resilience (issue 10, items 4–6), against the
//! simulator over HTTP: a deleted user listed again is restored with its object id; a new UPN
//! for the same immutable ID renames the account in place; an account disabled outside git
//! stays disabled; two FederatedDomains for one domain write nothing; a 503 from the token
//! endpoint on the very first request, a lost federation-create response and a 404 on a user
//! created moments before (replication lag) do not fail the run.

mod engine_support;

use engine_support::*;
use o365_controller::model::{Action, Kind, Outcome, Severity};
use o365_controller::resolve::{self, Objects, Overrides};
use o365_graph_sim::{FaultPlan, SimConfig, Simulator};

const ANN: &str = "ann@corp.example.com";
const BOB: &str = "bob@corp.example.com";

/// A managed `corp` that deletes unassigned users, with a budget that lets it.
fn deleting_domain() -> String {
    managed_domain(
        "corp",
        DOMAIN,
        "  unassignedUsers: Delete\n  changeBudget:\n    maxDeprovisionPercent: 100\n",
    )
}

/// An AppAssignment `team` of `corp` listing one user with an explicit immutable ID.
fn anchored_assignment(upn: &str, immutable_id: &str) -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: team
spec:
  domainRef:
    name: corp
  users:
    - userPrincipalName: {upn}
      displayName: {}
      immutableId: "{immutable_id}"
"#,
        display_name(upn)
    )
}

fn with_faults(yaml: &str) -> SimConfig {
    SimConfig {
        faults: Some(FaultPlan::from_yaml(yaml).must("fault plan")),
        ..quiet()
    }
}

/// Requests the simulator answered for `method path` with `status`.
fn answered(sim: &Simulator, method: &str, path: &str, status: u16) -> u64 {
    sim.stats()
        .requests
        .iter()
        .filter(|(k, _)| k.method == method && k.path == path && k.status == status)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_listed_again_is_restored_with_its_object_id() {
    let sim = start(fixture()).await;
    let both = docs(&[
        &deleting_domain(),
        &assignment("team", "corp", &[ANN, BOB], ""),
    ]);
    converge(&sim, &both).await.assert_converged();
    let id = sim.user(ANN).must("ann created").id;

    let only_bob = docs(&[&deleting_domain(), &assignment("team", "corp", &[BOB], "")]);
    converge(&sim, &only_bob).await.assert_converged();
    assert!(sim.user(ANN).is_none(), "ann is deleted");
    assert!(sim.deleted_users().iter().any(|u| u.id == id));

    let run = converge(&sim, &both).await;
    run.assert_converged();
    assert!(
        actions_named(&run.plan, "CreateUser").is_empty(),
        "{:#?}",
        run.plan.actions
    );
    assert_eq!(actions_named(&run.plan, "RestoreUser").len(), 1);
    assert_eq!(sim.user(ANN).must("ann restored").id, id);
    assert_eq!(count_upn(&sim, ANN), 1);
    assert_eq!(run.report.totals().restored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_upn_for_the_same_immutable_id_renames_the_user_keeping_its_object_id() {
    let mut old = user("ann.smith@corp.example.com");
    old.on_premises_immutable_id = Some("QW5uLTQy".into());
    old.usage_location = Some("US".into());
    let sim = start(fixture_with(vec![old])).await;
    let id = sim
        .user("ann.smith@corp.example.com")
        .must("fixture user")
        .id;
    let objects = docs(&[
        &deleting_domain(),
        &anchored_assignment("ann.lee@corp.example.com", "QW5uLTQy"),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert!(actions_named(&run.plan, "CreateUser").is_empty());
    assert!(actions_named(&run.plan, "DeleteUser").is_empty());
    let renamed = sim.user("ann.lee@corp.example.com").must("renamed user");
    assert_eq!(renamed.id, id);
    assert!(sim.user("ann.smith@corp.example.com").is_none());
    assert!(sim.deleted_users().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_disabled_outside_git_stays_disabled_with_a_warning() {
    let mut off = user(ANN);
    off.account_enabled = false;
    let sim = start(fixture_with(vec![off])).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &[ANN], ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert!(!sim.user(ANN).must("ann").account_enabled);
    let f = finding(&run.replan, Reason::DisabledOutsideGit);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.object, key(Kind::AppAssignment, "team"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_federated_domains_for_one_domain_write_nothing() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &federated_domain_named("corp", DOMAIN, "  unassignedUsers: Disable\n"),
        &federated_domain_named("corp-copy", DOMAIN, "  unassignedUsers: Disable\n"),
    ]);
    let run = converge(&sim, &objects).await;
    let federations = actions_named(&run.plan, "CreateFederation");
    assert!(federations.is_empty(), "{federations:#?}");
    for (me, other) in [("corp", "corp-copy"), ("corp-copy", "corp")] {
        let f = run
            .plan
            .findings
            .iter()
            .find(|f| {
                f.reason == Reason::DuplicateDomain && f.object == key(Kind::FederatedDomain, me)
            })
            .must("DuplicateDomain on both");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains(other), "{}", f.message);
    }
    assert_eq!(writes(&sim), 0);
    assert_eq!(
        sim.domain(DOMAIN).must("domain").authentication_type,
        "Managed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_for_one_tenant_id_are_both_blocked_and_write_nothing() {
    let sim = start(fixture()).await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &[ANN], ""),
    ]);
    let m = manifests(&sim, &objects);
    // A second Tenant object (another name) for the same tenantId.
    let mut copy = m.tenants[0].clone();
    copy.metadata.name = Some("corp-copy".into());
    let tenants = [m.tenants[0].clone(), copy];
    let (client, mirror) = connect(&m).await;
    for tenant in &tenants {
        let mut want = resolve::desired_tenant(
            tenant,
            Objects {
                domains: &m.domains,
                assignments: &m.assignments,
                policies: &m.policies,
                namespaces: &Default::default(),
            },
            &resolve::ManifestKeys(&m.secrets),
            &Overrides::default(),
        );
        want.same_tenant = resolve::same_tenant(tenant, &tenants);
        let plan = o365_controller::plan::plan(&want, mirror.observed());
        assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
        let f = plan
            .findings
            .iter()
            .find(|f| f.reason == Reason::DuplicateTenant && f.object.kind == Kind::Tenant)
            .must("DuplicateTenant on the Tenant");
        assert_eq!(f.severity, Severity::Error);
        let other = if tenant.metadata.name.as_deref() == Some("corp") {
            "corp-copy"
        } else {
            "Tenant/corp"
        };
        assert!(f.message.contains(other), "{}", f.message);
        apply_plan(&client, &plan).await;
    }
    assert_eq!(writes(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_the_token_endpoint_on_the_first_request_is_retried() {
    let sim = start_with(
        fixture(),
        with_faults(
            r#"
rules:
  - method: POST
    path: "*/oauth2/v2.0/token"
    fault: error
    status: 503
    maxHits: 1
"#,
        ),
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &[ANN], ""),
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert_eq!(
        answered(&sim, "POST", "/{tenant}/oauth2/v2.0/token", 503),
        1,
        "{:?}",
        error_requests(&sim)
    );
    assert!(sim.user(ANN).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_federation_create_response_is_read_back_and_matched() {
    let sim = start_with(
        fixture(),
        with_faults(&format!(
            r#"
rules:
  - method: POST
    path: "/v1.0/domains/{DOMAIN}/federationConfiguration"
    fault: loseResponse
    maxHits: 1
"#
        )),
    )
    .await;
    let run = converge(&sim, &federated_domain("")).await;
    run.assert_converged();
    let outcomes: Vec<&Outcome> = run
        .report
        .results
        .iter()
        .filter(|(a, _)| matches!(a, Action::CreateFederation { .. }))
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes, [&Outcome::AlreadyDone]);
    assert_eq!(sim.stats().faults, 1, "the response was lost once");
    assert_eq!(
        sim.domain(DOMAIN).must("domain").authentication_type,
        "Federated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_on_a_user_created_moments_before_is_retried() {
    let sim = start_with(
        fixture(),
        with_faults(
            r#"
rules:
  - method: POST
    regex: "^/v1.0/users/[^/]+/assignLicense$"
    fault: error
    status: 404
    maxHits: 2
"#,
        ),
    )
    .await;
    let objects = docs(&[
        &managed_domain("corp", DOMAIN, ""),
        &assignment("team", "corp", &[ANN], ""),
        E3_POLICY,
    ]);
    let run = converge(&sim, &objects).await;
    run.assert_converged();
    assert_eq!(sim.stats().faults, 2, "{:?}", error_requests(&sim));
    assert_eq!(
        direct_skus(&sim.user(ANN).must("ann")),
        vec![E3.to_string()]
    );
}
