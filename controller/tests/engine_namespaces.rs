//! Namespaces are the trust boundary in the CLI as in the cluster: manifests are grouped by
//! namespace, a Tenant's Secret is looked up in its own namespace only, a FederatedDomain
//! belongs to a Tenant of its own namespace only, and an AppAssignment of another namespace
//! counts only where its domain admits it. Plan + apply against the simulator over HTTP,
//! resolved as `cli/session.rs` resolves manifests.

mod engine_support;

use engine_support::*;
use kube::ResourceExt;
use o365_controller::api::Tenant;
use o365_controller::graph::Credential;
use o365_controller::manifest::Manifests;
use o365_controller::model::{Drift, Kind, ObjectKey, Reason, Severity};
use o365_controller::resolve::{self, OperatorSettings, Overrides};
use o365_graph_sim::Simulator;

/// A Secret `graph-credentials` in `namespace` holding `value`.
fn secret_in(namespace: &str, value: &str) -> String {
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: graph-credentials
  namespace: {namespace}
stringData:
  client-secret: {value}
"
    )
}

/// A Tenant `corp` in `namespace` at the simulator, reading Secret `graph-credentials`.
fn tenant_in(sim: &Simulator, namespace: &str) -> String {
    format!(
        "apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: corp
  namespace: {namespace}
spec:
  tenantId: {TENANT_ID}
  clientId: {CLIENT_ID}
  credentials:
    clientSecret:
      secretName: graph-credentials
      key: client-secret
  cloud: Custom
  loginEndpoint: {}
  graphEndpoint: {}
",
        sim.login_base_url(),
        sim.graph_base_url()
    )
}

/// `doc` with `metadata.namespace: namespace` added.
fn within(namespace: &str, doc: &str) -> String {
    doc.replacen(
        "metadata:\n",
        &format!("metadata:\n  namespace: {namespace}\n"),
        1,
    )
}

/// An AppAssignment `name` of namespace `namespace` for FederatedDomain `prod/corp`, labelled
/// `tier: gold`.
fn foreign_assignment(namespace: &str, name: &str, upn: &str) -> String {
    let doc = assignment(name, "corp", &[upn], "");
    let doc = doc.replace("    name: corp\n", "    name: corp\n    namespace: prod\n");
    let doc = doc.replace("  labels:\n", "  labels:\n    tier: gold\n");
    within(namespace, &doc)
}

fn namespace_doc(name: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n")
}

/// Parses like the CLI: documents without a namespace go to `default`.
fn load(parts: &[&str]) -> Manifests {
    let text = docs(parts);
    let mut m = match o365_controller::manifest::load_str(std::path::Path::new("ns.yaml"), &text) {
        Ok(m) => m,
        Err(d) => panic!("{d:#?}\n{text}"),
    };
    let twice = m.default_namespace("default");
    assert!(twice.is_empty(), "{twice:?}");
    m
}

fn tenant_of<'m>(m: &'m Manifests, namespace: &str) -> &'m Tenant {
    m.tenants
        .iter()
        .find(|t| t.namespace().as_deref() == Some(namespace))
        .must("the Tenant of the namespace")
}

/// Plans, applies and plans again for the Tenant of `namespace`.
async fn cycle_for(m: &Manifests, namespace: &str) -> Run {
    let tenant = tenant_of(m, namespace);
    let mut config =
        resolve::graph_config(tenant, &ManifestKeys(&m.secrets), &|_| None, &operator(m))
            .must("graph config");
    with_test_retries(&mut config);
    let (client, mut mirror) = connect_with(config).await;
    let want = resolve::desired_from_manifests(m, tenant, &Overrides::default());
    let observed = mirror.observed().clone();
    let cycle = o365_controller::engine::converge(
        &client,
        &mut mirror,
        &want,
        o365_controller::engine::Writes::Apply,
        &|_, _| {},
    )
    .await;
    let observed_after = mirror.observed().clone();
    let tenant_report = o365_controller::engine::report("corp", &want, &cycle);
    Run {
        observed,
        plan: cycle.before.clone(),
        report: cycle.report.clone().unwrap_or_default(),
        observed_after,
        replan: cycle.after().clone(),
        cycle,
        tenant_report,
    }
}

/// The operator's settings allowing the simulator, as `--allow-endpoint` would.
fn operator(m: &Manifests) -> OperatorSettings {
    let urls: Vec<&str> = m
        .tenants
        .iter()
        .flat_map(|t| [&t.spec.login_endpoint, &t.spec.graph_endpoint])
        .filter_map(|e| e.as_deref())
        .collect();
    OperatorSettings {
        allowed_endpoints: allowing(&urls),
        federated_token_file: None,
    }
}

fn client_secret(m: &Manifests, namespace: &str) -> Result<String, String> {
    let config = resolve::graph_config(
        tenant_of(m, namespace),
        &ManifestKeys(&m.secrets),
        &|_| None,
        &operator(m),
    )
    .map_err(|e| e.to_string())?;
    match config.credential {
        Credential::ClientSecret(s) => Ok(s.expose().to_owned()),
        _ => Err("not a client secret".into()),
    }
}

#[tokio::test]
async fn a_tenant_in_dev_is_never_sent_the_client_secret_of_prod() {
    let sim = start(fixture()).await;
    // Only prod has the Secret: the dev Tenant fails to resolve it, and nothing is sent.
    let m = load(&[&secret_in("prod", CLIENT_SECRET), &tenant_in(&sim, "dev")]);
    let err = client_secret(&m, "dev").expect_err("dev has no Secret of its own");
    assert!(err.contains("namespace \"dev\""), "{err}");
    assert!(!err.contains(CLIENT_SECRET), "{err}");
    assert!(sim.stats().requests.is_empty(), "{:?}", sim.stats());

    // Both have one: each Tenant gets its own namespace's value; dev's is refused by the
    // tenant, so no token is issued for it.
    let m = load(&[
        &secret_in("prod", CLIENT_SECRET),
        &secret_in("dev", "the-dev-secret"),
        &tenant_in(&sim, "dev"),
        &tenant_in(&sim, "prod"),
    ]);
    assert_eq!(client_secret(&m, "dev").as_deref(), Ok("the-dev-secret"));
    assert_eq!(client_secret(&m, "prod").as_deref(), Ok(CLIENT_SECRET));
    let mut config = resolve::graph_config(
        tenant_of(&m, "dev"),
        &ManifestKeys(&m.secrets),
        &|_| None,
        &operator(&m),
    )
    .must("dev config");
    with_test_retries(&mut config);
    let client = o365_controller::graph::GraphClient::new(config).must("client");
    assert!(
        client.check_token().await.is_err(),
        "dev's own secret is wrong"
    );
    assert_eq!(sim.stats().tokens_issued, 0, "no token for the dev Tenant");
}

#[tokio::test]
async fn a_domain_in_team_b_naming_a_tenant_of_team_a_is_not_federated() {
    let sim = start(fixture()).await;
    let m = load(&[
        &secret_in("team-a", CLIENT_SECRET),
        &tenant_in(&sim, "team-a"),
        &within("team-b", &federated_domain("")),
    ]);
    let unbound = resolve::unbound_objects(&m);
    assert!(
        unbound
            .iter()
            .any(|u| u.contains("FederatedDomain team-b/corp") && u.contains("no Tenant")),
        "{unbound:?}"
    );
    let run = cycle_for(&m, "team-a").await;
    assert!(actions_named(&run.plan, "CreateFederation").is_empty());
    assert!(run.plan.actions.is_empty(), "{:?}", run.plan.actions);
    assert_eq!(writes(&sim), 0, "nothing was written");
    let federated = sim
        .export_fixture()
        .domains
        .iter()
        .any(|d| d.id == DOMAIN && d.authentication_type != "Managed");
    assert!(!federated, "{DOMAIN} stayed managed");
}

#[tokio::test]
async fn an_assignment_of_another_namespace_needs_the_domain_to_admit_it() {
    let sim = start(fixture()).await;
    let base = [
        secret_in("prod", CLIENT_SECRET),
        tenant_in(&sim, "prod"),
        foreign_assignment("team-x", "newcomers", "xena@corp.example.com"),
        namespace_doc("team-x", "o365.example.com/tenant: corp"),
    ];
    let refs: Vec<&str> = base.iter().map(String::as_str).collect();

    // from: Same (the default): refused, nothing written.
    let domain = within("prod", &managed_domain("corp", DOMAIN, ""));
    let m = load(&[refs.as_slice(), &[domain.as_str()]].concat());
    let run = cycle_for(&m, "prod").await;
    let f = finding(&run.plan, Reason::ReferenceNotPermitted);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.object,
        ObjectKey::new(Kind::AppAssignment, "team-x", "newcomers")
    );
    assert!(
        f.message.contains(
            "FederatedDomain prod/corp does not admit AppAssignments from namespace team-x: add \
             team-x to spec.allowedAssignments"
        ),
        "{}",
        f.message
    );
    assert!(run.plan.actions.is_empty(), "{:?}", run.plan.actions);
    assert_eq!(writes(&sim), 0);
    assert_eq!(count_upn(&sim, "xena@corp.example.com"), 0);

    // from: Selector matching the namespace's label: admitted, the user is created.
    let grant = "  allowedAssignments:
    namespaces:
      from: Selector
      selector:
        matchLabels:
          o365.example.com/tenant: corp
";
    let domain = within("prod", &managed_domain("corp", DOMAIN, grant));
    let m = load(&[refs.as_slice(), &[domain.as_str()]].concat());
    let run = cycle_for(&m, "prod").await;
    run.assert_converged();
    assert!(findings(&run.plan, Reason::ReferenceNotPermitted).is_empty());
    assert_eq!(count_upn(&sim, "xena@corp.example.com"), 1);
    let key = ObjectKey::new(Kind::AppAssignment, "team-x", "newcomers");
    assert_eq!(
        run.replan.objects.get(&key).map(|o| o.drift),
        Some(Drift::InSync)
    );
}

#[tokio::test]
async fn a_license_selector_never_reaches_an_assignment_its_domains_do_not_admit() {
    let sim = start(fixture()).await;
    let grant = "  allowedAssignments:
    namespaces:
      from: Selector
      selector:
        matchExpressions:
          - key: kubernetes.io/metadata.name
            operator: In
            values: [team-b]
";
    let policy = "apiVersion: o365-controller.io/v1alpha1
kind: LicensePolicy
metadata:
  name: gold
  namespace: prod
spec:
  tenantRef:
    name: corp
  appliesTo:
    assignmentSelector:
      matchLabels:
        tier: gold
  usageLocation: US
  licenses:
    - skuPartNumber: ENTERPRISEPACK
";
    let m = load(&[
        &secret_in("prod", CLIENT_SECRET),
        &tenant_in(&sim, "prod"),
        &within("prod", &managed_domain("corp", DOMAIN, grant)),
        &foreign_assignment("team-b", "sales", "bob@corp.example.com"),
        &foreign_assignment("team-x", "intruders", "eve@corp.example.com"),
        policy,
    ]);
    let run = cycle_for(&m, "prod").await;
    run.assert_no_failures();
    let blocked = finding(&run.plan, Reason::ReferenceNotPermitted);
    assert_eq!(blocked.object.namespace, "team-x");
    let bob = sim
        .users()
        .into_iter()
        .find(|u| u.user_principal_name == "bob@corp.example.com")
        .must("bob was created");
    assert_eq!(direct_skus(&bob), vec![E3.to_string()]);
    assert_eq!(count_upn(&sim, "eve@corp.example.com"), 0);
    assert!(actions_about(&run.plan, "eve@corp.example.com").is_empty());
}
