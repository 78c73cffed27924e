//! Shared helpers of the engine tests (`engine_*.rs`): plan + apply against the simulator over
//! real HTTP on 127.0.0.1, wired the way `cli/session.rs` wires the CLI — manifests from YAML
//! text, a Tenant with `cloud: Custom` pointing at the simulator, `resolve::graph_config` and
//! `resolve::desired_tenant`, `GraphClient` + `Mirror::load`, `plan::plan`, `apply::apply`
//! through a `GraphRunner`, then a mirror refresh and a second plan.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use o365_controller::apply::{self, GraphRunner};
use o365_controller::engine::{self, Cycle, TenantReport, Writes};
use o365_controller::graph::{AllowedEndpoints, GraphClient, GraphConfig, HostPort, Mirror};
use o365_controller::manifest::{self, Manifests};
pub use o365_controller::model::Reason;
use o365_controller::model::{
    Action, DesiredTenant, Drift, Finding, Kind, ObjectKey, ObservedTenant, Outcome, Plan, Report,
    Severity,
};
pub use o365_controller::resolve::ManifestKeys;
use o365_controller::resolve::{self, OperatorSettings, Overrides};
use o365_graph_sim::{Fixture, SimConfig, Simulator, User};

/// The client id and secret of the app registered in [`fixture`].
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const CLIENT_SECRET: &str = "engine-test-client-secret";
pub const TENANT_ID: &str = "33333333-3333-3333-3333-333333333333";

/// The managed domain of the test tenant, and another verified one.
pub const DOMAIN: &str = "corp.example.com";
pub const OTHER_DOMAIN: &str = "other.example.com";
pub const BREAK_GLASS: &str = "admin@corp.onmicrosoft.com";

pub const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";
pub const SMALL: &str = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";
pub const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";

/// A LicensePolicy `e3` of tenant `corp`: ENTERPRISEPACK for domain `corp`, usage location US.
pub const E3_POLICY: &str = r#"apiVersion: o365-controller.io/v1alpha1
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
"#;
pub const TEAMS: &str = "57ff2da0-773e-42df-b2af-ffb7a2317929";
pub const SWAY: &str = "a23b959c-7ce8-4e57-9140-b90eb88a9e97";

/// The IdP signing certificate of the quickstart (a throwaway self-signed certificate).
pub const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDMTCCAhmgAwIBAgIUKCMXo1GrMdtd1z/GBkoTo3/gJuUwDQYJKoZIhvcNAQEL
BQAwKDEmMCQGA1UEAwwdc3NvLmNvbnRvc28uY29tIHRva2VuIHNpZ25pbmcwHhcN
MjYxMTI3MTAyMDMxWhcNMzYxMTI0MTAyMDMxWjAoMSYwJAYDVQQDDB1zc28uY29u
dG9zby5jb20gdG9rZW4gc2lnbmluZzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC
AQoCggEBAOSVH3Cqe4E/i9xDOCK5j5MQApa2/Fi9Ap9Och0DJ1gL+y1tDExZFGpj
YoWCX5V1YYeJXQcy5B2+9Wy1TvHHLROMScaMFRJSWExushuRckdZnV/Wf+Bw2hq+
JiMLoib8MjIWPcnc1Rc9FG8jXluqr7iSgRxeMFuZCmdeEdEbobqROLGtIL/HnV/r
CICm9gTHTyVQVOUGbjiWK3v+dyQ57mV46PFXT9uu9zprXMDEdgW3iV+rTZIQ/ki1
pku8hdUt8MNssVlvLHHFW0eUnT2aev+4dlPFnh3zjV1zkHd0jHqMirUoa3KL5ga3
TDZt5XaHNE4NvxiVSEvOfNG3XBLBWs8CAwEAAaNTMFEwHQYDVR0OBBYEFO5+t9l7
d9zjaQq8wgepqCr36K8OMB8GA1UdIwQYMBaAFO5+t9l7d9zjaQq8wgepqCr36K8O
MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBADF/6+u7YA+jdD/i
phqtGwd7KX5RBHEQacODirpPmVD9RCjPzaoTOKYAfS4xLTUSG3ZUOnW+ckCOZfrl
qqkfCUk/dCLzE8nzftHsxHLIn6t+/P+5vWpq0QaMxo4zAjo/QNERuaI98SU5IiSd
qk55uo8coyzDolFDOntOepjcu5DnyBggSH/WJrTDGhfHS6UrM1BhW3PQ+76qpY5w
7L70lWnLs8jUcmtor8Vj66lpcqEIu/u1oswFyheFJGZJ8vSCfu7T0cD+SZb1+feD
+oRI2H9eMqoeZ1chuDOrxddcvfHxaXGFG7/VtJ9RNt0n/TAfIhCOIRsnSpJ33xb5
NW+lNkY=
-----END CERTIFICATE-----
";

/// The same certificate as base64 DER on one line.
pub fn cert_der_b64() -> String {
    resolve::to_base64_der(CERT_PEM).must("the test certificate decodes")
}

const FIXTURE: &str = r#"
tenant:
  id: 33333333-3333-3333-3333-333333333333
  displayName: Corp
  initialDomain: corp.onmicrosoft.com
domains:
  - id: corp.onmicrosoft.com
    isDefault: true
    isInitial: true
  - id: corp.example.com
  - id: other.example.com
  - id: unverified.example.com
    isVerified: false
users:
  - userPrincipalName: admin@corp.onmicrosoft.com
    displayName: Break-glass Administrator
    usageLocation: US
    roles: [Global Administrator]
skus:
  - skuId: 6fd2c87f-b296-42f0-b197-1e91e994b900
    skuPartNumber: ENTERPRISEPACK
    enabled: 1000
    servicePlans:
      - {servicePlanId: efb87545-963c-4e0d-99df-69c6916d9eb0, servicePlanName: EXCHANGE_S_ENTERPRISE}
      - {servicePlanId: 57ff2da0-773e-42df-b2af-ffb7a2317929, servicePlanName: TEAMS1}
      - {servicePlanId: 7547a3fe-08ee-4ccb-b430-5077c5041653, servicePlanName: YAMMER_ENTERPRISE}
      - {servicePlanId: a23b959c-7ce8-4e57-9140-b90eb88a9e97, servicePlanName: SWAY}
  - skuId: efccb6f7-5641-4e0e-bd10-b4976e1bf68e
    skuPartNumber: EMS
    enabled: 1000
    servicePlans:
      - {servicePlanId: 41781fb2-bc02-4b7c-bd55-b576c07bb09d, servicePlanName: AAD_PREMIUM}
      - {servicePlanId: c1ec4a95-1f05-45b3-a911-aa3fa01094f5, servicePlanName: INTUNE_A}
  - skuId: a403ebcc-fae0-4ca2-8c8c-7a907fd6c235
    skuPartNumber: SMALLPACK
    enabled: 2
    servicePlans:
      - {servicePlanId: 2049e525-b859-401b-b2a0-e0a31c4b1fe4, servicePlanName: BI_AZURE_P0}
apps:
  - clientId: 22222222-2222-2222-2222-222222222222
    displayName: o365-controller (engine tests)
    clientSecrets: [engine-test-client-secret]
"#;

/// The test tenant: `corp.example.com` (verified, managed), `other.example.com`,
/// `unverified.example.com`, the default initial domain with an enabled break-glass Global
/// Administrator, SKUs ENTERPRISEPACK and EMS (1000 seats each) and SMALLPACK (2 seats).
pub fn fixture() -> Fixture {
    Fixture::from_yaml(FIXTURE).must("the engine test fixture parses")
}

/// [`fixture`] plus `users`.
pub fn fixture_with(users: Vec<User>) -> Fixture {
    let mut f = fixture();
    f.users.extend(users);
    f
}

/// A tenant user of the fixture format.
pub fn user(upn: &str) -> User {
    User::new(upn, &display_name(upn))
}

/// `ann.lee@x` → `Ann Lee`.
pub fn display_name(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    local
        .split(['.', '-'])
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Simulator settings for functional tests: no throttling model, no faults.
pub fn quiet() -> SimConfig {
    SimConfig {
        throttling: false,
        ..SimConfig::default()
    }
}

pub async fn start(fixture: Fixture) -> Simulator {
    start_with(fixture, quiet()).await
}

pub async fn start_with(fixture: Fixture, config: SimConfig) -> Simulator {
    Simulator::start(fixture, config)
        .await
        .must("the simulator starts")
}

/// The Secret and the Tenant (`cloud: Custom` at the simulator, `mode`) as YAML.
pub fn tenant_docs(sim: &Simulator, mode: &str) -> String {
    tenant_docs_at(&sim.login_base_url(), &sim.graph_base_url(), mode)
}

/// [`tenant_docs`] for endpoints given by URL (e.g. before the simulator runs).
pub fn tenant_docs_at(login: &str, url: &str, mode: &str) -> String {
    let tenant = TENANT_ID;
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: graph-credentials
type: Opaque
stringData:
  client-secret: {CLIENT_SECRET}
---
apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: corp
spec:
  tenantId: {tenant}
  clientId: {CLIENT_ID}
  credentials:
    clientSecret:
      secretName: graph-credentials
      key: client-secret
  cloud: Custom
  loginEndpoint: {login}
  graphEndpoint: {url}
  mode: {mode}
"#
    )
}

/// A FederatedDomain `corp` for [`DOMAIN`] with the test certificate; `extra` is spliced into
/// its spec (two-space indented lines, e.g. `"  unassignedUsers: Disable\n"`).
pub fn federated_domain(extra: &str) -> String {
    federated_domain_named("corp", DOMAIN, extra)
}

/// [`federated_domain`] with another object name and domain.
pub fn federated_domain_named(name: &str, domain: &str, extra: &str) -> String {
    let cert: String = CERT_PEM.lines().map(|l| format!("        {l}\n")).collect();
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: FederatedDomain
metadata:
  name: {name}
spec:
  tenantRef:
    name: corp
  domain: {domain}
  authentication: Federated
  federation:
    displayName: Corp SSO
    issuerUri: https://sso.corp.example.com/idp
    passiveSignInUri: https://sso.corp.example.com/idp/wsfed
    signOutUri: https://sso.corp.example.com/idp/logout
    signingCertificate:
      value: |
{cert}{extra}"#
    )
}

/// A FederatedDomain `name` for `domain` that stays Managed (users and licences only).
pub fn managed_domain(name: &str, domain: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: FederatedDomain
metadata:
  name: {name}
spec:
  tenantRef:
    name: corp
  domain: {domain}
  authentication: Managed
{extra}"#
    )
}

/// An AppAssignment `name` of domain object `domain_ref` listing `upns` (display names derived);
/// `extra` is spliced into its spec.
pub fn assignment(name: &str, domain_ref: &str, upns: &[&str], extra: &str) -> String {
    let users: String = upns
        .iter()
        .map(|u| {
            format!(
                "    - userPrincipalName: {u}\n      displayName: {}\n",
                display_name(u)
            )
        })
        .collect();
    let users = if users.is_empty() {
        "  users: []\n".to_string()
    } else {
        format!("  users:\n{users}")
    };
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: AppAssignment
metadata:
  name: {name}
  labels:
    team: {name}
spec:
  domainRef:
    name: {domain_ref}
{users}{extra}"#
    )
}

/// Joins YAML documents.
pub fn docs(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n"
}

/// Parses manifests: the tenant documents (mode `Enforce`) followed by `objects`.
pub fn manifests(sim: &Simulator, objects: &str) -> Manifests {
    manifests_mode(sim, "Enforce", objects)
}

pub fn manifests_mode(sim: &Simulator, mode: &str, objects: &str) -> Manifests {
    parse(&docs(&[&tenant_docs(sim, mode), objects]))
}

/// Manifests whose Tenant points at a placeholder endpoint; connect with [`connect_sim`].
/// Parsing manifests compiles the CEL rules, which takes a while: tests whose fault windows
/// count from the simulator's start parse first and start the simulator afterwards.
pub fn manifests_unbound(objects: &str) -> Manifests {
    parse(&docs(&[
        &tenant_docs_at("http://127.0.0.1:9", "http://127.0.0.1:9", "Enforce"),
        objects,
    ]))
}

/// Connects the Tenant of `m` to `sim`, whatever endpoints it names (as `--simulate` does).
pub async fn connect_sim(
    sim: &Simulator,
    m: &Manifests,
    max_attempts: u32,
) -> (GraphClient, Mirror) {
    let mut config = graph_config(m);
    config.retry.max_attempts = max_attempts;
    let (login, graph) = o365_controller::graph::Cloud::Custom {
        login_endpoint: sim.login_base_url(),
        graph_endpoint: sim.graph_base_url(),
    }
    .endpoints();
    config.allowed_endpoints = allowing(&[&graph]);
    config.login_endpoint = login;
    config.graph_endpoint = graph;
    config.ca_bundle = sim.ca_pem();
    connect_with(config).await
}

/// The endpoint allow-list of an operator who passed `--allow-endpoint` for each of `urls`.
pub fn allowing(urls: &[&str]) -> AllowedEndpoints {
    AllowedEndpoints::with(
        urls.iter()
            .map(|u| HostPort::of_url(u).must("an endpoint URL")),
    )
}

fn parse(text: &str) -> Manifests {
    let text = text.to_string();
    match manifest::load_str(Path::new("engine-test.yaml"), &text) {
        Ok(m) => m,
        Err(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            panic!("manifests invalid:\n{}\n---\n{text}", lines.join("\n"))
        }
    }
}

/// The desired state of the (only) Tenant of `m`.
/// (as the CLI resolves it: `resolve::desired_from_manifests`).
pub fn desired(m: &Manifests, overrides: &Overrides) -> DesiredTenant {
    let tenant = m.tenants.first().must("a Tenant among the manifests");
    resolve::desired_from_manifests(m, tenant, overrides)
}

/// The Graph configuration of the Tenant of `m`, with short retry delays for tests.
pub fn graph_config(m: &Manifests) -> GraphConfig {
    let tenant = m.tenants.first().must("a Tenant among the manifests");
    // The operator allows the Tenant's own (simulator) endpoints, as `--allow-endpoint` would.
    let endpoints = [&tenant.spec.login_endpoint, &tenant.spec.graph_endpoint];
    let urls: Vec<&str> = endpoints.iter().filter_map(|e| e.as_deref()).collect();
    let operator = OperatorSettings {
        allowed_endpoints: allowing(&urls),
        federated_token_file: None,
    };
    let mut config = resolve::graph_config(tenant, &ManifestKeys(&m.secrets), &|_| None, &operator)
        .must("graph config of the Tenant");
    with_test_retries(&mut config);
    config
}

/// Short retry delays for tests.
pub fn with_test_retries(config: &mut GraphConfig) {
    config.retry.base_delay = Duration::from_millis(20);
    config.retry.max_delay = Duration::from_millis(400);
    config.retry.max_attempts = 8;
}

/// Connects as `session.rs` does: a client, a token check and a full mirror load.
pub async fn connect(m: &Manifests) -> (GraphClient, Mirror) {
    connect_with(graph_config(m)).await
}

pub async fn connect_with(config: GraphConfig) -> (GraphClient, Mirror) {
    let client = GraphClient::new(config).must("graph client");
    client.check_token().await.must("token");
    let mirror = Mirror::load(&client).await;
    (client, mirror)
}

/// Applies `plan` through a `GraphRunner` over `client` (only for tests of `apply` itself, e.g.
/// a stale plan; a cycle is [`cycle_on`]).
pub async fn apply_plan(client: &GraphClient, plan: &Plan) -> Report {
    let runner = GraphRunner::new(client.clone());
    apply::apply(&runner, plan, &|_| {}).await
}

/// What one engine cycle (`engine::converge`: plan → apply → refresh → re-plan) produced.
pub struct Run {
    /// The observed tenant the first plan was made from.
    pub observed: ObservedTenant,
    pub plan: Plan,
    /// The report (empty when there was nothing to apply).
    pub report: Report,
    /// The observed tenant after the apply (mirror refreshed).
    pub observed_after: ObservedTenant,
    /// The plan made from the refreshed mirror.
    pub replan: Plan,
    /// The cycle itself (verdict, held plan id).
    pub cycle: Cycle,
    /// The report people and scripts read (`-o json`).
    pub tenant_report: TenantReport,
}

/// Plans, applies, refreshes the mirror and plans again, for the manifests `m`.
pub async fn cycle(m: &Manifests, overrides: &Overrides) -> Run {
    let (client, mirror) = connect(m).await;
    cycle_on(&client, mirror, m, overrides).await
}

/// [`cycle`] on an existing connection: one `engine::converge`.
pub async fn cycle_on(
    client: &GraphClient,
    mut mirror: Mirror,
    m: &Manifests,
    overrides: &Overrides,
) -> Run {
    let want = desired(m, overrides);
    let observed = mirror.observed().clone();
    let cycle = engine::converge(client, &mut mirror, &want, Writes::Apply, &|_, _| {}).await;
    let observed_after = mirror.observed().clone();
    let tenant_report = engine::report("corp", &want, &cycle);
    Run {
        observed,
        plan: cycle.before.clone(),
        report: cycle.report.clone().unwrap_or_else(|| Report {
            plan_id: cycle.before.id.clone(),
            ..Report::default()
        }),
        observed_after,
        replan: cycle.after().clone(),
        cycle,
        tenant_report,
    }
}

/// One cycle of the tenant documents plus `objects` (Enforce, no overrides).
pub async fn converge(sim: &Simulator, objects: &str) -> Run {
    cycle(&manifests(sim, objects), &Overrides::default()).await
}

/// Only a plan (no apply) of the tenant documents plus `objects`: a cycle without writes.
pub async fn plan_only(m: &Manifests, overrides: &Overrides) -> (Plan, ObservedTenant) {
    let (client, mut mirror) = connect(m).await;
    let want = desired(m, overrides);
    let cycle = engine::converge(&client, &mut mirror, &want, Writes::None, &|_, _| {}).await;
    (cycle.before, mirror.observed().clone())
}

// ---- assertions on plans, reports and the simulator ----------------------------------------

impl Run {
    /// Panics unless the report has no failed action.
    pub fn assert_no_failures(&self) {
        let failed: Vec<String> = self
            .report
            .results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed { .. } | Outcome::Skipped { .. }))
            .map(|(a, o)| format!("{} {}: {o:?}", action_name(a), a.subject()))
            .collect();
        assert!(
            failed.is_empty(),
            "failed or skipped actions:\n{}",
            failed.join("\n")
        );
    }

    /// Panics unless the second plan is in sync.
    pub fn assert_converged(&self) {
        self.assert_no_failures();
        assert_in_sync(&self.replan);
    }
}

/// Panics with the plan's remaining actions and drift unless it is in sync.
pub fn assert_in_sync(plan: &Plan) {
    if plan.is_in_sync() {
        return;
    }
    let actions: Vec<String> = plan
        .actions
        .iter()
        .map(|a| format!("{} {}", action_name(a), a.subject()))
        .collect();
    let drift: Vec<String> = plan
        .objects
        .iter()
        .filter(|(_, o)| o.drift != Drift::InSync)
        .map(|(k, o)| format!("{k}: {:?} {:?}", o.drift, o.drift_entries))
        .collect();
    panic!(
        "plan not in sync:\nactions: {actions:#?}\nheld: {}\ndrift: {drift:#?}\nfindings: {:#?}",
        plan.held.len(),
        plan.findings
    );
}

/// A short name of an action's variant.
pub fn action_name(a: &Action) -> &'static str {
    match a {
        Action::CreateUser { .. } => "CreateUser",
        Action::UpdateUser { .. } => "UpdateUser",
        Action::SetManager { .. } => "SetManager",
        Action::RestoreUser { .. } => "RestoreUser",
        Action::CreateFederation { .. } => "CreateFederation",
        Action::UpdateFederation { .. } => "UpdateFederation",
        Action::RevertToManaged { .. } => "RevertToManaged",
        Action::AssignLicenses { .. } => "AssignLicenses",
        Action::DisableUser { .. } => "DisableUser",
        Action::MarkLeaver { .. } => "MarkLeaver",
        Action::RevokeSessions { .. } => "RevokeSessions",
        Action::DeleteUser { .. } => "DeleteUser",
        Action::CreateGroup { .. } => "CreateGroup",
        Action::AddGroupMembers { .. } => "AddGroupMembers",
        Action::RemoveGroupMember { .. } => "RemoveGroupMember",
        Action::AssignGroupLicenses { .. } => "AssignGroupLicenses",
    }
}

/// Actions of the plan with this variant name.
pub fn actions_named<'p>(plan: &'p Plan, name: &str) -> Vec<&'p Action> {
    plan.actions
        .iter()
        .filter(|a| action_name(a) == name)
        .collect()
}

/// Actions about `subject` (a UPN or domain), any case.
pub fn actions_about<'p>(plan: &'p Plan, subject: &str) -> Vec<&'p Action> {
    plan.actions
        .iter()
        .filter(|a| a.subject().eq_ignore_ascii_case(subject))
        .collect()
}

/// The findings with `reason`.
pub fn findings(plan: &Plan, reason: Reason) -> Vec<&Finding> {
    plan.findings
        .iter()
        .filter(|f| f.reason == reason)
        .collect()
}

/// The only finding with `reason`, panicking with all findings otherwise.
pub fn finding(plan: &Plan, reason: Reason) -> &Finding {
    let found = findings(plan, reason);
    assert_eq!(
        found.len(),
        1,
        "expected one {reason} finding, got {:#?}",
        plan.findings
    );
    found[0]
}

pub fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, "", name)
}

/// Drift of one object of the plan.
pub fn drift_of(plan: &Plan, kind: Kind, name: &str) -> Drift {
    plan.objects
        .get(&key(kind, name))
        .map(|o| o.drift)
        .must("object in the plan")
}

/// Users of the simulator with this UPN (any case): more than one is a duplicate.
pub fn count_upn(sim: &Simulator, upn: &str) -> usize {
    sim.users()
        .iter()
        .filter(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
        .count()
}

/// Panics when any UPN appears twice among the simulator's users.
pub fn assert_no_duplicate_users(sim: &Simulator) {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for u in sim.users() {
        *seen
            .entry(u.user_principal_name.to_lowercase())
            .or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicate users: {dups:?}");
}

/// SKU ids of a simulator user's direct licences.
pub fn direct_skus(u: &User) -> Vec<String> {
    let mut v: Vec<String> = u.licenses.iter().map(|l| l.sku.to_lowercase()).collect();
    v.sort();
    v
}

/// Writes admitted by the simulator so far.
pub fn writes(sim: &Simulator) -> u64 {
    sim.stats().writes
}

/// Requests with a 4xx/5xx status, as `METHOD path status × n`.
pub fn error_requests(sim: &Simulator) -> Vec<String> {
    sim.stats()
        .requests
        .iter()
        .filter(|(k, _)| k.status >= 400 && k.status != 429)
        .map(|(k, n)| format!("{} {} {} x{n}", k.method, k.path, k.status))
        .collect()
}

pub fn severity_of(f: &Finding) -> Severity {
    f.severity
}

/// `expect` without the lint: tests say what they needed when a step fails.
pub trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Debug> Must<T> for Result<T, E> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    fn must(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: nothing"),
        }
    }
}
